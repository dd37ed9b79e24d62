//! Compat create/start/wait/remove/inspect/logs — the first container routes (#4 grows
//! them: attach, stop, kill, libpod shapes, every HostConfig field).

use std::collections::BTreeMap;

use api_core::stream::{encode_frame, StdStream};
use api_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use engine::containers::lifecycle::{ContainerCreate, ContainerRecord};
use engine::containers::spec::{NetworkMode, ProcessRequest};
use engine::containers::ContainerStatus;
use serde::Deserialize;
use serde_json::{json, Value};

/// The parts of Docker's `HostConfig` honoured so far.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct HostConfig {
    auto_remove: bool,
    network_mode: String,
}

/// The parts of Docker's `ContainerConfig` honoured so far.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct CreateBody {
    image: String,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: String,
    user: String,
    tty: bool,
    hostname: String,
    labels: Option<BTreeMap<String, String>>,
    host_config: Option<HostConfig>,
}

/// `POST /containers/create?name=`.
pub(crate) async fn create(
    State(st): State<AppState>,
    q: Query,
    ApiJson(b): ApiJson<CreateBody>,
) -> ApiResult<Response> {
    if b.image.is_empty() {
        return Err(ApiError::bad_request("Config.Image is required"));
    }
    let hc = b.host_config.unwrap_or_default();
    let network = match hc.network_mode.as_str() {
        "host" => NetworkMode::Host,
        "none" | "" | "default" | "bridge" => NetworkMode::None,
        other => {
            return Err(ApiError::bad_request(format!(
                "network mode {other:?} is not supported yet"
            )))
        }
    };
    created(
        &st,
        ContainerCreate {
            name: q.string("name"),
            image: b.image,
            process: ProcessRequest {
                entrypoint: b.entrypoint.filter(|e| !e.is_empty()),
                cmd: b.cmd.filter(|c| !c.is_empty()),
                env: b.env.unwrap_or_default(),
                workdir: Some(b.working_dir).filter(|w| !w.is_empty()),
                user: Some(b.user).filter(|u| !u.is_empty()),
                tty: b.tty,
                hostname: b.hostname,
            },
            network,
            labels: b.labels.unwrap_or_default(),
            auto_remove: hc.auto_remove,
        },
    )
    .await
}

/// Creates the container and answers 201 `{"Id","Warnings"}` (both trees).
async fn created(st: &AppState, req: ContainerCreate) -> ApiResult<Response> {
    let rec = st.containers.create(req).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": rec.id, "Warnings": []})),
    )
        .into_response())
}

