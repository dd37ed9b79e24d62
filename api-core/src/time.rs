//! Time arguments as Podman accepts them (`since`/`until` of events and logs): unix seconds
//! (with optional fraction), RFC 3339 timestamps, dates, or Go durations meaning "that long
//! ago".

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::error::{ApiError, ApiResult};

/// Parses a Go duration like `30s`, `1h30m`, `500ms`, `2.5h`.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * mult;
    }
    // Out of range (huge or not finite) is not a duration.
    std::time::Duration::try_from_secs_f64(total).ok()
}

/// Parses a point in time relative to `now`.
pub fn parse_time_at(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(d) = parse_duration(s) {
        return chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| now.checked_sub_signed(d));
    }
    if let Some(t) = parse_unix(s) {
        return Some(t);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    }
    None
}

/// Unix seconds with an optional fraction (`123`, `-5`, `123.456`).
fn parse_unix(s: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Utc.timestamp_opt(secs, nanos).single()
}

/// Parses a time query parameter, answering 400 when it is malformed.
pub fn parse_time_param(name: &str, s: &str) -> ApiResult<DateTime<Utc>> {
    parse_time_at(s, Utc::now()).ok_or_else(|| {
        ApiError::bad_request(format!(
            "failed to parse parameters: invalid value for {name:?}: {s:?} is not a timestamp or duration"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
        assert_eq!(
            parse_time_at("30s", now),
            Some(Utc.timestamp_opt(999_970, 0).unwrap())
        );
        assert_eq!(
            parse_time_at("1h30m", now).unwrap().timestamp(),
            1_000_000 - 5400
        );
        assert_eq!(parse_time_at("123", now).unwrap().timestamp(), 123);
        assert_eq!(
            parse_time_at("123.5", now)
                .unwrap()
                .timestamp_subsec_nanos(),
            500_000_000
        );
        assert_eq!(
            parse_time_at("2024-01-01T00:00:00Z", now)
                .unwrap()
                .timestamp(),
            1_704_067_200
        );
        assert_eq!(
            parse_time_at("2024-01-01", now).unwrap().timestamp(),
            1_704_067_200
        );
        assert!(parse_time_at("yesterday", now).is_none());
        assert!(parse_duration("5x").is_none());
    }
}
