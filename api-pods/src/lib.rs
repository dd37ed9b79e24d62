//! The pods routes (libpod tree only, as in Podman): create (PodSpecGenerator), list with
//! filters, inspect, exists, start/stop/restart/kill/pause/unpause, remove, prune, top,
//! stats; and the kube routes (`kube`).

mod kube;
mod openapi;

use std::collections::BTreeMap;
use std::time::Duration;

use api_core::query::{label_matches, name_matches, Filters};
use api_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use chrono::SecondsFormat;
use engine::containers::config::{ContainerConfig, NetMode};
use engine::json::field;
use engine::pods::{PodCreate, PodInfo, PodReport};
use engine::Error;
use serde_json::{json, Value};

pub use openapi::openapi;

/// The pods router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/libpod/pods/json", get(list))
        .route("/libpod/pods/create", post(create))
        .route("/libpod/pods/prune", post(prune))
        .route("/libpod/pods/stats", get(stats))
        .route("/libpod/pods/{name}", delete(remove))
        .route("/libpod/pods/{name}/json", get(inspect))
        .route("/libpod/pods/{name}/exists", get(exists))
        .route("/libpod/pods/{name}/start", post(start))
        .route("/libpod/pods/{name}/stop", post(stop))
        .route("/libpod/pods/{name}/restart", post(restart))
        .route("/libpod/pods/{name}/kill", post(kill))
        .route("/libpod/pods/{name}/pause", post(pause))
        .route("/libpod/pods/{name}/unpause", post(unpause))
        .route("/libpod/pods/{name}/top", get(top))
        .merge(kube::router())
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().map(|(k, x)| (k.clone(), s(x))).collect())
        .unwrap_or_default()
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// `POST /libpod/pods/create`: a PodSpecGenerator.
async fn create(State(st): State<AppState>, ApiJson(v): ApiJson<Value>) -> ApiResult<Response> {
    let mut infra = ContainerConfig::default();
    engine::containers::config::apply_libpod_network(&mut infra, &v)?;
    if field(&v, "no_manage_hosts").as_bool() == Some(true) {
        infra.extra_hosts.clear();
    }
    infra.sysctls = string_map(field(&v, "sysctl"));
    let share = field(&v, "shared_namespaces")
        .as_array()
        .map(|_| strings(field(&v, "shared_namespaces")));
    let req = PodCreate {
        name: Some(s(field(&v, "name"))).filter(|n| !n.is_empty()),
        labels: string_map(field(&v, "labels")),
        hostname: s(field(&v, "hostname")),
        no_infra: field(&v, "no_infra").as_bool().unwrap_or(false),
        infra_image: Some(s(field(&v, "infra_image"))).filter(|i| !i.is_empty()),
        infra_command: Some(strings(field(&v, "infra_command"))).filter(|c| !c.is_empty()),
        infra_name: Some(s(field(&v, "infra_name"))).filter(|n| !n.is_empty()),
        share,
        cgroup_parent: s(field(&v, "cgroup_parent")),
        exit_policy: s(field(&v, "exit_policy")),
        infra_config: infra,
        create_command: strings(field(&v, "pod_create_command")),
    };
    let info = st.pods.create(req).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": info.record.id}))).into_response())
}

/// The networks a pod's containers are on (the infra's, when it shares the network).
fn pod_networks(p: &PodInfo, default_net: &str) -> Vec<String> {
    let cfg = &p.record.infra_config;
    match cfg.net {
        NetMode::Bridge | NetMode::Default if p.record.infra_id.is_some() => {
            if cfg.networks.is_empty() {
                vec![default_net.to_string()]
            } else {
                cfg.networks.keys().cloned().collect()
            }
        }
        _ => Vec::new(),
    }
}

