//! Pods: records, the state Podman derives from the members, and the trait the API crates
//! call. The lifecycle (create with an infra container from the locally built pause image,
//! members joining the infra's namespaces, start/stop/... over all members) lives in
//! `pods/lifecycle.rs`.

pub mod lifecycle;
pub mod pause;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::containers::config::ContainerConfig;
use crate::containers::lifecycle::ContainerRecord;
use crate::containers::ContainerStatus;
use crate::error::Result;

/// The namespaces members share by default.
pub const DEFAULT_SHARE: &[&str] = &["ipc", "net", "uts"];

/// A pod create request (libpod's PodSpecGenerator, translated).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PodCreate {
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub hostname: String,
    /// Create an infra container (the default).
    pub no_infra: bool,
    pub infra_image: Option<String>,
    pub infra_command: Option<Vec<String>>,
    pub infra_name: Option<String>,
    /// Namespaces the members share (`None`: ipc, net, uts).
    pub share: Option<Vec<String>>,
    pub cgroup_parent: String,
    /// `continue` (default) or `stop` (stop the pod when its last member exits).
    pub exit_policy: String,
    /// The infra container's settings that are the pod's: network mode and networks, ports,
    /// DNS, hosts, sysctls, ... (members sharing the network namespace may not set them).
    pub infra_config: ContainerConfig,
    /// The command line a client reports having run.
    pub create_command: Vec<String>,
}

/// A stored pod (the `pods` table's `config`, version 1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PodRecord {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub labels: BTreeMap<String, String>,
    pub hostname: String,
    pub infra_id: Option<String>,
    pub share: Vec<String>,
    pub cgroup_parent: String,
    pub exit_policy: String,
    /// The pod-level settings given at create (see [`PodCreate::infra_config`]).
    pub infra_config: ContainerConfig,
    pub create_command: Vec<String>,
}

impl PodRecord {
    /// Whether members share the namespace `kind` (`net`, `ipc`, `uts`, `pid`, `cgroup`) of
    /// the infra container.
    pub fn shares(&self, kind: &str) -> bool {
        self.infra_id.is_some() && self.share.iter().any(|s| s == kind)
    }
}

/// A pod with its containers (infra first) and derived state.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub record: PodRecord,
    pub containers: Vec<ContainerRecord>,
    /// `Created`, `Running`, `Degraded`, `Exited`, `Paused`, `Stopped`, `Error`.
    pub state: String,
}

/// What a pod-wide verb did: the pod and the per-container errors (`Errs`).
#[derive(Debug, Clone, Default)]
pub struct PodReport {
    pub id: String,
    pub errs: Vec<String>,
}

/// The pod state Podman derives from its containers' states.
pub fn pod_state(statuses: &[ContainerStatus]) -> &'static str {
    if statuses.is_empty() {
        return "Created";
    }
    let (mut running, mut paused, mut exited, mut created, mut error) = (0, 0, 0, 0, 0);
    for s in statuses {
        match s {
            ContainerStatus::Running | ContainerStatus::Stopping => running += 1,
            ContainerStatus::Paused => paused += 1,
            ContainerStatus::Exited | ContainerStatus::Stopped => exited += 1,
            ContainerStatus::Created | ContainerStatus::Configured => created += 1,
            _ => error += 1,
        }
    }
    let n = statuses.len();
    if running > 0 && running < n {
        "Degraded"
    } else if running == n {
        "Running"
    } else if paused == n {
        "Paused"
    } else if exited == n {
        "Exited"
    } else if created == n {
        "Created"
    } else if error > 0 {
        "Error"
    } else if exited > 0 {
        // Some exited, the rest created or paused: Podman calls that stopped.
        "Stopped"
    } else {
        "Created"
    }
}

/// Pod operations.
#[async_trait]
pub trait PodEngine: Send + Sync {
    /// Creates a pod (and its infra container unless `no_infra`).
    async fn create(&self, req: PodCreate) -> Result<PodInfo>;
    /// Every pod, newest first.
    async fn list(&self) -> Result<Vec<PodInfo>>;
    /// One pod by full ID, name, or unique ID prefix.
    async fn inspect(&self, name_or_id: &str) -> Result<PodInfo>;
    /// The record only (cheaper than `inspect`).
    async fn lookup(&self, name_or_id: &str) -> Result<PodRecord>;
    /// Starts the infra container, then the members. `NotModified` when all already run.
    async fn start(&self, name_or_id: &str) -> Result<PodReport>;
    /// Stops the members, then the infra container. `NotModified` when none runs.
    async fn stop(&self, name_or_id: &str, timeout: Option<u32>) -> Result<PodReport>;
    /// Stops and starts every container.
    async fn restart(&self, name_or_id: &str) -> Result<PodReport>;
    /// Signals every running container.
    async fn kill(&self, name_or_id: &str, signal: i32) -> Result<PodReport>;
    /// Freezes (`true`) or thaws every container.
    async fn pause(&self, name_or_id: &str, pause: bool) -> Result<PodReport>;
    /// Removes the pod with its containers (`force` stops running ones first); the IDs of
    /// the removed containers.
    async fn remove(
        &self,
        name_or_id: &str,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<Vec<String>>;
    /// Removes pods whose containers are all stopped; their IDs.
    async fn prune(&self) -> Result<Vec<String>>;
    /// `kube play`: creates (and with `start` starts) what the YAML describes.
    async fn play_kube(
        &self,
        yaml: &str,
        opts: crate::kube::PlayOptions,
        start: bool,
        replace: bool,
    ) -> Result<crate::kube::run::PlayReport>;
    /// `kube down`: stops and removes the pods the YAML names (volumes with `force`).
    async fn kube_down(&self, yaml: &str, force: bool) -> Result<crate::kube::run::PlayReport>;
    /// `generate kube` for pods, containers and volumes by name or ID.
    async fn generate_kube(
        &self,
        names: &[String],
        opts: crate::kube::GenerateOptions,
    ) -> Result<String>;
    /// `kube apply`: deploys YAML to a Kubernetes API server.
    async fn kube_apply(&self, yaml: &str, opts: crate::kube::apply::ApplyOptions) -> Result<()>;
}
