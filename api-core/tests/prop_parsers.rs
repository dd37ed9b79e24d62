//! Hostile-input property tests of api-core's parsers: query strings (lenient booleans,
//! case-insensitive keys, repeated keys, numbers, `filters` in both Docker forms), the
//! `name` / `label` filter matchers, time arguments, the stdcopy codec, the request-target
//! rewriter in front of hyper (`rawuri`) and the `/v{version}` prefixes.
//!
//! Every property runs a modest number of cases by default so `cargo test` stays fast;
//! `PROPTEST_CASES=N` sets the count of every property for a long run.

#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::collections::BTreeMap;

use api_core::query::{label_matches, name_matches, parse_bool, parse_filters, Query};
use api_core::rawuri::Rewriter;
use api_core::stream::{encode_frame, Frame, StdCopyCodec, StdStream};
use api_core::time::{parse_duration, parse_time_at, parse_time_param};
use api_core::version::{split_version, ApiVersion};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, TimeZone, Utc};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::collection::{btree_map, vec as pvec};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value};
use tokio_util::codec::{Decoder, Encoder};

/// A property's configuration: `default` cases unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

const NASTY: &[char] = &[
    '{', '}', '[', ']', '"', ':', ',', '\\', '\0', '\n', ' ', 'é', '1', 'e', '-', '+', '.', 't',
    'n', '%', '&', '=',
];

/// One edit of a near-valid input.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(Index, char),
    Delete(Index),
    Truncate(Index),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let ch = prop_oneof![3 => select(NASTY), 1 => any::<char>()];
    let m = prop_oneof![
        (any::<Index>(), ch).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Truncate),
    ];
    pvec(m, 0..4)
}

fn mutate(s: &str, ms: &[Mutation]) -> String {
    let mut c: Vec<char> = s.chars().collect();
    for m in ms {
        match m {
            Mutation::Insert(i, ch) => {
                let at = i.index(c.len() + 1);
                c.insert(at, *ch);
            }
            Mutation::Delete(i) => {
                if !c.is_empty() {
                    let at = i.index(c.len());
                    c.remove(at);
                }
            }
            Mutation::Truncate(i) => {
                let at = i.index(c.len() + 1);
                c.truncate(at);
            }
        }
    }
    c.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// Query strings and filters
// ---------------------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1.0e300f64..1.0e300).prop_map(|f| json!(f)),
        "\\PC{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            pvec(inner.clone(), 0..4).prop_map(Value::Array),
            pvec(("\\PC{0,4}", inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const FILTER_KEYS: &[&str] = &[
    "label", "name", "status", "until", "id", "LABEL", "dangling",
];

fn filter_key() -> impl Strategy<Value = String> {
    prop_oneof![3 => select(FILTER_KEYS).prop_map(String::from), 1 => "\\PC{0,6}"]
}

/// A filter's value in either Docker form, or anything else.
fn filter_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => pvec(prop_oneof![3 => "\\PC{0,6}".prop_map(Value::from), 1 => json_value()], 0..4)
            .prop_map(Value::Array),
        3 => pvec(("\\PC{0,6}", prop_oneof![3 => any::<bool>().prop_map(Value::Bool), 1 => json_value()]), 0..4)
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        1 => "\\PC{0,6}".prop_map(Value::from),
        1 => json_value(),
    ]
}

fn filters_doc() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => pvec((filter_key(), filter_value()), 0..4)
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        1 => json_value(),
    ]
}

/// The documented meaning of a `filters` document (`None`: a 400).
fn expected_filters(doc: &Value) -> Option<BTreeMap<String, Vec<String>>> {
    let obj = doc.as_object()?;
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let list = match v {
            Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            Value::Object(m) => m
                .iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(true))
                .map(|(k, _)| k.clone())
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => return None,
        };
        out.insert(k.clone(), list);
    }
    Some(out)
}

const BOOLS: &[(&str, bool)] = &[
    ("1", true),
    ("t", true),
    ("T", true),
    ("true", true),
    ("TRUE", true),
    ("True", true),
    ("0", false),
    ("f", false),
    ("F", false),
    ("false", false),
    ("FALSE", false),
    ("False", false),
];

