//! netavark, podman's network backend, driven as an external binary, and the engine's own IPAM.
//!
//! The wire types here are netavark's stdin/stdout contract (and the network definition JSON
//! podman keeps in `/etc/containers/networks/<name>.json`). netavark 1.4 does not allocate
//! addresses for `host-local` IPAM: the caller passes `static_ips`, which [`allocate`] picks
//! from the state database's `ipam` table (`network`, `ip`, `container_id`).
//!
//! Facts checked against Debian's netavark 1.4.0: `setup` brings `lo` up and prints a map of
//! network name to [`StatusBlock`]; on failure it exits non-zero with `{"error": "..."}` on
//! stdout (for example `IO error: no static ips provided`); `teardown` removes the veth, the
//! firewall rules and, once unused, the bridge, and fails if the veth is already gone. With
//! `dns_enabled` it starts `aardvark-dns`, which daemonizes and keeps its state under
//! `<config_dir>/aardvark-dns`.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// Name of podman's default network.
pub const DEFAULT_NETWORK_NAME: &str = "podman";
/// ID podman gives its default network.
pub const DEFAULT_NETWORK_ID: &str =
    "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";
/// Where podman looks for its helper binaries (containers.conf `helper_binaries_dir`).
pub const HELPER_DIRS: &[&str] = &[
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
];
/// The IPAM driver podman uses unless told otherwise.
pub const HOST_LOCAL_IPAM: &str = "host-local";

/// netavark runs are serialised, like podman does: concurrent runs race on the bridge and
/// the firewall rules.
static NETAVARK_LOCK: Mutex<()> = Mutex::new(());

/// Reads `null` as the type's default (Go writes `null` for nil slices and maps).
fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A network definition, as podman writes it to `/etc/containers/networks/<name>.json` and as
/// netavark reads it in `network_info`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    /// The network's name.
    #[serde(default)]
    pub name: String,
    /// 64 hex characters.
    #[serde(default)]
    pub id: String,
    /// `bridge` or `macvlan`.
    #[serde(default)]
    pub driver: String,
    /// The bridge name (`podman0`), or the parent interface for macvlan.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_interface: String,
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// The subnets, IPv4 and IPv6.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subnets: Vec<Subnet>,
    /// Whether the network has an IPv6 subnet.
    #[serde(default)]
    pub ipv6_enabled: bool,
    /// No route out of the network (no NAT, no default route).
    #[serde(default)]
    pub internal: bool,
    /// Whether aardvark-dns serves container names on this network.
    #[serde(default)]
    pub dns_enabled: bool,
    /// Upstream DNS servers aardvark-dns uses for this network.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub network_dns_servers: Vec<String>,
    /// User labels.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Driver options: `mtu`, `isolate`, `metric`, macvlan `mode`, ...
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
    /// IPAM options; `driver` is `host-local`, `dhcp` or `none`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub ipam_options: BTreeMap<String, String>,
}

impl Network {
    /// The IPAM driver, `host-local` when unset.
    pub fn ipam_driver(&self) -> &str {
        self.ipam_options
            .get("driver")
            .map_or(HOST_LOCAL_IPAM, String::as_str)
    }
}

/// One subnet of a network.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Subnet {
    /// CIDR, e.g. `10.88.0.0/16`.
    #[serde(default)]
    pub subnet: String,
    /// Gateway address (bare IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Restricts automatic allocation to part of the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

/// A range of addresses automatic allocation may use, bounds included.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseRange {
    /// First address (bare IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<String>,
    /// Last address (bare IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<String>,
}