fn list_entry(p: &PodInfo, default_net: &str) -> Value {
    let r = &p.record;
    json!({
        "Cgroup": r.cgroup_parent,
        "Containers": p.containers.iter().map(|c| json!({
            "Id": c.id, "Names": c.name, "Status": c.status.as_str(),
            "RestartCount": c.restart_count,
        })).collect::<Vec<_>>(),
        "Created": time(&r.created),
        "Id": r.id,
        "InfraId": r.infra_id.clone().unwrap_or_default(),
        "Name": r.name,
        "Namespace": "",
        "Networks": pod_networks(p, default_net),
        "Status": p.state,
        "Labels": r.labels,
    })
}

fn inspect_doc(p: &PodInfo, default_net: &str) -> Value {
    let r = &p.record;
    let cfg = &r.infra_config;
    let mut bindings = serde_json::Map::new();
    for m in &cfg.ports {
        for k in 0..m.range.max(1) {
            let key = format!("{}/{}", m.container_port + k, m.protocol);
            let hp = if m.host_port == 0 {
                String::new()
            } else {
                (m.host_port + k).to_string()
            };
            let e = json!({"HostIp": m.host_ip, "HostPort": hp});
            match bindings.get_mut(&key) {
                Some(Value::Array(a)) => a.push(e),
                _ => {
                    bindings.insert(key, json!([e]));
                }
            }
        }
    }
    let opt = |v: &Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    let mut doc = json!({
        "Id": r.id,
        "Name": r.name,
        "Namespace": "",
        "Created": time(&r.created),
        "CreateCommand": if r.create_command.is_empty() { Value::Null } else { json!(r.create_command) },
        "ExitPolicy": r.exit_policy,
        "State": p.state,
        "Hostname": if r.hostname.is_empty() && r.share.iter().any(|x| x == "uts") { r.name.clone() } else { r.hostname.clone() },
        "Labels": r.labels,
        "CreateCgroup": true,
        "CgroupParent": r.cgroup_parent,
        "CgroupPath": "",
        "CreateInfra": r.infra_id.is_some(),
        "SharedNamespaces": r.share,
        "NumContainers": p.containers.len(),
        "Containers": p.containers.iter().map(|c| json!({
            "Id": c.id, "Name": c.name, "State": c.status.as_str(),
        })).collect::<Vec<_>>(),
        "LockNumber": 0,
    });
    if let Some(infra) = &r.infra_id {
        doc["InfraContainerID"] = json!(infra);
        doc["InfraConfig"] = json!({
            "PortBindings": bindings,
            "HostNetwork": cfg.net == NetMode::Host,
            "StaticIP": "",
            "StaticMAC": "",
            "NoManageResolvConf": false,
            "DNSServer": opt(&cfg.dns),
            "DNSSearch": opt(&cfg.dns_search),
            "DNSOption": opt(&cfg.dns_options),
            "NoManageHosts": false,
            "HostAdd": opt(&cfg.extra_hosts),
            "Networks": pod_networks(p, default_net),
            "NetworkOptions": null,
            "pid_ns": if r.share.iter().any(|x| x == "pid") { "pod" } else { "private" },
            "userns": "host",
            "uts_nsmode": "private",
        });
    }
    doc
}

