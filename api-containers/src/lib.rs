//! Container routes of both API trees (lifecycle, logs, attach, exec, archive...).
//!
//! Only the listing is served so far; the rest arrives with the container engine.

mod changes;
mod handlers;

use api_core::AppState;
use axum::routing::get;
use axum::Router;

/// The containers router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
        // ContainerList: GET /containers/json -> 200 [ContainerSummary]
        .route("/containers/json", get(handlers::list))
        // ContainerListLibpod: GET /libpod/containers/json -> 200 [ListContainer]
        .route("/libpod/containers/json", get(handlers::list))
        // ContainerChanges: GET /containers/{name}/changes -> 200 [{Path,Kind}]
        .route("/containers/{name}/changes", get(changes::changes))
        .route("/libpod/containers/{name}/changes", get(changes::changes))
}
