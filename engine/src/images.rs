//! The images trait the API crates call. Its operations grow with the images issue; the
//! records live in the state database's `images` table.

use async_trait::async_trait;

use crate::error::Result;

/// Operations on images.
#[async_trait]
pub trait ImageEngine: Send + Sync {
    /// Whether an object with this name or ID exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;
}
