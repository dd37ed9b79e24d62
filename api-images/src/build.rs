//! Image builds: `POST /build` (compat) and `POST /libpod/build`.
//!
//! The body (the context tar, possibly compressed) is spooled to a file, the query decoded
//! into [`BuildOptions`] (names as Podman 4.9.5's handler reads them; others ignored), the
//! build runs in a task and its [`BuildEvent`]s stream as JSON lines in Podman's shape on
//! both trees — buildah's `STEP n/N: ...` lines, RUN output, `--> <id>`, `COMMIT <name>`,
//! `Successfully tagged`, then the image ID — with Docker's `{"aux":{"ID":"sha256:..."}}`,
//! `Successfully built` and `Successfully tagged <tag>` lines added on the compat tree.
//! With `q`, only the image ID is shown (a failed build also shows the RUN steps' stderr).
//! A failure after the stream started is an in-stream `{"error","errorDetail"}` line.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use api_core::{ApiError, ApiResult, AppState, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use engine::build::{BuildEvent, BuildNetwork, BuildOptions, PullPolicy};
use engine::images::{Credentials, ImageRecord, ImageRef, Platform, PullProgress};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// `POST /build`: Docker's build endpoint.
pub(crate) async fn compat_build(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Query,
    body: Body,
) -> ApiResult<Response> {
    build(st, headers, q, body, false).await
}

