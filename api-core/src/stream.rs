//! Streaming helpers shared by the areas: Docker's 8-byte "stdcopy" frames and JSON-lines
//! bodies that hand each record to the connection whole (the seed's buffered stream writer).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};

/// The stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StdStream {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
    /// Podman's extra stream for an error message.
    Error = 3,
}

impl StdStream {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => StdStream::Stdin,
            1 => StdStream::Stdout,
            2 => StdStream::Stderr,
            3 => StdStream::Error,
            _ => return None,
        })
    }
}

/// One multiplexed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub stream: StdStream,
    pub data: Bytes,
}

/// Encodes one frame: stream id, three zero bytes, big-endian u32 length, payload.
pub fn encode_frame(stream: StdStream, data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + data.len());
    StdCopyCodec.encode_into(stream, data, &mut b);
    b.freeze()
}

/// The stdcopy codec (tokio-util `Encoder`/`Decoder`).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdCopyCodec;

impl StdCopyCodec {
    fn encode_into(&self, stream: StdStream, data: &[u8], dst: &mut BytesMut) {
        // Payloads above 4 GiB do not occur: callers frame reads of bounded buffers.
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        dst.reserve(8 + data.len());
        dst.put_u8(stream as u8);
        dst.put_slice(&[0, 0, 0]);
        dst.put_u32(len);
        dst.put_slice(&data[..len as usize]);
    }
}

impl Encoder<Frame> for StdCopyCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Self::Error> {
        self.encode_into(item.stream, &item.data, dst);
        Ok(())
    }
}

impl Decoder for StdCopyCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        if src.len() < 8 {
            return Ok(None);
        }
        let stream = StdStream::from_u8(src[0]).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad stdcopy stream id {}", src[0]),
            )
        })?;
        let len = u32::from_be_bytes([src[4], src[5], src[6], src[7]]) as usize;
        if src.len() < 8 + len {
            // Grow with what arrives, never by what a header claims (up to 4 GiB).
            src.reserve((8 + len - src.len()).min(64 << 10));
            return Ok(None);
        }
        let mut frame = src.split_to(8 + len);
        let data = frame.split_off(8).freeze();
        Ok(Some(Frame { stream, data }))
    }
}

/// Serializes one record as a JSON line.
pub fn json_line<T: Serialize>(v: &T) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    b.push(b'\n');
    Bytes::from(b)
}

/// A 200 response streaming JSON lines; each record is one body chunk, so it reaches the
/// socket whole and at once.
pub fn json_lines<S, T>(records: S) -> Response
where
    S: Stream<Item = T> + Send + 'static,
    T: Serialize + Send + 'static,
{
    let body = Body::from_stream(records.map(|r| Ok::<_, std::convert::Infallible>(json_line(&r))));
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A blocking `Write` whose bytes become a streaming response body (for archives written by
/// blocking code: image save, container export, archive GET).
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

/// A writer for blocking code and the body that streams what it writes.
pub fn writer_body() -> (ChannelWriter, Body) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let stream =
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(Ok::<_, std::convert::Infallible>);
    (
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        },
        Body::from_stream(stream),
    )
}

/// The buffer for streaming files to and from disk: large enough that the blocking-pool
/// round trip of each tokio file operation stays negligible.
pub const FILE_BUF: usize = 1 << 20;

/// A response body streaming a file in [`FILE_BUF`]-sized reads.
pub fn file_stream(f: tokio::fs::File) -> tokio_util::io::ReaderStream<tokio::fs::File> {
    tokio_util::io::ReaderStream::with_capacity(f, FILE_BUF)
}

/// Writes a request body to a temporary file (uploads: image load/import, archive PUT).
pub async fn spool(
    dir: &std::path::Path,
    body: Body,
) -> Result<tempfile::TempPath, crate::error::ApiError> {
    use tokio::io::AsyncWriteExt;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| crate::error::ApiError::internal(format!("creating a temporary file: {e}")))?
        .into_temp_path();
    let f = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| crate::error::ApiError::internal(format!("opening a temporary file: {e}")))?;
    // Batched: each write to a tokio file is a trip to the blocking pool, and body chunks
    // are small.
    let mut f = tokio::io::BufWriter::with_capacity(FILE_BUF, f);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            crate::error::ApiError::bad_request(format!("reading the request body: {e}"))
        })?;
        f.write_all(&chunk).await.map_err(|e| {
            crate::error::ApiError::internal(format!("writing a temporary file: {e}"))
        })?;
    }
    f.flush()
        .await
        .map_err(|e| crate::error::ApiError::internal(format!("writing a temporary file: {e}")))?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_across_split_reads() {
        let mut buf = BytesMut::new();
        let mut c = StdCopyCodec;
        c.encode(
            Frame {
                stream: StdStream::Stdout,
                data: Bytes::from_static(b"hello"),
            },
            &mut buf,
        )
        .unwrap();
        buf.extend_from_slice(&encode_frame(StdStream::Stderr, b"oops\n"));
        assert_eq!(&buf[..8], &[1, 0, 0, 0, 0, 0, 0, 5]);
        let mut partial = buf.split_to(10);
        assert_eq!(c.decode(&mut partial).unwrap(), None);
        partial.unsplit(buf);
        let f1 = c.decode(&mut partial).unwrap().unwrap();
        let f2 = c.decode(&mut partial).unwrap().unwrap();
        assert_eq!(
            (f1.stream, &f1.data[..]),
            (StdStream::Stdout, &b"hello"[..])
        );
        assert_eq!(
            (f2.stream, &f2.data[..]),
            (StdStream::Stderr, &b"oops\n"[..])
        );
        assert!(c.decode(&mut partial).unwrap().is_none());
    }

    #[test]
    fn bad_stream_ids_are_errors() {
        let mut b = BytesMut::from(&[9u8, 0, 0, 0, 0, 0, 0, 0][..]);
        assert!(StdCopyCodec.decode(&mut b).is_err());
    }
}
