//! Exec routes of both trees: create, start (hijacked like attach, or detached), resize,
//! inspect, and libpod's remove.

use std::time::Duration;

use api_core::hijack::{Hijack, HijackIo};
use api_core::{ApiError, ApiPath, ApiResult, ApiVersion, AppState, Query};
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use engine::containers::exec::{ExecConfig, ExecSession};
use engine::Error;
use serde_json::{json, Value};

use crate::attach::{parse_detach_keys, pump, Streams};
use crate::create::field;

fn body_json(body: &Bytes) -> ApiResult<Value> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "decode(): {}",
            api_core::query::go_json_error(&e, &String::from_utf8_lossy(body))
        ))
    })
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect(),
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn flag(v: &Value, k: &str) -> bool {
    field(v, k).as_bool().unwrap_or(false)
}

/// `POST /containers/{name}/exec`: 201 `{"Id"}`.
pub(crate) async fn create(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(&body)?;
    let keys = field(&v, "DetachKeys").as_str().map(String::from);
    if let Some(k) = &keys {
        parse_detach_keys(k)?;
    }
    let cfg = ExecConfig {
        cmd: strings(field(&v, "Cmd")),
        env: strings(field(&v, "Env")),
        user: field(&v, "User").as_str().unwrap_or_default().to_string(),
        workdir: field(&v, "WorkingDir")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        privileged: flag(&v, "Privileged"),
        tty: flag(&v, "Tty"),
        attach_stdin: flag(&v, "AttachStdin"),
        attach_stdout: flag(&v, "AttachStdout"),
        attach_stderr: flag(&v, "AttachStderr"),
        detach_keys: keys,
    };
    if cfg.cmd.is_empty() {
        return Err(ApiError::bad_request(
            "must provide a command to execute: invalid argument",
        ));
    }
    let s = st.containers.exec_create(&name, cfg).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": s.id}))).into_response())
}

/// `POST /exec/{id}/start` with `{"Detach","Tty"}`.
pub(crate) async fn start(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(id): ApiPath<String>,
    hijack: Hijack,
    body: Bytes,
) -> ApiResult<Response> {
    let v = body_json(&body)?;
    let s = st.containers.exec_inspect(&id).await?;
    if flag(&v, "Detach") {
        st.containers.exec_start(&s.id, false).await?;
        return Ok((StatusCode::OK, "").into_response());
    }
    let tty = s.config.tty || flag(&v, "Tty");
    // Refusals are HTTP errors, so they are checked before the connection is taken over.
    if s.started {
        return Err(Error::InvalidState(format!(
            "exec session {} has already been started: container state improper",
            s.id
        ))
        .into());
    }
    let ctr = st.containers.inspect(&s.container_id).await?;
    if !ctr.is_running() || ctr.status == engine::containers::ContainerStatus::Paused {
        return Err(Error::InvalidState(format!(
            "container {} is not running, can't exec in it: container state improper",
            ctr.id
        ))
        .into());
    }
    let content_type = crate::attach::stream_content_type(&ver, tty);
    let detach = match &s.config.detach_keys {
        Some(k) => parse_detach_keys(k)?,
        None => vec![16, 17],
    };
    let streams = Streams {
        tty,
        stdin: s.config.attach_stdin,
        stdout: s.config.attach_stdout || !s.config.attach_stderr,
        stderr: s.config.attach_stderr || !s.config.attach_stdout,
        detach,
    };
    let c = st.containers.clone();
    let sid = s.id.clone();
    let before: crate::attach::BeforeClose = Box::pin(async move {
        let _ = c.exec_wait(&sid, Duration::from_secs(5)).await;
    });
    // The process starts once the response is on its way: clients that read the stream
    // from the raw socket after parsing the headers (podman's) would lose output that
    // arrived together with them.
    let (c2, sid2) = (st.containers.clone(), s.id.clone());
    Ok(
        hijack.respond(content_type, move |io: HijackIo| async move {
            match c2.exec_start(&sid2, true).await {
                Ok(conn) => pump(io, conn, Vec::new(), streams, Some(before)).await,
                Err(e) => tracing::warn!(session = %sid2, error = %e, "starting an exec session"),
            }
        }),
    )
}

/// `POST /exec/{id}/resize?h=&w=`.
pub(crate) async fn resize(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let h = q.value::<u16>("h")?.unwrap_or(0);
    let w = q.value::<u16>("w")?.unwrap_or(0);
    st.containers.exec_resize(&id, h, w).await?;
    Ok((StatusCode::CREATED, "").into_response())
}

fn inspect_doc(s: &ExecSession, libpod: bool) -> Value {
    let (entry, args) = match s.config.cmd.split_first() {
        Some((e, a)) => (e.clone(), a.to_vec()),
        None => (String::new(), Vec::new()),
    };
    let mut v = json!({
        "CanRemove": false,
        "ContainerID": s.container_id,
        "DetachKeys": s.config.detach_keys.clone().unwrap_or_default(),
        "ExitCode": s.exit_code.unwrap_or(0),
        "ID": s.id,
        "OpenStderr": s.config.attach_stderr,
        "OpenStdin": s.config.attach_stdin,
        "OpenStdout": s.config.attach_stdout,
        "ProcessConfig": {
            "arguments": args, "entrypoint": entry, "privileged": s.config.privileged,
            "tty": s.config.tty, "user": s.config.user,
        },
        "Running": s.running,
        "Pid": s.pid,
    });
    if libpod {
        v["ProcessConfig"]["env"] = json!(s.config.env);
        v["ProcessConfig"]["workdir"] = json!(s.config.workdir);
    }
    v
}

/// `GET /exec/{id}/json`.
pub(crate) async fn inspect(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let s = st.containers.exec_inspect(&id).await?;
    Ok(Json(inspect_doc(&s, ver.libpod)))
}

/// `POST /libpod/exec/{id}/remove` with `{"Force"}`.
pub(crate) async fn remove(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let v = body_json(&body)?;
    st.containers.exec_remove(&id, flag(&v, "Force")).await?;
    Ok(StatusCode::OK)
}