fn query_key() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-cA-C]{0,3}", 1 => any::<String>()]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn filters_decode_both_forms(doc in filters_doc()) {
        let text = serde_json::to_string(&doc).unwrap();
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        let want = expected_filters(&reparsed);
        match parse_filters(&text) {
            Ok(got) => prop_assert_eq!(Some(got), want, "{}", text),
            Err(e) => {
                prop_assert!(want.is_none(), "{} refused: {}", text, e.message);
                prop_assert_eq!(e.status.as_u16(), 400);
            }
        }
        let q = Query::parse(&format!("filters={}", enc(&text)));
        prop_assert_eq!(q.filters().ok(), parse_filters(&text).ok());
    }

    #[test]
    fn hostile_filters_answer_400(doc in filters_doc(), ms in mutations(), free in any::<String>()) {
        let text = mutate(&serde_json::to_string(&doc).unwrap(), &ms);
        for t in [text, free] {
            if let Err(e) = parse_filters(&t) {
                prop_assert_eq!(e.status.as_u16(), 400);
                prop_assert!(!e.cause.is_empty());
            }
            let q = Query::parse(&format!("filters={t}"));
            let _ = q.filters();
        }
    }

    #[test]
    fn query_pairs_round_trip(pairs in pvec((query_key(), any::<String>()), 0..6), probe in query_key()) {
        let raw = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let q = Query::parse(&raw);
        let exact = pairs.iter().find(|(k, _)| *k == probe);
        let loose = pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(&probe));
        prop_assert_eq!(q.get(&probe), exact.or(loose).map(|(_, v)| v.as_str()));
        prop_assert_eq!(q.has(&probe), loose.is_some());
        let all: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(&probe))
            .map(|(_, v)| v.clone())
            .collect();
        prop_assert_eq!(q.all(&probe), all);
        prop_assert_eq!(q.string(&probe), q.get(&probe).filter(|v| !v.is_empty()).map(String::from));
    }

    #[test]
    fn arbitrary_query_strings_never_panic(raw in any::<String>(), key in query_key()) {
        let q = Query::parse(&raw);
        let _ = q.get(&key);
        let _ = q.all(&key);
        let _ = q.bool(&key);
        let _ = q.value::<i64>(&key);
        let _ = q.value::<u16>(&key);
        let _ = q.filters();
    }

    #[test]
    fn lenient_booleans(v in prop_oneof![select(BOOLS).prop_map(|(s, _)| s.to_string()), "[a-zA-Z0-9]{0,5}", any::<String>()]) {
        let want = BOOLS.iter().find(|(s, _)| *s == v).map(|(_, b)| *b);
        prop_assert_eq!(parse_bool(&v), want);
        let q = Query::parse(&format!("all={}", enc(&v)));
        match q.bool("all") {
            Ok(got) => prop_assert_eq!(got, if v.is_empty() { None } else { want }),
            Err(e) => {
                prop_assert!(!v.is_empty() && want.is_none());
                prop_assert_eq!(e.status.as_u16(), 400);
                prop_assert!(e.cause.starts_with("schema: error converting value"), "{}", e.cause);
            }
        }
        prop_assert_eq!(q.bool_or("missing", true).ok(), Some(true));
        prop_assert_eq!(Query::parse(&format!("ALL={}", enc(&v))).bool("all").ok(), q.bool("all").ok());
    }

    #[test]
    fn numbers_parse_or_answer_400(n in any::<i64>(), v in prop_oneof!["-?[0-9]{0,22}", any::<String>()]) {
        prop_assert_eq!(Query::parse(&format!("limit={n}")).value::<i64>("limit").ok(), Some(Some(n)));
        let got = Query::parse(&format!("limit={}", enc(&v))).value::<i64>("limit");
        match v.parse::<i64>() {
            _ if v.is_empty() => prop_assert_eq!(got.ok(), Some(None)),
            Ok(x) => prop_assert_eq!(got.ok(), Some(Some(x))),
            Err(_) => prop_assert_eq!(got.map_err(|e| e.status.as_u16()), Err(400)),
        }
    }

    #[test]
    fn name_patterns_never_panic(pattern in "\\PC{0,24}", name in "\\PC{0,24}", ms in mutations()) {
        let _ = name_matches(&pattern, &name);
        let _ = name_matches(&mutate("^[a-z]+(x|y)*$", &ms), &name);
    }

    #[test]
    fn escaped_names_match_themselves(s in "\\PC{0,16}", pre in "[a-z]{0,3}", post in "[a-z]{0,3}") {
        let text = format!("{pre}{s}{post}");
        prop_assert!(name_matches(&regex::escape(&s), &text));
    }

    #[test]
    fn invalid_patterns_match_as_substrings(s in "[a-z0-9]{0,8}", pre in "[a-z]{0,3}") {
        let pattern = format!("{s}(");
        let text = format!("{pre}{pattern}");
        prop_assert!(name_matches(&pattern, &text));
        prop_assert!(!name_matches(&pattern, &s));
    }

    #[test]
    fn label_filters(
        labels in btree_map("[a-c.]{1,3}", "[a-c=]{0,3}", 0..4),
        key in "[a-c.]{1,3}",
        value in "[a-c=]{0,3}",
        free in any::<String>(),
    ) {
        prop_assert_eq!(label_matches(&labels, &key), labels.contains_key(&key));
        prop_assert_eq!(
            label_matches(&labels, &format!("{key}={value}")),
            labels.get(&key) == Some(&value)
        );
        let _ = label_matches(&labels, &free);
    }
}

