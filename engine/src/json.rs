//! JSON helpers shared by the engine and the API crates.

use serde_json::Value;

/// A field of a JSON object matched like Go's decoder does: the exact key first, then
/// case-insensitively; `Null` when absent or when `v` is not an object.
pub fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    let Some(m) = v.as_object() else {
        return &NULL;
    };
    if let Some(x) = m.get(key) {
        return x;
    }
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, x)| x)
        .unwrap_or(&NULL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_like_go() {
        let v = serde_json::json!({"TmpFs": 1, "Image": "x"});
        assert_eq!(field(&v, "Tmpfs"), &serde_json::json!(1));
        assert_eq!(field(&v, "Image"), &serde_json::json!("x"));
        assert!(field(&v, "Nope").is_null());
        assert!(field(&Value::Null, "a").is_null());
    }
}
