//! The container lifecycle on the runtime: create (record + names), start (overlay rootfs,
//! `config.json`, conmon + runtime), exit watching (exit file → state, rootfs unmounted,
//! `--rm` honoured), wait and remove. The API routes are wired in a later step (#4); this
//! is the engine path they will call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::containers::rootfs::{self, RootfsDirs};
use crate::containers::spec::{self, NetworkMode, ProcessRequest, RuntimeSpecInput};
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
    pub process: ProcessRequest,
    pub network: NetworkMode,
    pub labels: std::collections::BTreeMap<String, String>,
    pub auto_remove: bool,
}

/// The stored container (on-disk record, version 1). Its fields are a superset of
/// [`crate::containers::ContainerSummary`], which listing reads from the same JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub command: Vec<String>,
    pub created: DateTime<Utc>,
    pub status: ContainerStatus,
    pub labels: std::collections::BTreeMap<String, String>,
    pub pod_id: Option<String>,
    pub exit_code: i32,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub tty: bool,
    pub hostname: String,
    pub host_network: bool,
    pub auto_remove: bool,
    pub pid: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

/// Adjectives and names for generated container names.
const LEFT: &[&str] = &[
    "brave", "calm", "eager", "fond", "happy", "jolly", "keen", "lucid", "quirky", "vibrant",
];
const RIGHT: &[&str] = &[
    "hopper", "lovelace", "turing", "knuth", "ritchie", "thompson", "torvalds", "wozniak",
    "hamilton", "liskov",
];

fn generated_name() -> String {
    let r: [u8; 2] = rand::random();
    format!(
        "{}_{}",
        LEFT[r[0] as usize % LEFT.len()],
        RIGHT[r[1] as usize % RIGHT.len()]
    )
}

impl Runtime {
    fn container_paths(&self, id: &str) -> (PathBuf, PathBuf, PathBuf) {
        let o = self.options();
        let storage = o.root.join("storage/overlay-containers").join(id);
        let bundle = o.runroot.join("containers").join(id).join("userdata");
        (storage, bundle, o.runroot.join("exits"))
    }

