//! Resource statistics of a running container, read straight from the cgroup filesystem and
//! `/proc`: CPU, memory, pids and block I/O from the container's cgroup (v1 or v2), network
//! counters from `/proc/<pid>/net/dev`, and the host-wide figures (`/proc/stat`, `/proc/meminfo`,
//! online CPUs) that clients need to turn the raw counters into percentages.
//!
//! Reading is forgiving: a file that is missing or unreadable (the container may be exiting,
//! a controller may not be mounted) yields zero, and only a cgroup that does not exist at all is
//! an error. Nothing here writes to the cgroup filesystem.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// Where the cgroup filesystem is mounted on a normal host.
pub const DEFAULT_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// `USER_HZ`: the unit of `cpuacct.stat` and `/proc/stat`; 100 on every Linux ABI we run on.
const CLK_TCK: u64 = 100;
/// Nanoseconds in one `USER_HZ` tick.
const NS_PER_TICK: u64 = 1_000_000_000 / CLK_TCK;
/// cgroup v1 reports "no limit" as a huge page-aligned number; anything at or above this is
/// treated as unlimited.
const V1_UNLIMITED: u64 = 1 << 62;

/// Which cgroup hierarchy layout the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CgroupVersion {
    /// One hierarchy per controller (`/sys/fs/cgroup/<controller>/...`), possibly with a
    /// controller-less v2 tree at `/sys/fs/cgroup/unified` (hybrid mode).
    V1,
    /// The single unified hierarchy (`/sys/fs/cgroup/cgroup.controllers` exists).
    V2,
}

/// Detects the cgroup layout mounted at `root`: v2 when `<root>/cgroup.controllers` exists.
pub fn cgroup_version(root: &Path) -> CgroupVersion {
    if root.join("cgroup.controllers").exists() {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    }
}

/// CPU throttling counters (CFS bandwidth control).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CpuThrottling {
    /// Enforcement periods that have elapsed.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Total time the cgroup was throttled, in nanoseconds.
    pub throttled_time_ns: u64,
}

/// One block I/O counter of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// Operation: `Read`, `Write` (and on v1 also `Sync`, `Async`, `Discard`, `Total`).
    pub op: String,
    /// Bytes transferred.
    pub value: u64,
}

/// A snapshot of one cgroup's counters plus the host figures needed to interpret them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CgroupStats {
    /// Total CPU time consumed, in nanoseconds.
    pub cpu_total_ns: u64,
    /// CPU time spent in user mode, in nanoseconds.
    pub cpu_user_ns: u64,
    /// CPU time spent in kernel mode, in nanoseconds.
    pub cpu_system_ns: u64,
    /// CPU time per CPU, in nanoseconds (cgroup v1 only; empty on v2).
    pub percpu_ns: Vec<u64>,
    /// CFS throttling counters.
    pub throttling: CpuThrottling,
    /// Current memory usage in bytes.
    pub memory_usage: u64,
    /// Peak memory usage in bytes (0 when the kernel does not track it).
    pub memory_max_usage: u64,
    /// Memory limit in bytes; the host's total memory when the cgroup is unlimited.
    pub memory_limit: u64,
    /// The contents of `memory.stat`.
    pub memory_stats: BTreeMap<String, u64>,
    /// Number of tasks in the cgroup.
    pub pids_current: u64,
    /// Task limit; 0 means unlimited.
    pub pids_limit: u64,
    /// Block I/O bytes per device and operation.
    pub blkio: Vec<BlkioEntry>,
    /// Host-wide CPU time from `/proc/stat`, in nanoseconds.
    pub system_cpu_ns: u64,
    /// Number of online CPUs on the host.
    pub online_cpus: u32,
}

/// Network counters of one interface, as in `/proc/<pid>/net/dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetDevStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Outgoing packets dropped.
    pub tx_dropped: u64,
}

/// Access to a cgroup filesystem: the host's, or a fake tree in tests.
#[derive(Debug, Clone)]
pub struct Cgroups {
    root: PathBuf,
    version: CgroupVersion,
}

impl Cgroups {
    /// The host's cgroup filesystem at `/sys/fs/cgroup`.
    pub fn host() -> Self {
        Self::at(DEFAULT_CGROUP_ROOT)
    }