/// `POST /containers/{name}/start`: 204, or 304 when already running.
pub(crate) async fn start(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let rec = st.containers.inspect(&name).await?;
    if rec.status == ContainerStatus::Running {
        return Ok(StatusCode::NOT_MODIFIED);
    }
    st.containers.start(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{name}/wait`: Docker's `{"StatusCode","Error"}` once it stops.
pub(crate) async fn wait(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let _condition = q.string("condition");
    st.containers.inspect(&name).await?;
    let code = st.containers.wait(&name).await?;
    Ok(Json(json!({"StatusCode": code, "Error": null})))
}

/// `DELETE /containers/{name}?force=&v=`.
pub(crate) async fn remove(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let force = q.bool_or("force", false)?;
    let _ = q.bool_or("v", false)?;
    st.containers.remove(&name, force).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn rfc3339(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

fn compat_inspect(r: &ContainerRecord) -> Value {
    let status = match r.status {
        ContainerStatus::Configured => "created",
        s => s.as_str(),
    };
    json!({
        "Id": r.id,
        "Created": rfc3339(Some(r.created)),
        "Path": r.command.first().cloned().unwrap_or_default(),
        "Args": r.command.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": status,
            "Running": r.status == ContainerStatus::Running,
            "Paused": r.status == ContainerStatus::Paused,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": r.pid,
            "ExitCode": r.exit_code,
            "Error": "",
            "StartedAt": rfc3339(r.started_at),
            "FinishedAt": rfc3339(r.finished_at),
        },
        "Image": format!("sha256:{}", r.image_id),
        "Name": format!("/{}", r.name),
        "RestartCount": 0,
        "Driver": "overlay",
        "Platform": "linux",
        "Config": {
            "Hostname": r.hostname,
            "Domainname": "",
            "User": r.user,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": r.tty,
            "OpenStdin": false,
            "StdinOnce": false,
            "Env": r.env,
            "Cmd": r.command,
            "Image": r.image,
            "Volumes": null,
            "WorkingDir": r.cwd,
            "Entrypoint": [],
            "OnBuild": null,
            "Labels": r.labels,
        },
        "HostConfig": {
            "AutoRemove": r.auto_remove,
            "NetworkMode": if r.host_network { "host" } else { "none" },
        },
        "NetworkSettings": {"Networks": {}, "Ports": {}},
        "Mounts": [],
    })
}

/// `GET /containers/{name}/json`.
pub(crate) async fn inspect(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let r = st.containers.inspect(&name).await?;
    Ok(Json(compat_inspect(&r)))
}

/// One k8s-file log line: `<time> <stdout|stderr> <F|P> <text>`.
fn parse_line(l: &str) -> Option<(&str, bool, bool, &str)> {
    let (time, rest) = l.split_once(' ')?;
    let (stream, rest) = rest.split_once(' ')?;
    let (tag, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((time, stream == "stderr", tag == "F", text))
}

/// `GET /containers/{name}/logs?stdout=&stderr=&timestamps=&tail=` (whole log; multiplexed
/// frames unless the container has a TTY).
pub(crate) async fn logs(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let r = st.containers.inspect(&name).await?;
    let (out, err) = (q.bool_or("stdout", false)?, q.bool_or("stderr", false)?);
    if !out && !err {
        return Err(ApiError::bad_request("you must choose at least one stream"));
    }
    let timestamps = q.bool_or("timestamps", false)?;
    let tail: Option<usize> = match q.string("tail").as_deref() {
        None | Some("all") => None,
        Some(t) => Some(
            t.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid tail {t:?}")))?,
        ),
    };
    let text = tokio::fs::read_to_string(st.containers.log_path(&r.id))
        .await
        .unwrap_or_default();
    let mut lines: Vec<(bool, String)> = Vec::new();
    let mut partial = String::new();
    for l in text.lines() {
        let Some((time, is_err, full, body)) = parse_line(l) else {
            continue;
        };
        if (is_err && !err) || (!is_err && !out) {
            continue;
        }
        if partial.is_empty() && timestamps {
            partial.push_str(time);
            partial.push(' ');
        }
        partial.push_str(body);
        if full {
            partial.push('\n');
            lines.push((is_err, std::mem::take(&mut partial)));
        }
    }
    if let Some(n) = tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut body = Vec::new();
    for (is_err, l) in lines {
        if r.tty {
            body.extend_from_slice(l.as_bytes());
        } else {
            let s = if is_err {
                StdStream::Stderr
            } else {
                StdStream::Stdout
            };
            body.extend_from_slice(&encode_frame(s, l.as_bytes()));
        }
    }
    let mut resp = (StatusCode::OK, Body::from(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if r.tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        }),
    );
    Ok(resp)
}

/// The network namespace part of a SpecGenerator.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Namespace {
    nsmode: String,
}

/// The parts of libpod's `SpecGenerator` honoured so far.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SpecGenerator {
    image: String,
    name: String,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: BTreeMap<String, String>,
    work_dir: String,
    user: String,
    terminal: bool,
    remove: bool,
    hostname: String,
    labels: BTreeMap<String, String>,
    netns: Namespace,
}

/// `POST /libpod/containers/create` (SpecGenerator body).
pub(crate) async fn libpod_create(
    State(st): State<AppState>,
    ApiJson(s): ApiJson<SpecGenerator>,
) -> ApiResult<Response> {
    if s.image.is_empty() {
        return Err(ApiError::bad_request("no image name provided"));
    }
    let network = match s.netns.nsmode.as_str() {
        "host" => NetworkMode::Host,
        "" | "none" | "bridge" | "private" | "default" => NetworkMode::None,
        other => {
            return Err(ApiError::bad_request(format!(
                "network mode {other:?} is not supported yet"
            )))
        }
    };
    created(
        &st,
        ContainerCreate {
            name: Some(s.name).filter(|n| !n.is_empty()),
            image: s.image,
            process: ProcessRequest {
                entrypoint: s.entrypoint.filter(|e| !e.is_empty()),
                cmd: s.command.filter(|c| !c.is_empty()),
                env: s.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                workdir: Some(s.work_dir).filter(|w| !w.is_empty()),
                user: Some(s.user).filter(|u| !u.is_empty()),
                tty: s.terminal,
                hostname: s.hostname,
            },
            network,
            labels: s.labels,
            auto_remove: s.remove,
        },
    )
    .await
}

/// `POST /libpod/containers/{name}/wait`: the exit code as text once it stops.
pub(crate) async fn libpod_wait(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    st.containers.inspect(&name).await?;
    let code = st.containers.wait(&name).await?;
    Ok((StatusCode::OK, code.to_string()).into_response())
}

/// `DELETE /libpod/containers/{name}?force=`: libpod's list of removal reports.
pub(crate) async fn libpod_remove(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let force = q.bool_or("force", false)?;
    let _ = q.bool_or("v", false)?;
    let rec = st.containers.inspect(&name).await?;
    st.containers.remove(&name, force).await?;
    Ok(Json(json!([{"Id": rec.id, "Err": null}])))
}
