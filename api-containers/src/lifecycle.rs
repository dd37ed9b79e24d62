//! Lifecycle routes of both trees: start, stop, kill, restart, pause, unpause, wait, remove,
//! init, rename, update, resize, exists, mount, unmount, prune, export.

use std::collections::BTreeMap;

use api_core::{ApiError, ApiPath, ApiResult, ApiVersion, AppState, Query};
use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use engine::containers::config::{self, Resources, RestartPolicy};
use engine::containers::lifecycle::{RemoveOptions, WaitCondition};
use engine::containers::{ContainerStatus, ListOptions};
use engine::Error;
use serde_json::{json, Value};

use crate::create::field;

/// Maps "nothing to do" to 304 and success to 204.
fn no_content(r: engine::Result<()>) -> ApiResult<StatusCode> {
    match r {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(Error::NotModified(_)) => Ok(StatusCode::NOT_MODIFIED),
        Err(e) => Err(e.into()),
    }
}

/// `POST /containers/{name}/start`: 204, or 304 when already running.
pub(crate) async fn start(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    no_content(st.containers.start(&name).await.map(drop))
}

/// `POST /libpod/containers/{name}/init`: 204, or 304 when already initialized.
pub(crate) async fn init(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    no_content(st.containers.init(&name).await.map(drop))
}

fn timeout_param(q: &Query, libpod: bool) -> ApiResult<Option<u32>> {
    let key = if libpod && q.has("timeout") {
        "timeout"
    } else {
        "t"
    };
    match q.value::<i64>(key)? {
        None => Ok(None),
        Some(t) if t < 0 => Ok(Some(u32::MAX / 4)),
        Some(t) => Ok(Some(t.min(u32::MAX as i64) as u32)),
    }
}

/// `POST /containers/{name}/stop?t=`: 204, or 304 when not running.
pub(crate) async fn stop(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let t = timeout_param(&q, ver.libpod)?;
    let ignore = q.bool_or("ignore", false)?;
    match st.containers.stop(&name, t).await {
        Err(Error::NoSuchContainer(_)) if ignore => Ok(StatusCode::NO_CONTENT),
        r => no_content(r),
    }
}

