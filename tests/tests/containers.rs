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

/// Runs the docker CLI and insists on success; its output.
async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let (ok, out) = docker(d, args).await;
    assert!(ok, "docker {args:?}: {out}");
    out
}

/// Exit code of a docker CLI run.
async fn code(d: &TestDaemon, args: &[&str]) -> Option<i32> {
    let uri = d.uri();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new("docker")
            .args(&args)
            .env("DOCKER_HOST", uri)
            .output()
            .unwrap()
            .status
            .code()
    })
    .await
    .unwrap()
}

/// `docker run` in the foreground: output through attach, the container's exit code, `--rm`.
#[tokio::test(flavor = "multi_thread")]
async fn docker_run_foreground_rm_and_exit_codes() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let out = ok(&d, &["run", "--rm", "busybox", "echo", "hi"]).await;
    assert_eq!(out, "hi\n");
    assert_eq!(
        code(&d, &["run", "--rm", "busybox", "sh", "-c", "exit 7"]).await,
        Some(7)
    );
    // Stdin with half-close: the output after stdin ended still arrives.
    let c = tests::docker_sh(
        &d,
        "echo hello | docker run -i --rm busybox sh -c 'sleep 0.3; cat; echo done'",
    )
    .await;
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&c.stdout),
        String::from_utf8_lossy(&c.stderr)
    );
    assert_eq!(out, "hello\ndone\n");
    // A TTY (`-it`) under a pseudo-terminal made by script(1).
    if tests::have("script") {
        let status = tests::docker_sh(
            &d,
            "printf 'tty; exit 3\\n' | script -eqc 'docker run -it --rm busybox sh' /dev/null",
        )
        .await;
        let text = String::from_utf8_lossy(&status.stdout).into_owned();
        assert_eq!(status.status.code(), Some(3), "{text}");
        assert!(text.contains("/dev/pts/0"), "{text}");
    }
    // --rm removed them all.
    let out = ok(&d, &["ps", "-aq"]).await;
    assert!(out.trim().is_empty(), "{out}");
}

