//! `GET /libpod/swagger`: the OpenAPI document of the routes this build serves. podapid builds
//! it once from the areas' operation lists (`api_core::openapi`) and hands it to the handler
//! as a request extension, so a slim build documents only what it serves.

use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use axum::Json;

use api_core::openapi::ApiDoc;

/// `GET /libpod/swagger`.
pub(crate) async fn swagger(doc: Option<Extension<ApiDoc>>) -> Response {
    match doc {
        Some(Extension(ApiDoc(build))) => Json(build()).into_response(),
        None => api_core::ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "no API document was built into this router",
        )
        .into_response(),
    }
}
