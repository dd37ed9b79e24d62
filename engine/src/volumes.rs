//! The volumes trait the API crates call. Its operations grow with the volumes issue; the
//! records live in the state database's `volumes` table.

use async_trait::async_trait;

use crate::error::Result;

/// Operations on volumes.
#[async_trait]
pub trait VolumeEngine: Send + Sync {
    /// Whether an object with this name or ID exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;
}
