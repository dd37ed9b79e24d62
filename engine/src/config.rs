//! containers.conf: which files are read, in which order, and the keys podapid honours.
//!
//! Files are merged key by key like containers/common does: the vendor file
//! `/usr/share/containers/containers.conf`, then `/etc/containers/containers.conf`, then the
//! drop-ins of `/etc/containers/containers.conf.d/*.conf` in name order. `CONTAINERS_CONF`
//! replaces that whole list with one file; `CONTAINERS_CONF_OVERRIDE` is read last on top.
//! This module knows nothing of the runtime; it only produces [`ContainersConf`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The `[containers]` table (the keys podapid uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct ContainersSection {
    pub default_ulimits: Vec<String>,
    pub default_capabilities: Vec<String>,
    pub default_sysctls: Vec<String>,
    pub env: Vec<String>,
    pub init_path: String,
    pub log_driver: String,
    pub log_size_max: i64,
    pub pids_limit: i64,
    pub shm_size: String,
    pub tz: String,
    pub umask: String,
    pub no_hosts: bool,
    pub base_hosts_file: String,
    pub dns_servers: Vec<String>,
    pub dns_searches: Vec<String>,
    pub dns_options: Vec<String>,
    pub seccomp_profile: String,
    /// Default network mode (`bridge`, `host`, `none`, `private`).
    pub netns: String,
}

impl Default for ContainersSection {
    fn default() -> Self {
        Self {
            default_ulimits: Vec::new(),
            // Podman 4.9's default capability set.
            default_capabilities: [
                "CHOWN",
                "DAC_OVERRIDE",
                "FOWNER",
                "FSETID",
                "KILL",
                "NET_BIND_SERVICE",
                "SETFCAP",
                "SETGID",
                "SETPCAP",
                "SETUID",
                "SYS_CHROOT",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            default_sysctls: vec!["net.ipv4.ping_group_range=0 0".into()],
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            init_path: "/usr/bin/catatonit".into(),
            log_driver: "k8s-file".into(),
            log_size_max: -1,
            pids_limit: 2048,
            shm_size: "65536k".into(),
            tz: String::new(),
            umask: "0022".into(),
            no_hosts: false,
            base_hosts_file: String::new(),
            dns_servers: Vec::new(),
            dns_searches: Vec::new(),
            dns_options: Vec::new(),
            seccomp_profile: "/usr/share/containers/seccomp.json".into(),
            netns: String::new(),
        }
    }
}

/// The `[engine]` table (the keys podapid uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct EngineSection {
    pub runtime: String,
    pub runtimes: BTreeMap<String, Vec<String>>,
    pub cgroup_manager: String,
    pub conmon_path: Vec<String>,
    pub events_logger: String,
    pub events_logfile_path: String,
    pub events_logfile_max_size: String,
    pub infra_image: String,
    pub infra_command: String,
    pub stop_timeout: u64,
    pub exit_command_delay: u64,
    pub image_default_transport: String,
    pub compat_api_enforce_docker_hub: bool,
    pub num_locks: u32,
    pub network_cmd_path: String,
    pub helper_binaries_dir: Vec<String>,
}

impl Default for EngineSection {
    fn default() -> Self {
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            "runc".to_string(),
            vec![
                "/usr/sbin/runc".into(),
                "/usr/bin/runc".into(),
                "/usr/local/bin/runc".into(),
                "/usr/local/sbin/runc".into(),
                "/sbin/runc".into(),
                "/bin/runc".into(),
            ],
        );
        runtimes.insert(
            "crun".to_string(),
            vec![
                "/usr/bin/crun".into(),
                "/usr/sbin/crun".into(),
                "/usr/local/bin/crun".into(),
                "/usr/local/sbin/crun".into(),
                "/sbin/crun".into(),
                "/bin/crun".into(),
            ],
        );
        Self {
            // crun refuses hybrid cgroup hosts; runc works everywhere we run.
            runtime: "runc".into(),
            runtimes,
            cgroup_manager: "cgroupfs".into(),
            conmon_path: vec![
                "/usr/libexec/podman/conmon".into(),
                "/usr/local/libexec/podman/conmon".into(),
                "/usr/bin/conmon".into(),
                "/usr/sbin/conmon".into(),
                "/usr/local/bin/conmon".into(),
            ],
            events_logger: "file".into(),
            events_logfile_path: String::new(),
            events_logfile_max_size: "1m".into(),
            infra_image: String::new(),
            infra_command: "/catatonit".into(),
            stop_timeout: 10,
            exit_command_delay: 300,
            image_default_transport: "docker://".into(),
            compat_api_enforce_docker_hub: true,
            num_locks: 2048,
            network_cmd_path: String::new(),
            helper_binaries_dir: vec![
                "/usr/local/libexec/podman".into(),
                "/usr/local/lib/podman".into(),
                "/usr/libexec/podman".into(),
                "/usr/lib/podman".into(),
            ],
        }
    }
}

/// The `[network]` table (the keys podapid uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct NetworkSection {
    pub network_backend: String,
    pub default_network: String,
    pub default_subnet: String,
    pub default_subnet_pools: Vec<SubnetPool>,
    pub network_config_dir: String,
    pub dns_bind_port: u16,
}

/// One entry of `default_subnet_pools`.
#[derive(Debug, Clone, Deserialize)]
pub struct SubnetPool {
    pub base: String,
    pub size: u8,
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            network_backend: "netavark".into(),
            default_network: "podman".into(),
            default_subnet: "10.88.0.0/16".into(),
            default_subnet_pools: Vec::new(),
            network_config_dir: String::new(),
            dns_bind_port: 53,
        }
    }
}

