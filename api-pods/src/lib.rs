//! The pods routes of both API trees.
//!
//! Empty until the engine's pods support lands; the daemon composes it already so the
//! feature wiring is exercised.

use api_core::AppState;
use axum::Router;

/// The pods router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
}
