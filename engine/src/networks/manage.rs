//! Network records: create (names unique, bridge interfaces `podmanN` and subnets
//! `10.89.N.0/24` chosen among the free ones, as Podman does), list, inspect, remove (force
//! removes the containers using it), and which containers are on a network. The default
//! network is not stored: it comes from containers.conf.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use crate::containers::config::NetMode;
use crate::containers::lifecycle::{ContainerRecord, RemoveOptions};
use crate::error::{Error, Result};
use crate::networks::netavark::{Network, Subnet};
use crate::runtime::Runtime;

/// What a create asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub interface: String,
    pub subnets: Vec<Subnet>,
    pub internal: bool,
    pub dns_enabled: bool,
    pub ipv6_enabled: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

fn v4(cidr: &str) -> Option<(u32, u32)> {
    let (a, p) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = a.parse().ok()?;
    let p: u32 = p.parse().ok()?;
    (p <= 32).then_some((u32::from(ip), p))
}

fn overlaps(a: &str, b: &str) -> bool {
    match (v4(a), v4(b)) {
        (Some((x, px)), Some((y, py))) => {
            let p = px.min(py);
            let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
            x & mask == y & mask
        }
        _ => false,
    }
}

/// IPv4 subnets already on the host's interfaces (`ip -o -4 addr`).
fn host_subnets() -> Vec<String> {
    let Ok(out) = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            it.find(|w| *w == "inet")?;
            it.next().map(String::from)
        })
        .collect()
}

