//! Real command-line clients against the daemon: the docker CLI (which negotiates API 1.41)
//! and podman in remote mode. CI installs both; they are part of the e2e set.
#![cfg(feature = "e2e")]

use std::process::Command;

use tests::{have, TestDaemon};

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("spawn the client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_cli_version_and_info() {
    assert!(
        have("docker"),
        "the docker CLI is needed (/usr/local/bin/docker)"
    );
    let d = TestDaemon::start().await;
    let uri = d.uri();
    let (ok, out) = tokio::task::spawn_blocking({
        let uri = uri.clone();
        move || {
            run(Command::new("docker")
                .arg("version")
                .env("DOCKER_HOST", uri))
        }
    })
    .await
    .unwrap();
    assert!(ok, "docker version failed:\n{out}");
    assert!(out.contains("API version:       1.41"), "{out}");
    assert!(out.contains("Podman Engine"), "{out}");
    let (ok, out) = tokio::task::spawn_blocking(move || {
        run(Command::new("docker").arg("info").env("DOCKER_HOST", uri))
    })
    .await
    .unwrap();
    assert!(ok, "docker info failed:\n{out}");
    assert!(out.contains("Server Version: 4.9.5"), "{out}");
    assert!(out.contains("Cgroup Driver: cgroupfs"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_remote_version_and_info() {
    assert!(
        have("podman"),
        "the podman client is needed (Debian package podman)"
    );
    let d = TestDaemon::start().await;
    let uri = d.uri();
    let (ok, out) = tokio::task::spawn_blocking({
        let uri = uri.clone();
        move || run(Command::new("podman").args(["--url", &uri, "version"]))
    })
    .await
    .unwrap();
    assert!(ok, "podman version failed:\n{out}");
    assert!(out.contains("4.9.5"), "{out}");
    let (ok, out) = tokio::task::spawn_blocking(move || {
        run(Command::new("podman").args(["--url", &uri, "info", "--format", "json"]))
    })
    .await
    .unwrap();
    assert!(ok, "podman info failed:\n{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("podman info JSON");
    assert_eq!(v["host"]["os"], "linux");
    assert_eq!(v["version"]["Version"], "4.9.5");
}
