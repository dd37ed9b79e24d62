//! Reliability of the podapid binary: `kill -9` at random moments, concurrency, soak.
//!
//! * **Crash** (`crash_during_*`): while the daemon serves a container create, start, image
//!   pull, commit, forced removal or network connect, it is killed with `SIGKILL` after a
//!   random delay. Then the state database is checked (`PRAGMA integrity_check`, foreign
//!   keys, container name rows, IPAM leases of no container), the daemon is restarted on the
//!   same root and: every listed container and image inspects, the containers that ran
//!   before the kill still run (same pid, alive), nothing half-pulled is left in the image
//!   store (`storage/tmp` empty, every unpacked layer recorded and every recorded layer
//!   unpacked), and the object caught mid-way is absent or whole (it inspects, starts or
//!   runs, and removes) — and present if the request was acknowledged before the kill,
//!   absent if a removal was. At the end everything is removed, the daemon stopped, and a
//!   census of the host (mounts under the test's directory, network namespace files,
//!   container directories, conmon processes, files in the daemon's `TMPDIR`, veths and
//!   bridges of the test's networks, `iptables-save` lines naming its bridges or subnets,
//!   IPAM leases, pending clean-ups) must equal the one taken before the test.
//! * **Concurrency** (`concurrent_*`): create/start/stop/rm on different containers, the
//!   verbs racing on one container, pulls of one image and of different tags, many at a
//!   time: no answer is a 5xx, none takes over 120 s, no container is lost (every created
//!   one not removed is listed) or comes back (every removed one is gone, no conmon of it
//!   lives on), and the daemon still answers.
//! * **Soak** (`soak_*`): `docker run --rm` cycles (create with `AutoRemove`, wait for the
//!   removal, start) and exec cycles (create, start attached, read the output, inspect the
//!   exit code). The daemon's open fds, tasks, RSS, the mounts under its root and the
//!   conmon processes are sampled after a warm-up and at the end and must be flat.
//!
//! Sizes: the default is short, for CI (sized to run in under 3 minutes on 2 cores);
//! `PODAPID_STRESS=long` selects the sizes the "Prove it" issue asks for:
//!
//! | | short (default) | `PODAPID_STRESS=long` |
//! |---|---|---|
//! | kills per crash test (6 tests) | 3 | 25 |
//! | concurrent requests | 24 | 50 |
//! | rounds of verbs racing on one container | 2 | 10 |
//! | soak cycles, each of `run --rm` and exec | 40 (+5 warm-up) | 1000 (+20 warm-up) |
//! | RSS growth allowed over a soak | 8 MiB | 16 MiB |
//! | fds, tasks above the warm-up sample | 4, 4 | 4, 4 |
//!
//! Mounts under the root and conmon processes must come back exactly to the warm-up sample.
//!
//! The kill delays come from a xorshift generator seeded from the clock, or from
//! `PODAPID_STRESS_SEED=<u64>`; every test prints the seed when it starts and again, with
//! the tail of its daemon's log, when it fails.
//!
//! Containers never reach outside the machine: network mode `none`, or internal networks
//! (the connect test); nothing is published. Each daemon reads a containers.conf of its
//! own (`CONTAINERS_CONF`) naming a default network, subnet (10.92.X.0/24) and subnet pool
//! (10.93.X.0/24) no other daemon uses. Needs root, runc, conmon, netavark and the fixture
//! registry on 127.0.0.1:5000 (`fixtures/registry.sh start && fixtures/registry.sh push`).
#![cfg(all(feature = "containers", feature = "images", feature = "networks"))]
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_podapid");
/// The longest any one request may take before the test calls it hung.
const REQ_TIMEOUT: Duration = Duration::from_secs(120);
/// Soak: how many open fds the daemon may end with above its warm-up sample.
const FD_SLACK: usize = 4;
/// Soak: how many tasks (threads) the daemon may end with above its warm-up sample.
const TASK_SLACK: usize = 4;

// ------------------------------------------------------------------ sizes and seeds

/// How big each kind of test is.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// `kill -9` rounds per crash test.
    kills: usize,
    /// Concurrent requests (threads) in the concurrency tests.
    width: usize,
    /// Rounds of verbs racing on one container.
    same_rounds: usize,
    /// Soak cycles (each of `run --rm` and exec).
    soak: usize,
    /// Soak cycles before the baseline sample.
    warmup: usize,
    /// How much the daemon's RSS may grow over a soak, in KiB.
    rss_slack_kib: u64,
}

fn sizes() -> Sizes {
    if std::env::var("PODAPID_STRESS").is_ok_and(|v| v == "long") {
        Sizes {
            kills: 25,
            width: 50,
            same_rounds: 10,
            soak: 1000,
            warmup: 20,
            rss_slack_kib: 16 * 1024,
        }
    } else {
        Sizes {
            kills: 3,
            width: 24,
            same_rounds: 2,
            soak: 40,
            warmup: 5,
            rss_slack_kib: 8 * 1024,
        }
    }
}

/// The run's seed: `PODAPID_STRESS_SEED`, else from the clock and the pid.
fn base_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        std::env::var("PODAPID_STRESS_SEED")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                nanos ^ (u64::from(std::process::id()) << 32)
            })
    })
}

/// xorshift64, one stream per test derived from the run's seed and the test's name.
struct Rng(u64);

impl Rng {
    fn for_test(test: &str) -> Rng {
        let mut h = base_seed() ^ 0xcbf2_9ce4_8422_2325;
        for b in test.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

// ------------------------------------------------------------------ HTTP over the unix socket

/// An answer read whole (chunked bodies decoded).
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or as a JSON string when it is not JSON.
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads what is there into `buf` (0 at the end of the stream); an error past `deadline`.
fn read_more(
    s: &mut UnixStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    what: &str,
) -> Result<usize, String> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "{what}: no complete answer within {REQ_TIMEOUT:?} (hung)"
            ));
        }
        s.set_read_timeout(Some(left))
            .map_err(|e| format!("{what}: {e}"))?;
        match s.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("{what}: reading the answer: {e}")),
        }
    }
}

/// A chunked body decoded, or `None` while its last chunk has not arrived.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let i = find(b, b"\r\n")?;
        let line = std::str::from_utf8(&b[..i]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        b = &b[i + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A request whose answer's status line and headers have arrived; the body has not.
struct Pending {
    stream: UnixStream,
    what: String,
    deadline: Instant,
    status: u16,
    chunked: bool,
    length: Option<usize>,
    buf: Vec<u8>,
}

/// Sends one request (`Connection: close`) and reads the answer's head.
fn begin(sock: &Path, method: &str, path: &str, body: &str) -> Result<Pending, String> {
    let what = format!("{method} {path}");
    let deadline = Instant::now() + REQ_TIMEOUT;
    let mut stream = UnixStream::connect(sock)
        .map_err(|e| format!("{what}: connecting to {}: {e}", sock.display()))?;
    stream
        .set_write_timeout(Some(REQ_TIMEOUT))
        .map_err(|e| format!("{what}: {e}"))?;
    let len = body.len();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}"
    );
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("{what}: sending: {e}"))?;
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if read_more(&mut stream, &mut buf, deadline, &what)? == 0 {
            return Err(format!(
                "{what}: the connection closed before an answer ({} bytes)",
                buf.len()
            ));
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let rest = buf.split_off(end + 4);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("{what}: not an HTTP answer: {head:?}"))?;
    let (mut chunked, mut length) = (false, None);
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            }
        }
    }
    Ok(Pending {
        stream,
        what,
        deadline,
        status,
        chunked,
        length,
        buf: rest,
    })
}

