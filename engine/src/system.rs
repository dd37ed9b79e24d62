//! Host and engine facts for `info`/`version`, and the system-wide trait.
//!
//! Slow facts (the OCI runtime's and conmon's versions and Debian packages) are gathered
//! once, in the background, when the runtime opens; everything else is read from `/proc`,
//! `/sys` and `statvfs` on each call, which is cheap.

use std::path::{Path, PathBuf};
use std::process::Command;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::error::Result;
use crate::events::{Event, EventFilter};
use crate::registries::Registry;

/// The Podman version whose API podapid serves.
pub const PODMAN_VERSION: &str = "4.9.5";
/// The `Server` header of every routed answer.
pub const SERVER_HEADER: &str = "Libpod/4.9.5 (linux)";
/// The minimum libpod API version clients may use.
pub const LIBPOD_MIN_API: &str = "4.0.0";
/// The Docker API version served on the compat tree.
pub const COMPAT_API_VERSION: &str = "1.41";
/// The oldest Docker API version accepted.
pub const COMPAT_MIN_API: &str = "1.24";
/// The Buildah version Podman 4.9.5 reports.
pub const BUILDAH_VERSION: &str = "1.33.7";
/// podapid's own version.
pub const PODAPID_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A helper binary found on the host, with what it says of itself.
#[derive(Debug, Clone, Default)]
pub struct ToolInfo {
    pub name: String,
    pub path: String,
    pub version: String,
    pub package: String,
}

/// The Linux distribution, from os-release.
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    pub id: String,
    pub version: String,
    pub codename: String,
}

/// Counts of containers by state.
#[derive(Debug, Clone, Default)]
pub struct ContainerCounts {
    pub total: i64,
    pub running: i64,
    pub paused: i64,
    pub stopped: i64,
}

/// Everything `info` reports.
#[derive(Debug, Clone, Default)]
pub struct HostInfo {
    pub arch: String,
    pub os: String,
    pub hostname: String,
    pub kernel: String,
    pub cpus: usize,
    pub mem_total: u64,
    pub mem_free: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub uptime_secs: f64,
    pub distribution: Distribution,
    pub cgroup_version: String,
    pub cgroup_controllers: Vec<String>,
    pub cgroup_manager: String,
    pub oci_runtime: ToolInfo,
    pub runtimes: Vec<(String, String)>,
    pub conmon: ToolInfo,
    pub event_logger: String,
    pub log_driver: String,
    pub network_backend: String,
    pub seccomp_profile: String,
    pub seccomp_enabled: bool,
    pub apparmor_enabled: bool,
    pub capabilities: Vec<String>,
    pub graph_root: PathBuf,
    pub run_root: PathBuf,
    pub volume_path: PathBuf,
    pub graph_driver: String,
    pub graph_root_allocated: u64,
    pub graph_root_used: u64,
    pub backing_fs: String,
    pub config_files: Vec<PathBuf>,
    pub images: i64,
    pub containers: ContainerCounts,
    pub pods: i64,
    pub registries: Vec<Registry>,
    pub search_registries: Vec<String>,
    pub remote_socket: Option<String>,
    pub ipv4_forwarding: bool,
    pub fd_count: usize,
    pub threads: usize,
}

/// The engine-wide operations: info, events.
#[async_trait]
pub trait SystemEngine: Send + Sync {
    /// Host and engine facts.
    async fn info(&self) -> Result<HostInfo>;
    /// Past events that pass the filter.
    async fn events(&self, filter: EventFilter) -> Result<Vec<Event>>;
    /// Events from now on.
    fn subscribe_events(&self) -> broadcast::Receiver<Event>;
    /// Disk usage of images, containers and volumes (`system df`).
    async fn disk_usage(&self) -> Result<crate::df::DiskUsage>;
    /// Removes what nothing uses (`system prune`).
    async fn prune(&self, opts: crate::df::PruneOptions) -> Result<crate::df::PruneReport>;
    /// Checks credentials against a registry (`/auth`).
    async fn login(&self, server: &str, username: &str, password: &str) -> Result<()>;
    /// The engine's numbers for operators (objects by state, events, conmons, DB latency).
    async fn metrics(&self) -> Result<crate::metrics::EngineMetrics>;
}

/// Runs `bin --version` and returns its output trimmed, or "" when it fails.
pub fn tool_version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The Debian package owning `path`, formatted like Podman (`name_version_arch`).
pub fn package_of(path: &Path) -> String {
    let owner = Command::new("dpkg")
        .arg("-S")
        .arg(path)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let s = String::from_utf8_lossy(&o.stdout).to_string();
            s.split(':').next().map(|p| p.trim().to_string())
        });
    let Some(pkg) = owner else {
        return "Unknown".into();
    };
    Command::new("dpkg-query")
        .args(["-f", "${Package}_${Version}_${Architecture}", "-W", &pkg])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "Unknown".into())
}

