//! The kube routes: play (`/libpod/play/kube`, `/libpod/kube/play`), down, generate, apply.

use api_core::AppState;
use axum::Router;

/// The kube routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
}
