//! Architecture invariants checked from the members' Cargo.toml files: the engine knows
//! nothing of HTTP, api-* crates never depend on each other, only podapid has features.

use std::path::Path;

fn deps(crate_dir: &str) -> Vec<String> {
    let p = tests::workspace_root().join(crate_dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut out = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_deps = l == "[dependencies]";
            continue;
        }
        if in_deps {
            if let Some((name, _)) = l.split_once(['=', '.']) {
                let name = name.trim();
                if !name.is_empty() && !name.starts_with('#') {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}

const AREAS: [&str; 6] = [
    "api-containers",
    "api-images",
    "api-pods",
    "api-networks",
    "api-volumes",
    "api-system",
];

#[test]
fn engine_knows_nothing_of_http() {
    for d in deps("engine") {
        assert!(
            ![
                "axum",
                "hyper",
                "hyper-util",
                "http",
                "tower",
                "tower-http",
                "http-body-util"
            ]
            .contains(&d.as_str())
                && !d.starts_with("api-"),
            "engine depends on {d}"
        );
    }
}

#[test]
fn area_crates_depend_only_on_api_core_and_engine() {
    for a in AREAS {
        for d in deps(a) {
            assert!(
                !(d.starts_with("api-") && d != "api-core") && d != "podapid",
                "{a} depends on {d}"
            );
        }
    }
    for d in deps("api-core") {
        assert!(
            !d.starts_with("api-") && d != "podapid",
            "api-core depends on {d}"
        );
    }
}

#[test]
fn only_podapid_has_features_and_anyhow() {
    for c in AREAS.iter().chain(["api-core", "engine"].iter()) {
        let text =
            std::fs::read_to_string(tests::workspace_root().join(c).join("Cargo.toml")).unwrap();
        assert!(!text.contains("[features]"), "{c} declares features");
        assert!(!deps(c).contains(&"anyhow".to_string()), "{c} uses anyhow");
    }
}

#[test]
fn every_module_says_what_it_owns() {
    let root = tests::workspace_root();
    let mut missing = Vec::new();
    for c in AREAS.iter().chain(["api-core", "engine", "podapid"].iter()) {
        walk(&root.join(c).join("src"), &mut |p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            if !text.trim_start().starts_with("//!") {
                missing.push(p.display().to_string());
            }
        });
    }
    assert!(
        missing.is_empty(),
        "modules without a //! header: {missing:?}"
    );
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, f);
        } else if p.extension().is_some_and(|x| x == "rs") {
            f(&p);
        }
    }
}
