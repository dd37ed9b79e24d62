//! A container's network namespace at init and exit: `none`/`host`/`ns:` need nothing,
//! `container:X` joins X's namespace, bridge mode makes a namespace of its own
//! (`<runroot>/netns/netns-…`), allocates addresses in the `ipam` table (kept until the
//! container is removed, so restarts keep their IP), and lets netavark plumb it into the
//! networks with the published ports. Teardown undoes netavark's work and drops the namespace.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use crate::containers::config::NetMode;
use crate::containers::lifecycle::ContainerRecord;
use crate::containers::spec::NetworkMode;
use crate::containers::ContainerStatus;
use crate::error::{Error, Result};
use crate::networks::netavark::{self, Netavark, Network, NetworkOptions, PerNetworkOptions};
use crate::runtime::Runtime;

/// How the container's network is being set up.
pub(crate) struct NetPlan {
    pub mode: NetworkMode,
    /// IPv4 addresses it gets (bare).
    pub ips: Vec<String>,
    /// aardvark-dns servers of its DNS-enabled networks (their gateways).
    pub dns: Vec<String>,
    /// netavark's setup, still running.
    pub pending: Option<tokio::task::JoinHandle<Result<BTreeMap<String, netavark::StatusBlock>>>>,
}

/// The container's IPv4 addresses (bare), first network first.
pub fn container_ips(rec: &ContainerRecord) -> Vec<String> {
    let Some(m) = rec.network_status.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for st in m.values() {
        if let Some(ifs) = st["interfaces"].as_object() {
            for i in ifs.values() {
                for s in i["subnets"].as_array().into_iter().flatten() {
                    if let Some(ipnet) = s["ipnet"].as_str() {
                        let ip = ipnet.split('/').next().unwrap_or(ipnet);
                        if !ip.contains(':') {
                            out.push(ip.to_string());
                        }
                    }
                }
            }
        }
    }
    out
}

impl Runtime {
    /// The default network's definition (containers.conf `[network]` `default_network`,
    /// `default_subnet`).
    pub fn default_network_def(&self) -> Network {
        let n = &self.options().conf.network;
        let mut d = netavark::default_network();
        if !n.default_network.is_empty() && n.default_network != d.name {
            d.name = n.default_network.clone();
            d.network_interface = format!("{}0", &d.name.chars().take(14).collect::<String>());
        }
        if !n.default_subnet.is_empty() && n.default_subnet != "10.88.0.0/16" {
            if let Some((addr, _)) = n.default_subnet.split_once('/') {
                let gw = addr
                    .parse::<std::net::Ipv4Addr>()
                    .map(|a| std::net::Ipv4Addr::from(u32::from(a) + 1).to_string())
                    .ok();
                d.subnets = vec![netavark::Subnet {
                    subnet: n.default_subnet.clone(),
                    gateway: gw,
                    lease_range: None,
                }];
            }
        }
        d
    }

    /// The name of the default network.
    pub fn default_network_name(&self) -> String {
        self.default_network_def().name
    }