#[test]
fn deeply_nested_filters_are_refused() {
    let n = 100_000;
    for text in [
        format!("{{\"a\":{}", "[".repeat(n)),
        format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n)),
        format!("{{\"a\":{}", "{\"b\":".repeat(n)),
    ] {
        let e = parse_filters(&text).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }
    // A pattern the regex parser refuses for its nesting falls back to a substring test.
    let deep = "(".repeat(50_000);
    assert!(!name_matches(&deep, "abc"));
}

// ---------------------------------------------------------------------------------------
// Time arguments
// ---------------------------------------------------------------------------------------

const UNITS: &[&str] = &["ns", "us", "µs", "ms", "s", "m", "h", "", "d", "H"];

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0).unwrap()
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn rfc3339_times_round_trip(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
        let t = Utc.timestamp_opt(secs, nanos).unwrap();
        prop_assert_eq!(parse_time_at(&t.to_rfc3339(), now()), Some(t));
        prop_assert_eq!(parse_time_param("since", &t.to_rfc3339()).ok(), Some(t));
    }

    #[test]
    fn unix_seconds_parse(secs in -62_135_596_800i64..253_402_300_799, frac in 0u32..1_000_000_000) {
        let t = Utc.timestamp_opt(secs, 0).unwrap();
        prop_assert_eq!(parse_time_at(&secs.to_string(), now()), Some(t));
        if secs >= 0 {
            let with_frac = Utc.timestamp_opt(secs, frac).unwrap();
            prop_assert_eq!(parse_time_at(&format!("{secs}.{frac:09}"), now()), Some(with_frac));
        }
    }

    #[test]
    fn durations_mean_that_long_ago(h in 0u64..1000, m in 0u64..1000, s in 0u64..100_000) {
        let text = format!("{h}h{m}m{s}s");
        let d = std::time::Duration::from_secs(h * 3600 + m * 60 + s);
        prop_assert_eq!(parse_duration(&text), Some(d));
        let ago = chrono::Duration::from_std(d).unwrap();
        prop_assert_eq!(parse_time_at(&text, now()), Some(now() - ago));
    }

    /// `since=9999999999h` is a bad request, never a handler panic.
    #[test]
    fn hostile_durations_never_panic(parts in pvec(("[0-9]{1,24}(\\.[0-9]{0,4})?", select(UNITS)), 1..4)) {
        let mut s = String::new();
        for (n, u) in &parts {
            s.push_str(n);
            s.push_str(u);
        }
        let _ = parse_duration(&s);
        let _ = parse_time_at(&s, now());
        if let Err(e) = parse_time_param("since", &s) {
            prop_assert_eq!(e.status.as_u16(), 400);
        }
    }

    #[test]
    fn arbitrary_times_never_panic(s in any::<String>(), near in "[0-9T:.+ -]{0,30}") {
        for t in [s, near] {
            let _ = parse_duration(&t);
            let _ = parse_time_at(&t, now());
            if let Err(e) = parse_time_param("until", &t) {
                prop_assert_eq!(e.status.as_u16(), 400);
            }
        }
    }
}