    async fn save_record(&self, rec: &ContainerRecord) -> Result<()> {
        let json = serde_json::to_string(rec).map_err(|e| Error::Internal(e.to_string()))?;
        let (id, status) = (rec.id.clone(), rec.status.as_str().to_string());
        self.db()
            .write(move |tx| {
                tx.execute(
                    "UPDATE containers SET config = ?2, state = ?2, status = ?3 WHERE id = ?1",
                    params![id, json, status],
                )?;
                Ok(())
            })
            .await
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

    fn emit_container(&self, status: &str, rec: &ContainerRecord) {
        let mut e = Event::new(EventType::Container, status);
        e.id = rec.id.clone();
        e.name = rec.name.clone();
        e.image = rec.image.clone();
        e.attributes = rec.labels.clone();
        if status == "died" {
            e.exit_code = Some(rec.exit_code);
        }
        self.event_bus().emit(e);
    }

    /// Creates a container record (nothing runs yet).
    pub async fn create_container(&self, req: ContainerCreate) -> Result<ContainerRecord> {
        let img = self.lookup_image(&req.image).await?;
        let id = crate::ids::new_id();
        let hostname = if req.process.hostname.is_empty() {
            id[..12].to_string()
        } else {
            req.process.hostname.clone()
        };
        let mut preq = req.process.clone();
        preq.hostname = hostname.clone();
        let (process, user) = spec::merge_process(img.container_config(), &preq)?;
        let name = match req.name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.trim_start_matches('/').to_string();
                if !valid_name(&n) {
                    return Err(Error::InvalidArg(format!(
                        "container name {n:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
                    )));
                }
                n
            }
            None => generated_name() + "_" + &id[..4],
        };
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            image: img.names.first().cloned().unwrap_or_else(|| img.id.clone()),
            image_id: img.id.clone(),
            command: process.args.clone(),
            created: Utc::now(),
            status: ContainerStatus::Created,
            labels: req.labels,
            pod_id: None,
            exit_code: 0,
            env: process.env,
            cwd: process.cwd,
            user,
            tty: process.terminal,
            hostname,
            host_network: req.network == NetworkMode::Host,
            auto_remove: req.auto_remove,
            pid: 0,
            started_at: None,
            finished_at: None,
        };
        let json = serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?;
        let (id2, name2) = (id.clone(), name.clone());
        let created = rec.created.timestamp_nanos_opt().unwrap_or(0);
        self.db()
            .write(move |tx| {
                let taken: Option<String> = tx
                    .query_row("SELECT id FROM names WHERE name = ?1", [&name2], |r| r.get(0))
                    .optional()?;
                if let Some(other) = taken {
                    return Err(Error::NameInUse(name2.clone(), other));
                }
                tx.execute("INSERT INTO names (name, id, kind) VALUES (?1, ?2, 'container')", [&name2, &id2])?;
                tx.execute(
                    "INSERT INTO containers (id, name, pod_id, config, state, status, created) VALUES (?1, ?2, NULL, ?3, ?3, 'created', ?4)",
                    params![id2, name2, json, created],
                )?;
                Ok(())
            })
            .await?;
        self.emit_container("create", &rec);
        Ok(rec)
    }

    /// Starts a created or exited container and watches it until it exits.
    pub async fn start_container(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let mut rec = self.container_record(name_or_id).await?;
        if rec.status == ContainerStatus::Running {
            return Err(Error::InvalidState(format!(
                "container {} is already running",
                rec.id
            )));
        }
        let img = self.lookup_image(&rec.image_id).await?;
        let (storage, bundle, exits) = self.container_paths(&rec.id);
        let store = self.image_store().clone();
        let lowers: Vec<PathBuf> = img
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_diff(&l.chain_id))
            .collect();
        let dirs = RootfsDirs {
            lowers,
            upper: storage.join("diff"),
            work: storage.join("work"),
            merged: storage.join("merged"),
        };
        let conf = self.options().conf.clone();
        let runtime_path = conf.runtime_path().ok_or_else(|| {
            Error::InvalidState(format!("OCI runtime {:?} not found", conf.runtime_name()))
        })?;
        let conmon = conf
            .conmon_path()
            .ok_or_else(|| Error::InvalidState("conmon not found".into()))?;
        let runtime_root = self.options().runroot.join(conf.runtime_name());
        let r2 = rec.clone();
        let (bundle2, exits2, storage2, rr2) = (
            bundle.clone(),
            exits.clone(),
            storage.clone(),
            runtime_root.clone(),
        );
        let pid = tokio::task::spawn_blocking(move || -> Result<i32> {
            rootfs::mount_overlay(&dirs)?;
            let read = |p: &str| std::fs::read_to_string(dirs.merged.join(p)).unwrap_or_default();
            let (uid, gid, extra) =
                spec::resolve_user(&r2.user, &read("etc/passwd"), &read("etc/group"))?;
            let caps = spec::capabilities(&conf.containers.default_capabilities, &[], &[], false)?;
            let limits = spec::rlimits(&conf.containers.default_ulimits, daemon_hard_limit)?;
            let input = RuntimeSpecInput {
                process: spec::ProcessSpec {
                    args: r2.command.clone(),
                    env: r2.env.clone(),
                    cwd: r2.cwd.clone(),
                    uid,
                    gid,
                    additional_gids: extra,
                    terminal: r2.tty,
                },
                rootfs: dirs.merged.display().to_string(),
                hostname: r2.hostname.clone(),
                capabilities: caps,
                rlimits: limits,
                network: if r2.host_network {
                    NetworkMode::Host
                } else {
                    NetworkMode::None
                },
                cgroups_path: format!("/libpod_parent/libpod-{}", r2.id),
                mounts: etc_files(&bundle2, &r2)?,
                ..Default::default()
            };
            std::fs::write(
                bundle2.join("config.json"),
                serde_json::to_vec(&spec::runtime_spec(&input))
                    .map_err(|e| Error::Internal(e.to_string()))?,
            )
            .map_err(|e| Error::io("writing config.json", e))?;
            let _ = std::fs::remove_file(exits2.join(&r2.id));
            let _ = oci::runtime(&runtime_path, &rr2, &["delete", "--force", &r2.id]);
            let pid = oci::create_container(&ConmonSpec {
                conmon,
                runtime: runtime_path.clone(),
                runtime_root: rr2.clone(),
                id: r2.id.clone(),
                name: r2.name.clone(),
                bundle: bundle2.clone(),
                exit_dir: exits2.clone(),
                persist_dir: bundle2.join("persist"),
                log_path: storage2.join("ctr.log"),
                log_size_max: None,
                terminal: r2.tty,
                stdin: false,
                exit_command: Vec::new(),
                log_level: "warning".into(),
            })?;
            oci::runtime(&runtime_path, &rr2, &["start", &r2.id])?;
            Ok(pid)
        })
        .await
        .map_err(|e| Error::Internal(format!("starting: {e}")))?;
        let pid = match pid {
            Ok(p) => p,
            Err(e) => {
                let _ = rootfs::unmount(&storage.join("merged"));
                return Err(e);
            }
        };
        rec.status = ContainerStatus::Running;
        rec.pid = pid;
        rec.started_at = Some(Utc::now());
        self.save_record(&rec).await?;
        self.emit_container("start", &rec);
        if let Some(this) = self.handle() {
            let id = rec.id.clone();
            tokio::spawn(async move { this.watch_exit(id, exits, runtime_root).await });
        }
        Ok(rec)
    }

    async fn watch_exit(self: Arc<Self>, id: String, exits: PathBuf, runtime_root: PathBuf) {
        loop {
            if let Some(code) = oci::exit_code(&exits, &id) {
                if let Err(e) = self.record_exit(&id, code, &runtime_root).await {
                    tracing::warn!(container = %id, error = %e, "recording an exit");
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn record_exit(&self, id: &str, code: i32, runtime_root: &std::path::Path) -> Result<()> {
        let mut rec = self.container_record(id).await?;
        rec.status = ContainerStatus::Exited;
        rec.exit_code = code;
        rec.pid = 0;
        rec.finished_at = Some(Utc::now());
        let (storage, _, _) = self.container_paths(id);
        let rt = self.options().conf.runtime_path();
        let (id2, rr) = (id.to_string(), runtime_root.to_path_buf());
        let _ = tokio::task::spawn_blocking(move || {
            let _ = rootfs::unmount(&storage.join("merged"));
            if let Some(rt) = rt {
                let _ = oci::runtime(&rt, &rr, &["delete", "--force", &id2]);
            }
        })
        .await;
        self.save_record(&rec).await?;
        self.emit_container("died", &rec);
        if rec.auto_remove {
            self.remove_container(id, true).await?;
        }
        Ok(())
    }

    /// Waits until the container is not running; returns its exit code.
    pub async fn wait_container(&self, name_or_id: &str) -> Result<i32> {
        loop {
            let rec = self.container_record(name_or_id).await?;
            if !matches!(
                rec.status,
                ContainerStatus::Running | ContainerStatus::Stopping
            ) {
                return Ok(rec.exit_code);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Removes a container (a running one only with `force`, which kills it first).
    pub async fn remove_container(&self, name_or_id: &str, force: bool) -> Result<()> {
        let rec = self.container_record(name_or_id).await?;
        let conf = &self.options().conf;
        let runtime_root = self.options().runroot.join(conf.runtime_name());
        if rec.status == ContainerStatus::Running {
            if !force {
                return Err(Error::InvalidState(format!(
                    "cannot remove container {} as it is running - running or paused containers cannot be removed without force: container state improper",
                    rec.id
                )));
            }
            if let Some(rt) = conf.runtime_path() {
                let (id, rr) = (rec.id.clone(), runtime_root.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    oci::runtime(&rt, &rr, &["kill", &id, "KILL"])
                })
                .await;
            }
            // Let conmon record the exit before the container's files go.
            let exits = self.options().runroot.join("exits");
            for _ in 0..100 {
                if oci::exit_code(&exits, &rec.id).is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let (storage, bundle, exits) = self.container_paths(&rec.id);
        let rt = conf.runtime_path();
        let id2 = rec.id.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = rootfs::unmount(&storage.join("merged"));
            if let Some(rt) = rt {
                let _ = oci::runtime(&rt, &runtime_root, &["delete", "--force", &id2]);
            }
            let _ = std::fs::remove_dir_all(&storage);
            if let Some(parent) = bundle.parent() {
                let _ = std::fs::remove_dir_all(parent);
            }
            let _ = std::fs::remove_file(exits.join(&id2));
        })
        .await;
        let id3 = rec.id.clone();
        self.db()
            .write(move |tx| {
                tx.execute("DELETE FROM containers WHERE id = ?1", [&id3])?;
                tx.execute("DELETE FROM names WHERE id = ?1", [&id3])?;
                Ok(())
            })
            .await?;
        self.emit_container("remove", &rec);
        Ok(())
    }

    /// After a daemon (re)start: records exits that happened while it was down and re-arms
    /// the exit watchers of containers still running (conmon kept them alive).
    pub async fn reconcile_containers(&self) -> Result<()> {
        let ids: Vec<String> = self
            .db()
            .read(|c| {
                let mut stmt = c.prepare(
                    "SELECT id FROM containers WHERE status IN ('running', 'stopping', 'paused')",
                )?;
                let v = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<std::result::Result<Vec<String>, _>>()?;
                Ok(v)
            })
            .await?;
        let conf = &self.options().conf;
        let runtime_root = self.options().runroot.join(conf.runtime_name());
        let exits = self.options().runroot.join("exits");
        for id in ids {
            if let Some(code) = oci::exit_code(&exits, &id) {
                self.record_exit(&id, code, &runtime_root).await?;
                continue;
            }
            let alive = match conf.runtime_path() {
                Some(rt) => {
                    let (rt, rr, id2) = (rt, runtime_root.clone(), id.clone());
                    tokio::task::spawn_blocking(move || oci::runtime(&rt, &rr, &["state", &id2]))
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                        .is_some_and(|s| {
                            s.contains("\"running\"")
                                || s.contains("\"paused\"")
                                || s.contains("\"created\"")
                        })
                }
                None => false,
            };
            if alive {
                if let Some(this) = self.handle() {
                    let (id2, ex, rr) = (id.clone(), exits.clone(), runtime_root.clone());
                    tokio::spawn(async move { this.watch_exit(id2, ex, rr).await });
                }
            } else {
                // Gone without an exit file (e.g. the host rebooted): an unknown exit.
                tracing::warn!(container = %id, "container vanished while the daemon was down");
                self.record_exit(&id, -1, &runtime_root).await?;
            }
        }
        Ok(())
    }

    /// The container's k8s-file log.
    pub fn container_log_path(&self, id: &str) -> PathBuf {
        self.container_paths(id).0.join("ctr.log")
    }
}

/// Writes the container's `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` into the
/// bundle and returns the bind mounts for them, as Podman does.
fn etc_files(bundle: &std::path::Path, rec: &ContainerRecord) -> Result<Vec<spec::MountSpec>> {
    std::fs::create_dir_all(bundle).map_err(|e| Error::io("creating the bundle", e))?;
    let hosts = format!(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n127.0.1.1\t{} {}\n",
        rec.hostname, rec.name
    );
    // The host's resolver config, without loopback resolvers a container cannot reach.
    let resolv: String = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            !(l.trim_start().starts_with("nameserver") && (l.contains("127.") || l.contains("::1")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let mut mounts = Vec::new();
    for (name, content) in [
        ("hostname", format!("{}\n", rec.hostname)),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
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