/// `POST /containers/{name}/kill?signal=`.
pub(crate) async fn kill(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let sig = q.string("signal").filter(|s| !s.is_empty());
    let sig = match sig {
        Some(s) => config::parse_signal(&s)?,
        None => 9,
    };
    st.containers.kill(&name, sig).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{name}/restart?t=`.
pub(crate) async fn restart(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let t = timeout_param(&q, ver.libpod)?;
    st.containers.restart(&name, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{name}/pause`.
pub(crate) async fn pause(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.containers.pause(&name, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{name}/unpause`.
pub(crate) async fn unpause(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.containers.pause(&name, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Headers now, the body when `fut` is done (clients see the 200 while waiting).
fn late_body<F>(content_type: &'static str, fut: F) -> Response
where
    F: std::future::Future<Output = Bytes> + Send + 'static,
{
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(fut.await) });
    let mut resp = (StatusCode::OK, Body::from_stream(stream)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// `POST /containers/{name}/wait?condition=`: Docker's `{"StatusCode","Error"}`.
pub(crate) async fn wait(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let cond = match q.string("condition").as_deref() {
        None | Some("") | Some("not-running") => WaitCondition::NotRunning,
        Some("next-exit") => WaitCondition::NextExit,
        Some("removed") => WaitCondition::Removed,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid condition {other:?}: must be one of not-running, next-exit, removed"
            )))
        }
    };
    let rec = st.containers.inspect(&name).await?;
    let c = st.containers.clone();
    Ok(late_body("application/json", async move {
        let body = match c.wait(&rec.id, cond).await {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
        };
        let mut b = serde_json::to_vec(&body).unwrap_or_default();
        b.push(b'\n');
        Bytes::from(b)
    }))
}

/// `POST /libpod/containers/{name}/wait?condition=&interval=`: the exit code as text.
pub(crate) async fn libpod_wait(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let mut states = Vec::new();
    for c in q.all("condition") {
        for c in c.split(',').filter(|c| !c.is_empty()) {
            let s = match c {
                "initialized" => ContainerStatus::Created,
                "created" => ContainerStatus::Configured,
                "healthy" | "unhealthy" => {
                    return Err(ApiError::bad_request(format!(
                        "wait condition {c:?} needs a healthcheck (not supported yet)"
                    )))
                }
                other => ContainerStatus::parse(other).ok_or_else(|| {
                    ApiError::bad_request(format!("{other:?} is not a valid container state"))
                })?,
            };
            states.push(s);
        }
    }
    let cond = if states.is_empty() {
        WaitCondition::States(vec![ContainerStatus::Stopped, ContainerStatus::Exited])
    } else {
        WaitCondition::States(states)
    };
    let rec = st.containers.inspect(&name).await?;
    let c = st.containers.clone();
    Ok(late_body("application/json", async move {
        match c.wait(&rec.id, cond).await {
            Ok(code) => Bytes::from(code.to_string()),
            Err(e) => Bytes::from(e.to_string()),
        }
    }))
}

/// `DELETE /containers/{name}?force=&v=`: 204.
pub(crate) async fn remove(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let opts = RemoveOptions {
        force: q.bool_or("force", false)?,
        volumes: q.bool_or("v", false)?,
        depend: q.bool_or("depend", false)?,
        timeout: None,
        ..Default::default()
    };
    let _ = q.bool_or("link", false)?;
    match st.containers.remove(&name, opts).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(Error::InvalidState(m)) if m.contains("without force") => {
            Err(ApiError::conflict(format!(
                "You cannot remove a running container {name}. Stop the container before attempting removal or force remove"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /libpod/containers/{name}?force=&v=&depend=&ignore=&timeout=`: removal reports.
pub(crate) async fn libpod_remove(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let opts = RemoveOptions {
        force: q.bool_or("force", false)?,
        volumes: q.bool_or("v", false)? || q.bool_or("volumes", false)?,
        depend: q.bool_or("depend", false)?,
        timeout: q.value::<u32>("timeout")?,
        ..Default::default()
    };
    let ignore = q.bool_or("ignore", false)?;
    let rec = match st.containers.inspect(&name).await {
        Ok(r) => r,
        Err(Error::NoSuchContainer(_)) if ignore => return Ok(Json(json!([]))),
        Err(e) => return Err(e.into()),
    };
    st.containers.remove(&rec.id, opts).await?;
    Ok(Json(json!([{"Id": rec.id, "Err": null}])))
}

/// `POST /containers/{name}/rename?name=`.
pub(crate) async fn rename(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let new = q
        .string("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("a new name is required: invalid argument"))?;
    st.containers.rename(&name, &new).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{name}/resize?h=&w=`.
pub(crate) async fn resize(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let h = q.value::<u16>("h")?.unwrap_or(0);
    let w = q.value::<u16>("w")?.unwrap_or(0);
    st.containers.resize(&name, h, w).await?;
    Ok((StatusCode::OK, Json(json!({}))).into_response())
}

/// `GET /libpod/containers/{name}/exists`.
pub(crate) async fn exists(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.containers.lookup(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /libpod/containers/{name}/mount`: the mount point as a JSON string.
pub(crate) async fn mount(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<String>> {
    let p = st.containers.mount(&name).await?;
    Ok(Json(p.display().to_string()))
}

/// `POST /libpod/containers/{name}/unmount`.
pub(crate) async fn unmount(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.containers.unmount(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /libpod/containers/showmounted`: `{id: mountpoint}`.
pub(crate) async fn showmounted(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let list = st
        .containers
        .list(ListOptions {
            all: true,
            limit: 0,
        })
        .await?;
    let mut out = serde_json::Map::new();
    for r in list {
        if r.mount_count > 0 || r.is_running() || r.status == ContainerStatus::Created {
            out.insert(
                r.id.clone(),
                json!(st.containers.paths(&r.id).merged().display().to_string()),
            );
        }
    }
    Ok(Json(Value::Object(out)))
}

/// `POST /containers/prune?filters=` and `/libpod/containers/prune`.
pub(crate) async fn prune(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let filters = q.filters()?;
    let mut f: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in filters.iter() {
        match k.as_str() {
            "label" | "label!" | "until" => {
                f.insert(k.clone(), v.clone());
            }
            other => {
                return Err(ApiError::with_cause(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{other} is an invalid filter"),
                    format!("{other} is an invalid filter"),
                ))
            }
        }
    }
    let all = st
        .containers
        .list(ListOptions {
            all: true,
            limit: 0,
        })
        .await?;
    let mut deleted = Vec::new();
    for r in &all {
        if r.is_running() || r.status == ContainerStatus::Created {
            continue;
        }
        if !crate::inspect::matches_filters(r, &f, &all, "")? {
            continue;
        }
        match st.containers.remove(&r.id, RemoveOptions::default()).await {
            Ok(()) | Err(Error::NoSuchContainer(_)) => deleted.push(r.id.clone()),
            Err(e) => tracing::warn!(container = %r.id, error = %e, "prune"),
        }
    }
    if ver.libpod {
        Ok(Json(Value::Array(
            deleted
                .iter()
                .map(|id| json!({"Id": id, "Size": 0, "Err": null}))
                .collect(),
        )))
    } else {
        Ok(Json(
            json!({"ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": 0}),
        ))
    }
}

/// `POST /libpod/containers/{name}/update` (body: OCI `LinuxResources`; `restartPolicy`,
/// `restartRetries` query) and compat `POST /containers/{name}/update` (Docker body).
pub(crate) async fn update(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
    body: Bytes,
) -> ApiResult<Response> {
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("decode(): {e}")))?
    };
    let rec = st.containers.inspect(&name).await?;
    let mut res: Resources = rec.config.resources.clone();
    let mut restart: Option<RestartPolicy> = None;
    let num = |x: &Value| x.as_i64();
    if ver.libpod {
        let mem = field(&v, "memory");
        if let Some(l) = num(field(mem, "limit")) {
            res.memory = l;
        }
        if let Some(l) = num(field(mem, "swap")) {
            res.memory_swap = l;
        }
        if let Some(l) = num(field(mem, "reservation")) {
            res.memory_reservation = l;
        }
        let cpu = field(&v, "cpu");
        if let Some(x) = num(field(cpu, "shares")) {
            res.cpu_shares = x.max(0) as u64;
        }
        if let Some(x) = num(field(cpu, "quota")) {
            res.cpu_quota = x;
        }
        if let Some(x) = num(field(cpu, "period")) {
            res.cpu_period = x.max(0) as u64;
        }
        if let Some(x) = field(cpu, "cpus").as_str() {
            res.cpuset_cpus = x.to_string();
        }
        if let Some(x) = num(field(field(&v, "pids"), "limit")) {
            res.pids_limit = Some(x);
        }
        if let Some(x) = num(field(field(&v, "blockIO"), "weight")) {
            res.blkio_weight = x.clamp(0, 1000) as u16;
        }
        if let Some(p) = q.string("restartPolicy").filter(|p| !p.is_empty()) {
            restart = Some(RestartPolicy {
                name: p,
                max_retry: q.value::<u32>("restartRetries")?.unwrap_or(0),
            });
        }
    } else {
        let set = |k: &str| num(field(&v, k)).filter(|x| *x != 0);
        if let Some(x) = set("Memory") {
            res.memory = x;
        }
        if let Some(x) = set("MemorySwap") {
            res.memory_swap = x;
        }
        if let Some(x) = set("MemoryReservation") {
            res.memory_reservation = x;
        }
        if let Some(x) = set("CpuShares") {
            res.cpu_shares = x.max(0) as u64;
        }
        if let Some(x) = set("NanoCpus") {
            res.nano_cpus = x;
        }
        if let Some(x) = set("CpuQuota") {
            res.cpu_quota = x;
        }
        if let Some(x) = set("CpuPeriod") {
            res.cpu_period = x.max(0) as u64;
        }
        if let Some(x) = field(&v, "CpusetCpus").as_str().filter(|s| !s.is_empty()) {
            res.cpuset_cpus = x.to_string();
        }
        if let Some(x) = set("PidsLimit") {
            res.pids_limit = Some(x);
        }
        if let Some(x) = set("BlkioWeight") {
            res.blkio_weight = x.clamp(0, 1000) as u16;
        }
        let rp = field(&v, "RestartPolicy");
        if rp.is_object() {
            restart = Some(RestartPolicy {
                name: field(rp, "Name").as_str().unwrap_or_default().to_string(),
                max_retry: field(rp, "MaximumRetryCount").as_u64().unwrap_or(0) as u32,
            });
        }
    }
    st.containers.update(&rec.id, Some(res), restart).await?;
    if ver.libpod {
        Ok((StatusCode::CREATED, Json(json!({"Id": rec.id}))).into_response())
    } else {
        Ok((StatusCode::OK, Json(json!({"Warnings": []}))).into_response())
    }
}

/// `GET /containers/{name}/export`: a tar of the container's filesystem.
pub(crate) async fn export(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    let rec = st.containers.inspect(&name).await?;
    let tmp = tempfile::NamedTempFile::new_in(st.service.tmp_dir())
        .map_err(|e| ApiError::internal(format!("creating a temporary file: {e}")))?
        .into_temp_path();
    st.containers.export(&rec.id, tmp.to_path_buf()).await?;
    let f = tokio::fs::File::open(&tmp)
        .await
        .map_err(|e| ApiError::internal(format!("reading the export: {e}")))?;
    let stream = api_core::stream::file_stream(f);
    // Keep the temporary file until the body is sent.
    let stream = futures::StreamExt::map(stream, move |c| {
        let _keep = &tmp;
        c
    });
    let mut resp = (StatusCode::OK, Body::from_stream(stream)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

/// `GET /libpod/containers/{name}/healthcheck`: runs the check now.
pub(crate) async fn healthcheck(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let h = st.containers.healthcheck(&name).await?;
    Ok(Json(json!(h)))
}

/// `POST /libpod/containers/{name}/checkpoint` and `/restore`: the container is looked up
/// (404 when missing); checkpointing itself needs CRIU, which podapid does not drive yet, so
/// the answer says so (501) instead of pretending.
pub(crate) async fn checkpoint_restore(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.containers.inspect(&name).await?;
    let criu = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("criu").exists()));
    Err(Error::NotImplemented(if criu {
        "checkpoint/restore is not implemented by podapid".into()
    } else {
        "checkpoint/restore requires CRIU, which is not installed on this host (and podapid does not drive it yet)".into()
    })
    .into())
}