#[test]
fn huge_durations_are_bad_requests() {
    for s in [
        "9999999999999999999999h",
        "10000000000000s",
        "184467440737095516160s",
    ] {
        let e = parse_time_param("since", s).unwrap_err();
        assert_eq!(e.status.as_u16(), 400, "{s}");
    }
}

// ---------------------------------------------------------------------------------------
// stdcopy frames
// ---------------------------------------------------------------------------------------

fn stream_of(b: u8) -> StdStream {
    match b % 4 {
        0 => StdStream::Stdin,
        1 => StdStream::Stdout,
        2 => StdStream::Stderr,
        _ => StdStream::Error,
    }
}

/// Cut points of `len` bytes: 0, the chosen ones, `len`, in order.
fn cut_points(len: usize, cuts: &[Index]) -> Vec<usize> {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(len + 1)).collect();
    points.push(0);
    points.push(len);
    points.sort_unstable();
    points.dedup();
    points
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn stdcopy_round_trips_across_any_split(
        frames in pvec((0u8..4, pvec(any::<u8>(), 0..64)), 0..8),
        cuts in pvec(any::<Index>(), 0..6),
    ) {
        let mut wire = BytesMut::new();
        let mut codec = StdCopyCodec;
        for (s, data) in &frames {
            let before = wire.len();
            let f = Frame { stream: stream_of(*s), data: Bytes::from(data.clone()) };
            codec.encode(f, &mut wire).unwrap();
            let one = encode_frame(stream_of(*s), data);
            prop_assert_eq!(&wire[before..], &one[..]);
        }
        let wire = wire.freeze();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for w in cut_points(wire.len(), &cuts).windows(2) {
            buf.extend_from_slice(&wire[w[0]..w[1]]);
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                got.push((f.stream, f.data.to_vec()));
            }
        }
        prop_assert!(buf.is_empty());
        let want: Vec<(StdStream, Vec<u8>)> =
            frames.iter().map(|(s, d)| (stream_of(*s), d.clone())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn stdcopy_decoding_hostile_bytes_never_panics(
        raw in pvec((any::<u8>(), any::<u16>(), pvec(any::<u8>(), 0..64)), 0..6),
        tail in pvec(any::<u8>(), 0..12),
    ) {
        let mut buf = BytesMut::new();
        for (id, len, payload) in &raw {
            buf.extend_from_slice(&[*id, 0, 0, 0]);
            buf.extend_from_slice(&u32::from(*len).to_be_bytes());
            buf.extend_from_slice(payload);
        }
        buf.extend_from_slice(&tail);
        let mut codec = StdCopyCodec;
        loop {
            // Keep a length read from garbage under 16 MiB: the property is about panics;
            // `a_declared_huge_frame_is_not_reserved_up_front` is about memory.
            if buf.len() >= 8 {
                buf[4] = 0;
            }
            match codec.decode(&mut buf) {
                Ok(Some(f)) => prop_assert!(f.data.len() < 1 << 24),
                Ok(None) => break,
                Err(_) => {
                    prop_assert!(buf[0] > 3, "refused a valid stream id {}", buf[0]);
                    break;
                }
            }
        }
        let _ = codec.decode_eof(&mut buf);
    }
}

#[test]
fn a_declared_huge_frame_is_not_reserved_up_front() {
    // Eight bytes from a peer announcing a 1 GiB frame.
    let mut buf = BytesMut::from(&[1u8, 0, 0, 0, 0x40, 0, 0, 0][..]);
    assert!(StdCopyCodec.decode(&mut buf).unwrap().is_none());
    assert!(
        buf.capacity() < 64 << 20,
        "an 8-byte header made the decoder reserve {} bytes",
        buf.capacity()
    );
}

// ---------------------------------------------------------------------------------------
// Request-target rewriting (rawuri) and version prefixes
// ---------------------------------------------------------------------------------------

