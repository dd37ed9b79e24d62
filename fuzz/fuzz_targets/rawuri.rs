#![no_main]
//! `api_core::rawuri::Rewriter`: the request-target rewriter between the socket and hyper.
//! Its output must not depend on how the bytes were split into reads, and bytes with
//! nothing to escape pass unchanged. Input: `<read size - 1> <bytes>`.

use api_core::rawuri::Rewriter;
use libfuzzer_sys::fuzz_target;

const ESCAPED: &[u8] = b"\"{}<>\\^`|";

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let mut whole = Vec::new();
    Rewriter::default().feed(rest, &mut whole);
    let mut r = Rewriter::default();
    let mut split = Vec::new();
    for chunk in rest.chunks(usize::from(step) + 1) {
        r.feed(chunk, &mut split);
    }
    assert_eq!(whole, split, "the rewrite depends on the read sizes");
    if rest.ends_with(b"\n") && !rest.iter().any(|b| ESCAPED.contains(b)) {
        assert_eq!(whole, rest, "clean bytes were changed");
    }
});