/// Podman's default network: `podman`, 10.88.0.0/16 on bridge `podman0`, DNS off.
/// Callers that must not collide with a podman on the same host change name, interface and
/// subnet from configuration.
pub fn default_network() -> Network {
    Network {
        name: DEFAULT_NETWORK_NAME.into(),
        id: DEFAULT_NETWORK_ID.into(),
        driver: "bridge".into(),
        network_interface: "podman0".into(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        subnets: vec![Subnet {
            subnet: "10.88.0.0/16".into(),
            gateway: Some("10.88.0.1".into()),
            lease_range: None,
        }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        network_dns_servers: Vec::new(),
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        ipam_options: BTreeMap::from([("driver".to_owned(), HOST_LOCAL_IPAM.to_owned())]),
    }
}

/// netavark's stdin for `setup` and `teardown`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkOptions {
    /// Full container ID (iptables comments, DNS records).
    pub container_id: String,
    /// Container name (DNS records).
    pub container_name: String,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Per network name, how the container joins it.
    #[serde(default)]
    pub networks: BTreeMap<String, PerNetworkOptions>,
    /// Per network name, its definition; must cover every key of `networks`.
    #[serde(default)]
    pub network_info: BTreeMap<String, Network>,
    /// Custom upstream DNS servers for aardvark-dns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
}

/// How a container joins one network.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PerNetworkOptions {
    /// Interface name inside the container, e.g. `eth0`.
    pub interface_name: String,
    /// Addresses to assign (bare IPs); required with `host-local` IPAM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_ips: Vec<String>,
    /// Extra DNS names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Fixed MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
}

/// A published port range.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMapping {
    /// Host address to bind, empty for all.
    #[serde(default)]
    pub host_ip: String,
    /// First container port.
    pub container_port: u16,
    /// First host port.
    pub host_port: u16,
    /// Number of consecutive ports; 1 for a single port.
    pub range: u16,
    /// `tcp`, `udp`, `sctp`, or a comma list of them.
    pub protocol: String,
}

/// What netavark configured for one network (`setup`'s stdout maps network name to this).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusBlock {
    /// Per container interface name.
    #[serde(default, deserialize_with = "null_default")]
    pub interfaces: BTreeMap<String, NetInterface>,
    /// DNS servers the container should use (aardvark-dns).
    #[serde(default, deserialize_with = "null_default")]
    pub dns_server_ips: Vec<String>,
    /// DNS search domains (`dns.podman`).
    #[serde(default, deserialize_with = "null_default")]
    pub dns_search_domains: Vec<String>,
}

/// One interface inside the container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct NetInterface {
    /// MAC address.
    #[serde(default)]
    pub mac_address: String,
    /// Addresses on it.
    #[serde(default, deserialize_with = "null_default")]
    pub subnets: Vec<NetAddress>,
}

/// An address on an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct NetAddress {
    /// Address with prefix, e.g. `10.88.0.2/16`.
    #[serde(default)]
    pub ipnet: String,
    /// The gateway, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// The netavark binary and what it needs to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Netavark {
    /// The netavark executable.
    pub binary: PathBuf,
    /// The aardvark-dns executable, passed as `--aardvark-binary` (netavark's built-in default
    /// is not Debian's path).
    pub aardvark: PathBuf,
    /// netavark's `--config`: the network run directory; aardvark-dns state goes under it.
    pub config_dir: PathBuf,
}

impl Netavark {
    /// Uses the given binaries.
    pub fn new(
        binary: impl Into<PathBuf>,
        aardvark: impl Into<PathBuf>,
        config_dir: impl Into<PathBuf>,
    ) -> Self {
        Netavark {
            binary: binary.into(),
            aardvark: aardvark.into(),
            config_dir: config_dir.into(),
        }
    }

    /// Looks for netavark in podman's [`HELPER_DIRS`].
    pub fn find(config_dir: impl Into<PathBuf>) -> Option<Self> {
        Self::find_in(HELPER_DIRS, config_dir)
    }

