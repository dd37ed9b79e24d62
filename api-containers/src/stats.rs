//! `stats` (Docker's JSON, one-shot or every second) and `top` for both trees, plus libpod's
//! multi-container `GET /libpod/containers/stats`.

use std::time::Duration;

use api_core::{ApiError, ApiPath, ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Json, Response};
use engine::containers::lifecycle::ContainerRecord;
use engine::containers::stats::{self, CgroupStats};
use engine::containers::ListOptions;
use serde_json::{json, Value};

fn cpu_block(s: &CgroupStats, online: u32) -> Value {
    json!({
        "cpu_usage": {
            "total_usage": s.cpu_total_ns,
            "percpu_usage": s.percpu_ns,
            "usage_in_kernelmode": s.cpu_system_ns,
            "usage_in_usermode": s.cpu_user_ns,
        },
        "system_cpu_usage": s.system_cpu_ns,
        "online_cpus": online,
        "throttling_data": {
            "periods": s.throttling.periods,
            "throttled_periods": s.throttling.throttled_periods,
            "throttled_time": s.throttling.throttled_time_ns,
        },
    })
}

/// Docker's stats document for one sample (`pre` = the previous one).
fn docker_stats(
    r: &ContainerRecord,
    s: &CgroupStats,
    pre: Option<&(chrono::DateTime<chrono::Utc>, CgroupStats)>,
    libpod: bool,
) -> Value {
    let online = if r.config.resources.cpuset_cpus.is_empty() {
        s.online_cpus
    } else {
        stats::parse_cpu_list(&r.config.resources.cpuset_cpus)
    };
    let networks: serde_json::Map<String, Value> = if r.pid > 0 {
        stats::net_dev(r.pid)
            .into_iter()
            .filter(|(k, _)| k != "lo")
            .map(|(k, n)| {
                (
                    k,
                    json!({"rx_bytes": n.rx_bytes, "rx_packets": n.rx_packets, "rx_errors": n.rx_errors, "rx_dropped": n.rx_dropped, "tx_bytes": n.tx_bytes, "tx_packets": n.tx_packets, "tx_errors": n.tx_errors, "tx_dropped": n.tx_dropped}),
                )
            })
            .collect()
    } else {
        serde_json::Map::new()
    };
    let blkio: Vec<Value> = s
        .blkio
        .iter()
        .map(|b| json!({"major": b.major, "minor": b.minor, "op": b.op, "value": b.value}))
        .collect();
    let now = chrono::Utc::now();
    let (pre_read, pre_cpu) = match pre {
        Some((t, p)) => (
            t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            cpu_block(p, online),
        ),
        None => (
            "0001-01-01T00:00:00Z".to_string(),
            cpu_block(&CgroupStats::default(), 0),
        ),
    };
    let id_key = if libpod { "Id" } else { "id" };
    let mut v = json!({
        "read": now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "preread": pre_read,
        "pids_stats": {"current": s.pids_current, "limit": s.pids_limit},
        "blkio_stats": {
            "io_service_bytes_recursive": blkio,
            "io_serviced_recursive": null, "io_queue_recursive": null,
            "io_service_time_recursive": null, "io_wait_time_recursive": null,
            "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_block(s, online),
        "precpu_stats": pre_cpu,
        "memory_stats": {
            "usage": s.memory_usage,
            "max_usage": s.memory_max_usage,
            "stats": s.memory_stats,
            "limit": s.memory_limit,
        },
        "name": format!("/{}", r.name),
        "networks": networks,
    });
    v[id_key] = json!(r.id);
    v
}

/// `GET /containers/{name}/stats?stream=&one-shot=`.
pub(crate) async fn stats_one(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let stream = q.bool_or("stream", true)? && !q.bool_or("one-shot", false)?;
    let (rec, first) = st.containers.stats(&name).await?;
    if !rec.is_running() && stream {
        return Err(ApiError::conflict(format!(
            "container {} is not running: container state improper",
            rec.id
        )));
    }
    let libpod = ver.libpod;
    if !stream {
        // Docker takes two samples a moment apart so CPU percentages can be computed.
        let t0 = chrono::Utc::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (rec, s) = st.containers.stats(&rec.id).await?;
        return Ok(Json(docker_stats(&rec, &s, Some(&(t0, first)), libpod)).into_response());
    }
    let c = st.containers.clone();
    let id = rec.id.clone();
    let s = futures::stream::unfold(Some((t_now(), first, true)), move |state| {
        let c = c.clone();
        let id = id.clone();
        async move {
            let (t, prev, first_round) = state?;
            if !first_round {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let (rec, cur) = c.stats(&id).await.ok()?;
            if !rec.is_running() {
                return None;
            }
            let doc = docker_stats(&rec, &cur, Some(&(t, prev)), libpod);
            Some((doc, Some((t_now(), cur, false))))
        }
    });
    Ok(api_core::stream::json_lines(s))
}

fn t_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// libpod's per-container stats entry.
fn libpod_entry(r: &ContainerRecord, s: &CgroupStats, pre: &CgroupStats, dt_ns: u64) -> Value {
    let cpu_delta = s.cpu_total_ns.saturating_sub(pre.cpu_total_ns) as f64;
    let sys_delta = s.system_cpu_ns.saturating_sub(pre.system_cpu_ns) as f64;
    let cpu = if sys_delta > 0.0 {
        cpu_delta / sys_delta * f64::from(s.online_cpus.max(1)) * 100.0
    } else {
        0.0
    };
    let net = if r.pid > 0 {
        stats::net_dev(r.pid)
    } else {
        Default::default()
    };
    let (rx, tx) = net
        .iter()
        .filter(|(k, _)| k.as_str() != "lo")
        .fold((0u64, 0u64), |(a, b), (_, n)| {
            (a + n.rx_bytes, b + n.tx_bytes)
        });
    let (br, bw) = s
        .blkio
        .iter()
        .fold((0u64, 0u64), |(a, b), e| match e.op.as_str() {
            "Read" | "read" => (a + e.value, b),
            "Write" | "write" => (a, b + e.value),
            _ => (a, b),
        });
    json!({
        "AvgCPU": cpu, "ContainerID": r.id, "Name": r.name, "PerCPU": s.percpu_ns,
        "CPU": cpu, "CPUNano": s.cpu_total_ns, "CPUSystemNano": s.cpu_system_ns,
        "SystemNano": dt_ns, "MemUsage": s.memory_usage, "MemLimit": s.memory_limit,
        "MemPerc": if s.memory_limit > 0 { s.memory_usage as f64 / s.memory_limit as f64 * 100.0 } else { 0.0 },
        "NetInput": rx, "NetOutput": tx, "BlockInput": br, "BlockOutput": bw,
        "PIDs": s.pids_current, "UpTime": 0, "Duration": 0,
    })
}

/// `GET /libpod/containers/stats?containers=&stream=&interval=`.
pub(crate) async fn libpod_stats(State(st): State<AppState>, q: Query) -> ApiResult<Response> {
    let stream = q.bool_or("stream", true)?;
    let interval = q.value::<u64>("interval")?.unwrap_or(5).max(1);
    let mut names: Vec<String> = Vec::new();
    for c in q.all("containers") {
        let c = c.trim();
        if let Ok(v) = serde_json::from_str::<Vec<String>>(c) {
            names.extend(v);
        } else {
            names.extend(c.split(',').filter(|x| !x.is_empty()).map(String::from));
        }
    }
    let ids: Vec<String> = if names.is_empty() {
        st.containers
            .list(ListOptions {
                all: false,
                limit: 0,
            })
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect()
    } else {
        let mut v = Vec::new();
        for n in &names {
            match st.containers.inspect(n).await {
                Ok(r) => v.push(r.id),
                // Podman answers 200 and reports the error in the stream.
                Err(e) => {
                    return Ok(Json(json!({"Error": e.to_string(), "Stats": null})).into_response())
                }
            }
        }
        v
    };
    let c = st.containers.clone();
    let sample = move |ids: Vec<String>| {
        let c = c.clone();
        async move {
            let mut out = Vec::new();
            for id in &ids {
                if let Ok((r, s)) = c.stats(id).await {
                    out.push(libpod_entry(&r, &s, &CgroupStats::default(), 0));
                }
            }
            json!({"Error": null, "Stats": out})
        }
    };
    if !stream {
        return Ok(Json(sample(ids).await).into_response());
    }
    let s = futures::stream::unfold((ids, true), move |(ids, first)| {
        let sample = sample.clone();
        async move {
            if !first {
                tokio::time::sleep(Duration::from_secs(interval)).await;
            }
            let doc = sample(ids.clone()).await;
            Some((doc, (ids, false)))
        }
    });
    Ok(api_core::stream::json_lines(s))
}

/// `GET /containers/{name}/top?ps_args=` (both trees; libpod takes descriptors).
pub(crate) async fn top(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let _ = q.bool_or("stream", false)?;
    let args = q.all("ps_args").join(" ");
    // A failing `ps` is an engine `Internal` error: 500 with its text as the cause.
    let t = st.containers.top(&name, &args, ver.libpod).await?;
    Ok(Json(json!({"Titles": t.titles, "Processes": t.processes})))
}
