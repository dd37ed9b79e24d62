//! The OpenAPI operations of a full build are exactly the route table of Podman v4.9.5
//! (`routes.tsv`: method, path template, tree, stream kind; one row per registration).

#![cfg(all(
    feature = "containers",
    feature = "images",
    feature = "pods",
    feature = "networks",
    feature = "volumes"
))]

use std::collections::BTreeSet;

#[test]
fn the_document_lists_every_route_once() {
    let table: BTreeSet<(String, String)> = include_str!("routes.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let method = cols.next().unwrap_or_default().to_string();
            let path = cols.next().unwrap_or_default().to_string();
            (method, path)
        })
        .collect();
    // 198 registrations; the v3 and v4 manifest routers register three paths alike.
    assert_eq!(table.len(), 195);
    let ops = podapid::ops();
    let mut seen = BTreeSet::new();
    for op in &ops {
        let key = (op.method.to_string(), op.path.to_string());
        assert!(seen.insert(key.clone()), "{key:?} is listed twice");
    }
    // Docker routes Podman 4.9.5 does not register, served and documented too.
    for (m, p) in [
        ("POST", "/build/prune"),
        ("POST", "/containers/{name}/update"),
    ] {
        assert!(seen.remove(&(m.to_string(), p.to_string())), "{m} {p}");
    }
    let missing: Vec<_> = table.difference(&seen).collect();
    let extra: Vec<_> = seen.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nnot in the table {extra:?}"
    );
    let doc = api_core::openapi::document(&ops);
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["components"]["schemas"]["ErrorModel"].is_object());
}
