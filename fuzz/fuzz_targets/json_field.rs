#![no_main]
//! `engine::json::field`: Go-style field lookups (exact key first, then ignoring case).

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        let _ = engine::json::field(&Value::Null, &String::from_utf8_lossy(data));
        return;
    };
    if let Some(m) = v.as_object() {
        for (k, x) in m {
            assert_eq!(engine::json::field(&v, k), x, "exact key {k:?}");
            let _ = engine::json::field(&v, &k.to_ascii_uppercase());
            let _ = engine::json::field(&v, &k.to_ascii_lowercase());
        }
    }
    for key in ["Image", "image", "HostConfig", ""] {
        let _ = engine::json::field(&v, key);
    }
});
