//! System routes: `_ping`, version, info and events of both API trees.
//!
//! Handlers decode, make one engine call and convert; wire types are in `types`, conversions
//! in `convert`.

mod convert;
mod handlers;
pub mod types;

use api_core::AppState;
use axum::routing::get;
use axum::Router;

/// The system router fragment (always part of the daemon).
pub fn router() -> Router<AppState> {
    Router::new()
        // SystemPing: GET|HEAD /_ping -> 200 "OK"
        .route("/_ping", get(handlers::ping))
        .route("/libpod/_ping", get(handlers::ping))
        // SystemVersion: GET /version -> 200 VersionReport
        .route("/version", get(handlers::version))
        .route("/libpod/version", get(handlers::version))
        // SystemInfo: GET /info -> 200 CompatInfo; GET /libpod/info -> 200 LibpodInfo
        .route("/info", get(handlers::compat_info))
        .route("/libpod/info", get(handlers::libpod_info))
        // SystemEvents: GET /events -> 200 JSON lines of EventMessage
        .route("/events", get(handlers::events))
        .route("/libpod/events", get(handlers::events))
}