/// The pod filters of `GET /libpod/pods/json`.
fn passes(p: &PodInfo, f: &Filters) -> ApiResult<bool> {
    let r = &p.record;
    for (k, vals) in f {
        let ok = match k.as_str() {
            "id" => vals.iter().any(|v| r.id.starts_with(v.as_str())),
            "name" => vals.iter().any(|v| name_matches(v, &r.name)),
            "label" => vals.iter().all(|v| label_matches(&r.labels, v)),
            "label!" => !vals.iter().all(|v| label_matches(&r.labels, v)),
            "status" => vals.iter().any(|v| v.eq_ignore_ascii_case(&p.state)),
            "until" => {
                let mut ok = true;
                for v in vals {
                    ok &= r.created < api_core::time::parse_time_param("until", v)?;
                }
                ok
            }
            "ctr-names" => vals
                .iter()
                .any(|v| p.containers.iter().any(|c| name_matches(v, &c.name))),
            "ctr-ids" => vals
                .iter()
                .any(|v| p.containers.iter().any(|c| c.id.starts_with(v.as_str()))),
            "ctr-status" => vals
                .iter()
                .any(|v| p.containers.iter().any(|c| c.status.as_str() == v)),
            "ctr-number" => vals
                .iter()
                .any(|v| v.parse::<usize>().is_ok_and(|n| n == p.containers.len())),
            "network" => vals.iter().any(|v| r.infra_config.networks.contains_key(v)),
            other => {
                return Err(ApiError::bad_request(format!(
                    "{other:?} is an invalid pod filter"
                )))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn default_net(st: &AppState) -> String {
    st.containers.default_network().name
}

/// `GET /libpod/pods/json`.
async fn list(State(st): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    let f = q.filters()?;
    let net = default_net(&st).await;
    let mut out = Vec::new();
    for p in st.pods.list().await? {
        if passes(&p, &f)? {
            out.push(list_entry(&p, &net));
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /libpod/pods/{name}/json`.
async fn inspect(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let p = st.pods.inspect(&name).await?;
    Ok(Json(inspect_doc(&p, &default_net(&st).await)))
}

/// `GET /libpod/pods/{name}/exists`.
async fn exists(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.pods.lookup(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A verb's answer: 200 with `{Errs, Id}`, 409 when some container failed, 304 when there
/// was nothing to do.
fn report(r: engine::Result<PodReport>) -> ApiResult<Response> {
    match r {
        Ok(rep) => {
            let code = if rep.errs.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::CONFLICT
            };
            let errs = if rep.errs.is_empty() {
                Value::Null
            } else {
                json!(rep.errs)
            };
            Ok((code, Json(json!({"Errs": errs, "Id": rep.id}))).into_response())
        }
        Err(Error::NotModified(_)) => Ok(StatusCode::NOT_MODIFIED.into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn start(State(st): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult<Response> {
    report(st.pods.start(&name).await)
}

async fn stop(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    // `t` (the API's name) or `timeout` (what podman 4.x clients send; -1 = default).
    let key = if q.get("t").is_some() { "t" } else { "timeout" };
    let t = match q.get(key).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            ApiError::with_cause(
                StatusCode::BAD_REQUEST,
                "schema: error converting value for \"t\"",
                format!("failed to parse parameters for /libpod/pods/{name}/stop?t={t}: schema: error converting value for \"t\""),
            )
        })?),
    };
    let t = t.filter(|t| *t > 0).map(|t| t.min(u32::MAX as i64) as u32);
    report(st.pods.stop(&name, t).await)
}

async fn restart(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    report(st.pods.restart(&name).await)
}

async fn kill(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let sig = q
        .get("signal")
        .filter(|s| !s.is_empty())
        .unwrap_or("SIGKILL");
    let sig = engine::containers::config::parse_signal(sig)?;
    report(st.pods.kill(&name, sig).await)
}

async fn pause(State(st): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult<Response> {
    report(st.pods.pause(&name, true).await)
}

async fn unpause(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    report(st.pods.pause(&name, false).await)
}

/// `DELETE /libpod/pods/{name}?force=&timeout=`.
async fn remove(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let force = q.bool_or("force", false)?;
    let timeout = q.value::<u32>("timeout")?;
    let p = st.pods.lookup(&name).await?;
    let removed = st.pods.remove(&p.id, force, timeout).await?;
    let ctrs: serde_json::Map<String, Value> =
        removed.into_iter().map(|c| (c, Value::Null)).collect();
    Ok(Json(json!({"Err": null, "Id": p.id, "RemovedCtrs": ctrs})))
}

/// `POST /libpod/pods/prune`.
async fn prune(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let gone = st.pods.prune().await?;
    Ok(Json(Value::Array(
        gone.into_iter()
            .map(|id| json!({"Err": null, "Id": id}))
            .collect(),
    )))
}

/// `GET /libpod/pods/{name}/top?ps_args=`: the processes of every running container of the
/// pod, infra first.
async fn top(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let p = st.pods.inspect(&name).await?;
    let args = q.get("ps_args").unwrap_or("").to_string();
    let mut titles = Vec::new();
    let mut processes = Vec::new();
    for c in p.containers.iter().filter(|c| c.is_running()) {
        let out = st.containers.top(&c.id, &args, true).await?;
        if titles.is_empty() {
            titles = out.titles;
        }
        processes.extend(out.processes);
    }
    if titles.is_empty() {
        return Err(Error::InvalidState(format!(
            "pod {} is not running: container state improper",
            p.record.id
        ))
        .into());
    }
    Ok(Json(json!({"Titles": titles, "Processes": processes})))
}

fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + UNITS[i]
    }
}

/// One sample of `GET /libpod/pods/stats`: a record per running container of the pods.
async fn stats_sample(st: &AppState, pods: &[PodInfo]) -> Vec<Value> {
    let mut out = Vec::new();
    for p in pods {
        for c in p.containers.iter().filter(|c| c.is_running()) {
            let Ok((_, s)) = st.containers.stats(&c.id).await else {
                continue;
            };
            let mem_pct = if s.memory_limit > 0 {
                s.memory_usage as f64 * 100.0 / s.memory_limit as f64
            } else {
                0.0
            };
            let (read, write) = s.blkio.iter().fold((0u64, 0u64), |(r, w), b| {
                match b.op.to_ascii_lowercase().as_str() {
                    "read" => (r + b.value, w),
                    "write" => (r, w + b.value),
                    _ => (r, w),
                }
            });
            out.push(json!({
                "CPU": "0.00%",
                "MemUsage": format!("{} / {}", human(s.memory_usage), human(s.memory_limit)),
                "MemUsageBytes": format!("{} / {}", s.memory_usage, s.memory_limit),
                "Mem": format!("{mem_pct:.2}%"),
                "NetIO": "-- / --",
                "BlockIO": format!("{} / {}", human(read), human(write)),
                "PIDS": s.pids_current.to_string(),
                "Pod": p.record.id[..12].to_string(),
                "CID": c.id[..12].to_string(),
                "Name": c.name,
            }));
        }
    }
    out
}

/// `GET /libpod/pods/stats?all=&namesOrIDs=&stream=&delay=`.
async fn stats(State(st): State<AppState>, q: Query) -> ApiResult<Response> {
    let all = q.bool_or("all", false)?;
    let names: Vec<String> = q.all("namesOrIDs");
    if all && !names.is_empty() {
        return Err(ApiError::bad_request(
            "--all, --latest and arguments cannot be used together",
        ));
    }
    let pods = if names.is_empty() {
        st.pods.list().await?
    } else {
        let mut v = Vec::new();
        for n in &names {
            match st.pods.inspect(n).await {
                Ok(p) => v.push(p),
                Err(Error::NoSuchPod(_)) => {
                    return Err(ApiError::with_cause(
                        StatusCode::NOT_FOUND,
                        "no such pod",
                        format!(
                        "unable to get list of pods: no pod with name or ID {n} found: no such pod"
                    ),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
        v
    };
    let ids: Vec<String> = pods.iter().map(|p| p.record.id.clone()).collect();
    if !q.bool_or("stream", false)? {
        return Ok(Json(Value::Array(stats_sample(&st, &pods).await)).into_response());
    }
    let delay = q.value::<u64>("delay")?.unwrap_or(5).max(1);
    let s = futures::stream::unfold((st, ids, true), move |(st, ids, first)| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
        let mut pods = Vec::new();
        for id in &ids {
            if let Ok(p) = st.pods.inspect(id).await {
                pods.push(p);
            }
        }
        let doc = Value::Array(stats_sample(&st, &pods).await);
        Some((doc, (st, ids, false)))
    });
    Ok(api_core::stream::json_lines(s))
}
