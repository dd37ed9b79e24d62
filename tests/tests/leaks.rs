//! Nothing leaks: 200 create/start/connect/remove cycles over two user networks, two at a
//! time, then the networks are removed; veth devices, bridges, iptables rules, network
//! namespaces, mounts and IPAM leases are counted before and after. A test binary of its
//! own, so no other test's containers run meanwhile.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::collections::BTreeMap;
use std::time::Duration;

use tests::{docker, TestDaemon};

const CYCLES: usize = 200;

fn lines_of(cmd: &str, args: &[&str]) -> usize {
    let out = std::process::Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(':') && !l.trim().is_empty())
        .filter(|l| !l.starts_with('*') && *l != "COMMIT")
        .count()
}

fn count_dir(p: &std::path::Path) -> usize {
    std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0)
}

/// What the host has of the things containers and networks create.
fn census(d: &TestDaemon) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    m.insert(
        "veth",
        lines_of("ip", &["-o", "link", "show", "type", "veth"]),
    );
    m.insert(
        "bridge",
        lines_of("ip", &["-o", "link", "show", "type", "bridge"]),
    );
    m.insert("iptables rules", lines_of("iptables-save", &[]));
    m.insert("ip6tables rules", lines_of("ip6tables-save", &[]));
    m.insert("netns files", count_dir(&d.dir.path().join("run/netns")));
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    m.insert("mounts", info.lines().count());
    m.insert(
        "nsfs mounts",
        info.lines().filter(|l| l.contains(" nsfs ")).count(),
    );
    m.insert(
        "mounts under the daemon's dir",
        info.lines()
            .filter(|l| l.contains(&d.dir.path().display().to_string()))
            .count(),
    );
    let db = rusqlite::Connection::open_with_flags(
        d.dir.path().join("root/db.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM ipam", [], |r| r.get(0))
        .unwrap();
    m.insert("ipam leases", n as usize);
    m
}

async fn cycle(d: &TestDaemon, a: &str, b: &str, i: usize) {
    let body = serde_json::json!({
        "image": "busybox",
        "command": ["sleep", "600"],
        "name": format!("leak{i}"),
        "netns": {"nsmode": "bridge"},
        "networks": {a: {}},
    });
    let r = d
        .req(
            "POST",
            "/v4.0.0/libpod/containers/create",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let r = d
        .req(
            "POST",
            &format!("/v4.0.0/libpod/containers/{id}/start"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = d
        .req(
            "POST",
            &format!("/v4.0.0/libpod/networks/{b}/connect"),
            Some(&serde_json::json!({"container": id}).to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = d
        .req(
            "DELETE",
            &format!("/v4.0.0/libpod/containers/{id}?force=true&timeout=0"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_cycles_leave_nothing_behind() {
    let d = TestDaemon::start().await;
    let (ok, out) = docker(&d, &["pull", "-q", "busybox"]).await;
    assert!(ok, "{out}");
    let pid = std::process::id();
    let (a, b) = (format!("leakA{pid}"), format!("leakB{pid}"));
    // A warm-up on a throw-away network first: netavark's own chains are made once per host.
    let warm = [format!("leakW{pid}"), format!("leakV{pid}")];
    for n in &warm {
        let (ok, out) = docker(&d, &["network", "create", "--internal", n]).await;
        assert!(ok, "{out}");
    }
    cycle(&d, &warm[0], &warm[1], 100_000).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in &warm {
        let (ok, out) = docker(&d, &["network", "rm", n]).await;
        assert!(ok, "{out}");
    }
    let before = census(&d);

    for n in [&a, &b] {
        let (ok, out) = docker(&d, &["network", "create", "--internal", n]).await;
        assert!(ok, "{out}");
    }
    // The census sees a running container's traces (so a leak would show).
    let (ok, out) = docker(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "probe",
            "--network",
            &a,
            "busybox",
            "sleep",
            "60",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let during = census(&d);
    for k in [
        "veth",
        "netns files",
        "nsfs mounts",
        "ipam leases",
        "mounts under the daemon's dir",
    ] {
        assert!(during[k] > before[k], "{k}: {during:?} vs {before:?}");
    }
    let (ok, out) = docker(&d, &["rm", "-f", "probe"]).await;
    assert!(ok, "{out}");
    let d = std::sync::Arc::new(d);
    let mut workers = Vec::new();
    for w in 0..2 {
        let (d, a, b) = (d.clone(), a.clone(), b.clone());
        workers.push(tokio::spawn(async move {
            for i in (w..CYCLES).step_by(2) {
                cycle(&d, &a, &b, i).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    // Removals finish in the background; then the networks go.
    let mut after = BTreeMap::new();
    for _ in 0..100 {
        let r = d.get("/v4.0.0/libpod/containers/json?all=true").await;
        if r.json().as_array().is_some_and(|a| a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in [&a, &b] {
        let (ok, out) = docker(&d, &["network", "rm", n]).await;
        assert!(ok, "{out}");
    }
    for _ in 0..100 {
        after = census(&d);
        if after == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(before, after, "left behind after {CYCLES} cycles");
}
