//! Container create on both trees: Docker's `ContainerConfig` + `HostConfig` +
//! `NetworkingConfig` (keys matched case-insensitively, as Go's JSON decoder does) and
//! libpod's `SpecGenerator`, both translated into the engine's [`ContainerConfig`].

use std::collections::BTreeMap;

use api_core::{ApiError, ApiResult, AppState, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use engine::containers::config::{
    self, ContainerConfig, Device, Mount, NetAttach, NetMode, PortMapping, Resources,
    RestartPolicy, SecretRef,
};
use engine::containers::lifecycle::ContainerCreate;
use serde_json::{json, Value};

pub(crate) use engine::json::field;

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn b(v: &Value) -> bool {
    v.as_bool().unwrap_or(false)
}

fn i(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

/// A string list that may also arrive as one string (`"Cmd": "ls -l"`) or null.
fn list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => Some(a.iter().map(s).collect()),
        Value::String(x) if !x.is_empty() => Some(x.split_whitespace().map(String::from).collect()),
        _ => None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    list(v).unwrap_or_default()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().map(|(k, x)| (k.clone(), s(x))).collect())
        .unwrap_or_default()
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(msg)
}

/// Parses `80`, `80/tcp`, `8000-8010/udp` into (first port, range, protocol).
fn parse_port(p: &str) -> ApiResult<(u16, u16, String)> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let (a, bnd) = num.split_once('-').unwrap_or((num, num));
    let a: u16 = a.parse().map_err(|_| bad(format!("invalid port {p:?}")))?;
    let z: u16 = bnd
        .parse()
        .map_err(|_| bad(format!("invalid port {p:?}")))?;
    Ok((a, z.saturating_sub(a) + 1, proto.to_string()))
}

/// Docker `Binds` entry: `src:dst[:opts]` (named volume when `src` is not a path).
fn parse_bind(bind: &str) -> ApiResult<Mount> {
    let parts: Vec<&str> = bind.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [a, b2] => (*a, *b2, ""),
        [a, b2, o] => (*a, *b2, *o),
        _ => return Err(bad(format!("invalid volume specification: {bind:?}"))),
    };
    if !dst.starts_with('/') {
        return Err(bad(format!(
            "invalid container path {dst:?}, must be an absolute path"
        )));
    }
    let options: Vec<String> = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect();
    let read_only = options.iter().any(|o| o == "ro");
    let options = options
        .into_iter()
        .filter(|o| o != "ro" && o != "rw")
        .collect();
    let kind = if src.is_empty() {
        "volume"
    } else if src.starts_with('/') || src.starts_with('.') {
        "bind"
    } else {
        "volume"
    };
    let mut m = Mount {
        kind: kind.into(),
        source: src.into(),
        destination: dst.into(),
        options,
        read_only,
    };
    if src.is_empty() {
        m.options.push("anonymous".into());
        m.source = engine::ids::new_id();
    }
    Ok(m)
}

/// The tmpfs options Podman stores for `--tmpfs /x:opts`.
fn tmpfs_options(opts: &str) -> Vec<String> {
    let mut o: Vec<String> = opts
        .split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect();
    if !o.iter().any(|x| x == "ro" || x == "rw") {
        o.insert(0, "rw".into());
    }
    for d in ["rprivate", "nosuid", "nodev", "tmpcopyup"] {
        if !o.iter().any(|x| {
            x == d
                || (d == "nosuid" && x == "suid")
                || (d == "nodev" && x == "dev")
                || (d == "tmpcopyup" && x == "notmpcopyup")
        }) {
            o.push(d.into());
        }
    }
    o
}

/// Docker's healthcheck with its defaults filled in (30 s interval and timeout, 3 retries).
fn healthcheck_defaults(h: &Value) -> Option<Value> {
    let mut h = h.as_object()?.clone();
    for (k, d) in [
        ("Interval", json!(30_000_000_000i64)),
        ("Timeout", json!(30_000_000_000i64)),
        ("Retries", json!(3)),
    ] {
        let key = h
            .keys()
            .find(|x| x.eq_ignore_ascii_case(k))
            .cloned()
            .unwrap_or_else(|| k.to_string());
        if h.get(&key).and_then(Value::as_i64).unwrap_or(0) == 0 {
            h.remove(&key);
            h.insert(k.to_string(), d);
        }
    }
    Some(Value::Object(h))
}