    /// A network's definition by name or ID (`bridge` is the default network's alias).
    pub async fn network_def(&self, name_or_id: &str) -> Result<Network> {
        let def = self.default_network_def();
        if name_or_id == "bridge" || name_or_id == def.name || name_or_id == def.id {
            return Ok(def);
        }
        let key = name_or_id.to_string();
        let data: Option<String> = self
            .db()
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT data FROM networks WHERE name = ?1 OR id = ?1 OR id LIKE ?1 || '%' LIMIT 1",
                    [&key],
                    |r| r.get(0),
                )
                .optional()?)
            })
            .await?;
        let data = data.ok_or_else(|| Error::NoSuchNetwork(name_or_id.to_string()))?;
        serde_json::from_str(&data).map_err(|e| Error::Internal(format!("corrupt network: {e}")))
    }

    pub(crate) fn netavark(&self) -> Result<Netavark> {
        let conf = &self.options().conf;
        let dir = self.options().runroot.join("networks");
        let found = conf
            .helper_binary("netavark")
            .map(|b| {
                let a = conf
                    .helper_binary("aardvark-dns")
                    .unwrap_or_else(|| b.with_file_name("aardvark-dns"));
                Netavark::new(b, a, dir.clone())
            })
            .or_else(|| Netavark::find(dir));
        found.ok_or_else(|| Error::InvalidState("netavark not found".into()))
    }

    /// netavark's options for the container (addresses allocated as needed).
    async fn network_options(&self, rec: &ContainerRecord) -> Result<NetworkOptions> {
        let mut wanted = rec.config.networks.clone();
        if wanted.is_empty() {
            wanted.insert(self.default_network_name(), Default::default());
        }
        let mut defs = BTreeMap::new();
        for name in wanted.keys() {
            let d = self.network_def(name).await?;
            defs.insert(name.clone(), d);
        }
        let id = rec.id.clone();
        let w2 = wanted.clone();
        let d2 = defs.clone();
        let ips: BTreeMap<String, Vec<String>> = self
            .db()
            .write(move |tx| {
                let mut out = BTreeMap::new();
                for (name, att) in &w2 {
                    let def = &d2[name];
                    for ip in &att.static_ips {
                        netavark::reserve(tx, def, ip, &id)?;
                    }
                    out.insert(def.name.clone(), netavark::allocate(tx, def, &id)?);
                }
                Ok(out)
            })
            .await?;
        let mut opts = NetworkOptions {
            container_id: rec.id.clone(),
            container_name: rec.name.clone(),
            dns_servers: rec.config.dns.clone(),
            ..Default::default()
        };
        for (i, (name, att)) in wanted.iter().enumerate() {
            let def = defs[name].clone();
            let mut aliases = att.aliases.clone();
            if def.dns_enabled && !aliases.contains(&rec.id[..12].to_string()) {
                aliases.push(rec.id[..12].to_string());
            }
            opts.networks.insert(
                def.name.clone(),
                PerNetworkOptions {
                    interface_name: att
                        .interface_name
                        .clone()
                        .unwrap_or_else(|| format!("eth{i}")),
                    static_ips: ips.get(&def.name).cloned().unwrap_or_default(),
                    aliases,
                    static_mac: att.static_mac.clone(),
                },
            );
            opts.network_info.insert(def.name.clone(), def);
        }
        for p in &rec.config.ports {
            opts.port_mappings.push(netavark::PortMapping {
                host_ip: p.host_ip.clone(),
                container_port: p.container_port,
                host_port: p.host_port,
                range: p.range.max(1),
                protocol: if p.protocol.is_empty() {
                    "tcp".into()
                } else {
                    p.protocol.clone()
                },
            });
        }
        Ok(opts)
    }

    /// Sets up the namespace the container will run in. For bridge mode the namespace is
    /// made and recorded at once and netavark's plumbing starts in the background: it only has
    /// to be done before the process starts, so it overlaps the runtime's create. The plan
    /// carries the addresses already allocated (for `/etc/hosts`) and the pending setup.
    pub(crate) async fn prepare_network(&self, rec: &mut ContainerRecord) -> Result<NetPlan> {
        let plain = |mode| NetPlan {
            mode,
            ips: Vec::new(),
            dns: Vec::new(),
            pending: None,
        };
        match rec.config.net.clone() {
            NetMode::None | NetMode::Default => Ok(plain(NetworkMode::None)),
            NetMode::Host => Ok(plain(NetworkMode::Host)),
            NetMode::Path(p) => Ok(plain(NetworkMode::Path(p))),
            NetMode::Container(other) => {
                let o = self.container_record(&other).await?;
                if let Some(ns) = &o.netns {
                    return Ok(NetPlan {
                        mode: NetworkMode::Path(ns.clone()),
                        ips: container_ips(&o),
                        dns: Vec::new(),
                        pending: None,
                    });
                }
                if o.pid <= 0 {
                    return Err(Error::InvalidState(format!(
                        "cannot join the network namespace of container {}: it is not running",
                        o.id
                    )));
                }
                Ok(plain(NetworkMode::Joined(format!(
                    "/proc/{}/ns/net",
                    o.pid
                ))))
            }
            NetMode::Bridge => {
                if rec.netns.is_some() {
                    self.teardown_network(rec).await;
                }
                let opts = self.network_options(rec).await?;
                let nv = self.netavark()?;
                let path = crate::netns::new_path(&self.options().runroot.join("netns"));
                // Recorded before anything is made, so a crash midway can be undone at the
                // next start (reconcile tears down what the record names).
                rec.netns = Some(path.display().to_string());
                self.save_record(rec).await?;
                let p2 = path.clone();
                let made = tokio::task::spawn_blocking(move || crate::netns::create(&p2))
                    .await
                    .map_err(|e| Error::Internal(format!("network namespace: {e}")));
                if let Err(e) = made.and_then(|r| r) {
                    rec.netns = None;
                    let _ = self.save_record(rec).await;
                    return Err(e);
                }
                let ips: Vec<String> = opts
                    .networks
                    .values()
                    .flat_map(|n| n.static_ips.iter().cloned())
                    .filter(|ip| !ip.contains(':'))
                    .collect();
                let dns: Vec<String> = opts
                    .network_info
                    .values()
                    .filter(|n| n.dns_enabled)
                    .filter_map(|n| {
                        n.subnets
                            .iter()
                            .find(|s| !s.subnet.contains(':'))
                            .and_then(|s| s.gateway.clone())
                    })
                    .collect();
                let p3 = path.clone();
                let pending = tokio::task::spawn_blocking(move || nv.setup(&p3, &opts));
                Ok(NetPlan {
                    mode: NetworkMode::Path(path.display().to_string()),
                    ips,
                    dns,
                    pending: Some(pending),
                })
            }
        }
    }

    /// Waits for the plan's background setup; records netavark's answer.
    pub(crate) async fn finish_network(
        &self,
        rec: &mut ContainerRecord,
        plan: &mut NetPlan,
    ) -> Result<()> {
        let Some(p) = plan.pending.take() else {
            return Ok(());
        };
        let status = p
            .await
            .map_err(|e| Error::Internal(format!("network setup: {e}")))??;
        rec.network_status =
            serde_json::to_value(&status).map_err(|e| Error::Internal(e.to_string()))?;
        let mut bridges = Vec::new();
        for name in status.keys() {
            if let Ok(def) = self.network_def(name).await {
                if def.driver == "bridge" && !def.network_interface.is_empty() {
                    bridges.push(def.network_interface);
                }
            }
        }
        let keepers = self.bridge_keepers().clone();
        let _ = tokio::task::spawn_blocking(move || {
            for b in bridges {
                keepers.keep(&b);
            }
        })
        .await;
        Ok(())
    }

    /// Undoes [`prepare_network`](Self::prepare_network) (errors are logged: teardown runs on
    /// exit paths that must go on).
    pub(crate) async fn teardown_network(&self, rec: &ContainerRecord) {
        let Some(ns) = rec.netns.clone() else {
            return;
        };
        let opts = match self.network_options(rec).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(container = %rec.id, error = %e, "network teardown options");
                let _ = crate::netns::remove(Path::new(&ns));
                return;
            }
        };
        let nv = self.netavark();
        let id = rec.id.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let p = PathBuf::from(&ns);
            if let Ok(nv) = nv {
                if let Err(e) = nv.teardown(&p, &opts) {
                    tracing::warn!(container = %id, error = %e, "netavark teardown");
                }
            }
            let _ = crate::netns::remove(&p);
        })
        .await;
    }
}

