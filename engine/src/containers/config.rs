//! What a container was created with: the user's request in one engine shape that both
//! Docker's `ContainerConfig`/`HostConfig` and libpod's `SpecGenerator` are translated into by
//! the API crates. Stored as JSON in the container record (on-disk version 1; every field
//! defaults, so older records still load).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the container's network namespace is set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "mode", content = "value")]
pub enum NetMode {
    /// Own namespace with only loopback.
    None,
    /// The host's namespace.
    Host,
    /// Another container's namespace (name or ID as given).
    Container(String),
    /// A namespace file (`ns:/run/netns/x`).
    Path(String),
    /// Own namespace attached to networks through netavark (the default: `podman`).
    #[default]
    Bridge,
    /// Whatever containers.conf's `netns` says (resolved at create).
    Default,
}

impl NetMode {
    /// Docker's spelling for `HostConfig.NetworkMode`.
    pub fn docker_name(&self, first_network: Option<&str>) -> String {
        match self {
            NetMode::None => "none".into(),
            NetMode::Host => "host".into(),
            NetMode::Container(c) => format!("container:{c}"),
            NetMode::Path(p) => format!("ns:{p}"),
            NetMode::Default | NetMode::Bridge => match first_network {
                None | Some("podman") => "bridge".into(),
                Some(n) => n.into(),
            },
        }
    }
}

/// Per-network attachment options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NetAttach {
    pub aliases: Vec<String>,
    pub static_ips: Vec<String>,
    pub static_mac: Option<String>,
    pub interface_name: Option<String>,
}

/// A published port (`-p host_ip:host_port:container_port/proto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub range: u16,
    pub protocol: String,
}

/// The restart policy (`no`, `on-failure[:N]`, `always`, `unless-stopped`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RestartPolicy {
    pub name: String,
    pub max_retry: u32,
}

impl RestartPolicy {
    /// Checks the name.
    pub fn validate(&self) -> Result<()> {
        match self.name.as_str() {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => Ok(()),
            other => Err(Error::InvalidArg(format!(
                "invalid restart policy {other:?}: must be one of no, on-failure, always, unless-stopped"
            ))),
        }
    }

    /// Whether a container that exited with `code` (and was not stopped by the user) starts
    /// again, given how many restarts it already had.
    pub fn restarts(&self, code: i32, stopped_by_user: bool, count: u32) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => code != 0 && (self.max_retry == 0 || count < self.max_retry),
            _ => false,
        }
    }
}

/// A mount of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Mount {
    /// `bind`, `tmpfs` or `volume`.
    pub kind: String,
    /// Host path (bind) or volume name (volume; empty = anonymous).
    pub source: String,
    pub destination: String,
    pub options: Vec<String>,
    pub read_only: bool,
}

/// A secret mounted into the container as a file (libpod's `--secret`): the bytes of
/// secret `source` appear at `/run/secrets/<target>` (`target` defaults to the secret's
/// name; an absolute target is used as is), owned by `uid`:`gid` with `mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretRef {
    /// The secret's name (resolved at create time).
    pub source: String,
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl Default for SecretRef {
    fn default() -> Self {
        SecretRef {
            source: String::new(),
            target: String::new(),
            uid: 0,
            gid: 0,
            mode: 0o444,
        }
    }
}

/// A device made available to the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Device {
    pub path_on_host: String,
    pub path_in_container: String,
    pub permissions: String,
}

/// Cgroup resources (0 / None = not set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Resources {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub memory_swappiness: Option<i64>,
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpu_period: u64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub blkio_weight: u16,
    pub oom_kill_disable: bool,
}