const HTTP_PIECES: &[&str] = &[
    "GET /v1.41/containers/json?filters={\"label\":[\"a\"]} HTTP/1.1\r\n",
    "POST /x|y^z`<> HTTP/1.1\r\n",
    "Host: d\r\n",
    "Content-Length: 5\r\n",
    "content-length: 18446744073709551615\r\n",
    "Content-Length: x\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Upgrade: tcp\r\n",
    "\r\n",
    "\n",
    "5\r\n",
    "hello\r\n",
    "0\r\n",
    "ffffffffffffffff\r\n",
    "fffffffffffffffe\r\n",
    "zz\r\n",
    "{}|^`\\<>\"",
    "GET / HTTP/1.1",
    "abc",
    " ",
];

const CLEAN_PIECES: &[&str] = &[
    "GET /v1.41/containers/json?all=1 HTTP/1.1\r\n",
    "Host: d\r\n",
    "Content-Length: 5\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Upgrade: tcp\r\n",
    "\r\n",
    "5\r\n",
    "hello\r\n",
    "0\r\n",
    "zz\r\n",
    "abc",
    " ",
];

const ESCAPED: &[u8] = b"\"{}<>\\^`|";

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn rawuri_rewriting_does_not_depend_on_read_sizes(
        pieces in pvec(select(HTTP_PIECES), 0..12),
        extra in pvec(any::<u8>(), 0..32),
        cuts in pvec(any::<Index>(), 0..6),
    ) {
        let mut input = pieces.concat().into_bytes();
        input.extend_from_slice(&extra);
        let mut whole = Vec::new();
        Rewriter::default().feed(&input, &mut whole);
        let mut r = Rewriter::default();
        let mut split = Vec::new();
        for w in cut_points(input.len(), &cuts).windows(2) {
            r.feed(&input[w[0]..w[1]], &mut split);
        }
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn rawuri_leaves_clean_bytes_alone(pieces in pvec(select(CLEAN_PIECES), 0..12)) {
        let mut input = pieces.concat().into_bytes();
        input.push(b'\n');
        let mut out = Vec::new();
        Rewriter::default().feed(&input, &mut out);
        prop_assert_eq!(out, input);
    }

    #[test]
    fn rawuri_escapes_only_the_request_target(target in "/[!-$&-~]{0,30}") {
        let line = format!("GET {target} HTTP/1.1\r\nHost: d\r\nX-Raw: {target}\r\n\r\n");
        let mut out = Vec::new();
        Rewriter::default().feed(line.as_bytes(), &mut out);
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let first = lines.next().unwrap();
        let got = first.strip_prefix("GET ").unwrap().strip_suffix(" HTTP/1.1").unwrap();
        prop_assert!(!got.bytes().any(|b| ESCAPED.contains(&b)), "{}", got);
        prop_assert_eq!(percent_decode_str(got).decode_utf8().unwrap(), target.as_str());
        // Header lines pass untouched.
        let header = format!("X-Raw: {target}");
        prop_assert_eq!(lines.nth(1), Some(header.as_str()));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_rewriter(chunks in pvec(pvec(any::<u8>(), 0..64), 0..8)) {
        let mut r = Rewriter::default();
        let mut out = Vec::new();
        for c in &chunks {
            r.feed(c, &mut out);
        }
    }

    #[test]
    fn version_prefixes_split_like_podman(
        v in "[0-9][0-9A-Za-z.-]{0,10}",
        rest in "(/[a-z0-9]{1,6}){1,3}",
        junk in "\\PC{0,20}",
    ) {
        let path = format!("/v{v}{rest}");
        prop_assert_eq!(split_version(&path), Some((v.as_str(), rest.as_str())));
        let _ = split_version(&junk);
        let _ = ApiVersion::parse(Some(&junk), true);
    }

    #[test]
    fn version_numbers_parse(a in any::<u32>(), b in any::<u32>(), c in any::<u32>(), suffix in "(-[a-z]{1,4})?") {
        let v = ApiVersion::parse(Some(&format!("{a}.{b}.{c}{suffix}")), false);
        prop_assert_eq!((v.major, v.minor, v.patch), (u64::from(a), u64::from(b), u64::from(c)));
        prop_assert!(v.at_least(u64::from(a), u64::from(b), u64::from(c)));
    }
}

#[test]
fn a_huge_chunk_size_is_not_an_overflow() {
    let input = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc";
    let mut out = Vec::new();
    Rewriter::default().feed(input, &mut out);
    assert!(out.starts_with(b"POST /x HTTP/1.1\r\n"));
}