/// `POST /libpod/build`: Podman's build endpoint.
pub(crate) async fn libpod_build(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Query,
    body: Body,
) -> ApiResult<Response> {
    build(st, headers, q, body, true).await
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

fn stream(text: String) -> Value {
    json!({ "stream": text })
}

/// Podman's 400 for a query parameter that does not decode.
fn bad_param(key: &str, value: &str, cause: String) -> ApiError {
    ApiError::with_cause(
        StatusCode::BAD_REQUEST,
        cause.clone(),
        format!("failed to parse query parameter '{key}': {value:?}: {cause}"),
    )
}

/// A JSON object of strings (`buildargs`); `null` values are dropped.
fn json_map(q: &Query, key: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(raw) = q.get(key).filter(|s| !s.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let m: BTreeMap<String, Option<String>> = serde_json::from_str(raw)
        .map_err(|e| bad_param(key, raw, api_core::query::go_json_error(&e, raw)))?;
    Ok(m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

/// `labels`: a JSON object, or a JSON list of `key=value`.
fn labels(q: &Query) -> ApiResult<BTreeMap<String, String>> {
    let Some(raw) = q.get("labels").filter(|s| !s.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    if let Ok(m) = serde_json::from_str::<BTreeMap<String, String>>(raw) {
        return Ok(m);
    }
    let list: Vec<String> = serde_json::from_str(raw)
        .map_err(|e| bad_param("labels", raw, api_core::query::go_json_error(&e, raw)))?;
    Ok(list
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect())
}

/// The first `platform` (`os/arch[/variant]`, comma-separated lists allowed).
fn platform(q: &Query) -> ApiResult<Option<Platform>> {
    let Some(p) = q
        .all("platform")
        .into_iter()
        .flat_map(|v| {
            v.split(',')
                .map(str::trim)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        // podman's client sends `/` for "no platform given".
        .find(|v| !v.is_empty() && v != "/")
    else {
        return Ok(None);
    };
    Platform::parse(&p)
        .map(Some)
        .ok_or_else(|| bad_param("platform", &p, format!("invalid platform {p:?}")))
}

/// Registry credentials: `X-Registry-Auth` for any registry, `X-Registry-Config` (a
/// base64 JSON map of registry → `{username, password}` or `{auth}`) per registry.
fn credentials(headers: &HeaderMap) -> BTreeMap<String, Credentials> {
    let mut out = BTreeMap::new();
    if let Some(c) = crate::pull::registry_auth(headers) {
        out.insert(String::new(), c);
    }
    let Some(raw) = headers
        .get("x-registry-config")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return out;
    };
    let decoded = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    if let Some(Value::Object(m)) = decoded {
        for (registry, entry) in m {
            let user = entry["username"].as_str().unwrap_or_default();
            let creds = if user.is_empty() {
                entry["auth"]
                    .as_str()
                    .and_then(engine::images::auth::decode_auth)
            } else {
                Some(Credentials {
                    username: user.to_string(),
                    password: entry["password"].as_str().unwrap_or_default().to_string(),
                })
            };
            if let Some(c) = creds {
                out.insert(registry, c);
            }
        }
    }
    out
}

/// The build options a request asks for.
fn options(
    q: &Query,
    headers: &HeaderMap,
    libpod: bool,
    tags: Vec<String>,
) -> ApiResult<BuildOptions> {
    for t in &tags {
        ImageRef::parse_normalized(t).map_err(|e| bad_param("t", t, e.to_string()))?;
    }
    let dockerfiles = match q.get("dockerfile").filter(|d| !d.is_empty()) {
        // Podman accepts a JSON list of files as well as one path.
        Some(d) => serde_json::from_str::<Vec<String>>(d).unwrap_or_else(|_| vec![d.to_string()]),
        // libpod looks for `Containerfile`, then `Dockerfile`; Docker's default is fixed.
        None if libpod => Vec::new(),
        None => vec!["Dockerfile".to_string()],
    };
    let pull = if libpod {
        match q.string("pullpolicy") {
            Some(p) => PullPolicy::parse(&p)
                .ok_or_else(|| bad_param("pullpolicy", &p, format!("unknown pull policy {p:?}")))?,
            None => PullPolicy::Missing,
        }
    } else if q.bool_or("pull", false)? {
        PullPolicy::Always
    } else {
        PullPolicy::Missing
    };
    Ok(BuildOptions {
        dockerfiles,
        tags,
        target: q.string("target"),
        labels: labels(q)?,
        build_args: json_map(q, "buildargs")?,
        no_cache: q.bool_or("nocache", false)?,
        // Docker clients do not send `layers`: caching is their default.
        layers: q.bool("layers")?.unwrap_or(!libpod),
        pull,
        keep_containers: !q.bool_or("rm", true)?,
        force_rm: q.bool_or("forcerm", false)?,
        network: BuildNetwork::parse(q.get("networkmode").unwrap_or_default()),
        squash: q.bool_or("squash", false)?,
        platform: platform(q)?,
        compat: !libpod,
        credentials: credentials(headers),
    })
}

/// Turns build events into the JSON lines of one response.
struct Render {
    libpod: bool,
    quiet: bool,
    /// The tags as the client gave them (compat's closing lines).
    tags: Vec<String>,
    /// stderr of RUN steps held back in quiet mode, shown when the build fails.
    held: Vec<String>,
    /// Blobs already announced while pulling.
    seen: HashSet<String>,
}

fn lock(r: &Mutex<Render>) -> MutexGuard<'_, Render> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// The text buildah prints for a pull event, if any.
fn pull_line(ev: &PullProgress, seen: &mut HashSet<String>) -> Option<String> {
    Some(match ev {
        PullProgress::Trying(s) => format!("Trying to pull {s}...\n"),
        PullProgress::Resolved(_) => "Getting image source signatures\n".to_string(),
        PullProgress::LayerExists { id } => format!("Copying blob {id} skipped: already exists\n"),
        PullProgress::LayerDownloading { id, .. } | PullProgress::LayerDownloaded { id } => {
            if !seen.insert(id.clone()) {
                return None;
            }
            format!("Copying blob {id}\n")
        }
        PullProgress::Done { id, .. } => format!(
            "Copying config {}\nWriting manifest to image destination\n",
            short(id)
        ),
        PullProgress::LayerExtracting { .. } | PullProgress::LayerDone { .. } => return None,
    })
}

impl Render {
    fn event(&mut self, ev: BuildEvent) -> Vec<Value> {
        if self.quiet {
            match ev {
                BuildEvent::Done(id) => return vec![stream(format!("{id}\n"))],
                BuildEvent::Output { text, stderr: true } => self.held.push(text),
                _ => {}
            }
            return Vec::new();
        }
        let text = match ev {
            BuildEvent::Step {
                stage,
                stages,
                step,
                steps,
                text,
            } => {
                let prefix = if stages > 1 {
                    format!("[{stage}/{stages}] ")
                } else {
                    String::new()
                };
                format!("{prefix}STEP {step}/{steps}: {text}\n")
            }
            BuildEvent::Output { text, .. } => text,
            BuildEvent::Pull(p) => match pull_line(&p, &mut self.seen) {
                Some(t) => t,
                None => return Vec::new(),
            },
            BuildEvent::UsingCache(id) => format!("--> Using cache {id}\n"),
            BuildEvent::Commit(name) if name.is_empty() => "COMMIT\n".to_string(),
            BuildEvent::Commit(name) => format!("COMMIT {name}\n"),
            BuildEvent::Image(id) => format!("--> {}\n", short(&id)),
            BuildEvent::Tagged(name) => format!("Successfully tagged {name}\n"),
            BuildEvent::Warning(w) => format!("[Warning] {w}\n"),
            BuildEvent::Done(id) => format!("{id}\n"),
        };
        vec![stream(text)]
    }

    /// The closing lines once the build returned.
    fn finish(&mut self, res: engine::Result<ImageRecord>) -> Vec<Value> {
        match res {
            Ok(img) if !self.libpod && !self.quiet => {
                let mut out = vec![
                    json!({"aux": {"ID": format!("sha256:{}", img.id)}}),
                    stream(format!("Successfully built {}\n", short(&img.id))),
                ];
                for t in &self.tags {
                    out.push(stream(format!("Successfully tagged {t}\n")));
                }
                out
            }
            Ok(_) => Vec::new(),
            Err(e) => {
                // Like Podman: the held-back step errors, then the error itself.
                let mut out: Vec<Value> = self.held.drain(..).map(stream).collect();
                let msg = format!("{e}\n");
                out.push(json!({"error": msg, "errorDetail": {"message": msg}}));
                out
            }
        }
    }
}

async fn build(
    st: AppState,
    headers: HeaderMap,
    q: Query,
    body: Body,
    libpod: bool,
) -> ApiResult<Response> {
    // The context is read whole before any refusal: answering while the client still
    // sends would reset the connection instead of delivering the error.
    let context = api_core::stream::spool(&st.service.tmp_dir(), body).await?;
    if libpod {
        if let Some(ct) = headers.get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default();
            if ct != "application/x-tar" && ct != "application/tar" {
                let cause =
                    format!("Content-Type: {ct} is not supported. Should be \"application/x-tar\"");
                return Err(bad_param("Content-Type", ct, cause));
            }
        }
        if let Some(remote) = q.string("remote") {
            return Err(bad_param(
                "remote",
                &remote,
                "building from a remote context is not supported: the daemon has no network access; send the context as the request body".into(),
            ));
        }
    }
    let quiet = q.bool_or("q", false)?;
    let tags: Vec<String> = q.all("t").into_iter().filter(|t| !t.is_empty()).collect();
    let opts = options(&q, &headers, libpod, tags.clone())?;
    let (tx, mut rx) = mpsc::channel::<BuildEvent>(256);
    let images = st.images.clone();
    let task = tokio::spawn(async move {
        let res = images.build(context.to_path_buf(), opts, tx).await;
        drop(context);
        res
    });
    let render = Arc::new(Mutex::new(Render {
        libpod,
        quiet,
        tags,
        held: Vec::new(),
        seen: HashSet::new(),
    }));
    let r2 = render.clone();
    let events = futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(move |ev| futures::stream::iter(lock(&r2).event(ev)))
        .flatten();
    let tail = futures::stream::once(async move {
        let res = task
            .await
            .unwrap_or_else(|e| Err(engine::Error::Internal(format!("build task: {e}"))));
        futures::stream::iter(lock(&render).finish(res))
    })
    .flatten();
    Ok(api_core::stream::json_lines(events.chain(tail)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn render(libpod: bool, quiet: bool) -> Render {
        Render {
            libpod,
            quiet,
            tags: vec!["test:test".into()],
            held: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn texts(v: &[Value]) -> Vec<String> {
        v.iter()
            .map(|x| x["stream"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn podman_lines() {
        let mut r = render(true, false);
        let step = |stages| BuildEvent::Step {
            stage: 1,
            stages,
            step: 1,
            steps: 2,
            text: "FROM busybox".into(),
        };
        assert_eq!(texts(&r.event(step(1))), ["STEP 1/2: FROM busybox\n"]);
        assert_eq!(texts(&r.event(step(2))), ["[1/2] STEP 1/2: FROM busybox\n"]);
        let id = "a".repeat(64);
        assert_eq!(
            texts(&r.event(BuildEvent::Image(id.clone()))),
            ["--> aaaaaaaaaaaa\n"]
        );
        assert_eq!(
            texts(&r.event(BuildEvent::Commit(String::new()))),
            ["COMMIT\n"]
        );
        assert_eq!(
            texts(&r.event(BuildEvent::Done(id.clone()))),
            [format!("{id}\n")]
        );
        let mut seen = HashSet::new();
        let dl = PullProgress::LayerDownloaded { id: "abc".into() };
        assert_eq!(
            pull_line(&dl, &mut seen).as_deref(),
            Some("Copying blob abc\n")
        );
        assert_eq!(pull_line(&dl, &mut seen), None);
    }

    #[test]
    fn compat_closing_lines_and_quiet_mode() {
        let img = ImageRecord {
            id: "b".repeat(64),
            digest: String::new(),
            manifest_media_type: String::new(),
            repo_digests: Vec::new(),
            config: Value::Null,
            layers: Vec::new(),
            size: 0,
            created: chrono::Utc::now(),
            added: chrono::Utc::now(),
            names: Vec::new(),
        };
        let out = render(false, false).finish(Ok(img.clone()));
        assert_eq!(
            out[0],
            json!({"aux": {"ID": format!("sha256:{}", "b".repeat(64))}})
        );
        assert_eq!(
            texts(&out[1..]),
            [
                "Successfully built bbbbbbbbbbbb\n",
                "Successfully tagged test:test\n"
            ]
        );
        assert!(render(true, false).finish(Ok(img.clone())).is_empty());
        let mut q = render(false, true);
        assert!(q
            .event(BuildEvent::Output {
                text: "some error\n".into(),
                stderr: true
            })
            .is_empty());
        assert!(q
            .event(BuildEvent::Step {
                stage: 1,
                stages: 1,
                step: 1,
                steps: 1,
                text: "FROM x".into()
            })
            .is_empty());
        assert_eq!(
            texts(&q.event(BuildEvent::Done("c".repeat(64)))),
            [format!("{}\n", "c".repeat(64))]
        );
        assert!(
            q.finish(Ok(img)).is_empty(),
            "quiet success shows only the ID"
        );
        let out = q.finish(Err(engine::Error::Runtime("boom".into())));
        assert_eq!(texts(&out[..1]), ["some error\n"]);
        assert_eq!(out[1]["error"], json!("boom\n"));
        assert_eq!(out[1]["errorDetail"]["message"], json!("boom\n"));
    }

    #[test]
    fn query_decoding() {
        let h = HeaderMap::new();
        let q = Query::parse(
            "t=a:1&t=b&dockerfile=%5B%22x%22%2C%22y%22%5D&buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&labels=%5B%22k%3Dv%22%5D&rm=0&networkmode=host&platform=linux%2Farm64",
        );
        let o = options(&q, &h, false, q.all("t")).unwrap();
        assert_eq!(o.tags, ["a:1", "b"]);
        assert_eq!(o.dockerfiles, ["x", "y"]);
        assert_eq!(o.build_args.get("A").map(String::as_str), Some("1"));
        assert!(!o.build_args.contains_key("B"));
        assert_eq!(o.labels.get("k").map(String::as_str), Some("v"));
        assert!(o.keep_containers && o.layers && o.compat);
        assert_eq!(o.network, BuildNetwork::Host);
        assert_eq!(o.platform.unwrap().arch, "arm64");
        let q = Query::parse("dockerfile=sub/Containerfile&pullpolicy=never");
        let o = options(&q, &h, true, Vec::new()).unwrap();
        assert_eq!(o.dockerfiles, ["sub/Containerfile"]);
        assert_eq!(o.pull, PullPolicy::Never);
        assert!(!o.layers, "libpod caches only when asked");
        assert_eq!(o.network, BuildNetwork::None);
        let q = Query::parse("buildargs=%7Bbad");
        let e = options(&q, &h, false, Vec::new()).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(options(&Query::parse(""), &h, false, vec!["UPPER".into()]).is_err());
    }

    #[test]
    fn registry_config_header() {
        let mut h = HeaderMap::new();
        let cfg = json!({"quay.io": {"username": "u", "password": "p"}, "https://index.docker.io/v1/": {"auth": "dTI6cDI="}});
        let enc = base64::engine::general_purpose::URL_SAFE.encode(cfg.to_string());
        h.insert("x-registry-config", enc.parse().unwrap());
        let c = credentials(&h);
        assert_eq!(c["quay.io"].username, "u");
        assert_eq!(c["https://index.docker.io/v1/"].password, "p2");
    }
}
