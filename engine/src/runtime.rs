//! The runtime: the one object that owns the state database, the configuration, the event
//! bus and (as the engine grows) the image store, OCI runtime, monitor and network backend.
//! It implements every domain trait; the daemon hands it to the API crates as trait objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::{broadcast, OnceCell};

use crate::config::ContainersConf;
use crate::containers::lifecycle::{
    ContainerCreate, ContainerRecord, RemoveOptions, StateChange, WaitCondition,
};
use crate::containers::stats::{CgroupStats, Cgroups};
use crate::containers::top::TopOutput;
use crate::containers::{ContainerEngine, ContainerStatus, ContainerSummary, ListOptions};
use crate::error::{Error, Result};
use crate::events::{Event, EventBus, EventFilter, EventType};
use crate::ids::{resolve, Table};
use crate::images::store::{self as image_store, ImageStore, PullContext};
use crate::images::{ImageEngine, ImageRecord, PullOptions, PullProgress, RemoveReport};
use crate::oci::attach::AttachConn;
use crate::registries::RegistriesConf;
use crate::store::Db;
use crate::system::{self, ContainerCounts, HostInfo, SystemEngine, ToolInfo};

/// How to open a runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Persistent state (`--root`).
    pub root: PathBuf,
    /// Volatile state (`--runroot`).
    pub runroot: PathBuf,
    /// containers.conf, already loaded.
    pub conf: ContainersConf,
    /// registries.conf, already loaded.
    pub registries: RegistriesConf,
    /// The URI the API is served on (for `info.host.remoteSocket`).
    pub service_uri: Option<String>,
}

impl RuntimeOptions {
    /// Defaults for a root daemon: `/var/lib/podapid`, `/run/podapid`, host config files.
    pub fn from_host(root: PathBuf, runroot: PathBuf) -> Result<Self> {
        Ok(RuntimeOptions {
            root,
            runroot,
            conf: ContainersConf::load_default()?,
            registries: RegistriesConf::load_default()?,
            service_uri: None,
        })
    }
}

#[derive(Debug, Clone, Default)]
struct Tools {
    runtime: ToolInfo,
    conmon: ToolInfo,
}

/// The engine runtime.
pub struct Runtime {
    opts: RuntimeOptions,
    db: Db,
    events: EventBus,
    tools: OnceCell<Tools>,
    images: ImageStore,
    ctr: crate::containers::lifecycle::ContainerState,
    keepers: crate::containers::net::BridgeKeepers,
    /// A weak handle to itself, for tasks that outlive a call (exit watchers).
    me: std::sync::OnceLock<std::sync::Weak<Runtime>>,
    // Held for the runtime's life: one daemon per root.
    _lock: nix::fcntl::Flock<std::fs::File>,
    started: Instant,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.keepers.release();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("root", &self.opts.root)
            .field("runroot", &self.opts.runroot)
            .finish()
    }
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(p)
        .map_err(|e| Error::io(format!("creating {}", p.display()), e))
}

