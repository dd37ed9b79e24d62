#![no_main]
//! `api_core::time`: `since` / `until` values (unix seconds, RFC 3339, dates, Go durations
//! meaning "that long ago"). A malformed or out-of-range value must be a 400, never a panic.

use api_core::time::{parse_duration, parse_time_at, parse_time_param};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let Some(now) = chrono::DateTime::from_timestamp(1_700_000_000, 0) else {
        return;
    };
    let _ = parse_duration(&s);
    let _ = parse_time_at(&s, now);
    if let Err(e) = parse_time_param("since", &s) {
        assert_eq!(e.status.as_u16(), 400);
    }
});