impl Pending {
    /// Reads the body: to its length, else to the end of the stream; chunked bodies are
    /// decoded and must be complete.
    fn finish(mut self) -> Result<Reply, String> {
        loop {
            if let Some(n) = self.length.filter(|_| !self.chunked) {
                if self.buf.len() >= n {
                    self.buf.truncate(n);
                    break;
                }
            }
            if read_more(&mut self.stream, &mut self.buf, self.deadline, &self.what)? == 0 {
                break;
            }
        }
        let body = if self.chunked {
            dechunk(&self.buf).ok_or_else(|| {
                format!(
                    "{}: the chunked body was cut off after {} bytes",
                    self.what,
                    self.buf.len()
                )
            })?
        } else {
            if let Some(n) = self.length {
                if self.buf.len() < n {
                    return Err(format!(
                        "{}: the body was cut off at {} of {n} bytes",
                        self.what,
                        self.buf.len()
                    ));
                }
            }
            self.buf
        };
        Ok(Reply {
            status: self.status,
            body,
        })
    }
}

/// A client of one daemon's socket.
#[derive(Clone)]
struct Client {
    sock: PathBuf,
}

impl Client {
    /// One request; `Err` when there is no complete answer (refused, cut off, hung).
    fn req(&self, method: &str, path: &str, body: &str) -> Result<Reply, String> {
        begin(&self.sock, method, path, body)?.finish()
    }

    /// One request that must be answered, and not with a 5xx.
    fn reply(&self, method: &str, path: &str, body: &str) -> Reply {
        let r = self
            .req(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.status < 500,
            "{method} {path} answered {}: {}",
            r.status,
            r.text()
        );
        r
    }

    /// `(status, body)` of a request that must be answered, and not with a 5xx.
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let r = self.reply(method, path, body);
        (r.status, r.text())
    }

    fn json(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let r = self.reply(method, path, body);
        (r.status, r.json())
    }

    fn get_json(&self, path: &str) -> (u16, Value) {
        self.json("GET", path, "")
    }

    fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.json("POST", path, &body.to_string())
    }
}

/// Docker's multiplexed stream split into (stdout, stderr).
fn demux(mut b: &[u8]) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while b.len() >= 8 {
        let n = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let end = (8 + n).min(b.len());
        match b[0] {
            2 => err.extend_from_slice(&b[8..end]),
            _ => out.extend_from_slice(&b[8..end]),
        }
        b = &b[end..];
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn outcome(a: &Result<Reply, String>) -> String {
    match a {
        Ok(r) => format!("answered {} {}", r.status, short(&r.text())),
        Err(e) => format!("no answer ({e})"),
    }
}

fn short(s: &str) -> String {
    s.chars().take(240).collect::<String>().replace('\n', " ")
}

// ------------------------------------------------------------------ the daemon under test

fn registries_conf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/registries.conf")
}

/// One daemon's directory (root, runroot, socket, containers.conf, log, TMPDIR) and
/// process.
struct Env {
    name: &'static str,
    dir: tempfile::TempDir,
    /// Unique among this process's daemons; part of every host-wide name they make.
    tag: String,
    /// Unique among this process's daemons: the third octet of their subnets.
    x: u32,
    conf: PathBuf,
    client: Client,
    child: Option<Child>,
}