/// Describes a helper binary (version and package), for the slow one-time probe.
pub fn describe_tool(name: &str, path: Option<PathBuf>) -> ToolInfo {
    match path {
        Some(p) => ToolInfo {
            name: name.to_string(),
            // conmon prints two lines; Podman shows them joined.
            version: if name == "conmon" {
                tool_version(&p).lines().collect::<Vec<_>>().join(", ")
            } else {
                tool_version(&p)
            },
            package: package_of(&p),
            path: p.display().to_string(),
        },
        None => ToolInfo {
            name: name.to_string(),
            ..Default::default()
        },
    }
}

/// Reads `/etc/os-release`.
pub fn distribution() -> Distribution {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let mut d = Distribution::default();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim_matches('"').to_string();
            match k {
                "ID" => d.id = v,
                "VERSION_ID" => d.version = v,
                "VERSION_CODENAME" => d.codename = v,
                _ => {}
            }
        }
    }
    d
}

/// `(version, controllers)`: "v2" when `/sys/fs/cgroup` is a unified hierarchy, else "v1"
/// with the mounted v1 controllers.
pub fn cgroups() -> (String, Vec<String>) {
    if let Ok(c) = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
        return (
            "v2".into(),
            c.split_whitespace().map(String::from).collect(),
        );
    }
    let order = [
        "cpuset",
        "cpu",
        "cpuacct",
        "blkio",
        "memory",
        "devices",
        "freezer",
        "net_cls",
        "perf_event",
        "net_prio",
        "hugetlb",
        "pids",
        "rdma",
        "misc",
    ];
    let controllers = order
        .iter()
        .filter(|c| {
            // Podman lists the controllers usable for containers; `net_cls` & co are left out.
            matches!(
                **c,
                "cpuset" | "cpu" | "cpuacct" | "blkio" | "memory" | "devices" | "freezer" | "pids"
            ) && Path::new("/sys/fs/cgroup").join(c).exists()
        })
        .map(|c| c.to_string())
        .collect();
    ("v1".into(), controllers)
}

/// `(total, free, swap_total, swap_free)` in bytes from `/proc/meminfo`.
pub fn memory() -> (u64, u64, u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let get = |key: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (
        get("MemTotal"),
        get("MemFree"),
        get("SwapTotal"),
        get("SwapFree"),
    )
}

/// Seconds since boot.
pub fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// `(allocated, used)` bytes of the filesystem holding `path`.
pub fn fs_usage(path: &Path) -> (u64, u64) {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => {
            let frag = s.fragment_size();
            let total = s.blocks() * frag;
            let free = s.blocks_free() * frag;
            (total, total.saturating_sub(free))
        }
        Err(_) => (0, 0),
    }
}

/// The name of the filesystem type holding `path`, as Podman's `Backing Filesystem` shows it.
pub fn backing_fs(path: &Path) -> String {
    match nix::sys::statfs::statfs(path) {
        Ok(s) => {
            #[allow(clippy::unnecessary_cast)] // the field type differs between libc targets
            let t = s.filesystem_type().0 as i64;
            match t {
                0xEF53 => "extfs".into(),
                0x58465342 => "xfs".into(),
                0x9123683E => "btrfs".into(),
                0x01021994 => "tmpfs".into(),
                0x794c7630 => "overlayfs".into(),
                other => format!("<unknown {other:#x}>"),
            }
        }
        Err(_) => "<unknown>".into(),
    }
}

/// Number of open file descriptors and threads of this process.
pub fn process_counts() -> (usize, usize) {
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);
    (fds, threads)
}

/// The machine's architecture in Go's spelling (`amd64`, `arm64`...).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Formats seconds like Podman's uptime (`0h 3m 0.00s`).
pub fn format_uptime(secs: f64) -> String {
    let h = (secs / 3600.0).floor();
    let m = ((secs - h * 3600.0) / 60.0).floor();
    let s = secs - h * 3600.0 - m * 60.0;
    format!("{h}h {m}m {s:.2}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_format_matches_podman() {
        assert_eq!(format_uptime(180.0), "0h 3m 0.00s");
        assert_eq!(format_uptime(3725.5), "1h 2m 5.50s");
    }

    #[test]
    fn host_facts_are_plausible() {
        let (total, free, _, _) = memory();
        assert!(total > 0 && free <= total);
        let (v, _) = cgroups();
        assert!(v == "v1" || v == "v2");
        assert!(uptime() > 0.0);
        let (alloc, used) = fs_usage(Path::new("/"));
        assert!(alloc >= used);
    }
}
