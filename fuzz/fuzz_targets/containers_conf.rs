#![no_main]
//! `engine::config`: containers.conf, two files merged key by key.
//! Input: `<first file> NUL <second file>`.

use engine::config::ContainersConf;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (a, b) = common::split2(data);
    let fa = common::file_with(a);
    let fb = common::file_with(b);
    let files = [fa.path().to_path_buf(), fb.path().to_path_buf()];
    if let Ok(c) = ContainersConf::load_files(&files) {
        assert_eq!(c.files.len(), 2);
        let _ = c.runtime_name();
    }
});
