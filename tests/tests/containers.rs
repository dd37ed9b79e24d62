//! The first container routes with the docker CLI: `run -d`, `logs`, `wait`, `inspect`,
//! `ps -a`, `rm` (attach, stop, kill and the rest arrive with #4).
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::process::Command;

use tests::{docker, TestDaemon};

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_detached_logs_wait_rm() {
    let d = TestDaemon::start().await;
    let (ok, out) = docker(&d, &["pull", "-q", "busybox"]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "c1",
            "busybox",
            "sh",
            "-c",
            "echo to-out; echo to-err >&2; exit 5",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["wait", "c1"]).await;
    assert!(ok && out.trim() == "5", "{out}");
    let uri = d.uri();
    let logs = tokio::task::spawn_blocking(move || {
        Command::new("docker")
            .args(["logs", "c1"])
            .env("DOCKER_HOST", uri)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "to-out\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "to-err\n");
    let (ok, out) = docker(
        &d,
        &[
            "inspect",
            "c1",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
        ],
    )
    .await;
    assert!(ok && out.trim() == "exited 5", "{out}");
    let (ok, out) = docker(&d, &["ps", "-a"]).await;
    assert!(ok && out.contains("Exited (5)"), "{out}");
    // Names are unique; removal frees the name.
    let (ok, out) = docker(&d, &["create", "--name", "c1", "busybox", "true"]).await;
    assert!(!ok && out.contains("already in use"), "{out}");
    let (ok, out) = docker(&d, &["rm", "c1"]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["ps", "-aq"]).await;
    assert!(ok && out.trim().is_empty(), "{out}");
    let (ok, out) = docker(&d, &["rm", "c1"]).await;
    assert!(!ok && out.contains("no such container"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn libpod_create_start_wait_remove() {
    let d = TestDaemon::start().await;
    let r = d
        .req(
            "POST",
            "/v4.0.0/libpod/images/pull?reference=busybox&quiet=true",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = d
        .req(
            "POST",
            "/v4.0.0/libpod/containers/create",
            Some(r#"{"image":"busybox","name":"lp","command":["sh","-c","test \"$A\" = 1 && exit 2"],"env":{"A":"1"}}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = d
        .req("POST", "/v4.0.0/libpod/containers/lp/start", None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = d
        .req("POST", "/v4.0.0/libpod/containers/lp/wait", None)
        .await;
    assert_eq!(r.text(), "2");
    let r = d.req("DELETE", "/v4.0.0/libpod/containers/lp", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["Err"], serde_json::Value::Null);
    let r = d
        .req(
            "POST",
            "/v4.0.0/libpod/containers/create",
            Some("{not json"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(d.get("/v4.0.0/libpod/containers/create").await.status, 405);
}
