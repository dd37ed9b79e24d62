//! Container records and the container trait the API crates call.
//!
//! The lifecycle (create/start/stop through runc and conmon) grows here; this module owns the
//! container types as stored in the state database (JSON in the `containers` table).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub mod lifecycle;
pub mod rootfs;
pub mod spec;

/// libpod's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    #[default]
    Configured,
    Created,
    Running,
    Stopped,
    Paused,
    Exited,
    Removing,
    Stopping,
}

impl ContainerStatus {
    /// libpod's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Configured => "configured",
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Stopped => "stopped",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Removing => "removing",
            ContainerStatus::Stopping => "stopping",
        }
    }

    /// Parses libpod's name of the state.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "configured" => ContainerStatus::Configured,
            "created" => ContainerStatus::Created,
            "running" => ContainerStatus::Running,
            "stopped" => ContainerStatus::Stopped,
            "paused" => ContainerStatus::Paused,
            "exited" => ContainerStatus::Exited,
            "removing" => ContainerStatus::Removing,
            "stopping" => ContainerStatus::Stopping,
            _ => return None,
        })
    }
}

/// What listing and lookups return about a container (on-disk record, version 1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub image_id: String,
    #[serde(default)]
    pub command: Vec<String>,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub status: ContainerStatus,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub pod_id: Option<String>,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Options of a container listing.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Include containers that are not running.
    pub all: bool,
    /// At most this many, newest first (0 = no limit).
    pub limit: usize,
}

/// Container operations.
#[async_trait]
pub trait ContainerEngine: Send + Sync {
    /// Lists containers, newest first.
    async fn list(&self, opts: ListOptions) -> Result<Vec<ContainerSummary>>;
    /// Finds a container by full ID, name, or unique ID prefix.
    async fn lookup(&self, name_or_id: &str) -> Result<ContainerSummary>;
    /// The full record.
    async fn inspect(&self, name_or_id: &str) -> Result<lifecycle::ContainerRecord>;
    /// Creates a container.
    async fn create(&self, req: lifecycle::ContainerCreate) -> Result<lifecycle::ContainerRecord>;
    /// Starts it.
    async fn start(&self, name_or_id: &str) -> Result<lifecycle::ContainerRecord>;
    /// Waits until it is not running; its exit code.
    async fn wait(&self, name_or_id: &str) -> Result<i32>;
    /// Removes it (`force` kills a running one).
    async fn remove(&self, name_or_id: &str, force: bool) -> Result<()>;
    /// Its k8s-file log.
    fn log_path(&self, id: &str) -> std::path::PathBuf;
}