    /// The cgroup filesystem mounted (or faked) at `root`; the version is detected from it.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let version = cgroup_version(&root);
        Cgroups { root, version }
    }

    /// The mount point this reads from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The detected hierarchy layout.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// Whether the cgroup `cgroup_path` (e.g. `/libpod_parent/libpod-<id>`) exists.
    pub fn exists(&self, cgroup_path: &str) -> bool {
        let rel = relative(cgroup_path);
        match self.version {
            CgroupVersion::V2 => self.root.join(&rel).is_dir(),
            CgroupVersion::V1 => ["cpuacct", "memory", "pids"]
                .iter()
                .any(|c| self.v1_dir(c, &rel).is_dir()),
        }
    }

    /// Reads the counters of the cgroup `cgroup_path` (e.g. `/libpod_parent/libpod-<id>`).
    ///
    /// Missing files read as zero; a cgroup that does not exist at all is
    /// [`Error::InvalidState`].
    pub fn read(&self, cgroup_path: &str) -> Result<CgroupStats> {
        if !self.exists(cgroup_path) {
            return Err(Error::InvalidState(
                "container has no cgroup (is it running?)".into(),
            ));
        }
        let rel = relative(cgroup_path);
        let mut stats = match self.version {
            CgroupVersion::V1 => self.read_v1(&rel),
            CgroupVersion::V2 => self.read_v2(&rel),
        };
        stats.system_cpu_ns = host_system_cpu_ns();
        stats.online_cpus = online_cpus();
        Ok(stats)
    }

    /// The PIDs (in the host's namespace) of the processes in the cgroup `cgroup_path`; empty
    /// when the cgroup does not exist.
    pub fn cgroup_procs(&self, cgroup_path: &str) -> Vec<i32> {
        let rel = relative(cgroup_path);
        let candidates: Vec<PathBuf> = match self.version {
            CgroupVersion::V2 => vec![self.root.join(&rel)],
            CgroupVersion::V1 => ["pids", "memory", "systemd", "cpu"]
                .iter()
                .map(|c| self.v1_dir(c, &rel))
                .collect(),
        };
        candidates
            .iter()
            .find_map(|dir| read_text(&dir.join("cgroup.procs")))
            .map(|text| {
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The directory of `rel` in the v1 hierarchy of `controller`. Controllers co-mounted as
    /// `cpu,cpuacct` without the usual per-controller symlinks are found by scanning the root.
    fn v1_dir(&self, controller: &str, rel: &Path) -> PathBuf {
        let direct = self.root.join(controller);
        if direct.exists() {
            return direct.join(rel);
        }
        let comounted = fs::read_dir(&self.root).ok().and_then(|entries| {
            entries.flatten().map(|e| e.file_name()).find(|name| {
                name.to_str()
                    .is_some_and(|n| n.split(',').any(|part| part == controller))
            })
        });
        match comounted {
            Some(name) => self.root.join(name).join(rel),
            None => direct.join(rel),
        }
    }

    fn read_v1(&self, rel: &Path) -> CgroupStats {
        let cpuacct = self.v1_dir("cpuacct", rel);
        let cpu = self.v1_dir("cpu", rel);
        let memory = self.v1_dir("memory", rel);
        let pids = self.v1_dir("pids", rel);
        let blkio = self.v1_dir("blkio", rel);

        let mut s = CgroupStats {
            cpu_total_ns: read_u64(&cpuacct.join("cpuacct.usage")),
            percpu_ns: read_text(&cpuacct.join("cpuacct.usage_percpu"))
                .map(|t| {
                    t.split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect()
                })
                .unwrap_or_default(),
            ..CgroupStats::default()
        };

        let acct = read_flat_keyed(&cpuacct.join("cpuacct.stat"));
        s.cpu_user_ns = get(&acct, "user").saturating_mul(NS_PER_TICK);
        s.cpu_system_ns = get(&acct, "system").saturating_mul(NS_PER_TICK);

        let cs = read_flat_keyed(&cpu.join("cpu.stat"));
        s.throttling = CpuThrottling {
            periods: get(&cs, "nr_periods"),
            throttled_periods: get(&cs, "nr_throttled"),
            throttled_time_ns: get(&cs, "throttled_time"),
        };

        s.memory_usage = read_u64(&memory.join("memory.usage_in_bytes"));
        s.memory_max_usage = read_u64(&memory.join("memory.max_usage_in_bytes"));
        s.memory_limit = memory_limit_or_host(read_limit(&memory.join("memory.limit_in_bytes")));
        s.memory_stats = read_flat_keyed(&memory.join("memory.stat"));

        s.pids_current = read_u64(&pids.join("pids.current"));
        s.pids_limit = pids_limit(read_limit(&pids.join("pids.max")));

        s.blkio = read_text(&blkio.join("blkio.throttle.io_service_bytes_recursive"))
            .map(|t| parse_blkio_v1(&t))
            .filter(|v| !v.is_empty())
            .or_else(|| {
                read_text(&blkio.join("blkio.io_service_bytes_recursive"))
                    .map(|t| parse_blkio_v1(&t))
            })
            .unwrap_or_default();
        s
    }

    fn read_v2(&self, rel: &Path) -> CgroupStats {
        let dir = self.root.join(rel);
        let cs = read_flat_keyed(&dir.join("cpu.stat"));
        CgroupStats {
            cpu_total_ns: get(&cs, "usage_usec").saturating_mul(1000),
            cpu_user_ns: get(&cs, "user_usec").saturating_mul(1000),
            cpu_system_ns: get(&cs, "system_usec").saturating_mul(1000),
            throttling: CpuThrottling {
                periods: get(&cs, "nr_periods"),
                throttled_periods: get(&cs, "nr_throttled"),
                throttled_time_ns: get(&cs, "throttled_usec").saturating_mul(1000),
            },
            memory_usage: read_u64(&dir.join("memory.current")),
            memory_max_usage: read_u64(&dir.join("memory.peak")),
            memory_limit: memory_limit_or_host(read_limit(&dir.join("memory.max"))),
            memory_stats: read_flat_keyed(&dir.join("memory.stat")),
            pids_current: read_u64(&dir.join("pids.current")),
            pids_limit: pids_limit(read_limit(&dir.join("pids.max"))),
            blkio: read_text(&dir.join("io.stat"))
                .map(|t| parse_io_stat(&t))
                .unwrap_or_default(),
            ..CgroupStats::default()
        }
    }
}

/// The counters of every interface in the network namespace of process `pid`, keyed by
/// interface name (`lo` included; callers filter). Empty when the process is gone.
pub fn net_dev(pid: i32) -> BTreeMap<String, NetDevStats> {
    read_text(Path::new(&format!("/proc/{pid}/net/dev")))
        .map(|t| parse_net_dev(&t))
        .unwrap_or_default()
}

/// Parses the text of `/proc/<pid>/net/dev`: two header lines, then one line per interface,
/// `name: rx_bytes rx_packets rx_errs rx_drop fifo frame compressed multicast tx_bytes
/// tx_packets tx_errs tx_drop ...`.
pub fn parse_net_dev(text: &str) -> BTreeMap<String, NetDevStats> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let nums: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse::<u64>())
            .collect::<std::result::Result<_, _>>()
            .unwrap_or_default();
        if name.is_empty() || nums.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetDevStats {
                rx_bytes: nums[0],
                rx_packets: nums[1],
                rx_errors: nums[2],
                rx_dropped: nums[3],
                tx_bytes: nums[8],
                tx_packets: nums[9],
                tx_errors: nums[10],
                tx_dropped: nums[11],
            },
        );
    }
    out
}

