//! The networks trait the API crates call. Its operations grow with the networks issue; the
//! records live in the state database's `networks` table.

pub mod netavark;

use async_trait::async_trait;

use crate::error::Result;

/// Operations on networks.
#[async_trait]
pub trait NetworkEngine: Send + Sync {
    /// Whether an object with this name or ID exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;
}
