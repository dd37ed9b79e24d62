//! Container inspect and list entries in Docker's and libpod's shapes, and the list filters.

use std::collections::BTreeMap;

use api_core::{ApiError, ApiPath, ApiResult, AppState, Query};
use axum::extract::State;
use axum::response::Json;
use engine::containers::config::{Mount, NetMode};
use engine::containers::lifecycle::ContainerRecord;
use engine::containers::ContainerStatus;
use serde_json::{json, Value};

pub(crate) fn rfc3339(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

/// What the renderers need besides the record.
pub(crate) struct Ctx {
    pub default_net: String,
    pub bundle: String,
    pub storage: String,
    pub lowers: Vec<String>,
    pub umask: String,
    pub no_hosts: bool,
    pub volumes: BTreeMap<String, String>,
}

impl Ctx {
    /// `default_net`: the default network's name (callers rendering many records look it up
    /// once).
    pub(crate) async fn for_record(
        st: &AppState,
        r: &ContainerRecord,
        layers: bool,
        default_net: &str,
    ) -> Ctx {
        let paths = st.containers.paths(&r.id);
        let lowers = if layers {
            match st.images.lookup_image(&r.image_id).await {
                Ok(img) => img
                    .layers
                    .iter()
                    .rev()
                    .map(|l| {
                        st.images
                            .layer_dir(&l.chain_id)
                            .join("diff")
                            .display()
                            .to_string()
                    })
                    .collect(),
                Err(_) => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let volumes = r
            .config
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| {
                (
                    m.source.clone(),
                    st.containers
                        .volume_mountpoint(&m.source)
                        .display()
                        .to_string(),
                )
            })
            .collect();
        Ctx {
            default_net: default_net.to_string(),
            bundle: paths.bundle.display().to_string(),
            storage: paths.storage.display().to_string(),
            lowers,
            umask: st.containers.conf().containers.umask.clone(),
            no_hosts: st.containers.conf().containers.no_hosts,
            volumes,
        }
    }
}

fn mount_opts(m: &Mount) -> String {
    let mut o = vec![if m.read_only { "ro" } else { "rw" }.to_string()];
    if m.kind == "bind" {
        if !m
            .options
            .iter()
            .any(|x| x.ends_with("private") || x.ends_with("shared") || x.ends_with("slave"))
        {
            o.push("rprivate".into());
        }
        o.extend(m.options.iter().cloned());
        o.push("rbind".into());
    } else {
        o.extend(m.options.iter().filter(|x| *x != "anonymous").cloned());
    }
    o.join(",")
}

/// The `Mounts` array (binds and volumes; tmpfs are in `HostConfig.Tmpfs`).
fn mounts(r: &ContainerRecord, ctx: &Ctx, libpod: bool) -> Vec<Value> {
    r.config
        .mounts
        .iter()
        .filter(|m| m.kind != "tmpfs")
        .map(|m| {
            let prop = m
                .options
                .iter()
                .find(|x| x.ends_with("private") || x.ends_with("shared") || x.ends_with("slave"))
                .cloned()
                .unwrap_or_else(|| "rprivate".into());
            let mut v = if m.kind == "volume" {
                json!({
                    "Type": "volume", "Name": m.source,
                    "Source": ctx.volumes.get(&m.source).cloned().unwrap_or_default(),
                    "Destination": m.destination, "Driver": "local", "Mode": "",
                    "RW": !m.read_only, "Propagation": "",
                })
            } else {
                json!({
                    "Type": "bind", "Source": m.source, "Destination": m.destination,
                    "Mode": "", "RW": !m.read_only, "Propagation": prop,
                })
            };
            if libpod {
                v["Options"] = json!(["rbind"]);
                if m.kind == "bind" {
                    v["Driver"] = json!("");
                } else {
                    v["Options"] = json!(["nosuid", "nodev", "rbind"]);
                }
            }
            v
        })
        .collect()
}

/// Published ports by `port/proto`: Docker's `NetworkSettings.Ports` (exposed ports with
/// null, host ports as numbers; an unset host IP is `0.0.0.0` on the compat tree, as Docker
/// shows it) or `HostConfig.PortBindings` (only mappings, an unassigned host port as "").
fn port_map(r: &ContainerRecord, settings: bool, libpod: bool) -> Value {
    let mut out = serde_json::Map::new();
    if settings {
        for e in &r.config.expose {
            out.insert(e.clone(), Value::Null);
        }
    }
    for p in &r.config.ports {
        let proto = if p.protocol.is_empty() {
            "tcp"
        } else {
            &p.protocol
        };
        for k in 0..p.range.max(1) {
            let key = format!("{}/{proto}", p.container_port + k);
            let hp = match (p.host_port, settings) {
                (0, true) => "0".to_string(),
                (0, false) => String::new(),
                (h, _) => (h + k).to_string(),
            };
            let ip = if p.host_ip.is_empty() && settings && !libpod {
                "0.0.0.0"
            } else {
                p.host_ip.as_str()
            };
            let entry = json!({"HostIp": ip, "HostPort": hp});
            match out.get_mut(&key) {
                Some(Value::Array(a)) => a.push(entry),
                _ => {
                    out.insert(key, json!([entry]));
                }
            }
        }
    }
    Value::Object(out)
}

/// The networks the container is (or will be) on, with netavark's status when running.
fn networks(r: &ContainerRecord, ctx: &Ctx) -> (Value, Value) {
    let mut nets = serde_json::Map::new();
    let mut primary = json!({"Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""});
    if !matches!(r.config.net, NetMode::Bridge) {
        return (Value::Object(nets), primary);
    }
    let mut names: Vec<String> = r.config.networks.keys().cloned().collect();
    if names.is_empty() {
        names.push(ctx.default_net.clone());
    }
    for name in names {
        let att = r.config.networks.get(&name).cloned().unwrap_or_default();
        let st = &r.network_status[&name];
        let mut ip = String::new();
        let mut prefix = 0;
        let mut gw = String::new();
        let mut mac = String::new();
        let (mut ip6, mut prefix6, mut gw6) = (String::new(), 0, String::new());
        if let Some(ifs) = st["interfaces"].as_object() {
            if let Some(i) = ifs.values().next() {
                mac = i["mac_address"].as_str().unwrap_or_default().to_string();
                for sn in i["subnets"].as_array().into_iter().flatten() {
                    let ipnet = sn["ipnet"].as_str().unwrap_or_default();
                    let (a, p) = ipnet.split_once('/').unwrap_or((ipnet, "0"));
                    let p = p.parse::<u32>().unwrap_or(0);
                    let g = sn["gateway"].as_str().unwrap_or_default().to_string();
                    if a.contains(':') {
                        if ip6.is_empty() {
                            (ip6, prefix6, gw6) = (a.to_string(), p, g);
                        }
                    } else if ip.is_empty() {
                        (ip, prefix, gw) = (a.to_string(), p, g);
                    }
                }
            }
        }
        let mut aliases = att.aliases.clone();
        if r.is_running() || r.status == ContainerStatus::Created {
            aliases.push(r.id[..12].to_string());
        }
        let v = json!({
            "IPAMConfig": null, "Links": null, "Aliases": if aliases.is_empty() { Value::Null } else { json!(aliases) },
            "NetworkID": name, "EndpointID": "", "Gateway": gw, "IPAddress": ip,
            "IPPrefixLen": prefix, "IPv6Gateway": gw6, "GlobalIPv6Address": ip6,
            "GlobalIPv6PrefixLen": prefix6, "MacAddress": mac, "DriverOpts": null,
        });
        if primary["IPAddress"] == "" && !ip.is_empty() {
            primary =
                json!({"Gateway": gw, "IPAddress": ip, "IPPrefixLen": prefix, "MacAddress": mac});
        }
        nets.insert(name, v);
    }
    (Value::Object(nets), primary)
}

fn healthcheck(r: &ContainerRecord) -> Value {
    r.config.healthcheck.clone().unwrap_or(Value::Null)
}

/// Docker's or libpod's inspect document.
pub(crate) fn inspect_doc(r: &ContainerRecord, ctx: &Ctx, libpod: bool) -> Value {
    let initialized = r.is_running() || r.status == ContainerStatus::Created;
    let path_if = |p: &str| {
        if initialized || r.started_at.is_some() {
            format!("{}/{p}", ctx.bundle)
        } else {
            String::new()
        }
    };
    let hosts_path = if ctx.no_hosts {
        String::new()
    } else {
        path_if("hosts")
    };
    let (nets, primary) = networks(r, ctx);
    let sandbox = r.netns.clone().unwrap_or_default();
    let mut net_settings = json!({
        "Bridge": "", "SandboxID": "", "HairpinMode": false, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": port_map(r, true, libpod), "SandboxKey": sandbox,
        "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null, "EndpointID": "",
        "Gateway": primary["Gateway"], "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": primary["IPAddress"], "IPPrefixLen": primary["IPPrefixLen"],
        "IPv6Gateway": "", "MacAddress": primary["MacAddress"], "Networks": nets,
    });
    if libpod {
        if let Some(o) = net_settings.as_object_mut() {
            o.remove("SecondaryIPAddresses");
            o.remove("SecondaryIPv6Addresses");
        }
    }
    let binds: Vec<String> = r
        .config
        .mounts
        .iter()
        .filter(|m| {
            m.kind == "bind" || (m.kind == "volume" && !m.options.iter().any(|o| o == "anonymous"))
        })
        .map(|m| format!("{}:{}:{}", m.source, m.destination, mount_opts(m)))
        .collect();
    let tmpfs: BTreeMap<String, String> = r
        .config
        .mounts
        .iter()
        .filter(|m| m.kind == "tmpfs")
        .map(|m| (m.destination.clone(), m.options.join(",")))
        .collect();
    let res = &r.config.resources;
    let swap = if res.memory > 0 && res.memory_swap == 0 {
        res.memory * 2
    } else {
        res.memory_swap
    };
    let ulimits: Vec<Value> = r
        .config
        .ulimits
        .iter()
        .filter_map(|u| {
            let (n, v) = u.split_once('=')?;
            let (soft, hard) = v.split_once(':').unwrap_or((v, v));
            Some(json!({"Name": format!("RLIMIT_{}", n.to_ascii_uppercase()), "Soft": soft.parse::<i64>().unwrap_or(0), "Hard": hard.parse::<i64>().unwrap_or(0)}))
        })
        .collect();
    let mut host_config = json!({
        "Binds": binds,
        "ContainerIDFile": "",
        "LogConfig": {"Type": if libpod { "k8s-file" } else { "json-file" }, "Config": null},
        "NetworkMode": r.config.net.docker_name(r.config.networks.keys().next().map(String::as_str)),
        "PortBindings": port_map(r, false, libpod),
        "RestartPolicy": {"Name": r.config.restart.name, "MaximumRetryCount": r.config.restart.max_retry},
        "AutoRemove": r.config.auto_remove,
        "VolumeDriver": "", "VolumesFrom": null,
        "CapAdd": r.config.cap_add, "CapDrop": r.config.cap_drop,
        "CgroupnsMode": "",
        "Dns": r.config.dns, "DnsOptions": r.config.dns_options, "DnsSearch": r.config.dns_search,
        "ExtraHosts": r.config.extra_hosts, "GroupAdd": r.config.group_add,
        "IpcMode": "shareable", "Cgroup": "", "Links": null,
        "OomScoreAdj": r.config.oom_score_adj.unwrap_or(0),
        "PidMode": "private", "Privileged": r.config.privileged,
        "PublishAllPorts": r.config.publish_all, "ReadonlyRootfs": r.config.read_only,
        "SecurityOpt": r.config.security_opt, "Tmpfs": tmpfs,
        "UTSMode": "private", "UsernsMode": "",
        "ShmSize": r.config.shm_size.unwrap_or(65_536_000), "Runtime": "oci",
        "ConsoleSize": [0, 0], "Isolation": "",
        "CpuShares": res.cpu_shares, "Memory": res.memory, "NanoCpus": res.nano_cpus,
        "CgroupParent": "", "BlkioWeight": res.blkio_weight, "BlkioWeightDevice": null,
        "BlkioDeviceReadBps": null, "BlkioDeviceWriteBps": null,
        "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null,
        "CpuPeriod": res.cpu_period, "CpuQuota": res.cpu_quota,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": res.cpuset_cpus, "CpusetMems": res.cpuset_mems,
        "Devices": r.config.devices.iter().map(|d| json!({"PathOnHost": d.path_on_host, "PathInContainer": if d.path_in_container.is_empty() { &d.path_on_host } else { &d.path_in_container }, "CgroupPermissions": if d.permissions.is_empty() { "rwm" } else { &d.permissions }})).collect::<Vec<_>>(),
        "DeviceCgroupRules": null, "DeviceRequests": null,
        "KernelMemory": 0, "KernelMemoryTCP": 0,
        "MemoryReservation": res.memory_reservation, "MemorySwap": swap,
        "MemorySwappiness": res.memory_swappiness.unwrap_or(-1),
        "OomKillDisable": res.oom_kill_disable,
        "PidsLimit": res.pids_limit.unwrap_or(0),
        "Ulimits": ulimits,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": null, "ReadonlyPaths": null,
        "Init": r.config.init,
    });
    let status = if libpod {
        r.status.libpod_name()
    } else {
        r.status.docker_name()
    };
    let mut state = json!({
        "Status": status,
        "Running": r.status == ContainerStatus::Running || r.status == ContainerStatus::Paused || r.status == ContainerStatus::Stopping,
        "Paused": r.status == ContainerStatus::Paused,
        "Restarting": false,
        "OOMKilled": r.oom_killed,
        "Dead": false,
        "Pid": r.pid,
        "ExitCode": r.exit_code,
        "Error": r.error,
        "StartedAt": rfc3339(r.started_at),
        "FinishedAt": rfc3339(r.finished_at),
        "Health": match &r.health {
            Some(h) => json!(h),
            None => json!({"Status": "", "FailingStreak": 0, "Log": null}),
        },
    });
    let lowers = ctx.lowers.join(":");
    let graph = json!({
        "Name": "overlay",
        "Data": {
            "LowerDir": lowers,
            "MergedDir": format!("{}/merged", ctx.storage),
            "UpperDir": format!("{}/diff", ctx.storage),
            "WorkDir": format!("{}/work", ctx.storage),
        }
    });
    let mut cfg = json!({
        "Hostname": r.hostname, "Domainname": r.config.domainname, "User": r.user,
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": r.tty, "OpenStdin": r.config.open_stdin, "StdinOnce": r.config.stdin_once,
        "Env": r.env, "Cmd": r.cmd,
        "Image": if r.config.raw_image_name.is_empty() { r.image.clone() } else { r.config.raw_image_name.clone() },
        "Volumes": if r.config.volumes.is_empty() { Value::Null } else { Value::Object(r.config.volumes.iter().map(|v| (v.clone(), json!({}))).collect()) },
        "WorkingDir": r.cwd,
        "Entrypoint": r.entrypoint,
        "OnBuild": null,
        "Labels": r.labels,
        "StopSignal": r.stop_signal.to_string(),
        "StopTimeout": r.stop_timeout(),
    });
    if !r.config.expose.is_empty() || !r.config.ports.is_empty() {
        let mut ep = serde_json::Map::new();
        for e in &r.config.expose {
            ep.insert(e.clone(), json!({}));
        }
        for p in &r.config.ports {
            ep.insert(
                format!(
                    "{}/{}",
                    p.container_port,
                    if p.protocol.is_empty() {
                        "tcp"
                    } else {
                        &p.protocol
                    }
                ),
                json!({}),
            );
        }
        cfg["ExposedPorts"] = Value::Object(ep);
    }
    let hc = healthcheck(r);
    if !hc.is_null() {
        cfg["Healthcheck"] = hc;
    }
    let mut doc = json!({
        "Id": r.id,
        "Created": rfc3339(Some(r.created)),
        "Path": r.command.first().cloned().unwrap_or_default(),
        "Args": r.command.iter().skip(1).collect::<Vec<_>>(),
        "State": state.clone(),
        "Image": if libpod { r.image_id.clone() } else { format!("sha256:{}", r.image_id) },
        "ResolvConfPath": path_if("resolv.conf"),
        "HostnamePath": path_if("hostname"),
        "HostsPath": hosts_path,
        "LogPath": format!("{}/ctr.log", ctx.storage),
        "Name": if libpod { r.name.clone() } else { format!("/{}", r.name) },
        "RestartCount": r.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": [],
        "HostConfig": host_config.clone(),
        "GraphDriver": graph,
        "SizeRootFs": 0,
        "Mounts": mounts(r, ctx, libpod),
        "Config": cfg.clone(),
        "NetworkSettings": net_settings,
    });
    if libpod {
        if let Some(s) = state.as_object_mut() {
            s.insert("OciVersion".into(), json!("1.0.2-dev"));
            s.insert("ConmonPid".into(), json!(r.conmon_pid));
            s.insert(
                "CgroupPath".into(),
                json!(format!("/libpod_parent/libpod-{}", r.id)),
            );
            s.insert("CheckpointedAt".into(), json!("0001-01-01T00:00:00Z"));
            s.insert("RestoredAt".into(), json!("0001-01-01T00:00:00Z"));
        }
        doc["State"] = state;
        doc["ImageDigest"] = json!("");
        doc["ImageName"] = json!(r.image);
        doc["Rootfs"] = json!("");
        doc["Pod"] = json!(r.pod_id.clone().unwrap_or_default());
        doc["StaticDir"] = json!(ctx.storage);
        doc["OCIConfigPath"] = json!(format!("{}/config.json", ctx.bundle));
        doc["OCIRuntime"] = json!("runc");
        doc["ConmonPidFile"] = json!(format!("{}/conmon.pid", ctx.bundle));
        doc["PidFile"] = json!(format!("{}/pidfile", ctx.bundle));
        doc["Dependencies"] = json!([]);
        doc["Namespace"] = json!("");
        doc["IsInfra"] = json!(r.config.is_infra);
        doc["IsService"] = json!(false);
        doc["EffectiveCaps"] = json!([]);
        doc["BoundingCaps"] = json!([]);
        if let Some(o) = doc.as_object_mut() {
            o.remove("Platform");
            o.remove("SizeRootFs");
        }
        host_config["CgroupManager"] = json!("cgroupfs");
        host_config["CgroupMode"] = json!("host");
        host_config["Cgroups"] = json!("default");
        host_config["LogConfig"] = json!({"Type": "k8s-file", "Config": null, "Path": format!("{}/ctr.log", ctx.storage), "Tag": "", "Size": "0B"});
        doc["HostConfig"] = host_config;
        cfg["StopSignal"] = json!(r.stop_signal);
        cfg["Umask"] = json!(if ctx.umask.is_empty() {
            "0022"
        } else {
            &ctx.umask
        });
        cfg["Annotations"] = json!(r.config.annotations);
        cfg["CreateCommand"] = Value::Null;
        cfg["Timeout"] = json!(0);
        cfg["Passwd"] = json!(true);
        cfg["sdNotifyMode"] = json!("container");
        cfg["Entrypoint"] = json!(r.entrypoint.join(" "));
        doc["Config"] = cfg;
    }
    doc
}

/// `GET /containers/{name}/json` and `/libpod/containers/{name}/json`.
pub(crate) async fn inspect(
    State(st): State<AppState>,
    axum::extract::Extension(ver): axum::extract::Extension<api_core::ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let _ = q.bool_or("size", false)?;
    let r = st.containers.inspect(&name).await?;
    let ctx = Ctx::for_record(&st, &r, true, &st.containers.default_network().name).await;
    Ok(Json(inspect_doc(&r, &ctx, ver.libpod)))
}

/// Docker's human status: `Up 3 seconds`, `Exited (5) 2 minutes ago`, `Created`.
pub(crate) fn status_text(c: &ContainerRecord) -> String {
    use ContainerStatus as S;
    let ago = |t: Option<chrono::DateTime<chrono::Utc>>| {
        let secs = t
            .map(|t| (chrono::Utc::now() - t).num_seconds().max(0))
            .unwrap_or(0);
        match secs {
            0 => "Less than a second".to_string(),
            1 => "1 second".to_string(),
            s if s < 60 => format!("{s} seconds"),
            s if s < 120 => "About a minute".to_string(),
            s if s < 3600 => format!("{} minutes", s / 60),
            s if s < 7200 => "About an hour".to_string(),
            s if s < 48 * 3600 => format!("{} hours", s / 3600),
            s => format!("{} days", s / 86400),
        }
    };
    let health = match c.health.as_ref().map(|h| h.status.as_str()) {
        Some("starting") => " (health: starting)",
        Some("healthy") => " (healthy)",
        Some("unhealthy") => " (unhealthy)",
        _ => "",
    };
    match c.status {
        S::Running | S::Stopping => format!("Up {}{health}", ago(c.started_at)),
        S::Paused => format!("Up {} (Paused)", ago(c.started_at)),
        S::Exited | S::Stopped => format!("Exited ({}) {} ago", c.exit_code, ago(c.finished_at)),
        S::Removing => "Removal In Progress".to_string(),
        _ => "Created".to_string(),
    }
}

/// One entry of `GET /containers/json`.
pub(crate) fn compat_list_entry(r: &ContainerRecord, ctx: &Ctx) -> Value {
    let ports: Vec<Value> = r
        .config
        .ports
        .iter()
        .flat_map(|p| {
            (0..p.range.max(1)).map(move |k| {
                let mut v = json!({"PrivatePort": p.container_port + k, "Type": if p.protocol.is_empty() { "tcp" } else { &p.protocol }});
                if p.host_port != 0 {
                    v["PublicPort"] = json!(p.host_port + k);
                    v["IP"] = json!(if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip });
                }
                v
            })
        })
        .collect();
    let (nets, _) = networks(r, ctx);
    json!({
        "Id": r.id, "Names": [format!("/{}", r.name)], "Image": r.image,
        "ImageID": format!("sha256:{}", r.image_id),
        "Command": r.command.join(" "),
        "Created": r.created.timestamp(), "Ports": ports, "Labels": r.labels,
        "State": r.status.docker_name(), "Status": status_text(r),
        "HostConfig": {"NetworkMode": r.config.net.docker_name(r.config.networks.keys().next().map(String::as_str))},
        "NetworkSettings": {"Networks": nets},
        "Mounts": mounts(r, ctx, false),
        "SizeRw": 0, "SizeRootFs": 0,
    })
}

/// One entry of `GET /libpod/containers/json`.
pub(crate) fn libpod_list_entry(r: &ContainerRecord, ctx: &Ctx) -> Value {
    let mut nets: Vec<String> = Vec::new();
    if r.config.net == NetMode::Bridge {
        nets = r.config.networks.keys().cloned().collect();
        if nets.is_empty() {
            nets.push(ctx.default_net.clone());
        }
    }
    let ports: Vec<Value> = r
        .config
        .ports
        .iter()
        .map(|p| json!({"host_ip": p.host_ip, "container_port": p.container_port, "host_port": p.host_port, "range": p.range.max(1), "protocol": if p.protocol.is_empty() { "tcp" } else { &p.protocol }}))
        .collect();
    let exited = matches!(r.status, ContainerStatus::Exited | ContainerStatus::Stopped);
    json!({
        "AutoRemove": r.config.auto_remove,
        "Command": r.command,
        "Created": rfc3339(Some(r.created)),
        "CreatedAt": "",
        "Exited": exited,
        "ExitedAt": r.finished_at.map(|t| t.timestamp()).unwrap_or(-62135596800i64),
        "ExitCode": r.exit_code,
        "Id": r.id,
        "Image": r.image,
        "ImageID": r.image_id,
        "IsInfra": r.config.is_infra,
        "Labels": if r.labels.is_empty() { Value::Null } else { json!(r.labels) },
        "Mounts": r.config.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
        "Names": [r.name],
        "Namespaces": {},
        "Networks": nets,
        "Pid": r.pid,
        "Pod": r.pod_id.clone().unwrap_or_default(),
        "PodName": "",
        "Ports": if ports.is_empty() { Value::Null } else { json!(ports) },
        "Restarts": r.restart_count,
        "Size": null,
        "StartedAt": r.started_at.map(|t| t.timestamp()).unwrap_or(-62135596800i64),
        "State": r.status.libpod_name(),
        "Status": "",
    })
}

/// A list filter, checked per record.
pub(crate) fn matches_filters(
    r: &ContainerRecord,
    filters: &BTreeMap<String, Vec<String>>,
    all: &[ContainerRecord],
    ctx_net: &str,
) -> ApiResult<bool> {
    for (key, vals) in filters {
        if vals.is_empty() {
            continue;
        }
        let ok = match key.as_str() {
            "id" => vals.iter().any(|v| r.id.starts_with(v.as_str())),
            "name" => vals.iter().any(|v| {
                let v = v.trim_start_matches('/');
                api_core::query::name_matches(v, &r.name)
            }),
            "label" => vals
                .iter()
                .all(|v| api_core::query::label_matches(&r.labels, v)),
            "label!" => vals
                .iter()
                .all(|v| !api_core::query::label_matches(&r.labels, v)),
            "status" => {
                let mut any = false;
                for v in vals {
                    let known = [
                        "created",
                        "running",
                        "paused",
                        "exited",
                        "stopped",
                        "removing",
                        "stopping",
                        "dead",
                        "configured",
                        "restarting",
                        "initialized",
                        "unknown",
                    ];
                    if !known.contains(&v.as_str()) {
                        return Err(ApiError::with_cause(
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "invalid argument".to_string(),
                            format!("{v} is not a valid status: invalid argument"),
                        ));
                    }
                    let s = r.status;
                    any |= match v.as_str() {
                        "created" => {
                            matches!(s, ContainerStatus::Configured | ContainerStatus::Created)
                        }
                        "exited" | "stopped" => {
                            matches!(s, ContainerStatus::Exited | ContainerStatus::Stopped)
                        }
                        "running" => s == ContainerStatus::Running,
                        "paused" => s == ContainerStatus::Paused,
                        "removing" => s == ContainerStatus::Removing,
                        "stopping" => s == ContainerStatus::Stopping,
                        "initialized" => s == ContainerStatus::Created,
                        "configured" => s == ContainerStatus::Configured,
                        _ => false,
                    };
                }
                any
            }
            "exited" => vals.iter().any(|v| {
                matches!(r.status, ContainerStatus::Exited | ContainerStatus::Stopped)
                    && v.parse::<i32>().ok() == Some(r.exit_code)
            }),
            "ancestor" => vals.iter().any(|v| {
                let v = v.as_str();
                r.image == v
                    || r.image_id.starts_with(v.trim_start_matches("sha256:"))
                    || r.config.raw_image_name == v
                    || r.image.ends_with(&format!("/{v}"))
                    || r.image.ends_with(&format!("/{v}:latest"))
                    || r.image
                        .split('/')
                        .next_back()
                        .map(|x| x.split(':').next() == Some(v))
                        .unwrap_or(false)
            }),
            "before" | "since" => {
                let mut ok = true;
                for v in vals {
                    let other = all
                        .iter()
                        .find(|o| o.id == *v || o.name == *v || o.id.starts_with(v.as_str()))
                        .ok_or_else(|| ApiError::from(engine::Error::NoSuchContainer(v.clone())))?;
                    ok &= if key == "before" {
                        r.created < other.created
                    } else {
                        r.created > other.created
                    };
                }
                ok
            }
            "volume" => vals.iter().any(|v| {
                r.config
                    .mounts
                    .iter()
                    .any(|m| m.source == *v || m.destination == *v)
            }),
            "network" => vals.iter().any(|v| {
                r.config.net == NetMode::Bridge
                    && (r.config.networks.contains_key(v)
                        || (r.config.networks.is_empty() && (v == ctx_net || v == "bridge")))
            }),
            "pod" => vals.iter().any(|v| {
                r.pod_id
                    .as_deref()
                    .is_some_and(|p| p.starts_with(v.as_str()))
            }),
            "health" => vals.iter().any(|v| match &r.health {
                Some(h) => h.status == *v,
                None => v == "none",
            }),
            "expose" | "publish" => vals.iter().any(|v| {
                let (port, proto) = v.split_once('/').unwrap_or((v, "tcp"));
                let want: u16 = port
                    .split('-')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                if key == "expose" {
                    r.config
                        .expose
                        .iter()
                        .any(|e| e == &format!("{want}/{proto}"))
                        || r.config.ports.iter().any(|p| p.container_port == want)
                } else {
                    r.config
                        .ports
                        .iter()
                        .any(|p| p.host_port == want || p.container_port == want)
                }
            }),
            "restart-policy" => vals.iter().any(|v| {
                r.config.restart.name == *v || (v == "no" && r.config.restart.name.is_empty())
            }),
            "is-task" => true,
            "until" => {
                let mut ok = true;
                for v in vals {
                    let t = api_core::time::parse_time_param("until", v)?;
                    ok &= r.created < t;
                }
                ok
            }
            other => {
                return Err(ApiError::with_cause(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{other} is an invalid filter"),
                    format!("{other} is an invalid filter"),
                ))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}