/// The lifecycle verbs of the docker CLI on one long-running container.
#[tokio::test(flavor = "multi_thread")]
async fn docker_lifecycle_verbs() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let script = "trap 'echo got-term; exit 0' TERM; echo up; while true; do sleep 0.1; done";
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "v1",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "50",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    )
    .await;
    let id = ok(&d, &["inspect", "-f", "{{.Id}}", "v1"]).await;
    let id = id.trim();
    // Resource limits are in the container's cgroup (v1 hierarchies or the v2 unified tree).
    let cg = |v1: &str, v2: &str| {
        let p1 = format!("/sys/fs/cgroup/{v1}");
        let p2 = format!("/sys/fs/cgroup/libpod_parent/libpod-{id}/{v2}");
        std::fs::read_to_string(p1.replace("ID", id))
            .or_else(|_| std::fs::read_to_string(p2))
            .unwrap_or_default()
    };
    let mem = cg(
        "memory/libpod_parent/libpod-ID/memory.limit_in_bytes",
        "memory.max",
    );
    assert_eq!(mem.trim(), "67108864");
    let cpu = cg("cpu/libpod_parent/libpod-ID/cpu.cfs_quota_us", "cpu.max");
    assert!(cpu.trim().starts_with("50000"), "{cpu}");
    let pids = cg("pids/libpod_parent/libpod-ID/pids.max", "pids.max");
    assert_eq!(pids.trim(), "50");
    // top, stats, pause/unpause.
    let top = ok(&d, &["top", "v1"]).await;
    assert!(top.contains("PID") && top.contains("sh -c"), "{top}");
    let stats = ok(
        &d,
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}}",
            "v1",
        ],
    )
    .await;
    assert!(
        stats.starts_with("v1 ") && stats.contains("64MiB"),
        "{stats}"
    );
    ok(&d, &["pause", "v1"]).await;
    let st = ok(&d, &["inspect", "-f", "{{.State.Status}}", "v1"]).await;
    assert_eq!(st.trim(), "paused");
    ok(&d, &["unpause", "v1"]).await;
    // rename, restart (SIGTERM is handled: quick), ps filters.
    ok(&d, &["rename", "v1", "v2"]).await;
    let t = std::time::Instant::now();
    ok(&d, &["restart", "v2"]).await;
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    let out = ok(
        &d,
        &[
            "ps",
            "--filter",
            "name=v2",
            "--format",
            "{{.Names}} {{.State}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "v2 running");
    let out = ok(&d, &["ps", "-a", "--filter", "status=exited", "-q"]).await;
    assert!(out.trim().is_empty(), "{out}");
    // logs -f ends when the container stops; stop uses SIGTERM first.
    let uri = d.uri();
    let follower = tokio::task::spawn_blocking(move || {
        Command::new("docker")
            .args(["logs", "-f", "v2"])
            .env("DOCKER_HOST", uri)
            .output()
            .unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let t = std::time::Instant::now();
    ok(&d, &["stop", "v2"]).await;
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    let logs = follower.await.unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(logs.contains("up") && logs.contains("got-term"), "{logs}");
    let out = ok(&d, &["inspect", "-f", "{{.State.ExitCode}}", "v2"]).await;
    assert_eq!(out.trim(), "0");
    // kill and wait.
    ok(&d, &["start", "v2"]).await;
    ok(&d, &["kill", "v2"]).await;
    let out = ok(&d, &["wait", "v2"]).await;
    assert_eq!(out.trim(), "137");
    let out = ok(
        &d,
        &[
            "ps",
            "-a",
            "--filter",
            "exited=137",
            "--format",
            "{{.Names}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "v2");
    ok(&d, &["rm", "v2"]).await;
    // A process that ignores SIGTERM (PID 1 without a handler) is killed after the grace.
    ok(
        &d,
        &["run", "-d", "--name", "deaf", "busybox", "sleep", "100"],
    )
    .await;
    let t = std::time::Instant::now();
    ok(&d, &["stop", "-t", "1", "deaf"]).await;
    let took = t.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(900) && took < std::time::Duration::from_secs(6),
        "{took:?}"
    );
    let out = ok(&d, &["inspect", "-f", "{{.State.ExitCode}}", "deaf"]).await;
    assert_eq!(out.trim(), "137");
    let out = ok(&d, &["inspect", "-f", "{{.Config.StopTimeout}}", "deaf"]).await;
    assert_eq!(out.trim(), "10", "compat containers get the 10 s default");
    ok(&d, &["rm", "deaf"]).await;
}

/// diff, export, attach and the podman client's basic verbs.
#[tokio::test(flavor = "multi_thread")]
async fn docker_diff_export_attach_and_podman_remote() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    ok(
        &d,
        &[
            "run",
            "--name",
            "f1",
            "busybox",
            "sh",
            "-c",
            "echo x > /made-here; rm /bin/vi",
        ],
    )
    .await;
    let diff = ok(&d, &["diff", "f1"]).await;
    assert!(
        diff.contains("A /made-here") && diff.contains("D /bin/vi"),
        "{diff}"
    );
    let listing = tests::docker_sh(&d, "docker export f1 | tar t").await;
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        listing.contains("made-here") && listing.contains("bin/sh"),
        "{listing}"
    );
    // attach to a running container sees its new output.
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "a1",
            "busybox",
            "sh",
            "-c",
            "sleep 1; echo late; sleep 30",
        ],
    )
    .await;
    let uri = d.uri();
    let attached = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "3",
                "docker",
                "attach",
                "--sig-proxy=false",
                "--no-stdin",
                "a1",
            ])
            .env("DOCKER_HOST", uri)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&attached.stdout).contains("late"));
    ok(&d, &["rm", "-f", "a1", "f1"]).await;
    if !tests::have("podman") {
        return;
    }
    let (okp, out) = tests::podman(&d, &["run", "--rm", "busybox", "echo", "from-podman"]).await;
    assert!(okp && out.contains("from-podman"), "{out}");
    let (okp, out) = tests::podman(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "p1",
            "busybox",
            "sh",
            "-c",
            "echo p-out; sleep 30",
        ],
    )
    .await;
    assert!(okp, "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (okp, out) = tests::podman(&d, &["logs", "p1"]).await;
    assert!(okp && out.contains("p-out"), "{out}");
    let (okp, out) = tests::podman(&d, &["stop", "-t", "1", "p1"]).await;
    assert!(okp, "{out}");
    let (okp, out) = tests::podman(&d, &["ps", "-a"]).await;
    assert!(okp && out.contains("p1") && out.contains("Exited"), "{out}");
    let (okp, out) = tests::podman(&d, &["rm", "p1"]).await;
    assert!(okp, "{out}");
}

