//! podapid's HTTP foundation, shared by every area crate.
//!
//! Owns the application state ([`AppState`]), the error envelope ([`ApiError`]), API
//! versions, extractors, query decoding, the middleware pipeline, listeners and the
//! streaming/hijack helpers. It knows the engine's traits but no concrete runtime, and no
//! area's routes.

pub mod error;
pub mod extract;
pub mod hijack;
pub mod listener;
pub mod middleware;
pub mod query;
pub mod state;
pub mod stream;
pub mod time;
pub mod version;

use std::future::Future;
use std::time::Duration;

use axum::Router;

pub use error::{ApiError, ApiResult};
pub use extract::{ApiJson, ApiPath};
pub use listener::{ActivityTracker, AnyListener, ListenAddr, ServeListener};
pub use middleware::PodapidService;
pub use query::Query;
pub use state::{AppState, ServiceConfig};
pub use version::ApiVersion;

/// Finishes the composed router: Podman's 404/405 answers, the common middleware, the
/// state, and the outer service (version prefixes, panic catching).
pub fn into_service(router: Router<AppState>, state: AppState) -> PodapidService {
    let router = router
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::common,
        ))
        .with_state(state);
    PodapidService::new(router)
}

/// Serves `service` on `listener` until `shutdown` resolves or, when `idle` is non-zero,
/// until nothing has been connected for that long. Open connections get a short grace
/// period after a shutdown.
///
/// Connections are driven by hyper directly (not `axum::serve`) so response header names go
/// out in Go's canonical case (`Api-Version`, `Ostype`), which some clients and Podman's own
/// tests match literally, and so upgrades (attach/exec hijack) work.
pub async fn serve(
    listener: AnyListener,
    service: PodapidService,
    idle: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    let tracker = ActivityTracker::new();
    let t2 = tracker.clone();
    let stop = async move {
        tokio::select! {
            _ = shutdown => {},
            _ = t2.idle_for(idle) => tracing::info!("idle timeout reached, exiting"),
        }
    };
    tokio::pin!(stop);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.title_case_headers(true);
    let mut listener = ServeListener::new(listener, tracker.clone());
    loop {
        let io = tokio::select! {
            (io, ()) = axum::serve::Listener::accept(&mut listener) => io,
            _ = &mut stop => break,
        };
        let svc = service
            .clone()
            .map_request(|r: axum::http::Request<hyper::body::Incoming>| {
                r.map(axum::body::Body::new)
            });
        let conn = builder
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(svc))
            .with_upgrades();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let res = tokio::select! {
                r = conn.as_mut() => r,
                _ = async { let _ = closing.wait_for(|c| *c).await.map(|_| ()); } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = async {
        while tracker.open() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), drained)
        .await
        .is_err()
    {
        tracing::info!("open connections did not finish within 5s; exiting anyway");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn state(dir: &std::path::Path) -> AppState {
        let rt = engine::Runtime::open(engine::RuntimeOptions {
            root: dir.join("root"),
            runroot: dir.join("run"),
            conf: Default::default(),
            registries: Default::default(),
            service_uri: None,
        })
        .await
        .unwrap();
        AppState::from_engine(rt, ServiceConfig::default())
    }

    async fn boom() -> &'static str {
        panic!("kaboom")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_handler_panic_is_a_500_envelope_and_serving_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let router = Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "fine" }));
        let svc = into_service(router, state(dir.path()).await);
        let r = svc
            .clone()
            .oneshot(Request::get("/v1.41/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers()["content-type"], "application/json");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["response"], 500);
        assert!(v["message"].as_str().unwrap().contains("kaboom"));
        let r = svc
            .oneshot(Request::get("/ok").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn bad_json_bodies_and_path_params_get_the_envelope() {
        use axum::routing::post;
        let dir = tempfile::tempdir().unwrap();
        async fn create(
            ApiJson(_v): ApiJson<std::collections::BTreeMap<String, String>>,
        ) -> &'static str {
            "ok"
        }
        async fn item(ApiPath(n): ApiPath<u32>) -> String {
            n.to_string()
        }
        let router = Router::new()
            .route("/things/create", post(create))
            .route("/things/{n}", get(item));
        let svc = into_service(router, state(dir.path()).await);
        for req in [
            Request::post("/things/create")
                .body(Body::from("{not json"))
                .unwrap(),
            Request::get("/things/notanumber")
                .body(Body::empty())
                .unwrap(),
        ] {
            let r = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let body = r.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["response"], 400);
        }
    }
}
