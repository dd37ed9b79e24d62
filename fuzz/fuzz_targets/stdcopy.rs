#![no_main]
//! `api_core::stream::StdCopyCodec`: decoding Docker's 8-byte-header frames from arbitrary
//! bytes. Every decoded frame re-encodes to the stream id and length it was read with.

use api_core::stream::{encode_frame, StdCopyCodec};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = StdCopyCodec;
    let mut buf = BytesMut::from(data);
    let mut at = 0;
    loop {
        let before = buf.len();
        match codec.decode(&mut buf) {
            Ok(Some(f)) => {
                let used = before - buf.len();
                let again = encode_frame(f.stream, &f.data);
                assert_eq!(again.len(), used);
                assert_eq!(again[0], data[at]);
                assert_eq!(&again[4..], &data[at + 4..at + used]);
                at += used;
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = codec.decode_eof(&mut buf);
});