/// Bridges kept up while the daemon runs. netavark deletes a bridge (and its firewall rules)
/// when its last container leaves and builds both again for the next one; a host-side veth
/// enslaved to the bridge (`<bridge>k`, peer `<bridge>q`) keeps it, as Docker keeps docker0.
/// The keepers this daemon made are deleted when it stops.
#[derive(Debug, Default, Clone)]
pub struct BridgeKeepers {
    made: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

fn keeper_names(bridge: &str) -> (String, String) {
    let base: String = bridge.chars().take(13).collect();
    (format!("{base}k"), format!("{base}q"))
}

impl BridgeKeepers {
    /// Makes sure `bridge` has its keeper (blocking; cheap when it has one).
    pub fn keep(&self, bridge: &str) {
        let sys = Path::new("/sys/class/net");
        let (k, q) = keeper_names(bridge);
        if !sys.join(bridge).exists() || sys.join(&k).exists() {
            return;
        }
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if ip(&["link", "add", &k, "type", "veth", "peer", "name", &q])
            && ip(&["link", "set", &k, "master", bridge])
            && ip(&["link", "set", &k, "up"])
        {
            let mut m = self.made.lock().unwrap_or_else(|p| p.into_inner());
            m.insert(k);
        } else {
            tracing::debug!(bridge, "could not add a bridge keeper");
            let _ = ip(&["link", "del", &k]);
        }
    }

    /// Deletes a bridge's keeper and, when nothing else is attached, the bridge itself
    /// (its network was removed).
    pub fn drop_bridge(&self, bridge: &str) {
        if bridge.is_empty() {
            return;
        }
        let (k, _) = keeper_names(bridge);
        let ip = |args: &[&str]| {
            let _ = std::process::Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        };
        ip(&["link", "del", &k]);
        {
            let mut m = self.made.lock().unwrap_or_else(|p| p.into_inner());
            m.remove(&k);
        }
        let brif = Path::new("/sys/class/net").join(bridge).join("brif");
        let empty = std::fs::read_dir(&brif)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if empty {
            ip(&["link", "del", bridge]);
        }
    }

