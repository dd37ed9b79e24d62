#![no_main]
//! `api_core::version`: `/v{version}/...` prefixes and version numbers.

use api_core::version::{split_version, ApiVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Some((v, rest)) = split_version(&s) {
        assert_eq!(format!("/v{v}{rest}"), *s);
        let parsed = ApiVersion::parse(Some(v), rest.starts_with("/libpod"));
        assert!(parsed.at_least(0, 0, 0));
    }
    let _ = ApiVersion::parse(Some(&s), false);
});
