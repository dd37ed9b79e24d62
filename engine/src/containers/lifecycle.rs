//! The container lifecycle on the runtime, as libpod's state machine:
//! `configured` (record only) → `created` (rootfs mounted, network up, conmon + `runc create`)
//! → `running` (`runc start`) → `exited` (conmon's exit file; rootfs unmounted, network torn
//! down) and back; `paused` through the freezer; `removing` while files go.
//!
//! Every mutation of a record happens under that container's lock; every saved change is
//! announced on the state channel ([`StateChange`]) so waiters and stops wake at once. Exits
//! arrive through the exit monitor (an inotify watch on the exits dir) and are recorded once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::containers::config::{self, ContainerConfig, NetMode};
use crate::containers::rootfs::{self, RootfsDirs};
use crate::containers::spec::{self, ProcessRequest, RuntimeSpecInput};
use crate::containers::ContainerStatus;
use crate::error::{Error, Result};
use crate::events::{Event, EventType};
use crate::images::ImageEngine;
use crate::oci::{self, ConmonSpec};
use crate::runtime::Runtime;

/// What a create asks for.
#[derive(Debug, Clone, Default)]
pub struct ContainerCreate {
    pub name: Option<String>,
    pub image: String,
    pub config: ContainerConfig,
}

/// The stored container (on-disk record, version 1). Its first fields are a superset of
/// [`crate::containers::ContainerSummary`], which reads the same JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    /// The process arguments (entrypoint + cmd).
    pub command: Vec<String>,
    pub created: DateTime<Utc>,
    pub status: ContainerStatus,
    pub labels: BTreeMap<String, String>,
    pub pod_id: Option<String>,
    pub exit_code: i32,
    /// Effective entrypoint and cmd (after the image merge).
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub tty: bool,
    pub hostname: String,
    pub pid: i32,
    #[serde(default)]
    pub conmon_pid: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub config: ContainerConfig,
    /// The stop signal (user's, else the image's, else SIGTERM).
    #[serde(default = "sigterm")]
    pub stop_signal: i32,
    #[serde(default)]
    pub restart_count: u32,
    /// Set by stop/kill through the API: restart policies do not apply to that exit.
    #[serde(default)]
    pub stopped_by_user: bool,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub error: String,
    /// Exits recorded so far (waiters for `next-exit` compare it).
    #[serde(default)]
    pub exits: u64,
    /// The network namespace the engine made (bridge mode).
    #[serde(default)]
    pub netns: Option<String>,
    /// netavark's status per network (`{"podman": {"interfaces": ...}}`).
    #[serde(default)]
    pub network_status: serde_json::Value,
    /// `mount` API calls not yet matched by `unmount`.
    #[serde(default)]
    pub mount_count: u32,
    /// Healthcheck state (containers with a check).
    #[serde(default)]
    pub health: Option<crate::containers::health::Health>,
}

fn sigterm() -> i32 {
    15
}

/// A saved change of a container (sent on the runtime's state channel).
#[derive(Debug, Clone)]
pub struct StateChange {
    pub id: String,
    /// `None` once removed.
    pub status: Option<ContainerStatus>,
    pub exit_code: i32,
    pub exits: u64,
}

/// The container side of the runtime: per-container locks and the state channel.
#[derive(Debug)]
pub struct ContainerState {
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    changes: broadcast::Sender<StateChange>,
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            locks: std::sync::Mutex::new(HashMap::new()),
            changes: broadcast::channel(1024).0,
        }
    }
}

impl ContainerState {
    pub(crate) fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(id.to_string()).or_default().clone()
    }

    fn forget(&self, id: &str) {
        let mut m = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(id);
    }
}

/// What `wait` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitCondition {
    /// Not running (created, exited...): Docker's default.
    NotRunning,
    /// The next exit after the call.
    NextExit,
    /// Removed (returns the last exit code).
    Removed,
    /// Any of these states (libpod).
    States(Vec<ContainerStatus>),
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