impl Runtime {
    /// Opens the state under `opts.root`, migrating the database, and takes the root's lock.
    pub async fn open(opts: RuntimeOptions) -> Result<Arc<Runtime>> {
        mkdir(&opts.root, 0o700)?;
        mkdir(&opts.runroot, 0o700)?;
        let lock_path = opts.root.join("podapid.lock");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
        let lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| {
                Error::InvalidState(format!(
                    "{} is in use by another podapid ({errno})",
                    opts.root.display()
                ))
            })?;
        let db_path = opts.root.join("db.sqlite");
        let db = tokio::task::spawn_blocking(move || Db::open(&db_path))
            .await
            .map_err(|e| Error::Internal(format!("opening the database: {e}")))??;
        let events_path = if opts.conf.engine.events_logfile_path.is_empty() {
            opts.runroot.join("events").join("events.log")
        } else {
            PathBuf::from(&opts.conf.engine.events_logfile_path)
        };
        let max = parse_size(&opts.conf.engine.events_logfile_max_size).unwrap_or(1 << 20);
        let events = EventBus::new(events_path, max)?;
        let images = ImageStore::open(&opts.root.join("storage"))?;
        let (known, links) = db
            .read(|c| {
                let mut stmt = c.prepare("SELECT chain_id, short_link FROM layers")?;
                let mut known = std::collections::HashSet::new();
                let mut links = std::collections::HashSet::new();
                for row in
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                {
                    let (c, l) = row?;
                    known.insert(c.trim_start_matches("sha256:").to_string());
                    links.insert(l);
                }
                Ok((known, links))
            })
            .await?;
        images.collect_garbage(&known, &links);
        let rt = Arc::new(Runtime {
            opts,
            db,
            events,
            tools: OnceCell::new(),
            images,
            ctr: Default::default(),
            keepers: Default::default(),
            me: std::sync::OnceLock::new(),
            _lock: lock,
            started: Instant::now(),
        });
        let _ = rt.me.set(Arc::downgrade(&rt));
        crate::containers::monitor::start(&rt);
        if let Err(e) = rt.reconcile_containers().await {
            tracing::warn!(error = %e, "reconciling containers at start-up");
        }
        // Probe the slow facts (versions, packages) in the background.
        let bg = rt.clone();
        tokio::spawn(async move {
            let _ = bg.tools().await;
        });
        Ok(rt)
    }

    async fn tools(&self) -> Tools {
        self.tools
            .get_or_init(|| async {
                let rt_name = self.opts.conf.runtime_name().to_string();
                let rt_path = self.opts.conf.runtime_path();
                let conmon = self.opts.conf.conmon_path();
                tokio::task::spawn_blocking(move || Tools {
                    runtime: system::describe_tool(&rt_name, rt_path),
                    conmon: system::describe_tool("conmon", conmon),
                })
                .await
                .unwrap_or_default()
            })
            .await
            .clone()
    }

    /// A strong handle to this runtime (for background tasks).
    pub fn handle(&self) -> Option<Arc<Runtime>> {
        self.me.get().and_then(|w| w.upgrade())
    }

    /// The bridges this daemon keeps up.
    pub(crate) fn bridge_keepers(&self) -> &crate::containers::net::BridgeKeepers {
        &self.keepers
    }

    /// Container locks and the state channel.
    pub(crate) fn ctr_state(&self) -> &crate::containers::lifecycle::ContainerState {
        &self.ctr
    }

    /// The options the runtime was opened with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.opts
    }

    /// The state database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The event bus (every producer emits through it).
    pub fn event_bus(&self) -> &EventBus {
        &self.events
    }

    /// Time since the runtime opened.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Containers per recorded status (`running`, `exited`, ...).
    async fn status_counts(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        self.db
            .read(|c| {
                let mut stmt =
                    c.prepare("SELECT status, COUNT(*) FROM containers GROUP BY status")?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                let mut out = std::collections::BTreeMap::new();
                for row in rows {
                    let (status, n) = row?;
                    out.insert(status, u64::try_from(n).unwrap_or(0));
                }
                Ok(out)
            })
            .await
    }

    async fn container_counts(&self) -> Result<ContainerCounts> {
        let mut counts = ContainerCounts::default();
        for (status, n) in self.status_counts().await? {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            counts.total += n;
            match ContainerStatus::parse(&status) {
                Some(ContainerStatus::Running) => counts.running += n,
                Some(ContainerStatus::Paused) => counts.paused += n,
                Some(ContainerStatus::Stopped | ContainerStatus::Exited) => counts.stopped += n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Whether `sql` (a `COUNT(*)` query with one parameter) counts any row for `key`.
    async fn row_exists(&self, sql: &'static str, key: &str) -> Result<bool> {
        let key = key.to_string();
        self.db
            .read(move |c| Ok(c.query_row(sql, [key], |r| r.get::<_, i64>(0))? > 0))
            .await
    }

    /// Emits a system-level event (daemon start/stop, refresh...).
    pub fn emit_system(&self, status: &str) {
        self.events.emit(Event::new(EventType::System, status));
    }
}

/// Parses sizes like `1m`, `512k`, `10MB`, `1048576`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = s[digits.len()..]
        .trim_end_matches('b')
        .trim_end_matches('i');
    let mult = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    Some(n * mult)
}

#[async_trait]
impl SystemEngine for Runtime {
    async fn info(&self) -> Result<HostInfo> {
        let tools = self.tools().await;
        let counts = self.container_counts().await?;
        let image_count = self.db.count("images").await?;
        let pods = self.db.count("pods").await?;
        let root = self.opts.root.clone();
        let mut info = tokio::task::spawn_blocking(move || {
            let uts = nix::sys::utsname::uname().ok();
            let (mem_total, mem_free, swap_total, swap_free) = system::memory();
            let (cgroup_version, cgroup_controllers) = system::cgroups();
            let (alloc, used) = system::fs_usage(&root);
            let (fd_count, threads) = system::process_counts();
            HostInfo {
                arch: system::go_arch().into(),
                os: "linux".into(),
                hostname: uts
                    .as_ref()
                    .map(|u| u.nodename().to_string_lossy().into_owned())
                    .unwrap_or_default(),
                kernel: uts
                    .as_ref()
                    .map(|u| u.release().to_string_lossy().into_owned())
                    .unwrap_or_default(),
                cpus: std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
                mem_total,
                mem_free,
                swap_total,
                swap_free,
                uptime_secs: system::uptime(),
                distribution: system::distribution(),
                cgroup_version,
                cgroup_controllers,
                graph_root_allocated: alloc,
                graph_root_used: used,
                backing_fs: system::backing_fs(&root),
                ipv4_forwarding: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                    .map(|s| s.trim() == "1")
                    .unwrap_or(false),
                fd_count,
                threads,
                ..Default::default()
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("gathering host info: {e}")))?;
        let conf = &self.opts.conf;
        info.cgroup_manager = conf.engine.cgroup_manager.clone();
        info.oci_runtime = tools.runtime;
        info.runtimes = conf
            .engine
            .runtimes
            .iter()
            .filter_map(|(name, paths)| {
                paths
                    .iter()
                    .find(|p| Path::new(p).exists())
                    .or_else(|| paths.first())
                    .map(|p| (name.clone(), p.clone()))
            })
            .collect();
        info.conmon = tools.conmon;
        info.event_logger = conf.engine.events_logger.clone();
        info.log_driver = conf.containers.log_driver.clone();
        info.network_backend = conf.network.network_backend.clone();
        info.seccomp_profile = conf.containers.seccomp_profile.clone();
        info.seccomp_enabled = Path::new("/proc/sys/kernel/seccomp").exists()
            || std::fs::read_to_string("/proc/self/status")
                .map(|s| s.contains("Seccomp:"))
                .unwrap_or(false);
        info.apparmor_enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .map(|s| s.trim() == "Y")
            .unwrap_or(false);
        info.capabilities = conf.containers.default_capabilities.clone();
        info.graph_root = self.images.root().to_path_buf();
        info.run_root = self.opts.runroot.join("storage");
        info.volume_path = self.opts.root.join("volumes");
        info.graph_driver = "overlay".into();
        info.config_files = conf.files.clone();
        info.images = image_count;
        info.containers = counts;
        info.pods = pods;
        info.registries = self.opts.registries.registries.clone();
        info.search_registries = self.opts.registries.unqualified_search_registries.clone();
        info.remote_socket = self.opts.service_uri.clone();
        Ok(info)
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<Event>> {
        let path = self.events.path().to_path_buf();
        tokio::task::spawn_blocking(move || crate::events::read_log(&path, &filter))
            .await
            .map_err(|e| Error::Internal(format!("reading events: {e}")))?
    }

    fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    async fn disk_usage(&self) -> Result<crate::df::DiskUsage> {
        Runtime::disk_usage(self).await
    }

    async fn prune(&self, opts: crate::df::PruneOptions) -> Result<crate::df::PruneReport> {
        self.system_prune(opts).await
    }

    async fn login(&self, server: &str, username: &str, password: &str) -> Result<()> {
        self.registry_login(server, username, password).await
    }

    async fn metrics(&self) -> Result<crate::metrics::EngineMetrics> {
        let containers = self.status_counts().await?;
        let mut pods = std::collections::BTreeMap::new();
        for p in crate::pods::PodEngine::list(self).await? {
            *pods.entry(p.state).or_insert(0) += 1;
        }
        let images = u64::try_from(self.db.count("images").await?).unwrap_or(0);
        let runroot = self.opts.runroot.clone();
        let conmon_processes = tokio::task::spawn_blocking(move || count_conmons(&runroot))
            .await
            .unwrap_or(0);
        Ok(crate::metrics::EngineMetrics {
            containers,
            pods,
            images,
            events_emitted: self.events.emitted(),
            conmon_processes,
            db_transactions: Some(self.db.tx_latency()),
        })
    }
}

/// conmon processes whose command line names a path under `runroot` (ours, not another
/// engine's).
fn count_conmons(runroot: &Path) -> u64 {
    let want = runroot.to_string_lossy().into_owned();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "conmon")
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&want))
        })
        .count() as u64
}

