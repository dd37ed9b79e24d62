//! Container routes of both API trees (lifecycle, logs, attach, exec, archive...).
//!
//! Listing, changes and the first lifecycle routes are served; the rest arrives with #4.

mod changes;
mod handlers;
mod lifecycle;

use api_core::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The containers router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
        // ContainerList: GET /containers/json -> 200 [ContainerSummary]
        .route("/containers/json", get(handlers::list))
        // ContainerListLibpod: GET /libpod/containers/json -> 200 [ListContainer]
        .route("/libpod/containers/json", get(handlers::list))
        // ContainerCreate: POST /containers/create -> 201 {Id, Warnings}
        .route("/containers/create", post(lifecycle::create))
        // ContainerStart / Wait / Delete / Inspect / Logs
        .route("/containers/{name}/start", post(lifecycle::start))
        .route("/containers/{name}/wait", post(lifecycle::wait))
        .route(
            "/containers/{name}",
            axum::routing::delete(lifecycle::remove),
        )
        .route("/containers/{name}/json", get(lifecycle::inspect))
        .route("/containers/{name}/logs", get(lifecycle::logs))
        // ContainerCreateLibpod: POST /libpod/containers/create (SpecGenerator) -> 201
        .route("/libpod/containers/create", post(lifecycle::libpod_create))
        .route("/libpod/containers/{name}/start", post(lifecycle::start))
        .route(
            "/libpod/containers/{name}/wait",
            post(lifecycle::libpod_wait),
        )
        .route(
            "/libpod/containers/{name}",
            axum::routing::delete(lifecycle::libpod_remove),
        )
        // ContainerChanges: GET /containers/{name}/changes -> 200 [{Path,Kind}]
        .route("/containers/{name}/changes", get(changes::changes))
        .route("/libpod/containers/{name}/changes", get(changes::changes))
}
