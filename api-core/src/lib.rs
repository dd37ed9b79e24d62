//! podapid's HTTP foundation, shared by every area crate.
//!
//! Owns the application state ([`AppState`]), the error envelope ([`ApiError`]), API
//! versions, extractors, query decoding, the middleware pipeline, listeners and the
//! streaming/hijack helpers. It knows the engine's traits but no concrete runtime, and no
//! area's routes.

#[macro_use]
mod macros;
pub mod error;
pub mod extract;
pub mod hijack;
pub mod listener;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod query;
pub mod rawuri;
pub mod state;
pub mod stream;
pub mod time;
pub mod tls;
pub mod version;

use std::future::Future;
use std::time::Duration;

use axum::Router;

pub use error::{ApiError, ApiResult};
pub use extract::{ApiJson, ApiPath};
pub use listener::{ActivityTracker, AnyListener, ListenAddr, Peer, ServeListener};
pub use middleware::PodapidService;
pub use query::Query;
pub use state::{AppState, ServiceConfig};
pub use version::ApiVersion;

/// Finishes the composed router: Podman's 404/405 answers, the common middleware, the
/// state, and the outer service (version prefixes, panic catching).
pub fn into_service(router: Router<AppState>, state: AppState) -> PodapidService {
    let metrics = state.metrics.clone();
    let router = router
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::common,
        ))
        .with_state(state);
    PodapidService::new(router, metrics)
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
    serve_tls(listener, None, service, idle, shutdown).await
}

/// [`serve`], with TLS on every connection when `tls` is given (the handshake happens in
/// the connection's own task, so a slow client never holds up the accept loop).
pub async fn serve_tls(
    listener: AnyListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    service: PodapidService,
    idle: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
        let peer = io.peer();
        let open = service.metrics().connection();
        let svc =
            service
                .clone()
                .map_request(move |r: axum::http::Request<hyper::body::Incoming>| {
                    let mut r = r.map(axum::body::Body::new);
                    r.extensions_mut().insert(peer.clone());
                    r
                });
        let closing = closing_rx.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _open = open;
            match tls {
                None => drive(builder, io, svc, closing).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(30), acceptor.accept(io)).await;
                    match handshake {
                        Ok(Ok(io)) => drive(builder, io, svc, closing).await,
                        Ok(Err(e)) => tracing::info!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::info!("TLS handshake timed out"),
                    }
                }
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

/// Serves HTTP/1.1 (with upgrades) on one connection until it ends or the server closes.
async fn drive<I, S>(
    builder: hyper::server::conn::http1::Builder,
    io: I,
    svc: S,
    mut closing: tokio::sync::watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<
            axum::http::Request<hyper::body::Incoming>,
            Response = axum::http::Response<axum::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    let conn = builder
        .serve_connection(
            TokioIo::new(rawuri::LenientIo::new(io)),
            TowerToHyperService::new(svc),
        )
        .with_upgrades();
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

    async fn echo(h: hijack::Hijack) -> axum::response::Response {
        h.respond(hijack::RAW_STREAM, |mut io| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = io.write_all(b"hello\n").await;
            let mut buf = [0u8; 64];
            // Echo stdin until the client half-closes, then say goodbye.
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let _ = io.write_all(&buf[..n]).await;
            }
            let _ = io.write_all(b"bye\n").await;
            let _ = io.shutdown().await;
        })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn hijack_upgrades_or_streams_to_eof() {
        use axum::routing::post;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s.sock");
        let listener = AnyListener::bind(&ListenAddr::Unix(sock.clone()))
            .await
            .unwrap();
        let svc = into_service(
            Router::new().route("/attach", post(echo)),
            state(dir.path()).await,
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, svc, Duration::ZERO, async move {
            let _ = rx.await;
        }));

        // With the upgrade headers: 101, then raw bytes both ways, half-close honoured.
        let mut s = tokio::net::UnixStream::connect(&sock).await.unwrap();
        s.write_all(b"POST /v1.41/attach HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("Upgrade: tcp"), "{head}");
        s.write_all(b"ping").await.unwrap();
        s.shutdown().await.unwrap();
        let mut rest = String::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rest, "hello\npingbye\n");

        // Without them: 200 over HTTP/1.0, output only, closed at the end.
        let mut s = tokio::net::UnixStream::connect(&sock).await.unwrap();
        s.write_all(b"POST /attach HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let mut all = String::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut all))
            .await
            .unwrap()
            .unwrap();
        assert!(all.starts_with("HTTP/1.0 200"), "{all}");
        assert!(all.contains("application/vnd.docker.raw-stream"), "{all}");
        assert!(all.ends_with("\r\n\r\nhello\nbye\n"), "{all}");
        let _ = tx.send(());
        server.await.unwrap().unwrap();
    }
}
