#![no_main]
//! `api_core::query`: `filters` in both Docker forms (and anything else), query strings with
//! lenient booleans and numbers, the `name` (regex or substring) and `label` matchers.
//! Input: `<filters or query text> NUL <a name to match>`.

use std::collections::BTreeMap;

use api_core::query::{label_matches, name_matches, parse_bool, parse_filters, Query};
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (a, b) = common::split2(data);
    let a = common::text(a);
    let name = common::text(b);
    match parse_filters(&a) {
        Ok(filters) => {
            let labels: BTreeMap<String, String> = filters
                .get("label")
                .into_iter()
                .flatten()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            for values in filters.values() {
                for v in values {
                    let _ = name_matches(v, &name);
                    let _ = label_matches(&labels, v);
                }
            }
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "bad filters must answer 400"),
    }
    let q = Query::parse(&a);
    for key in ["filters", "all", "limit", "name", "t", "ALL"] {
        let _ = q.get(key);
        let _ = q.has(key);
        let _ = q.all(key);
        let _ = q.string(key);
        if let Err(e) = q.bool(key) {
            assert_eq!(e.status.as_u16(), 400);
        }
        if let Err(e) = q.value::<i64>(key) {
            assert_eq!(e.status.as_u16(), 400);
        }
        let _ = q.value::<u16>(key);
    }
    if let Err(e) = q.filters() {
        assert_eq!(e.status.as_u16(), 400);
    }
    let _ = parse_bool(&name);
    let _ = name_matches(&a, &name);
});
