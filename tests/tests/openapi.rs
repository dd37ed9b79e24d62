//! Every operation of the OpenAPI document podapid serves (`GET /libpod/swagger`), called on a
//! live daemon, its answer checked against the document: the status is a documented one (or
//! an error in the `ErrorModel` envelope, 5xx only where the table expects it), the
//! Content-Type is the documented media type, and JSON bodies (whole, or each line of a
//! JSON-lines stream) validate against the documented schema, converted from OpenAPI 3.0 to
//! JSON Schema 2020-12.
//!
//! The table has one call per operation of the document, in an order that keeps the objects
//! the reads need (a running container, a stopped one, exec sessions, a network, a volume, a
//! pod, a secret, a manifest list, tags) alive until the destructive calls at the end; system
//! prune is the very last. Containers run without a network (`none`); the network routes use
//! internal networks and a container that never starts. Registry traffic goes to the fixture
//! registry on 127.0.0.1:5000 only.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tests::TestDaemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The version prefix of libpod calls.
const LIBPOD: &str = "/v4.9.5";
/// The version prefix of compat calls (what the docker CLI negotiates with Podman 4).
const COMPAT: &str = "/v1.41";
/// The version prefix of the libpod v0-3 manifest routes.
const LIBPOD_V3: &str = "/v3.4.0";
/// How long a call may take unless its entry says otherwise.
const LIMIT: Duration = Duration::from_secs(60);
/// Docker's two stream media types: which one a hijacked stream carries depends on the API
/// version asked for and on the TTY, so either matches a documented one.
const DOCKER_STREAMS: [&str; 2] = [
    "application/vnd.docker.multiplexed-stream",
    "application/vnd.docker.raw-stream",
];

// ------------------------------------------------------------------------------------------
// HTTP over the daemon's socket

/// An answer: status, headers and (unless only the headers were read) the whole body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", snippet(&self.body)))
    }
}

/// A request body and its Content-Type.
type Payload = (Vec<u8>, String);

/// One request on a fresh connection. With `headers_only` the status and headers are read
/// and the connection is dropped (endless streams); otherwise the body is read to its end.
/// `limit` bounds the wait for the headers and, separately, for the body.
async fn send(
    socket: &Path,
    method: &str,
    url: &str,
    body: Option<&Payload>,
    headers_only: bool,
    limit: Duration,
) -> Result<Answer, String> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let res = exchange(&mut sender, method, url, body, headers_only, limit).await;
    // Closes the socket, also of an answer still streaming.
    conn.abort();
    res
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    method: &str,
    url: &str,
    body: Option<&Payload>,
    headers_only: bool,
    limit: Duration,
) -> Result<Answer, String> {
    let m = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut b = Request::builder().method(m).uri(url).header("host", "d");
    let data = match body {
        Some((data, ctype)) => {
            b = b.header("content-type", ctype.as_str());
            Bytes::from(data.clone())
        }
        None => Bytes::new(),
    };
    let req = b.body(Full::new(data)).map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(limit, sender.send_request(req))
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if headers_only {
        return Ok(Answer {
            status,
            headers,
            body: Bytes::new(),
        });
    }
    let body = tokio::time::timeout(limit, resp.into_body().collect())
        .await
        .map_err(|_| format!("the body did not end within {limit:?}"))?
        .map_err(|e| format!("reading the body: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A setup request that must answer `expect`.
async fn step(
    d: &TestDaemon,
    method: &str,
    url: &str,
    body: Option<Payload>,
    expect: u16,
) -> Answer {
    let a = send(&d.socket, method, url, body.as_ref(), false, LIMIT)
        .await
        .unwrap_or_else(|e| panic!("setup {method} {url}: {e}"));
    assert_eq!(
        a.status,
        expect,
        "setup {method} {url}: {}",
        snippet(&a.body)
    );
    a
}

fn json_body(v: Value) -> Option<Payload> {
    Some((serde_json::to_vec(&v).unwrap(), "application/json".into()))
}

/// The first bytes of a body, for messages.
fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(300)]);
    let more = if b.len() > 300 { "…" } else { "" };
    format!("{s:?}{more}")
}

/// `s` cut to `n` characters.
fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

// ------------------------------------------------------------------------------------------
// Fixtures

/// A ustar archive of regular files (root-owned, 0644).
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    fn put(h: &mut [u8], at: usize, s: &str) {
        h[at..at + s.len()].copy_from_slice(s.as_bytes());
    }
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        put(&mut h, 0, name);
        put(&mut h, 100, "0000644\0");
        put(&mut h, 108, "0000000\0");
        put(&mut h, 116, "0000000\0");
        put(&mut h, 124, &format!("{:011o}\0", data.len()));
        put(&mut h, 136, &format!("{:011o}\0", 1_700_000_000u64));
        put(&mut h, 148, "        ");
        h[156] = b'0';
        put(&mut h, 257, "ustar\0");
        put(&mut h, 263, "00");
        put(&mut h, 265, "root");
        put(&mut h, 297, "root");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        put(&mut h, 148, &format!("{sum:06o}\0 "));
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A pod for `kube play` (busybox, never pulled when present).
fn kube_yaml(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: docker.io/library/busybox:latest\n    imagePullPolicy: IfNotPresent\n    command:\n    - sleep\n    - \"1000\"\n"
    )
}

/// A stand-in Kubernetes API server on 127.0.0.1 for `kube apply`: every request gets
/// `201 {}`.
async fn fake_kube_api() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then Content-Length bytes of body.
                let (head_end, len) = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                    match c.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                while buf.len() < head_end + len {
                    match c.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = c
                    .write_all(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                    .await;
                let _ = c.shutdown().await;
            });
        }
    });
    (port, task)
}

/// What the setup made that the table refers to.
struct Ctx {
    /// A tag unique to this run, for what is pushed to the shared registry.
    tag: String,
    /// An exec session of the running container for each tree (created, not started).
    exec_compat: String,
    exec_libpod: String,
    /// The digest of the one instance of the manifest list `oa-list`.
    instance: String,
    /// `docker save` of busybox.
    saved: Vec<u8>,
    /// A rootfs tarball to import.
    rootfs: Vec<u8>,
    /// A build context.
    context: Vec<u8>,
    /// A file to upload into a container.
    upload: Vec<u8>,
    /// The kubeconfig pointing at the stand-in API server.
    kubeconfig: String,
}

/// The registry repository of this test's pushes.
const REPO: &str = "127.0.0.1:5000/podapid-openapi";
/// The image every container runs.
const BUSYBOX: &str = "containers-storage:docker.io/library/busybox:latest";