/// Translates a Docker create body.
pub(crate) fn compat_config(body: &Value) -> ApiResult<(String, ContainerConfig)> {
    let image = s(field(body, "Image"));
    if image.is_empty() {
        return Err(bad("Config.Image is required"));
    }
    let hc = field(body, "HostConfig");
    let mut c = ContainerConfig {
        compat: true,
        raw_image_name: image.clone(),
        entrypoint: list(field(body, "Entrypoint")).filter(|e| !e.is_empty()),
        cmd: list(field(body, "Cmd")).filter(|e| !e.is_empty()),
        env: strings(field(body, "Env")),
        workdir: Some(s(field(body, "WorkingDir"))).filter(|w| !w.is_empty()),
        user: Some(s(field(body, "User"))).filter(|w| !w.is_empty()),
        tty: b(field(body, "Tty")),
        open_stdin: b(field(body, "OpenStdin")),
        stdin_once: b(field(body, "StdinOnce")),
        hostname: s(field(body, "Hostname")),
        domainname: s(field(body, "Domainname")),
        labels: string_map(field(body, "Labels")),
        stop_signal: Some(s(field(body, "StopSignal"))).filter(|x| !x.is_empty()),
        stop_timeout: field(body, "StopTimeout").as_u64().map(|t| t as u32),
        healthcheck: healthcheck_defaults(field(body, "Healthcheck")),
        auto_remove: b(field(hc, "AutoRemove")),
        init: b(field(hc, "Init")),
        privileged: b(field(hc, "Privileged")),
        read_only: b(field(hc, "ReadonlyRootfs")),
        publish_all: b(field(hc, "PublishAllPorts")),
        cap_add: strings(field(hc, "CapAdd")),
        cap_drop: strings(field(hc, "CapDrop")),
        security_opt: strings(field(hc, "SecurityOpt")),
        dns: strings(field(hc, "Dns")),
        dns_search: strings(field(hc, "DnsSearch")),
        dns_options: strings(field(hc, "DnsOptions")),
        extra_hosts: strings(field(hc, "ExtraHosts")),
        group_add: strings(field(hc, "GroupAdd")),
        sysctls: string_map(field(hc, "Sysctls")),
        shm_size: field(hc, "ShmSize").as_u64().filter(|x| *x > 0),
        oom_score_adj: field(hc, "OomScoreAdj").as_i64().map(|x| x as i32),
        ..Default::default()
    };
    if let Some(st) = &c.stop_signal {
        config::parse_signal(st).map_err(ApiError::from)?;
    }
    if let Some(p) = field(body, "ExposedPorts").as_object() {
        for k in p.keys() {
            let (port, _, proto) = parse_port(k)?;
            c.expose.push(format!("{port}/{proto}"));
        }
    }
    if let Some(v) = field(body, "Volumes").as_object() {
        c.volumes = v.keys().cloned().collect();
    }
    // Restart policy.
    let rp = field(hc, "RestartPolicy");
    if rp.is_object() {
        c.restart = RestartPolicy {
            name: s(field(rp, "Name")),
            max_retry: i(field(rp, "MaximumRetryCount")).max(0) as u32,
        };
    }
    // Mounts: Binds, Mounts, Tmpfs.
    for bind in strings(field(hc, "Binds")) {
        let m = parse_bind(&bind)?;
        // Docker creates a missing bind source for the legacy Binds form.
        if m.kind == "bind" && !std::path::Path::new(&m.source).exists() {
            std::fs::create_dir_all(&m.source).map_err(|e| {
                ApiError::internal(format!("creating bind source {}: {e}", m.source))
            })?;
        }
        c.volumes
            .retain(|v| v.trim_end_matches('/') != m.destination.trim_end_matches('/'));
        c.mounts.push(m);
    }
    if let Some(ms) = field(hc, "Mounts").as_array() {
        for m in ms {
            let kind = s(field(m, "Type")).to_ascii_lowercase();
            let target = s(field(m, "Target"));
            if target.is_empty() {
                return Err(bad("Mount.Target is required"));
            }
            let ro = b(field(m, "ReadOnly"));
            let mut mount = Mount {
                kind: kind.clone(),
                source: s(field(m, "Source")),
                destination: target.clone(),
                options: Vec::new(),
                read_only: ro,
            };
            match kind.as_str() {
                "bind" => {
                    let prop = s(field(field(m, "BindOptions"), "Propagation"));
                    if !prop.is_empty() {
                        mount.options.push(prop);
                    }
                }
                "tmpfs" => {
                    let to = field(m, "TmpfsOptions");
                    let mut o = Vec::new();
                    if let Some(size) = field(to, "SizeBytes").as_i64().filter(|x| *x > 0) {
                        o.push(format!("size={size}"));
                    }
                    if let Some(mode) = field(to, "Mode").as_u64().filter(|x| *x > 0) {
                        o.push(format!("mode={mode:o}"));
                    }
                    if ro {
                        o.push("ro".into());
                    }
                    mount.options = tmpfs_options(&o.join(","));
                    mount.source = "tmpfs".into();
                }
                "volume" => {
                    if mount.source.is_empty() {
                        mount.source = engine::ids::new_id();
                        mount.options.push("anonymous".into());
                    }
                }
                other => return Err(bad(format!("unsupported mount type {other:?}"))),
            }
            c.volumes
                .retain(|v| v.trim_end_matches('/') != target.trim_end_matches('/'));
            c.mounts.push(mount);
        }
    }
    for (dst, opts) in string_map(field(hc, "Tmpfs")) {
        c.mounts.push(Mount {
            kind: "tmpfs".into(),
            source: "tmpfs".into(),
            destination: dst,
            options: tmpfs_options(&opts),
            read_only: false,
        });
    }
    // Resources.
    c.resources = Resources {
        memory: i(field(hc, "Memory")),
        memory_swap: i(field(hc, "MemorySwap")),
        memory_reservation: i(field(hc, "MemoryReservation")),
        memory_swappiness: field(hc, "MemorySwappiness").as_i64(),
        nano_cpus: i(field(hc, "NanoCpus")),
        cpu_shares: i(field(hc, "CpuShares")).max(0) as u64,
        cpu_period: i(field(hc, "CpuPeriod")).max(0) as u64,
        cpu_quota: i(field(hc, "CpuQuota")),
        cpuset_cpus: s(field(hc, "CpusetCpus")),
        cpuset_mems: s(field(hc, "CpusetMems")),
        pids_limit: field(hc, "PidsLimit").as_i64().filter(|p| *p != 0),
        blkio_weight: i(field(hc, "BlkioWeight")).clamp(0, u16::MAX as i64) as u16,
        oom_kill_disable: b(field(hc, "OomKillDisable")),
    };
    if c.resources.memory > 0 && c.resources.memory < 6 * 1024 * 1024 {
        return Err(bad("Minimum memory limit allowed is 6MB"));
    }
    for u in field(hc, "Ulimits").as_array().into_iter().flatten() {
        let name = s(field(u, "Name"));
        let name = name.trim_start_matches("RLIMIT_").to_ascii_lowercase();
        c.ulimits.push(format!(
            "{name}={}:{}",
            i(field(u, "Soft")),
            i(field(u, "Hard"))
        ));
    }
    for d in field(hc, "Devices").as_array().into_iter().flatten() {
        c.devices.push(Device {
            path_on_host: s(field(d, "PathOnHost")),
            path_in_container: s(field(d, "PathInContainer")),
            permissions: s(field(d, "CgroupPermissions")),
        });
    }
    let lc = field(hc, "LogConfig");
    c.log_driver = s(field(lc, "Type"));
    c.log_opts = string_map(field(lc, "Config"));
    // Ports.
    if let Some(pb) = field(hc, "PortBindings").as_object() {
        for (k, binds) in pb {
            let (port, range, proto) = parse_port(k)?;
            let binds = binds.as_array().cloned().unwrap_or_default();
            if binds.is_empty() {
                c.ports.push(PortMapping {
                    host_ip: String::new(),
                    host_port: 0,
                    container_port: port,
                    range,
                    protocol: proto.clone(),
                });
            }
            for bnd in binds {
                let hp = s(field(&bnd, "HostPort"));
                let host_port = if hp.is_empty() { 0 } else { parse_port(&hp)?.0 };
                c.ports.push(PortMapping {
                    host_ip: s(field(&bnd, "HostIp")),
                    host_port,
                    container_port: port,
                    range,
                    protocol: proto.clone(),
                });
            }
        }
    }
    // Network mode and endpoints.
    let mode = s(field(hc, "NetworkMode"));
    c.net = match mode.as_str() {
        "" | "default" => NetMode::Default,
        "bridge" => NetMode::Bridge,
        "host" => NetMode::Host,
        "none" => NetMode::None,
        m if m.starts_with("container:") => NetMode::Container(m[10..].to_string()),
        m if m.starts_with("ns:") => NetMode::Path(m[3..].to_string()),
        m => {
            c.networks.insert(m.to_string(), NetAttach::default());
            NetMode::Bridge
        }
    };
    if let Some(eps) = field(field(body, "NetworkingConfig"), "EndpointsConfig").as_object() {
        for (name, ep) in eps {
            let mut att = NetAttach {
                aliases: strings(field(ep, "Aliases")),
                ..Default::default()
            };
            let ip = s(field(field(ep, "IPAMConfig"), "IPv4Address"));
            let ip = if ip.is_empty() {
                s(field(ep, "IPAddress"))
            } else {
                ip
            };
            if !ip.is_empty() {
                att.static_ips.push(ip);
            }
            let mac = s(field(ep, "MacAddress"));
            if !mac.is_empty() {
                att.static_mac = Some(mac);
            }
            let key = match name.as_str() {
                "default" | "bridge" => {
                    if att == NetAttach::default() {
                        continue;
                    }
                    "podman".to_string()
                }
                n => n.to_string(),
            };
            c.networks.insert(key, att);
        }
    }
    Ok((image, c))
}

