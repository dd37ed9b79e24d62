//! Image routes of both API trees: list, inspect, history, pull, tag, untag, remove, exists.
//!
//! Image names contain slashes (`quay.io/libpod/alpine`), so the per-image routes are one
//! wildcard per method whose last segment picks the operation (`.../json`, `.../history`,
//! `.../tag`...), like Podman's `{name:.*}` routes.

mod archive;
mod build;
mod convert;
mod handlers;
mod manifest;
mod openapi;
mod pull;
mod push;

use api_core::AppState;
use axum::routing::{get, post};
use axum::Router;

pub use openapi::openapi;

/// The images router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
        // ImageList: GET /images/json -> 200 [ImageSummary]
        .route("/images/json", get(handlers::compat_list))
        // ImageCreate: POST /images/create?fromImage= -> 200 JSONMessage stream
        .route("/images/create", post(pull::compat_create))
        // ImageInspect/History (GET), ImageTag (POST), ImageDelete (DELETE)
        .route(
            "/images/{*rest}",
            get(handlers::compat_get)
                .post(handlers::compat_post)
                .delete(handlers::compat_delete),
        )
        // ImageSearch: GET /images/search?term= -> 200 [SearchResult]
        .route("/images/search", get(handlers::search))
        .route("/libpod/images/search", get(handlers::search))
        // ImageGetAll: GET /images/get?names= -> 200 tar
        .route("/images/get", get(archive::save_many))
        // ImageLoad: POST /images/load -> 200 JSON lines
        .route("/images/load", post(archive::load))
        // ImagePrune: POST /images/prune -> 200 ImagesPruneReport
        .route("/images/prune", post(archive::prune))
        .route("/libpod/images/export", get(archive::save_many))
        .route("/libpod/images/load", post(archive::load))
        .route("/libpod/images/import", post(archive::libpod_import))
        .route("/commit", post(archive::commit))
        .route("/build", post(build::compat_build))
        .route("/libpod/build", post(build::libpod_build))
        .route(
            "/libpod/manifests/{*rest}",
            get(manifest::get)
                .post(manifest::post)
                .put(manifest::put)
                .delete(manifest::delete),
        )
        .route("/build/prune", post(archive::build_prune))
        .route("/libpod/images/scp/{name}", post(archive::scp))
        .route("/libpod/commit", post(archive::commit))
        .route("/libpod/images/prune", post(archive::prune))
        // ImageListLibpod: GET /libpod/images/json -> 200 [LibpodImageSummary]
        .route("/libpod/images/json", get(handlers::libpod_list))
        // ImagePullLibpod: POST /libpod/images/pull?reference= -> 200 stream
        .route("/libpod/images/pull", post(pull::libpod_pull))
        // ImageDeleteAllLibpod: DELETE /libpod/images/remove?images= -> 200 LibpodImagesRemoveReport
        .route(
            "/libpod/images/remove",
            axum::routing::delete(handlers::libpod_remove_many),
        )
        .route(
            "/libpod/images/{*rest}",
            get(handlers::libpod_get)
                .post(handlers::libpod_post)
                .delete(handlers::libpod_delete),
        )
}