    /// Looks for netavark, then aardvark-dns, in `dirs`, first match wins. When aardvark-dns
    /// is nowhere, netavark's sibling path is used anyway (netavark then runs without DNS).
    pub fn find_in<I, P>(dirs: I, config_dir: impl Into<PathBuf>) -> Option<Self>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let dirs: Vec<PathBuf> = dirs.into_iter().map(|d| d.as_ref().to_path_buf()).collect();
        let first = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
        let binary = first("netavark")?;
        let aardvark =
            first("aardvark-dns").unwrap_or_else(|| binary.with_file_name("aardvark-dns"));
        Some(Self::new(binary, aardvark, config_dir))
    }

    /// Configures the namespace at `netns` for every network in `opts` and returns what
    /// netavark set up, per network name. Blocking.
    pub fn setup(
        &self,
        netns: &Path,
        opts: &NetworkOptions,
    ) -> Result<BTreeMap<String, StatusBlock>> {
        let stdout = self.run("setup", netns, opts)?;
        serde_json::from_slice(&stdout).map_err(|e| {
            Error::Internal(format!(
                "netavark: decoding setup output {:?}: {e}",
                String::from_utf8_lossy(&stdout)
            ))
        })
    }

    /// Undoes [`setup`](Self::setup) for the networks in `opts`. Blocking.
    pub fn teardown(&self, netns: &Path, opts: &NetworkOptions) -> Result<()> {
        self.run("teardown", netns, opts).map(drop)
    }

    /// `netavark` with the global options every call takes.
    fn command(&self) -> Command {
        let mut aardvark = OsString::from("--aardvark-binary=");
        aardvark.push(&self.aardvark);
        let debug = tracing::enabled!(tracing::Level::DEBUG);
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config")
            .arg(&self.config_dir)
            .arg("--rootless=false")
            .arg(aardvark)
            .env(
                "RUST_LOG",
                if debug {
                    "netavark=debug"
                } else {
                    "netavark=warn"
                },
            );
        cmd
    }

    /// Gives a running network's aardvark-dns new upstream servers (`netavark update`).
    /// Blocking.
    pub fn update_dns(&self, network: &str, servers: &[String]) -> Result<()> {
        let _serialised = NETAVARK_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let out = self
            .command()
            .arg("update")
            .arg(network)
            .arg("--network-dns-servers")
            .arg(servers.join(","))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(format!("running {}", self.binary.display()), e))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Runtime(format!(
                "netavark: update failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Runs `netavark <command> <netns>` with `opts` on stdin; its stdout on success.
    fn run(&self, command: &str, netns: &Path, opts: &NetworkOptions) -> Result<Vec<u8>> {
        let input = serde_json::to_vec(opts)
            .map_err(|e| Error::Internal(format!("encoding netavark options: {e}")))?;
        std::fs::create_dir_all(&self.config_dir)
            .map_err(|e| Error::io(format!("creating {}", self.config_dir.display()), e))?;
        let _serialised = NETAVARK_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let mut child = self
            .command()
            .arg(command)
            .arg(netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(format!("running {}", self.binary.display()), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            match stdin.write_all(&input) {
                // A broken pipe means netavark quit before reading; its output says why.
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::io("writing netavark's input", e));
                }
                _ => {}
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("waiting for {}", self.binary.display()), e))?;

        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            if line.starts_with("[WARN") || line.starts_with("[ERROR") {
                tracing::warn!(netavark = command, "{line}");
            } else {
                tracing::debug!(netavark = command, "{line}");
            }
        }
        if out.status.success() {
            return Ok(out.stdout);
        }

        #[derive(Deserialize)]
        struct Failure {
            error: String,
        }
        if let Ok(Failure { error }) = serde_json::from_slice::<Failure>(&out.stdout) {
            return Err(Error::InvalidState(format!("netavark: {error}")));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let detail = [stdout.trim(), stderr.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::InvalidState(format!(
            "netavark: {command} failed ({}): {detail}",
            out.status
        )))
    }
}

/// A CIDR as (address bits, prefix length, IPv6?); `None` for anything malformed.
fn parse_cidr(cidr: &str) -> Option<(u128, u32, bool)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let prefix: u32 = prefix.parse().ok()?;
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => (prefix <= 32).then_some((u128::from(u32::from(a)), prefix, false)),
        IpAddr::V6(a) => (prefix <= 128).then_some((u128::from(a), prefix, true)),
    }
}

fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn bits_ip(n: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

/// The host part of a `width`-bit address under a `/prefix`.
fn host_mask(width: u32, prefix: u32) -> u128 {
    u128::MAX
        .checked_shr(128 - width + prefix.min(width))
        .unwrap_or(0)
}

/// The usable host addresses of a subnet (IPv4 or IPv6) without its first (network) and
/// last (broadcast) addresses, as an inclusive range of address bits, narrowed to `lease`
/// when given. `None` when there are none (e.g. /31 and /32) or the CIDR is malformed.
fn host_range(cidr: &str, lease: Option<&LeaseRange>) -> Option<(u128, u128, bool)> {
    let (addr, prefix, v6) = parse_cidr(cidr)?;
    let width = if v6 { 128 } else { 32 };
    if prefix + 2 > width {
        return None;
    }
    let host_mask = host_mask(width, prefix);
    let network = addr & !host_mask;
    let (mut first, mut last) = (network + 1, (network | host_mask) - 1);
    let bound = |ip: &Option<String>| {
        ip.as_deref()
            .and_then(|s| s.parse::<IpAddr>().ok())
            .filter(|ip| ip.is_ipv6() == v6)
            .map(ip_bits)
    };
    if let Some(lease) = lease {
        if let Some(start) = bound(&lease.start_ip) {
            first = first.max(start);
        }
        if let Some(end) = bound(&lease.end_ip) {
            last = last.min(end);
        }
    }
    (first <= last).then_some((first, last, v6))
}

fn next_free(
    range: Option<(u128, u128, bool)>,
    gateway: Option<&str>,
    used: &HashSet<IpAddr>,
) -> Option<IpAddr> {
    let (first, last, v6) = range?;
    let gateway = gateway.and_then(|g| g.parse::<IpAddr>().ok());
    (first..=last)
        .map(|n| bits_ip(n, v6))
        .find(|ip| Some(*ip) != gateway && !used.contains(ip))
}

/// The lowest address of a subnet that is neither the network address, the broadcast
/// address, the gateway nor in `used`. `None` when the subnet is full or malformed.
pub fn next_free_ip(
    subnet_cidr: &str,
    gateway: Option<&str>,
    used: &HashSet<IpAddr>,
) -> Option<IpAddr> {
    next_free(host_range(subnet_cidr, None), gateway, used)
}

/// Like [`next_free_ip`] for a network's subnet, honouring its `lease_range`.
pub fn next_free_ip_in(subnet: &Subnet, used: &HashSet<IpAddr>) -> Option<IpAddr> {
    next_free(
        host_range(&subnet.subnet, subnet.lease_range.as_ref()),
        subnet.gateway.as_deref(),
        used,
    )
}

/// A subnet's first and last host addresses.
pub fn host_bounds(cidr: &str) -> Option<(IpAddr, IpAddr)> {
    host_range(cidr, None).map(|(first, last, v6)| (bits_ip(first, v6), bits_ip(last, v6)))
}

/// A subnet's first host address (the default gateway), IPv4 or IPv6.
pub fn first_host(cidr: &str) -> Option<IpAddr> {
    host_range(cidr, None).map(|(first, _, v6)| bits_ip(first, v6))
}

/// Whether `ip` lies in the subnet `cidr`.
fn in_subnet(ip: IpAddr, cidr: &str) -> bool {
    let Some((addr, prefix, v6)) = parse_cidr(cidr) else {
        return false;
    };
    if ip.is_ipv6() != v6 {
        return false;
    }
    let mask = host_mask(if v6 { 128 } else { 32 }, prefix);
    (ip_bits(ip) & !mask) == (addr & !mask)
}

/// The addresses allocated on `network`, with their container IDs.
fn allocations(tx: &Connection, network: &str) -> Result<Vec<(IpAddr, String)>> {
    let mut stmt = tx.prepare("SELECT ip, container_id FROM ipam WHERE network = ?1")?;
    let rows = stmt.query_map([network], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ip, container) = row?;
        if let Ok(ip) = ip.parse::<IpAddr>() {
            out.push((ip, container));
        }
    }
    Ok(out)
}

