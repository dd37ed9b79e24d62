//! Container records and the container trait the API crates call.
//!
//! The lifecycle (create/start/stop through runc and conmon) grows here; this module owns the
//! container types as stored in the state database (JSON in the `containers` table).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub mod archive;
pub mod commit;
pub mod config;
pub mod exec;
pub mod health;
pub mod lifecycle;
pub mod monitor;
pub mod net;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod stats;
pub mod top;

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

    /// The name libpod's API shows (`configured` reads `created`, `created` reads
    /// `initialized`).
    pub fn libpod_name(self) -> &'static str {
        match self {
            ContainerStatus::Configured => "created",
            ContainerStatus::Created => "initialized",
            s => s.as_str(),
        }
    }

    /// The name Docker's API shows.
    pub fn docker_name(self) -> &'static str {
        match self {
            ContainerStatus::Configured | ContainerStatus::Created => "created",
            ContainerStatus::Stopped => "exited",
            s => s.as_str(),
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
    async fn list(&self, opts: ListOptions) -> Result<Vec<lifecycle::ContainerRecord>>;
    /// Finds a container by full ID, name, or unique ID prefix.
    async fn lookup(&self, name_or_id: &str) -> Result<ContainerSummary>;
    /// The full record.
    async fn inspect(&self, name_or_id: &str) -> Result<lifecycle::ContainerRecord>;
    /// Creates a container.
    async fn create(&self, req: lifecycle::ContainerCreate) -> Result<lifecycle::ContainerRecord>;
    /// Prepares it to run (`NotModified` when already created/running).
    async fn init(&self, name_or_id: &str) -> Result<lifecycle::ContainerRecord>;
    /// Starts it (`NotModified` when running).
    async fn start(&self, name_or_id: &str) -> Result<lifecycle::ContainerRecord>;
    /// Waits for a condition; the exit code.
    async fn wait(&self, name_or_id: &str, cond: lifecycle::WaitCondition) -> Result<i32>;
    /// Stops it (signal, then SIGKILL after the timeout).
    async fn stop(&self, name_or_id: &str, timeout: Option<u32>) -> Result<()>;
    /// Sends a signal.
    async fn kill(&self, name_or_id: &str, signal: i32) -> Result<()>;
    /// Stops (if running) and starts.
    async fn restart(&self, name_or_id: &str, timeout: Option<u32>) -> Result<()>;
    /// Freezes or thaws it.
    async fn pause(&self, name_or_id: &str, pause: bool) -> Result<()>;
    /// Renames it.
    async fn rename(&self, name_or_id: &str, new_name: &str) -> Result<()>;
    /// Changes resources and/or the restart policy.
    async fn update(
        &self,
        name_or_id: &str,
        resources: Option<config::Resources>,
        restart: Option<config::RestartPolicy>,
    ) -> Result<()>;
    /// Resizes its TTY.
    async fn resize(&self, name_or_id: &str, height: u16, width: u16) -> Result<()>;
    /// Removes it.
    async fn remove(&self, name_or_id: &str, opts: lifecycle::RemoveOptions) -> Result<()>;
    /// Mounts its rootfs; the path.
    async fn mount(&self, name_or_id: &str) -> Result<std::path::PathBuf>;
    /// Undoes `mount`.
    async fn unmount(&self, name_or_id: &str) -> Result<()>;
    /// Processes inside (`ps` output filtered to the container).
    async fn top(&self, name_or_id: &str, ps_args: &str, libpod: bool) -> Result<top::TopOutput>;
    /// Cgroup statistics.
    async fn stats(
        &self,
        name_or_id: &str,
    ) -> Result<(lifecycle::ContainerRecord, stats::CgroupStats)>;
    /// What changed in its filesystem relative to its image.
    async fn changes(&self, name_or_id: &str) -> Result<Vec<crate::images::diff::Change>>;
    /// `generate systemd` units for a container or pod: unit name → text.
    async fn generate_systemd(
        &self,
        name_or_id: &str,
        opts: crate::systemd::SystemdOptions,
    ) -> Result<std::collections::BTreeMap<String, String>>;
    /// A tar of its filesystem written to `out`.
    async fn export(&self, name_or_id: &str, out: std::path::PathBuf) -> Result<()>;
    /// Connects to its attach socket (after initializing it when `init` is set and needed).
    async fn attach(&self, name_or_id: &str) -> Result<crate::oci::attach::AttachConn>;
    /// Creates an exec session.
    async fn exec_create(
        &self,
        name_or_id: &str,
        cfg: exec::ExecConfig,
    ) -> Result<exec::ExecSession>;
    /// An exec session.
    async fn exec_inspect(&self, id: &str) -> Result<exec::ExecSession>;
    /// Starts one (attached: the connection to its streams).
    async fn exec_start(
        &self,
        id: &str,
        attach: bool,
    ) -> Result<Option<crate::oci::attach::AttachConn>>;
    /// Waits up to `limit` for its exit code.
    async fn exec_wait(&self, id: &str, limit: std::time::Duration) -> Result<Option<i32>>;
    /// Resizes its TTY.
    async fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<()>;
    /// Removes it.
    async fn exec_remove(&self, id: &str, force: bool) -> Result<()>;
    /// Docker's stat of a path in the container.
    async fn archive_stat(&self, name_or_id: &str, path: &str) -> Result<archive::PathStat>;
    /// A tar of a path in the container, written to `out`.
    async fn archive_get(
        &self,
        name_or_id: &str,
        path: &str,
        out: std::path::PathBuf,
    ) -> Result<archive::PathStat>;
    /// Extracts the tar at `archive` into a directory of the container.
    async fn archive_put(
        &self,
        name_or_id: &str,
        path: &str,
        archive: std::path::PathBuf,
        no_overwrite_dir_non_dir: bool,
    ) -> Result<()>;
    /// Runs the container's healthcheck once now.
    async fn healthcheck(&self, name_or_id: &str) -> Result<health::Health>;
    /// Subscribes to state changes.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<lifecycle::StateChange>;
    /// Its k8s-file log.
    fn log_path(&self, id: &str) -> std::path::PathBuf;
    /// Its directories.
    fn paths(&self, id: &str) -> lifecycle::CtrPaths;
    /// Where a volume's data lives.
    fn volume_mountpoint(&self, name: &str) -> std::path::PathBuf;
    /// The default network's name and its bridge settings.
    fn default_network(&self) -> crate::networks::netavark::Network;
    /// The daemon's containers.conf.
    fn conf(&self) -> &crate::config::ContainersConf;
}