/// Restart policies, `--init` (catatonit as PID 1) and a published port on the default bridge
/// network, reached from the host over 127.0.0.1 only.
#[tokio::test(flavor = "multi_thread")]
async fn restart_policy_init_and_published_port() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "r1",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "exit 1",
        ],
    )
    .await;
    let mut restarts = String::new();
    for _ in 0..100 {
        restarts = ok(
            &d,
            &["inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "r1"],
        )
        .await;
        if restarts.trim() == "2 exited" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(restarts.trim(), "2 exited");
    ok(&d, &["rm", "r1"]).await;
    if std::path::Path::new("/usr/bin/catatonit").exists() {
        let out = ok(
            &d,
            &["run", "--rm", "--init", "busybox", "cat", "/proc/1/cmdline"],
        )
        .await;
        assert!(out.starts_with("/run/podman-init"), "{out:?}");
    }
    // A published port: busybox httpd in the container, the host fetches through 127.0.0.1.
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            "127.0.0.1::80",
            "busybox",
            "sh",
            "-c",
            "mkdir /www && echo served > /www/index.html && httpd -f -p 80 -h /www",
        ],
    )
    .await;
    let port = ok(&d, &["port", "web", "80/tcp"]).await;
    let port = port.trim().rsplit(':').next().unwrap().to_string();
    assert!(port.parse::<u16>().is_ok(), "{port}");
    let body = tests::http_get_until(port.parse().unwrap(), "served").await;
    assert_eq!(body.trim(), "served");
    ok(&d, &["rm", "-f", "web"]).await;
}

/// `docker exec`: output, exit codes, piped stdin, a TTY, user/workdir/env, detached.
#[tokio::test(flavor = "multi_thread")]
async fn docker_exec() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "x1",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    )
    .await;
    assert_eq!(
        ok(&d, &["exec", "x1", "echo", "exec-out"]).await,
        "exec-out\n"
    );
    assert_eq!(
        code(&d, &["exec", "x1", "sh", "-c", "exit 5"]).await,
        Some(5)
    );
    let piped = tests::docker_sh(&d, "echo hi | docker exec -i x1 cat").await;
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "hi\n");
    let out = ok(
        &d,
        &[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "FOO=bar",
            "x1",
            "sh",
            "-c",
            "id -u; pwd; echo $FOO",
        ],
    )
    .await;
    assert_eq!(out, "65534\n/tmp\nbar\n");
    if tests::have("script") {
        let st = tests::docker_sh(
            &d,
            "printf 'tty; exit 4\\n' | script -eqc 'docker exec -it x1 sh' /dev/null",
        )
        .await;
        assert_eq!(st.status.code(), Some(4));
        assert!(String::from_utf8_lossy(&st.stdout).contains("/dev/pts/"));
    }
    ok(&d, &["exec", "-d", "x1", "sh", "-c", "touch /tmp/detached"]).await;
    let mut seen = String::new();
    for _ in 0..50 {
        seen = ok(&d, &["exec", "x1", "ls", "/tmp"]).await;
        if seen.contains("detached") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen.contains("detached"), "{seen}");
    // Not running: 409.
    ok(&d, &["stop", "-t", "0", "x1"]).await;
    let (okx, out) = docker(&d, &["exec", "x1", "true"]).await;
    assert!(!okx && out.contains("not running"), "{out}");
    ok(&d, &["rm", "x1"]).await;
}

/// `docker cp` both ways: a directory in, a file out through a symlink, a stopped container.
#[tokio::test(flavor = "multi_thread")]
async fn docker_cp_both_ways() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("dir");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "one\n").unwrap();
    std::fs::write(src.join("sub/b.txt"), "two\n").unwrap();
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "cp1",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "ln -s /etc /linketc; sleep 300",
        ],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let src_s = src.display().to_string();
    ok(&d, &["cp", &src_s, "cp1:/tmp/"]).await;
    assert_eq!(
        ok(&d, &["exec", "cp1", "cat", "/tmp/dir/sub/b.txt"]).await,
        "two\n"
    );
    let out = t.path().join("hostname");
    let out_s = out.display().to_string();
    ok(&d, &["cp", "cp1:/linketc/hostname", &out_s]).await;
    let hn = std::fs::read_to_string(&out).unwrap();
    let id = ok(&d, &["inspect", "-f", "{{.Id}}", "cp1"]).await;
    assert_eq!(hn.trim(), &id.trim()[..12]);
    let back = t.path().join("back");
    let back_s = back.display().to_string();
    ok(&d, &["cp", "cp1:/tmp/dir", &back_s]).await;
    assert_eq!(
        std::fs::read_to_string(back.join("a.txt")).unwrap(),
        "one\n"
    );
    // A stopped container is copied to and from through its mounted overlay.
    ok(&d, &["stop", "-t", "0", "cp1"]).await;
    let a_s = src.join("a.txt").display().to_string();
    ok(&d, &["cp", &a_s, "cp1:/copied.txt"]).await;
    ok(&d, &["start", "cp1"]).await;
    assert_eq!(
        ok(&d, &["exec", "cp1", "cat", "/copied.txt"]).await,
        "one\n"
    );
    let (okc, outc) = docker(&d, &["cp", "cp1:/does/not/exist", &out_s]).await;
    assert!(!okc && outc.to_lowercase().contains("no such"), "{outc}");
    ok(&d, &["rm", "-f", "cp1"]).await;
}