impl Resources {
    /// `linux.resources` of the runtime spec.
    pub fn to_oci(&self) -> serde_json::Value {
        use serde_json::json;
        let mut r = json!({});
        let mut mem = json!({});
        if self.memory > 0 {
            mem["limit"] = json!(self.memory);
            // Docker: swap defaults to twice the memory when only memory is set.
            let swap = match self.memory_swap {
                0 => self.memory * 2,
                s => s,
            };
            mem["swap"] = json!(swap);
        } else if self.memory_swap != 0 {
            mem["swap"] = json!(self.memory_swap);
        }
        if self.memory_reservation > 0 {
            mem["reservation"] = json!(self.memory_reservation);
        }
        if let Some(s) = self.memory_swappiness.filter(|s| *s >= 0) {
            mem["swappiness"] = json!(s);
        }
        if self.oom_kill_disable {
            mem["disableOOMKiller"] = json!(true);
        }
        if mem.as_object().is_some_and(|m| !m.is_empty()) {
            r["memory"] = mem;
        }
        let mut cpu = json!({});
        if self.nano_cpus > 0 {
            cpu["period"] = json!(100_000);
            cpu["quota"] = json!(self.nano_cpus / 10_000);
        }
        if self.cpu_period > 0 {
            cpu["period"] = json!(self.cpu_period);
        }
        if self.cpu_quota > 0 {
            cpu["quota"] = json!(self.cpu_quota);
        }
        if self.cpu_shares > 0 {
            cpu["shares"] = json!(self.cpu_shares);
        }
        if !self.cpuset_cpus.is_empty() {
            cpu["cpus"] = json!(self.cpuset_cpus);
        }
        if !self.cpuset_mems.is_empty() {
            cpu["mems"] = json!(self.cpuset_mems);
        }
        if cpu.as_object().is_some_and(|m| !m.is_empty()) {
            r["cpu"] = cpu;
        }
        if let Some(p) = self.pids_limit.filter(|p| *p != 0) {
            r["pids"] = json!({"limit": p});
        }
        if self.blkio_weight > 0 {
            r["blockIO"] = json!({"weight": self.blkio_weight});
        }
        r
    }

    /// Checks the values as Docker does.
    pub fn validate(&self) -> Result<()> {
        if self.memory_swap > 0 && self.memory > 0 && self.memory_swap < self.memory {
            return Err(Error::InvalidArg(
                "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
            ));
        }
        if self.nano_cpus > 0 && (self.cpu_period > 0 || self.cpu_quota > 0) {
            return Err(Error::InvalidArg(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
            ));
        }
        if self.nano_cpus > 0 && self.nano_cpus / 10_000 < 1000 {
            return Err(Error::InvalidArg(
                "CPU cfs quota cannot be less than 1ms (i.e. 1000)".into(),
            ));
        }
        if self.blkio_weight > 0 && !(10..=1000).contains(&self.blkio_weight) {
            return Err(Error::InvalidArg(
                "Range of blkio weight is from 10 to 1000".into(),
            ));
        }
        Ok(())
    }
}

/// Everything a container is created with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    /// As given (`None` = from the image).
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub hostname: String,
    pub domainname: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub net: NetMode,
    /// Networks to join (bridge mode; empty = the default network).
    pub networks: BTreeMap<String, NetAttach>,
    pub ports: Vec<PortMapping>,
    pub publish_all: bool,
    /// Exposed ports: `80/tcp`.
    pub expose: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub auto_remove: bool,
    pub restart: RestartPolicy,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    pub init: bool,
    pub privileged: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub mounts: Vec<Mount>,
    /// Image `VOLUME`s and `-v /path` without a source become anonymous volumes.
    pub volumes: Vec<String>,
    pub shm_size: Option<u64>,
    pub sysctls: BTreeMap<String, String>,
    pub devices: Vec<Device>,
    pub resources: Resources,
    /// `nofile=1024:2048`.
    pub ulimits: Vec<String>,
    pub group_add: Vec<String>,
    pub healthcheck: Option<serde_json::Value>,
    pub log_driver: String,
    pub log_opts: BTreeMap<String, String>,
    pub pod: Option<String>,
    pub oom_score_adj: Option<i32>,
    /// Compat-created containers (Docker semantics on shared routes).
    pub compat: bool,
    /// The raw name the image was asked by (`busybox`).
    pub raw_image_name: String,
    /// Secrets mounted as files.
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    /// Environment variables set from secrets: variable name → secret name.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
    /// The infra container of its pod.
    pub is_infra: bool,
    /// Namespaces joined from another container (a pod's infra): `ipc`, `uts`, `pid`,
    /// `cgroup` → container ID.
    pub join_ns: BTreeMap<String, String>,
}

/// Parses a signal name or number (`SIGTERM`, `TERM`, `15`) into its number.
pub fn parse_signal(s: &str) -> Result<i32> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::InvalidArg(format!("invalid signal: {s}")));
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" | "CLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        n if n.starts_with("RTMIN") || n.starts_with("RTMAX") => {
            let (base, rest) = if let Some(r) = n.strip_prefix("RTMIN") {
                (34, r)
            } else {
                (64, &n[5..])
            };
            let off: i32 = if rest.is_empty() {
                0
            } else {
                rest.parse()
                    .map_err(|_| Error::InvalidArg(format!("invalid signal: {s}")))?
            };
            base + off
        }
        _ => return Err(Error::InvalidArg(format!("invalid signal: {s}"))),
    };
    Ok(n)
}