/// Pulls busybox and makes the objects the reads need: a running container `oa-run` (with a
/// volume, a healthcheck and some log output) and `oa-run2`, an exited `oa-stopped`, a
/// never-started `oa-cnet` on the internal network `oa-net0`, the pod `oa-pod` with a
/// member, a secret, exec sessions, the manifest list `oa-list` and a registry tag.
async fn setup(d: &TestDaemon, kube_port: u16) -> Ctx {
    let tag = format!("oa{}", std::process::id());
    let a = step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/images/pull?reference=busybox&quiet=true"),
        None,
        200,
    )
    .await;
    let last = String::from_utf8_lossy(&a.body)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    assert!(last.contains("\"id\""), "pulling busybox: {last}");
    let saved = step(d, "GET", &format!("{COMPAT}/images/busybox/get"), None, 200)
        .await
        .body
        .to_vec();
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/images/busybox/tag?repo={REPO}/bb&tag={tag}"),
        None,
        201,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/volumes/create"),
        json_body(json!({"Name": "oa-vol", "Labels": {"podapid.openapi": "1"}})),
        201,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/networks/create"),
        json_body(json!({"name": "oa-net0", "driver": "bridge", "internal": true})),
        200,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/secrets/create?name=oa-secret"),
        Some((b"s3cret".to_vec(), "application/octet-stream".into())),
        200,
    )
    .await;
    // The running containers.
    step(
        d,
        "POST",
        &format!("{COMPAT}/containers/create?name=oa-run"),
        json_body(json!({
            "Image": "busybox",
            "Cmd": ["sh", "-c", "echo hello; echo oops >&2; exec sleep 1000"],
            "Labels": {"podapid.openapi": "1"},
            "StopTimeout": 1,
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 3_600_000_000_000i64},
            "HostConfig": {"NetworkMode": "none", "Binds": ["oa-vol:/data"]},
        })),
        201,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{COMPAT}/containers/oa-run/start"),
        None,
        204,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/containers/create"),
        json_body(json!({
            "image": "busybox", "name": "oa-run2", "command": ["sleep", "1000"],
            "stop_timeout": 1, "netns": {"nsmode": "none"},
        })),
        201,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/containers/oa-run2/start"),
        None,
        204,
    )
    .await;
    // An exited container.
    step(
        d,
        "POST",
        &format!("{COMPAT}/containers/create?name=oa-stopped"),
        json_body(json!({
            "Image": "busybox", "Cmd": ["sh", "-c", "echo done"],
            "HostConfig": {"NetworkMode": "none"},
        })),
        201,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{COMPAT}/containers/oa-stopped/start"),
        None,
        204,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{COMPAT}/containers/oa-stopped/wait"),
        None,
        200,
    )
    .await;
    // A container on a bridge (internal) network that never runs, for connect/disconnect.
    step(
        d,
        "POST",
        &format!("{COMPAT}/containers/create?name=oa-cnet"),
        json_body(json!({
            "Image": "busybox", "Cmd": ["sleep", "1000"],
            "HostConfig": {"NetworkMode": "oa-net0"},
        })),
        201,
    )
    .await;
    // A pod without a network, with one member.
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/pods/create"),
        json_body(json!({"name": "oa-pod", "netns": {"nsmode": "none"}})),
        201,
    )
    .await;
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/containers/create"),
        json_body(json!({
            "image": "busybox", "name": "oa-pod-member", "pod": "oa-pod",
            "command": ["sleep", "1000"], "stop_timeout": 1,
        })),
        201,
    )
    .await;
    // Exec sessions to start, resize, inspect and remove.
    let exec =
        json!({"Cmd": ["echo", "hello from exec"], "AttachStdout": true, "AttachStderr": true});
    let exec_compat = step(
        d,
        "POST",
        &format!("{COMPAT}/containers/oa-run/exec"),
        json_body(exec.clone()),
        201,
    )
    .await
    .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let exec_libpod = step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/containers/oa-run/exec"),
        json_body(exec),
        201,
    )
    .await
    .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    // A manifest list holding busybox, and its instance's digest.
    step(
        d,
        "POST",
        &format!("{LIBPOD}/libpod/manifests/oa-list"),
        json_body(json!({"images": [BUSYBOX]})),
        201,
    )
    .await;
    let list = step(
        d,
        "GET",
        &format!("{LIBPOD}/libpod/manifests/oa-list/json"),
        None,
        200,
    )
    .await
    .json();
    let instance = list["manifests"][0]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no instance in {list}"))
        .to_string();
    let kubeconfig = d.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: oa\n  cluster:\n    server: http://127.0.0.1:{kube_port}\nusers:\n- name: oa\n  user:\n    token: oa-token\ncontexts:\n- name: oa\n  context:\n    cluster: oa\n    user: oa\ncurrent-context: oa\n"
        ),
    )
    .unwrap();
    Ctx {
        tag,
        exec_compat,
        exec_libpod,
        instance,
        saved,
        rootfs: tar(&[("hello.txt", b"hello\n".as_slice())]),
        context: tar(&[(
            "Dockerfile",
            b"FROM busybox\nLABEL podapid.openapi=1\n".as_slice(),
        )]),
        upload: tar(&[("oa-upload.txt", b"uploaded\n".as_slice())]),
        kubeconfig: kubeconfig.display().to_string(),
    }
}

// ------------------------------------------------------------------------------------------
// The table

/// One call of the table.
struct Call {
    /// The operation, as the document names it: `METHOD /template`.
    op: String,
    /// The method sent (the `*` stubs are documented for every method and called with GET).
    method: String,
    /// The path with its version prefix and query.
    url: String,
    body: Option<Payload>,
    /// The status the call must answer.
    expect: u16,
    /// Read the status and headers only, then drop the connection (endless streams).
    headers_only: bool,
    limit: Duration,
}

impl Call {
    /// A call of `op` on `path` (given without version prefix: libpod paths get `/v4.9.5`,
    /// compat paths `/v1.41`; a path that starts with a version is kept) answering `expect`.
    fn new(op: &str, expect: u16, path: impl AsRef<str>) -> Call {
        let path = path.as_ref();
        let b = path.as_bytes();
        let url = if b.len() > 2 && b[1] == b'v' && b[2].is_ascii_digit() {
            path.to_string()
        } else if path.starts_with("/libpod/") {
            format!("{LIBPOD}{path}")
        } else {
            format!("{COMPAT}{path}")
        };
        Call {
            op: op.to_string(),
            method: op.split(' ').next().unwrap_or("GET").to_string(),
            url,
            body: None,
            expect,
            headers_only: false,
            limit: LIMIT,
        }
    }

    /// The path exactly as given, without a version prefix.
    fn bare(mut self, path: &str) -> Call {
        self.url = path.to_string();
        self
    }

    fn json(mut self, v: Value) -> Call {
        self.body = json_body(v);
        self
    }

    fn bytes(mut self, data: &[u8], content_type: &str) -> Call {
        self.body = Some((data.to_vec(), content_type.to_string()));
        self
    }

    /// Sends another method than the operation's.
    fn via(mut self, method: &str) -> Call {
        self.method = method.to_string();
        self
    }

    fn headers_only(mut self) -> Call {
        self.headers_only = true;
        self
    }

