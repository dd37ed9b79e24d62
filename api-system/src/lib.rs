//! System routes: `_ping`, version, info and events of both API trees, and the secret
//! routes (placed here for lack of a crate of their own).
//!
//! Handlers decode, make one engine call and convert; wire types are in `types`, conversions
//! in `convert`.

mod convert;
mod handlers;
pub mod openapi;
mod secrets;
mod stubs;
mod swagger;
mod system;
pub mod types;

use api_core::AppState;
use axum::routing::{any, delete, get, post};
use axum::Router;

pub use openapi::openapi;

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
        // SecretList: GET /secrets, /libpod/secrets/json -> 200 [SecretInfoReport(Compat)] | 400
        .route("/secrets", get(secrets::list))
        .route("/libpod/secrets/json", get(secrets::list))
        // SecretCreate: POST /secrets/create (JSON, base64 Data) -> 200 SecretCreateReport | 409
        .route("/secrets/create", post(secrets::create_compat))
        // SecretCreateLibpod: POST /libpod/secrets/create?name= (raw data) -> 200 | 409
        .route("/libpod/secrets/create", post(secrets::create_libpod))
        // SecretInspect: GET /secrets/{name} -> 200 SecretInfoReportCompat | 404;
        // SecretDelete: DELETE /v{version}/secrets/{name} -> 204 | 404 (bare path: 503)
        .route(
            "/secrets/{name}",
            get(secrets::inspect).delete(secrets::remove_compat),
        )
        // SecretDelete (bare path only): DELETE /secret/{name} -> 204 | 404
        .route("/secret/{name}", delete(secrets::remove_singular))
        // SecretUpdate: POST /secrets/{name}/update -> 501
        .route("/secrets/{name}/update", post(secrets::update))
        // SecretInspectLibpod: GET /libpod/secrets/{name}/json -> 200 SecretInfoReport | 404
        .route("/libpod/secrets/{name}/json", get(secrets::inspect))
        // SecretExistsLibpod: GET /libpod/secrets/{name}/exists -> 204 | 404
        .route("/libpod/secrets/{name}/exists", get(secrets::exists))
        // SecretDeleteLibpod: DELETE /libpod/secrets/{name} -> 204 | 404
        .route("/libpod/secrets/{name}", delete(secrets::remove))
        // Disk usage and prune.
        .route("/system/df", get(system::df))
        .route("/libpod/system/df", get(system::df))
        .route("/libpod/system/prune", post(system::prune))
        // The OpenAPI document.
        .route("/libpod/swagger", get(swagger::swagger))
        // Registry credentials check.
        .route("/auth", post(system::auth))
        // Stubs: plugins, monitor, distribution (404) and swarm (503).
        .route("/plugins", any(stubs::unsupported))
        .route("/monitor", any(stubs::unsupported))
        .route("/distribution/{name}/json", any(stubs::unsupported))
        .route("/configs/{*path}", any(stubs::no_swarm))
        .route("/nodes/{*path}", any(stubs::no_swarm))
        .route("/services/{*path}", any(stubs::no_swarm))
        .route("/swarm/{*path}", any(stubs::no_swarm))
        .route("/tasks/{*path}", any(stubs::no_swarm))
        .route("/secrets/{name}/{*path}", any(stubs::no_swarm))
}
