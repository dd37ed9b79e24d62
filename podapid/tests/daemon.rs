//! The podapid binary itself: start-up, `kill -9` and restart, one daemon per root, the
//! idle timeout and systemd socket activation.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_podapid");

fn get(sock: &Path, path: &str) -> Option<String> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn wait_ping(sock: &Path) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if get(sock, "/_ping").is_some_and(|r| r.starts_with("HTTP/1.1 200") && r.ends_with("OK")) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, extra: &[&str]) -> (Daemon, PathBuf) {
    let sock = dir.join("podapid.sock");
    let child = Command::new(BIN)
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["service", &format!("unix://{}", sock.display())])
        .args(extra)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn podapid");
    (Daemon { child }, sock)
}

#[test]
fn version_flag() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("podapid version "), "{text}");
    assert!(text.contains("4.9.5"));
    // `podman system service` spelled both ways, with Podman's help wording.
    for args in [
        &["service", "--help"][..],
        &["system", "service", "--help"][..],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(help.contains("Run an API service"), "{help}");
        assert!(help.contains("-t, --time"), "{help}");
        assert!(help.contains("Examples:"), "{help}");
    }
}

/// `--log-format json`: one JSON object per request with its id, route template, status,
/// latency and, on the unix socket, the peer's uid and pid.
#[test]
fn json_request_logs_carry_the_peer() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("podapid.sock");
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let child = Command::new(BIN)
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--runroot")
        .arg(dir.path().join("run"))
        .args(["--log-format", "json", "--log-level", "info"])
        .args(["service", "-t", "0", &format!("unix://{}", sock.display())])
        .stderr(log)
        .spawn()
        .unwrap();
    let d = Daemon { child };
    assert!(wait_ping(&sock));
    let r = get(&sock, "/v1.41/containers/nope/json").unwrap();
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    drop(d);
    let text = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let line = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["route"] == "/containers/{name}/json")
        .unwrap_or_else(|| panic!("no JSON log line of the request in {text}"));
    let f = &line["fields"];
    assert_eq!(f["status"], 404);
    assert!(f["request_id"].is_string());
    assert!(f["latency_ms"].is_number());
    assert_eq!(f["peer_uid"], u64::from(nix::unistd::getuid().as_raw()));
    assert_eq!(f["peer_pid"], u64::from(std::process::id()));
}

#[test]
fn kill_9_then_restart_serves_again_with_state_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, sock) = start(dir.path(), &["-t", "0"]);
    assert!(wait_ping(&sock), "first start");
    let info = get(&sock, "/v4.0.0/libpod/info").unwrap();
    assert!(info.starts_with("HTTP/1.1 200"), "{info}");
    // Hard kill while a request may be in flight.
    let _ = UnixStream::connect(&sock)
        .map(|mut s| s.write_all(b"GET /v1.41/info HTTP/1.1\r\nHost: d\r\n\r\n"));
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    assert!(sock.exists(), "the stale socket file stays behind");
    let (_d2, sock2) = start(dir.path(), &["-t", "0"]);
    assert!(wait_ping(&sock2), "restart on the same socket");
    let info = get(&sock2, "/v4.0.0/libpod/info").unwrap();
    assert!(info.starts_with("HTTP/1.1 200"), "{info}");
    assert!(info.contains(&format!("{}", dir.path().join("root").display())));
    drop(_d2);
    // The database is consistent and at the current schema.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = engine::store::Db::open(&dir.path().join("root/db.sqlite")).unwrap();
        assert_eq!(db.count("containers").await.unwrap(), 0);
        let ok: String = db
            .read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(ok, "ok");
    });
}