#[async_trait]
impl ContainerEngine for Runtime {
    async fn list(&self, opts: ListOptions) -> Result<Vec<ContainerRecord>> {
        let mut out = self.container_records().await?;
        if !opts.all {
            out.retain(|c| c.is_running());
        }
        if opts.limit > 0 {
            out.truncate(opts.limit);
        }
        Ok(out)
    }

    async fn lookup(&self, name_or_id: &str) -> Result<ContainerSummary> {
        let key = name_or_id.to_string();
        let json: Option<String> = self
            .db
            .read(move |c| {
                let Some(id) = resolve(c, Table::Containers, &key)? else {
                    return Ok(None);
                };
                Ok(Some(c.query_row(
                    "SELECT config FROM containers WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )?))
            })
            .await?;
        let json = json.ok_or_else(|| Error::NoSuchContainer(name_or_id.to_string()))?;
        serde_json::from_str(&json)
            .map_err(|e| Error::Internal(format!("corrupt container record: {e}")))
    }

    async fn inspect(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.container_record(name_or_id).await
    }

    async fn create(&self, req: ContainerCreate) -> Result<ContainerRecord> {
        self.create_container(req).await
    }

    async fn init(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.init_container(name_or_id).await
    }

    async fn start(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.start_container(name_or_id).await
    }

    async fn wait(&self, name_or_id: &str, cond: WaitCondition) -> Result<i32> {
        self.wait_container(name_or_id, cond).await
    }

    async fn stop(&self, name_or_id: &str, timeout: Option<u32>) -> Result<()> {
        self.stop_container(name_or_id, timeout).await
    }

    async fn kill(&self, name_or_id: &str, signal: i32) -> Result<()> {
        self.kill_container(name_or_id, signal).await.map(drop)
    }

    async fn restart(&self, name_or_id: &str, timeout: Option<u32>) -> Result<()> {
        self.restart_container(name_or_id, timeout).await
    }

    async fn pause(&self, name_or_id: &str, pause: bool) -> Result<()> {
        if pause {
            self.pause_container(name_or_id).await
        } else {
            self.unpause_container(name_or_id).await
        }
    }

    async fn rename(&self, name_or_id: &str, new_name: &str) -> Result<()> {
        self.rename_container(name_or_id, new_name).await
    }

    async fn update(
        &self,
        name_or_id: &str,
        resources: Option<crate::containers::config::Resources>,
        restart: Option<crate::containers::config::RestartPolicy>,
    ) -> Result<()> {
        self.update_container(name_or_id, resources, restart).await
    }

    async fn resize(&self, name_or_id: &str, height: u16, width: u16) -> Result<()> {
        self.resize_container(name_or_id, height, width).await
    }

    async fn remove(&self, name_or_id: &str, opts: RemoveOptions) -> Result<()> {
        self.remove_container(name_or_id, opts).await
    }

    async fn mount(&self, name_or_id: &str) -> Result<PathBuf> {
        self.mount_container(name_or_id).await
    }

    async fn unmount(&self, name_or_id: &str) -> Result<()> {
        self.unmount_container(name_or_id).await
    }

    async fn top(&self, name_or_id: &str, ps_args: &str, libpod: bool) -> Result<TopOutput> {
        let rec = self.container_record(name_or_id).await?;
        if !rec.is_running() {
            return Err(Error::InvalidState(format!(
                "top can only be used on running containers: container {} is not running: container state improper",
                rec.id
            )));
        }
        let cg = format!("/libpod_parent/libpod-{}", rec.id);
        let args = ps_args.to_string();
        tokio::task::spawn_blocking(move || {
            let pids = Cgroups::host().cgroup_procs(&cg);
            if libpod {
                let d: Vec<String> = args
                    .split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                crate::containers::top::top_libpod(&pids, &d)
            } else {
                crate::containers::top::top_docker(&pids, &args)
            }
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
    }

    async fn stats(&self, name_or_id: &str) -> Result<(ContainerRecord, CgroupStats)> {
        let rec = self.container_record(name_or_id).await?;
        if !rec.is_running() {
            return Ok((rec, CgroupStats::default()));
        }
        let cg = format!("/libpod_parent/libpod-{}", rec.id);
        let st = tokio::task::spawn_blocking(move || Cgroups::host().read(&cg))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .unwrap_or_default();
        Ok((rec, st))
    }

    async fn generate_systemd(
        &self,
        name_or_id: &str,
        opts: crate::systemd::SystemdOptions,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        Runtime::generate_systemd(self, name_or_id, &opts).await
    }

    async fn changes(&self, name_or_id: &str) -> Result<Vec<crate::images::diff::Change>> {
        let rec = self.container_record(name_or_id).await?;
        let img = self.lookup_image(&rec.image_id).await?;
        let upper = self.ctr_paths(&rec.id).storage.join("diff");
        self.diff_over_layers(upper, &img.layers).await
    }

    async fn export(&self, name_or_id: &str, out: PathBuf) -> Result<()> {
        let rec = self.container_record(name_or_id).await?;
        let merged = self.mount_rootfs(&rec).await?;
        let keep = Runtime::rootfs_in_use(&rec);
        let res = tokio::task::spawn_blocking(move || -> Result<()> {
            let f = std::fs::File::create(&out).map_err(|e| Error::io("creating the export", e))?;
            let mut b = tar::Builder::new(std::io::BufWriter::new(f));
            b.follow_symlinks(false);
            b.append_dir_all(".", &merged)
                .map_err(|e| Error::io("writing the export", e))?;
            b.into_inner()
                .map_err(|e| Error::io("finishing the export", e))?;
            if !keep {
                let _ = crate::containers::rootfs::unmount(&merged);
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        res
    }

    async fn attach(&self, name_or_id: &str) -> Result<AttachConn> {
        let rec = self.container_record(name_or_id).await?;
        if !rec.is_running() && rec.status != ContainerStatus::Created {
            return Err(Error::InvalidState(format!(
                "can only attach to created or running containers - currently in state {}: container state improper",
                rec.status.as_str()
            )));
        }
        let sock = self.ctr_paths(&rec.id).attach_socket();
        let conn = AttachConn::connect(&sock)?;
        self.emit_container("attach", &rec, &[]);
        Ok(conn)
    }

    async fn exec_create(
        &self,
        name_or_id: &str,
        cfg: crate::containers::exec::ExecConfig,
    ) -> Result<crate::containers::exec::ExecSession> {
        Runtime::exec_create(self, name_or_id, cfg).await
    }

    async fn exec_inspect(&self, id: &str) -> Result<crate::containers::exec::ExecSession> {
        Runtime::exec_inspect(self, id).await
    }

    async fn exec_start(&self, id: &str, attach: bool) -> Result<Option<AttachConn>> {
        Runtime::exec_start(self, id, attach).await
    }

    async fn exec_wait(&self, id: &str, limit: std::time::Duration) -> Result<Option<i32>> {
        Runtime::exec_wait(self, id, limit).await
    }

    async fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        Runtime::exec_resize(self, id, height, width).await
    }

    async fn exec_remove(&self, id: &str, force: bool) -> Result<()> {
        Runtime::exec_remove(self, id, force).await
    }

    async fn archive_stat(
        &self,
        name_or_id: &str,
        path: &str,
    ) -> Result<crate::containers::archive::PathStat> {
        let p = path.to_string();
        self.with_container_root(name_or_id, move |r| r.stat(&p))
            .await
    }

    async fn archive_get(
        &self,
        name_or_id: &str,
        path: &str,
        out: PathBuf,
    ) -> Result<crate::containers::archive::PathStat> {
        let p = path.to_string();
        self.with_container_root(name_or_id, move |r| {
            let f =
                std::fs::File::create(&out).map_err(|e| Error::io("creating the archive", e))?;
            r.tar(&p, std::io::BufWriter::new(f))
        })
        .await
    }

    async fn archive_put(
        &self,
        name_or_id: &str,
        path: &str,
        archive: PathBuf,
        no_overwrite_dir_non_dir: bool,
    ) -> Result<()> {
        let p = path.to_string();
        self.with_container_root(name_or_id, move |r| {
            r.untar(&p, &archive, no_overwrite_dir_non_dir)
        })
        .await
    }

    async fn healthcheck(&self, name_or_id: &str) -> Result<crate::containers::health::Health> {
        self.run_healthcheck(name_or_id).await
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StateChange> {
        self.subscribe_containers()
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.container_log_path(id)
    }

    fn paths(&self, id: &str) -> crate::containers::lifecycle::CtrPaths {
        self.ctr_paths(id)
    }

    fn volume_mountpoint(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    fn default_network(&self) -> crate::networks::netavark::Network {
        self.default_network_def()
    }

    fn conf(&self) -> &ContainersConf {
        &self.opts.conf
    }
}

#[async_trait]
impl crate::networks::NetworkEngine for Runtime {
    async fn exists(&self, name_or_id: &str) -> Result<bool> {
        match self.network_def(name_or_id).await {
            Ok(_) => Ok(true),
            Err(Error::NoSuchNetwork(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn list(&self) -> Result<Vec<crate::networks::netavark::Network>> {
        self.network_list().await
    }

    async fn inspect(&self, name_or_id: &str) -> Result<crate::networks::netavark::Network> {
        self.network_def(name_or_id).await
    }

    async fn create(
        &self,
        req: crate::networks::manage::NetworkCreate,
    ) -> Result<crate::networks::netavark::Network> {
        self.network_create(req).await
    }

    async fn remove(
        &self,
        name_or_id: &str,
        force: bool,
    ) -> Result<crate::networks::netavark::Network> {
        self.network_remove(name_or_id, force).await
    }

    async fn connect(
        &self,
        net: &str,
        container: &str,
        att: crate::containers::config::NetAttach,
    ) -> Result<()> {
        self.network_connect(net, container, att).await
    }

    async fn disconnect(&self, net: &str, container: &str) -> Result<()> {
        self.network_disconnect(net, container).await
    }

    async fn containers(
        &self,
        net: &crate::networks::netavark::Network,
    ) -> Result<Vec<ContainerRecord>> {
        self.network_containers(net).await
    }

    async fn update(&self, name_or_id: &str, add: Vec<String>, remove: Vec<String>) -> Result<()> {
        self.network_update(name_or_id, add, remove).await
    }
}

#[async_trait]
impl crate::secrets::SecretEngine for Runtime {
    async fn exists(&self, name_or_id: &str) -> Result<bool> {
        // An exact name or ID needs no prefix resolution.
        if self
            .row_exists(
                "SELECT COUNT(*) FROM secrets WHERE name = ?1 OR id = ?1",
                name_or_id,
            )
            .await?
        {
            return Ok(true);
        }
        self.secret_exists(name_or_id).await
    }

    async fn create(
        &self,
        name: &str,
        data: Vec<u8>,
        opts: crate::secrets::SecretCreateOptions,
    ) -> Result<String> {
        self.secret_create(name, data, opts).await
    }

    async fn list(
        &self,
        filters: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<crate::secrets::SecretRecord>> {
        self.secret_list(filters).await
    }

    async fn inspect(
        &self,
        name_or_id: &str,
        show_secret: bool,
    ) -> Result<(crate::secrets::SecretRecord, Option<Vec<u8>>)> {
        self.secret_inspect(name_or_id, show_secret).await
    }

    async fn remove(&self, name_or_id: &str) -> Result<String> {
        self.secret_remove(name_or_id).await
    }

    async fn remove_all(&self) -> Result<Vec<String>> {
        self.secret_remove_all().await
    }
}

impl Runtime {
    fn manifests(&self) -> crate::images::manifest::ManifestContext<'_> {
        crate::images::manifest::ManifestContext {
            store: &self.images,
            db: &self.db,
            registries: &self.opts.registries,
            events: &self.events,
        }
    }

    fn search_registries(&self) -> Vec<String> {
        self.opts.registries.unqualified_search_registries.clone()
    }

    async fn image_id(&self, name_or_id: &str) -> Result<String> {
        let key = name_or_id.to_string();
        let search = self.search_registries();
        self.db
            .read(move |c| image_store::resolve_image(c, &key, &search))
            .await?
            .ok_or_else(|| Error::NoSuchImage(name_or_id.to_string()))
    }

    /// Runs `f` on a blocking thread with the container's root held open: a running
    /// container's `/proc/<pid>/root` (its mounts included), else its overlay, mounted for
    /// the call when it was not.
    async fn with_container_root<T, F>(&self, name_or_id: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&crate::containers::archive::Root) -> Result<T> + Send + 'static,
    {
        let rec = self.container_record(name_or_id).await?;
        let (path, temp_mount) = if rec.is_running() && rec.pid > 0 {
            (PathBuf::from(format!("/proc/{}/root", rec.pid)), false)
        } else {
            let merged = self.mount_rootfs(&rec).await?;
            (merged, !Runtime::rootfs_in_use(&rec))
        };
        tokio::task::spawn_blocking(move || {
            let res = crate::containers::archive::Root::open(&path).and_then(|r| f(&r));
            if temp_mount {
                let _ = crate::containers::rootfs::unmount(&path);
            }
            res
        })
        .await
        .map_err(|e| Error::Internal(format!("archive: {e}")))?
    }

    /// What `upper` changes over `layers` (bottom-most first).
    async fn diff_over_layers(
        &self,
        upper: PathBuf,
        layers: &[crate::images::LayerInfo],
    ) -> Result<Vec<crate::images::diff::Change>> {
        let lowers: Vec<PathBuf> = layers
            .iter()
            .rev()
            .map(|l| self.images.layer_diff(&l.chain_id))
            .collect();
        tokio::task::spawn_blocking(move || crate::images::diff::changes(&upper, &lowers))
            .await
            .map_err(|e| Error::Internal(format!("diffing: {e}")))
    }

    fn emit_image(&self, status: &str, id: &str, name: &str) {
        let mut e = Event::new(EventType::Image, status);
        e.id = id.to_string();
        e.name = name.to_string();
        self.events.emit(e);
    }

    /// The image store (paths of layers and blobs).
    pub fn image_store(&self) -> &ImageStore {
        &self.images
    }
}

#[async_trait]
impl ImageEngine for Runtime {
    async fn exists(&self, name_or_id: &str) -> Result<bool> {
        match self.image_id(name_or_id).await {
            Ok(_) => Ok(true),
            Err(Error::NoSuchImage(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn layer_dir(&self, chain_id: &str) -> std::path::PathBuf {
        self.images.layer_diff(chain_id)
    }

    async fn list_images(&self) -> Result<Vec<ImageRecord>> {
        self.db.read(|c| image_store::load_images(c, None)).await
    }

    async fn lookup_image(&self, name_or_id: &str) -> Result<ImageRecord> {
        let id = self.image_id(name_or_id).await?;
        self.db
            .read(move |c| image_store::load_images(c, Some(&id)))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoSuchImage(name_or_id.to_string()))
    }

    async fn pull(
        &self,
        opts: PullOptions,
        progress: tokio::sync::mpsc::Sender<PullProgress>,
    ) -> Result<ImageRecord> {
        PullContext {
            store: &self.images,
            db: &self.db,
            registries: &self.opts.registries,
            events: &self.events,
        }
        .pull(&opts, &progress)
        .await
    }

    async fn push(
        &self,
        name_or_id: &str,
        destination: &str,
        opts: crate::images::PushOptions,
        progress: tokio::sync::mpsc::Sender<crate::images::PushProgress>,
    ) -> Result<crate::images::PushReport> {
        let img = self.lookup_image(name_or_id).await?;
        let dest = crate::images::ImageRef::parse_normalized(destination)?;
        let report = crate::images::push::push(
            &self.images,
            &self.opts.registries,
            &img,
            &dest,
            &opts,
            &progress,
        )
        .await?;
        self.emit_image("push", &img.id, &dest.full());
        Ok(report)
    }

    async fn save_images(
        &self,
        names: Vec<String>,
        format: crate::images::ArchiveFormat,
        out: Box<dyn std::io::Write + Send>,
    ) -> Result<()> {
        let mut set: Vec<(ImageRecord, Vec<String>)> = Vec::new();
        for n in &names {
            let img = self.lookup_image(n).await?;
            let given_id = img.id.starts_with(n.trim_start_matches("sha256:"));
            let tags = if given_id {
                img.names.clone()
            } else {
                crate::images::ImageRef::parse_normalized(n)
                    .ok()
                    .and_then(|r| r.tagged())
                    .into_iter()
                    .collect()
            };
            match set.iter_mut().find(|(i, _)| i.id == img.id) {
                Some((_, t)) => t.extend(tags),
                None => set.push((img, tags)),
            }
        }
        let store = self.images.clone();
        let ids: Vec<String> = set.iter().map(|(i, _)| i.id.clone()).collect();
        tokio::task::spawn_blocking(move || match format {
            crate::images::ArchiveFormat::DockerArchive => {
                crate::images::archive::save_docker_archive(&store, &set, out)
            }
            crate::images::ArchiveFormat::OciArchive => {
                crate::images::archive::save_oci_archive(&store, &set, out)
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("saving images: {e}")))??;
        for id in ids {
            self.emit_image("save", &id, "");
        }
        Ok(())
    }

    async fn load_archive(&self, path: std::path::PathBuf) -> Result<Vec<ImageRecord>> {
        let store = self.images.clone();
        let work = self.images.tmp_path();
        let w2 = work.clone();
        let dir_ready = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&path).map_err(|e| Error::io("opening the upload", e))?;
            crate::images::archive::extract_upload(f, &w2)
        })
        .await
        .map_err(|e| Error::Internal(format!("loading: {e}")))?;
        if let Err(e) = dir_ready {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e);
        }
        let w3 = work.clone();
        let res = self
            .db
            .with_conn(move |c| crate::images::archive::load_dir(&store, c, &w3))
            .await;
        let _ = std::fs::remove_dir_all(&work);
        let imgs = res?;
        for i in &imgs {
            self.emit_image(
                "loadfromarchive",
                &i.id,
                i.names.first().map(String::as_str).unwrap_or(""),
            );
        }
        Ok(imgs)
    }

    async fn manifest_create(
        &self,
        name: &str,
        images: Vec<String>,
        all: bool,
        amend: bool,
    ) -> Result<String> {
        self.manifests().create(name, &images, all, amend).await
    }

    async fn manifest_add(
        &self,
        name: &str,
        images: Vec<String>,
        opts: crate::images::manifest::ManifestAddOptions,
    ) -> Result<String> {
        self.manifests().add(name, &images, &opts).await
    }

    async fn manifest_annotate(
        &self,
        name: &str,
        instance: &str,
        opts: crate::images::manifest::ManifestAnnotateOptions,
    ) -> Result<String> {
        self.manifests().annotate(name, instance, &opts).await
    }

    async fn manifest_remove_instance(&self, name: &str, instance: &str) -> Result<String> {
        self.manifests().remove_instance(name, instance).await
    }

    async fn manifest_exists(&self, name: &str) -> Result<bool> {
        self.manifests().exists(name).await
    }

    async fn manifest_inspect(
        &self,
        name: &str,
        opts: crate::images::manifest::ManifestInspectOptions,
    ) -> Result<crate::images::manifest::ManifestInspect> {
        self.manifests().inspect(name, &opts).await
    }

    async fn manifest_push(
        &self,
        name: &str,
        destination: &str,
        opts: crate::images::manifest::ManifestPushOptions,
        progress: tokio::sync::mpsc::Sender<crate::images::PushProgress>,
    ) -> Result<String> {
        self.manifests()
            .push(name, destination, &opts, &progress)
            .await
    }

    async fn manifest_delete(&self, name: &str) -> Result<crate::images::RemoveReport> {
        self.manifests().delete(name).await
    }

    async fn build(
        &self,
        context_tar: std::path::PathBuf,
        opts: crate::build::BuildOptions,
        progress: tokio::sync::mpsc::Sender<crate::build::BuildEvent>,
    ) -> Result<ImageRecord> {
        self.build_image(context_tar, opts, progress).await
    }

    async fn commit(
        &self,
        container: &str,
        opts: crate::containers::commit::CommitOptions,
    ) -> Result<ImageRecord> {
        self.commit_container(container, opts).await
    }

    async fn import_image(
        &self,
        path: std::path::PathBuf,
        opts: crate::images::ImportOptions,
    ) -> Result<ImageRecord> {
        let store = self.images.clone();
        let img = self
            .db
            .with_conn(move |c| crate::images::archive::import(&store, c, &path, &opts))
            .await?;
        self.emit_image(
            "import",
            &img.id,
            img.names.first().map(String::as_str).unwrap_or(""),
        );
        Ok(img)
    }

    async fn search(
        &self,
        term: &str,
        limit: usize,
        list_tags: bool,
        credentials: Option<crate::images::Credentials>,
    ) -> Result<Vec<crate::images::search::SearchResult>> {
        crate::images::search::search(
            &self.opts.registries,
            term,
            limit,
            list_tags,
            credentials.as_ref(),
        )
        .await
    }

    async fn image_changes(&self, name_or_id: &str) -> Result<Vec<crate::images::diff::Change>> {
        let img = self.lookup_image(name_or_id).await?;
        let Some((top, below)) = img.layers.split_last() else {
            return Ok(Vec::new());
        };
        let upper = self.images.layer_diff(&top.chain_id);
        self.diff_over_layers(upper, below).await
    }

    async fn tag(&self, name_or_id: &str, new_name: &str) -> Result<()> {
        let id = self.image_id(name_or_id).await?;
        let (id2, n) = (id.clone(), new_name.to_string());
        let t = self
            .db
            .write(move |tx| image_store::tag(tx, &id2, &n))
            .await?;
        self.emit_image("tag", &id, &t);
        Ok(())
    }

    async fn untag(&self, name_or_id: &str, name: Option<&str>) -> Result<Vec<String>> {
        let id = self.image_id(name_or_id).await?;
        let (id2, n) = (id.clone(), name.map(String::from));
        let gone = self
            .db
            .write(move |tx| image_store::untag(tx, &id2, n.as_deref()))
            .await?;
        for g in &gone {
            self.emit_image("untag", &id, g);
        }
        Ok(gone)
    }

    async fn remove_image(&self, name_or_id: &str, force: bool) -> Result<RemoveReport> {
        let id = self.image_id(name_or_id).await?;
        let rec = self.lookup_image(&id).await?;
        let mut report = RemoveReport::default();
        // Removing by one of several names only untags, like Docker and Podman.
        let by_name = !id.starts_with(name_or_id.trim_start_matches("sha256:"));
        if by_name && rec.names.len() > 1 && !force {
            let gone = self.untag(&id, Some(name_or_id)).await?;
            report.untagged = gone;
            return Ok(report);
        }
        let in_use: i64 = {
            let id = id.clone();
            self.db
                .read(move |c| {
                    Ok(c.query_row(
                        "SELECT COUNT(*) FROM containers WHERE json_extract(config, '$.image_id') = ?1",
                        [id],
                        |r| r.get(0),
                    )?)
                })
                .await?
        };
        if in_use > 0 && !force {
            return Err(Error::InvalidState(format!(
                "image used by {in_use} container(s): image is in use by a container: consider listing external containers and force-removing image"
            )));
        }
        let id2 = id.clone();
        let layers = self
            .db
            .write(move |tx| image_store::delete_image(tx, &id2))
            .await?;
        let store = self.images.clone();
        let _ = tokio::task::spawn_blocking(move || store.remove_layers(&layers)).await;
        for n in &rec.names {
            self.emit_image("untag", &id, n);
        }
        self.emit_image(
            "remove",
            &id,
            rec.names.first().map(String::as_str).unwrap_or(""),
        );
        report.untagged = rec.names.clone();
        report.deleted = vec![id];
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("10MB"), Some(10 << 20));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("x"), None);
    }

    fn opts(dir: &Path) -> RuntimeOptions {
        RuntimeOptions {
            root: dir.join("root"),
            runroot: dir.join("run"),
            conf: ContainersConf::default(),
            registries: RegistriesConf::default(),
            service_uri: None,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_root_is_locked_by_one_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(opts(dir.path())).await.unwrap();
        let second = Runtime::open(opts(dir.path())).await;
        assert!(second.is_err());
        drop(rt);
        // The background probe may still hold a clone briefly.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unknown_objects_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(opts(dir.path())).await.unwrap();
        let e = ContainerEngine::lookup(&*rt, "nonesuch").await.unwrap_err();
        assert!(matches!(e, Error::NoSuchContainer(_)));
        let e = crate::pods::PodEngine::lookup(&*rt, "nonesuch")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NoSuchPod(_)));
        assert!(ContainerEngine::list(
            &*rt,
            ListOptions {
                all: true,
                limit: 0
            }
        )
        .await
        .unwrap()
        .is_empty());
        let info = rt.info().await.unwrap();
        assert_eq!(info.containers.total, 0);
        assert!(!crate::images::ImageEngine::exists(&*rt, "busybox")
            .await
            .unwrap());
        // The default network always exists (it comes from containers.conf); others do not.
        assert!(crate::networks::NetworkEngine::exists(&*rt, "podman")
            .await
            .unwrap());
        assert!(!crate::networks::NetworkEngine::exists(&*rt, "nonesuch")
            .await
            .unwrap());
        assert!(!crate::volumes::VolumeEngine::exists(&*rt, "v")
            .await
            .unwrap());
        assert!(!crate::secrets::SecretEngine::exists(&*rt, "s")
            .await
            .unwrap());
        assert!(info.mem_total > 0);
    }
}
