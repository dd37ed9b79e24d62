//! The podapid daemon as a library: composes the area routers behind cargo features, opens
//! the engine runtime and serves the API. `main.rs` is only the command line around it;
//! integration tests call [`serve`] directly.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use api_core::{AnyListener, AppState, ServiceConfig};
use axum::Router;
use engine::{Runtime, RuntimeOptions};

pub mod debug;

/// Everything the daemon needs to start.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Persistent state (`--root`).
    pub root: PathBuf,
    /// Volatile state (`--runroot`).
    pub runroot: PathBuf,
    /// The URI served, for `info` (the listener itself is passed separately).
    pub uri: Option<String>,
    /// Exit after this long without connections (zero: never).
    pub idle: Duration,
    /// `--cors` origin.
    pub cors: Option<String>,
    /// containers.conf files read after the usual ones (tests give each daemon its own
    /// default network this way).
    pub extra_conf: Vec<PathBuf>,
    /// The debug listener (`--pprof-addr`: metrics, profiles), bound by the caller.
    pub pprof: Option<std::sync::Arc<std::net::TcpListener>>,
    /// TLS for a `tcp://` listener (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    pub tls: Option<api_core::tls::TlsFiles>,
}

/// The API areas this build serves (for logs and `--version`).
pub fn features() -> Vec<&'static str> {
    let mut v = vec!["system"];
    if cfg!(feature = "containers") {
        v.push("containers");
    }
    if cfg!(feature = "images") {
        v.push("images");
    }
    if cfg!(feature = "pods") {
        v.push("pods");
    }
    if cfg!(feature = "networks") {
        v.push("networks");
    }
    if cfg!(feature = "volumes") {
        v.push("volumes");
    }
    v
}

/// The composed router of every area compiled in.
pub fn router() -> Router<AppState> {
    let router = api_system::router();
    #[cfg(feature = "containers")]
    let router = router.merge(api_containers::router());
    #[cfg(feature = "images")]
    let router = router.merge(api_images::router());
    #[cfg(feature = "pods")]
    let router = router.merge(api_pods::router());
    #[cfg(feature = "networks")]
    let router = router.merge(api_networks::router());
    #[cfg(feature = "volumes")]
    let router = router.merge(api_volumes::router());
    router.layer(axum::Extension(api_core::openapi::ApiDoc(document)))
}

/// The OpenAPI document of the areas compiled in.
pub fn document() -> serde_json::Value {
    api_core::openapi::document(&ops())
}

/// The operations of every area compiled in, for the OpenAPI document.
pub fn ops() -> Vec<api_core::openapi::Op> {
    #[allow(unused_mut)]
    let mut ops = api_system::openapi();
    #[cfg(feature = "containers")]
    ops.extend(api_containers::openapi());
    #[cfg(feature = "images")]
    ops.extend(api_images::openapi());
    #[cfg(feature = "pods")]
    ops.extend(api_pods::openapi());
    #[cfg(feature = "networks")]
    ops.extend(api_networks::openapi());
    #[cfg(feature = "volumes")]
    ops.extend(api_volumes::openapi());
    ops
}

/// Opens the runtime and serves the API on `listener` until `shutdown` or the idle timeout.
pub async fn serve(
    config: DaemonConfig,
    listener: AnyListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = match &config.tls {
        Some(files) => Some(api_core::tls::acceptor(files).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let mut opts = RuntimeOptions::from_host(config.root.clone(), config.runroot.clone())
        .context("reading the configuration")?;
    opts.service_uri = config.uri.clone();
    if !config.extra_conf.is_empty() {
        opts.conf = engine::config::ContainersConf::load_default_with(&config.extra_conf)
            .context("reading the configuration")?;
    }
    // Request spools and staged exports: emptied at each start, so what a crash cut off
    // does not stay.
    let tmp_dir = config.runroot.join("tmp");
    let _ = std::fs::remove_dir_all(&tmp_dir);
    std::fs::create_dir_all(&tmp_dir).with_context(|| format!("creating {}", tmp_dir.display()))?;
    let runtime = Runtime::open(opts)
        .await
        .with_context(|| format!("opening the state under {}", config.root.display()))?;
    tracing::info!(
        root = %config.root.display(),
        runroot = %config.runroot.display(),
        uri = config.uri.as_deref().unwrap_or("-"),
        areas = ?features(),
        "podapid serving the Podman {} API",
        engine::system::PODMAN_VERSION
    );
    let state = AppState::from_engine(
        runtime.clone(),
        ServiceConfig {
            cors: config.cors.clone(),
            tmp_dir: Some(tmp_dir),
        },
    );
    let debug = match &config.pprof {
        Some(l) => {
            let l = l.try_clone().context("the debug listener")?;
            l.set_nonblocking(true).context("the debug listener")?;
            let l = tokio::net::TcpListener::from_std(l).context("the debug listener")?;
            let addr = l.local_addr().context("the debug listener")?;
            if !debug::is_loopback(&addr) {
                tracing::warn!(%addr, "the debug listener (profiles, metrics) is on a non-loopback address: anyone who can reach it sees this daemon's internals");
            }
            tracing::info!(%addr, "debug listener (metrics, pprof)");
            let dstate = debug::DebugState::new(state.metrics.clone(), state.system.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(l, debug::router(dstate)).await {
                    tracing::error!(error = %e, "the debug listener failed");
                }
            }))
        }
        None => None,
    };
    let service = api_core::into_service(router(), state);
    let served = api_core::serve_tls(listener, tls, service, config.idle, shutdown).await;
    if let Some(d) = debug {
        d.abort();
    }
    served.context("serving the API")?;
    tracing::info!("podapid stopped");
    Ok(())
}