/// Host-wide CPU time in nanoseconds from `/proc/stat`; 0 when unreadable.
pub fn host_system_cpu_ns() -> u64 {
    read_text(Path::new("/proc/stat"))
        .map(|t| parse_proc_stat(&t))
        .unwrap_or(0)
}

/// Parses the aggregate `cpu` line of `/proc/stat` into nanoseconds: the sum of the user,
/// nice, system, idle, iowait, irq and softirq tick counts times 1e9 / `USER_HZ`. (Steal is
/// left out, and guest time is already part of user time.)
pub fn parse_proc_stat(text: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next() == Some("cpu")).then(|| {
                fields
                    .take(7)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .fold(0u64, u64::saturating_add)
            })
        })
        .unwrap_or(0)
        .saturating_mul(NS_PER_TICK)
}

/// The host's total memory in bytes (`MemTotal` of `/proc/meminfo`); 0 when unreadable.
pub fn host_memory_total() -> u64 {
    read_text(Path::new("/proc/meminfo"))
        .map(|t| parse_meminfo_total(&t))
        .unwrap_or(0)
}

/// Parses `MemTotal:  <n> kB` out of `/proc/meminfo` text, in bytes.
pub fn parse_meminfo_total(text: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix("MemTotal:")?;
            let mut parts = rest.split_whitespace();
            let n: u64 = parts.next()?.parse().ok()?;
            Some(match parts.next() {
                Some("kB") => n.saturating_mul(1024),
                _ => n,
            })
        })
        .unwrap_or(0)
}

