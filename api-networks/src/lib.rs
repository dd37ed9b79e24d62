//! The networks routes of both API trees.
//!
//! Empty until the engine's networks support lands; the daemon composes it already so the
//! feature wiring is exercised.

use api_core::AppState;
use axum::Router;

/// The networks router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
}
