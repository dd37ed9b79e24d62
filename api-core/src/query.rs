//! Query-string decoding that real clients need: booleans as `1`/`0`/`true`/`false`,
//! repeated keys, and `filters` as a JSON map in both Docker forms
//! (`{"k":["v"]}` and `{"k":{"v":true}}`). Bad values answer 400 with the envelope.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use percent_encoding::percent_decode_str;

use crate::error::{ApiError, ApiResult};

/// Filters as a map from key to values.
pub type Filters = BTreeMap<String, Vec<String>>;

/// The decoded query string of a request, in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

fn conversion_error(key: &str, value: &str) -> ApiError {
    // Podman's cause is the schema decoder's text; clients match on it.
    let cause = format!("schema: error converting value for {key:?}");
    ApiError::with_cause(
        axum::http::StatusCode::BAD_REQUEST,
        cause.clone(),
        format!("failed to parse parameters: {cause} (invalid value {value:?})"),
    )
}

/// Parses a boolean like Go's `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl Query {
    /// Decodes a raw query string.
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `key`. Keys match case-insensitively when no exact match
    /// exists, like Podman's schema decoder (podman-remote sends `arch`, docs say `Arch`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .or_else(|| self.pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` was given at all.
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
    }

    /// Every value of a repeated `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A non-empty string value.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(String::from)
    }

    /// A boolean; an empty value counts as absent.
    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => parse_bool(v)
                .map(Some)
                .ok_or_else(|| conversion_error(key, v)),
        }
    }

    /// A boolean with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> ApiResult<bool> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    /// A number (or any `FromStr`); an empty value counts as absent.
    pub fn value<T: FromStr>(&self, key: &str) -> ApiResult<Option<T>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| conversion_error(key, v)),
        }
    }

    /// The `filters` parameter (absent or empty: no filters).
    pub fn filters(&self) -> ApiResult<Filters> {
        match self.get("filters") {
            None | Some("") => Ok(Filters::new()),
            Some(raw) => parse_filters(raw),
        }
    }
}

/// A `name` filter value against a name: a regular expression, unanchored (Go's
/// `regexp.MatchString`); a value that is not a valid expression matches as a substring.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match regex::Regex::new(pattern) {
        Ok(re) => re.is_match(name),
        Err(_) => name.contains(pattern),
    }
}

/// A `label` filter value (`key` or `key=value`) against labels.
pub fn label_matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

/// Describes a JSON syntax error the way Go's `encoding/json` does (clients and Podman's
/// tests read the `cause`).
pub fn go_json_error(e: &serde_json::Error, input: &str) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let line = input.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
    match line.chars().nth(e.column().saturating_sub(1)) {
        Some(c) => format!("invalid character '{c}' looking for beginning of value"),
        None => e.to_string(),
    }
}

/// Decodes a `filters` JSON map in either Docker form.
pub fn parse_filters(raw: &str) -> ApiResult<Filters> {
    let bad = |e: String| {
        ApiError::with_cause(
            axum::http::StatusCode::BAD_REQUEST,
            e.clone(),
            format!("failed to parse parameters: invalid filters {raw:?}: {e}"),
        )
    };
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| bad(go_json_error(&e, raw)))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("filters must be a JSON object".into()))?;
    let mut out = Filters::new();
    for (k, vals) in obj {
        let list = match vals {
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    other => Ok(other.to_string()),
                })
                .collect::<ApiResult<Vec<_>>>()?,
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(true))
                .map(|(k, _)| k.clone())
                .collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => return Err(bad(format!("bad value for filter {k:?}"))),
        };
        out.insert(k.clone(), list);
    }
    Ok(out)
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Query::parse(parts.uri.query().unwrap_or("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_clients_send_them() {
        let q = Query::parse("all=1&size=true&x=0&y=False&z=&bad=yes");
        assert_eq!(q.bool("all").unwrap(), Some(true));
        assert_eq!(q.bool("size").unwrap(), Some(true));
        assert_eq!(q.bool("x").unwrap(), Some(false));
        assert_eq!(q.bool("y").unwrap(), Some(false));
        assert_eq!(q.bool("z").unwrap(), None);
        assert_eq!(q.bool("missing").unwrap(), None);
        let e = q.bool("bad").unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn filters_in_both_forms_and_encoded() {
        let q = Query::parse("filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
        assert_eq!(q.filters().unwrap()["label"], vec!["a=b".to_string()]);
        let f =
            parse_filters(r#"{"status":{"running":true,"exited":false},"name":["x"]}"#).unwrap();
        assert_eq!(f["status"], vec!["running".to_string()]);
        assert_eq!(f["name"], vec!["x".to_string()]);
        assert!(parse_filters("[1]").is_err());
        assert_eq!(
            parse_filters("{").unwrap_err().cause,
            "unexpected end of JSON input"
        );
        assert_eq!(
            parse_filters("garb1age}").unwrap_err().cause,
            "invalid character 'g' looking for beginning of value"
        );
        assert_eq!(
            parse_filters(r#"{"label":["testl"#).unwrap_err().cause,
            "unexpected end of JSON input"
        );
    }

    #[test]
    fn repeated_keys_and_numbers() {
        let q = Query::parse("t=a&t=b+c&limit=5&n=x");
        assert_eq!(q.all("t"), vec!["a".to_string(), "b c".to_string()]);
        assert_eq!(q.value::<u32>("limit").unwrap(), Some(5));
        assert_eq!(Query::parse("arch=arm64").get("Arch"), Some("arm64"));
        assert!(q.value::<u32>("n").is_err());
    }
}
