//! Request metrics of the API service and their Prometheus text rendering (with the engine's
//! numbers), served by podapid's debug listener at `/metrics`.
//!
//! The common middleware records every request (route template, method, status, latency)
//! and keeps a count of answers in flight per route: a streaming answer (events, logs,
//! pulls, builds) stays counted until its body ends. The listener counts open connections.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::metrics::{EngineMetrics, Histogram, HistogramSnapshot};

/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The routes whose answers in flight are image pulls.
const PULL_ROUTES: &[&str] = &["/images/create", "/libpod/images/pull"];

/// Counters of one API service.
#[derive(Debug, Default)]
pub struct ApiMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Arc<Histogram>>>,
    in_flight: Mutex<BTreeMap<String, i64>>,
    connections: AtomicI64,
}

/// Counts an answer as in flight until dropped.
#[derive(Debug)]
pub struct InFlight {
    metrics: Arc<ApiMetrics>,
    route: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut m) = self.metrics.in_flight.lock() {
            if let Some(n) = m.get_mut(&self.route) {
                *n -= 1;
            }
        }
    }
}

/// Counts a connection as open until dropped.
#[derive(Debug)]
pub struct OpenConnection(Arc<ApiMetrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ApiMetrics {
    /// Marks an answer on `route` as in flight.
    pub fn enter(self: &Arc<Self>, route: &str) -> InFlight {
        let route = &route_label(route);
        if let Ok(mut m) = self.in_flight.lock() {
            *m.entry(route.to_string()).or_insert(0) += 1;
        }
        InFlight {
            metrics: self.clone(),
            route: route.to_string(),
        }
    }

    /// Marks a connection as open.
    pub fn connection(self: &Arc<Self>) -> OpenConnection {
        self.connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    /// Records a finished request (its headers answered).
    pub fn record(&self, route: &str, method: &str, status: u16, latency: Duration) {
        let route = &route_label(route);
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_string(), method.to_string(), status))
                .or_insert(0) += 1;
        }
        let h = self.latency.lock().ok().map(|mut m| {
            m.entry(route.to_string())
                .or_insert_with(|| Arc::new(Histogram::latency()))
                .clone()
        });
        if let Some(h) = h {
            h.observe(latency);
        }
    }

    /// The number of requests recorded so far.
    pub fn requests_total(&self) -> u64 {
        self.requests.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    /// Renders the API's and the engine's metrics in the Prometheus text format 0.0.4.
    pub fn render(&self, engine: Option<&EngineMetrics>) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "podapid_http_requests_total",
            "counter",
            "API requests answered, by route template, method and status.",
        );
        if let Ok(m) = self.requests.lock() {
            for ((route, method, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "podapid_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    escape(route),
                    escape(method)
                );
            }
        }
        header(
            &mut out,
            "podapid_http_request_duration_seconds",
            "histogram",
            "Time from a request to its response headers, by route template.",
        );
        let hists: Vec<(String, HistogramSnapshot)> = self
            .latency
            .lock()
            .map(|m| m.iter().map(|(k, h)| (k.clone(), h.snapshot())).collect())
            .unwrap_or_default();
        for (route, snap) in &hists {
            histogram(
                &mut out,
                "podapid_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
                snap,
            );
        }
        header(
            &mut out,
            "podapid_http_connections_open",
            "gauge",
            "Client connections open (hijacked attach/exec connections included).",
        );
        let _ = writeln!(
            out,
            "podapid_http_connections_open {}",
            self.connections.load(Ordering::Relaxed).max(0)
        );
        header(
            &mut out,
            "podapid_http_responses_in_flight",
            "gauge",
            "Answers not finished yet (streams included), by route template.",
        );
        let in_flight: Vec<(String, i64)> = self
            .in_flight
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        for (route, n) in &in_flight {
            let _ = writeln!(
                out,
                "podapid_http_responses_in_flight{{route=\"{}\"}} {}",
                escape(route),
                (*n).max(0)
            );
        }
        header(
            &mut out,
            "podapid_image_pulls_in_flight",
            "gauge",
            "Image pulls being answered.",
        );
        let pulls: i64 = in_flight
            .iter()
            .filter(|(r, _)| PULL_ROUTES.contains(&r.as_str()))
            .map(|(_, n)| (*n).max(0))
            .sum();
        let _ = writeln!(out, "podapid_image_pulls_in_flight {pulls}");
        if let Some(e) = engine {
            render_engine(&mut out, e);
        }
        out
    }
}

fn render_engine(out: &mut String, e: &EngineMetrics) {
    header(out, "podapid_containers", "gauge", "Containers by state.");
    for (state, n) in &e.containers {
        let _ = writeln!(out, "podapid_containers{{state=\"{}\"}} {n}", escape(state));
    }
    header(out, "podapid_pods", "gauge", "Pods by state.");
    for (state, n) in &e.pods {
        let _ = writeln!(out, "podapid_pods{{state=\"{}\"}} {n}", escape(state));
    }
    header(out, "podapid_images", "gauge", "Images in the store.");
    let _ = writeln!(out, "podapid_images {}", e.images);
    header(
        out,
        "podapid_events_emitted_total",
        "counter",
        "Events emitted since the daemon started.",
    );
    let _ = writeln!(out, "podapid_events_emitted_total {}", e.events_emitted);
    header(
        out,
        "podapid_conmon_processes",
        "gauge",
        "conmon processes monitoring this daemon's containers and exec sessions.",
    );
    let _ = writeln!(out, "podapid_conmon_processes {}", e.conmon_processes);
    if let Some(snap) = &e.db_transactions {
        header(
            out,
            "podapid_db_transaction_duration_seconds",
            "histogram",
            "State database write transactions, lock wait included.",
        );
        histogram(out, "podapid_db_transaction_duration_seconds", "", snap);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, snap: &HistogramSnapshot) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, n) in &snap.buckets {
        let le = if bound.is_infinite() {
            "+Inf".to_string()
        } else {
            bound.to_string()
        };
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {n}");
    }
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", snap.sum);
    let _ = writeln!(out, "{name}_count{braces} {}", snap.count);
}

/// A route template as a label: `{name}` becomes `:name`, so that label values carry no
/// braces (simple exposition parsers stop at the first `}`).
fn route_label(route: &str) -> String {
    route.replace('{', ":").replace('}', "")
}

/// Escapes a label value (`\`, `"`, newline).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Arc::new(ApiMetrics::default());
        m.record("/_ping", "GET", 200, Duration::from_millis(1));
        m.record("/_ping", "GET", 200, Duration::from_millis(2));
        m.record(
            "/containers/{name}/json",
            "GET",
            404,
            Duration::from_millis(3),
        );
        let pull = m.enter("/images/create");
        let _conn = m.connection();
        let text = m.render(None);
        assert!(text.contains(
            "podapid_http_requests_total{route=\"/_ping\",method=\"GET\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "podapid_http_request_duration_seconds_bucket{route=\"/_ping\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("podapid_http_request_duration_seconds_count{route=\"/_ping\"} 2\n"));
        assert!(text.contains("podapid_image_pulls_in_flight 1\n"));
        assert!(text.contains("podapid_http_connections_open 1\n"));
        assert_eq!(m.requests_total(), 3);
        assert!(
            text.contains("route=\"/containers/:name/json\",method=\"GET\",status=\"404\"} 1\n")
        );
        drop(pull);
        assert!(m.render(None).contains("podapid_image_pulls_in_flight 0\n"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
