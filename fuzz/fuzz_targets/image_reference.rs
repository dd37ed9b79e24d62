#![no_main]
//! `engine::images::reference`: image references and Docker's normalisation. A parsed
//! reference re-rendered parses back to itself and always names its registry.

use engine::images::reference::{is_short_name, ImageRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = is_short_name(&s);
    for default in ["docker.io", "localhost", "quay.io"] {
        let _ = ImageRef::parse_with(&s, default);
    }
    if let Ok(r) = ImageRef::parse_normalized(&s) {
        let full = r.full();
        assert_eq!(
            ImageRef::parse_normalized(&full).ok(),
            Some(r.clone()),
            "{s:?} -> {full:?}"
        );
        assert!(!is_short_name(&full), "{full:?} has no registry");
        let _ = r.tagged();
        let _ = r.relocated(&s);
    }
});
