#![no_main]
//! `engine::images::layer::unpack_layer`: layer tars (plain, gzip, zstd) with OCI whiteouts
//! translated to overlay form. Nothing outside the target directory may change.
//! Inputs whose link names could lead a buggy unpacker out of the sandbox are skipped (see
//! `common.rs`): run as root, they could otherwise touch the host.

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(plain) = common::decompress_capped(data) else {
        return;
    };
    if !common::links_are_containable(&plain) {
        return;
    }
    let sb = common::Sandbox::new();
    let before = sb.snapshot();
    let _ = engine::images::layer::unpack_layer(data, &sb.target);
    sb.assert_unchanged(&before, "unpack_layer");
});
