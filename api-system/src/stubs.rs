//! The routes Podman serves only to say no: the `/plugins`, `/monitor` and
//! `/distribution/{name}/json` stubs (404, an envelope with an empty cause and response 0)
//! and the swarm prefixes `/configs/`, `/nodes/`, `/secrets/…/…`, `/services/`, `/swarm/`,
//! `/tasks/` (503, "Podman does not support service: <url>").

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

/// 404 `{"cause":"","message":"Path <path> is not supported","response":0}`.
pub(crate) async fn unsupported(OriginalUri(uri): OriginalUri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "cause": "",
            "message": format!("Path {} is not supported", uri.path()),
            "response": 0,
        })),
    )
        .into_response()
}

/// 503 for the swarm prefixes.
pub(crate) async fn no_swarm(OriginalUri(uri): OriginalUri) -> Response {
    let msg = format!("Podman does not support service: {uri}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"cause": msg, "message": msg, "response": 503})),
    )
        .into_response()
}
