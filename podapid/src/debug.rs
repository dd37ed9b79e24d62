//! The debug listener (`--pprof-addr`): a separate plain-HTTP address for operators, never
//! the API socket. It serves
//! - `/metrics`: the API's and the engine's metrics in the Prometheus text format;
//! - `/debug/pprof/profile?seconds=N`: a CPU profile sampled for N seconds (default 30, at most
//!   300), in the pprof protobuf format `go tool pprof` and flamegraph tools read;
//! - `/debug/pprof/heap`: the allocator's own summary (glibc `mallinfo2`) and the process'
//!   memory from `/proc/self/status`;
//! - `/debug/pprof/threads` (also `/debug/pprof/goroutine`): the async runtime's numbers and
//!   every OS thread of the process with its state and CPU time.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use api_core::metrics::ApiMetrics;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::system::SystemEngine;
use tokio::sync::Mutex;

/// What the debug routes read.
#[derive(Clone)]
pub struct DebugState {
    /// The API service's request metrics.
    pub api: Arc<ApiMetrics>,
    /// The engine, for its metrics.
    pub engine: Arc<dyn SystemEngine>,
    /// One CPU profile at a time (the sampler is process-wide).
    profiling: Arc<Mutex<()>>,
}

impl DebugState {
    /// The state over a service's metrics and its engine.
    pub fn new(api: Arc<ApiMetrics>, engine: Arc<dyn SystemEngine>) -> DebugState {
        DebugState {
            api,
            engine,
            profiling: Arc::new(Mutex::new(())),
        }
    }
}

/// The debug router.
pub fn router(state: DebugState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/debug/pprof/", get(index))
        .route("/debug/pprof/profile", get(profile))
        .route("/debug/pprof/heap", get(heap))
        .route("/debug/pprof/threads", get(threads))
        .route("/debug/pprof/goroutine", get(threads))
        .with_state(state)
}

/// Whether `addr` (host:port) is a loopback address.
pub fn is_loopback(addr: &std::net::SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Reads `--pprof-addr`: `HOST:PORT`, or a bare `PORT` meaning 127.0.0.1.
pub fn parse_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    let full = if s.bytes().all(|b| b.is_ascii_digit()) {
        format!("127.0.0.1:{s}")
    } else {
        s.to_string()
    };
    use std::net::ToSocketAddrs;
    full.to_socket_addrs()
        .map_err(|e| format!("--pprof-addr {s:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--pprof-addr {s:?}: no address"))
}

async fn index() -> &'static str {
    "podapid debug listener\n\n\
     /metrics                          Prometheus text metrics\n\
     /debug/pprof/profile?seconds=N    CPU profile (pprof protobuf), N seconds (default 30)\n\
     /debug/pprof/heap                 allocator and memory summary\n\
     /debug/pprof/threads              async runtime numbers and OS threads\n"
}

async fn metrics(State(s): State<DebugState>) -> Response {
    let engine = match s.engine.metrics().await {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "reading the engine's metrics");
            None
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.api.render(engine.as_ref()),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct ProfileQuery {
    seconds: Option<u64>,
    /// Samples per second (default 99).
    frequency: Option<i32>,
}

fn plain_error(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

async fn profile(State(s): State<DebugState>, Query(q): Query<ProfileQuery>) -> Response {
    let seconds = q.seconds.unwrap_or(30);
    if seconds == 0 || seconds > 300 {
        return plain_error(
            StatusCode::BAD_REQUEST,
            "seconds must be between 1 and 300\n".into(),
        );
    }
    let frequency = q.frequency.unwrap_or(99).clamp(1, 1000);
    let Ok(_one) = s.profiling.try_lock() else {
        return plain_error(
            StatusCode::CONFLICT,
            "a profile is already being taken\n".into(),
        );
    };
    let guard = match pprof::ProfilerGuardBuilder::default()
        .frequency(frequency)
        .blocklist(&["libgcc", "vdso"])
        .build()
    {
        Ok(g) => g,
        Err(e) => {
            return plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("starting the profiler: {e}\n"),
            )
        }
    };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let encoded = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        use pprof::protos::Message;
        let report = guard.report().build().map_err(|e| e.to_string())?;
        let profile = report.pprof().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        profile.encode(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await;
    match encoded {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"profile\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => plain_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("building the profile: {e}\n"),
        ),
        Err(e) => plain_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("building the profile: {e}\n"),
        ),
    }
}

#[allow(unsafe_code)]
fn mallinfo() -> libc::mallinfo2 {
    // SAFETY: mallinfo2 only reads the allocator's counters and returns them by value.
    unsafe { libc::mallinfo2() }
}

async fn heap() -> Response {
    let m = mallinfo();
    let mut out = String::new();
    let _ = writeln!(out, "# allocator: glibc malloc (mallinfo2)");
    let _ = writeln!(out, "arena_bytes {}", m.arena);
    let _ = writeln!(out, "mmap_bytes {}", m.hblkhd);
    let _ = writeln!(out, "mmap_chunks {}", m.hblks);
    let _ = writeln!(out, "in_use_bytes {}", m.uordblks);
    let _ = writeln!(out, "free_bytes {}", m.fordblks);
    let _ = writeln!(out, "free_chunks {}", m.ordblks);
    let _ = writeln!(out, "releasable_bytes {}", m.keepcost);
    let _ = writeln!(out, "\n# /proc/self/status");
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("Vm") || l.starts_with("Rss"))
        {
            let _ = writeln!(out, "{line}");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response()
}

async fn threads() -> Response {
    let mut out = String::new();
    let rt = tokio::runtime::Handle::current().metrics();
    let _ = writeln!(out, "# tokio runtime");
    let _ = writeln!(out, "workers {}", rt.num_workers());
    let _ = writeln!(out, "alive_tasks {}", rt.num_alive_tasks());
    let _ = writeln!(out, "global_queue_depth {}", rt.global_queue_depth());
    for w in 0..rt.num_workers() {
        let _ = writeln!(
            out,
            "worker {w}: busy {:?}, parks {}",
            rt.worker_total_busy_duration(w),
            rt.worker_park_count(w)
        );
    }
    let _ = writeln!(out, "\n# threads: tid name state utime stime (clock ticks)");
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        let mut tids: Vec<_> = dir.flatten().map(|e| e.file_name()).collect();
        tids.sort_by_key(|t| t.to_string_lossy().parse::<u64>().unwrap_or(0));
        for tid in tids {
            let tid = tid.to_string_lossy().into_owned();
            let stat =
                std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
            // `pid (comm) state ...`: the name may contain spaces and parentheses.
            let (name, rest) = match (stat.find('('), stat.rfind(')')) {
                (Some(a), Some(b)) if b > a => (&stat[a + 1..b], &stat[b + 1..]),
                _ => ("?", ""),
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            let _ = writeln!(
                out,
                "{tid} {name} {} {} {}",
                f.first().unwrap_or(&"?"),
                f.get(11).unwrap_or(&"?"),
                f.get(12).unwrap_or(&"?")
            );
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        let a = parse_addr("6060").unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:6060");
        assert!(is_loopback(&a));
        assert!(!is_loopback(&parse_addr("0.0.0.0:1").unwrap()));
        assert!(parse_addr("nope:").is_err());
    }
}