/// `POST /containers/create?name=&platform=`.
pub(crate) async fn create(
    State(st): State<AppState>,
    q: Query,
    body: Bytes,
) -> ApiResult<Response> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "decode(): {}",
            api_core::query::go_json_error(&e, &String::from_utf8_lossy(&body))
        ))
    })?;
    if let Some(p) = q.string("platform").filter(|p| !p.is_empty()) {
        check_platform(&st, &s(field(&v, "Image")), &p).await?;
    }
    let (image, config) = compat_config(&v)?;
    created(
        &st,
        ContainerCreate {
            name: q.string("name"),
            image,
            config,
        },
    )
    .await
}

/// A create with `platform` needs a local image of that platform.
async fn check_platform(st: &AppState, image: &str, platform: &str) -> ApiResult<()> {
    let img = st.images.lookup_image(image).await?;
    let want = engine::images::Platform::parse(platform)
        .ok_or_else(|| bad(format!("invalid platform {platform:?}")))?;
    let arch = img.config["architecture"].as_str().unwrap_or("amd64");
    let os = img.config["os"].as_str().unwrap_or("linux");
    let norm = |a: &str| match a {
        "aarch64" => "arm64".to_string(),
        "x86_64" => "amd64".to_string(),
        o => o.to_string(),
    };
    if norm(&want.arch) != norm(arch) || (!want.os.is_empty() && want.os != os) {
        return Err(
            engine::Error::NoSuchImage(format!("{image}: image with platform {platform}")).into(),
        );
    }
    Ok(())
}

