//! Images against a real daemon and the local fixture registry (127.0.0.1:5000, set up by
//! `fixtures/setup.sh`): pulls with bollard, the docker CLI and podman, shared layers,
//! tag/push/save/load/rm/prune, and the error answers.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use futures::StreamExt;
use tests::{docker, podman, TestDaemon};

fn overlay_layers(d: &TestDaemon) -> usize {
    std::fs::read_dir(d.dir.path().join("root/storage/overlay"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "l")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn bollard_pull_list_inspect_tag_remove() {
    let d = TestDaemon::start().await;
    let docker = d.docker().negotiate_version().await.unwrap();
    let mut s = docker.create_image(
        Some(
            bollard::query_parameters::CreateImageOptionsBuilder::default()
                .from_image("busybox")
                .tag("latest")
                .build(),
        ),
        None,
        None,
    );
    let mut statuses = Vec::new();
    while let Some(item) = s.next().await {
        statuses.push(item.expect("pull progress").status.unwrap_or_default());
    }
    assert!(
        statuses.iter().any(|s| s == "Pull complete"),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s.starts_with("Digest: sha256:")),
        "{statuses:?}"
    );
    let list = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0].repo_tags,
        vec!["docker.io/library/busybox:latest".to_string()]
    );
    let img = docker.inspect_image("busybox").await.unwrap();
    assert_eq!(img.id.as_deref(), Some(list[0].id.as_str()));
    assert_eq!(img.os.as_deref(), Some("linux"));
    docker
        .tag_image(
            "busybox",
            Some(
                bollard::query_parameters::TagImageOptionsBuilder::default()
                    .repo("mine/bb")
                    .tag("v1")
                    .build(),
            ),
        )
        .await
        .unwrap();
    let img = docker.inspect_image("mine/bb:v1").await.unwrap();
    assert!(img
        .repo_tags
        .unwrap()
        .contains(&"docker.io/mine/bb:v1".to_string()));
    let r = docker
        .remove_image(
            "mine/bb:v1",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.len(), 1, "removing one of two names only untags");
    let r = docker
        .remove_image(
            "busybox",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
    assert!(r.iter().any(|x| x.deleted.is_some()));
    assert_eq!(overlay_layers(&d), 0, "the layer went with its last image");
}

#[tokio::test(flavor = "multi_thread")]
async fn layers_are_shared_between_images() {
    let d = TestDaemon::start().await;
    let (ok, out) = docker(&d, &["pull", "busybox"]).await;
    assert!(ok, "{out}");
    assert_eq!(overlay_layers(&d), 1);
    let (ok, out) = docker(&d, &["pull", "busybox-layered"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("Already exists"),
        "the base layer is reused:\n{out}"
    );
    assert_eq!(overlay_layers(&d), 3, "1 shared + 2 new layers");
    // The whiteout of layer three hides layer two's file in the image diff.
    let (ok, out) = podman(&d, &["image", "diff", "busybox-layered"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("D /data/b.txt") && out.contains("A /data/c.txt"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_cli_image_workflow() {
    let d = TestDaemon::start().await;
    let (ok, out) = docker(&d, &["pull", "alpine"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("Pull complete") && out.contains("Digest: sha256:"),
        "{out}"
    );
    let (ok, out) = docker(&d, &["images"]).await;
    assert!(ok && out.contains("alpine"), "{out}");
    let (ok, out) = docker(
        &d,
        &[
            "image",
            "inspect",
            "alpine",
            "--format",
            "{{.Os}}/{{.Architecture}}",
        ],
    )
    .await;
    assert!(ok && out.trim() == "linux/amd64", "{out}");
    let (ok, out) = docker(&d, &["history", "alpine"]).await;
    assert!(ok && out.contains("ADD file:"), "{out}");
    let unique = format!("127.0.0.1:5000/podapid-e2e/alpine:{}", std::process::id());
    let (ok, out) = docker(&d, &["tag", "alpine", &unique]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["push", &unique]).await;
    assert!(ok, "{out}");
    assert!(out.contains("digest: sha256:"), "{out}");
    // save | load round trip.
    let tar = d.dir.path().join("save.tar");
    let (ok, out) = docker(&d, &["save", "-o", tar.to_str().unwrap(), "alpine"]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["rmi", "alpine", &unique]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["load", "-i", tar.to_str().unwrap()]).await;
    assert!(
        ok && out.contains("Loaded image: docker.io/library/alpine:latest"),
        "{out}"
    );
    // Pull back what was pushed.
    let (ok, out) = docker(&d, &["pull", &unique]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["rmi", &unique]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["image", "prune", "-f"]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["rmi", "alpine"]).await;
    assert!(ok, "{out}");
    let (ok, out) = docker(&d, &["images", "-q"]).await;
    assert!(ok && out.trim().is_empty(), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_pulls_a_platform_from_an_index() {
    let d = TestDaemon::start().await;
    let (ok, out) = podman(
        &d,
        &[
            "pull",
            "--platform",
            "linux/arm64",
            "quay.io/libpod/testimage:20210610",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out) = podman(
        &d,
        &[
            "image",
            "inspect",
            "quay.io/libpod/testimage:20210610",
            "--format",
            "{{.Architecture}}",
        ],
    )
    .await;
    assert!(ok && out.trim() == "arm64", "{out}");
    let (ok, out) = podman(&d, &["images"]).await;
    assert!(ok && out.contains("quay.io/libpod/testimage"), "{out}");
    let (ok, out) = podman(&d, &["rmi", "quay.io/libpod/testimage:20210610"]).await;
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_errors_carry_the_registry_status() {
    let d = TestDaemon::start().await;
    let r = d
        .req(
            "POST",
            "/v1.41/images/create?fromImage=busybox:invalidtag123",
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("manifest unknown"));
    let r = d
        .req("POST", "/v1.41/images/create?fromImage=BAD/Name", None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.get("/v4.0.0/libpod/images/nonesuch/json").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["cause"], "image not known");
    let r = d.get("/v4.0.0/libpod/images/nonesuch/exists").await;
    assert_eq!(r.status, 404);
}