/// Everything podapid reads from containers.conf.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContainersConf {
    pub containers: ContainersSection,
    pub engine: EngineSection,
    pub network: NetworkSection,
    /// The files that were read, in order (reported in logs and `info`).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
}

const VENDOR_FILE: &str = "/usr/share/containers/containers.conf";
const SYSTEM_FILE: &str = "/etc/containers/containers.conf";
const SYSTEM_DROPIN_DIR: &str = "/etc/containers/containers.conf.d";

impl ContainersConf {
    /// Reads the files Podman reads, honouring `CONTAINERS_CONF` and `CONTAINERS_CONF_OVERRIDE`.
    pub fn load_default() -> Result<Self> {
        Self::load_default_with(&[])
    }

    /// [`Self::load_default`] with `extra` files read last (a daemon embedding the engine
    /// gives each instance its own settings, e.g. its own default network).
    pub fn load_default_with(extra: &[PathBuf]) -> Result<Self> {
        let files = match std::env::var_os("CONTAINERS_CONF") {
            Some(p) if !p.is_empty() => vec![PathBuf::from(p)],
            _ => {
                let mut v = vec![PathBuf::from(VENDOR_FILE), PathBuf::from(SYSTEM_FILE)];
                v.extend(dropins(Path::new(SYSTEM_DROPIN_DIR)));
                v
            }
        };
        let mut files = files;
        if let Some(p) = std::env::var_os("CONTAINERS_CONF_OVERRIDE") {
            if !p.is_empty() {
                files.push(PathBuf::from(p));
            }
        }
        files.extend(extra.iter().cloned());
        Self::load_files(&files)
    }

    /// Merges the given files in order; missing files are skipped.
    pub fn load_files(files: &[PathBuf]) -> Result<Self> {
        let mut merged = toml::Table::new();
        let mut read = Vec::new();
        for f in files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("reading {}", f.display()), e)),
            };
            let table: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
                path: f.clone(),
                msg: e.to_string(),
            })?;
            merge_tables(&mut merged, table);
            read.push(f.clone());
        }
        let mut conf: ContainersConf =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| Error::Config {
                    path: read.last().cloned().unwrap_or_default(),
                    msg: e.to_string(),
                })?;
        conf.files = read;
        Ok(conf)
    }

    /// The configured OCI runtime's name.
    pub fn runtime_name(&self) -> &str {
        &self.engine.runtime
    }

    /// Finds the runtime binary: an absolute `runtime` is taken as is, a name is looked up
    /// in `[engine.runtimes]`, then in `PATH`.
    pub fn runtime_path(&self) -> Option<PathBuf> {
        let name = &self.engine.runtime;
        if name.starts_with('/') {
            return Some(PathBuf::from(name));
        }
        if let Some(paths) = self.engine.runtimes.get(name) {
            if let Some(p) = paths.iter().map(PathBuf::from).find(|p| p.exists()) {
                return Some(p);
            }
        }
        find_in_path(name)
    }

    /// Finds conmon: `conmon_path` entries first, then `PATH`.
    pub fn conmon_path(&self) -> Option<PathBuf> {
        self.engine
            .conmon_path
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .or_else(|| find_in_path("conmon"))
    }

    /// The container init binary (`--init`): `init_path`, else catatonit from the helpers.
    pub fn init_path(&self) -> Option<PathBuf> {
        Some(PathBuf::from(&self.containers.init_path))
            .filter(|p| !self.containers.init_path.is_empty() && p.exists())
            .or_else(|| self.helper_binary("catatonit"))
    }

    /// Finds a helper binary (netavark, aardvark-dns, catatonit...) in `helper_binaries_dir`.
    pub fn helper_binary(&self, name: &str) -> Option<PathBuf> {
        self.engine
            .helper_binaries_dir
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .or_else(|| find_in_path(name))
    }
}

/// `*.conf` files of a drop-in directory, sorted by name.
pub fn dropins(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Deep merge: tables merge recursively, any other value is replaced by the later file's.
fn merge_tables(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge_tables(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Looks a command up in `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_override_earlier_keys_and_keep_others() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.conf");
        let b = dir.path().join("b.conf");
        std::fs::write(
            &a,
            "[engine]\nruntime = \"crun\"\nevents_logger = \"journald\"\n[network]\ndefault_subnet = \"10.99.0.0/16\"\n",
        )
        .unwrap();
        std::fs::write(&b, "[engine]\nruntime = \"runc\"\n").unwrap();
        let c = ContainersConf::load_files(&[a, dir.path().join("missing.conf"), b]).unwrap();
        assert_eq!(c.engine.runtime, "runc");
        assert_eq!(c.engine.events_logger, "journald");
        assert_eq!(c.network.default_subnet, "10.99.0.0/16");
        assert_eq!(c.network.default_network, "podman");
        assert_eq!(c.files.len(), 2);
    }

    #[test]
    fn bad_toml_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("bad.conf");
        std::fs::write(&a, "[engine\n").unwrap();
        let err = ContainersConf::load_files(std::slice::from_ref(&a)).unwrap_err();
        assert!(err.to_string().contains("bad.conf"), "{err}");
    }

    #[test]
    fn dropins_are_sorted_conf_only() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["20-b.conf", "10-a.conf", "readme.txt"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let names: Vec<_> = dropins(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["10-a.conf", "20-b.conf"]);
    }
}