    fn limit(mut self, secs: u64) -> Call {
        self.limit = Duration::from_secs(secs);
        self
    }
}

/// A route served for any method: its five documented operations, each called with GET.
fn stub(t: &mut Vec<Call>, template: &str, path: &str, expect: u16) {
    for m in ["GET", "POST", "PUT", "DELETE", "HEAD"] {
        t.push(Call::new(&format!("{m} {template}"), expect, path).via("GET"));
    }
}

/// One call per operation, reads before what destroys their objects, system prune last.
fn table(c: &Ctx) -> Vec<Call> {
    let tag = &c.tag;
    let label = json!({"podapid.openapi": "1"});
    let mut t = Vec::new();

    // --- System reads.
    t.push(Call::new("GET /_ping", 200, "/_ping"));
    t.push(Call::new("HEAD /_ping", 200, "/_ping"));
    t.push(Call::new("GET /libpod/_ping", 200, "/libpod/_ping"));
    t.push(Call::new("HEAD /libpod/_ping", 200, "/libpod/_ping"));
    t.push(Call::new("GET /version", 200, "/version"));
    t.push(Call::new("GET /libpod/version", 200, "/libpod/version"));
    t.push(Call::new("GET /info", 200, "/info"));
    t.push(Call::new("GET /libpod/info", 200, "/libpod/info"));
    t.push(Call::new("GET /libpod/swagger", 200, "/libpod/swagger"));
    t.push(
        Call::new("POST /auth", 200, "/auth")
            .json(json!({"username": "oa", "password": "oa", "serveraddress": "127.0.0.1:5000"})),
    );

    // --- Creations.
    t.push(
        Call::new(
            "POST /containers/create",
            201,
            "/containers/create?name=oa-cc",
        )
        .json(json!({
            "Image": "busybox", "Cmd": ["sleep", "1000"], "StopTimeout": 1,
            "Labels": label, "HostConfig": {"NetworkMode": "none"},
        })),
    );
    t.push(
        Call::new(
            "POST /libpod/containers/create",
            201,
            "/libpod/containers/create",
        )
        .json(json!({
            "image": "busybox", "name": "oa-cl", "command": ["sleep", "1000"],
            "stop_timeout": 1, "labels": label, "netns": {"nsmode": "none"},
        })),
    );
    t.push(
        Call::new(
            "POST /containers/{name}/exec",
            201,
            "/containers/oa-run/exec",
        )
        .json(json!({"Cmd": ["true"]})),
    );
    t.push(
        Call::new(
            "POST /libpod/containers/{name}/exec",
            201,
            "/libpod/containers/oa-run/exec",
        )
        .json(json!({"Cmd": ["true"], "AttachStdout": true})),
    );
    t.push(
        Call::new("POST /networks/create", 201, "/networks/create").json(json!({
            "Name": "oa-net-c", "Internal": true, "CheckDuplicate": true, "Labels": label,
        })),
    );
    t.push(
        Call::new(
            "POST /libpod/networks/create",
            200,
            "/libpod/networks/create",
        )
        .json(json!({
            "name": "oa-net-l", "driver": "bridge", "internal": true, "labels": label,
        })),
    );
    t.push(
        Call::new("POST /volumes/create", 201, "/volumes/create")
            .json(json!({"Name": "oa-vol-c", "Labels": label})),
    );
    t.push(
        Call::new("POST /libpod/volumes/create", 201, "/libpod/volumes/create")
            .json(json!({"Name": "oa-vol-l", "Labels": label})),
    );
    t.push(
        Call::new("POST /secrets/create", 200, "/secrets/create")
            .json(json!({"Name": "oa-sec-c", "Data": "c2VjcmV0", "Labels": label})),
    );
    t.push(
        Call::new(
            "POST /libpod/secrets/create",
            200,
            "/libpod/secrets/create?name=oa-sec-l",
        )
        .bytes(b"secret", "application/octet-stream"),
    );
    t.push(
        Call::new("POST /libpod/pods/create", 201, "/libpod/pods/create").json(json!({
            "name": "oa-pod2", "labels": label, "netns": {"nsmode": "none"},
        })),
    );
    t.push(
        Call::new(
            "POST /images/create?fromImage={fromImage}",
            200,
            "/images/create?fromImage=busybox&tag=latest",
        )
        .limit(120),
    );
    t.push(
        Call::new(
            "POST /libpod/images/pull",
            200,
            "/libpod/images/pull?reference=busybox",
        )
        .limit(120),
    );
    t.push(
        Call::new(
            "POST /images/create?fromSrc={fromSrc}",
            200,
            "/images/create?fromSrc=-&message=oa",
        )
        .bytes(&c.rootfs, "application/x-tar"),
    );
    t.push(
        Call::new(
            "POST /libpod/images/import",
            200,
            "/libpod/images/import?message=oa",
        )
        .bytes(&c.rootfs, "application/x-tar"),
    );
    t.push(
        Call::new("POST /images/load", 200, "/images/load")
            .bytes(&c.saved, "application/x-tar")
            .limit(120),
    );
    t.push(
        Call::new("POST /libpod/images/load", 200, "/libpod/images/load")
            .bytes(&c.saved, "application/x-tar")
            .limit(120),
    );
    t.push(Call::new(
        "POST /images/{name}/tag",
        201,
        "/images/busybox/tag?repo=localhost/oa-tag&tag=compat",
    ));
    t.push(Call::new(
        "POST /libpod/images/{name}/tag",
        201,
        "/libpod/images/busybox/tag?repo=localhost/oa-tag&tag=libpod",
    ));
    t.push(
        Call::new("POST /build", 200, "/build?t=localhost/oa-built:compat")
            .bytes(&c.context, "application/x-tar")
            .limit(120),
    );
    t.push(
        Call::new(
            "POST /libpod/build",
            200,
            "/libpod/build?t=localhost/oa-built:libpod",
        )
        .bytes(&c.context, "application/x-tar")
        .limit(120),
    );
    t.push(Call::new(
        "POST /commit",
        201,
        "/commit?container=oa-run&repo=localhost/oa-committed&tag=compat&pause=false",
    ));
    t.push(Call::new(
        "POST /libpod/commit",
        200,
        "/libpod/commit?container=oa-run&repo=localhost/oa-committed&tag=libpod",
    ));
    // Manifest lists: the v0-3 routes need a 3.x version prefix.
    t.push(Call::new(
        "POST /libpod/manifests/create",
        200,
        format!("{LIBPOD_V3}/libpod/manifests/create?name=oa-list3"),
    ));
    t.push(Call::new(
        "POST /libpod/manifests/{name}",
        201,
        "/libpod/manifests/oa-list2",
    ));
    t.push(
        Call::new(
            "POST /libpod/manifests/{name}/add",
            200,
            format!("{LIBPOD_V3}/libpod/manifests/oa-list3/add"),
        )
        .json(json!({"images": [BUSYBOX]})),
    );
    let annotate = json!({
        "operation": "annotate",
        "images": [c.instance],
        "annotations": {"podapid.openapi": "1"},
    });
    t.push(
        Call::new(
            "PUT /libpod/manifests/{name}",
            200,
            "/libpod/manifests/oa-list",
        )
        .json(annotate),
    );
    t.push(
        Call::new(
            "POST /libpod/play/kube",
            200,
            "/libpod/play/kube?network=none&start=false",
        )
        .bytes(kube_yaml("oa-kube-a").as_bytes(), "application/yaml"),
    );
    t.push(
        Call::new(
            "POST /libpod/kube/play",
            200,
            "/libpod/kube/play?network=none&start=false",
        )
        .bytes(kube_yaml("oa-kube-b").as_bytes(), "application/yaml"),
    );
    t.push(
        Call::new(
            "PUT /containers/{name}/archive",
            200,
            "/containers/oa-run/archive?path=/tmp",
        )
        .bytes(&c.upload, "application/x-tar"),
    );
    t.push(
        Call::new(
            "PUT /libpod/containers/{name}/archive",
            200,
            "/libpod/containers/oa-run/archive?path=/tmp",
        )
        .bytes(&c.upload, "application/x-tar"),
    );

    // --- Container reads (oa-run runs, oa-stopped exited).
    t.push(Call::new(
        "GET /containers/json",
        200,
        "/containers/json?all=true",
    ));
    t.push(Call::new(
        "GET /libpod/containers/json",
        200,
        "/libpod/containers/json?all=true",
    ));
    t.push(Call::new(
        "GET /containers/{name}/json",
        200,
        "/containers/oa-run/json",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/json",
        200,
        "/libpod/containers/oa-run/json",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/exists",
        204,
        "/libpod/containers/oa-run/exists",
    ));
    t.push(Call::new(
        "GET /containers/{name}/logs",
        200,
        "/containers/oa-run/logs?stdout=true&stderr=true&timestamps=true",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/logs",
        200,
        "/libpod/containers/oa-run/logs?stdout=true&stderr=true",
    ));
    t.push(Call::new(
        "GET /containers/{name}/stats",
        200,
        "/containers/oa-run/stats?stream=false",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/stats",
        200,
        "/libpod/containers/oa-run/stats?stream=false",
    ));
    t.push(Call::new(
        "GET /libpod/containers/stats",
        200,
        "/libpod/containers/stats?containers=oa-run&stream=false",
    ));
    t.push(Call::new(
        "GET /containers/{name}/top",
        200,
        "/containers/oa-run/top",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/top",
        200,
        "/libpod/containers/oa-run/top",
    ));
    t.push(Call::new(
        "GET /containers/{name}/changes",
        200,
        "/containers/oa-run/changes",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/changes",
        200,
        "/libpod/containers/oa-run/changes",
    ));
    t.push(Call::new(
        "GET /containers/{name}/export",
        200,
        "/containers/oa-stopped/export",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/export",
        200,
        "/libpod/containers/oa-stopped/export",
    ));
    t.push(Call::new(
        "GET /containers/{name}/archive",
        200,
        "/containers/oa-run/archive?path=/etc/passwd",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/archive",
        200,
        "/libpod/containers/oa-run/archive?path=/tmp/oa-upload.txt",
    ));
    t.push(Call::new(
        "HEAD /containers/{name}/archive",
        200,
        "/containers/oa-run/archive?path=/etc/passwd",
    ));
    t.push(Call::new(
        "HEAD /libpod/containers/{name}/archive",
        200,
        "/libpod/containers/oa-run/archive?path=/tmp",
    ));
    t.push(Call::new(
        "GET /libpod/containers/showmounted",
        200,
        "/libpod/containers/showmounted",
    ));
    t.push(Call::new(
        "GET /libpod/containers/{name}/healthcheck",
        200,
        "/libpod/containers/oa-run/healthcheck",
    ));
    t.push(Call::new(
        "GET /libpod/generate/{name}/systemd",
        200,
        "/libpod/generate/oa-run/systemd",
    ));
    t.push(Call::new(
        "GET /libpod/generate/kube",
        200,
        "/libpod/generate/kube?names=oa-pod",
    ));
    t.push(Call::new(
        "GET /libpod/kube/generate",
        200,
        "/libpod/kube/generate?names=oa-run",
    ));
    // Attach: the log replayed without streaming; the libpod one streams until the
    // container stops, so only its headers are read.
    t.push(Call::new(
        "POST /containers/{name}/attach",
        200,
        "/containers/oa-run/attach?stream=false&logs=true&stdout=true&stderr=true",
    ));
    t.push(
        Call::new(
            "POST /libpod/containers/{name}/attach",
            200,
            "/libpod/containers/oa-run/attach?stream=true&stdout=true&stderr=true",
        )
        .headers_only()
        .limit(10),
    );
    t.push(Call::new(
        "POST /containers/{name}/resize",
        200,
        "/containers/oa-run/resize?h=24&w=80",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/resize",
        200,
        "/libpod/containers/oa-run/resize?h=24&w=80",
    ));
    t.push(
        Call::new(
            "POST /containers/{name}/wait",
            200,
            "/containers/oa-stopped/wait?condition=not-running",
        )
        .limit(15),
    );
    t.push(
        Call::new(
            "POST /libpod/containers/{name}/wait",
            200,
            "/libpod/containers/oa-stopped/wait",
        )
        .limit(15),
    );
    t.push(Call::new(
        "POST /libpod/containers/{name}/mount",
        200,
        "/libpod/containers/oa-stopped/mount",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/unmount",
        204,
        "/libpod/containers/oa-stopped/unmount",
    ));
    t.push(
        Call::new(
            "POST /containers/{name}/update",
            200,
            "/containers/oa-stopped/update",
        )
        .json(json!({"PidsLimit": 128})),
    );
    t.push(Call::new("POST /build/prune", 200, "/build/prune"));
    t.push(
        Call::new(
            "POST /libpod/containers/{name}/update",
            201,
            "/libpod/containers/oa-stopped/update",
        )
        .json(json!({"pids": {"limit": 128}})),
    );
    // No CRIU driving in podapid: a refusal (501) after the lookup.
    t.push(Call::new(
        "POST /libpod/containers/{name}/checkpoint",
        501,
        "/libpod/containers/oa-run/checkpoint",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/restore",
        501,
        "/libpod/containers/oa-run/restore",
    ));

    // --- Exec sessions (the command ends, so the hijacked streams end).
    let (ec, el) = (&c.exec_compat, &c.exec_libpod);
    t.push(
        Call::new("POST /exec/{id}/start", 200, format!("/exec/{ec}/start"))
            .json(json!({"Detach": false, "Tty": false}))
            .limit(30),
    );
    t.push(
        Call::new(
            "POST /libpod/exec/{id}/start",
            200,
            format!("/libpod/exec/{el}/start"),
        )
        .json(json!({"Detach": false, "Tty": false}))
        .limit(30),
    );
    t.push(Call::new(
        "POST /exec/{id}/resize",
        201,
        format!("/exec/{ec}/resize?h=24&w=80"),
    ));
    t.push(Call::new(
        "POST /libpod/exec/{id}/resize",
        201,
        format!("/libpod/exec/{el}/resize?h=24&w=80"),
    ));
    t.push(Call::new(
        "GET /exec/{id}/json",
        200,
        format!("/exec/{ec}/json"),
    ));
    t.push(Call::new(
        "GET /libpod/exec/{id}/json",
        200,
        format!("/libpod/exec/{el}/json"),
    ));
    t.push(
        Call::new(
            "POST /libpod/exec/{id}/remove",
            200,
            format!("/libpod/exec/{el}/remove"),
        )
        .json(json!({"Force": false})),
    );

    // --- Image reads.
    t.push(Call::new("GET /images/json", 200, "/images/json?all=true"));
    t.push(Call::new(
        "GET /libpod/images/json",
        200,
        "/libpod/images/json?all=true",
    ));
    t.push(Call::new(
        "GET /images/{name}/json",
        200,
        "/images/busybox/json",
    ));
    t.push(Call::new(
        "GET /libpod/images/{name}/json",
        200,
        "/libpod/images/busybox/json",
    ));
    t.push(Call::new(
        "GET /images/{name}/history",
        200,
        "/images/busybox/history",
    ));
    t.push(Call::new(
        "GET /libpod/images/{name}/history",
        200,
        "/libpod/images/busybox/history",
    ));
    t.push(Call::new(
        "GET /libpod/images/{name}/exists",
        204,
        "/libpod/images/busybox/exists",
    ));
    t.push(Call::new(
        "GET /libpod/images/{name}/tree",
        200,
        "/libpod/images/busybox/tree",
    ));
    t.push(Call::new(
        "GET /libpod/images/{name}/changes",
        200,
        "/libpod/images/busybox/changes",
    ));
    t.push(Call::new(
        "GET /images/{name}/get",
        200,
        "/images/busybox/get",
    ));
    t.push(Call::new(
        "GET /images/get",
        200,
        "/images/get?names=busybox",
    ));
    t.push(Call::new(
        "GET /libpod/images/{name}/get",
        200,
        "/libpod/images/busybox/get?format=docker-archive",
    ));
    t.push(Call::new(
        "GET /libpod/images/export",
        200,
        "/libpod/images/export?references=busybox&format=docker-archive",
    ));
    t.push(Call::new(
        "GET /images/search",
        200,
        "/images/search?term=busybox&limit=5",
    ));
    t.push(Call::new(
        "GET /libpod/images/search",
        200,
        "/libpod/images/search?term=busybox&limit=5",
    ));
    // One image store only: scp is refused (501) after the lookup.
    t.push(Call::new(
        "POST /libpod/images/scp/{name}",
        501,
        "/libpod/images/scp/busybox?destination=oa%40localhost%3A%3A",
    ));
    t.push(Call::new(
        "GET /libpod/manifests/{name}/exists",
        204,
        "/libpod/manifests/oa-list/exists",
    ));
    t.push(Call::new(
        "GET /libpod/manifests/{name}/json",
        200,
        "/libpod/manifests/oa-list/json",
    ));

    // --- Network, volume, secret, pod and system reads.
    t.push(Call::new("GET /networks", 200, "/networks"));
    t.push(Call::new("GET /networks/{name}", 200, "/networks/oa-net0"));
    t.push(Call::new(
        "GET /libpod/networks/json",
        200,
        "/libpod/networks/json",
    ));
    t.push(Call::new(
        "GET /libpod/networks/{name}/json",
        200,
        "/libpod/networks/oa-net0/json",
    ));
    t.push(Call::new(
        "GET /libpod/networks/{name}",
        200,
        "/libpod/networks/oa-net0",
    ));
    t.push(Call::new(
        "GET /libpod/networks/{name}/exists",
        204,
        "/libpod/networks/oa-net0/exists",
    ));
    t.push(
        Call::new(
            "POST /libpod/networks/{name}/update",
            204,
            "/libpod/networks/oa-net-l/update",
        )
        .json(json!({"adddnsservers": ["127.0.0.53"]})),
    );
    t.push(Call::new("GET /volumes", 200, "/volumes"));
    t.push(Call::new("GET /volumes/{name}", 200, "/volumes/oa-vol"));
    t.push(Call::new(
        "GET /libpod/volumes/json",
        200,
        "/libpod/volumes/json",
    ));
    t.push(Call::new(
        "GET /libpod/volumes/{name}/json",
        200,
        "/libpod/volumes/oa-vol/json",
    ));
    t.push(Call::new(
        "GET /libpod/volumes/{name}/exists",
        204,
        "/libpod/volumes/oa-vol/exists",
    ));
    t.push(Call::new("GET /secrets", 200, "/secrets"));
    t.push(Call::new("GET /secrets/{name}", 200, "/secrets/oa-secret"));
    t.push(Call::new(
        "GET /libpod/secrets/json",
        200,
        "/libpod/secrets/json",
    ));
    t.push(Call::new(
        "GET /libpod/secrets/{name}/json",
        200,
        "/libpod/secrets/oa-secret/json",
    ));
    t.push(Call::new(
        "GET /libpod/secrets/{name}/exists",
        204,
        "/libpod/secrets/oa-secret/exists",
    ));
    // Podman answers secret updates with 501.
    t.push(Call::new(
        "POST /secrets/{name}/update",
        501,
        "/secrets/oa-secret/update",
    ));
    t.push(Call::new(
        "POST /libpod/pods/{name}/start",
        200,
        "/libpod/pods/oa-pod/start",
    ));
    t.push(Call::new("GET /libpod/pods/json", 200, "/libpod/pods/json"));
    t.push(Call::new(
        "GET /libpod/pods/{name}/json",
        200,
        "/libpod/pods/oa-pod/json",
    ));
    t.push(Call::new(
        "GET /libpod/pods/{name}/exists",
        204,
        "/libpod/pods/oa-pod/exists",
    ));
    t.push(Call::new(
        "GET /libpod/pods/{name}/top",
        200,
        "/libpod/pods/oa-pod/top",
    ));
    t.push(Call::new(
        "GET /libpod/pods/stats",
        200,
        "/libpod/pods/stats?namesOrIDs=oa-pod&stream=false",
    ));
    t.push(Call::new("GET /system/df", 200, "/system/df"));
    t.push(Call::new("GET /libpod/system/df", 200, "/libpod/system/df"));
    t.push(
        Call::new(
            "POST /libpod/kube/apply",
            200,
            format!(
                "/libpod/kube/apply?kubeconfig={}&namespace=oa",
                c.kubeconfig
            ),
        )
        .bytes(kube_yaml("oa-kube-apply").as_bytes(), "application/yaml"),
    );
    // The stubs: 404 for plugins, monitor and distribution, 503 for the swarm prefixes.
    stub(&mut t, "/plugins", "/plugins", 404);
    stub(&mut t, "/monitor", "/monitor", 404);
    stub(
        &mut t,
        "/distribution/{name}/json",
        "/distribution/busybox/json",
        404,
    );
    for prefix in ["configs", "nodes", "services", "swarm", "tasks"] {
        stub(
            &mut t,
            &format!("/{prefix}/{{path}}"),
            &format!("/{prefix}/oa"),
            503,
        );
    }
    stub(&mut t, "/secrets/{path}", "/secrets/oa/x", 503);

    // --- Pushes to the fixture registry.
    t.push(
        Call::new(
            "POST /images/{name}/push",
            200,
            format!("/images/{REPO}/bb/push?tag={tag}"),
        )
        .limit(120),
    );
    t.push(
        Call::new(
            "POST /libpod/images/{name}/push",
            200,
            format!(
                "/libpod/images/busybox/push?destination={REPO}/bb:{tag}-lp&tlsVerify=false&quiet=false"
            ),
        )
        .limit(120),
    );
    t.push(
        Call::new(
            "POST /libpod/manifests/{name}/registry/{destination}",
            200,
            format!(
                "/libpod/manifests/oa-list/registry/{REPO}/list:{tag}?all=true&tlsVerify=false"
            ),
        )
        .limit(120),
    );
    t.push(
        Call::new(
            "POST /libpod/manifests/{name}/push",
            200,
            format!(
                "{LIBPOD_V3}/libpod/manifests/oa-list3/push?destination={REPO}/list3:{tag}&all=true&tlsVerify=false"
            ),
        )
        .limit(120),
    );

    // --- Lifecycle of the containers created above (oa-cc compat, oa-cl libpod).
    t.push(Call::new(
        "POST /containers/{name}/start",
        204,
        "/containers/oa-cc/start",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/init",
        204,
        "/libpod/containers/oa-cl/init",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/start",
        204,
        "/libpod/containers/oa-cl/start",
    ));
    t.push(Call::new(
        "POST /containers/{name}/pause",
        204,
        "/containers/oa-cc/pause",
    ));
    t.push(Call::new(
        "POST /containers/{name}/unpause",
        204,
        "/containers/oa-cc/unpause",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/pause",
        204,
        "/libpod/containers/oa-cl/pause",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/unpause",
        204,
        "/libpod/containers/oa-cl/unpause",
    ));
    t.push(Call::new(
        "POST /containers/{name}/restart",
        204,
        "/containers/oa-cc/restart?t=1",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/restart",
        204,
        "/libpod/containers/oa-cl/restart?t=1",
    ));
    t.push(Call::new(
        "POST /containers/{name}/rename",
        204,
        "/containers/oa-cc/rename?name=oa-cc2",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/rename",
        204,
        "/libpod/containers/oa-cl/rename?name=oa-cl2",
    ));
    // The pod: pause, unpause, stop, restart (all running again), kill.
    t.push(Call::new(
        "POST /libpod/pods/{name}/pause",
        200,
        "/libpod/pods/oa-pod/pause",
    ));
    t.push(Call::new(
        "POST /libpod/pods/{name}/unpause",
        200,
        "/libpod/pods/oa-pod/unpause",
    ));
    t.push(Call::new(
        "POST /libpod/pods/{name}/stop",
        200,
        "/libpod/pods/oa-pod/stop?t=1",
    ));
    t.push(Call::new(
        "POST /libpod/pods/{name}/restart",
        200,
        "/libpod/pods/oa-pod/restart",
    ));
    t.push(Call::new(
        "POST /libpod/pods/{name}/kill",
        200,
        "/libpod/pods/oa-pod/kill",
    ));

    // --- Destructive calls.
    t.push(
        Call::new(
            "POST /networks/{name}/connect",
            200,
            "/networks/oa-net-c/connect",
        )
        .json(json!({"Container": "oa-cnet", "EndpointConfig": {"Aliases": ["oa-alias"]}})),
    );
    t.push(
        Call::new(
            "POST /libpod/networks/{name}/connect",
            200,
            "/libpod/networks/oa-net-l/connect",
        )
        .json(json!({"container": "oa-cnet", "aliases": ["oa-alias"]})),
    );
    t.push(
        Call::new(
            "POST /networks/{name}/disconnect",
            200,
            "/networks/oa-net-c/disconnect",
        )
        .json(json!({"Container": "oa-cnet", "Force": false})),
    );
    t.push(
        Call::new(
            "POST /libpod/networks/{name}/disconnect",
            200,
            "/libpod/networks/oa-net-l/disconnect",
        )
        .json(json!({"Container": "oa-cnet"})),
    );
    t.push(Call::new(
        "DELETE /networks/{name}",
        204,
        "/networks/oa-net-c",
    ));
    t.push(Call::new(
        "DELETE /libpod/networks/{name}",
        200,
        "/libpod/networks/oa-net-l",
    ));
    t.push(
        Call::new("DELETE /libpod/play/kube", 200, "/libpod/play/kube")
            .bytes(kube_yaml("oa-kube-a").as_bytes(), "application/yaml"),
    );
    t.push(
        Call::new("DELETE /libpod/kube/play", 200, "/libpod/kube/play")
            .bytes(kube_yaml("oa-kube-b").as_bytes(), "application/yaml"),
    );
    t.push(Call::new(
        "DELETE /libpod/pods/{name}",
        200,
        "/libpod/pods/oa-pod?force=true",
    ));
    t.push(Call::new(
        "POST /libpod/pods/prune",
        200,
        "/libpod/pods/prune",
    ));
    t.push(Call::new(
        "POST /containers/{name}/kill",
        204,
        "/containers/oa-cc2/kill",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/kill",
        204,
        "/libpod/containers/oa-cl2/kill",
    ));
    t.push(Call::new(
        "POST /containers/{name}/stop",
        204,
        "/containers/oa-run/stop?t=1",
    ));
    t.push(Call::new(
        "POST /libpod/containers/{name}/stop",
        204,
        "/libpod/containers/oa-run2/stop?timeout=1",
    ));
    t.push(Call::new(
        "DELETE /containers/{name}",
        204,
        "/containers/oa-cc2?force=true",
    ));
    t.push(Call::new(
        "DELETE /libpod/containers/{name}",
        200,
        "/libpod/containers/oa-cl2?force=true",
    ));
    t.push(Call::new(
        "POST /containers/prune",
        200,
        "/containers/prune",
    ));
    t.push(Call::new(
        "POST /libpod/containers/prune",
        200,
        "/libpod/containers/prune",
    ));
    t.push(Call::new(
        "POST /libpod/images/{name}/untag",
        201,
        "/libpod/images/localhost/oa-tag:libpod/untag?repo=localhost/oa-tag&tag=libpod",
    ));
    t.push(Call::new(
        "DELETE /images/{name}",
        200,
        "/images/localhost/oa-tag:compat",
    ));
    t.push(Call::new(
        "DELETE /libpod/images/{name}",
        200,
        "/libpod/images/localhost/oa-built:libpod",
    ));
    t.push(Call::new(
        "DELETE /libpod/images/remove",
        200,
        "/libpod/images/remove?images=localhost/oa-built:compat",
    ));
    t.push(Call::new("POST /images/prune", 200, "/images/prune"));
    t.push(Call::new(
        "POST /libpod/images/prune",
        200,
        "/libpod/images/prune",
    ));
    t.push(Call::new(
        "DELETE /libpod/manifests/{name}",
        200,
        "/libpod/manifests/oa-list2",
    ));
    t.push(Call::new(
        "DELETE /volumes/{name}",
        204,
        "/volumes/oa-vol-c",
    ));
    t.push(Call::new(
        "DELETE /libpod/volumes/{name}",
        204,
        "/libpod/volumes/oa-vol-l",
    ));
    t.push(Call::new("POST /volumes/prune", 200, "/volumes/prune"));
    t.push(Call::new(
        "POST /libpod/volumes/prune",
        200,
        "/libpod/volumes/prune",
    ));
    // Compat secret removal: versioned path for `/secrets/{name}`, bare for `/secret/{name}`.
    t.push(Call::new(
        "DELETE /secrets/{name}",
        204,
        "/secrets/oa-sec-c",
    ));
    t.push(Call::new("DELETE /secret/{name}", 204, "").bare("/secret/oa-sec-l"));
    t.push(Call::new(
        "DELETE /libpod/secrets/{name}",
        204,
        "/libpod/secrets/oa-secret",
    ));
    t.push(Call::new("POST /networks/prune", 200, "/networks/prune"));
    t.push(Call::new(
        "POST /libpod/networks/prune",
        200,
        "/libpod/networks/prune",
    ));
    // The events of all of the above, without streaming.
    t.push(Call::new(
        "GET /events",
        200,
        "/events?stream=false&since=10m",
    ));
    t.push(Call::new(
        "GET /libpod/events",
        200,
        "/libpod/events?stream=false&since=10m",
    ));
    // Last: everything left that is unused goes.
    t.push(
        Call::new(
            "POST /libpod/system/prune",
            200,
            "/libpod/system/prune?all=true&volumes=true",
        )
        .limit(120),
    );
    t
}