#[test]
fn one_daemon_per_root() {
    let dir = tempfile::tempdir().unwrap();
    let (_d, sock) = start(dir.path(), &["-t", "0"]);
    assert!(wait_ping(&sock));
    let out = Command::new(BIN)
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--runroot")
        .arg(dir.path().join("run2"))
        .args([
            "service",
            &format!("unix://{}", dir.path().join("other.sock").display()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use by another podapid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn idle_timeout_exits_when_nothing_is_connected() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, sock) = start(dir.path(), &["-t", "1"]);
    assert!(wait_ping(&sock));
    let start = Instant::now();
    loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not exit on idle"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(start.elapsed() >= Duration::from_millis(500));
}

#[test]
fn systemd_socket_activation() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let fd = listener.as_raw_fd();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(r#"LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" --root "$1" --runroot "$2" service -t 0"#)
        .arg(BIN)
        .arg(dir.path().join("root"))
        .arg(dir.path().join("run"))
        .stderr(Stdio::null());
    // SAFETY: dup2 is async-signal-safe; it runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc_dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let _d = Daemon { child };
    assert!(
        wait_ping(&sock),
        "the activated daemon answers on the passed socket"
    );
}

/// systemd's own activation tool: it owns the socket, starts podapid on the first
/// connection with `LISTEN_FDS`, and the daemon answers on it. After the idle timeout the
/// daemon exits; the tool (like systemd) keeps the socket, so nothing is lost meanwhile.
#[test]
fn activated_by_systemd_socket_activate() {
    if Command::new("systemd-socket-activate")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-socket-activate not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("activated.sock");
    let child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&sock)
        .arg(BIN)
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--runroot")
        .arg(dir.path().join("run"))
        .args(["service", "-t", "0"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _d = Daemon { child };
    assert!(
        wait_ping(&sock),
        "the daemon started by systemd-socket-activate answers on its socket"
    );
    let info = get(&sock, "/v4.0.0/libpod/info").expect("info");
    assert!(
        info.contains("systemd-socket"),
        "info names the activated socket"
    );
}

/// The unit files in `contrib/systemd` pass `systemd-analyze verify` (with ExecStart
/// pointed at the binary under test).
#[test]
fn systemd_units_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze not installed: skipped");
        return;
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd");
    let dir = tempfile::tempdir().unwrap();
    for unit in ["podapid.socket", "podapid.service"] {
        let text = std::fs::read_to_string(src.join(unit)).unwrap();
        assert!(
            unit != "podapid.service" || text.contains("ExecStart=/usr/local/bin/podapid "),
            "the service runs the installed binary"
        );
        let text = text.replace("/usr/local/bin/podapid", BIN);
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("podapid.socket"))
        .arg(dir.path().join("podapid.service"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}

fn libc_dup2(from: i32, to: i32) -> i32 {
    // SAFETY: both are plain fds of this (child) process. dup2 clears CLOEXEC on `to`, except
    // when `from == to`, where it does nothing: then clear the flag by hand.
    unsafe {
        if from == to {
            nix::libc::fcntl(to, nix::libc::F_SETFD, 0)
        } else {
            nix::libc::dup2(from, to)
        }
    }
}

fn post(sock: &Path, path: &str) -> Option<String> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn registries_conf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/registries.conf")
}

fn start_with_registry(dir: &Path) -> (Daemon, PathBuf) {
    let sock = dir.join("podapid.sock");
    let child = Command::new(BIN)
        .env("CONTAINERS_REGISTRIES_CONF", registries_conf())
        .env(
            "CONTAINERS_CONF",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/containers.conf"),
        )
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["service", &format!("unix://{}", sock.display()), "-t", "0"])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn podapid");
    (Daemon { child }, sock)
}

/// Pulls killed with `kill -9` at different moments: after the restart nothing half-made is
/// visible (no temp files, no layer the database does not know), and pulling again gives a
/// complete image whose layers all unpacked.
#[cfg(feature = "images")]
#[test]
fn pull_killed_midway_then_retried_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    for delay_ms in [0u64, 3, 8, 15, 30, 60, 120] {
        let (mut d, sock) = start_with_registry(dir.path());
        assert!(wait_ping(&sock));
        let s2 = sock.clone();
        let puller =
            std::thread::spawn(move || post(&s2, "/v1.41/images/create?fromImage=busybox-layered"));
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.child.kill().unwrap();
        d.child.wait().unwrap();
        let _ = puller.join();
        let (d2, sock) = start_with_registry(dir.path());
        assert!(wait_ping(&sock));
        let storage = dir.path().join("root/storage");
        let tmp_left = std::fs::read_dir(storage.join("tmp")).unwrap().count();
        assert_eq!(
            tmp_left, 0,
            "temp files survived a restart (delay {delay_ms} ms)"
        );
        let r = post(&sock, "/v1.41/images/create?fromImage=busybox-layered").unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(!r.contains("\"error\""), "{r}");
        let inspect = get(&sock, "/v1.41/images/busybox-layered/json").unwrap();
        assert!(inspect.starts_with("HTTP/1.1 200"), "{inspect}");
        // Every layer the image lists is unpacked.
        let layers = std::fs::read_dir(storage.join("overlay"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "l")
            .filter(|e| e.as_ref().unwrap().path().join("diff").is_dir())
            .count();
        assert_eq!(layers, 3, "delay {delay_ms} ms");
        // Remove it again so the next round pulls from scratch.
        let mut s = UnixStream::connect(&sock).unwrap();
        write!(
            s,
            "DELETE /v1.41/images/busybox-layered HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        drop(d2);
    }
}

fn call(sock: &Path, method: &str, path: &str, body: &str) -> String {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Containers outlive a `kill -9` of the daemon (conmon keeps them). Five run, one exits
/// while the daemon is down, and one is being created and started at the moment of the kill:
/// after the restart the five are listed as running, the exit code of the one that ended is
/// recorded, and the one caught mid-way is either absent or whole (inspectable, startable,
/// removable) — never half there.
#[cfg(all(feature = "containers", feature = "images"))]
#[test]
fn containers_survive_kill_9_and_exits_meanwhile_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, sock) = start_with_registry(dir.path());
    assert!(wait_ping(&sock));
    let r = post(&sock, "/v1.41/images/create?fromImage=busybox").unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let mut specs: Vec<(String, &str)> = (0..5).map(|i| (format!("long{i}"), "sleep 60")).collect();
    specs.push(("quick".into(), "sleep 2; exit 4"));
    for (name, script) in &specs {
        let body = format!(r#"{{"Image":"busybox","Cmd":["sh","-c","{script}"]}}"#);
        let r = call(
            &sock,
            "POST",
            &format!("/v1.41/containers/create?name={name}"),
            &body,
        );
        assert!(r.starts_with("HTTP/1.1 201"), "{r}");
        let r = call(
            &sock,
            "POST",
            &format!("/v1.41/containers/{name}/start"),
            "",
        );
        assert!(r.starts_with("HTTP/1.1 204"), "{r}");
    }
    // One more, created and started while the daemon is killed.
    let s2 = sock.clone();
    let inflight = std::thread::spawn(move || {
        let body = r#"{"Image":"busybox","Cmd":["sleep","60"]}"#;
        let _ = std::panic::catch_unwind(|| {
            call(&s2, "POST", "/v1.41/containers/create?name=inflight", body);
            call(&s2, "POST", "/v1.41/containers/inflight/start", "");
        });
    });
    std::thread::sleep(Duration::from_millis(15));
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    let _ = inflight.join();
    std::thread::sleep(Duration::from_secs(3));
    let (_d2, sock) = start_with_registry(dir.path());
    assert!(wait_ping(&sock));
    let quick = call(&sock, "GET", "/v1.41/containers/quick/json", "");
    assert!(
        quick.contains(r#""Status":"exited""#) && quick.contains(r#""ExitCode":4"#),
        "{quick}"
    );
    let list = call(&sock, "GET", "/v1.41/containers/json", "");
    for i in 0..5 {
        assert!(
            list.contains(&format!("\"/long{i}\"")),
            "long{i} not running: {list}"
        );
        let one = call(&sock, "GET", &format!("/v1.41/containers/long{i}/json"), "");
        assert!(one.contains(r#""Status":"running""#), "{one}");
    }
    let all = call(&sock, "GET", "/v1.41/containers/json?all=1", "");
    let inflight = call(&sock, "GET", "/v1.41/containers/inflight/json", "");
    if all.contains("\"/inflight\"") {
        // Whole: it can be started (again) and removed.
        assert!(inflight.starts_with("HTTP/1.1 200"), "{inflight}");
        let r = call(&sock, "POST", "/v1.41/containers/inflight/start", "");
        assert!(
            r.starts_with("HTTP/1.1 204") || r.starts_with("HTTP/1.1 304"),
            "{r}"
        );
    } else {
        assert!(inflight.starts_with("HTTP/1.1 404"), "{inflight}");
    }
    for name in [
        "long0", "long1", "long2", "long3", "long4", "quick", "inflight",
    ] {
        let r = call(
            &sock,
            "DELETE",
            &format!("/v1.41/containers/{name}?force=true"),
            "",
        );
        assert!(
            r.starts_with("HTTP/1.1 204") || (name == "inflight" && r.starts_with("HTTP/1.1 404")),
            "{name}: {r}"
        );
    }
    let all = call(&sock, "GET", "/v1.41/containers/json?all=1", "");
    assert!(all.ends_with("[]\n") || all.ends_with("[]"), "{all}");
}
