//! Manifest lists with `podman --url`: create, add a local image, push `--all` to the local
//! registry, then pull the list back by platform.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use tests::{podman, TestDaemon};

async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let (ok, out) = podman(d, args).await;
    assert!(ok, "podman {args:?}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_remote_manifest_create_add_push_all() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    ok(&d, &["manifest", "create", "mylist"]).await;
    ok(
        &d,
        &[
            "manifest",
            "add",
            "mylist",
            "containers-storage:docker.io/library/busybox:latest",
        ],
    )
    .await;
    let out = ok(&d, &["manifest", "inspect", "mylist"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["manifests"][0]["platform"]["os"], "linux", "{out}");
    let dest = format!("127.0.0.1:5000/podapid-test/list{}:1", std::process::id());
    ok(
        &d,
        &[
            "manifest",
            "push",
            "--all",
            "--tls-verify=false",
            "mylist",
            &format!("docker://{dest}"),
        ],
    )
    .await;
    // The registry has an index whose one entry pulls by platform.
    let out = std::process::Command::new("curl")
        .args([
            "-fsS",
            "-H",
            "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json",
            &format!(
                "http://127.0.0.1:5000/v2/podapid-test/list{}/manifests/1",
                std::process::id()
            ),
        ])
        .output()
        .unwrap();
    let index: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
    ok(&d, &["rmi", "busybox"]).await;
    ok(&d, &["pull", "--platform", "linux/amd64", &dest]).await;
    ok(&d, &["manifest", "rm", "mylist"]).await;
}
