//! Pods with `podman --url`: a pod publishing 127.0.0.1:P, a busybox httpd joining it and
//! answering on that port, `pod ps/top/stats/stop/start/rm -f`; members share the infra
//! container's network and UTS namespaces; the infra container cannot be removed alone.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::process::Command;
use std::time::Duration;

use tests::{podman, TestDaemon};

async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let (ok, out) = podman(d, args).await;
    assert!(ok, "podman {args:?}: {out}");
    out
}

async fn fetch(port: u16, want: &str) -> String {
    let mut body = String::new();
    for _ in 0..50 {
        let out = Command::new("curl")
            .args(["-fsS", "-m", "2", &format!("http://127.0.0.1:{port}/")])
            .output()
            .unwrap();
        body = String::from_utf8_lossy(&out.stdout).into_owned();
        if body.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_remote_pod_lifecycle() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let publish = format!("127.0.0.1:{port}:80");
    ok(&d, &["pod", "create", "--name", "web", "-p", &publish]).await;
    let out = ok(
        &d,
        &[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "web Created 1");
    ok(
        &d,
        &[
            "run",
            "-d",
            "--pod",
            "web",
            "--name",
            "httpd",
            "busybox",
            "sh",
            "-c",
            "echo from-pod > /tmp/index.html; exec httpd -f -p 80 -h /tmp",
        ],
    )
    .await;
    assert_eq!(fetch(port, "from-pod").await.trim(), "from-pod");
    let out = ok(
        &d,
        &[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "web Running 2");
    // The member has the pod's hostname (shared UTS namespace).
    let out = ok(&d, &["exec", "httpd", "hostname"]).await;
    assert_eq!(out.trim(), "web");
    let out = ok(&d, &["pod", "top", "web"]).await;
    assert!(
        out.contains("/catatonit -P") && out.contains("httpd -f -p 80"),
        "{out}"
    );
    let out = ok(&d, &["pod", "stats", "--no-stream", "web"]).await;
    assert!(out.contains("httpd") && out.contains("-infra"), "{out}");
    let infra = ok(
        &d,
        &["pod", "inspect", "web", "--format", "{{.InfraContainerID}}"],
    )
    .await;
    let (okr, out) = podman(&d, &["rm", "-f", infra.trim()]).await;
    assert!(!okr && out.contains("infra container"), "{out}");
    ok(&d, &["pod", "stop", "-t", "1", "web"]).await;
    let out = ok(&d, &["pod", "ps", "--format", "{{.Status}}"]).await;
    assert_eq!(out.trim(), "Exited");
    ok(&d, &["pod", "start", "web"]).await;
    assert_eq!(fetch(port, "from-pod").await.trim(), "from-pod");
    ok(&d, &["pod", "rm", "-f", "web"]).await;
    let out = ok(&d, &["pod", "ps", "-q"]).await;
    assert!(out.trim().is_empty(), "{out}");
    let out = ok(&d, &["ps", "-aq"]).await;
    assert!(out.trim().is_empty(), "{out}");
}
