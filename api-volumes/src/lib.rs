//! The volumes routes of both API trees: create, list (filters), inspect, remove, prune,
//! exists, in Docker's and libpod's shapes.
//!
//! Differences between the trees follow Podman: a compat create of an existing name answers
//! with that volume (201), a libpod one is a conflict; a compat remove with `force` ignores a
//! missing volume, a libpod one removes the containers using it. A compat prune from a
//! client speaking API 1.42 or later removes only anonymous volumes unless `all=true` is
//! among the filters (Docker's rule); older clients and libpod prune every unused volume.

use std::collections::BTreeMap;

use api_core::query::{label_matches, name_matches, Filters};
use api_core::{ApiError, ApiJson, ApiPath, ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use engine::json::field;
use engine::volumes::{VolumeCreate, VolumeInfo};
use serde_json::{json, Value};

mod openapi;

pub use openapi::openapi;

/// The volumes router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).merge(delete(remove)))
        .route("/libpod/volumes/json", get(list))
        .route("/libpod/volumes/create", post(create))
        .route("/libpod/volumes/prune", post(prune))
        .route("/libpod/volumes/{name}/json", get(inspect))
        .route("/libpod/volumes/{name}/exists", get(exists))
        .route("/libpod/volumes/{name}", delete(remove))
}

