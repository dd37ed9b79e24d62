//! The images routes of both API trees.
//!
//! Empty until the engine's images support lands; the daemon composes it already so the
//! feature wiring is exercised.

use api_core::AppState;
use axum::Router;

/// The images router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
}