// ------------------------------------------------------------------------------------------
// OpenAPI 3.0 → JSON Schema 2020-12

/// Converts a schema: `nullable: true` (also next to `$ref`/`allOf`) becomes
/// `anyOf: [schema, {type: null}]`; array-form `items` (OpenAPI's tuples) becomes
/// `prefixItems`, its `additionalItems` the `items`.
fn conv(s: &Value) -> Value {
    let Value::Object(m) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        let v = match k.as_str() {
            "nullable" => continue,
            // Maps of names to schemas: the names are not keywords.
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                conv_map(v)
            }
            "items"
            | "additionalItems"
            | "additionalProperties"
            | "not"
            | "contains"
            | "propertyNames"
            | "if"
            | "then"
            | "else"
            | "unevaluatedItems"
            | "unevaluatedProperties"
            | "allOf"
            | "anyOf"
            | "oneOf"
            | "prefixItems" => conv_any(v),
            // Values (enum, const, example, default...) and annotations stay as they are.
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    if matches!(out.get("items"), Some(Value::Array(_))) {
        if let Some(items) = out.remove("items") {
            out.insert("prefixItems".into(), items);
        }
        if let Some(rest) = out.remove("additionalItems") {
            out.insert("items".into(), rest);
        }
    }
    let s = Value::Object(out);
    if m.get("nullable") == Some(&Value::Bool(true)) {
        json!({"anyOf": [s, {"type": "null"}]})
    } else {
        s
    }
}