/// Gives `container_id` one address in each subnet (IPv4 and IPv6) of `network` and
/// records it in the `ipam` table; returns them as bare IPs, ready for `static_ips` (netavark
/// wants one per subnet). Addresses the container already holds on the network (an earlier
/// allocation or a [`reserve`]d static IP) are returned instead of new ones. Networks whose
/// IPAM driver is not `host-local` get none (netavark or DHCP handles those).
pub fn allocate(tx: &Connection, network: &Network, container_id: &str) -> Result<Vec<String>> {
    if network.ipam_driver() != HOST_LOCAL_IPAM {
        return Ok(Vec::new());
    }
    let existing = allocations(tx, &network.name)?;
    let mut used: HashSet<IpAddr> = existing.iter().map(|(ip, _)| *ip).collect();
    let mine: Vec<IpAddr> = existing
        .iter()
        .filter(|(_, c)| c == container_id)
        .map(|(ip, _)| *ip)
        .collect();

    let mut out = Vec::new();
    for subnet in &network.subnets {
        let held = mine
            .iter()
            .find(|ip| in_subnet(**ip, &subnet.subnet))
            .copied();
        let ip = match held {
            Some(ip) => ip,
            None => {
                let ip = next_free_ip_in(subnet, &used).ok_or_else(|| {
                    Error::InvalidState(format!(
                        "IPAM error: failed to find free IP in subnet {} of network {}",
                        subnet.subnet, network.name
                    ))
                })?;
                tx.execute(
                    "INSERT INTO ipam (network, ip, container_id) VALUES (?1, ?2, ?3)",
                    params![network.name, ip.to_string(), container_id],
                )?;
                used.insert(ip);
                ip
            }
        };
        out.push(ip.to_string());
    }
    Ok(out)
}