    /// Deletes the keepers this daemon made.
    pub fn release(&self) {
        let made: Vec<String> = {
            let mut m = self.made.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *m).into_iter().collect()
        };
        for k in made {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", &k])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Runtime {
    /// Connects a container to a network: recorded in its config, and plumbed at once when
    /// it runs (its own interface `ethN` in the container's namespace).
    pub async fn network_connect(
        &self,
        net_name: &str,
        ctr: &str,
        mut att: crate::containers::config::NetAttach,
    ) -> Result<()> {
        let net = self.network_def(net_name).await?;
        let (_g, mut rec) = self.lock_record(ctr).await?;
        if rec.config.net != NetMode::Bridge {
            return Err(Error::InvalidArg(format!(
                "container {} is not in bridge network mode: invalid argument",
                rec.id
            )));
        }
        if rec.config.networks.is_empty() {
            let default = self.default_network_name();
            rec.config.networks.insert(
                default,
                crate::containers::config::NetAttach {
                    interface_name: Some("eth0".into()),
                    ..Default::default()
                },
            );
        }
        if rec.config.networks.contains_key(&net.name) {
            // Docker: a no-op for a container that is not running (the options are ignored).
            if !rec.is_running() && rec.status != ContainerStatus::Created {
                return Ok(());
            }
            return Err(Error::NetworkConnected(format!(
                "container {} is already connected to network {}",
                rec.id, net.name
            )));
        }
        if att.interface_name.is_none() {
            let used: Vec<String> = rec
                .config
                .networks
                .values()
                .enumerate()
                .map(|(i, a)| a.interface_name.clone().unwrap_or(format!("eth{i}")))
                .collect();
            att.interface_name = (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !used.contains(n) && rec.network_status.get(n).is_none());
        }
        rec.config.networks.insert(net.name.clone(), att);
        if let (true, Some(ns)) = (rec.is_running(), rec.netns.clone()) {
            let mut opts = self.network_options(&rec).await?;
            opts.networks.retain(|k, _| *k == net.name);
            opts.network_info.retain(|k, _| *k == net.name);
            let nv = self.netavark()?;
            let status = tokio::task::spawn_blocking(move || nv.setup(Path::new(&ns), &opts))
                .await
                .map_err(|e| Error::Internal(format!("network connect: {e}")))??;
            let mut all = rec.network_status.as_object().cloned().unwrap_or_default();
            for (k, v) in status {
                all.insert(
                    k,
                    serde_json::to_value(v).map_err(|e| Error::Internal(e.to_string()))?,
                );
            }
            rec.network_status = serde_json::Value::Object(all);
            // A DNS-enabled network's resolver goes first in the container's resolv.conf
            // (the bind-mounted file is rewritten in place).
            if let Some(gw) = net
                .subnets
                .iter()
                .find(|s| !s.subnet.contains(':'))
                .and_then(|s| s.gateway.clone())
                .filter(|_| net.dns_enabled && rec.config.dns.is_empty())
            {
                let path = self.ctr_paths(&rec.id).bundle.join("resolv.conf");
                let old = std::fs::read_to_string(&path).unwrap_or_default();
                if !old.lines().any(|l| l.trim() == format!("nameserver {gw}")) {
                    let mut text = format!("nameserver {gw}\n");
                    if !old.contains("dns.podman") {
                        text.push_str("search dns.podman\n");
                    }
                    text.push_str(&old);
                    let _ = std::fs::write(&path, text);
                }
            }
        }
        self.save_record(&rec).await?;
        self.emit_container("network_connect", &rec, &[("network", net.name.clone())]);
        Ok(())
    }

    /// Disconnects a container from a network (torn down at once when it runs).
    pub async fn network_disconnect(&self, net_name: &str, ctr: &str) -> Result<()> {
        let net = self.network_def(net_name).await?;
        let (_g, mut rec) = self.lock_record(ctr).await?;
        let default = self.default_network_name();
        let on = rec.config.networks.contains_key(&net.name)
            || (rec.config.networks.is_empty()
                && net.name == default
                && rec.config.net == NetMode::Bridge);
        if !on {
            return Err(Error::InvalidArg(format!(
                "container {} is not connected to network {}: invalid argument",
                rec.id, net.name
            )));
        }
        if rec.config.networks.is_empty() {
            rec.config.networks.insert(default, Default::default());
        }
        if let (true, Some(ns)) = (rec.is_running(), rec.netns.clone()) {
            let mut opts = self.network_options(&rec).await?;
            opts.networks.retain(|k, _| *k == net.name);
            opts.network_info.retain(|k, _| *k == net.name);
            let nv = self.netavark()?;
            let _ = tokio::task::spawn_blocking(move || nv.teardown(Path::new(&ns), &opts)).await;
            if let Some(m) = rec.network_status.as_object_mut() {
                m.remove(&net.name);
            }
        }
        rec.config.networks.remove(&net.name);
        if rec.config.networks.is_empty() {
            // Bridge mode with no network left: only loopback, like `--network none`.
            rec.config.net = NetMode::None;
        }
        let (id, n) = (rec.id.clone(), net.name.clone());
        self.db()
            .write(move |tx| {
                crate::networks::netavark::release(tx, &n, &id)?;
                Ok(())
            })
            .await?;
        self.save_record(&rec).await?;
        self.emit_container("network_disconnect", &rec, &[("network", net.name.clone())]);
        Ok(())
    }
}
