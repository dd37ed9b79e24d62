//! The request pipeline around the router: version prefixes (before routing), panic
//! catching, common headers, request ids and request logs.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::Router;
use futures::future::BoxFuture;
use futures::FutureExt;
use tower::Service;

use crate::error::ApiError;
use crate::listener::Peer;
use crate::state::AppState;
use crate::version::{split_version, ApiVersion};

/// The id of a request: the client's `X-Reference-Id` or one made here.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A plain-text answer like Go's `http.Error` (used for unknown routes and methods).
pub fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Reads and drops an unread request body (bounded), so a client still sending it gets the
/// answer instead of a reset connection (Go's server does the same).
async fn drain(body: Body) {
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        axum::body::to_bytes(body, 512 << 20),
    )
    .await;
}

/// The fallback for unknown routes: 404 `Not Found`.
pub async fn not_found(req: Request) -> Response<Body> {
    drain(req.into_body()).await;
    plain(StatusCode::NOT_FOUND, "Not Found\n")
}

/// The fallback for known paths with another method: 405 `Method Not Allowed`.
pub async fn method_not_allowed(req: Request) -> Response<Body> {
    drain(req.into_body()).await;
    plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n")
}

/// Cleans a path like Go's `path.Clean` (keeping a trailing slash), for the 301 redirect
/// Podman's router sends for `//` and `/./`.
fn clean_path(p: &str) -> Option<String> {
    if !(p.contains("//")
        || p.contains("/./")
        || p.contains("/../")
        || p.ends_with("/.")
        || p.ends_with("/.."))
    {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut c = format!("/{}", out.join("/"));
    if p.ends_with('/') && c != "/" {
        c.push('/');
    }
    Some(c)
}

/// The outermost service: strips and records the version prefix before routing, refuses
/// bare libpod paths, redirects unclean paths, and turns handler panics into 500 envelopes.
#[derive(Clone)]
pub struct PodapidService {
    router: Router,
    metrics: std::sync::Arc<crate::metrics::ApiMetrics>,
}

impl PodapidService {
    /// Wraps a router that already has its state, and the metrics its requests update.
    pub fn new(router: Router, metrics: std::sync::Arc<crate::metrics::ApiMetrics>) -> Self {
        PodapidService { router, metrics }
    }

    /// The service's metrics (the listener counts connections there).
    pub fn metrics(&self) -> &std::sync::Arc<crate::metrics::ApiMetrics> {
        &self.metrics
    }
}

impl Service<Request> for PodapidService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let original = req.uri().clone();
        let path = original.path().to_string();
        if let Some(clean) = clean_path(&path) {
            let loc = match original.query() {
                Some(q) => format!("{clean}?{q}"),
                None => clean,
            };
            let mut r = plain(StatusCode::MOVED_PERMANENTLY, "");
            if let Ok(v) = HeaderValue::from_str(&loc) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return Box::pin(async move { Ok(r) });
        }
        let version = match split_version(&path) {
            Some((ver, rest)) => {
                let libpod = rest.starts_with("/libpod/") || rest == "/libpod";
                let new_uri = rebuild_uri(&original, rest);
                *req.uri_mut() = new_uri;
                ApiVersion::parse(Some(ver), libpod)
            }
            None => {
                if path.starts_with("/libpod/") && path != "/libpod/_ping" {
                    return Box::pin(async { Ok(plain(StatusCode::NOT_FOUND, "Not Found\n")) });
                }
                ApiVersion::parse(None, false)
            }
        };
        req.extensions_mut().insert(OriginalUri(original));
        req.extensions_mut().insert(version);
        let mut router = self.router.clone();
        Box::pin(async move {
            match AssertUnwindSafe(router.call(req)).catch_unwind().await {
                Ok(r) => r,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    tracing::error!(panic = %what, "handler panicked");
                    Ok(ApiError::internal(format!("handler panicked: {what}")).into_response())
                }
            }
        })
    }
}

fn rebuild_uri(orig: &Uri, path: &str) -> Uri {
    let pq = match orig.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = orig.clone().into_parts();
    parts.path_and_query = pq.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| orig.clone())
}

/// A response body that keeps its answer counted in flight until it ends or is dropped.
struct GuardedBody {
    inner: Body,
    _in_flight: crate::metrics::InFlight,
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Adds Podman's headers to routed answers, assigns the request id and logs the request.
pub async fn common(State(state): State<AppState>, mut req: Request, next: Next) -> Response<Body> {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-reference-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(String::from)
        .unwrap_or_else(|| format!("{:#x}", NEXT_ID.fetch_add(1, Ordering::Relaxed)));
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let uri = req
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| req.uri().clone());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let label = route
        .as_deref()
        .unwrap_or(crate::metrics::UNMATCHED)
        .to_string();
    let in_flight = state.metrics.enter(&label);
    let peer = req.extensions().get::<Peer>().cloned();
    let mut resp = next.run(req).await;
    state.metrics.record(
        &label,
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    // A streaming answer stays in flight until its body ends.
    if http_body::Body::size_hint(resp.body()).exact().is_none() {
        resp = resp.map(|body| {
            Body::new(GuardedBody {
                inner: body,
                _in_flight: in_flight,
            })
        });
    }
    if route.is_some() {
        let h = resp.headers_mut();
        h.insert(
            "api-version",
            HeaderValue::from_static(engine::system::COMPAT_API_VERSION),
        );
        h.insert(
            "libpod-api-version",
            HeaderValue::from_static(engine::system::PODMAN_VERSION),
        );
        h.insert(
            header::SERVER,
            HeaderValue::from_static(engine::system::SERVER_HEADER),
        );
        if let Ok(v) = HeaderValue::from_str(&id) {
            h.insert("x-reference-id", v);
        }
        if let Some(origin) = &state.service.cors {
            if let Ok(v) = HeaderValue::from_str(origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, Connection, Upgrade, X-Registry-Config"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("HEAD, GET, POST, DELETE, PUT, OPTIONS"),
            );
        }
    }
    let status = resp.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = route.as_deref().unwrap_or("-");
    let (peer_uid, peer_pid, peer_addr) = match &peer {
        Some(Peer::Unix { uid, pid, .. }) => (Some(*uid), *pid, None),
        Some(Peer::Tcp(a)) => (None, None, Some(a.to_string())),
        _ => (None, None, None),
    };
    if let Some(err) = resp.extensions().get::<ApiError>() {
        tracing::error!(request_id = %id, %method, %uri, route, status, latency_ms = ms, peer_uid, peer_pid, peer_addr, error = %err.message, "request failed");
    } else {
        tracing::info!(request_id = %id, %method, %uri, route, status, latency_ms = ms, peer_uid, peer_pid, peer_addr, "request");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclean_paths_are_cleaned() {
        assert_eq!(clean_path("/v1.41//info").as_deref(), Some("/v1.41/info"));
        assert_eq!(clean_path("/./_ping").as_deref(), Some("/_ping"));
        assert_eq!(clean_path("/a/../b").as_deref(), Some("/b"));
        assert_eq!(clean_path("/v1.41/info"), None);
        assert_eq!(clean_path("/x/"), None);
    }
}
