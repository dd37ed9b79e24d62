//! The secrets trait the API crates call. Its operations grow with the secrets issue; the
//! records live in the state database's `secrets` table.

use async_trait::async_trait;

use crate::error::Result;

/// Operations on secrets.
#[async_trait]
pub trait SecretEngine: Send + Sync {
    /// Whether an object with this name or ID exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;
}