/// A schema or a list of schemas.
fn conv_any(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(conv).collect()),
        other => conv(other),
    }
}

/// A map of names to schemas.
fn conv_map(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), conv(x))).collect()),
        other => other.clone(),
    }
}

/// Whether a documented schema describes opaque bytes.
fn is_binary(schema: &Value) -> bool {
    schema.get("type") == Some(&json!("string")) && schema.get("format") == Some(&json!("binary"))
}

/// Whether the answer's Content-Type is the documented media type.
fn same_media(documented: &str, actual: &str) -> bool {
    let base = |s: &str| {
        s.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let (d, a) = (base(documented), base(actual));
    d == a || (DOCKER_STREAMS.contains(&d.as_str()) && DOCKER_STREAMS.contains(&a.as_str()))
}

/// The operations of the document: `METHOD /template` → operation object.
fn operations(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (template, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "head" | "patch" | "options" | "trace"
            ) {
                out.insert(
                    format!("{} {template}", method.to_ascii_uppercase()),
                    op.clone(),
                );
            }
        }
    }
    out
}

/// Checks answers against the document and keeps the failures.
struct Checker {
    /// The document's component schemas, converted.
    components: Value,
    /// Successful JSON answers validated against their schema (a stream counts once).
    validated: usize,
    /// JSON-lines values validated.
    lines: usize,
    /// Error answers validated against the `ErrorModel` envelope.
    envelopes: usize,
    failures: Vec<String>,
}

