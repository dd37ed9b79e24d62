//! Pull streams: Docker `JSONMessage` lines on `POST /images/create` (so the docker CLI draws
//! its progress bars) and libpod's `{"stream":...}` lines then `{"id","images"}` on
//! `POST /libpod/images/pull`.

use std::collections::HashSet;

use api_core::{ApiError, ApiResult, AppState, Query};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine as _;
use engine::images::{Credentials, ImageRecord, Platform, PullOptions, PullProgress};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Credentials from `X-Registry-Auth` (base64url JSON with `username`/`password`).
pub(crate) fn registry_auth(headers: &HeaderMap) -> Option<Credentials> {
    let raw = headers.get("x-registry-auth")?.to_str().ok()?.trim();
    if raw.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let username = v["username"].as_str().unwrap_or_default().to_string();
    let password = v["password"].as_str().unwrap_or_default().to_string();
    (!username.is_empty()).then_some(Credentials { username, password })
}

/// Starts a pull and waits until it either shows progress or ends. Returns the first
/// visible event (none when it ended), the rest of the events, and the pull's task.
async fn start(
    st: &AppState,
    opts: PullOptions,
    trying: &mut Vec<String>,
) -> (
    Option<PullProgress>,
    mpsc::Receiver<PullProgress>,
    tokio::task::JoinHandle<engine::Result<ImageRecord>>,
) {
    let (tx, mut rx) = mpsc::channel(256);
    let images = st.images.clone();
    let task = tokio::spawn(async move { images.pull(opts, tx).await });
    let mut first = None;
    while let Some(ev) = rx.recv().await {
        if let PullProgress::Trying(s) = ev {
            trying.push(s);
            continue;
        }
        first = Some(ev);
        break;
    }
    (first, rx, task)
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// Docker's progress bar text for `current/total`.
fn progress_bar(current: u64, total: u64) -> String {
    if total == 0 {
        return String::new();
    }
    let width = 50u64;
    let filled = (current.min(total) * width / total) as usize;
    let bar = if filled as u64 >= width {
        "=".repeat(width as usize)
    } else {
        format!(
            "{}>{}",
            "=".repeat(filled),
            " ".repeat(width as usize - filled - 1)
        )
    };
    format!("[{bar}] {current}B/{total}B")
}

/// Compat JSONMessages for one progress event.
fn compat_messages(ev: &PullProgress, seen: &mut HashSet<String>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut first_sight = |id: &str, out: &mut Vec<Value>| {
        if seen.insert(id.to_string()) {
            out.push(json!({"status": "Pulling fs layer", "progressDetail": {}, "id": id}));
        }
    };
    match ev {
        PullProgress::Trying(_) => {}
        PullProgress::Resolved(name) => {
            let (repo, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
            let path = repo.split_once('/').map(|x| x.1).unwrap_or(repo);
            out.push(json!({"status": format!("Pulling from {path}"), "id": tag}));
        }
        PullProgress::LayerExists { id } => {
            seen.insert(id.clone());
            out.push(json!({"status": "Already exists", "progressDetail": {}, "id": id}));
        }
        PullProgress::LayerDownloading { id, current, total } => {
            first_sight(id, &mut out);
            out.push(json!({
                "status": "Downloading",
                "progressDetail": {"current": current, "total": total},
                "progress": progress_bar(*current, *total),
                "id": id
            }));
        }
        PullProgress::LayerDownloaded { id } => {
            first_sight(id, &mut out);
            out.push(json!({"status": "Download complete", "progressDetail": {}, "id": id}));
        }
        PullProgress::LayerExtracting { id } => {
            out.push(json!({"status": "Extracting", "progressDetail": {}, "id": id}));
        }
        PullProgress::LayerDone { id } => {
            out.push(json!({"status": "Pull complete", "progressDetail": {}, "id": id}));
        }
        PullProgress::Done { .. } => {}
    }
    out
}

/// The closing compat lines.
fn compat_final(res: &engine::Result<ImageRecord>, name: &str, pulled_layers: bool) -> Vec<Value> {
    match res {
        Ok(img) => vec![
            json!({"status": "Download complete", "progressDetail": {}, "id": short(&img.id)}),
            json!({"status": format!("Digest: {}", img.digest)}),
            json!({"status": if pulled_layers {
                format!("Status: Downloaded newer image for {name}")
            } else {
                format!("Status: Image is up to date for {name}")
            }}),
        ],
        Err(e) => {
            let msg = e.to_string();
            vec![json!({"error": msg, "errorDetail": {"message": msg}})]
        }
    }
}

fn error_response(e: engine::Error) -> Response {
    // Docker answers a pull that failed before any progress with the registry's status and
    // a bare `{"message"}`.
    let status = match &e {
        engine::Error::Registry { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        engine::Error::InvalidArg(_) => StatusCode::BAD_REQUEST,
        engine::Error::NoSuchImage(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({"message": e.cause()}))).into_response()
}

fn lines(values: impl futures::Stream<Item = Value> + Send + 'static) -> Response {
    api_core::stream::json_lines(values)
}

/// Streams compat messages for a started pull.
fn compat_stream(
    first: PullProgress,
    rx: mpsc::Receiver<PullProgress>,
    task: tokio::task::JoinHandle<engine::Result<ImageRecord>>,
    name: String,
) -> Response {
    let mut seen = HashSet::new();
    let head = compat_messages(&first, &mut seen);
    let events = futures::stream::unfold((rx, seen), |(mut rx, mut seen)| async move {
        let ev = rx.recv().await?;
        let msgs = compat_messages(&ev, &mut seen);
        Some((futures::stream::iter(msgs), (rx, seen)))
    })
    .flatten();
    let pulled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let p2 = pulled.clone();
    let events = events.inspect(move |v| {
        if v["status"] == "Pull complete" {
            p2.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let tail = futures::stream::once(async move {
        let res = task
            .await
            .unwrap_or_else(|e| Err(engine::Error::Internal(format!("pull task: {e}"))));
        futures::stream::iter(compat_final(
            &res,
            &name,
            pulled.load(std::sync::atomic::Ordering::Relaxed),
        ))
    })
    .flatten();
    lines(futures::stream::iter(head).chain(events).chain(tail))
}

/// `POST /images/create?fromImage=NAME[&tag=T][&platform=os/arch]`.
pub(crate) async fn compat_create(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Query,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let Some(from) = q.string("fromImage") else {
        if q.has("fromSrc") {
            return crate::archive::compat_import(&st, &q, body).await;
        }
        return Ok(api_core::middleware::plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed\n",
        ));
    };
    let mut reference = from.clone();
    if let Some(tag) = q.string("tag") {
        if tag.starts_with("sha256:") {
            reference = format!("{from}@{tag}");
        } else if !from.contains('@') {
            reference = format!("{from}:{tag}");
        }
    }
    let platform = match q.string("platform") {
        Some(p) => Some(
            Platform::parse(&p)
                .ok_or_else(|| ApiError::bad_request(format!("invalid platform {p:?}")))?,
        ),
        None => None,
    };
    let opts = PullOptions {
        reference: reference.clone(),
        compat: true,
        platform,
        credentials: registry_auth(&headers),
    };
    let display = engine::images::ImageRef::parse_normalized(&reference)
        .map(|r| r.full())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut trying = Vec::new();
    let (first, rx, task) = start(&st, opts, &mut trying).await;
    match first {
        Some(ev) => Ok(compat_stream(ev, rx, task, display)),
        None => {
            let res = task
                .await
                .unwrap_or_else(|e| Err(engine::Error::Internal(format!("pull task: {e}"))));
            match res {
                Ok(img) => Ok(lines(futures::stream::iter(compat_final(
                    &Ok(img),
                    &display,
                    false,
                )))),
                Err(e) => Ok(error_response(e)),
            }
        }
    }
}

/// libpod stream lines for one event.
fn libpod_line(ev: &PullProgress, seen: &mut HashSet<String>) -> Option<Value> {
    let s = match ev {
        PullProgress::Trying(s) => format!("Trying to pull {s}...\n"),
        PullProgress::Resolved(_) => "Getting image source signatures\n".to_string(),
        PullProgress::LayerExists { id } => format!("Copying blob {id} skipped: already exists\n"),
        PullProgress::LayerDownloading { id, .. } | PullProgress::LayerDownloaded { id } => {
            if !seen.insert(id.clone()) {
                return None;
            }
            format!("Copying blob {id}\n")
        }
        PullProgress::Done { id, .. } => {
            format!(
                "Copying config {}\nWriting manifest to image destination\n",
                short(id)
            )
        }
        _ => return None,
    };
    Some(json!({ "stream": s }))
}

/// `POST /libpod/images/pull?reference=NAME[&quiet=][&policy=][&OS=&Arch=&Variant=]`.
pub(crate) async fn libpod_pull(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Query,
) -> ApiResult<Response> {
    let reference = q
        .string("reference")
        .ok_or_else(|| ApiError::bad_request("reference parameter cannot be empty"))?;
    let quiet = q.bool_or("quiet", false)?;
    let compat_mode = q.bool_or("compatMode", false)?;
    let _all_tags = q.bool_or("allTags", false)?;
    let _tls = q.bool_or("tlsVerify", true)?;
    let policy = q.string("policy").unwrap_or_else(|| "always".into());
    if ![
        "always",
        "missing",
        "newer",
        "never",
        "ifmissing",
        "ifnewer",
    ]
    .contains(&policy.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "unsupported pull policy {policy:?}"
        )));
    }
    let platform = match (q.string("OS"), q.string("Arch"), q.string("Variant")) {
        (None, None, None) => None,
        (os, arch, variant) => Some(Platform {
            os: os.unwrap_or_else(|| "linux".into()),
            arch: arch.unwrap_or_else(|| engine::system::go_arch().into()),
            variant: variant.unwrap_or_default(),
        }),
    };
    engine::images::ImageRef::parse_with(&reference, "localhost")
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if matches!(policy.as_str(), "missing" | "ifmissing" | "never") {
        match st.images.lookup_image(&reference).await {
            Ok(img) => {
                let v = json!({"id": img.id, "images": [img.id]});
                return Ok(lines(futures::stream::iter(vec![v])));
            }
            Err(e) if policy == "never" => return Err(e.into()),
            Err(_) => {}
        }
    }
    let credentials = registry_auth(&headers).or_else(|| {
        q.string("username").map(|username| Credentials {
            username,
            password: q.string("password").unwrap_or_default(),
        })
    });
    let opts = PullOptions {
        reference: reference.clone(),
        compat: false,
        platform,
        credentials,
    };
    let (tx, rx) = mpsc::channel(256);
    let images = st.images.clone();
    let task = tokio::spawn(async move { images.pull(opts, tx).await });
    if compat_mode {
        let display = reference.clone();
        let events =
            futures::stream::unfold((rx, HashSet::new()), |(mut rx, mut seen)| async move {
                let ev = rx.recv().await?;
                let msgs = compat_messages(&ev, &mut seen);
                Some((futures::stream::iter(msgs), (rx, seen)))
            })
            .flatten();
        let tail = futures::stream::once(async move {
            let res = task
                .await
                .unwrap_or_else(|e| Err(engine::Error::Internal(e.to_string())));
            futures::stream::iter(compat_final(&res, &display, true))
        })
        .flatten();
        return Ok(lines(events.chain(tail)));
    }
    let events =
        futures::stream::unfold((rx, HashSet::new()), move |(mut rx, mut seen)| async move {
            loop {
                let ev = rx.recv().await?;
                if quiet {
                    continue;
                }
                if let Some(v) = libpod_line(&ev, &mut seen) {
                    return Some((v, (rx, seen)));
                }
            }
        });
    let tail = futures::stream::once(async move {
        match task
            .await
            .unwrap_or_else(|e| Err(engine::Error::Internal(e.to_string())))
        {
            Ok(img) => json!({"id": img.id, "images": [img.id]}),
            Err(e) => json!({"error": e.to_string()}),
        }
    });
    Ok(lines(events.chain(tail)))
}
