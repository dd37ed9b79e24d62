//! The networks trait the API crates call. Its operations grow with the networks issue; the
//! records live in the state database's `networks` table.

pub mod manage;
pub mod netavark;

use async_trait::async_trait;

use crate::error::Result;

/// Operations on networks.
#[async_trait]
pub trait NetworkEngine: Send + Sync {
    /// Whether an object with this name or ID exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;
    /// Every network, the default one first.
    async fn list(&self) -> Result<Vec<netavark::Network>>;
    /// One network by name, ID or ID prefix (`bridge` is the default one).
    async fn inspect(&self, name_or_id: &str) -> Result<netavark::Network>;
    /// Creates a network.
    async fn create(&self, req: manage::NetworkCreate) -> Result<netavark::Network>;
    /// Removes one (`force` removes its containers).
    async fn remove(&self, name_or_id: &str, force: bool) -> Result<netavark::Network>;
    /// Connects a container to a network.
    async fn connect(
        &self,
        net: &str,
        container: &str,
        att: crate::containers::config::NetAttach,
    ) -> Result<()>;
    /// Disconnects a container from a network.
    async fn disconnect(&self, net: &str, container: &str) -> Result<()>;
    /// Adds/removes upstream DNS servers of a network.
    async fn update(&self, name_or_id: &str, add: Vec<String>, remove: Vec<String>) -> Result<()>;
    /// The containers on a network.
    async fn containers(
        &self,
        net: &netavark::Network,
    ) -> Result<Vec<crate::containers::lifecycle::ContainerRecord>>;
}
