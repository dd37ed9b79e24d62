//! Volumes and secrets with real clients: the docker CLI's `volume create/ls/inspect/rm`,
//! data in a named volume outliving its container, `rm -v` of anonymous volumes, image
//! content copied into a new volume, a tmpfs volume mounted only while used; `podman
//! --url secret create`, `run --secret`, `secret rm`.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use tests::{docker, podman, TestDaemon};

async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let (ok, out) = docker(d, args).await;
    assert!(ok, "docker {args:?}: {out}");
    out
}

fn mounted(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(path))
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_cli_volumes() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    ok(&d, &["volume", "create", "--label", "k=v", "data1"]).await;
    let out = ok(&d, &["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]).await;
    assert!(out.lines().any(|l| l == "data1 local"), "{out}");
    let out = ok(&d, &["volume", "ls", "-q", "--filter", "label=k=v"]).await;
    assert_eq!(out.trim(), "data1");
    let out = ok(
        &d,
        &[
            "volume",
            "inspect",
            "data1",
            "--format",
            "{{.Mountpoint}} {{.Scope}} {{.Labels.k}}",
        ],
    )
    .await;
    let mountpoint = out.split_whitespace().next().unwrap().to_string();
    assert!(mountpoint.ends_with("/volumes/data1/_data"), "{out}");
    assert!(out.trim().ends_with("local v"), "{out}");

    // Data written by one container is there for the next after the first is gone.
    ok(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            "data1:/data",
            "busybox",
            "sh",
            "-c",
            "echo kept > /data/f",
        ],
    )
    .await;
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            "data1:/data",
            "busybox",
            "cat",
            "/data/f",
        ],
    )
    .await;
    assert_eq!(out.trim(), "kept");

    // In use: removal refused (409) while a container uses it, fine after.
    ok(
        &d,
        &[
            "create", "--name", "user1", "-v", "data1:/d", "busybox", "true",
        ],
    )
    .await;
    let (okr, out) = docker(&d, &["volume", "rm", "data1"]).await;
    assert!(!okr && out.contains("being used"), "{out}");
    ok(&d, &["rm", "user1"]).await;
    ok(&d, &["volume", "rm", "data1"]).await;
    assert!(!std::path::Path::new(&mountpoint).exists());

    // Anonymous volumes (`-v /path`): listed while the container exists, gone with `rm -v`.
    let before = ok(&d, &["volume", "ls", "-q"]).await.lines().count();
    ok(
        &d,
        &[
            "run",
            "--name",
            "anon",
            "-v",
            "/scratch",
            "busybox",
            "sh",
            "-c",
            "echo x > /scratch/f",
        ],
    )
    .await;
    let vols = ok(&d, &["volume", "ls", "-q"]).await;
    assert_eq!(vols.lines().count(), before + 1, "{vols}");
    ok(&d, &["rm", "-v", "anon"]).await;
    let vols = ok(&d, &["volume", "ls", "-q"]).await;
    assert_eq!(vols.lines().count(), before, "{vols}");

    // A new named volume gets the image's content at its mount point.
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            "etcvol:/etc",
            "busybox",
            "cat",
            "/etc/passwd",
        ],
    )
    .await;
    assert!(out.contains("root:"), "{out}");
    let out = ok(
        &d,
        &["volume", "inspect", "etcvol", "--format", "{{.Mountpoint}}"],
    )
    .await;
    assert!(std::path::Path::new(out.trim()).join("passwd").exists());

    // A tmpfs volume is mounted while a container uses it, not before or after.
    ok(
        &d,
        &[
            "volume",
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=size=2m",
            "tmp1",
        ],
    )
    .await;
    let mp = ok(
        &d,
        &["volume", "inspect", "tmp1", "--format", "{{.Mountpoint}}"],
    )
    .await;
    let mp = mp.trim().to_string();
    assert!(!mounted(&mp));
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            "tmp1:/t",
            "busybox",
            "sh",
            "-c",
            "df -k /t | tail -1",
        ],
    )
    .await;
    assert!(out.contains("2048"), "{out}");
    for _ in 0..50 {
        if !mounted(&mp) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !mounted(&mp),
        "tmpfs volume still mounted after its only user went"
    );
    ok(&d, &["volume", "rm", "tmp1", "etcvol"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_remote_secrets() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s");
    std::fs::write(&file, "s3cr3t-value").unwrap();
    let (okr, out) = podman(
        &d,
        &["secret", "create", "mysec", &file.display().to_string()],
    )
    .await;
    assert!(okr, "{out}");
    let (okr, out) = podman(&d, &["secret", "ls", "--format", "{{.Name}}"]).await;
    assert!(okr && out.lines().any(|l| l == "mysec"), "{out}");
    // Inspect never shows the data.
    let (okr, out) = podman(&d, &["secret", "inspect", "mysec"]).await;
    assert!(okr && !out.contains("s3cr3t-value"), "{out}");
    let (okr, out) = podman(
        &d,
        &[
            "run",
            "--rm",
            "--secret",
            "mysec",
            "busybox",
            "cat",
            "/run/secrets/mysec",
        ],
    )
    .await;
    assert!(okr && out.trim() == "s3cr3t-value", "{out}");
    let (okr, out) = podman(
        &d,
        &[
            "run",
            "--rm",
            "--secret",
            "mysec,type=env,target=MYSEC",
            "busybox",
            "sh",
            "-c",
            "echo $MYSEC",
        ],
    )
    .await;
    assert!(okr && out.trim() == "s3cr3t-value", "{out}");
    // Read-only in the container.
    let (okr, out) = podman(
        &d,
        &[
            "run",
            "--rm",
            "--secret",
            "mysec",
            "busybox",
            "sh",
            "-c",
            "echo x > /run/secrets/mysec",
        ],
    )
    .await;
    assert!(!okr, "{out}");
    let (okr, out) = podman(&d, &["secret", "rm", "mysec"]).await;
    assert!(okr, "{out}");
    let (okr, out) = podman(&d, &["secret", "ls", "--format", "{{.Name}}"]).await;
    assert!(okr && !out.contains("mysec"), "{out}");
    let (okr, _) = podman(&d, &["run", "--rm", "--secret", "mysec", "busybox", "true"]).await;
    assert!(!okr, "a removed secret cannot be used");
}