/// Records a user-requested static address for `container_id` on `network`. It must be a
/// host address of one of the network's subnets, not its gateway, and not held by another
/// container; reserving an address the container already holds is a no-op.
pub fn reserve(tx: &Connection, network: &Network, ip: &str, container_id: &str) -> Result<()> {
    let addr = ip
        .parse::<IpAddr>()
        .map_err(|_| Error::InvalidArg(format!("invalid IP address {ip:?}")))?;
    let n = ip_bits(addr);
    let fits = network.subnets.iter().any(|s| {
        s.gateway.as_deref() != Some(ip)
            && host_range(&s.subnet, None).is_some_and(|(first, last, v6)| {
                v6 == addr.is_ipv6() && (first..=last).contains(&n)
            })
    });
    if !fits {
        return Err(Error::InvalidArg(format!(
            "requested static ip {ip} not in any subnet on network {}",
            network.name
        )));
    }
    let owner: Option<String> = tx
        .query_row(
            "SELECT container_id FROM ipam WHERE network = ?1 AND ip = ?2",
            params![network.name, addr.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    match owner {
        Some(owner) if owner == container_id => Ok(()),
        Some(owner) => Err(Error::InvalidState(format!(
            "IPAM error: requested ip address {ip} is already allocated to container ID {owner}"
        ))),
        None => {
            tx.execute(
                "INSERT INTO ipam (network, ip, container_id) VALUES (?1, ?2, ?3)",
                params![network.name, addr.to_string(), container_id],
            )?;
            Ok(())
        }
    }
}

/// Frees the addresses `container_id` holds on `network`.
pub fn release(tx: &Connection, network: &str, container_id: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM ipam WHERE network = ?1 AND container_id = ?2",
        params![network, container_id],
    )?;
    Ok(())
}

/// Frees every address `container_id` holds, on all networks.
pub fn release_all(tx: &Connection, container_id: &str) -> Result<()> {
    tx.execute("DELETE FROM ipam WHERE container_id = ?1", [container_id])?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A network of our own, so tests never touch a real podman's `podman0`.
    fn test_network() -> Network {
        Network {
            name: "podapidtest".into(),
            id: "7e57".repeat(16),
            driver: "bridge".into(),
            network_interface: "podapidt0".into(),
            subnets: vec![Subnet {
                subnet: "10.123.45.0/24".into(),
                gateway: Some("10.123.45.1".into()),
                lease_range: None,
            }],
            internal: true,
            ipam_options: BTreeMap::from([("driver".into(), HOST_LOCAL_IPAM.into())]),
            ..Network::default()
        }
    }

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE ipam (network TEXT NOT NULL, ip TEXT NOT NULL, \
             container_id TEXT NOT NULL, PRIMARY KEY (network, ip));",
        )
        .unwrap();
        conn
    }

    #[test]
    fn first_free_skips_network_and_gateway() {
        let none = HashSet::new();
        assert_eq!(
            next_free_ip("10.88.0.0/16", Some("10.88.0.1"), &none),
            Some(ip("10.88.0.2"))
        );
        assert_eq!(
            next_free_ip("10.88.0.0/16", None, &none),
            Some(ip("10.88.0.1"))
        );
        // A host address as the CIDR's base still means its network.
        assert_eq!(
            next_free_ip("10.1.2.77/24", Some("10.1.2.1"), &none),
            Some(ip("10.1.2.2"))
        );
    }

    #[test]
    fn first_free_skips_used() {
        let used = HashSet::from([ip("10.88.0.2"), ip("10.88.0.3"), ip("10.88.0.5")]);
        assert_eq!(
            next_free_ip("10.88.0.0/16", Some("10.88.0.1"), &used),
            Some(ip("10.88.0.4"))
        );
    }

    #[test]
    fn small_subnets_run_out() {
        let mut used = HashSet::new();
        let first = next_free_ip("10.0.0.0/30", Some("10.0.0.1"), &used).unwrap();
        assert_eq!(first, ip("10.0.0.2"));
        used.insert(first);
        // .3 is the broadcast address.
        assert_eq!(next_free_ip("10.0.0.0/30", Some("10.0.0.1"), &used), None);
        assert_eq!(next_free_ip("10.0.0.0/31", None, &HashSet::new()), None);
        assert_eq!(
            next_free_ip("fd00::/64", None, &HashSet::new()),
            Some(ip("fd00::1"))
        );
        assert_eq!(next_free_ip("fd00::/127", None, &HashSet::new()), None);
        assert_eq!(next_free_ip("bogus", None, &HashSet::new()), None);
    }

    #[test]
    fn subnet_edges() {
        assert!(in_subnet(ip("10.1.2.3"), "10.1.0.0/16"));
        assert!(!in_subnet(ip("10.2.0.1"), "10.1.0.0/16"));
        assert!(in_subnet(ip("fd00::1:2"), "fd00::/64"));
        assert!(!in_subnet(ip("10.1.2.3"), "fd00::/64"));
        assert!(in_subnet(ip("1.2.3.4"), "0.0.0.0/0"));
        assert!(in_subnet(ip("::1"), "::/0"));
        assert!(in_subnet(ip("::1"), "::1/128"));
        assert_eq!(first_host("fd00:1:2::/64"), Some(ip("fd00:1:2::1")));
        assert_eq!(first_host("::1/128"), None);
    }

    #[test]
    fn lease_range_narrows_allocation() {
        let subnet = Subnet {
            subnet: "10.0.0.0/24".into(),
            gateway: Some("10.0.0.1".into()),
            lease_range: Some(LeaseRange {
                start_ip: Some("10.0.0.100".into()),
                end_ip: Some("10.0.0.101".into()),
            }),
        };
        let mut used = HashSet::new();
        assert_eq!(next_free_ip_in(&subnet, &used), Some(ip("10.0.0.100")));
        used.insert(ip("10.0.0.100"));
        assert_eq!(next_free_ip_in(&subnet, &used), Some(ip("10.0.0.101")));
        used.insert(ip("10.0.0.101"));
        assert_eq!(next_free_ip_in(&subnet, &used), None);
    }

    #[test]
    fn allocate_and_release() {
        let conn = db();
        let net = test_network();
        assert_eq!(allocate(&conn, &net, "c1").unwrap(), ["10.123.45.2"]);
        assert_eq!(allocate(&conn, &net, "c2").unwrap(), ["10.123.45.3"]);
        // Idempotent per container.
        assert_eq!(allocate(&conn, &net, "c1").unwrap(), ["10.123.45.2"]);
        // Another network has its own pool.
        let other = Network {
            name: "other".into(),
            ..test_network()
        };
        assert_eq!(allocate(&conn, &other, "c2").unwrap(), ["10.123.45.2"]);

        release(&conn, &net.name, "c1").unwrap();
        assert_eq!(allocate(&conn, &net, "c3").unwrap(), ["10.123.45.2"]);
        release_all(&conn, "c2").unwrap();
        let left: Vec<(String, String)> = conn
            .prepare("SELECT network, ip FROM ipam ORDER BY network, ip")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(left, [("podapidtest".to_owned(), "10.123.45.2".to_owned())]);
    }

    #[test]
    fn allocate_covers_v6_and_skips_non_host_local() {
        let conn = db();
        let mut net = test_network();
        net.subnets.push(Subnet {
            subnet: "fd00:1234::/64".into(),
            gateway: Some("fd00:1234::1".into()),
            lease_range: None,
        });
        assert_eq!(
            allocate(&conn, &net, "c1").unwrap(),
            ["10.123.45.2", "fd00:1234::2"]
        );
        assert_eq!(
            allocate(&conn, &net, "c3").unwrap(),
            ["10.123.45.3", "fd00:1234::3"]
        );
        reserve(&conn, &net, "fd00:1234::50", "c4").unwrap();
        assert_eq!(
            allocate(&conn, &net, "c4").unwrap(),
            ["10.123.45.4", "fd00:1234::50"]
        );
        net.ipam_options.insert("driver".into(), "none".into());
        assert!(allocate(&conn, &net, "c2").unwrap().is_empty());
    }

    #[test]
    fn allocate_reports_exhaustion() {
        let conn = db();
        let mut net = test_network();
        net.subnets[0].subnet = "10.123.45.0/30".into();
        allocate(&conn, &net, "c1").unwrap();
        let err = allocate(&conn, &net, "c2").unwrap_err();
        assert!(matches!(err, Error::InvalidState(_)), "{err}");
        assert!(err.to_string().contains("failed to find free IP"), "{err}");
    }

    #[test]
    fn reserve_static_ips() {
        let conn = db();
        let net = test_network();
        reserve(&conn, &net, "10.123.45.50", "c1").unwrap();
        reserve(&conn, &net, "10.123.45.50", "c1").unwrap();
        assert_eq!(allocate(&conn, &net, "c1").unwrap(), ["10.123.45.50"]);
        let taken = reserve(&conn, &net, "10.123.45.50", "c2").unwrap_err();
        assert!(taken.to_string().contains("already allocated"), "{taken}");
        for bad in ["10.123.45.1", "10.123.45.255", "10.9.9.9", "fd00::5", "x"] {
            assert!(reserve(&conn, &net, bad, "c2").is_err(), "{bad}");
        }
    }

    #[test]
    fn default_network_json_matches_podman() {
        let mut net = default_network();
        assert!(chrono::DateTime::parse_from_rfc3339(&net.created).is_ok());
        net.created = "2024-01-02T03:04:05.123456789Z".into();
        let json = serde_json::to_value(&net).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "podman",
                "id": DEFAULT_NETWORK_ID,
                "driver": "bridge",
                "network_interface": "podman0",
                "created": "2024-01-02T03:04:05.123456789Z",
                "subnets": [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}],
                "ipv6_enabled": false,
                "internal": false,
                "dns_enabled": false,
                "ipam_options": {"driver": "host-local"}
            })
        );
        let back: Network = serde_json::from_value(json).unwrap();
        assert_eq!(back, net);
    }

    #[test]
    fn reads_podman_network_files() {
        let net: Network = serde_json::from_str(
            r#"{"name":"n1","id":"ab","driver":"bridge","network_interface":"podman1",
                "created":"2024-01-01T00:00:00.5+01:00",
                "subnets":[{"subnet":"10.89.0.0/24","gateway":"10.89.0.1",
                            "lease_range":{"start_ip":"10.89.0.10"}}],
                "ipv6_enabled":false,"internal":false,"dns_enabled":true,
                "labels":{"a":"b"},"options":null,"ipam_options":{"driver":"host-local"},
                "routes":[]}"#,
        )
        .unwrap();
        assert!(net.dns_enabled);
        assert_eq!(net.labels["a"], "b");
        assert!(net.options.is_empty());
        assert_eq!(
            net.subnets[0]
                .lease_range
                .as_ref()
                .unwrap()
                .start_ip
                .as_deref(),
            Some("10.89.0.10")
        );
        assert_eq!(net.ipam_driver(), "host-local");
    }

    #[test]
    fn options_json_leaves_out_empties() {
        let opts = NetworkOptions {
            container_id: "c".into(),
            container_name: "n".into(),
            networks: BTreeMap::from([(
                "podapidtest".into(),
                PerNetworkOptions {
                    interface_name: "eth0".into(),
                    static_ips: vec!["10.123.45.7".into()],
                    ..PerNetworkOptions::default()
                },
            )]),
            network_info: BTreeMap::from([("podapidtest".into(), test_network())]),
            port_mappings: vec![PortMapping {
                host_ip: "127.0.0.1".into(),
                container_port: 80,
                host_port: 8080,
                range: 1,
                protocol: "tcp".into(),
            }],
            ..NetworkOptions::default()
        };
        let json = serde_json::to_value(&opts).unwrap();
        assert_eq!(
            json["networks"],
            serde_json::json!({"podapidtest": {"interface_name": "eth0", "static_ips": ["10.123.45.7"]}})
        );
        assert_eq!(
            json["port_mappings"],
            serde_json::json!([{"host_ip": "127.0.0.1", "container_port": 80, "host_port": 8080, "range": 1, "protocol": "tcp"}])
        );
        assert!(json.get("dns_servers").is_none());
    }

    #[test]
    fn parses_setup_output() {
        // Verbatim from netavark 1.4.0.
        let out = r#"{"podapidtest":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.123.45.1"],"interfaces":{"eth0":{"mac_address":"be:32:3d:9b:be:fb","subnets":[{"gateway":"10.123.45.1","ipnet":"10.123.45.7/24"}]}}}}"#;
        let status: BTreeMap<String, StatusBlock> = serde_json::from_str(out).unwrap();
        let block = &status["podapidtest"];
        assert_eq!(block.dns_server_ips, ["10.123.45.1"]);
        let eth0 = &block.interfaces["eth0"];
        assert_eq!(eth0.mac_address, "be:32:3d:9b:be:fb");
        assert_eq!(eth0.subnets[0].ipnet, "10.123.45.7/24");
        assert_eq!(eth0.subnets[0].gateway.as_deref(), Some("10.123.45.1"));
        let sparse: StatusBlock = serde_json::from_str(r#"{"interfaces":null}"#).unwrap();
        assert_eq!(sparse, StatusBlock::default());
    }

    #[test]
    fn finds_binaries_in_helper_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        assert_eq!(Netavark::find_in([&a, &b], "/cfg"), None);
        std::fs::write(b.join("netavark"), "").unwrap();
        let found = Netavark::find_in([&a, &b], "/cfg").unwrap();
        assert_eq!(found.binary, b.join("netavark"));
        assert_eq!(found.aardvark, b.join("aardvark-dns"));
        std::fs::write(a.join("aardvark-dns"), "").unwrap();
        let found = Netavark::find_in([&a, &b], "/cfg").unwrap();
        assert_eq!(found.aardvark, a.join("aardvark-dns"));
        assert_eq!(found.config_dir, Path::new("/cfg"));
    }

    /// Needs root, netavark and iptables; uses its own bridge and subnet.
    #[test]
    fn setup_and_teardown_as_root() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: not root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let Some(netavark) = Netavark::find(dir.path().join("networks")) else {
            eprintln!("skipping: netavark not installed");
            return;
        };
        let ns = crate::netns::new_path(&dir.path().join("netns"));
        crate::netns::create(&ns).unwrap();

        let net = test_network();
        let mut opts = NetworkOptions {
            container_id: "c0ffee".repeat(10) + "c0ff",
            container_name: "podapidtest-ctr".into(),
            networks: BTreeMap::from([(
                net.name.clone(),
                PerNetworkOptions {
                    interface_name: "eth0".into(),
                    ..PerNetworkOptions::default()
                },
            )]),
            network_info: BTreeMap::from([(net.name.clone(), net.clone())]),
            ..NetworkOptions::default()
        };
        // host-local IPAM without addresses: netavark's own error comes back.
        let refused = netavark.setup(&ns, &opts);

        if let Some(per) = opts.networks.get_mut(&net.name) {
            per.static_ips = vec!["10.123.45.7".into()];
        }
        let status = netavark.setup(&ns, &opts);
        let down = netavark.teardown(&ns, &opts);
        let removed = crate::netns::remove(&ns);

        let refused = refused.unwrap_err();
        assert!(
            matches!(&refused, Error::InvalidState(m) if m.starts_with("netavark: ")),
            "{refused}"
        );
        let status = status.unwrap();
        down.unwrap();
        removed.unwrap();
        let eth0 = &status[&net.name].interfaces["eth0"];
        assert_eq!(eth0.subnets[0].ipnet, "10.123.45.7/24");
        assert_eq!(eth0.subnets[0].gateway.as_deref(), Some("10.123.45.1"));
    }
}
