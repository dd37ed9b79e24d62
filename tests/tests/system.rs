//! The system routes against a real daemon: ping, version, info, events, routing rules,
//! headers and error envelopes.

use std::collections::BTreeSet;
use std::time::Duration;

use tests::{raw_exchange, TestDaemon};

#[tokio::test]
async fn ping_in_every_form_with_podman_headers() {
    let d = TestDaemon::start().await;
    for p in [
        "/_ping",
        "/libpod/_ping",
        "/v1.41/_ping",
        "/v4.0.0/libpod/_ping",
    ] {
        let r = d.get(p).await;
        assert_eq!(r.status, 200, "{p}");
        assert_eq!(r.text(), "OK", "{p}");
        assert_eq!(r.header("api-version"), Some("1.41"));
        assert_eq!(r.header("libpod-api-version"), Some("4.9.5"));
        assert_eq!(r.header("server"), Some("Libpod/4.9.5 (linux)"));
        assert_eq!(r.header("docker-experimental"), Some("true"));
        assert!(r.header("x-reference-id").is_some());
        let h = d.req("HEAD", p, None).await;
        assert_eq!(h.status, 200);
        assert!(h.body.is_empty());
    }
}

#[tokio::test]
async fn header_names_go_out_in_go_canonical_case() {
    let d = TestDaemon::start().await;
    let raw = raw_exchange(
        &d.socket,
        "GET /v1.41/_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    for h in [
        "\r\nOstype: linux",
        "\r\nApi-Version: 1.41",
        "\r\nLibpod-Api-Version: 4.9.5",
    ] {
        assert!(raw.contains(h), "{h:?} missing in {raw}");
    }
}