/// A `--health-cmd` container turns `healthy`, then `unhealthy` when its check fails; the
/// `health=` filter and `health_status` events follow.
#[tokio::test(flavor = "multi_thread")]
async fn healthchecks_run_by_the_daemon() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "h1",
            "--network",
            "none",
            "--health-cmd",
            "test -e /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
            "busybox",
            "sh",
            "-c",
            "touch /tmp/ok; sleep 300",
        ],
    )
    .await;
    let wait_for = |want: &'static str| {
        let d = &d;
        async move {
            let mut last = String::new();
            for _ in 0..80 {
                last = ok(d, &["ps", "--format", "{{.Status}}", "--filter", "name=h1"]).await;
                if last.contains(want) {
                    return last;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("never {want}: {last}");
        }
    };
    wait_for("(healthy)").await;
    ok(&d, &["exec", "h1", "rm", "/tmp/ok"]).await;
    wait_for("(unhealthy)").await;
    let out = ok(&d, &["ps", "-q", "--filter", "health=unhealthy"]).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    let out = ok(
        &d,
        &[
            "events",
            "--since",
            "1m",
            "--until",
            "0s",
            "--filter",
            "event=health_status",
            "--format",
            "{{.Status}}",
        ],
    )
    .await;
    assert!(out.contains("health_status"), "{out}");
    ok(&d, &["rm", "-f", "h1"]).await;
}

/// `docker events` live during a `run --rm`, and with `--since/--until` afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn docker_events_live_and_past() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let uri = d.uri();
    let live = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args([
                "4",
                "docker",
                "events",
                "--filter",
                "type=container",
                "--format",
                "{{.Action}}",
            ])
            .env("DOCKER_HOST", uri)
            .output()
            .unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    ok(&d, &["run", "--rm", "--network", "none", "busybox", "true"]).await;
    let live = String::from_utf8_lossy(&live.await.unwrap().stdout).into_owned();
    for want in ["create", "attach", "start", "die", "destroy"] {
        assert!(live.lines().any(|l| l == want), "{want} in {live}");
    }
    let past = ok(
        &d,
        &[
            "events",
            "--since",
            "30s",
            "--until",
            "0s",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}}",
        ],
    )
    .await;
    assert!(
        past.contains("destroy") && past.contains("create"),
        "{past}"
    );
}