/// Parses Docker's `--restart` spelling (`on-failure:3`).
pub fn parse_restart(s: &str) -> Result<RestartPolicy> {
    let (name, n) = s.split_once(':').unwrap_or((s, ""));
    let max_retry = if n.is_empty() {
        0
    } else {
        n.parse()
            .map_err(|_| Error::InvalidArg(format!("invalid restart policy {s:?}")))?
    };
    let p = RestartPolicy {
        name: name.to_string(),
        max_retry,
    };
    p.validate()?;
    Ok(p)
}

/// The networking part of a libpod `SpecGenerator` (containers) or `PodSpecGenerator`
/// (pods: the infra container's): `netns`, `Networks`, `portmappings`, DNS and host
/// entries, applied to `c`.
pub fn apply_libpod_network(c: &mut ContainerConfig, sg: &serde_json::Value) -> Result<()> {
    use crate::json::field;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    c.dns = strings(field(sg, "dns_server"));
    c.dns_search = strings(field(sg, "dns_search"));
    c.dns_options = strings(field(sg, "dns_option"));
    c.extra_hosts = strings(field(sg, "hostadd"));
    for p in field(sg, "portmappings").as_array().into_iter().flatten() {
        c.ports.push(PortMapping {
            host_ip: s(&p["host_ip"]),
            host_port: p["host_port"].as_u64().unwrap_or(0) as u16,
            container_port: p["container_port"].as_u64().unwrap_or(0) as u16,
            range: p["range"].as_u64().unwrap_or(1).max(1) as u16,
            protocol: Some(s(&p["protocol"]))
                .filter(|x| !x.is_empty())
                .unwrap_or_else(|| "tcp".into()),
        });
    }
    let netns = field(sg, "netns");
    let (mode, value) = (s(field(netns, "nsmode")), s(field(netns, "value")));
    c.net = match mode.as_str() {
        "" | "default" => NetMode::Default,
        "bridge" | "private" => NetMode::Bridge,
        "host" => NetMode::Host,
        "none" | "noNetwork" => NetMode::None,
        "container" => NetMode::Container(value),
        "path" => NetMode::Path(value),
        "slirp4netns" | "pasta" => {
            return Err(Error::InvalidArg(format!(
                "network mode {mode} is not supported by podapid"
            )))
        }
        other => return Err(Error::InvalidArg(format!("invalid network mode {other:?}"))),
    };
    if let Some(nets) = field(sg, "Networks")
        .as_object()
        .or_else(|| field(sg, "networks").as_object())
    {
        for (name, o) in nets {
            let att = NetAttach {
                aliases: strings(&o["aliases"]),
                static_ips: strings(&o["static_ips"]),
                static_mac: Some(s(&o["static_mac"])).filter(|m| !m.is_empty()),
                interface_name: Some(s(&o["interface_name"])).filter(|m| !m.is_empty()),
            };
            c.networks.insert(name.clone(), att);
        }
        if c.net == NetMode::Default && !c.networks.is_empty() {
            c.net = NetMode::Bridge;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), 36);
        assert!(parse_signal("SIGBOGUS").is_err());
        assert!(parse_signal("0").is_err());
    }

    #[test]
    fn restart_policies() {
        let p = parse_restart("on-failure:2").unwrap();
        assert!(p.restarts(1, false, 0));
        assert!(p.restarts(1, false, 1));
        assert!(!p.restarts(1, false, 2));
        assert!(!p.restarts(0, false, 0));
        assert!(parse_restart("always").unwrap().restarts(0, false, 9));
        assert!(!parse_restart("always").unwrap().restarts(0, true, 0));
        assert!(parse_restart("sometimes").is_err());
    }

    #[test]
    fn resources_to_oci() {
        let r = Resources {
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            pids_limit: Some(42),
            ..Default::default()
        };
        let o = r.to_oci();
        assert_eq!(o["memory"]["limit"], 64 << 20);
        assert_eq!(o["memory"]["swap"], 128 << 20);
        assert_eq!(o["cpu"]["quota"], 150_000);
        assert_eq!(o["cpu"]["period"], 100_000);
        assert_eq!(o["pids"]["limit"], 42);
        assert!(Resources {
            nano_cpus: 500_000,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