impl Env {
    fn new(name: &'static str) -> Env {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // `x` at the end keeps one tag from being a prefix of another ("n1x", "n10x").
        let tag = format!("sx{}n{n}x", pid % 100_000);
        let x = (pid % 250 + n * 13) % 250;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        let conf = dir.path().join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                "# podapid stress test {name}\n[network]\ndefault_network = \"{tag}d\"\ndefault_subnet = \"10.92.{x}.0/24\"\ndefault_subnet_pools = [{{ base = \"10.93.{x}.0/24\", size = 27 }}]\n"
            ),
        )
        .unwrap();
        let client = Client {
            sock: dir.path().join("podapid.sock"),
        };
        let seed = base_seed();
        eprintln!(
            "[{name}] {:?}; seed {seed} (PODAPID_STRESS_SEED={seed} replays it); dir {}",
            sizes(),
            dir.path().display()
        );
        Env {
            name,
            dir,
            tag,
            x,
            conf,
            client,
            child: None,
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn run(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// Starts the daemon and waits until it answers `/_ping`.
    fn start(&mut self) {
        assert!(self.child.is_none(), "the daemon already runs");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        self.child = Some(
            Command::new(BIN)
                .env("CONTAINERS_REGISTRIES_CONF", registries_conf())
                .env("CONTAINERS_CONF", &self.conf)
                // Temp files it makes outside its root are counted (and left behind by a
                // crash show up in the census).
                .env("TMPDIR", self.dir.path().join("tmp"))
                .env_remove("CONTAINERS_CONF_OVERRIDE")
                .env_remove("PODAPID_LOG")
                .env_remove("LISTEN_FDS")
                .env_remove("LISTEN_PID")
                .arg("--root")
                .arg(self.root())
                .arg("--runroot")
                .arg(self.run())
                .args(["--log-level", "info", "service", "-t", "0"])
                .arg(format!("unix://{}", self.client.sock.display()))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn podapid"),
        );
        let started = Instant::now();
        loop {
            if self
                .client
                .req("GET", "/_ping", "")
                .is_ok_and(|r| r.status == 200)
            {
                return;
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "[{}] podapid exited at start-up ({st}):\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "[{}] podapid did not answer /_ping within 60 s:\n{}",
                self.name,
                self.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9` of the daemon (its containers live on under conmon).
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            c.wait().unwrap();
        }
    }

    /// Stops the daemon with SIGTERM, as systemd does; it must exit 0 within 30 s.
    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let t = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                assert!(
                    st.success(),
                    "[{}] podapid ended with {st} on SIGTERM:\n{}",
                    self.name,
                    self.log_tail(30)
                );
                return;
            }
            if t.elapsed() > Duration::from_secs(30) {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "[{}] podapid did not stop within 30 s of SIGTERM:\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("the daemon runs").id()
    }

    fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let seed = base_seed();
            eprintln!(
                "[{}] FAILED; seed {seed} (PODAPID_STRESS_SEED={seed} replays the kill delays); dir {}; the daemon's log ends with:\n{}",
                self.name,
                self.dir.path().display(),
                self.log_tail(60)
            );
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        reap(self.dir.path(), &self.tag);
    }
}

/// What a failed test may leave on the host: its conmons and the containers under them,
/// mounts under its directory, the links of its networks. Best effort.
fn reap(dir: &Path, tag: &str) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let ours = conmons(dir);
    if !ours.is_empty() {
        for (pid, ppid, _) in processes() {
            if ours.contains(&ppid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        for pid in &ours {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
    let mut points = mounts_under(dir);
    points.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in points {
        let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
    // The connect test's networks (`<tag>a`, `<tag>b`) and the default one (`<tag>d0`),
    // with their keepers (`<first 13 chars>k`).
    for bridge in [format!("{tag}a"), format!("{tag}b"), format!("{tag}d0")] {
        let keeper = format!("{}k", bridge.chars().take(13).collect::<String>());
        for link in [keeper, bridge] {
            if Path::new("/sys/class/net").join(&link).exists() {
                let _ = Command::new("ip")
                    .args(["link", "del", &link])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

// ------------------------------------------------------------------ host facts

/// (pid, parent pid, command line with spaces) of every process.
fn processes() -> Vec<(i32, i32, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        out.push((pid, ppid, cmd));
    }
    out
}

fn is_conmon(cmd: &str) -> bool {
    cmd.split(' ').next().is_some_and(|a| a.ends_with("conmon"))
}

/// The conmon processes whose command line names something under `dir`.
fn conmons(dir: &Path) -> Vec<i32> {
    let d = dir.display().to_string();
    processes()
        .into_iter()
        .filter(|(_, _, cmd)| is_conmon(cmd) && cmd.contains(&d))
        .map(|(pid, _, _)| pid)
        .collect()
}

/// Whether a conmon of the container (or of one of its exec sessions) runs.
fn conmon_of(id: &str) -> bool {
    processes()
        .iter()
        .any(|(_, _, cmd)| is_conmon(cmd) && cmd.contains(id))
}

/// Whether `pid` is a live process (not a zombie).
fn pid_alive(pid: i64) -> bool {
    pid > 0
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X")
        })
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    loop {
        if done() {
            return true;
        }
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_dead(pid: i64, limit: Duration) -> bool {
    wait_until(limit, || !pid_alive(pid))
}

/// Mount points at or under `dir` (this process's mount namespace is the daemon's).
fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    let sub = format!("{d}/");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| *m == d || m.starts_with(&sub))
        .map(String::from)
        .collect()
}

fn count_dir(p: &Path) -> usize {
    std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0)
}

/// The output lines of a command (none when it cannot run).
fn command_lines(cmd: &str, args: &[&str]) -> Vec<String> {
    Command::new(cmd)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// What the state database says, read through the engine's own `Db`.
#[derive(Debug, Default)]
struct DbFacts {
    integrity: String,
    fk_violations: usize,
    containers: usize,
    /// Containers without their `names` row.
    unnamed_containers: usize,
    /// Container `names` rows without their container.
    dangling_names: usize,
    ipam_leases: usize,
    /// Leases of no container and no pending clean-up.
    orphan_leases: usize,
    pending_cleanups: usize,
    exec_sessions: usize,
    /// (ChainID, short link) of every recorded layer.
    layers: Vec<(String, String)>,
}

/// The database's facts (`None` before the daemon first made it). Safe beside a running
/// daemon: the database is in WAL mode and these are reads.
fn db_facts(root: &Path) -> Option<DbFacts> {
    let path = root.join("db.sqlite");
    if !path.exists() {
        return None;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Some(rt.block_on(async move {
        let db = engine::store::Db::open(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        db.read(|c| {
            let count = |sql: &str| -> engine::Result<usize> {
                let n: i64 = c.query_row(sql, [], |r| r.get(0))?;
                Ok(usize::try_from(n).unwrap_or(0))
            };
            let integrity: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            let mut fk = c.prepare("PRAGMA foreign_key_check")?;
            let fk_violations = fk.query_map([], |_| Ok(()))?.count();
            let mut st = c.prepare("SELECT chain_id, short_link FROM layers")?;
            let layers = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let containers = count("SELECT COUNT(*) FROM containers")?;
            let unnamed_containers = count(
                "SELECT COUNT(*) FROM containers WHERE id NOT IN (SELECT id FROM names)",
            )?;
            let dangling_names = count(
                "SELECT COUNT(*) FROM names WHERE kind = 'container' AND id NOT IN (SELECT id FROM containers)",
            )?;
            let ipam_leases = count("SELECT COUNT(*) FROM ipam")?;
            let orphan_leases = count(
                "SELECT COUNT(*) FROM ipam WHERE container_id NOT IN (SELECT id FROM containers) AND container_id NOT IN (SELECT id FROM pending_cleanups)",
            )?;
            let pending_cleanups = count("SELECT COUNT(*) FROM pending_cleanups")?;
            let exec_sessions = count("SELECT COUNT(*) FROM exec_sessions")?;
            Ok(DbFacts {
                integrity,
                fk_violations,
                containers,
                unnamed_containers,
                dangling_names,
                ipam_leases,
                orphan_leases,
                pending_cleanups,
                exec_sessions,
                layers,
            })
        })
        .await
        .unwrap_or_else(|e| panic!("reading the state database: {e}"))
    }))
}

/// The things containers and networks make on the host, counted for one daemon.
fn census(env: &Env) -> BTreeMap<&'static str, usize> {
    let d = env.dir.path();
    let tag = env.tag.as_str();
    let subnets = [format!("10.92.{}.", env.x), format!("10.93.{}.", env.x)];
    let mut m = BTreeMap::new();
    m.insert("mounts under the test dir", mounts_under(d).len());
    m.insert("netns files", count_dir(&env.run().join("netns")));
    m.insert(
        "container dirs",
        count_dir(&env.root().join("storage/overlay-containers"))
            + count_dir(&env.run().join("containers"))
            + count_dir(&env.run().join("runc")),
    );
    m.insert("conmon processes", conmons(d).len());
    m.insert("entries in the daemon's TMPDIR", count_dir(&d.join("tmp")));
    m.insert(
        "veth devices",
        command_lines("ip", &["-o", "link", "show", "type", "veth"])
            .iter()
            .filter(|l| l.contains(tag))
            .count(),
    );
    m.insert(
        "bridges",
        command_lines("ip", &["-o", "link", "show", "type", "bridge"])
            .iter()
            .filter(|l| l.contains(tag))
            .count(),
    );
    m.insert(
        "iptables lines",
        command_lines("iptables-save", &[])
            .iter()
            .filter(|l| l.contains(tag) || subnets.iter().any(|s| l.contains(s.as_str())))
            .count(),
    );
    let f = db_facts(&env.root()).unwrap_or_default();
    m.insert("ipam leases", f.ipam_leases);
    m.insert("pending clean-ups", f.pending_cleanups);
    m.insert("containers in the db", f.containers);
    m
}

/// The census entries removals must bring back (networks are still there meanwhile).
const REMOVAL_KEYS: [&str; 7] = [
    "mounts under the test dir",
    "netns files",
    "container dirs",
    "conmon processes",
    "ipam leases",
    "pending clean-ups",
    "containers in the db",
];

// ------------------------------------------------------------------ API helpers

fn sleeper(net: &str) -> Value {
    json!({"Image": "busybox", "Cmd": ["sleep", "3600"], "HostConfig": {"NetworkMode": net}})
}

fn create(c: &Client, name: &str, body: &Value) -> String {
    let (st, v) = c.post_json(&format!("/v1.41/containers/create?name={name}"), body);
    assert_eq!(st, 201, "create {name}: {v}");
    v["Id"].as_str().unwrap().to_string()
}

fn start(c: &Client, name: &str) {
    let (st, b) = c.call("POST", &format!("/v1.41/containers/{name}/start"), "");
    assert_eq!(st, 204, "start {name}: {b}");
}

/// The pid of a container that must be running, with that process alive.
fn running_pid(c: &Client, name: &str, ctx: &str) -> i64 {
    let (st, v) = c.get_json(&format!("/v1.41/containers/{name}/json"));
    assert_eq!(st, 200, "{ctx}: inspect {name}: {v}");
    assert_eq!(
        v["State"]["Running"].as_bool(),
        Some(true),
        "{ctx}: {name} is not running: {}",
        v["State"]
    );
    let pid = v["State"]["Pid"].as_i64().unwrap_or(0);
    assert!(
        pid_alive(pid),
        "{ctx}: {name} is recorded running with pid {pid}, which is not alive"
    );
    pid
}

/// Creates and starts a `sleep 3600` container; its pid.
fn run_sleeper(c: &Client, name: &str, net: &str) -> i64 {
    create(c, name, &sleeper(net));
    start(c, name);
    running_pid(c, name, "setup")
}

/// Runs `sh -c script` in a new container of `image` (network none) to its end; the exit
/// code. The container stays.
fn run_and_wait(c: &Client, name: &str, image: &str, script: &str) -> i64 {
    create(
        c,
        name,
        &json!({"Image": image, "Cmd": ["sh", "-c", script], "HostConfig": {"NetworkMode": "none"}}),
    );
    start(c, name);
    let (st, v) = c.json("POST", &format!("/v1.41/containers/{name}/wait"), "");
    assert_eq!(st, 200, "wait {name}: {v}");
    v["StatusCode"].as_i64().unwrap_or(-1)
}

/// [`run_and_wait`], then the container is removed.
fn run_to_exit(c: &Client, name: &str, image: &str, script: &str) -> i64 {
    let code = run_and_wait(c, name, image, script);
    remove_gone(c, name);
    code
}

/// `DELETE ?force=true` until the container no longer inspects (30 s at most).
fn remove_gone(c: &Client, name: &str) {
    let t = Instant::now();
    loop {
        let (st, body) = c.call(
            "DELETE",
            &format!("/v1.41/containers/{name}?force=true"),
            "",
        );
        let (gone, last) = if st == 204 || st == 404 {
            let (st2, b2) = c.call("GET", &format!("/v1.41/containers/{name}/json"), "");
            (
                st2 == 404,
                format!("removal answered {st} but inspect {st2}: {b2}"),
            )
        } else {
            (false, format!("removal answered {st}: {body}"))
        };
        if gone {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{name} could not be removed: {last}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// (id, name, state) of every container, from libpod's list.
fn list_containers(c: &Client) -> Vec<(String, String, String)> {
    let (st, v) = c.get_json("/v4.0.0/libpod/containers/json?all=true");
    assert_eq!(st, 200, "list: {v}");
    let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
    v.as_array()
        .unwrap_or_else(|| panic!("list: {v}"))
        .iter()
        .map(|e| (s(&e["Id"]), s(&e["Names"][0]), s(&e["State"])))
        .collect()
}

fn inspect(c: &Client, name: &str) -> (u16, Value) {
    c.get_json(&format!("/v1.41/containers/{name}/json"))
}

fn listed(c: &Client, name: &str) -> bool {
    list_containers(c).iter().any(|(_, n, _)| n == name)
}

fn pull_path(reference: &str) -> String {
    let (name, tag) = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (reference, "latest"),
    };
    format!("/v1.41/images/create?fromImage={name}&tag={tag}")
}

/// A complete compat pull stream that reports no error.
fn pull_ok(body: &str) -> bool {
    !body.contains("\"error\"") && body.contains("Status: ")
}

fn pull_acked(a: &Result<Reply, String>) -> bool {
    matches!(a, Ok(r) if r.status == 200 && pull_ok(&r.text()))
}

fn pull(c: &Client, reference: &str) {
    let r = c.reply("POST", &pull_path(reference), "");
    assert!(
        r.status == 200 && pull_ok(&r.text()),
        "pulling {reference} (is the fixture registry up? fixtures/registry.sh start && fixtures/registry.sh push): {} {}",
        r.status,
        r.text()
    );
}

/// An internal bridge network (no route out) with its own bridge name and subnet, and
/// without DNS (no aardvark-dns process to account for).
fn create_internal_network(c: &Client, name: &str, subnet: &str) {
    let body = json!({
        "name": name, "driver": "bridge", "network_interface": name, "internal": true,
        "dns_enabled": false, "subnets": [{"subnet": subnet}],
    });
    let (st, v) = c.post_json("/v4.0.0/libpod/networks/create", &body);
    assert_eq!(st, 200, "creating network {name}: {v}");
    assert_eq!(v["internal"].as_bool(), Some(true), "{v}");
}

// ------------------------------------------------------------------ checks

/// Right after a kill, before the restart: the database as the crash left it.
fn check_db(env: &Env, ctx: &str) -> DbFacts {
    let f = db_facts(&env.root()).unwrap_or_else(|| panic!("{ctx}: no state database"));
    assert_eq!(f.integrity, "ok", "{ctx}: PRAGMA integrity_check");
    assert_eq!(f.fk_violations, 0, "{ctx}: PRAGMA foreign_key_check");
    assert_eq!(
        f.unnamed_containers, 0,
        "{ctx}: containers without their name row"
    );
    assert_eq!(
        f.dangling_names, 0,
        "{ctx}: container names without their container"
    );
    assert_eq!(
        f.orphan_leases, 0,
        "{ctx}: IPAM leases of no container and no pending clean-up"
    );
    f
}

/// After a restart: every listed container and image inspects, and the containers that
/// ran before the kill run on, with the same pid, alive.
fn check_after_restart(c: &Client, running: &BTreeMap<String, i64>, ctx: &str) {
    for (id, name, _) in list_containers(c) {
        let (st, v) = c.get_json(&format!("/v4.0.0/libpod/containers/{id}/json"));
        assert_eq!(st, 200, "{ctx}: {name} is listed but does not inspect: {v}");
    }
    for (name, pid) in running {
        let (st, v) = c.get_json(&format!("/v1.41/containers/{name}/json"));
        assert_eq!(
            st, 200,
            "{ctx}: {name}, running before the kill, is lost: {v}"
        );
        assert_eq!(
            v["State"]["Running"].as_bool(),
            Some(true),
            "{ctx}: {name} ran before the kill and does not now: {}",
            v["State"]
        );
        assert_eq!(
            v["State"]["Pid"].as_i64(),
            Some(*pid),
            "{ctx}: {name}'s pid changed: {}",
            v["State"]
        );
        assert!(pid_alive(*pid), "{ctx}: {name}'s process {pid} is gone");
    }
    let (st, v) = c.get_json("/v1.41/images/json?all=true");
    assert_eq!(st, 200, "{ctx}: {v}");
    for img in v.as_array().into_iter().flatten() {
        let id = img["Id"].as_str().unwrap_or_default();
        let (st, b) = c.call("GET", &format!("/v1.41/images/{id}/json"), "");
        assert_eq!(
            st, 200,
            "{ctx}: image {id} is listed but does not inspect: {b}"
        );
    }
}

/// Nothing half-made in the image store: `tmp/` empty, every recorded layer unpacked with
/// its short link, every unpacked layer recorded.
fn check_image_store(env: &Env, facts: &DbFacts, ctx: &str) {
    let storage = env.root().join("storage");
    assert_eq!(
        count_dir(&storage.join("tmp")),
        0,
        "{ctx}: storage/tmp is not empty"
    );
    let overlay = storage.join("overlay");
    let mut known = BTreeSet::new();
    for (chain, link) in &facts.layers {
        let hex = chain.strip_prefix("sha256:").unwrap_or(chain);
        assert!(
            overlay.join(hex).join("diff").is_dir(),
            "{ctx}: layer {chain} is recorded but not unpacked"
        );
        assert!(
            std::fs::symlink_metadata(overlay.join("l").join(link)).is_ok(),
            "{ctx}: layer {chain}'s short link {link} is missing"
        );
        known.insert(hex.to_string());
    }
    for e in std::fs::read_dir(overlay).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(
            n == "l" || known.contains(&n),
            "{ctx}: the unpacked layer {n} is not recorded"
        );
    }
}

/// Removes every container and `networks`, waits for the background clean-ups, stops the
/// daemon (SIGTERM), and compares the census with `before`; the database is checked once
/// more and none of `pids` may live on.
fn finish(mut env: Env, before: &BTreeMap<&'static str, usize>, pids: &[i64], networks: &[String]) {
    let c = env.client.clone();
    for (id, _, _) in list_containers(&c) {
        remove_gone(&c, &id);
    }
    // Removals finish in the background (unmount, runtime state, netns, leases).
    let mut now = census(&env);
    let cleaned = wait_until(Duration::from_secs(30), || {
        now = census(&env);
        REMOVAL_KEYS.iter().all(|k| now[k] == before[k])
    });
    assert!(
        cleaned,
        "[{}] removing every container left {now:?}; before the test: {before:?}",
        env.name
    );
    for n in networks {
        let (st, b) = c.call(
            "DELETE",
            &format!("/v4.0.0/libpod/networks/{n}?force=true"),
            "",
        );
        assert_eq!(st, 200, "removing network {n}: {b}");
    }
    let (st, b) = c.call("GET", "/_ping", "");
    assert_eq!(st, 200, "the daemon does not answer at the end: {b}");
    env.stop();
    let mut after = census(&env);
    wait_until(Duration::from_secs(15), || {
        after = census(&env);
        after == *before
    });
    assert_eq!(
        &after, before,
        "[{}] left behind after removing everything and stopping the daemon",
        env.name
    );
    for pid in pids {
        assert!(!pid_alive(*pid), "[{}] process {pid} lives on", env.name);
    }
    let f = db_facts(&env.root()).unwrap();
    assert_eq!(f.integrity, "ok", "[{}] at the end", env.name);
    assert_eq!(f.fk_violations, 0, "[{}] at the end", env.name);
}

// ------------------------------------------------------------------ crash tests

/// The request a crash test kills the daemon under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Start,
    Pull,
    Commit,
    Remove,
    Connect,
}

impl Op {
    fn test_name(self) -> &'static str {
        match self {
            Op::Create => "crash_during_create",
            Op::Start => "crash_during_start",
            Op::Pull => "crash_during_pull",
            Op::Commit => "crash_during_commit",
            Op::Remove => "crash_during_rm",
            Op::Connect => "crash_during_network_connect",
        }
    }

    /// The kill comes 0..=this many ms after the request is sent (about how long the
    /// request takes here, so kills land before, inside and after it).
    fn max_delay_ms(self) -> u64 {
        match self {
            Op::Create => 80,
            Op::Start => 400,
            Op::Pull => 300,
            Op::Commit => 300,
            Op::Remove => 300,
            Op::Connect => 250,
        }
    }
}

fn crash_test(op: Op) {
    let sz = sizes();
    let name = op.test_name();
    let mut env = Env::new(name);
    let mut rng = Rng::for_test(name);
    let before = census(&env);
    env.start();
    let c = env.client.clone();
    pull(&c, "busybox");
    // Containers running before every kill: name -> pid.
    let mut running: BTreeMap<String, i64> = BTreeMap::new();
    // Every container process seen: all must be gone at the end.
    let mut pids = Vec::new();
    for i in 0..2 {
        let n = format!("keep{i}");
        let pid = run_sleeper(&c, &n, "none");
        running.insert(n, pid);
        pids.push(pid);
    }
    let (net_a, net_b) = (format!("{}a", env.tag), format!("{}b", env.tag));
    let mut networks = Vec::new();
    if op == Op::Connect {
        create_internal_network(&c, &net_a, &format!("10.93.{}.0/27", env.x));
        create_internal_network(&c, &net_b, &format!("10.93.{}.32/27", env.x));
        networks = vec![net_a.clone(), net_b.clone()];
    }
    if op == Op::Commit {
        let code = run_and_wait(
            &c,
            "src",
            "busybox",
            "mkdir /data && for i in $(seq 1 40); do head -c 65536 /dev/urandom > /data/f$i; done && echo ok > /data/ok",
        );
        assert_eq!(code, 0, "[{name}] the commit source's script failed");
    }
    for round in 0..sz.kills {
        let ctx = format!("[{name} round {round}]");
        let subject = format!("s{round}");
        let mut subject_pid = 0;
        let (method, path, body) = match op {
            Op::Create => (
                "POST",
                format!("/v1.41/containers/create?name={subject}"),
                sleeper("none").to_string(),
            ),
            Op::Start => {
                create(&c, &subject, &sleeper("none"));
                (
                    "POST",
                    format!("/v1.41/containers/{subject}/start"),
                    String::new(),
                )
            }
            Op::Pull => ("POST", pull_path("busybox-layered"), String::new()),
            Op::Commit => (
                "POST",
                format!("/v1.41/commit?container=src&repo=stresscommit&tag=r{round}&pause=false"),
                String::new(),
            ),
            Op::Remove => {
                subject_pid = run_sleeper(&c, &subject, "none");
                (
                    "DELETE",
                    format!("/v1.41/containers/{subject}?force=true"),
                    String::new(),
                )
            }
            Op::Connect => {
                subject_pid = run_sleeper(&c, &subject, &net_a);
                running.insert(subject.clone(), subject_pid);
                (
                    "POST",
                    format!("/v4.0.0/libpod/networks/{net_b}/connect"),
                    json!({"container": subject}).to_string(),
                )
            }
        };
        if subject_pid > 0 {
            pids.push(subject_pid);
        }
        if op == Op::Connect && round == 0 {
            // The census sees a container on a bridge, so a leak would show.
            let during = census(&env);
            for k in [
                "veth devices",
                "netns files",
                "mounts under the test dir",
                "ipam leases",
            ] {
                assert!(
                    during[k] > before[k],
                    "{ctx}: the census does not see {k}: {during:?}"
                );
            }
        }

        let delay = rng.below(op.max_delay_ms() + 1);
        let inflight = {
            let (c, path) = (c.clone(), path.clone());
            std::thread::spawn(move || c.req(method, &path, &body))
        };
        std::thread::sleep(Duration::from_millis(delay));
        env.kill9();
        let answer = inflight.join().unwrap();
        eprintln!(
            "{ctx} {method} {path}: killed after {delay} ms; {}",
            outcome(&answer)
        );
        if let Ok(r) = &answer {
            assert!(
                r.status < 500,
                "{ctx}: answered {} before the kill: {}",
                r.status,
                r.text()
            );
        }
        let facts = check_db(&env, &ctx);
        env.start();
        check_after_restart(&c, &running, &ctx);
        check_image_store(&env, &facts, &ctx);

        // The object caught mid-way: absent or whole, as the answer (if any) said.
        let answered = |code: u16| matches!(&answer, Ok(r) if r.status == code);
        match op {
            Op::Create => {
                let (st, v) = inspect(&c, &subject);
                if st == 404 {
                    assert!(
                        !answered(201),
                        "{ctx}: create answered 201, yet {subject} is gone after the restart"
                    );
                    assert!(
                        !listed(&c, &subject),
                        "{ctx}: {subject} is listed but does not inspect"
                    );
                } else {
                    assert_eq!(st, 200, "{ctx}: {v}");
                    start(&c, &subject);
                    pids.push(running_pid(&c, &subject, &ctx));
                    remove_gone(&c, &subject);
                }
            }
            Op::Start => {
                let (st, v) = inspect(&c, &subject);
                assert_eq!(
                    st, 200,
                    "{ctx}: {subject}, created before the start, is lost: {v}"
                );
                let is_running = v["State"]["Running"].as_bool() == Some(true);
                assert!(
                    is_running || !answered(204),
                    "{ctx}: start answered 204, yet {subject} does not run after the restart: {}",
                    v["State"]
                );
                if !is_running {
                    let (st, b) = c.call("POST", &format!("/v1.41/containers/{subject}/start"), "");
                    assert!(
                        st == 204 || st == 304,
                        "{ctx}: starting {subject} again: {st} {b}"
                    );
                }
                let pid = running_pid(&c, &subject, &ctx);
                pids.push(pid);
                remove_gone(&c, &subject);
                assert!(
                    wait_dead(pid, Duration::from_secs(15)),
                    "{ctx}: {subject}'s process outlived its removal"
                );
            }
            Op::Pull => {
                let (st, v) = c.get_json("/v1.41/images/busybox-layered/json");
                if st == 200 {
                    let code = run_to_exit(
                        &c,
                        &format!("{subject}l"),
                        "busybox-layered",
                        "test -f /hello.txt && test -f /data/a.txt && test ! -e /data/b.txt && test -f /data/c.txt",
                    );
                    assert_eq!(
                        code, 0,
                        "{ctx}: busybox-layered is there but its files are not all right"
                    );
                    let (st, b) = c.call("DELETE", "/v1.41/images/busybox-layered?force=true", "");
                    assert_eq!(st, 200, "{ctx}: removing busybox-layered: {b}");
                } else {
                    assert_eq!(st, 404, "{ctx}: {v}");
                    assert!(
                        !pull_acked(&answer),
                        "{ctx}: the pull completed, yet busybox-layered is gone after the restart"
                    );
                }
                let code = run_to_exit(&c, &format!("{subject}b"), "busybox", "test -x /bin/sh");
                assert_eq!(
                    code, 0,
                    "{ctx}: busybox (which shares busybox-layered's first layer) no longer runs"
                );
            }
            Op::Commit => {
                let (st, v) = inspect(&c, "src");
                assert_eq!(st, 200, "{ctx}: the commit's source container is lost: {v}");
                let image = format!("stresscommit:r{round}");
                let (st, v) = c.get_json(&format!("/v1.41/images/{image}/json"));
                if st == 200 {
                    let code = run_to_exit(
                        &c,
                        &format!("{subject}c"),
                        &image,
                        "test -f /data/ok && test -s /data/f40",
                    );
                    assert_eq!(
                        code, 0,
                        "{ctx}: {image} lacks files of the committed container"
                    );
                    let (st, b) =
                        c.call("DELETE", &format!("/v1.41/images/{image}?force=true"), "");
                    assert_eq!(st, 200, "{ctx}: removing {image}: {b}");
                } else {
                    assert_eq!(st, 404, "{ctx}: {v}");
                    assert!(
                        !answered(201),
                        "{ctx}: commit answered 201, yet {image} is gone after the restart"
                    );
                }
            }
            Op::Remove => {
                let (st, v) = inspect(&c, &subject);
                if st == 404 {
                    assert!(
                        !listed(&c, &subject),
                        "{ctx}: {subject} is listed but does not inspect"
                    );
                } else {
                    assert_eq!(st, 200, "{ctx}: {v}");
                    assert!(
                        !answered(204),
                        "{ctx}: rm answered 204, yet {subject} is back after the restart"
                    );
                    remove_gone(&c, &subject);
                }
                assert!(
                    wait_dead(subject_pid, Duration::from_secs(15)),
                    "{ctx}: the process of the removed {subject} still runs"
                );
            }
            Op::Connect => {
                let (st, v) = inspect(&c, &subject);
                assert_eq!(st, 200, "{ctx}: {v}");
                let nets = &v["NetworkSettings"]["Networks"];
                assert!(
                    nets.get(&net_a).is_some(),
                    "{ctx}: {subject} lost its first network: {nets}"
                );
                assert!(
                    nets.get(&net_b).is_some() || !answered(200),
                    "{ctx}: connect answered 200, yet {subject} is not on {net_b} after the restart: {nets}"
                );
                // Connecting (again) works or is refused as done already; never a 5xx.
                let (st, b) = c.call(
                    "POST",
                    &format!("/v4.0.0/libpod/networks/{net_b}/connect"),
                    &json!({"container": subject}).to_string(),
                );
                eprintln!("{ctx} connecting again: {st} {}", short(&b));
                running.remove(&subject);
                remove_gone(&c, &subject);
                assert!(
                    wait_dead(subject_pid, Duration::from_secs(15)),
                    "{ctx}: the process of the removed {subject} still runs"
                );
            }
        }
    }
    finish(env, &before, &pids, &networks);
}

#[test]
fn crash_during_create() {
    crash_test(Op::Create);
}

#[test]
fn crash_during_start() {
    crash_test(Op::Start);
}

#[test]
fn crash_during_pull() {
    crash_test(Op::Pull);
}

#[test]
fn crash_during_commit() {
    crash_test(Op::Commit);
}

#[test]
fn crash_during_rm() {
    crash_test(Op::Remove);
}

#[test]
fn crash_during_network_connect() {
    crash_test(Op::Connect);
}

// ------------------------------------------------------------------ concurrency

/// What each worker does to its own container, by worker number modulo 4.
const PLANS: [&[&str]; 4] = [
    &["create", "start", "stop", "rm"],
    &["create", "start"],
    &["create", "start", "stop"],
    &["create", "rm"],
];

#[test]
fn concurrent_lifecycles_on_different_containers() {
    let sz = sizes();
    let mut env = Env::new("concurrent_lifecycles_on_different_containers");
    let before = census(&env);
    env.start();
    let c = env.client.clone();
    pull(&c, "busybox");
    let workers: Vec<_> = (0..sz.width)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                let name = format!("c{i}");
                let mut steps = Vec::new();
                for step in PLANS[i % 4] {
                    let (m, p, b) = match *step {
                        "create" => (
                            "POST",
                            format!("/v1.41/containers/create?name={name}"),
                            sleeper("none").to_string(),
                        ),
                        "start" => (
                            "POST",
                            format!("/v1.41/containers/{name}/start"),
                            String::new(),
                        ),
                        "stop" => (
                            "POST",
                            format!("/v1.41/containers/{name}/stop?t=0"),
                            String::new(),
                        ),
                        _ => (
                            "DELETE",
                            format!("/v1.41/containers/{name}?force=true"),
                            String::new(),
                        ),
                    };
                    steps.push((*step, c.req(m, &p, &b)));
                }
                steps
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut counts: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for (i, w) in workers.into_iter().enumerate() {
        for (step, r) in w.join().unwrap() {
            let want = if step == "create" { 201 } else { 204 };
            match r {
                Ok(r) => {
                    *counts.entry((step, r.status)).or_default() += 1;
                    if r.status != want {
                        failures.push(format!("c{i} {step}: {} {}", r.status, short(&r.text())));
                    }
                }
                Err(e) => failures.push(format!("c{i} {step}: {e}")),
            }
        }
    }
    eprintln!("[{}] (step, status): count {counts:?}", env.name);
    assert!(
        failures.is_empty(),
        "{} concurrent requests failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing lost, nothing back.
    let states: BTreeMap<String, String> = list_containers(&c)
        .into_iter()
        .map(|(_, n, s)| (n, s))
        .collect();
    let want: BTreeSet<String> = (0..sz.width)
        .filter(|i| matches!(i % 4, 1 | 2))
        .map(|i| format!("c{i}"))
        .collect();
    let got: BTreeSet<String> = states.keys().cloned().collect();
    assert_eq!(got, want, "lost or resurrected containers: {states:?}");
    for i in 0..sz.width {
        let n = format!("c{i}");
        match i % 4 {
            1 => assert_eq!(states[&n], "running", "{n}"),
            2 => assert!(
                matches!(states[&n].as_str(), "exited" | "stopped"),
                "{n}: {states:?}"
            ),
            _ => {}
        }
    }
    // Removed concurrently too.
    let removers: Vec<_> = want
        .iter()
        .map(|n| {
            let (c, n) = (c.clone(), n.clone());
            std::thread::spawn(move || {
                let r = c.req("DELETE", &format!("/v1.41/containers/{n}?force=true"), "");
                (n, r)
            })
        })
        .collect();
    for w in removers {
        let (n, r) = w.join().unwrap();
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 204, "removing {n}: {}", r.text());
    }
    assert!(
        list_containers(&c).is_empty(),
        "containers left after removing all"
    );
    finish(env, &before, &[], &[]);
}

const VERBS: [&str; 8] = [
    "start", "stop", "restart", "kill", "pause", "unpause", "inspect", "rm",
];

fn verb_request(verb: &str, name: &str) -> (&'static str, String) {
    match verb {
        "stop" => ("POST", format!("/v1.41/containers/{name}/stop?t=0")),
        "restart" => ("POST", format!("/v1.41/containers/{name}/restart?t=0")),
        "inspect" => ("GET", format!("/v1.41/containers/{name}/json")),
        "rm" => ("DELETE", format!("/v1.41/containers/{name}?force=true")),
        // start, kill, pause, unpause
        v => ("POST", format!("/v1.41/containers/{name}/{v}")),
    }
}

#[test]
fn concurrent_verbs_on_one_container() {
    let sz = sizes();
    let name = "concurrent_verbs_on_one_container";
    let mut env = Env::new(name);
    let mut rng = Rng::for_test(name);
    let before = census(&env);
    env.start();
    let c = env.client.clone();
    pull(&c, "busybox");
    for round in 0..sz.same_rounds {
        let ctr = format!("same{round}");
        let id = create(&c, &ctr, &sleeper("none"));
        start(&c, &ctr);
        // Even rounds race removals (one at least) with the rest, odd rounds none.
        let with_rm = matches!(round % 2, 0);
        let pool = if with_rm { &VERBS[..] } else { &VERBS[..7] };
        let verbs: Vec<&'static str> = (0..sz.width)
            .map(|i| {
                if with_rm && i == sz.width / 2 {
                    "rm"
                } else {
                    pool[rng.below(pool.len() as u64) as usize]
                }
            })
            .collect();
        let workers: Vec<_> = verbs
            .iter()
            .map(|&verb| {
                let (c, ctr) = (c.clone(), ctr.clone());
                std::thread::spawn(move || {
                    let (m, p) = verb_request(verb, &ctr);
                    (verb, c.req(m, &p, ""))
                })
            })
            .collect();
        let mut failures = Vec::new();
        let mut counts: BTreeMap<(&str, u16), usize> = BTreeMap::new();
        let mut removed = false;
        for w in workers {
            let (verb, r) = w.join().unwrap();
            match r {
                Ok(r) => {
                    *counts.entry((verb, r.status)).or_default() += 1;
                    if r.status >= 500 {
                        failures.push(format!("{verb}: {} {}", r.status, short(&r.text())));
                    }
                    removed |= verb == "rm" && r.status == 204;
                }
                Err(e) => failures.push(format!("{verb}: {e}")),
            }
        }
        eprintln!("[{name} round {round}] (verb, status): count {counts:?}");
        assert!(
            failures.is_empty(),
            "[{name} round {round}] {} requests failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
        let (st, v) = c.get_json(&format!("/v1.41/containers/{ctr}/json"));
        if removed {
            assert_eq!(st, 404, "a removal answered 204, yet {ctr} inspects: {v}");
            assert!(
                !listed(&c, &ctr),
                "a removal answered 204, yet {ctr} is listed"
            );
        } else {
            assert_eq!(st, 200, "{ctr} was not removed, yet it is lost: {v}");
            assert!(listed(&c, &ctr), "{ctr} inspects but is not listed");
            remove_gone(&c, &ctr);
        }
        assert!(
            wait_until(Duration::from_secs(15), || !conmon_of(&id)),
            "[{name} round {round}] a conmon of the removed {ctr} lives on"
        );
    }
    finish(env, &before, &[], &[]);
}

/// Pulled beside `busybox`: another image on the same first layer, tags of one image,
/// an image index.
const TAGS: [&str; 6] = [
    "busybox-layered",
    "quay.io/libpod/alpine:latest",
    "quay.io/libpod/alpine:3.10.2",
    "quay.io/libpod/testimage:20210610",
    "quay.io/libpod/testimage:20200929",
    "docker.io/library/alpine:latest",
];

#[test]
fn concurrent_pulls_of_one_image_and_different_tags() {
    let sz = sizes();
    let name = "concurrent_pulls_of_one_image_and_different_tags";
    let mut env = Env::new(name);
    let before = census(&env);
    env.start();
    let c = env.client.clone();
    // Half pull the same image, the rest spread over the other references.
    let refs: Vec<&'static str> = (0..sz.width)
        .map(|i| match i % 2 {
            0 => "busybox",
            _ => TAGS[(i / 2) % TAGS.len()],
        })
        .collect();
    let workers: Vec<_> = refs
        .iter()
        .map(|&r| {
            let c = c.clone();
            std::thread::spawn(move || (r, c.req("POST", &pull_path(r), "")))
        })
        .collect();
    let mut failures = Vec::new();
    let mut counts: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for w in workers {
        let (r, a) = w.join().unwrap();
        match a {
            Ok(a) => {
                *counts.entry((r, a.status)).or_default() += 1;
                if a.status != 200 || !pull_ok(&a.text()) {
                    failures.push(format!("{r}: {} {}", a.status, short(&a.text())));
                }
            }
            Err(e) => failures.push(format!("{r}: {e}")),
        }
    }
    eprintln!("[{name}] (reference, status): count {counts:?}");
    assert!(
        failures.is_empty(),
        "{} concurrent pulls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every reference is there, and whole.
    let distinct: BTreeSet<&str> = refs.iter().copied().collect();
    for r in &distinct {
        let (st, b) = c.call("GET", &format!("/v1.41/images/{r}/json"), "");
        assert_eq!(st, 200, "{r} after its pull: {b}");
    }
    // (The index's arm64 entry is metadata only: its image is inspected, not run.)
    for (i, r) in distinct
        .iter()
        .filter(|r| !r.ends_with(":20210610"))
        .enumerate()
    {
        let code = run_to_exit(&c, &format!("p{i}"), r, "test -x /bin/sh");
        assert_eq!(code, 0, "a container of {r} does not run");
    }
    check_after_restart(&c, &BTreeMap::new(), &format!("[{name}]"));
    let facts = db_facts(&env.root()).unwrap();
    eprintln!("[{name}] {} layers recorded", facts.layers.len());
    check_image_store(&env, &facts, &format!("[{name}]"));
    finish(env, &before, &[], &[]);
}

// ------------------------------------------------------------------ soak

/// What the daemon holds at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    tasks: usize,
    rss_kib: u64,
    mounts: usize,
    conmons: usize,
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn sample(env: &Env) -> Sample {
    let pid = env.pid();
    Sample {
        fds: count_dir(Path::new(&format!("/proc/{pid}/fd"))),
        tasks: count_dir(Path::new(&format!("/proc/{pid}/task"))),
        rss_kib: vm_rss_kib(pid),
        mounts: mounts_under(&env.root()).len() + mounts_under(&env.run()).len(),
        conmons: conmons(env.dir.path()).len(),
    }
}

/// A sample once background work has settled (two samples 500 ms apart agree).
fn quiet_sample(env: &Env) -> Sample {
    let t = Instant::now();
    let mut last = sample(env);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let s = sample(env);
        let same = (s.fds, s.mounts, s.conmons) == (last.fds, last.mounts, last.conmons);
        if same || t.elapsed() > Duration::from_secs(15) {
            return s;
        }
        last = s;
    }
}

fn flat(base: &Sample, s: &Sample) -> bool {
    s.fds <= base.fds + FD_SLACK
        && s.tasks <= base.tasks + TASK_SLACK
        && s.mounts == base.mounts
        && s.conmons == base.conmons
}

/// The end sample: the first flat one within 20 s (idle blocking threads and background
/// clean-ups take a while to go), else the last.
fn end_sample(env: &Env, base: &Sample) -> Sample {
    let mut s = sample(env);
    wait_until(Duration::from_secs(20), || {
        s = sample(env);
        flat(base, &s)
    });
    s
}

fn print_series(name: &str, series: &[(String, Sample)]) {
    eprintln!("[{name}]     cycles   fds  tasks   rss KiB  mounts  conmons");
    for (label, s) in series {
        eprintln!(
            "[{name}] {label:>10} {:>5} {:>6} {:>9} {:>7} {:>8}",
            s.fds, s.tasks, s.rss_kib, s.mounts, s.conmons
        );
    }
}

fn assert_flat(name: &str, base: &Sample, end: &Sample, sz: &Sizes) {
    assert!(
        flat(base, end),
        "[{name}] the daemon did not come back to its warm-up sample (fds +{FD_SLACK}, tasks +{TASK_SLACK}, mounts and conmons exactly): {base:?} -> {end:?}"
    );
    assert!(
        end.rss_kib <= base.rss_kib + sz.rss_slack_kib,
        "[{name}] RSS grew by more than {} KiB: {base:?} -> {end:?}",
        sz.rss_slack_kib
    );
}

/// Runs `cycle(i)` for the warm-up, samples, runs the soak sampling every tenth, and checks
/// the end sample against the warm-up one.
fn soak(env: &Env, sz: &Sizes, mut cycle: impl FnMut(usize)) -> Sample {
    for i in 0..sz.warmup {
        cycle(i);
    }
    let base = quiet_sample(env);
    let mut series = vec![("warm-up".to_string(), base)];
    let step = (sz.soak / 10).max(1);
    let mut next = step;
    for i in 0..sz.soak {
        cycle(sz.warmup + i);
        if i + 1 == next {
            next += step;
            series.push(((i + 1).to_string(), sample(env)));
        }
    }
    let end = end_sample(env, &base);
    series.push(("end".to_string(), end));
    print_series(env.name, &series);
    assert_flat(env.name, &base, &end, sz);
    end
}

/// One `docker run --rm`: create with AutoRemove, wait for the removal (asked before the
/// start, as the docker CLI does), start; the exit code comes back through the wait. 1 when
/// the wait lost the race with the removal (answered "no such container"), else 0.
fn run_rm_cycle(c: &Client, i: usize) -> usize {
    let name = format!("rm{i}");
    let body = json!({
        "Image": "busybox", "Cmd": ["sh", "-c", format!("echo cycle {i}; exit 3")],
        "HostConfig": {"AutoRemove": true, "NetworkMode": "none"},
    });
    let id = create(c, &name, &body);
    let wait = begin(
        &c.sock,
        "POST",
        &format!("/v1.41/containers/{id}/wait?condition=removed"),
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        wait.status, 200,
        "cycle {i}: wait for the removal of {name}"
    );
    start(c, &id);
    let v = wait.finish().unwrap_or_else(|e| panic!("{e}")).json();
    let raced = match v["StatusCode"].as_i64() {
        Some(3) => 0,
        Some(-1)
            if v["Error"]["Message"]
                .as_str()
                .is_some_and(|m| m.contains("no such container")) =>
        {
            1
        }
        _ => panic!("cycle {i}: the wait for {name} answered {v}"),
    };
    let (st, b) = c.call("GET", &format!("/v1.41/containers/{id}/json"), "");
    assert_eq!(
        st, 404,
        "cycle {i}: the --rm container {name} is still there: {b}"
    );
    raced
}

/// One exec: create, start attached, the output read whole, the exit code inspected.
fn exec_cycle(c: &Client, i: usize) {
    let (st, v) = c.post_json(
        "/v1.41/containers/execbox/exec",
        &json!({"AttachStdout": true, "AttachStderr": true, "Cmd": ["sh", "-c", format!("echo exec {i}; exit 5")]}),
    );
    assert_eq!(st, 201, "exec {i}: create: {v}");
    let id = v["Id"].as_str().unwrap().to_string();
    let r = c.reply(
        "POST",
        &format!("/v1.41/exec/{id}/start"),
        r#"{"Detach":false,"Tty":false}"#,
    );
    assert_eq!(r.status, 200, "exec {i}: start: {}", r.text());
    let (out, err) = demux(&r.body);
    assert_eq!(
        out,
        format!("exec {i}\n"),
        "exec {i}: stdout (stderr {err:?})"
    );
    let (st, v) = c.get_json(&format!("/v1.41/exec/{id}/json"));
    assert_eq!(st, 200, "exec {i}: inspect: {v}");
    assert_eq!(v["Running"].as_bool(), Some(false), "exec {i}: {v}");
    assert_eq!(v["ExitCode"].as_i64(), Some(5), "exec {i}: {v}");
}

#[test]
fn soak_run_rm_cycles() {
    let sz = sizes();
    let mut env = Env::new("soak_run_rm_cycles");
    let before = census(&env);
    env.start();
    let c = env.client.clone();
    pull(&c, "busybox");
    let mut raced = 0;
    let end = soak(&env, &sz, |i| raced += run_rm_cycle(&c, i));
    eprintln!(
        "[{}] {raced} of {} waits lost the race with the removal",
        env.name,
        sz.warmup + sz.soak
    );
    assert_eq!(
        (end.mounts, end.conmons),
        (0, 0),
        "[{}] --rm containers left mounts or conmons",
        env.name
    );
    finish(env, &before, &[], &[]);
}

#[test]
fn soak_exec_cycles() {
    let sz = sizes();
    let mut env = Env::new("soak_exec_cycles");
    let before = census(&env);
    env.start();
    let c = env.client.clone();
    pull(&c, "busybox");
    let pid = run_sleeper(&c, "execbox", "none");
    let end = soak(&env, &sz, |i| exec_cycle(&c, i));
    assert_eq!(end.conmons, 1, "[{}] exec conmons live on", env.name);
    assert!(pid_alive(pid), "[{}] the exec container died", env.name);
    if let Some(f) = db_facts(&env.root()) {
        eprintln!(
            "[{}] exec sessions kept in the database: {}",
            env.name, f.exec_sessions
        );
    }
    finish(env, &before, &[pid], &[]);
}