impl Checker {
    fn new(doc: &Value) -> Checker {
        Checker {
            components: conv_map(&doc["components"]["schemas"]),
            validated: 0,
            lines: 0,
            envelopes: 0,
            failures: Vec::new(),
        }
    }

    /// A validator for a documented schema whose `#/components/schemas/...` refs resolve.
    fn validator(&self, schema: &Value) -> Result<jsonschema::Validator, String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": "#/$defs/response",
            "$defs": {"response": conv(schema)},
            "components": {"schemas": self.components},
        });
        jsonschema::validator_for(&root).map_err(|e| cut(&e.to_string(), 300))
    }

    fn check(&mut self, call: &Call, a: &Answer, operation: &Value) {
        let mut problems = Vec::new();
        if a.status != call.expect {
            problems.push(format!("expected {}", call.expect));
        }
        let responses = &operation["responses"];
        let resp = match responses.get(a.status.to_string()) {
            Some(r) => Some(r),
            None if a.status >= 400 => responses.get("default"),
            None => {
                problems.push(format!("status {} is not documented", a.status));
                None
            }
        };
        if let Some(resp) = resp {
            self.check_content(call, a, resp, &mut problems);
        }
        if !problems.is_empty() {
            self.failures.push(format!(
                "{} | {} {} -> {} {:?}: {}\n    body: {}",
                call.op,
                call.method,
                call.url,
                a.status,
                a.content_type(),
                problems.join("; "),
                snippet(&a.body)
            ));
        }
    }

    fn check_content(&mut self, call: &Call, a: &Answer, resp: &Value, problems: &mut Vec<String>) {
        if call.method == "HEAD" {
            return;
        }
        let content = resp
            .get("content")
            .and_then(Value::as_object)
            .filter(|c| !c.is_empty());
        let Some(content) = content else {
            if !a.body.is_empty() {
                problems.push(format!(
                    "documented without a body, but {} bytes came",
                    a.body.len()
                ));
            }
            return;
        };
        let ctype = a.content_type();
        let entry = match content.iter().find(|(m, _)| same_media(m, ctype)) {
            Some((_, e)) => e,
            None => {
                problems.push(format!(
                    "Content-Type {ctype:?} is not the documented {:?}",
                    content.keys().collect::<Vec<_>>()
                ));
                match content.values().next() {
                    Some(e) => e,
                    None => return,
                }
            }
        };
        if call.headers_only {
            return;
        }
        let Some(schema) = entry.get("schema") else {
            return;
        };
        let lines = resp.get("x-json-lines") == Some(&Value::Bool(true));
        if !lines && is_binary(schema) {
            return;
        }
        let validator = match self.validator(schema) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("the documented schema does not compile: {e}"));
                return;
            }
        };
        let mut errors = Vec::new();
        if lines {
            let text = String::from_utf8_lossy(&a.body);
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => {
                        self.lines += 1;
                        errors.extend(
                            schema_errors(&validator, &v)
                                .into_iter()
                                .map(|e| format!("line {}: {e}", i + 1)),
                        );
                    }
                    Err(e) => errors.push(format!("line {}: not JSON ({e})", i + 1)),
                }
            }
        } else {
            match serde_json::from_slice::<Value>(&a.body) {
                Ok(v) => errors.extend(schema_errors(&validator, &v)),
                Err(e) => errors.push(format!("the body is not JSON ({e})")),
            }
        }
        if a.status >= 400 {
            self.envelopes += 1;
        } else {
            self.validated += 1;
        }
        let n = errors.len();
        problems.extend(errors.into_iter().take(8));
        if n > 8 {
            problems.push(format!("... and {} more schema errors", n - 8));
        }
    }
}