/// The number of online CPUs on the host, from `/sys/devices/system/cpu/online`, falling back
/// to what the standard library reports, then to 1.
pub fn online_cpus() -> u32 {
    read_text(Path::new("/sys/devices/system/cpu/online"))
        .map(|t| parse_cpu_list(&t))
        .filter(|&n| n > 0)
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok())
        })
        .unwrap_or(1)
}

/// Counts the CPUs in a kernel CPU list such as `0-3,5,7-8`.
pub fn parse_cpu_list(text: &str) -> u32 {
    text.trim()
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => u32::from(part.trim().parse::<u32>().is_ok()),
        })
        .sum()
}

/// Parses v1 `blkio.*io_service_bytes*` text: `maj:min Op value` lines; the trailing
/// device-less `Total n` line is skipped.
pub fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (major, minor) = parse_dev(f.next()?)?;
            let op = f.next()?.to_string();
            let value = f.next()?.parse().ok()?;
            Some(BlkioEntry {
                major,
                minor,
                op,
                value,
            })
        })
        .collect()
}

/// Parses v2 `io.stat` text (`maj:min rbytes=n wbytes=n rios=n ...`) into `Read` and `Write`
/// byte entries per device.
pub fn parse_io_stat(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(parse_dev) else {
            continue;
        };
        let kv: BTreeMap<&str, u64> = f
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                Some((k, v.parse().ok()?))
            })
            .collect();
        for (key, op) in [("rbytes", "Read"), ("wbytes", "Write")] {
            out.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: kv.get(key).copied().unwrap_or(0),
            });
        }
    }
    out
}

/// Parses a flat-keyed cgroup file (`key value` per line, e.g. `memory.stat`, `cpu.stat`);
/// lines that do not fit are skipped.
pub fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let key = f.next()?;
            let value = f.next()?.parse().ok()?;
            Some((key.to_string(), value))
        })
        .collect()
}

/// `cgroup_path` without its leading `/` (and without `.`/`..`), so it can be joined under a
/// hierarchy root.
fn relative(cgroup_path: &str) -> PathBuf {
    Path::new(cgroup_path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn parse_dev(dev: &str) -> Option<(u64, u64)> {
    let (major, minor) = dev.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn get(map: &BTreeMap<String, u64>, key: &str) -> u64 {
    map.get(key).copied().unwrap_or(0)
}

/// A file's text, or `None` when it is missing or unreadable (logged at debug level unless
/// simply absent).
fn read_text(path: &Path) -> Option<String> {
    match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "cannot read cgroup/proc file");
            None
        }
    }
}