fn string_map(v: &Value) -> ApiResult<BTreeMap<String, String>> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| match x {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Null => Ok((k.clone(), String::new())),
                other => Err(ApiError::bad_request(format!(
                    "Decode(): json: cannot unmarshal {} into Go value of type string",
                    json_kind(other)
                ))),
            })
            .collect(),
        other => Err(ApiError::bad_request(format!(
            "Decode(): json: cannot unmarshal {} into Go value of type map[string]string",
            json_kind(other)
        ))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

fn created(t: &DateTime<Utc>, libpod: bool) -> String {
    if libpod {
        t.to_rfc3339_opts(SecondsFormat::Nanos, true)
    } else {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Docker's volume object.
fn compat_doc(v: &VolumeInfo) -> Value {
    let r = &v.record;
    json!({
        "CreatedAt": created(&r.created_at, false),
        "Driver": r.driver,
        "Labels": r.labels,
        "Mountpoint": r.mountpoint,
        "Name": r.name,
        "Options": if r.options.is_empty() { Value::Null } else { json!(r.options) },
        "Scope": "local",
    })
}

/// libpod's volume object.
fn libpod_doc(v: &VolumeInfo) -> Value {
    let r = &v.record;
    let mut d = json!({
        "Name": r.name,
        "Driver": r.driver,
        "Mountpoint": r.mountpoint,
        "CreatedAt": created(&r.created_at, true),
        "Labels": r.labels,
        "Scope": "local",
        "Options": r.options,
        "MountCount": v.mount_count,
        "LockNumber": 0,
    });
    let m = d.as_object_mut().expect("object");
    if let Some(u) = r.uid.filter(|u| *u != 0) {
        m.insert("UID".into(), json!(u));
    }
    if let Some(g) = r.gid.filter(|g| *g != 0) {
        m.insert("GID".into(), json!(g));
    }
    if r.anonymous {
        m.insert("Anonymous".into(), json!(true));
    }
    if r.needs_copy_up {
        m.insert("NeedsCopyUp".into(), json!(true));
        if r.uid.is_none() && r.gid.is_none() {
            m.insert("NeedsChown".into(), json!(true));
        }
    }
    d
}

fn doc(v: &VolumeInfo, libpod: bool) -> Value {
    if libpod {
        libpod_doc(v)
    } else {
        compat_doc(v)
    }
}

/// `POST /volumes/create` (Docker's `{Name, Driver, DriverOpts, Labels}`) and
/// `/libpod/volumes/create` (`{Name, Driver, Options, Label(s), IgnoreIfExists}`).
async fn create(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    if !body.is_object() && !body.is_null() {
        return Err(ApiError::bad_request(format!(
            "Decode(): json: cannot unmarshal {} into Go value of type volume.CreateOptions",
            json_kind(&body)
        )));
    }
    let text = |k: &str| field(&body, k).as_str().unwrap_or_default().to_string();
    let name = text("Name");
    let mut labels = string_map(field(&body, "Labels"))?;
    let options = if ver.libpod {
        // libpod takes `Label` and `Labels` (merged, `Labels` winning).
        let mut l = string_map(field(&body, "Label"))?;
        l.append(&mut labels);
        labels = l;
        string_map(field(&body, "Options"))?
    } else {
        string_map(field(&body, "DriverOpts"))?
    };
    if !ver.libpod && !name.is_empty() {
        if let Ok(v) = st.volumes.inspect(&name).await {
            return Ok((StatusCode::CREATED, Json(compat_doc(&v))).into_response());
        }
    }
    let v = st
        .volumes
        .create(VolumeCreate {
            name: Some(name).filter(|n| !n.is_empty()),
            driver: Some(text("Driver")).filter(|d| !d.is_empty()),
            labels,
            options,
            ignore_if_exists: ver.libpod && field(&body, "IgnoreIfExists").as_bool() == Some(true),
            anonymous: false,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(doc(&v, ver.libpod))).into_response())
}

/// The `until` filter's cut-off: the earliest of the values given.
fn until_of(vals: &[String]) -> ApiResult<DateTime<Utc>> {
    let mut cut: Option<DateTime<Utc>> = None;
    for v in vals {
        let t = api_core::time::parse_time_param("until", v)?;
        cut = Some(cut.map_or(t, |c| c.min(t)));
    }
    Ok(cut.unwrap_or_else(Utc::now))
}

/// Checks filter keys and values before any volume is looked at (a bad filter is an error
/// even when there is nothing to filter).
fn check_filters(f: &Filters, prune: bool) -> ApiResult<()> {
    for (k, vals) in f {
        let known = if prune {
            matches!(
                k.as_str(),
                "label" | "label!" | "until" | "after" | "since" | "all"
            )
        } else {
            matches!(
                k.as_str(),
                "name"
                    | "driver"
                    | "scope"
                    | "label"
                    | "label!"
                    | "opt"
                    | "until"
                    | "after"
                    | "since"
                    | "dangling"
            )
        };
        if !known {
            return Err(ApiError::bad_request(format!(
                "{k:?} is an invalid volume filter"
            )));
        }
        if k == "dangling" {
            for v in vals {
                if !matches!(
                    v.to_ascii_lowercase().as_str(),
                    "true" | "1" | "false" | "0"
                ) {
                    return Err(ApiError::bad_request(format!(
                        "{v:?} is not a valid value for the \"dangling\" filter - must be true or false"
                    )));
                }
            }
        }
        if k == "until" {
            until_of(vals)?;
        }
    }
    Ok(())
}

/// Whether a volume passes the filters (`all`: the volumes, for `after`/`since`).
fn passes(v: &VolumeInfo, f: &Filters, all: &[VolumeInfo]) -> ApiResult<bool> {
    let r = &v.record;
    for (k, vals) in f {
        let ok = match k.as_str() {
            "name" => vals.iter().any(|p| name_matches(p, &r.name)),
            "driver" => vals.contains(&r.driver),
            "scope" => vals.iter().any(|s| s == "local"),
            "label" => vals.iter().all(|l| label_matches(&r.labels, l)),
            "label!" => !vals.iter().all(|l| label_matches(&r.labels, l)),
            "opt" => vals.iter().any(|o| {
                let (key, val) = o.split_once('=').unwrap_or((o.as_str(), ""));
                r.options
                    .get(key)
                    .is_some_and(|x| val.is_empty() || x == val)
            }),
            "until" => r.created_at < until_of(vals)?,
            "after" | "since" => {
                let mut cut: Option<DateTime<Utc>> = None;
                for n in vals {
                    let other = all
                        .iter()
                        .find(|x| x.record.name == *n)
                        .ok_or_else(|| ApiError::from(engine::Error::NoSuchVolume(n.clone())))?;
                    let t = other.record.created_at;
                    cut = Some(cut.map_or(t, |c| c.min(t)));
                }
                cut.is_some_and(|c| r.created_at > c)
            }
            "dangling" => vals.iter().any(|d| {
                let want = matches!(d.to_ascii_lowercase().as_str(), "true" | "1");
                want == v.users.is_empty()
            }),
            // `all` only steers the compat prune.
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `GET /volumes` and `/libpod/volumes/json`.
async fn list(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let f = q.filters()?;
    check_filters(&f, false)?;
    let all = st.volumes.list().await?;
    let mut out = Vec::new();
    for v in &all {
        if passes(v, &f, &all)? {
            out.push(doc(v, ver.libpod));
        }
    }
    Ok(Json(if ver.libpod {
        Value::Array(out)
    } else {
        json!({"Volumes": out, "Warnings": []})
    }))
}

/// `GET /volumes/{name}` and `/libpod/volumes/{name}/json`.
async fn inspect(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let v = st.volumes.inspect(&name).await?;
    Ok(Json(doc(&v, ver.libpod)))
}

/// `GET /libpod/volumes/{name}/exists`.
async fn exists(State(st): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult<Response> {
    if st.volumes.exists(&name).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(engine::Error::NoSuchVolume(name).into())
    }
}

/// `DELETE /volumes/{name}` and `/libpod/volumes/{name}` (`force`, `timeout`).
async fn remove(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let force = q.bool_or("force", false)?;
    let timeout = q.value::<u32>("timeout")?;
    let res = st.volumes.remove(&name, force && ver.libpod, timeout).await;
    match res {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        // Docker's `force`: a missing volume is not an error.
        Err(engine::Error::NoSuchVolume(_)) if force && !ver.libpod => {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /volumes/prune` and `/libpod/volumes/prune`.
async fn prune(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let f = q.filters()?;
    check_filters(&f, true)?;
    let all_named = f
        .get("all")
        .is_some_and(|v| v.iter().any(|x| matches!(x.as_str(), "true" | "1")));
    let only_anonymous = !ver.libpod && ver.at_least(1, 42, 0) && !all_named;
    let all = st.volumes.list().await?;
    let mut names = Vec::new();
    for v in &all {
        if v.users.is_empty() && (!only_anonymous || v.record.anonymous) && passes(v, &f, &all)? {
            names.push(v.record.name.clone());
        }
    }
    let gone = st.volumes.prune(names).await?;
    Ok(Json(if ver.libpod {
        Value::Array(
            gone.iter()
                .map(|(n, size)| json!({"Id": n, "Size": size}))
                .collect(),
        )
    } else {
        let reclaimed: u64 = gone.iter().map(|(_, s)| s).sum();
        json!({
            "VolumesDeleted": gone.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "SpaceReclaimed": reclaimed,
        })
    }))
}