/// What makes `v` invalid: `instance path (schema path): message` each.
fn schema_errors(validator: &jsonschema::Validator, v: &Value) -> Vec<String> {
    validator
        .iter_errors(v)
        .map(|e| {
            let at = e.instance_path().as_str();
            format!(
                "{} ({}): {}",
                if at.is_empty() { "/" } else { at },
                e.schema_path().as_str(),
                cut(&e.to_string(), 200)
            )
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// The test

/// Removes what the table may have left (best effort; the harness reaps the rest).
async fn cleanup(d: &TestDaemon) {
    let mut urls = Vec::new();
    for c in [
        "oa-run",
        "oa-run2",
        "oa-stopped",
        "oa-cnet",
        "oa-cc",
        "oa-cc2",
        "oa-cl",
        "oa-cl2",
        "oa-pod-member",
    ] {
        urls.push(format!(
            "{LIBPOD}/libpod/containers/{c}?force=true&ignore=true&timeout=0"
        ));
    }
    for p in ["oa-pod", "oa-pod2", "oa-kube-a", "oa-kube-b"] {
        urls.push(format!("{LIBPOD}/libpod/pods/{p}?force=true&timeout=0"));
    }
    for m in ["oa-list", "oa-list2", "oa-list3"] {
        urls.push(format!("{LIBPOD}/libpod/manifests/{m}"));
    }
    for n in ["oa-net0", "oa-net-c", "oa-net-l"] {
        urls.push(format!("{LIBPOD}/libpod/networks/{n}?force=true"));
    }
    for v in ["oa-vol", "oa-vol-c", "oa-vol-l"] {
        urls.push(format!("{LIBPOD}/libpod/volumes/{v}?force=true"));
    }
    for s in ["oa-secret", "oa-sec-c", "oa-sec-l"] {
        urls.push(format!("{LIBPOD}/libpod/secrets/{s}"));
    }
    for u in urls {
        let _ = send(&d.socket, "DELETE", &u, None, false, LIMIT).await;
    }
    let _ = send(
        &d.socket,
        "POST",
        &format!("{LIBPOD}/libpod/images/prune?all=true"),
        None,
        false,
        LIMIT,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_documented() {
    let started = Instant::now();
    let d = TestDaemon::start().await;
    let doc = send(
        &d.socket,
        "GET",
        &format!("{LIBPOD}/libpod/swagger"),
        None,
        false,
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(doc.status, 200, "the document: {}", snippet(&doc.body));
    let doc = doc.json();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "not an OpenAPI 3 document: {}",
        cut(&doc.to_string(), 300)
    );
    let documented = operations(&doc);

    let (kube_port, kube_api) = fake_kube_api().await;
    let ctx = setup(&d, kube_port).await;
    let calls = table(&ctx);

    let mut checker = Checker::new(&doc);
    let mut seen = BTreeSet::new();
    for c in &calls {
        if !seen.insert(c.op.as_str()) {
            checker
                .failures
                .push(format!("{} | a second table entry", c.op));
        }
    }
    let mut slow = Vec::new();
    for c in &calls {
        let t0 = Instant::now();
        let answer = send(
            &d.socket,
            &c.method,
            &c.url,
            c.body.as_ref(),
            c.headers_only,
            c.limit,
        )
        .await;
        let took = t0.elapsed();
        if took > Duration::from_secs(5) {
            slow.push(format!("{} {:.1}s", c.op, took.as_secs_f64()));
        }
        match (answer, documented.get(&c.op)) {
            (Err(e), _) => checker
                .failures
                .push(format!("{} | {} {}: {e}", c.op, c.method, c.url)),
            (Ok(a), Some(op)) => checker.check(c, &a, op),
            (Ok(a), None) => checker.failures.push(format!(
                "{} | not an operation of the document ({} {} -> {})",
                c.op, c.method, c.url, a.status
            )),
        }
    }
    let missing: Vec<&String> = documented
        .keys()
        .filter(|k| !seen.contains(k.as_str()))
        .collect();

    cleanup(&d).await;
    kube_api.abort();

    eprintln!(
        "openapi: {} operations documented, {} calls made in {:.1}s; {} answers validated against their schema ({} JSON-lines values), {} error envelopes validated",
        documented.len(),
        calls.len(),
        started.elapsed().as_secs_f64(),
        checker.validated,
        checker.lines,
        checker.envelopes
    );
    if !slow.is_empty() {
        eprintln!("slow calls: {}", slow.join(", "));
    }
    for f in &checker.failures {
        eprintln!("FAIL {f}");
    }
    assert!(
        missing.is_empty(),
        "operations of the document without a table entry: {missing:?}"
    );
    assert!(
        checker.failures.is_empty(),
        "{} of {} calls do not answer as documented:\n{}",
        checker.failures.len(),
        calls.len(),
        checker.failures.join("\n")
    );
}
