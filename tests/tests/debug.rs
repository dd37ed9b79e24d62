//! The debug listener (`--pprof-addr`) read with real clients and parsers: curl fetches,
//! the Prometheus text parser reads `/metrics`, pprof's protobuf decoder reads the CPU
//! profile (and `go tool pprof -top`, when Go is installed).

use std::collections::HashMap;
use std::process::Command;

use tests::{have, TestDaemon};

fn curl(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "60", url])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn scrape(d: &TestDaemon) -> prometheus_parse::Scrape {
    let body = curl(&format!("http://{}/metrics", d.debug_addr));
    let text = String::from_utf8(body).expect("utf-8 metrics");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parse")
}

/// The sum of `podapid_http_requests_total` samples, and the per-(route, status) counts.
fn requests(s: &prometheus_parse::Scrape) -> (f64, HashMap<(String, String), f64>) {
    let mut total = 0.0;
    let mut by = HashMap::new();
    for sample in s
        .samples
        .iter()
        .filter(|x| x.metric == "podapid_http_requests_total")
    {
        let prometheus_parse::Value::Counter(v) = sample.value else {
            panic!("requests_total is not a counter: {:?}", sample.value);
        };
        total += v;
        let key = (
            sample.labels.get("route").unwrap_or("").to_string(),
            sample.labels.get("status").unwrap_or("").to_string(),
        );
        *by.entry(key).or_insert(0.0) += v;
    }
    (total, by)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_the_requests_made() {
    let d = TestDaemon::start().await;
    let before = scrape(&d);
    let (total0, by0) = requests(&before);
    assert!(total0 >= 1.0, "the readiness pings are counted");
    for _ in 0..5 {
        assert_eq!(d.get("/_ping").await.status, 200);
    }
    assert_eq!(d.get("/v4.0.0/libpod/info").await.status, 200);
    assert_eq!(d.get("/containers/nonexistent/json").await.status, 404);
    let after = scrape(&d);
    let (total1, by1) = requests(&after);
    assert_eq!(
        total1 - total0,
        7.0,
        "exactly the 7 requests made: {by0:?} -> {by1:?}"
    );
    let delta = |route: &str, status: &str| {
        let k = (route.to_string(), status.to_string());
        by1.get(&k).copied().unwrap_or(0.0) - by0.get(&k).copied().unwrap_or(0.0)
    };
    assert_eq!(delta("/_ping", "200"), 5.0);
    assert_eq!(delta("/libpod/info", "200"), 1.0);
    assert_eq!(delta("/containers/:name/json", "404"), 1.0);
    // The latency histogram counted the same requests.
    let hist = after
        .samples
        .iter()
        .find(|s| {
            s.metric == "podapid_http_request_duration_seconds"
                && s.labels.get("route") == Some("/_ping")
        })
        .expect("a latency histogram for /_ping");
    let prometheus_parse::Value::Histogram(buckets) = &hist.value else {
        panic!("not a histogram: {:?}", hist.value);
    };
    let inf = buckets.last().expect("buckets");
    assert!(inf.less_than.is_infinite());
    assert!(inf.count >= 5.0);
    // The engine's families are there.
    for family in [
        "podapid_http_connections_open",
        "podapid_http_responses_in_flight",
        "podapid_image_pulls_in_flight",
        "podapid_images",
        "podapid_events_emitted_total",
        "podapid_conmon_processes",
        "podapid_db_transaction_duration_seconds",
    ] {
        assert!(
            after.docs.contains_key(family),
            "no {family} in {:?}",
            after.docs.keys()
        );
    }
    d.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_profile_decodes() {
    use pprof::protos::Message;
    let d = TestDaemon::start().await;
    // Keep the daemon busy while the profile is taken.
    let socket = d.socket.clone();
    let busy = tokio::spawn(async move {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::time::Instant::now() < until {
            let _ = tests::request(&socket, hyper::Method::GET, "/v4.0.0/libpod/info", None).await;
        }
    });
    let addr = d.debug_addr;
    let bytes = tokio::task::spawn_blocking(move || {
        curl(&format!("http://{addr}/debug/pprof/profile?seconds=2"))
    })
    .await
    .expect("curl task");
    let _ = busy.await;
    let profile = pprof::protos::Profile::decode(bytes.as_slice()).expect("a pprof profile");
    let strings = &profile.string_table;
    let sample_types: Vec<&str> = profile
        .sample_type
        .iter()
        .map(|t| strings[t.ty as usize].as_str())
        .collect();
    assert!(
        sample_types.contains(&"cpu") || sample_types.contains(&"samples"),
        "{sample_types:?}"
    );
    assert!(
        profile.duration_nanos >= 1_900_000_000,
        "{}",
        profile.duration_nanos
    );
    assert!(
        !profile.sample.is_empty(),
        "no samples while busy: {} bytes, {profile:?}",
        bytes.len()
    );
    assert!(!profile.function.is_empty());
    if have("go") {
        let file = d.dir.path().join("cpu.pb");
        std::fs::write(&file, &bytes).expect("write the profile");
        let out = Command::new("go")
            .args(["tool", "pprof", "-top"])
            .arg(&file)
            .output()
            .expect("go tool pprof");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The other debug pages answer.
    let heap = String::from_utf8(curl(&format!("http://{addr}/debug/pprof/heap"))).unwrap();
    assert!(heap.contains("in_use_bytes"), "{heap}");
    let threads = String::from_utf8(curl(&format!("http://{addr}/debug/pprof/threads"))).unwrap();
    assert!(threads.contains("alive_tasks"), "{threads}");
    d.stop().await.expect("stop");
}
