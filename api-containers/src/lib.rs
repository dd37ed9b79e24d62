//! Container routes of both API trees: create, list, inspect, the lifecycle, logs, attach,
//! stats, top, export, changes (exec and archive arrive with #5).

#![recursion_limit = "256"]

mod archive;
mod attach;
mod changes;
mod create;
mod exec;
mod generate;
mod handlers;
mod inspect;
mod lifecycle;
mod logs;
mod openapi;
mod stats;

use api_core::AppState;
use axum::routing::{delete, get, post};
use axum::Router;

pub use openapi::openapi;

/// The containers router fragment.
pub fn router() -> Router<AppState> {
    let mut r = Router::new()
        // Compat-only and libpod-only shapes.
        .route("/containers/create", post(create::create))
        .route("/libpod/containers/create", post(create::libpod_create))
        .route("/containers/{name}/wait", post(lifecycle::wait))
        .route(
            "/libpod/containers/{name}/wait",
            post(lifecycle::libpod_wait),
        )
        .route("/containers/{name}", delete(lifecycle::remove))
        .route(
            "/libpod/containers/{name}",
            delete(lifecycle::libpod_remove),
        )
        .route("/libpod/containers/{name}/init", post(lifecycle::init))
        .route("/libpod/containers/{name}/exists", get(lifecycle::exists))
        .route("/libpod/containers/{name}/mount", post(lifecycle::mount))
        .route(
            "/libpod/containers/{name}/unmount",
            post(lifecycle::unmount),
        )
        .route(
            "/libpod/containers/showmounted",
            get(lifecycle::showmounted),
        )
        .route("/libpod/containers/stats", get(stats::libpod_stats))
        .route("/libpod/generate/{name}/systemd", get(generate::systemd))
        .route(
            "/libpod/containers/{name}/checkpoint",
            post(lifecycle::checkpoint_restore),
        )
        .route(
            "/libpod/containers/{name}/restore",
            post(lifecycle::checkpoint_restore),
        )
        .route("/libpod/exec/{id}/remove", post(exec::remove))
        .route(
            "/libpod/containers/{name}/healthcheck",
            get(lifecycle::healthcheck).post(lifecycle::healthcheck),
        );
    // Routes both trees serve with one handler (the version extension tells them apart).
    for prefix in ["", "/libpod"] {
        let p = |s: &str| format!("{prefix}{s}");
        r = r
            .route(&p("/containers/json"), get(handlers::list))
            .route(&p("/containers/prune"), post(lifecycle::prune))
            .route(&p("/containers/{name}/json"), get(inspect::inspect))
            .route(&p("/containers/{name}/start"), post(lifecycle::start))
            .route(&p("/containers/{name}/stop"), post(lifecycle::stop))
            .route(&p("/containers/{name}/kill"), post(lifecycle::kill))
            .route(&p("/containers/{name}/restart"), post(lifecycle::restart))
            .route(&p("/containers/{name}/pause"), post(lifecycle::pause))
            .route(&p("/containers/{name}/unpause"), post(lifecycle::unpause))
            .route(&p("/containers/{name}/rename"), post(lifecycle::rename))
            .route(&p("/containers/{name}/resize"), post(lifecycle::resize))
            .route(&p("/containers/{name}/update"), post(lifecycle::update))
            .route(&p("/containers/{name}/export"), get(lifecycle::export))
            .route(&p("/containers/{name}/logs"), get(logs::logs))
            .route(&p("/containers/{name}/attach"), post(attach::attach))
            .route(&p("/containers/{name}/stats"), get(stats::stats_one))
            .route(&p("/containers/{name}/top"), get(stats::top))
            .route(&p("/containers/{name}/changes"), get(changes::changes))
            .route(&p("/containers/{name}/exec"), post(exec::create))
            .route(&p("/exec/{id}/start"), post(exec::start))
            .route(&p("/exec/{id}/resize"), post(exec::resize))
            .route(&p("/exec/{id}/json"), get(exec::inspect))
            .route(
                &p("/containers/{name}/archive"),
                get(archive::get).head(archive::get).put(archive::put),
            );
    }
    r
}
