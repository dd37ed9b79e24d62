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
    router
}

/// Opens the runtime and serves the API on `listener` until `shutdown` or the idle timeout.
pub async fn serve(
    config: DaemonConfig,
    listener: AnyListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut opts = RuntimeOptions::from_host(config.root.clone(), config.runroot.clone())
        .context("reading the configuration")?;
    opts.service_uri = config.uri.clone();
    if !config.extra_conf.is_empty() {
        opts.conf = engine::config::ContainersConf::load_default_with(&config.extra_conf)
            .context("reading the configuration")?;
    }
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
        },
    );
    let service = api_core::into_service(router(), state);
    api_core::serve(listener, service, config.idle, shutdown)
        .await
        .context("serving the API")?;
    tracing::info!("podapid stopped");
    Ok(())
}
