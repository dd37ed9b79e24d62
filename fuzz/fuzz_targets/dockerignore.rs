#![no_main]
//! `engine::build::ignore`: `.dockerignore` patterns, COPY globs and path cleaning.
//! Input: `<ignore file> NUL <context paths, one a line>`. A slow input (libFuzzer's
//! `-timeout`) is a finding too: the patterns come from an uploaded build context.

use engine::build::ignore::{clean_path, glob_match, has_glob, IgnoreMatcher};
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (patterns, paths) = common::split2(data);
    let patterns = common::text(patterns);
    let paths = common::text(paths);
    let m = IgnoreMatcher::parse(&patterns);
    let _ = m.has_exceptions();
    let _ = m.is_empty();
    for p in paths.lines().take(16) {
        let _ = m.excluded(p);
        let c = clean_path(p);
        assert_eq!(clean_path(&c), c, "clean_path is not idempotent on {p:?}");
        for line in patterns.lines().take(16) {
            let _ = has_glob(line);
            let _ = glob_match(line, p);
        }
    }
});