/// Checks a container name as Podman does.
pub fn check_name(n: &str) -> Result<String> {
    let n = n.trim_start_matches('/').to_string();
    if !valid_name(&n) {
        return Err(Error::InvalidArg(format!(
            "container name {n:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        )));
    }
    Ok(n)
}

/// Adjectives and names for generated container names.
const LEFT: &[&str] = &[
    "brave", "calm", "eager", "fond", "happy", "jolly", "keen", "lucid", "quirky", "vibrant",
    "bold", "gentle", "nifty", "serene", "witty", "zen",
];
const RIGHT: &[&str] = &[
    "hopper", "lovelace", "turing", "knuth", "ritchie", "thompson", "torvalds", "wozniak",
    "hamilton", "liskov", "curie", "noether", "shannon", "dijkstra", "euler", "gauss",
];

pub(crate) fn generated_name() -> String {
    let r: [u8; 2] = rand::random();
    format!(
        "{}_{}",
        LEFT[r[0] as usize % LEFT.len()],
        RIGHT[r[1] as usize % RIGHT.len()]
    )
}

impl ContainerRecord {
    /// Whether a process is there (running or paused).
    pub fn is_running(&self) -> bool {
        matches!(
            self.status,
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Stopping
        )
    }

    /// The stop timeout in seconds (user's, else 10).
    pub fn stop_timeout(&self) -> u32 {
        self.config.stop_timeout.unwrap_or(10)
    }
}

/// Container paths: storage dir, bundle (userdata) dir, exits dir.
pub struct CtrPaths {
    pub storage: PathBuf,
    pub bundle: PathBuf,
    pub exits: PathBuf,
}

impl CtrPaths {
    /// The overlay mount point.
    pub fn merged(&self) -> PathBuf {
        self.storage.join("merged")
    }
    /// conmon's attach socket.
    pub fn attach_socket(&self) -> PathBuf {
        self.bundle.join("attach")
    }
}

impl Runtime {
    /// The container's paths.
    pub fn ctr_paths(&self, id: &str) -> CtrPaths {
        let o = self.options();
        CtrPaths {
            storage: o.root.join("storage/overlay-containers").join(id),
            bundle: o.runroot.join("containers").join(id).join("userdata"),
            exits: o.runroot.join("exits"),
        }
    }

    fn runtime_root(&self) -> PathBuf {
        self.options()
            .runroot
            .join(self.options().conf.runtime_name())
    }

    fn runtime_bin(&self) -> Result<PathBuf> {
        let conf = &self.options().conf;
        conf.runtime_path().ok_or_else(|| {
            Error::InvalidState(format!("OCI runtime {:?} not found", conf.runtime_name()))
        })
    }

    /// Runs the OCI runtime CLI on a blocking thread.
    async fn runc(&self, args: Vec<String>) -> Result<String> {
        let bin = self.runtime_bin()?;
        let root = self.runtime_root();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            oci::runtime(&bin, &root, &a)
        })
        .await
        .map_err(|e| Error::Internal(format!("runtime call: {e}")))?
    }

    /// The lock of one container's record.
    pub(crate) fn ctr_state_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.ctr_state().lock_for(id)
    }

    /// A container's record read under its lock (re-read after the lock is held, so it is
    /// current); the guard keeps the lock.
    pub(crate) async fn lock_record(
        &self,
        name_or_id: &str,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, ContainerRecord)> {
        let id = self.container_record(name_or_id).await?.id;
        let g = self.ctr_state().lock_for(&id).lock_owned().await;
        let rec = self.container_record(&id).await?;
        Ok((g, rec))
    }

    /// Subscribes to container state changes.
    pub fn subscribe_containers(&self) -> broadcast::Receiver<StateChange> {
        self.ctr_state().changes.subscribe()
    }

    pub(crate) async fn save_record(&self, rec: &ContainerRecord) -> Result<()> {
        let json = serde_json::to_string(rec).map_err(|e| Error::Internal(e.to_string()))?;
        let (id, status, name) = (
            rec.id.clone(),
            rec.status.as_str().to_string(),
            rec.name.clone(),
        );
        self.db()
            .write(move |tx| {
                tx.execute(
                    "UPDATE containers SET config = ?2, state = ?2, status = ?3, name = ?4 WHERE id = ?1",
                    params![id, json, status, name],
                )?;
                Ok(())
            })
            .await?;
        let _ = self.ctr_state().changes.send(StateChange {
            id: rec.id.clone(),
            status: Some(rec.status),
            exit_code: rec.exit_code,
            exits: rec.exits,
        });
        Ok(())
    }

    /// Reads a container record.
    pub async fn container_record(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let key = name_or_id.to_string();
        let json: Option<String> = self
            .db()
            .read(move |c| {
                let Some(id) = crate::ids::resolve(c, crate::ids::Table::Containers, &key)? else {
                    return Ok(None);
                };
                Ok(
                    c.query_row("SELECT config FROM containers WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .optional()?,
                )
            })
            .await?;
        let json = json.ok_or_else(|| Error::NoSuchContainer(name_or_id.to_string()))?;
        serde_json::from_str(&json)
            .map_err(|e| Error::Internal(format!("corrupt container record: {e}")))
    }

    /// Every container record, newest first.
    pub async fn container_records(&self) -> Result<Vec<ContainerRecord>> {
        self.container_records_where("1").await
    }

    /// The records matching an SQL condition on the `containers` table, newest first.
    pub(crate) async fn container_records_where(
        &self,
        cond: &'static str,
    ) -> Result<Vec<ContainerRecord>> {
        self.container_records_query(cond, Vec::new()).await
    }

    /// Like [`Self::container_records_where`] with `?1`, `?2`... bound to `args`.
    pub(crate) async fn container_records_query(
        &self,
        cond: &'static str,
        args: Vec<String>,
    ) -> Result<Vec<ContainerRecord>> {
        let rows: Vec<String> = self
            .db()
            .read(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT config FROM containers WHERE {cond} ORDER BY created DESC"
                ))?;
                let v = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
                    .collect::<std::result::Result<Vec<String>, _>>()?;
                Ok(v)
            })
            .await?;
        rows.iter()
            .map(|j| {
                serde_json::from_str(j)
                    .map_err(|e| Error::Internal(format!("corrupt container record: {e}")))
            })
            .collect()
    }

    /// Emits a container event (`attrs` added to the labels).
    pub fn emit_container(&self, status: &str, rec: &ContainerRecord, attrs: &[(&str, String)]) {
        let mut e = Event::new(EventType::Container, status);
        e.id = rec.id.clone();
        e.name = rec.name.clone();
        e.image = rec.image.clone();
        e.attributes = rec.labels.clone();
        for (k, v) in attrs {
            e.attributes.insert((*k).to_string(), v.clone());
        }
        if let Some(p) = &rec.pod_id {
            e.pod_id = p.clone();
        }
        if status == "died" {
            e.exit_code = Some(rec.exit_code);
        }
        self.event_bus().emit(e);
    }

    /// Creates a container record (nothing runs yet: `configured`).
    pub async fn create_container(&self, req: ContainerCreate) -> Result<ContainerRecord> {
        let mut cfg = req.config;
        // A pod member joins the infra container's namespaces.
        self.pod_for_member(&mut cfg).await?;
        if cfg.net == NetMode::Default {
            cfg.net = match self.options().conf.containers.netns.as_str() {
                "host" => NetMode::Host,
                "none" => NetMode::None,
                _ => NetMode::Bridge,
            };
            if cfg.net != NetMode::Bridge
                && cfg
                    .networks
                    .values()
                    .any(|a| !a.static_ips.is_empty() || a.static_mac.is_some())
            {
                return Err(Error::InvalidArg(
                    "networks and static ip/mac address can only be used with Bridge mode networking"
                        .into(),
                ));
            }
            if cfg.net != NetMode::Bridge {
                cfg.networks.clear();
            }
        }
        // `bridge` and `default` name the default network (podman's client sends
        // `default` for `--network bridge`).
        for alias in ["bridge", "default"] {
            if let Some(att) = cfg.networks.remove(alias) {
                cfg.networks
                    .entry(self.default_network_name())
                    .or_insert(att);
            }
        }
        // Interface names are fixed at create (eth0, eth1, ... in network order), so a
        // later connect or a restart never reuses one.
        let unnamed: Vec<String> = cfg
            .networks
            .iter()
            .filter(|(_, a)| a.interface_name.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for k in unnamed {
            let used: Vec<String> = cfg
                .networks
                .values()
                .filter_map(|a| a.interface_name.clone())
                .collect();
            let free = (0..).map(|i| format!("eth{i}")).find(|n| !used.contains(n));
            if let Some(att) = cfg.networks.get_mut(&k) {
                att.interface_name = free;
            }
        }
        if cfg.net != NetMode::Bridge && !cfg.networks.is_empty() {
            return Err(Error::InvalidArg(
                "networks and static ip/mac address can only be used with Bridge mode networking"
                    .into(),
            ));
        }
        if cfg.resources.pids_limit.is_none() && self.options().conf.containers.pids_limit > 0 {
            cfg.resources.pids_limit = Some(self.options().conf.containers.pids_limit);
        }
        cfg.resources.validate()?;
        cfg.restart.validate()?;
        if cfg.auto_remove && !matches!(cfg.restart.name.as_str(), "" | "no") {
            return Err(Error::InvalidArg(
                "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\""
                    .into(),
            ));
        }
        let img = self.lookup_image(&req.image).await?;
        let id = crate::ids::new_id();
        let hostname = if cfg.hostname.is_empty() {
            if matches!(cfg.net, NetMode::Host) {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| id[..12].to_string())
            } else {
                id[..12].to_string()
            }
        } else {
            cfg.hostname.clone()
        };
        let preq = ProcessRequest {
            entrypoint: cfg.entrypoint.clone(),
            cmd: cfg.cmd.clone(),
            env: cfg.env.clone(),
            workdir: cfg.workdir.clone(),
            user: cfg.user.clone(),
            tty: cfg.tty,
            hostname: hostname.clone(),
        };
        let icfg = img.container_config();
        let (process, user) = spec::merge_process(icfg, &preq)?;
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (entrypoint, cmd) = match (&cfg.entrypoint, &cfg.cmd) {
            (Some(e), Some(c)) => (e.clone(), c.clone()),
            (Some(e), None) => (e.clone(), Vec::new()),
            (None, Some(c)) => (strings(&icfg["Entrypoint"]), c.clone()),
            (None, None) => (strings(&icfg["Entrypoint"]), strings(&icfg["Cmd"])),
        };
        let stop_signal = match cfg
            .stop_signal
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| icfg["StopSignal"].as_str().map(String::from))
        {
            Some(s) => config::parse_signal(&s)?,
            None => 15,
        };
        if let NetMode::Container(other) = &cfg.net {
            self.container_record(other).await?;
        }
        let name = match req.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => check_name(n)?,
            None => generated_name() + "_" + &id[..4],
        };
        let mut labels = img.labels();
        labels.extend(cfg.labels.clone());
        if cfg.raw_image_name.is_empty() {
            cfg.raw_image_name = req.image.clone();
        }
        // Image VOLUMEs become anonymous volumes unless a mount covers them.
        if let Some(vols) = icfg["Volumes"].as_object() {
            for v in vols.keys() {
                if !cfg.volumes.contains(v) && !cfg.mounts.iter().any(|m| &m.destination == v) {
                    cfg.volumes.push(v.clone());
                }
            }
        }
        for v in cfg.volumes.clone() {
            if !cfg.mounts.iter().any(|m| m.destination == v) {
                cfg.mounts.push(config::Mount {
                    kind: "volume".into(),
                    source: crate::ids::new_id(),
                    destination: v,
                    options: vec!["anonymous".into()],
                    read_only: false,
                });
            }
        }
        if let Some(ports) = icfg["ExposedPorts"].as_object() {
            for p in ports.keys() {
                if !cfg.expose.contains(p) {
                    cfg.expose.push(p.clone());
                }
            }
        }
        assign_host_ports(&mut cfg)?;
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            image: image_name_for(&img.names, &req.image).unwrap_or_else(|| img.id.clone()),
            image_id: img.id.clone(),
            command: process.args.clone(),
            created: Utc::now(),
            status: ContainerStatus::Configured,
            labels,
            pod_id: cfg.pod.clone(),
            exit_code: 0,
            entrypoint,
            cmd,
            env: process.env,
            cwd: process.cwd,
            user,
            tty: process.terminal,
            hostname,
            pid: 0,
            conmon_pid: 0,
            started_at: None,
            finished_at: None,
            config: cfg,
            stop_signal,
            restart_count: 0,
            stopped_by_user: false,
            oom_killed: false,
            error: String::new(),
            exits: 0,
            netns: None,
            network_status: serde_json::Value::Null,
            mount_count: 0,
            health: None,
        };
        let generated = req.name.as_deref().is_none_or(str::is_empty);
        let mut rec = rec;
        let mut attempts = 0;
        loop {
            let json = serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?;
            let (id2, name2) = (id.clone(), rec.name.clone());
            let created = rec.created.timestamp_nanos_opt().unwrap_or(0);
            let pod = rec.pod_id.clone();
            let res = self
                .db()
                .write(move |tx| {
                    let taken: Option<String> = tx
                        .query_row("SELECT id FROM names WHERE name = ?1", [&name2], |r| r.get(0))
                        .optional()?;
                    if let Some(other) = taken {
                        return Err(Error::NameInUse(name2.clone(), other));
                    }
                    tx.execute("INSERT INTO names (name, id, kind) VALUES (?1, ?2, 'container')", [&name2, &id2])?;
                    tx.execute(
                        "INSERT INTO containers (id, name, pod_id, config, state, status, created) VALUES (?1, ?2, ?3, ?4, ?4, 'configured', ?5)",
                        params![id2, name2, pod, json, created],
                    )?;
                    Ok(())
                })
                .await;
            match res {
                // A generated name that happens to be taken: draw another.
                Err(Error::NameInUse(..)) if generated && attempts < 20 => {
                    attempts += 1;
                    let r: [u8; 2] = rand::random();
                    rec.name = format!("{}_{}", generated_name(), hex::encode(r));
                }
                other => {
                    other?;
                    break;
                }
            }
        }
        // The volumes are used (and created when missing) from now on, as in Podman.
        for m in rec.config.mounts.iter().filter(|m| m.kind == "volume") {
            let anonymous = m.options.iter().any(|o| o == "anonymous");
            if let Err(e) = self.use_volume(&rec.id, &m.source, anonymous).await {
                let _ = self
                    .remove_container(
                        &rec.id,
                        RemoveOptions {
                            force: true,
                            volumes: true,
                            ..Default::default()
                        },
                    )
                    .await;
                return Err(e);
            }
        }
        self.emit_container("create", &rec, &[]);
        Ok(rec)
    }

    /// `init`: prepares a configured or exited container (rootfs, network, conmon, `runc
    /// create`). `NotModified` when it is already created or running.
    pub async fn init_container(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let (g, mut rec) = self.lock_record(name_or_id).await?;
        match rec.status {
            ContainerStatus::Created | ContainerStatus::Running | ContainerStatus::Paused => {
                return Err(Error::NotModified(format!(
                    "container {} has already been created in runtime: container state improper",
                    rec.id
                )))
            }
            ContainerStatus::Removing | ContainerStatus::Stopping => {
                return Err(Error::InvalidState(format!(
                    "container {} is {}: container state improper",
                    rec.id,
                    rec.status.as_str()
                )))
            }
            _ => {}
        }
        let res = self.init_locked(&mut rec).await;
        drop(g);
        self.remove_if_failed_auto_remove(&rec, res).await?;
        Ok(rec)
    }

    /// Does the init with the container's lock held.
    async fn init_locked(&self, rec: &mut ContainerRecord) -> Result<()> {
        // A pod member needs its infra container's namespaces to exist.
        self.ensure_infra_running(rec).await?;
        let mut join_namespaces = BTreeMap::new();
        for (kind, other) in &rec.config.join_ns {
            let o = self.container_record(other).await?;
            if o.pid <= 0 {
                return Err(Error::InvalidState(format!(
                    "cannot join the {kind} namespace of container {}: it is not running: container state improper",
                    o.id
                )));
            }
            join_namespaces.insert(kind.clone(), format!("/proc/{}/ns/{kind}", o.pid));
        }
        let img = self.lookup_image(&rec.image_id).await?;
        let paths = self.ctr_paths(&rec.id);
        let store = self.image_store().clone();
        let lowers: Vec<PathBuf> = img
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_diff(&l.chain_id))
            .collect();
        let dirs = RootfsDirs {
            lowers,
            upper: paths.storage.join("diff"),
            work: paths.storage.join("work"),
            merged: paths.merged(),
        };
        let conf = self.options().conf.clone();
        let runtime_path = self.runtime_bin()?;
        let conmon = conf
            .conmon_path()
            .ok_or_else(|| Error::InvalidState("conmon not found".into()))?;
        let runtime_root = self.runtime_root();
        // The network namespace first (its address goes into /etc/hosts); netavark's plumbing
        // runs while the runtime creates the container.
        let mut plan = self.prepare_network(rec).await?;
        let network = plan.mode.clone();
        let prepared = async {
            let (mut mounts, first_uses) = self.container_mounts(rec).await?;
            let (secret_mounts, secret_env) = self
                .secret_files_and_env(
                    &rec.config.secrets,
                    &rec.config.secret_env,
                    &paths.bundle.join("secrets"),
                )
                .await?;
            mounts.extend(secret_mounts);
            Ok::<_, Error>((mounts, first_uses, secret_env))
        }
        .await;
        let (mounts, first_uses, secret_env) = match prepared {
            Ok(m) => m,
            Err(e) => {
                if let Some(p) = plan.pending.take() {
                    let _ = p.await;
                }
                self.teardown_network(rec).await;
                self.unmount_idle_volumes(rec).await;
                return Err(e);
            }
        };
        let first_used: Vec<String> = first_uses.iter().map(|f| f.volume.clone()).collect();
        let r2 = rec.clone();
        let (bundle, exits, storage) = (
            paths.bundle.clone(),
            paths.exits.clone(),
            paths.storage.clone(),
        );
        let ips = plan.ips.clone();
        let net_dns = plan.dns.clone();
        let stale_state = runtime_root.join(&rec.id).exists();
        let res = tokio::task::spawn_blocking(move || -> Result<i32> {
            if !rootfs::is_mounted(&dirs.merged) {
                rootfs::mount_overlay(&dirs)?;
            }
            let read = |p: &str| std::fs::read_to_string(dirs.merged.join(p)).unwrap_or_default();
            let (uid, gid, mut extra) =
                spec::resolve_user(&r2.user, &read("etc/passwd"), &read("etc/group"))?;
            for g in &r2.config.group_add {
                let gid = match g.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => {
                        spec::resolve_user(
                            &format!("0:{g}"),
                            "root:x:0:0::/:/bin/sh\n",
                            &read("etc/group"),
                        )?
                        .1
                    }
                };
                if !extra.contains(&gid) {
                    extra.push(gid);
                }
            }
            for f in &first_uses {
                f.apply(&dirs.merged, uid, gid)?;
            }
            let caps = spec::capabilities(
                &conf.containers.default_capabilities,
                &r2.config.cap_add,
                &r2.config.cap_drop,
                r2.config.privileged,
            )?;
            let seccomp = if r2.config.privileged {
                None
            } else {
                let profile = r2
                    .config
                    .security_opt
                    .iter()
                    .find_map(|o| {
                        o.strip_prefix("seccomp=")
                            .or_else(|| o.strip_prefix("seccomp:"))
                    })
                    .unwrap_or(conf.containers.seccomp_profile.as_str())
                    .to_string();
                crate::containers::seccomp::default_profile(Path::new(&profile), &caps)
            };
            let mut ulimits = conf.containers.default_ulimits.clone();
            ulimits.extend(r2.config.ulimits.iter().cloned());
            let limits = spec::rlimits(&ulimits, daemon_hard_limit)?;
            let mut all_mounts = etc_files(&bundle, &r2, &ips, &net_dns, conf.containers.no_hosts)?;
            all_mounts.extend(mounts);
            let mut args = r2.command.clone();
            if r2.config.init {
                let init = conf.init_path().ok_or_else(|| {
                    Error::InvalidState("container init binary (catatonit) not found".into())
                })?;
                all_mounts.push(spec::MountSpec {
                    destination: "/run/podman-init".into(),
                    kind: "bind".into(),
                    source: init.display().to_string(),
                    options: vec!["bind".into(), "ro".into()],
                });
                args.splice(0..0, ["/run/podman-init".to_string(), "--".to_string()]);
            }
            let no_new_privs = r2
                .config
                .security_opt
                .iter()
                .any(|s| s == "no-new-privileges" || s == "no-new-privileges:true");
            let input = RuntimeSpecInput {
                join_namespaces,
                process: spec::ProcessSpec {
                    args,
                    env: r2.env.iter().chain(&secret_env).cloned().collect(),
                    cwd: r2.cwd.clone(),
                    uid,
                    gid,
                    additional_gids: extra,
                    terminal: r2.tty,
                },
                rootfs: dirs.merged.display().to_string(),
                readonly_rootfs: r2.config.read_only,
                hostname: r2.hostname.clone(),
                capabilities: caps,
                rlimits: limits,
                network,
                privileged: r2.config.privileged,
                no_new_privileges: no_new_privs,
                mounts: all_mounts,
                shm_size: r2
                    .config
                    .shm_size
                    .or_else(|| crate::runtime::parse_size(&conf.containers.shm_size))
                    .unwrap_or(0),
                cgroups_path: format!("/libpod_parent/libpod-{}", r2.id),
                sysctls: {
                    let mut m = BTreeMap::new();
                    if !matches!(r2.config.net, NetMode::Host) {
                        for d in &conf.containers.default_sysctls {
                            if let Some((k, v)) = d.split_once('=') {
                                m.insert(k.trim().to_string(), v.trim().to_string());
                            }
                        }
                    }
                    m.extend(r2.config.sysctls.clone());
                    m
                },
                annotations: r2.config.annotations.clone(),
                resources: r2.config.resources.to_oci(),
                seccomp,
                devices: r2.config.devices.clone(),
                oom_score_adj: r2.config.oom_score_adj.unwrap_or(0),
            };
            std::fs::write(
                bundle.join("config.json"),
                serde_json::to_vec(&spec::runtime_spec(&input))
                    .map_err(|e| Error::Internal(e.to_string()))?,
            )
            .map_err(|e| Error::io("writing config.json", e))?;
            let _ = std::fs::remove_file(exits.join(&r2.id));
            let _ = std::fs::remove_file(bundle.join("persist").join("oom"));
            if stale_state {
                let _ = oci::runtime(&runtime_path, &runtime_root, &["delete", "--force", &r2.id]);
            }
            oci::create_container(&ConmonSpec {
                conmon,
                runtime: runtime_path.clone(),
                runtime_root: runtime_root.clone(),
                id: r2.id.clone(),
                name: r2.name.clone(),
                bundle: bundle.clone(),
                exit_dir: exits.clone(),
                persist_dir: bundle.join("persist"),
                log_path: storage.join("ctr.log"),
                log_size_max: None,
                terminal: r2.tty,
                stdin: r2.config.open_stdin,
                exit_command: Vec::new(),
                log_level: "warning".into(),
            })
        })
        .await
        .map_err(|e| Error::Internal(format!("initializing: {e}")))?;
        let net = self.finish_network(rec, &mut plan).await;
        let res = match (res, net) {
            (Ok(pid), Ok(())) => Ok(pid),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => {
                // The container exists in the runtime but its network failed: undo it.
                let _ = self
                    .runc(vec!["delete".into(), "--force".into(), rec.id.clone()])
                    .await;
                Err(e)
            }
        };
        let pid = match res {
            Ok(p) => p,
            Err(e) => {
                let _ = rootfs::unmount(&paths.merged());
                self.teardown_network(rec).await;
                self.unmount_idle_volumes(rec).await;
                rec.netns = None;
                rec.error = e.to_string();
                let _ = self.save_record(rec).await;
                return Err(e);
            }
        };
        rec.status = ContainerStatus::Created;
        rec.pid = pid;
        rec.conmon_pid = std::fs::read_to_string(paths.bundle.join("conmon.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        rec.error.clear();
        rec.oom_killed = false;
        self.save_record(rec).await?;
        if !first_used.is_empty() {
            self.volumes_used(first_used).await?;
        }
        self.emit_container("init", rec, &[]);
        Ok(())
    }

    /// Starts a container (initializing it first when needed) and watches it until it exits.
    /// `NotModified` when it is already running.
    pub async fn start_container(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let (g, mut rec) = self.lock_record(name_or_id).await?;
        let res = Box::pin(self.start_locked(&mut rec)).await;
        drop(g);
        self.remove_if_failed_auto_remove(&rec, res).await?;
        Ok(rec)
    }

    /// An auto-remove (`--rm`) container whose init or start failed is removed, as Docker
    /// does; the error is passed on.
    async fn remove_if_failed_auto_remove(
        &self,
        rec: &ContainerRecord,
        res: Result<()>,
    ) -> Result<()> {
        match res {
            Err(e) if rec.config.auto_remove && !matches!(e, Error::NotModified(_)) => {
                let opts = RemoveOptions {
                    force: true,
                    volumes: true,
                    ..Default::default()
                };
                if let Err(e2) = self.remove_container(&rec.id, opts).await {
                    tracing::warn!(container = %rec.id, error = %e2, "removing a failed --rm container");
                }
                Err(e)
            }
            other => other,
        }
    }

    async fn start_locked(&self, rec: &mut ContainerRecord) -> Result<()> {
        match rec.status {
            ContainerStatus::Running => {
                return Err(Error::NotModified(format!(
                    "container {} is already running",
                    rec.id
                )))
            }
            ContainerStatus::Paused | ContainerStatus::Stopping | ContainerStatus::Removing => {
                return Err(Error::InvalidState(format!(
                    "cannot start container {} as it is {}: container state improper",
                    rec.id,
                    rec.status.as_str()
                )))
            }
            _ => {}
        }
        self.ensure_infra_running(rec).await?;
        if let NetMode::Container(other) = &rec.config.net {
            let o = self.container_record(other).await?;
            if o.status != ContainerStatus::Running {
                return Err(Error::InvalidState(format!(
                    "cannot join the network namespace of container {}: it is not running",
                    o.id
                )));
            }
        }
        if rec.status != ContainerStatus::Created {
            self.init_locked(rec).await?;
        }
        if let Err(e) = self.runc(vec!["start".into(), rec.id.clone()]).await {
            rec.error = e.to_string();
            let _ = self.save_record(rec).await;
            return Err(e);
        }
        rec.status = ContainerStatus::Running;
        rec.started_at = Some(Utc::now());
        rec.stopped_by_user = false;
        rec.exit_code = 0;
        if self.health_check_of(rec).await.is_some() {
            rec.health = Some(crate::containers::health::Health {
                status: "starting".into(),
                ..Default::default()
            });
        }
        self.save_record(rec).await?;
        self.emit_container("start", rec, &[]);
        self.arm_healthcheck(rec).await;
        // The exit may have happened already (a short-lived process).
        self.exit_maybe_happened(&rec.id);
        Ok(())
    }

    /// Looks at the exits dir for `id` and records the exit if it is there.
    fn exit_maybe_happened(&self, id: &str) {
        if let Some(this) = self.handle() {
            let id = id.to_string();
            tokio::spawn(async move { this.exit_file_event(&id).await });
        }
    }

    /// Called by the exit monitor when `<exits>/<id>` appeared.
    pub async fn exit_file_event(&self, id: &str) {
        let exits = self.options().runroot.join("exits");
        let Some(code) = oci::exit_code(&exits, id) else {
            return;
        };
        if let Err(e) = self.record_exit(id, code).await {
            if !matches!(e, Error::NoSuchContainer(_)) {
                tracing::warn!(container = %id, error = %e, "recording an exit");
            }
        }
    }

    /// Records an exit once: state, exit code, clean-up, event, then restart policy or
    /// `--rm`.
    async fn record_exit(&self, id: &str, code: i32) -> Result<()> {
        let lock = self.ctr_state().lock_for(id);
        let g = lock.lock().await;
        let mut rec = self.container_record(id).await?;
        if !matches!(
            rec.status,
            ContainerStatus::Running
                | ContainerStatus::Stopping
                | ContainerStatus::Paused
                | ContainerStatus::Created
        ) {
            return Ok(());
        }
        let paths = self.ctr_paths(id);
        // Created but never started: conmon ended without an exit code worth reporting.
        rec.oom_killed = paths.bundle.join("persist").join("oom").exists();
        rec.status = ContainerStatus::Exited;
        rec.exit_code = code;
        rec.pid = 0;
        rec.conmon_pid = 0;
        rec.exits += 1;
        rec.finished_at = Some(Utc::now());
        // Waiters hear of the exit first; the clean-up follows under the lock (a start waits
        // for it), or is left to the removal of an auto-remove container.
        self.save_record(&rec).await?;
        self.emit_container("died", &rec, &[]);
        let restart = rec
            .config
            .restart
            .restarts(code, rec.stopped_by_user, rec.restart_count);
        if restart || !rec.config.auto_remove {
            tokio::join!(self.cleanup_runtime(&rec), self.teardown_network(&rec));
            if rec.netns.is_some() {
                rec.netns = None;
                self.save_record(&rec).await?;
            }
        }
        drop(g);
        if restart {
            // Docker's back-off: 100 ms, doubling per restart, at most a minute.
            let delay = Duration::from_millis(100u64 << rec.restart_count.min(10))
                .min(Duration::from_secs(60));
            tokio::time::sleep(delay).await;
            let lock = self.ctr_state().lock_for(id);
            let _g = lock.lock().await;
            let mut rec = self.container_record(id).await?;
            if rec.status == ContainerStatus::Exited && !rec.stopped_by_user {
                // The count goes up once the start worked, so "N exited" is never a
                // transient state that clients polling for the final one could mistake.
                match self.start_locked(&mut rec).await {
                    Ok(()) => {
                        rec.restart_count += 1;
                        self.save_record(&rec).await?;
                    }
                    Err(e) => {
                        tracing::warn!(container = %id, error = %e, "restart policy: starting again")
                    }
                }
            }
        } else if rec.config.auto_remove {
            self.remove_container(id, RemoveOptions::default()).await?;
        }
        Ok(())
    }

    /// Unmounts the rootfs (unless mounted through the API) and deletes the runtime state.
    async fn cleanup_runtime(&self, rec: &ContainerRecord) {
        let paths = self.ctr_paths(&rec.id);
        let keep_mount = rec.mount_count > 0;
        let rt = self.runtime_bin().ok();
        let rr = self.runtime_root();
        let id = rec.id.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if !keep_mount {
                let _ = rootfs::unmount(&paths.merged());
            }
            if let Some(rt) = rt.filter(|_| rr.join(&id).exists()) {
                let _ = oci::runtime(&rt, &rr, &["delete", "--force", &id]);
            }
        })
        .await;
        self.unmount_idle_volumes(rec).await;
    }

    /// Waits for a condition; returns the exit code.
    pub async fn wait_container(&self, name_or_id: &str, cond: WaitCondition) -> Result<i32> {
        let mut rx = self.subscribe_containers();
        let rec = self.container_record(name_or_id).await?;
        let id = rec.id.clone();
        let start_exits = rec.exits;
        let mut last_code = rec.exit_code;
        let done = |status: Option<ContainerStatus>, exits: u64| -> bool {
            match (&cond, status) {
                (WaitCondition::Removed, s) => s.is_none(),
                (_, None) => true,
                (WaitCondition::NotRunning, Some(s)) => !matches!(
                    s,
                    ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Stopping
                ),
                (WaitCondition::NextExit, Some(_)) => exits > start_exits,
                (WaitCondition::States(v), Some(s)) => {
                    v.contains(&s)
                        || (v.contains(&ContainerStatus::Stopped) && s == ContainerStatus::Exited)
                }
            }
        };
        if done(Some(rec.status), rec.exits) {
            return Ok(rec.exit_code);
        }
        loop {
            match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                Ok(Ok(ch)) if ch.id == id => {
                    if ch.status.is_some() {
                        last_code = ch.exit_code;
                    }
                    if done(ch.status, ch.exits) {
                        return Ok(last_code);
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    return Err(Error::Internal("state channel closed".into()))
                }
                // Lagged or timed out: look at the record itself.
                _ => match self.container_record(&id).await {
                    Ok(r) => {
                        last_code = r.exit_code;
                        if done(Some(r.status), r.exits) {
                            return Ok(r.exit_code);
                        }
                    }
                    Err(Error::NoSuchContainer(_)) => {
                        if done(None, 0) {
                            return Ok(last_code);
                        }
                        return Err(Error::NoSuchContainer(name_or_id.to_string()));
                    }
                    Err(e) => return Err(e),
                },
            }
        }
    }

    /// Sends a signal to the container's process.
    pub async fn kill_container(&self, name_or_id: &str, signal: i32) -> Result<ContainerRecord> {
        let (g, mut rec) = self.lock_record(name_or_id).await?;
        if !rec.is_running() {
            return Err(Error::InvalidState(format!(
                "can only kill running containers. {} is in state {}: container state improper",
                rec.id,
                rec.status.as_str()
            )));
        }
        if matches!(signal, 9 | 15 | 2 | 3 | 1) {
            rec.stopped_by_user = true;
            self.save_record(&rec).await?;
        }
        self.runc(vec!["kill".into(), rec.id.clone(), signal.to_string()])
            .await?;
        if rec.status == ContainerStatus::Paused && signal == 9 {
            let _ = self.runc(vec!["resume".into(), rec.id.clone()]).await;
        }
        drop(g);
        self.emit_container("kill", &rec, &[("signal", signal.to_string())]);
        Ok(rec)
    }

    /// Stops: the stop signal, then SIGKILL after `timeout` seconds; returns once the exit is
    /// recorded. `NotModified` when it is not running.
    pub async fn stop_container(&self, name_or_id: &str, timeout: Option<u32>) -> Result<()> {
        let mut rx = self.subscribe_containers();
        let (g, mut rec) = self.lock_record(name_or_id).await?;
        if !rec.is_running() {
            if rec.status == ContainerStatus::Created {
                // Initialized but never started: tear the runtime side down.
                let _ = self
                    .runc(vec!["kill".into(), rec.id.clone(), "KILL".into()])
                    .await;
                drop(g);
                self.wait_recorded(&rec.id, &mut rx, Duration::from_secs(5))
                    .await;
                return Ok(());
            }
            return Err(Error::NotModified(format!(
                "container {} is already stopped",
                rec.id
            )));
        }
        let timeout = timeout.unwrap_or_else(|| rec.stop_timeout());
        let was_paused = rec.status == ContainerStatus::Paused;
        rec.stopped_by_user = true;
        rec.status = ContainerStatus::Stopping;
        self.save_record(&rec).await?;
        let id = rec.id.clone();
        if timeout > 0 {
            let _ = self
                .runc(vec!["kill".into(), id.clone(), rec.stop_signal.to_string()])
                .await;
            if was_paused {
                let _ = self.runc(vec!["resume".into(), id.clone()]).await;
            }
        }
        drop(g);
        self.emit_container("kill", &rec, &[("signal", rec.stop_signal.to_string())]);
        if timeout == 0
            || !self
                .wait_recorded(&id, &mut rx, Duration::from_secs(timeout.into()))
                .await
        {
            let _ = self
                .runc(vec!["kill".into(), id.clone(), "KILL".into()])
                .await;
            if was_paused {
                let _ = self.runc(vec!["resume".into(), id.clone()]).await;
            }
            if !self
                .wait_recorded(&id, &mut rx, Duration::from_secs(10))
                .await
            {
                return Err(Error::Internal(format!(
                    "container {id} did not exit after SIGKILL"
                )));
            }
        }
        if let Ok(rec) = self.container_record(&id).await {
            self.emit_container("stop", &rec, &[]);
        }
        Ok(())
    }

    /// Waits until the container's exit is recorded (or it is gone); false on timeout.
    async fn wait_recorded(
        &self,
        id: &str,
        rx: &mut broadcast::Receiver<StateChange>,
        limit: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match self.container_record(id).await {
                Ok(r) if r.is_running() || r.status == ContainerStatus::Created => {}
                _ => return true,
            }
            // Poll the exit file too (an inotify event could have been missed).
            self.exit_maybe_happened(id);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(500)), async {
                loop {
                    match rx.recv().await {
                        Ok(ch) if ch.id == id => return,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => return,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            })
            .await;
        }
    }

    /// Restarts (stop if running, then start).
    pub async fn restart_container(&self, name_or_id: &str, timeout: Option<u32>) -> Result<()> {
        let rec = self.container_record(name_or_id).await?;
        if rec.is_running() {
            match self.stop_container(&rec.id, timeout).await {
                Ok(()) | Err(Error::NotModified(_)) => {}
                Err(e) => return Err(e),
            }
        }
        match self.start_container(&rec.id).await {
            Ok(_) | Err(Error::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        let rec = self.container_record(&rec.id).await?;
        self.emit_container("restart", &rec, &[]);
        Ok(())
    }

    /// Pauses (freezer).
    pub async fn pause_container(&self, name_or_id: &str) -> Result<()> {
        self.freeze(name_or_id, true).await
    }

    /// Unpauses.
    pub async fn unpause_container(&self, name_or_id: &str) -> Result<()> {
        self.freeze(name_or_id, false).await
    }

    async fn freeze(&self, name_or_id: &str, pause: bool) -> Result<()> {
        let (_g, mut rec) = self.lock_record(name_or_id).await?;
        let (want, verb) = if pause {
            (ContainerStatus::Running, "pause")
        } else {
            (ContainerStatus::Paused, "unpause")
        };
        if rec.status != want {
            let msg = if pause {
                format!(
                    "\"{}\" is not running, can't pause: container state improper",
                    rec.id
                )
            } else {
                format!(
                    "\"{}\" is not paused, can't unpause: container state improper",
                    rec.id
                )
            };
            return Err(Error::InvalidState(msg));
        }
        let cmd = if pause { "pause" } else { "resume" };
        self.runc(vec![cmd.into(), rec.id.clone()]).await?;
        rec.status = if pause {
            ContainerStatus::Paused
        } else {
            ContainerStatus::Running
        };
        self.save_record(&rec).await?;
        self.emit_container(verb, &rec, &[]);
        Ok(())
    }

    /// Renames.
    pub async fn rename_container(&self, name_or_id: &str, new_name: &str) -> Result<()> {
        let new_name = check_name(new_name)?;
        let (_g, mut rec) = self.lock_record(name_or_id).await?;
        if rec.name == new_name {
            return Ok(());
        }
        let (id, old, nn) = (rec.id.clone(), rec.name.clone(), new_name.clone());
        self.db()
            .write(move |tx| {
                let taken: Option<String> = tx
                    .query_row("SELECT id FROM names WHERE name = ?1", [&nn], |r| r.get(0))
                    .optional()?;
                if let Some(other) = taken {
                    return Err(Error::NameInUse(nn.clone(), other));
                }
                tx.execute(
                    "UPDATE names SET name = ?1 WHERE name = ?2 AND id = ?3",
                    [&nn, &old, &id],
                )?;
                Ok(())
            })
            .await?;
        rec.name = new_name;
        self.save_record(&rec).await?;
        self.emit_container("rename", &rec, &[]);
        Ok(())
    }

    /// Updates resources and/or the restart policy (applied live when running).
    pub async fn update_container(
        &self,
        name_or_id: &str,
        resources: Option<config::Resources>,
        restart: Option<config::RestartPolicy>,
    ) -> Result<()> {
        let (_g, mut rec) = self.lock_record(name_or_id).await?;
        if let Some(r) = restart {
            r.validate()?;
            if rec.config.auto_remove && !matches!(r.name.as_str(), "" | "no") {
                return Err(Error::InvalidArg(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
                ));
            }
            rec.config.restart = r;
        }
        if let Some(res) = resources {
            res.validate()?;
            if rec.is_running() {
                let file = self.ctr_paths(&rec.id).bundle.join("update.json");
                let body = serde_json::to_vec(&res.to_oci())
                    .map_err(|e| Error::Internal(e.to_string()))?;
                tokio::fs::write(&file, body)
                    .await
                    .map_err(|e| Error::io("writing the resources", e))?;
                self.runc(vec![
                    "update".into(),
                    "--resources".into(),
                    file.display().to_string(),
                    rec.id.clone(),
                ])
                .await?;
            }
            rec.config.resources = res;
        }
        self.save_record(&rec).await?;
        self.emit_container("update", &rec, &[]);
        Ok(())
    }

    /// Asks conmon to resize the TTY.
    pub async fn resize_container(&self, name_or_id: &str, h: u16, w: u16) -> Result<()> {
        let rec = self.container_record(name_or_id).await?;
        if !rec.is_running() && rec.status != ContainerStatus::Created {
            return Err(Error::InvalidState(format!(
                "can only resize created or running containers: {} is in state {}: container state improper",
                rec.id,
                rec.status.as_str()
            )));
        }
        if !rec.tty {
            return Ok(());
        }
        let bundle = self.ctr_paths(&rec.id).bundle;
        tokio::task::spawn_blocking(move || oci::attach::resize(&bundle, h, w))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Mounts the rootfs (kept until `unmount`); returns the path.
    pub async fn mount_container(&self, name_or_id: &str) -> Result<PathBuf> {
        let (_g, mut rec) = self.lock_record(name_or_id).await?;
        let merged = self.mount_rootfs(&rec).await?;
        rec.mount_count += 1;
        self.save_record(&rec).await?;
        self.emit_container("mount", &rec, &[]);
        Ok(merged)
    }

    /// Undoes `mount` (the rootfs stays while the container runs).
    pub async fn unmount_container(&self, name_or_id: &str) -> Result<()> {
        let (_g, mut rec) = self.lock_record(name_or_id).await?;
        rec.mount_count = rec.mount_count.saturating_sub(1);
        if rec.mount_count == 0 && !rec.is_running() && rec.status != ContainerStatus::Created {
            let m = self.ctr_paths(&rec.id).merged();
            let _ = tokio::task::spawn_blocking(move || rootfs::unmount(&m)).await;
        }
        self.save_record(&rec).await?;
        self.emit_container("unmount", &rec, &[]);
        Ok(())
    }

    /// Mounts the overlay if it is not mounted; returns the merged dir.
    pub async fn mount_rootfs(&self, rec: &ContainerRecord) -> Result<PathBuf> {
        let img = self.lookup_image(&rec.image_id).await?;
        let paths = self.ctr_paths(&rec.id);
        let store = self.image_store().clone();
        let dirs = RootfsDirs {
            lowers: img
                .layers
                .iter()
                .rev()
                .map(|l| store.layer_diff(&l.chain_id))
                .collect(),
            upper: paths.storage.join("diff"),
            work: paths.storage.join("work"),
            merged: paths.merged(),
        };
        let merged = dirs.merged.clone();
        tokio::task::spawn_blocking(move || {
            if rootfs::is_mounted(&dirs.merged) {
                Ok(())
            } else {
                rootfs::mount_overlay(&dirs)
            }
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
        Ok(merged)
    }

    /// Whether the rootfs has to be unmounted again after a temporary use.
    pub fn rootfs_in_use(rec: &ContainerRecord) -> bool {
        rec.is_running() || rec.status == ContainerStatus::Created || rec.mount_count > 0
    }

    /// Removes a container (a running one only with `force`, which kills it first).
    pub async fn remove_container(&self, name_or_id: &str, opts: RemoveOptions) -> Result<()> {
        let rec = self.container_record(name_or_id).await?;
        if let (true, false, Some(pod)) = (rec.config.is_infra, opts.pod_removal, &rec.pod_id) {
            if self.pod_record(pod).await.is_ok() {
                return Err(Error::InvalidState(format!(
                    "container {} is the infra container of pod {pod} and cannot be removed without removing the pod: container state improper",
                    rec.id
                )));
            }
        }
        let mut rx = self.subscribe_containers();
        // A restart policy must not bring back a container being removed (one that keeps
        // exiting may have a restart pending right now).
        if !matches!(rec.config.restart.name.as_str(), "" | "no")
            && (opts.force || !rec.is_running())
        {
            let (_g, mut r) = self.lock_record(&rec.id).await?;
            if !r.stopped_by_user {
                r.stopped_by_user = true;
                self.save_record(&r).await?;
            }
        }
        if rec.is_running() || rec.status == ContainerStatus::Created {
            if !opts.force && rec.status != ContainerStatus::Created {
                return Err(Error::InvalidState(format!(
                    "cannot remove container {} as it is {} - running or paused containers cannot be removed without force: container state improper",
                    rec.id,
                    rec.status.as_str()
                )));
            }
            let t = opts.timeout.unwrap_or(0);
            match self.stop_container(&rec.id, Some(t)).await {
                Ok(()) | Err(Error::NotModified(_)) => {}
                Err(e) => return Err(e),
            }
            self.wait_recorded(&rec.id, &mut rx, Duration::from_secs(10))
                .await;
        }
        // Others sharing its network namespace.
        let id = rec.id.clone();
        let dependents: Vec<String> = self
            .container_records_where("config LIKE '%\"mode\":\"container\"%'")
            .await?
            .into_iter()
            .filter(
                |c| matches!(&c.config.net, NetMode::Container(o) if o == &id || o == &rec.name),
            )
            .map(|c| c.id)
            .collect();
        if !dependents.is_empty() && !opts.depend {
            return Err(Error::InvalidState(format!(
                "container {} has dependent containers which must be removed before it: {}: container already exists",
                rec.id,
                dependents.join(",")
            )));
        }
        for d in dependents {
            Box::pin(self.remove_container(&d, opts.clone())).await?;
        }
        let lock = self.ctr_state().lock_for(&rec.id);
        let g = lock.lock().await;
        let rec = match self.container_record(&rec.id).await {
            Ok(r) => r,
            // Removed meanwhile (e.g. by --rm).
            Err(Error::NoSuchContainer(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if rec.is_running() {
            return Err(Error::InvalidState(format!(
                "container {} is running again: container state improper",
                rec.id
            )));
        }
        // The record goes in one transaction that also journals what is left to clean up;
        // the clean-up itself (unmount, runtime state, network, files) runs in the
        // background, so `docker run --rm` returns as soon as the container is gone.
        let anon = self.release_volumes(&rec, opts.volumes).await;
        let json = serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?;
        let id3 = rec.id.clone();
        self.db()
            .write(move |tx| {
                tx.execute("DELETE FROM exec_sessions WHERE container_id = ?1", [&id3])?;
                tx.execute("DELETE FROM containers WHERE id = ?1", [&id3])?;
                tx.execute("DELETE FROM names WHERE id = ?1", [&id3])?;
                tx.execute(
                    "INSERT OR REPLACE INTO pending_cleanups (id, data) VALUES (?1, ?2)",
                    params![id3, json],
                )?;
                Ok(())
            })
            .await?;
        let _ = self.ctr_state().changes.send(StateChange {
            id: rec.id.clone(),
            status: None,
            exit_code: rec.exit_code,
            exits: rec.exits,
        });
        drop(g);
        self.ctr_state().forget(&rec.id);
        if let Err(e) = anon {
            tracing::warn!(container = %rec.id, error = %e, "removing anonymous volumes");
        }
        self.emit_container("remove", &rec, &[]);
        match self.handle() {
            Some(this) => {
                let r = rec.clone();
                tokio::spawn(async move { this.finish_removal(r).await });
            }
            None => self.finish_removal(rec).await,
        }
        Ok(())
    }

    /// What a removal leaves to do: the overlay mount, the runtime's state, the network
    /// namespace (its addresses are released only after netavark's teardown), the files.
    async fn finish_removal(&self, rec: ContainerRecord) {
        let paths = self.ctr_paths(&rec.id);
        let rt = self.runtime_bin().ok();
        let rr = self.runtime_root();
        let id2 = rec.id.clone();
        let files = tokio::task::spawn_blocking(move || {
            let _ = rootfs::unmount(&paths.merged());
            if let Some(rt) = rt.filter(|_| rr.join(&id2).exists()) {
                let _ = oci::runtime(&rt, &rr, &["delete", "--force", &id2]);
            }
            let _ = std::fs::remove_dir_all(&paths.storage);
            if let Some(parent) = paths.bundle.parent() {
                let _ = std::fs::remove_dir_all(parent);
            }
            let _ = std::fs::remove_file(paths.exits.join(&id2));
        });
        let (_, (), ()) = tokio::join!(
            files,
            self.teardown_network(&rec),
            self.unmount_idle_volumes(&rec)
        );
        let id3 = rec.id.clone();
        let done = self
            .db()
            .write(move |tx| {
                tx.execute("DELETE FROM ipam WHERE container_id = ?1", [&id3])?;
                tx.execute("DELETE FROM pending_cleanups WHERE id = ?1", [&id3])?;
                Ok(())
            })
            .await;
        if let Err(e) = done {
            tracing::warn!(container = %rec.id, error = %e, "finishing a removal");
        }
    }

    /// Finishes removals a crash interrupted.
    async fn finish_pending_cleanups(&self) -> Result<()> {
        let rows: Vec<String> = self
            .db()
            .read(|c| {
                let mut stmt = c.prepare("SELECT data FROM pending_cleanups")?;
                let v = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<std::result::Result<Vec<String>, _>>()?;
                Ok(v)
            })
            .await?;
        for j in rows {
            match serde_json::from_str::<ContainerRecord>(&j) {
                Ok(rec) => self.finish_removal(rec).await,
                Err(e) => tracing::warn!(error = %e, "corrupt pending clean-up"),
            }
        }
        Ok(())
    }

    /// After a daemon (re)start: records exits that happened while it was down (applying
    /// restart policies and `--rm`), and watches the containers conmon kept alive.
    pub async fn reconcile_containers(&self) -> Result<()> {
        self.finish_pending_cleanups().await?;
        let recs = self.container_records().await?;
        let exits = self.options().runroot.join("exits");
        for rec in recs {
            match rec.status {
                ContainerStatus::Running
                | ContainerStatus::Stopping
                | ContainerStatus::Paused
                | ContainerStatus::Created => {}
                ContainerStatus::Removing => {
                    // Interrupted removal: finish it.
                    let mut r = rec.clone();
                    r.status = ContainerStatus::Exited;
                    self.save_record(&r).await?;
                    let _ = self
                        .remove_container(
                            &r.id,
                            RemoveOptions {
                                force: true,
                                ..Default::default()
                            },
                        )
                        .await;
                    continue;
                }
                ContainerStatus::Exited if rec.config.auto_remove => {
                    // Exited but not yet removed when the daemon went away.
                    let _ = self
                        .remove_container(&rec.id, RemoveOptions::default())
                        .await;
                    continue;
                }
                _ => {
                    // A crash during init can leave a network namespace behind.
                    if rec.netns.is_some() {
                        self.teardown_network(&rec).await;
                        let mut r = rec.clone();
                        r.netns = None;
                        self.save_record(&r).await?;
                    }
                    continue;
                }
            }
            if let Some(code) = oci::exit_code(&exits, &rec.id) {
                self.record_exit(&rec.id, code).await?;
                continue;
            }
            // The runtime's view: `runc state` JSON, its `status` field.
            let state = self
                .runc(vec!["state".into(), rec.id.clone()])
                .await
                .unwrap_or_default();
            let status = serde_json::from_str::<serde_json::Value>(&state)
                .ok()
                .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(String::from));
            if let Some(status @ ("running" | "paused" | "created")) = status.as_deref() {
                // A crash between the runtime's verb and the record's update leaves them
                // apart: the runtime's state is the truth.
                let now = match status {
                    "running" => Some(ContainerStatus::Running),
                    "paused" => Some(ContainerStatus::Paused),
                    _ => None,
                };
                let mut rec = rec;
                if let Some(now) = now.filter(|n| *n != rec.status) {
                    tracing::info!(container = %rec.id, recorded = ?rec.status, runtime = ?now, "the runtime's state wins over the record after a crash");
                    let was_created = rec.status == ContainerStatus::Created;
                    rec.status = now;
                    if was_created {
                        rec.started_at = Some(Utc::now());
                        rec.stopped_by_user = false;
                        rec.exit_code = 0;
                    }
                    self.save_record(&rec).await?;
                    if was_created {
                        self.emit_container("start", &rec, &[]);
                    }
                }
                if rec.status == ContainerStatus::Running {
                    self.arm_healthcheck(&rec).await;
                }
            } else {
                // Gone without an exit file (e.g. the host rebooted): an unknown exit.
                tracing::warn!(container = %rec.id, "container vanished while the daemon was down");
                self.record_exit(&rec.id, -1).await?;
            }
        }
        Ok(())
    }

    /// The container's k8s-file log.
    pub fn container_log_path(&self, id: &str) -> PathBuf {
        self.ctr_paths(id).storage.join("ctr.log")
    }

    /// Mount specs for the container's mounts and volumes.
    async fn container_mounts(
        &self,
        rec: &ContainerRecord,
    ) -> Result<(Vec<spec::MountSpec>, Vec<crate::volumes::FirstUse>)> {
        let mut first_uses = Vec::new();
        let mut out = Vec::new();
        for m in &rec.config.mounts {
            match m.kind.as_str() {
                "bind" => {
                    let src = Path::new(&m.source);
                    if !src.exists() {
                        return Err(Error::InvalidArg(format!(
                            "statfs {}: no such file or directory",
                            m.source
                        )));
                    }
                    let mut o = vec!["rbind".to_string()];
                    o.extend(
                        m.options
                            .iter()
                            .filter(|x| *x != "rbind" && *x != "bind")
                            .cloned(),
                    );
                    if m.read_only && !o.iter().any(|x| x == "ro") {
                        o.push("ro".into());
                    }
                    if !o.iter().any(|x| {
                        x.ends_with("private") || x.ends_with("shared") || x.ends_with("slave")
                    }) {
                        o.push("rprivate".into());
                    }
                    out.push(spec::MountSpec {
                        destination: m.destination.clone(),
                        kind: "bind".into(),
                        source: m.source.clone(),
                        options: o,
                    });
                }
                "tmpfs" => {
                    let mut o = vec![
                        "rw".to_string(),
                        "noexec".into(),
                        "nosuid".into(),
                        "nodev".into(),
                    ];
                    for x in &m.options {
                        let key = x.split('=').next().unwrap_or(x);
                        o.retain(|y| {
                            y.split('=').next() != Some(key)
                                && !(key == "exec" && y == "noexec")
                                && !(key == "ro" && y == "rw")
                        });
                        o.push(x.clone());
                    }
                    if m.read_only {
                        o.retain(|y| y != "rw");
                        o.push("ro".into());
                    }
                    out.push(spec::MountSpec {
                        destination: m.destination.clone(),
                        kind: "tmpfs".into(),
                        source: "tmpfs".into(),
                        options: o,
                    });
                }
                "volume" => {
                    let (path, first) = self
                        .volume_path_for(&rec.id, &m.source, &m.destination)
                        .await?;
                    first_uses.extend(first);
                    let mut o = vec!["rbind".to_string(), "rprivate".into()];
                    if m.read_only {
                        o.push("ro".into());
                    }
                    out.push(spec::MountSpec {
                        destination: m.destination.clone(),
                        kind: "bind".into(),
                        source: path.display().to_string(),
                        options: o,
                    });
                }
                other => {
                    return Err(Error::InvalidArg(format!(
                        "unsupported mount type {other:?}"
                    )))
                }
            }
        }
        Ok((out, first_uses))
    }
}

/// The image's name the user meant: the tag equal to the request, or ending in it (short
/// names, implied `:latest`), else the first tag.
fn image_name_for(names: &[String], asked: &str) -> Option<String> {
    let with_tag = if asked
        .rsplit('/')
        .next()
        .is_some_and(|l| l.contains(':') || l.contains('@'))
    {
        asked.to_string()
    } else {
        format!("{asked}:latest")
    };
    names
        .iter()
        .find(|n| *n == asked || **n == with_tag)
        .or_else(|| names.iter().find(|n| n.ends_with(&format!("/{with_tag}"))))
        .or_else(|| names.first())
        .cloned()
}

/// `-P` publishes every exposed port; a mapping without a host port gets a free one (as
/// Podman does at create time, so inspect shows it at once).
fn assign_host_ports(cfg: &mut ContainerConfig) -> Result<()> {
    if cfg.publish_all && cfg.net == NetMode::Bridge {
        for e in cfg.expose.clone() {
            let (port, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            if !cfg
                .ports
                .iter()
                .any(|p| p.container_port == port && p.protocol == proto)
            {
                cfg.ports.push(config::PortMapping {
                    host_ip: String::new(),
                    host_port: 0,
                    container_port: port,
                    range: 1,
                    protocol: proto.to_string(),
                });
            }
        }
    }
    for p in cfg.ports.iter_mut().filter(|p| p.host_port == 0) {
        p.host_port = free_port(&p.host_ip, &p.protocol, p.range.max(1))?;
    }
    Ok(())
}

/// A free host port (the first of `range` consecutive free ones).
fn free_port(host_ip: &str, proto: &str, range: u16) -> Result<u16> {
    let ip = if host_ip.is_empty() {
        "0.0.0.0"
    } else {
        host_ip
    };
    let free = |port: u16| -> bool {
        if proto.contains("udp") {
            std::net::UdpSocket::bind((ip, port)).is_ok()
        } else {
            std::net::TcpListener::bind((ip, port)).is_ok()
        }
    };
    for _ in 0..100 {
        let base = std::net::TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| Error::io("finding a free host port", e))?;
        if base.checked_add(range - 1).is_some() && (1..range).all(|k| free(base + k)) {
            return Ok(base);
        }
    }
    Err(Error::InvalidState("no free host port range found".into()))
}

/// How to remove.
#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    pub force: bool,
    /// Also remove anonymous volumes.
    pub volumes: bool,
    /// Also remove containers that depend on it.
    pub depend: bool,
    /// Stop timeout for `force` (default 0: kill at once... Podman uses the stop timeout).
    pub timeout: Option<u32>,
    /// Part of removing its pod (an infra container may go).
    pub pod_removal: bool,
}

/// Writes the container's `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` into the
/// bundle and returns the bind mounts for them, as Podman does.
fn etc_files(
    bundle: &Path,
    rec: &ContainerRecord,
    ips: &[String],
    net_dns: &[String],
    no_hosts: bool,
) -> Result<Vec<spec::MountSpec>> {
    std::fs::create_dir_all(bundle).map_err(|e| Error::io("creating the bundle", e))?;
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n",
    );
    for h in &rec.config.extra_hosts {
        if let Some((name, ip)) = h.split_once(':') {
            let ip = if ip == "host-gateway" {
                "10.88.0.1"
            } else {
                ip
            };
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    match ips.first() {
        Some(ip) => hosts.push_str(&format!("{ip}\t{} {}\n", rec.hostname, rec.name)),
        None => hosts.push_str(&format!("127.0.1.1\t{} {}\n", rec.hostname, rec.name)),
    }
    // The host's resolver config, without loopback resolvers a container cannot reach.
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut resolv = String::new();
    if !rec.config.dns_search.is_empty() {
        resolv.push_str(&format!("search {}\n", rec.config.dns_search.join(" ")));
    } else if !net_dns.is_empty() {
        resolv.push_str("search dns.podman\n");
    }
    if rec.config.dns.is_empty() && !net_dns.is_empty() {
        // aardvark-dns on the network's gateway answers container names and forwards the rest.
        for d in net_dns {
            resolv.push_str(&format!("nameserver {d}\n"));
        }
    } else if rec.config.dns.is_empty() {
        for l in host_resolv.lines() {
            let t = l.trim_start();
            if t.starts_with("nameserver") && (l.contains("127.") || l.contains("::1")) {
                continue;
            }
            if (t.starts_with("search") && !rec.config.dns_search.is_empty())
                || (t.starts_with("options") && !rec.config.dns_options.is_empty())
            {
                continue;
            }
            resolv.push_str(l);
            resolv.push('\n');
        }
    } else {
        for d in &rec.config.dns {
            resolv.push_str(&format!("nameserver {d}\n"));
        }
    }
    if !rec.config.dns_options.is_empty() {
        resolv.push_str(&format!("options {}\n", rec.config.dns_options.join(" ")));
    }
    let mut mounts = Vec::new();
    for (name, content) in [
        ("hostname", format!("{}\n", rec.hostname)),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
        if name == "hosts" && no_hosts {
            continue;
        }
        let p = bundle.join(name);
        std::fs::write(&p, content)
            .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
        mounts.push(spec::MountSpec {
            destination: format!("/etc/{name}"),
            kind: "bind".to_string(),
            source: p.display().to_string(),
            options: vec!["rbind".to_string(), "rprivate".to_string()],
        });
    }
    Ok(mounts)
}

/// The daemon's own hard limit for an rlimit (containers cannot get more).
fn daemon_hard_limit(kind: &str) -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource};
    let r = match kind {
        "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
        "RLIMIT_CORE" => Resource::RLIMIT_CORE,
        "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
        "RLIMIT_STACK" => Resource::RLIMIT_STACK,
        _ => return None,
    };
    getrlimit(r).ok().map(|(_, hard)| hard)
}