/// Creates the container and answers 201 `{"Id","Warnings"}` (both trees).
async fn created(st: &AppState, req: ContainerCreate) -> ApiResult<Response> {
    let rec = st.containers.create(req).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": rec.id, "Warnings": []})),
    )
        .into_response())
}

/// A SpecGenerator `uint32` field (`UID`, `GID`, `Mode` of a secret); absent or null gives
/// `default`.
fn u32_field(v: &Value, key: &str, default: u32) -> ApiResult<u32> {
    let x = field(v, key);
    if x.is_null() {
        return Ok(default);
    }
    x.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            bad(format!(
                "Decode(): json: cannot unmarshal {x} into Go struct field Secret.secrets.{key} of type uint32"
            ))
        })
}

/// The SpecGenerator's `secrets` (`[{Source, Target, UID, GID, Mode}]`, mode 0444 when
/// absent) and `secret_env` (variable → secret name or ID).
fn libpod_secrets(sg: &Value) -> ApiResult<(Vec<SecretRef>, BTreeMap<String, String>)> {
    let mut secrets = Vec::new();
    match field(sg, "secrets") {
        Value::Null => {}
        Value::Array(a) => {
            for x in a {
                if !x.is_object() {
                    return Err(bad(
                        "Decode(): json: cannot unmarshal secrets into Go struct field SpecGenerator.secrets of type specgen.Secret",
                    ));
                }
                let source = s(field(x, "Source"));
                if source.is_empty() {
                    return Err(bad("secret source must not be empty"));
                }
                secrets.push(SecretRef {
                    source,
                    target: s(field(x, "Target")),
                    uid: u32_field(x, "UID", 0)?,
                    gid: u32_field(x, "GID", 0)?,
                    mode: u32_field(x, "Mode", 0o444)?,
                });
            }
        }
        _ => {
            return Err(bad(
                "Decode(): json: cannot unmarshal secrets into Go struct field SpecGenerator.secrets of type []specgen.Secret",
            ))
        }
    }
    let mut env = BTreeMap::new();
    match field(sg, "secret_env") {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                let Some(name) = v.as_str() else {
                    return Err(bad(format!(
                        "Decode(): json: cannot unmarshal {v} into Go struct field SpecGenerator.secret_env of type string"
                    )));
                };
                env.insert(k.clone(), name.to_string());
            }
        }
        _ => {
            return Err(bad(
                "Decode(): json: cannot unmarshal secret_env into Go struct field SpecGenerator.secret_env of type map[string]string",
            ))
        }
    }
    Ok((secrets, env))
}

