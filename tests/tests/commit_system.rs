//! `docker commit` (changes, whiteouts), `docker system df`, `docker system prune -af
//! --volumes`, and `docker login` against a local registry with htpasswd authentication.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::process::Command;
use std::time::Duration;

use tests::{docker, TestDaemon};

async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let (ok, out) = docker(d, args).await;
    assert!(ok, "docker {args:?}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_commit_df_and_prune() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    ok(
        &d,
        &[
            "run",
            "--name",
            "src",
            "busybox",
            "sh",
            "-c",
            "echo committed > /made; rm /bin/vi",
        ],
    )
    .await;
    ok(
        &d,
        &[
            "commit",
            "-c",
            "CMD [\"cat\", \"/made\"]",
            "-c",
            "ENV FROM_COMMIT=yes",
            "src",
            "committed:1",
        ],
    )
    .await;
    let out = ok(&d, &["run", "--rm", "committed:1"]).await;
    assert_eq!(out.trim(), "committed");
    // The deletion is carried as a whiteout.
    let (okr, _) = docker(&d, &["run", "--rm", "committed:1", "ls", "/bin/vi"]).await;
    assert!(!okr, "/bin/vi came back");
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "committed:1",
            "sh",
            "-c",
            "echo $FROM_COMMIT",
        ],
    )
    .await;
    assert_eq!(out.trim(), "yes");
    let out = ok(
        &d,
        &["history", "committed:1", "--format", "{{.CreatedBy}}"],
    )
    .await;
    assert!(out.lines().count() >= 2, "{out}");

    ok(&d, &["volume", "create", "dfvol"]).await;
    let out = ok(&d, &["system", "df"]).await;
    assert!(
        out.contains("Images") && out.contains("Local Volumes"),
        "{out}"
    );
    let out = ok(&d, &["system", "df", "-v"]).await;
    assert!(out.contains("dfvol") && out.contains("committed"), "{out}");

    // Everything unused goes: the stopped container, both images, the volume.
    let out = ok(&d, &["system", "prune", "-af", "--volumes"]).await;
    assert!(out.contains("Total reclaimed space"), "{out}");
    let out = ok(&d, &["ps", "-aq"]).await;
    assert!(out.trim().is_empty(), "{out}");
    let out = ok(&d, &["images", "-q"]).await;
    assert!(out.trim().is_empty(), "{out}");
    let out = ok(&d, &["volume", "ls", "-q"]).await;
    assert!(out.trim().is_empty(), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_login_to_a_registry_with_htpasswd() {
    let d = TestDaemon::start().await;
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = Command::new("htpasswd")
        .args(["-Bbn", "tester", "s3cret"])
        .output()
        .unwrap();
    assert!(htpasswd.status.success());
    std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).unwrap();
    let port = tests::free_port();
    std::fs::write(
        dir.path().join("config.yml"),
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: test\n    path: {}\n",
            dir.path().join("data").display(),
            dir.path().join("htpasswd").display()
        ),
    )
    .unwrap();
    let mut registry = Command::new("docker-registry")
        .args([
            "serve",
            &dir.path().join("config.yml").display().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = format!("127.0.0.1:{port}");
    let login = |user: &str, pass: &str| {
        let (uri, cfg, server) = (d.uri(), dir.path().join("docker"), server.clone());
        let (user, pass) = (user.to_string(), pass.to_string());
        tokio::task::spawn_blocking(move || {
            Command::new("docker")
                .args(["login", &server, "-u", &user, "--password-stdin"])
                .env("DOCKER_HOST", uri)
                .env("DOCKER_CONFIG", cfg)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin.take().unwrap().write_all(pass.as_bytes())?;
                    c.wait_with_output()
                })
                .unwrap()
        })
    };
    let bad = login("tester", "wrong").await.unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("401 Unauthorized"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let good = login("tester", "s3cret").await.unwrap();
    let _ = registry.kill();
    let _ = registry.wait();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("Login Succeeded"));
}

/// `docker build` (legacy builder) of a multi-stage Dockerfile: ARG with `--build-arg`,
/// `COPY --from` a named stage, a local file, `.dockerignore`; a rebuild without changes
/// comes from the cache and gives the same image.
#[tokio::test(flavor = "multi_thread")]
async fn docker_build_multi_stage_and_cached_rebuild() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "ARG GREETING=hello\n\
         FROM busybox AS builder\n\
         ARG GREETING\n\
         RUN echo \"$GREETING from builder\" > /msg && mkdir /out && cp /msg /out/\n\
         FROM busybox\n\
         COPY --from=builder /out/msg /app/msg\n\
         COPY local.txt /app/\n\
         ENV APP=1\n\
         WORKDIR /app\n\
         CMD [\"sh\", \"-c\", \"cat msg local.txt; ls\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.path().join("local.txt"), "local-file\n").unwrap();
    std::fs::write(ctx.path().join("secret.txt"), "nope\n").unwrap();
    std::fs::write(ctx.path().join(".dockerignore"), "secret.txt\n").unwrap();
    let dir = ctx.path().display().to_string();
    let build = |d: &TestDaemon| {
        let (uri, dir) = (d.uri(), dir.clone());
        tokio::task::spawn_blocking(move || {
            Command::new("docker")
                .args([
                    "build",
                    "--build-arg",
                    "GREETING=hi",
                    "-t",
                    "mstage:1",
                    &dir,
                ])
                .env("DOCKER_HOST", uri)
                .env("DOCKER_BUILDKIT", "0")
                .output()
                .unwrap()
        })
    };
    let first = build(&d).await.unwrap();
    let out1 = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(
        first.status.success(),
        "{out1}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(out1.contains("Successfully tagged mstage:1"), "{out1}");
    let out = ok(&d, &["run", "--rm", "mstage:1"]).await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["hi from builder", "local-file", "local.txt", "msg"]
    );
    let id1 = ok(&d, &["image", "inspect", "mstage:1", "--format", "{{.Id}}"]).await;
    let second = build(&d).await.unwrap();
    let out2 = String::from_utf8_lossy(&second.stdout).to_string();
    assert!(second.status.success(), "{out2}");
    assert!(out2.contains("Using cache"), "{out2}");
    let id2 = ok(&d, &["image", "inspect", "mstage:1", "--format", "{{.Id}}"]).await;
    assert_eq!(id1, id2, "a cached rebuild gives the same image");
}