fn read_u64(path: &Path) -> u64 {
    read_text(path)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn read_flat_keyed(path: &Path) -> BTreeMap<String, u64> {
    read_text(path)
        .map(|t| parse_flat_keyed(&t))
        .unwrap_or_default()
}

/// A limit file: `None` when missing or unparsable, `u64::MAX` for `max`.
fn read_limit(path: &Path) -> Option<u64> {
    let text = read_text(path)?;
    let text = text.trim();
    if text == "max" {
        Some(u64::MAX)
    } else {
        text.parse().ok()
    }
}

fn memory_limit_or_host(limit: Option<u64>) -> u64 {
    match limit {
        Some(v) if v > 0 && v < V1_UNLIMITED => v,
        _ => host_memory_total(),
    }
}

fn pids_limit(limit: Option<u64>) -> u64 {
    match limit {
        Some(v) if v < V1_UNLIMITED => v,
        _ => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CG: &str = "/libpod_parent/libpod-abc";

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn fake_v1(root: &Path, cpu_dir: &str, cpuacct_dir: &str) {
        let c = "libpod_parent/libpod-abc";
        write(
            root,
            &format!("{cpuacct_dir}/{c}/cpuacct.usage"),
            "5000000000\n",
        );
        write(
            root,
            &format!("{cpuacct_dir}/{c}/cpuacct.usage_percpu"),
            "3000000000 2000000000 \n",
        );
        write(
            root,
            &format!("{cpuacct_dir}/{c}/cpuacct.stat"),
            "user 300\nsystem 150\n",
        );
        write(
            root,
            &format!("{cpu_dir}/{c}/cpu.stat"),
            "nr_periods 10\nnr_throttled 2\nthrottled_time 123456\n",
        );
        write(
            root,
            &format!("memory/{c}/memory.usage_in_bytes"),
            "1048576\n",
        );
        write(
            root,
            &format!("memory/{c}/memory.max_usage_in_bytes"),
            "2097152\n",
        );
        write(
            root,
            &format!("memory/{c}/memory.limit_in_bytes"),
            "536870912\n",
        );
        write(
            root,
            &format!("memory/{c}/memory.stat"),
            "cache 4096\nrss 8192\ntotal_inactive_file 1024\n",
        );
        write(root, &format!("memory/{c}/cgroup.procs"), "42\n43\n");
        write(root, &format!("pids/{c}/pids.current"), "3\n");
        write(root, &format!("pids/{c}/pids.max"), "max\n");
        write(root, &format!("pids/{c}/cgroup.procs"), "42\n43\n44\n");
        write(
            root,
            &format!("blkio/{c}/blkio.throttle.io_service_bytes_recursive"),
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n",
        );
    }

    #[test]
    fn detects_version() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cgroup_version(dir.path()), CgroupVersion::V1);
        write(dir.path(), "cgroup.controllers", "cpu io memory pids\n");
        assert_eq!(cgroup_version(dir.path()), CgroupVersion::V2);
        assert_eq!(Cgroups::at(dir.path()).version(), CgroupVersion::V2);
    }

    #[test]
    fn reads_v1_tree() {
        let dir = tempfile::tempdir().unwrap();
        fake_v1(dir.path(), "cpu", "cpuacct");
        let cg = Cgroups::at(dir.path());
        assert_eq!(cg.version(), CgroupVersion::V1);
        assert!(cg.exists(CG));
        let s = cg.read(CG).unwrap();
        assert_eq!(s.cpu_total_ns, 5_000_000_000);
        assert_eq!(s.percpu_ns, vec![3_000_000_000, 2_000_000_000]);
        assert_eq!(s.cpu_user_ns, 3_000_000_000);
        assert_eq!(s.cpu_system_ns, 1_500_000_000);
        assert_eq!(
            s.throttling,
            CpuThrottling {
                periods: 10,
                throttled_periods: 2,
                throttled_time_ns: 123_456
            }
        );
        assert_eq!(s.memory_usage, 1_048_576);
        assert_eq!(s.memory_max_usage, 2_097_152);
        assert_eq!(s.memory_limit, 536_870_912);
        assert_eq!(s.memory_stats.get("rss"), Some(&8192));
        assert_eq!(s.memory_stats.len(), 3);
        assert_eq!(s.pids_current, 3);
        assert_eq!(s.pids_limit, 0);
        assert_eq!(s.blkio.len(), 6);
        assert_eq!(
            s.blkio[1],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 8192
            }
        );
        assert!(s.online_cpus >= 1);
        // pids hierarchy first.
        assert_eq!(cg.cgroup_procs(CG), vec![42, 43, 44]);
    }

    #[test]
    fn reads_v1_comounted_and_unlimited() {
        let dir = tempfile::tempdir().unwrap();
        fake_v1(dir.path(), "cpu,cpuacct", "cpu,cpuacct");
        write(
            dir.path(),
            "memory/libpod_parent/libpod-abc/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        write(
            dir.path(),
            "pids/libpod_parent/libpod-abc/pids.max",
            "512\n",
        );
        let s = Cgroups::at(dir.path()).read(CG).unwrap();
        assert_eq!(s.cpu_total_ns, 5_000_000_000);
        assert_eq!(s.throttling.periods, 10);
        assert_eq!(s.memory_limit, host_memory_total());
        assert_eq!(s.pids_limit, 512);
    }

    #[test]
    fn v1_missing_files_are_zero_and_missing_cgroup_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("memory/libpod_parent/libpod-abc")).unwrap();
        let cg = Cgroups::at(dir.path());
        let s = cg.read(CG).unwrap();
        assert_eq!(s.cpu_total_ns, 0);
        assert!(s.percpu_ns.is_empty());
        assert_eq!(s.memory_usage, 0);
        assert!(s.blkio.is_empty());
        assert!(cg.cgroup_procs(CG).is_empty());

        let err = cg.read("/libpod_parent/libpod-gone").unwrap_err();
        assert!(matches!(err, Error::InvalidState(_)));
        assert!(err.to_string().contains("no cgroup"));
    }

    #[test]
    fn reads_v2_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "cgroup.controllers", "cpuset cpu io memory pids\n");
        let c = "libpod_parent/libpod-abc";
        write(
            root,
            &format!("{c}/cpu.stat"),
            "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 7\nnr_throttled 1\nthrottled_usec 250\n",
        );
        write(root, &format!("{c}/memory.current"), "4194304\n");
        write(root, &format!("{c}/memory.peak"), "8388608\n");
        write(root, &format!("{c}/memory.max"), "max\n");
        write(root, &format!("{c}/memory.stat"), "anon 1000\nfile 2000\n");
        write(root, &format!("{c}/pids.current"), "2\n");
        write(root, &format!("{c}/pids.max"), "100\n");
        write(
            root,
            &format!("{c}/io.stat"),
            "8:0 rbytes=4096 wbytes=1024 rios=1 wios=1 dbytes=0 dios=0\n253:1 rbytes=10 wios=3\n",
        );
        write(root, &format!("{c}/cgroup.procs"), "100\n101\n");

        let cg = Cgroups::at(root);
        assert_eq!(cg.version(), CgroupVersion::V2);
        let s = cg.read(CG).unwrap();
        assert_eq!(s.cpu_total_ns, 2_500_000_000);
        assert_eq!(s.cpu_user_ns, 2_000_000_000);
        assert_eq!(s.cpu_system_ns, 500_000_000);
        assert!(s.percpu_ns.is_empty());
        assert_eq!(s.throttling.periods, 7);
        assert_eq!(s.throttling.throttled_periods, 1);
        assert_eq!(s.throttling.throttled_time_ns, 250_000);
        assert_eq!(s.memory_usage, 4_194_304);
        assert_eq!(s.memory_max_usage, 8_388_608);
        assert_eq!(s.memory_limit, host_memory_total());
        assert_eq!(s.memory_stats.get("file"), Some(&2000));
        assert_eq!(s.pids_current, 2);
        assert_eq!(s.pids_limit, 100);
        assert_eq!(s.blkio.len(), 4);
        assert_eq!(s.blkio[0].op, "Read");
        assert_eq!(s.blkio[0].value, 4096);
        assert_eq!(s.blkio[1].op, "Write");
        assert_eq!(s.blkio[1].value, 1024);
        assert_eq!((s.blkio[3].major, s.blkio[3].minor), (253, 1));
        assert_eq!(s.blkio[3].value, 0);
        assert_eq!(cg.cgroup_procs(CG), vec![100, 101]);

        assert!(matches!(
            cg.read("/libpod_parent/libpod-nope"),
            Err(Error::InvalidState(_))
        ));
    }

    #[test]
    fn relative_paths_stay_under_root() {
        assert_eq!(
            relative("/libpod_parent/libpod-abc"),
            PathBuf::from("libpod_parent/libpod-abc")
        );
        assert_eq!(relative("/../../etc"), PathBuf::from("etc"));
    }

    #[test]
    fn parses_proc_stat() {
        let text = "cpu  967605 0 241782 742085 21958 0 6359 2346 0 0\n\
                    cpu0 483802 0 120891 371042 10979 0 3179 1173 0 0\n\
                    intr 12345\n";
        let jiffies = 967_605 + 241_782 + 742_085 + 21_958 + 6_359;
        assert_eq!(parse_proc_stat(text), jiffies * 10_000_000);
        assert_eq!(parse_proc_stat("intr 1\n"), 0);
    }

    #[test]
    fn parses_net_dev() {
        let text = [
            "Inter-|   Receive                                                |  Transmit",
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
            "    lo:    1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0",
            "  eth0: 134733351    5499    1    2    0     0          0         0   314664    3171    3    4    0     0       0          0",
            "",
        ]
        .join("\n");
        let text = text.as_str();
        let m = parse_net_dev(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m["lo"].rx_bytes, 1234);
        assert_eq!(
            m["eth0"],
            NetDevStats {
                rx_bytes: 134_733_351,
                rx_packets: 5499,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 314_664,
                tx_packets: 3171,
                tx_errors: 3,
                tx_dropped: 4,
            }
        );
        // Old kernels glue the first number to the colon.
        let glued = parse_net_dev("eth1:100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n");
        assert_eq!(glued["eth1"].rx_bytes, 100);
        assert_eq!(glued["eth1"].tx_packets, 2);
    }

    #[test]
    fn net_dev_of_self_and_of_missing_process() {
        assert!(!net_dev(i32::try_from(std::process::id()).unwrap()).is_empty());
        assert!(net_dev(-1).is_empty());
    }

    #[test]
    fn parses_host_figures() {
        assert_eq!(
            parse_meminfo_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            16_384 * 1024
        );
        assert_eq!(parse_cpu_list("0-3,5,7-8\n"), 7);
        assert_eq!(parse_cpu_list("0\n"), 1);
        assert_eq!(parse_cpu_list(""), 0);
    }
}