/// Checks that every secret the container uses exists (Podman fails the create with
/// `no such secret` otherwise) and records each by its name, which later lookups use.
async fn resolve_secrets(st: &AppState, c: &mut ContainerConfig) -> ApiResult<()> {
    for r in &mut c.secrets {
        let (rec, _) = st.secrets.inspect(&r.source, false).await?;
        r.source = rec.name;
    }
    for source in c.secret_env.values_mut() {
        let (rec, _) = st.secrets.inspect(source.as_str(), false).await?;
        *source = rec.name;
    }
    Ok(())
}

/// Translates a libpod `SpecGenerator`.
pub(crate) fn libpod_config(sg: &Value) -> ApiResult<(String, Option<String>, ContainerConfig)> {
    let image = s(field(sg, "image"));
    let rootfs = s(field(sg, "rootfs"));
    if image.is_empty() && rootfs.is_empty() {
        return Err(bad("no image or rootfs provided"));
    }
    let env: Vec<String> = field(sg, "env")
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect())
        .unwrap_or_default();
    let mut c = ContainerConfig {
        raw_image_name: s(field(sg, "raw_image_name")),
        entrypoint: list(field(sg, "entrypoint")).filter(|e| !e.is_empty()),
        cmd: list(field(sg, "command")).filter(|e| !e.is_empty()),
        env,
        workdir: Some(s(field(sg, "work_dir"))).filter(|w| !w.is_empty()),
        user: Some(s(field(sg, "user"))).filter(|w| !w.is_empty()),
        tty: b(field(sg, "terminal")),
        open_stdin: b(field(sg, "stdin")),
        hostname: s(field(sg, "hostname")),
        labels: string_map(field(sg, "labels")),
        annotations: string_map(field(sg, "annotations")),
        auto_remove: b(field(sg, "remove")),
        init: b(field(sg, "init")),
        privileged: b(field(sg, "privileged")),
        read_only: b(field(sg, "read_only_filesystem")),
        publish_all: b(field(sg, "publish_image_ports")),
        cap_add: strings(field(sg, "cap_add")),
        cap_drop: strings(field(sg, "cap_drop")),
        group_add: strings(field(sg, "groups")),
        sysctls: string_map(field(sg, "sysctl")),
        shm_size: field(sg, "shm_size").as_u64().filter(|x| *x > 0),
        stop_timeout: field(sg, "stop_timeout").as_u64().map(|t| t as u32),
        stop_signal: field(sg, "stop_signal")
            .as_i64()
            .filter(|x| *x > 0)
            .map(|x| x.to_string()),
        healthcheck: Some(field(sg, "healthconfig").clone()).filter(|h| h.is_object()),
        pod: Some(s(field(sg, "pod"))).filter(|p| !p.is_empty()),
        oom_score_adj: field(sg, "oom_score_adj").as_i64().map(|x| x as i32),
        ..Default::default()
    };
    if b(field(sg, "no_new_privileges")) {
        c.security_opt.push("no-new-privileges".into());
    }
    if !s(field(sg, "restart_policy")).is_empty() {
        c.restart = RestartPolicy {
            name: s(field(sg, "restart_policy")),
            max_retry: field(sg, "restart_tries").as_u64().unwrap_or(0) as u32,
        };
    }
    for p in field(sg, "expose").as_object().into_iter().flatten() {
        c.expose.push(format!("{}/{}", p.0, s(p.1)));
    }
    for m in field(sg, "mounts").as_array().into_iter().flatten() {
        let kind = s(&m["type"]);
        let options = strings(&m["options"]);
        let read_only = options.iter().any(|o| o == "ro");
        let dest = s(&m["destination"]);
        let mount = if kind == "tmpfs" {
            Mount {
                kind,
                source: "tmpfs".into(),
                destination: dest,
                options: tmpfs_options(&options.join(",")),
                read_only,
            }
        } else {
            Mount {
                kind: if kind.is_empty() { "bind".into() } else { kind },
                source: s(&m["source"]),
                destination: dest,
                options: options
                    .into_iter()
                    .filter(|o| o != "ro" && o != "rw")
                    .collect(),
                read_only,
            }
        };
        c.mounts.push(mount);
    }
    for v in field(sg, "volumes").as_array().into_iter().flatten() {
        let options = strings(&v["Options"]);
        let read_only = options.iter().any(|o| o == "ro");
        let name = s(&v["Name"]);
        let mut m = Mount {
            kind: "volume".into(),
            source: name.clone(),
            destination: s(&v["Dest"]),
            options: options
                .into_iter()
                .filter(|o| o != "ro" && o != "rw")
                .collect(),
            read_only,
        };
        if name.is_empty() {
            m.source = engine::ids::new_id();
            m.options.push("anonymous".into());
        }
        c.mounts.push(m);
    }
    for v in field(sg, "image_volumes").as_array().into_iter().flatten() {
        c.volumes.push(s(&v["Destination"]));
    }
    let r = field(sg, "resource_limits");
    if r.is_object() {
        let mem = &r["memory"];
        let cpu = &r["cpu"];
        c.resources = Resources {
            memory: i(&mem["limit"]),
            memory_swap: i(&mem["swap"]),
            memory_reservation: i(&mem["reservation"]),
            memory_swappiness: mem["swappiness"].as_i64(),
            nano_cpus: 0,
            cpu_shares: i(&cpu["shares"]).max(0) as u64,
            cpu_period: i(&cpu["period"]).max(0) as u64,
            cpu_quota: i(&cpu["quota"]),
            cpuset_cpus: s(&cpu["cpus"]),
            cpuset_mems: s(&cpu["mems"]),
            pids_limit: r["pids"]["limit"].as_i64().filter(|p| *p != 0),
            blkio_weight: i(&r["blockIO"]["weight"]).clamp(0, u16::MAX as i64) as u16,
            oom_kill_disable: b(&mem["disableOOMKiller"]),
        };
    }
    for u in field(sg, "r_limits").as_array().into_iter().flatten() {
        let t = s(&u["type"]).to_ascii_lowercase();
        let t = t.trim_start_matches("rlimit_");
        c.ulimits
            .push(format!("{t}={}:{}", i(&u["soft"]), i(&u["hard"])));
    }
    for d in field(sg, "devices").as_array().into_iter().flatten() {
        c.devices.push(Device {
            path_on_host: s(&d["path"]),
            path_in_container: String::new(),
            permissions: String::new(),
        });
    }
    engine::containers::config::apply_libpod_network(&mut c, sg).map_err(ApiError::from)?;
    (c.secrets, c.secret_env) = libpod_secrets(sg)?;
    let name = Some(s(field(sg, "name"))).filter(|n| !n.is_empty());
    let img = if image.is_empty() { rootfs } else { image };
    Ok((img, name, c))
}

/// `POST /libpod/containers/create` (SpecGenerator body).
pub(crate) async fn libpod_create(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "Decode(): {}",
            api_core::query::go_json_error(&e, &String::from_utf8_lossy(&body))
        ))
    })?;
    if !v.is_object() {
        return Err(bad("Decode(): the body must be a JSON object"));
    }
    let (image, name, mut config) = libpod_config(&v)?;
    resolve_secrets(&st, &mut config).await?;
    created(
        &st,
        ContainerCreate {
            name,
            image,
            config,
        },
    )
    .await
}