/// A user network (internal: no way out of the machine): containers on it reach each other
/// by name through aardvark-dns; removing the network removes its bridge.
#[tokio::test(flavor = "multi_thread")]
async fn user_network_with_name_resolution() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let net = format!("tnet{}", std::process::id());
    ok(&d, &["network", "create", "--internal", &net]).await;
    let r = d.get(&format!("/v4.9.5/libpod/networks/{net}/json")).await;
    let bridge = r.json()["network_interface"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(bridge.starts_with("podman"), "{bridge}");
    let out = ok(&d, &["network", "ls", "--format", "{{.Name}}"]).await;
    assert!(out.lines().any(|l| l == net), "{out}");
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "srv",
            "--network",
            &net,
            "busybox",
            "sh",
            "-c",
            "echo from-srv > /tmp/x; httpd -f -p 80 -h /tmp",
        ],
    )
    .await;
    let mut got = String::new();
    for _ in 0..20 {
        let (okr, out) = docker(
            &d,
            &[
                "run",
                "--rm",
                "--network",
                &net,
                "busybox",
                "wget",
                "-qO-",
                "http://srv/x",
            ],
        )
        .await;
        got = out;
        if okr && got.contains("from-srv") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(got.contains("from-srv"), "{got}");
    // A running container on the default network joins the user network, then leaves it.
    ok(
        &d,
        &["run", "-d", "--name", "cli", "busybox", "sleep", "300"],
    )
    .await;
    ok(&d, &["network", "connect", &net, "cli"]).await;
    let out = ok(&d, &["exec", "cli", "wget", "-qO-", "http://srv/x"]).await;
    assert!(out.contains("from-srv"), "{out}");
    ok(&d, &["network", "disconnect", &net, "cli"]).await;
    let out = ok(&d, &["exec", "cli", "ip", "addr"]).await;
    assert!(!out.contains("eth1"), "{out}");
    ok(&d, &["rm", "-f", "cli"]).await;
    let (okr, out) = docker(&d, &["network", "rm", &net]).await;
    assert!(!okr && out.contains("being used"), "{out}");
    ok(&d, &["rm", "-f", "srv"]).await;
    ok(&d, &["network", "rm", &net]).await;
    assert!(!std::path::Path::new("/sys/class/net")
        .join(&bridge)
        .exists());
}

/// `-p 127.0.0.1:PORT:80` with a chosen port reaches a busybox httpd; `docker port` and
/// `ps` show it; a dual-stack internal network gives containers an IPv6 address too.
#[tokio::test(flavor = "multi_thread")]
async fn fixed_host_port_and_ipv6_network() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let port = tests::free_port();
    let publish = format!("127.0.0.1:{port}:80");
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "web2",
            "-p",
            &publish,
            "busybox",
            "sh",
            "-c",
            "mkdir /www && echo fixed > /www/index.html && httpd -f -p 80 -h /www",
        ],
    )
    .await;
    let out = ok(&d, &["port", "web2"]).await;
    assert_eq!(out.trim(), format!("80/tcp -> 127.0.0.1:{port}"));
    let out = ok(
        &d,
        &["ps", "--filter", "name=web2", "--format", "{{.Ports}}"],
    )
    .await;
    assert_eq!(out.trim(), format!("127.0.0.1:{port}->80/tcp"));
    let body = tests::http_get_until(port, "fixed").await;
    assert_eq!(body.trim(), "fixed");
    ok(&d, &["rm", "-f", "web2"]).await;

    let net = format!("v6net{}", std::process::id());
    ok(
        &d,
        &[
            "network",
            "create",
            "--internal",
            "--ipv6",
            "--subnet",
            "fd00:5:6::/64",
            &net,
        ],
    )
    .await;
    let out = ok(
        &d,
        &[
            "network",
            "inspect",
            &net,
            "--format",
            "{{json .IPAM.Config}}",
        ],
    )
    .await;
    assert!(out.contains("\"Gateway\":\"fd00:5:6::1\""), "{out}");
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "six",
            "--network",
            &net,
            "busybox",
            "sleep",
            "60",
        ],
    )
    .await;
    let out = ok(
        &d,
        &[
            "inspect",
            "six",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}}{{end}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "fd00:5:6::2/64");
    let out = ok(&d, &["exec", "six", "ip", "-6", "addr", "show", "eth0"]).await;
    assert!(out.contains("fd00:5:6::2/64"), "{out}");
    ok(&d, &["rm", "-f", "six"]).await;
    ok(&d, &["network", "rm", &net]).await;

    // macvlan on a parent of the test's own (one end of a veth pair), leases from IPRange.
    let parent = format!("pmv{}", std::process::id() % 100_000);
    let ip = |args: &[&str]| {
        let st = Command::new("ip").args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    ip(&[
        "link",
        "add",
        &parent,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{parent}p"),
    ]);
    ip(&["link", "set", &parent, "up"]);
    let mv = format!("mv{}", std::process::id());
    ok(
        &d,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.77.0.0/24",
            "--ip-range",
            "10.77.0.128/25",
            "-o",
            &format!("parent={parent}"),
            &mv,
        ],
    )
    .await;
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            &mv,
            "busybox",
            "ip",
            "-o",
            "addr",
            "show",
            "eth0",
        ],
    )
    .await;
    assert!(out.contains("inet 10.77.0.129/24"), "{out}");
    ok(&d, &["network", "rm", &mv]).await;
    ip(&["link", "del", &parent]);
}