#[tokio::test]
async fn reference_id_is_echoed() {
    let d = TestDaemon::start().await;
    let raw = raw_exchange(
        &d.socket,
        "GET /_ping HTTP/1.1\r\nHost: d\r\nX-Reference-Id: my-id-42\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(raw.contains("\r\nX-Reference-Id: my-id-42\r\n"), "{raw}");
}

#[tokio::test]
async fn routing_follows_podman() {
    let d = TestDaemon::start().await;
    // Unknown routes and methods: plain text like Go's http.Error.
    for (m, p, code, text) in [
        ("GET", "/nonesuch", 404, "Not Found\n"),
        ("POST", "/nonesuch", 404, "Not Found\n"),
        ("GET", "/v1.41/container/nonesuch/json", 404, "Not Found\n"),
        ("POST", "/_ping", 405, "Method Not Allowed\n"),
        ("DELETE", "/v1.41/_ping", 405, "Method Not Allowed\n"),
        ("POST", "/v1.41/info", 405, "Method Not Allowed\n"),
        // libpod routes need a version prefix, except _ping.
        ("GET", "/libpod/info", 404, "Not Found\n"),
        // A version must start with a digit.
        ("GET", "/vlatest/info", 404, "Not Found\n"),
        // Strict slashes: a trailing slash does not match.
        ("GET", "/v1.41/info/", 404, "Not Found\n"),
    ] {
        let r = d.req(m, p, None).await;
        assert_eq!(r.status, code, "{m} {p}");
        assert_eq!(r.text(), text, "{m} {p}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    // Any version starting with a digit is accepted, compat paths also bare.
    for p in [
        "/info",
        "/v1.41/info",
        "/v99.99-foo/info",
        "/v1.41/libpod/info",
        "/v4.9.5-dev/libpod/info",
    ] {
        assert_eq!(d.get(p).await.status, 200, "{p}");
    }
    // Unclean paths are redirected to the clean one.
    let r = d.get("/v1.41//info").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/v1.41/info"));
}

#[tokio::test]
async fn bad_query_values_get_the_envelope() {
    let d = TestDaemon::start().await;
    for p in [
        "/v1.41/containers/json?all=maybe",
        "/v4.0.0/libpod/containers/json?limit=x",
        "/v1.41/events?stream=false&since=not-a-time",
        "/v1.41/events?stream=false&filters=%7Bbroken",
        "/v1.41/events?stream=false&filters=%7B%22nope%22%3A%5B%22x%22%5D%7D",
    ] {
        let r = d.get(p).await;
        assert_eq!(r.status, 400, "{p}: {}", r.text());
        let v = r.json();
        assert_eq!(v["response"], 400, "{p}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(v["cause"].is_string());
    }
}

#[tokio::test]
async fn version_is_what_docker_and_podman_clients_expect() {
    let d = TestDaemon::start().await;
    for p in ["/version", "/v1.41/version", "/v4.0.0/libpod/version"] {
        let v = d.get(p).await.json();
        assert_eq!(v["ApiVersion"], "1.41");
        assert_eq!(v["MinAPIVersion"], "1.24");
        assert_eq!(v["Os"], "linux");
        assert_eq!(v["Components"][0]["Name"], "Podman Engine");
        assert_eq!(v["Components"][0]["Details"]["MinAPIVersion"], "4.0.0");
        assert!(v["Components"][0]["Details"]["APIVersion"]
            .as_str()
            .is_some_and(|s| s.starts_with("4.9")));
    }
    // bollard negotiates down to 1.41 like the docker CLI.
    let docker = d.docker().negotiate_version().await.expect("negotiate");
    assert_eq!(docker.client_version().to_string(), "1.41");
    let v = docker.version().await.expect("version");
    assert_eq!(v.api_version.as_deref(), Some("1.41"));
}

fn keys(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(o) = v.as_object() {
        for (k, x) in o {
            let p = format!("{prefix}.{k}");
            out.insert(p.clone());
            // Registry names and maps vary by machine; compare their structure only at the top.
            if !matches!(
                k.as_str(),
                "registries" | "IndexConfigs" | "Runtimes" | "graphOptions"
            ) {
                keys(x, &p, out);
            }
        }
    }
}

fn golden(name: &str) -> serde_json::Value {
    let p = tests::workspace_root()
        .join("tests/golden/reference")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("golden file")).expect("golden json")
}

#[tokio::test]
async fn info_has_every_field_real_podman_reports() {
    let d = TestDaemon::start().await;
    for (path, file) in [
        ("/v4.0.0/libpod/info", "libpod-info.json"),
        ("/v1.41/info", "info.json"),
    ] {
        let ours = d.get(path).await.json();
        let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
        keys(&golden(file), "", &mut want);
        keys(&ours, "", &mut got);
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(missing.is_empty(), "{path} lacks {missing:?}");
    }
    let v = d.get("/v4.0.0/libpod/info").await.json();
    assert_eq!(v["host"]["os"], "linux");
    assert!(v["host"]["memTotal"].as_u64().unwrap_or(0) > 0);
    assert!(v["host"]["cpus"].as_u64().unwrap_or(0) >= 1);
    assert_eq!(v["host"]["cgroupManager"], "cgroupfs");
    assert_eq!(v["store"]["containerStore"]["number"], 0);
    assert!(v["store"]["graphRoot"]
        .as_str()
        .is_some_and(|r| r.starts_with(&d.dir.path().display().to_string())));
    let c = d.get("/v1.41/info").await.json();
    assert_eq!(c["OSType"], "linux");
    assert!(c["DefaultRuntime"]
        .as_str()
        .is_some_and(|r| r.contains("runc")));
    assert!(c["MemTotal"].as_u64().unwrap_or(0) > 0);
    // bollard decodes it.
    let docker = d.docker().negotiate_version().await.expect("negotiate");
    let info = docker.info().await.expect("info");
    assert_eq!(info.os_type.as_deref(), Some("linux"));
}

#[tokio::test]
async fn events_without_stream_end_and_stream_delivers_live() {
    let d = TestDaemon::start().await;
    for p in [
        "/v1.41/events?stream=false&since=30s",
        "/v4.0.0/libpod/events?stream=false&since=30s",
    ] {
        let r = d.get(p).await;
        assert_eq!(r.status, 200, "{p}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // A bounded stream (until in the near future) ends by itself.
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        d.get("/v1.41/events?since=1m&until=1s"),
    )
    .await
    .expect("a stream with until ends");
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn stopping_the_daemon_is_clean() {
    let d = TestDaemon::start().await;
    assert_eq!(d.get("/_ping").await.status, 200);
    d.stop().await.expect("serve ended cleanly");
}
