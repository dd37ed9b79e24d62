//! Test support: a real podapid daemon on a temporary unix socket, and raw HTTP helpers.
//!
//! Each [`TestDaemon`] has its own root, runroot and socket in a temp dir, so tests run in
//! parallel. The daemon runs in-process through `podapid::serve`; dropping it shuts it down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

/// A running daemon.
pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), String>>>,
    /// The bridge of the daemon's own default network.
    bridge: String,
    /// The daemon's debug listener (metrics, profiles) on 127.0.0.1.
    pub debug_addr: std::net::SocketAddr,
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestDaemon {
    /// Starts a daemon and waits until it answers `/_ping`. Image names resolve through the
    /// project's fixture registries.conf (docker.io and quay.io rewritten to the local
    /// registry on 127.0.0.1:5000) unless `CONTAINERS_REGISTRIES_CONF` is already set.
    pub async fn start() -> TestDaemon {
        use_fixture_registries();
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("podapid.sock");
        let listener = api_core::AnyListener::bind(&api_core::ListenAddr::Unix(socket.clone()))
            .await
            .expect("bind the test socket");
        // Daemons of one test process run side by side: each gets a default network of its
        // own (name, bridge, subnet) and its own pool for new networks' subnets, so their
        // IPAM never hands out the same address and their bridges never share a subnet.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        let conf = dir.path().join("containers.conf");
        let net_name = format!("t{}n{n}", pid % 10_000);
        std::fs::write(
            &conf,
            format!(
                "[network]\ndefault_network = \"{net_name}\"\ndefault_subnet = \"10.90.{x}.0/24\"\ndefault_subnet_pools = [{{ base = \"10.91.{x}.0/24\", size = 27 }}]\n",
                x = (pid as u64 * 7 + u64::from(n)) % 250
            ),
        )
        .expect("the daemon's containers.conf");
        let debug = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the debug listener");
        let debug_addr = debug.local_addr().expect("the debug address");
        let config = podapid::DaemonConfig {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            uri: Some(format!("unix://{}", socket.display())),
            idle: Duration::ZERO,
            cors: None,
            extra_conf: vec![conf],
            pprof: Some(std::sync::Arc::new(debug)),
            tls: None,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            podapid::serve(config, listener, async move {
                let _ = rx.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        let d = TestDaemon {
            dir,
            socket,
            shutdown: Some(tx),
            task: Some(task),
            bridge: format!("{}0", net_name.chars().take(14).collect::<String>()),
            debug_addr,
        };
        d.wait_ready().await;
        d
    }

    async fn wait_ready(&self) {
        for _ in 0..500 {
            if let Ok(r) = request(&self.socket, Method::GET, "/_ping", None).await {
                if r.status == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("podapid did not answer /_ping on {}", self.socket.display());
    }

    /// One request with an optional JSON body.
    pub async fn req(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        request(&self.socket, m, path, body.map(|b| b.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.req("GET", path, None).await
    }

    /// A bollard client for this daemon (version not yet negotiated).
    pub fn docker(&self) -> bollard::Docker {
        bollard::Docker::connect_with_unix(
            &self.socket.display().to_string(),
            30,
            bollard::API_DEFAULT_VERSION,
        )
        .expect("bollard client")
    }

    /// `unix://SOCKET`, for CLI clients.
    pub fn uri(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Stops the daemon and returns how `serve` ended.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => t.await.map_err(|e| e.to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        reap(self.dir.path(), &self.bridge);
    }
}

/// What a test daemon leaves on the host when a test ends without removing everything:
/// its containers' conmon processes (and the containers under them), mounts under its
/// directory, and the bridges of its networks. Best effort; runs as the daemon goes.
fn reap(dir: &Path, default_bridge: &str) {
    let d = dir.display().to_string();
    let run = |cmd: &str, args: &[&str]| {
        let _ = std::process::Command::new(cmd)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    };
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.parse::<u32>().is_err() {
                continue;
            }
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd);
            let prog = cmd.split('\0').next().unwrap_or("");
            if prog.ends_with("conmon") && cmd.contains(&d) {
                run("pkill", &["-9", "-P", &name]);
                run("kill", &["-9", &name]);
            }
        }
    }
    let mut bridges = vec![default_bridge.to_string()];
    if let Ok(db) = rusqlite::Connection::open_with_flags(
        dir.join("root/db.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) {
        if let Ok(mut st) = db.prepare("SELECT data FROM networks") {
            if let Ok(rows) = st.query_map([], |r| r.get::<_, String>(0)) {
                for j in rows.flatten() {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&j) {
                        if let Some(b) = v["network_interface"].as_str() {
                            if v["driver"] == "bridge" {
                                bridges.push(b.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut points: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|m| m.starts_with(&d))
            .collect();
        points.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in points {
            run("umount", &["-l", m]);
        }
    }
    for (i, b) in bridges.iter().enumerate() {
        run("ip", &["link", "del", &format!("{b}k")]);
        // A user network's bridge name may be another daemon's too: only an idle one goes.
        let idle = std::fs::read_dir(format!("/sys/class/net/{b}/brif"))
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if i == 0 || idle {
            run("ip", &["link", "del", b]);
        }
    }
}

/// Points `CONTAINERS_REGISTRIES_CONF` at `fixtures/registries.conf` and `CONTAINERS_CONF`
/// at `fixtures/containers.conf` (a default network of the tests' own), once per process,
/// unless they are already set.
pub fn use_fixture_registries() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (var, file) in [
            ("CONTAINERS_REGISTRIES_CONF", "fixtures/registries.conf"),
            ("CONTAINERS_CONF", "fixtures/containers.conf"),
        ] {
            if std::env::var_os(var).is_none() {
                std::env::set_var(var, workspace_root().join(file));
            }
        }
    });
}

/// Runs a command line client, returning (success, stdout+stderr).
pub fn run_client(cmd: &mut std::process::Command) -> (bool, String) {
    let out = cmd.output().expect("spawn the client");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs the docker CLI against `d` on a blocking thread: (success, stdout+stderr).
pub async fn docker(d: &TestDaemon, args: &[&str]) -> (bool, String) {
    let uri = d.uri();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        run_client(
            std::process::Command::new("docker")
                .args(&args)
                .env("DOCKER_HOST", uri),
        )
    })
    .await
    .expect("the docker client task")
}

/// Runs `sh -c script` with `DOCKER_HOST` pointing at `d` (pipes into the docker CLI) on a
/// blocking thread; its output.
pub async fn docker_sh(d: &TestDaemon, script: &str) -> std::process::Output {
    let (uri, script) = (d.uri(), script.to_string());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .args(["-c", &script])
            .env("DOCKER_HOST", uri)
            .output()
            .expect("spawn sh")
    })
    .await
    .expect("the shell task")
}

/// Runs podman in remote mode against `d` on a blocking thread: (success, stdout+stderr).
pub async fn podman(d: &TestDaemon, args: &[&str]) -> (bool, String) {
    let mut all = vec!["--url".to_string(), d.uri()];
    all.extend(args.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || run_client(std::process::Command::new("podman").args(&all)))
        .await
        .expect("the podman client task")
}

/// One HTTP/1.1 request over a unix socket, read whole.
pub async fn request(
    socket: &Path,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Reply, String> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "d");
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let req = b
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Sends raw bytes and reads the raw answer until the server closes or `limit` passes
/// (for checks on the exact bytes: header case, status lines).
pub async fn raw_exchange(socket: &Path, request: &str, limit: Duration) -> String {
    let mut s = UnixStream::connect(socket).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a command exists on PATH.
pub fn have(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
        .unwrap_or(false)
}

/// The workspace root (for golden files).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A TCP port free on 127.0.0.1 right now (for `-p 127.0.0.1:PORT:...`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET http://127.0.0.1:<port>/` with curl until the body contains `want` (15 s at most);
/// the last body.
pub async fn http_get_until(port: u16, want: &str) -> String {
    let mut body = String::new();
    for _ in 0..150 {
        let out = std::process::Command::new("curl")
            .args(["-fsS", "-m", "2", &format!("http://127.0.0.1:{port}/")])
            .output()
            .expect("curl");
        body = String::from_utf8_lossy(&out.stdout).into_owned();
        if body.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    body
}