impl Runtime {
    /// Every network: the default one first, then the stored ones by name.
    pub async fn network_list(&self) -> Result<Vec<Network>> {
        let rows: Vec<String> = self
            .db()
            .read(|c| {
                let mut stmt = c.prepare("SELECT data FROM networks ORDER BY name")?;
                let v = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<std::result::Result<Vec<String>, _>>()?;
                Ok(v)
            })
            .await?;
        let mut out = vec![self.default_network_def()];
        for r in rows {
            let n: Network = serde_json::from_str(&r)
                .map_err(|e| Error::Internal(format!("corrupt network: {e}")))?;
            if n.name != out[0].name {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Creates a network.
    pub async fn network_create(&self, req: NetworkCreate) -> Result<Network> {
        let existing = self.network_list().await?;
        let name = if req.name.is_empty() {
            (1..)
                .map(|i| format!("podman{i}"))
                .find(|n| !existing.iter().any(|e| &e.name == n))
                .unwrap_or_default()
        } else {
            req.name.clone()
        };
        if !valid_name(&name) {
            return Err(Error::InvalidArg(format!(
                "network name {name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
            )));
        }
        if existing.iter().any(|e| e.name == name) {
            return Err(Error::Exists(format!("network name {name} already used")));
        }
        let driver = if req.driver.is_empty() {
            "bridge".to_string()
        } else {
            req.driver.clone()
        };
        if driver != "bridge" && driver != "macvlan" {
            return Err(Error::InvalidArg(format!(
                "unsupported driver {driver}: invalid argument"
            )));
        }
        let interface = if !req.interface.is_empty() {
            req.interface.clone()
        } else if driver == "bridge" {
            // Not one of ours, and not a link the host already has (a podman beside us).
            (0..)
                .map(|i| format!("podman{i}"))
                .find(|n| {
                    !existing.iter().any(|e| &e.network_interface == n)
                        && !std::path::Path::new("/sys/class/net").join(n).exists()
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut subnets = req.subnets.clone();
        for s in &subnets {
            let ok = match s.subnet.split_once('/') {
                Some((a, p)) => match a.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(_)) => p.parse::<u8>().is_ok_and(|p| p <= 32),
                    Ok(std::net::IpAddr::V6(_)) => p.parse::<u8>().is_ok_and(|p| p <= 128),
                    Err(_) => false,
                },
                None => false,
            };
            if !ok {
                return Err(Error::InvalidArg(format!(
                    "invalid CIDR address: {}",
                    s.subnet
                )));
            }
        }
        for s in &mut subnets {
            if s.gateway.is_none() {
                s.gateway = crate::networks::netavark::first_host(&s.subnet).map(|g| g.to_string());
            }
            if existing
                .iter()
                .flat_map(|e| e.subnets.iter())
                .any(|o| overlaps(&o.subnet, &s.subnet))
            {
                return Err(Error::InvalidArg(format!(
                    "subnet {} is already used on the host or by another config: invalid argument",
                    s.subnet
                )));
            }
        }
        let macvlan = driver == "macvlan";
        if macvlan {
            if !interface.is_empty()
                && !std::path::Path::new("/sys/class/net")
                    .join(&interface)
                    .exists()
            {
                return Err(Error::InvalidArg(format!(
                    "parent interface {interface} does not exist: invalid argument"
                )));
            }
            if let Some(mode) = req.options.get("mode") {
                if !matches!(mode.as_str(), "bridge" | "private" | "vepa" | "passthru") {
                    return Err(Error::InvalidArg(format!(
                        "unknown macvlan mode {mode:?}: invalid argument"
                    )));
                }
            }
        }
        // A macvlan network without subnets takes its addresses from the LAN's DHCP server.
        let dhcp = macvlan && subnets.is_empty();
        if !dhcp && subnets.iter().all(|s| s.subnet.contains(':')) {
            let on_host = host_subnets();
            let free = self
                .subnet_candidates()
                .into_iter()
                .find(|c| {
                    !existing
                        .iter()
                        .flat_map(|e| e.subnets.iter())
                        .any(|o| overlaps(&o.subnet, c))
                        && !on_host.iter().any(|h| overlaps(h, c))
                })
                .ok_or_else(|| Error::InvalidState("no free subnet left".into()))?;
            let gw = v4(&free).map(|(a, _)| std::net::Ipv4Addr::from(a + 1).to_string());
            subnets.insert(
                0,
                Subnet {
                    subnet: free,
                    gateway: gw,
                    lease_range: None,
                },
            );
        }
        let mut ipam = BTreeMap::new();
        ipam.insert(
            "driver".to_string(),
            if dhcp { "dhcp" } else { "host-local" }.to_string(),
        );
        let net = Network {
            name: name.clone(),
            id: crate::ids::new_id(),
            driver,
            network_interface: interface,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            ipv6_enabled: req.ipv6_enabled || subnets.iter().any(|s| s.subnet.contains(':')),
            subnets,
            internal: req.internal,
            // aardvark-dns serves bridges only.
            dns_enabled: req.dns_enabled && !macvlan,
            network_dns_servers: Vec::new(),
            labels: req.labels,
            options: req.options,
            ipam_options: ipam,
        };
        let json = serde_json::to_string(&net).map_err(|e| Error::Internal(e.to_string()))?;
        let (n2, id2) = (net.name.clone(), net.id.clone());
        self.db()
            .write(move |tx| {
                let there: Option<String> = tx
                    .query_row("SELECT name FROM networks WHERE name = ?1", [&n2], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if there.is_some() {
                    return Err(Error::Exists(format!("network name {n2} already used")));
                }
                tx.execute(
                    "INSERT INTO networks (name, id, data) VALUES (?1, ?2, ?3)",
                    params![n2, id2, json],
                )?;
                Ok(())
            })
            .await?;
        self.emit_network("create", &net);
        Ok(net)
    }

    /// The containers attached to a network (bridge mode, configured or running).
    pub async fn network_containers(&self, net: &Network) -> Result<Vec<ContainerRecord>> {
        let default = self.default_network_name();
        Ok(self
            .container_records()
            .await?
            .into_iter()
            .filter(|c| {
                c.config.net == NetMode::Bridge
                    && (c.config.networks.contains_key(&net.name)
                        || (c.config.networks.is_empty() && net.name == default))
            })
            .collect())
    }

    /// Removes a network; `force` removes its containers first.
    pub async fn network_remove(&self, name_or_id: &str, force: bool) -> Result<Network> {
        let net = self.network_def(name_or_id).await?;
        if net.name == self.default_network_name() {
            return Err(Error::InvalidState(format!(
                "default network {} cannot be removed",
                net.name
            )));
        }
        let users = self.network_containers(&net).await?;
        if !users.is_empty() {
            if !force {
                return Err(Error::InvalidState(format!(
                    "network {} is being used: network is being used",
                    net.name
                )));
            }
            for c in users {
                self.remove_container(
                    &c.id,
                    RemoveOptions {
                        force: true,
                        ..Default::default()
                    },
                )
                .await?;
            }
        }
        let n2 = net.name.clone();
        self.db()
            .write(move |tx| {
                tx.execute("DELETE FROM networks WHERE name = ?1", [&n2])?;
                tx.execute("DELETE FROM ipam WHERE network = ?1", [&n2])?;
                Ok(())
            })
            .await?;
        // The bridge was kept up for speed; with the network gone it goes too.
        let bridge = net.network_interface.clone();
        let keepers = self.bridge_keepers().clone();
        let _ = tokio::task::spawn_blocking(move || keepers.drop_bridge(&bridge)).await;
        self.emit_network("remove", &net);
        Ok(net)
    }

    /// The subnets new networks may take, in order: those of containers.conf's
    /// `default_subnet_pools` (each `base` cut into `/size` subnets), else Podman's default
    /// pool 10.89.0.0/16 in /24s.
    fn subnet_candidates(&self) -> Vec<String> {
        let pools = &self.options().conf.network.default_subnet_pools;
        let pools: Vec<(String, u8)> = if pools.is_empty() {
            vec![("10.89.0.0/16".into(), 24)]
        } else {
            pools.iter().map(|p| (p.base.clone(), p.size)).collect()
        };
        let mut out = Vec::new();
        for (base, size) in pools {
            let Some((addr, prefix)) = v4(&base) else {
                continue;
            };
            if u32::from(size) < prefix || size > 30 {
                continue;
            }
            let count = 1u64 << (u32::from(size) - prefix);
            let step = 1u64 << (32 - u32::from(size));
            let start = u64::from(addr) & !((1u64 << (32 - prefix)) - 1);
            for i in 0..count.min(4096) {
                let a = std::net::Ipv4Addr::from((start + i * step) as u32);
                out.push(format!("{a}/{size}"));
            }
        }
        out
    }

    /// Adds and removes a network's upstream DNS servers (libpod `update`); a running
    /// aardvark-dns for it learns them at once.
    pub async fn network_update(
        &self,
        name_or_id: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> Result<()> {
        for (what, list) in [("AddDNSServer", &add), ("RemoveDNSServer", &remove)] {
            if let Some(bad) = list.iter().find(|s| s.parse::<std::net::IpAddr>().is_err()) {
                return Err(Error::InvalidArg(format!(
                    "unable to parse ip {bad} specified in {what}: invalid argument"
                )));
            }
        }
        let mut net = self.network_def(name_or_id).await?;
        if net.name == self.default_network_name() {
            return Err(Error::InvalidArg(format!(
                "default network {} cannot be modified: invalid argument",
                net.name
            )));
        }
        let mut after: Vec<String> = net
            .network_dns_servers
            .iter()
            .filter(|s| !remove.contains(s))
            .cloned()
            .collect();
        for a in add {
            if !after.contains(&a) {
                after.push(a);
            }
        }
        if after == net.network_dns_servers {
            return Ok(());
        }
        net.network_dns_servers = after;
        let json = serde_json::to_string(&net).map_err(|e| Error::Internal(e.to_string()))?;
        let n2 = net.name.clone();
        self.db()
            .write(move |tx| {
                tx.execute(
                    "UPDATE networks SET data = ?1 WHERE name = ?2",
                    [&json, &n2],
                )?;
                Ok(())
            })
            .await?;
        // Only a network with containers on it has an aardvark-dns to tell.
        let running = !self.network_containers(&net).await?.is_empty();
        if net.dns_enabled && running {
            let nv = self.netavark()?;
            let (name, servers) = (net.name.clone(), net.network_dns_servers.clone());
            tokio::task::spawn_blocking(move || nv.update_dns(&name, &servers))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
        }
        Ok(())
    }

    fn emit_network(&self, status: &str, net: &Network) {
        let mut e = crate::events::Event::new(crate::events::EventType::Network, status);
        e.id = net.id.clone();
        e.name = net.name.clone();
        e.network = net.name.clone();
        self.event_bus().emit(e);
    }
}
