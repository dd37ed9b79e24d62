//! Conversions from engine facts to the system wire types.

use std::collections::BTreeMap;

use engine::events::{Event, EventType};
use engine::secrets::SecretRecord;
use engine::system::{self, HostInfo, ToolInfo};

use crate::types::*;

fn go_version() -> String {
    // Clients display it; podapid is not written in Go, so say what it is built with.
    "rust".to_string()
}

/// The version report (identical on both trees, like Podman).
pub(crate) fn version_report(info: &HostInfo) -> VersionReport {
    let mut engine_details = BTreeMap::new();
    for (k, v) in [
        ("APIVersion", system::PODMAN_VERSION.to_string()),
        ("Arch", info.arch.clone()),
        ("BuildTime", "1970-01-01T00:00:00Z".to_string()),
        ("Experimental", "false".to_string()),
        ("GitCommit", String::new()),
        ("GoVersion", go_version()),
        ("KernelVersion", info.kernel.clone()),
        ("MinAPIVersion", system::LIBPOD_MIN_API.to_string()),
        ("Os", info.os.clone()),
    ] {
        engine_details.insert(k.to_string(), v);
    }
    let mut components = vec![ComponentVersion {
        name: "Podman Engine".into(),
        version: system::PODMAN_VERSION.into(),
        details: engine_details,
    }];
    let pkg = |t: &ToolInfo| {
        let mut d = BTreeMap::new();
        d.insert("Package".to_string(), t.package.clone());
        d
    };
    components.push(ComponentVersion {
        name: "Conmon".into(),
        version: info.conmon.version.clone(),
        details: pkg(&info.conmon),
    });
    components.push(ComponentVersion {
        name: format!("OCI Runtime ({})", info.oci_runtime.name),
        version: info.oci_runtime.version.clone(),
        details: pkg(&info.oci_runtime),
    });
    components.push(ComponentVersion {
        name: "podapid".into(),
        version: system::PODAPID_VERSION.into(),
        details: BTreeMap::new(),
    });
    VersionReport {
        platform: Platform {
            name: format!(
                "{}/{}/{}-{}",
                info.os, info.arch, info.distribution.id, info.distribution.version
            ),
        },
        components,
        version: system::PODMAN_VERSION.into(),
        api_version: system::COMPAT_API_VERSION.into(),
        min_api_version: system::COMPAT_MIN_API.into(),
        git_commit: String::new(),
        go_version: go_version(),
        os: info.os.clone(),
        arch: info.arch.clone(),
        kernel_version: info.kernel.clone(),
        build_time: "1970-01-01T00:00:00Z".into(),
    }
}

fn plugins_log() -> Vec<String> {
    vec!["k8s-file".into(), "none".into(), "passthrough".into()]
}

fn graph_status(info: &HostInfo) -> Vec<(String, String)> {
    vec![
        ("Backing Filesystem".into(), info.backing_fs.clone()),
        ("Native Overlay Diff".into(), "true".into()),
        ("Supports d_type".into(), "true".into()),
        ("Using metacopy".into(), "false".into()),
    ]
}

/// Compat `/info`.
pub(crate) fn compat_info(info: &HostInfo) -> CompatInfo {
    let v1 = info.cgroup_version == "v1";
    let has = |c: &str| !v1 || info.cgroup_controllers.iter().any(|x| x == c);
    let index_configs = info
        .registries
        .iter()
        .map(|r| {
            (
                r.effective_prefix().to_string(),
                IndexInfo {
                    name: r.effective_prefix().to_string(),
                    mirrors: r.mirrors.iter().map(|m| m.location.clone()).collect(),
                    secure: !r.insecure,
                    official: false,
                },
            )
        })
        .collect();
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    CompatInfo {
        id: uuid_like(),
        containers: info.containers.total,
        containers_running: info.containers.running,
        containers_paused: info.containers.paused,
        containers_stopped: info.containers.stopped,
        images: info.images,
        driver: info.graph_driver.clone(),
        driver_status: graph_status(info)
            .into_iter()
            .map(|(k, v)| [k, v])
            .collect(),
        plugins: PluginsInfo {
            volume: vec!["local".into()],
            network: vec!["bridge".into(), "macvlan".into()],
            authorization: None,
            log: plugins_log(),
        },
        memory_limit: has("memory"),
        swap_limit: has("memory"),
        kernel_memory: false,
        kernel_memory_tcp: false,
        cpu_cfs_period: has("cpu"),
        cpu_cfs_quota: has("cpu"),
        cpu_shares: has("cpu"),
        cpu_set: has("cpuset"),
        pids_limit: has("pids"),
        ipv4_forwarding: info.ipv4_forwarding,
        bridge_nf_iptables: true,
        bridge_nf_ip6tables: true,
        debug: tracing::enabled!(tracing::Level::DEBUG),
        nfd: info.fd_count,
        oom_kill_disable: v1,
        n_goroutines: info.threads,
        system_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        logging_driver: String::new(),
        cgroup_driver: info.cgroup_manager.clone(),
        n_events_listener: 0,
        kernel_version: info.kernel.clone(),
        operating_system: info.distribution.id.clone(),
        os_version: info.distribution.version.clone(),
        os_type: info.os.clone(),
        architecture: info.arch.clone(),
        index_server_address: String::new(),
        registry_config: RegistryServiceConfig {
            allow_nondistributable_artifacts_cidrs: vec![],
            allow_nondistributable_artifacts_hostnames: vec![],
            insecure_registry_cidrs: vec![],
            index_configs,
            mirrors: vec![],
        },
        ncpu: info.cpus,
        mem_total: info.mem_total,
        generic_resources: None,
        docker_root_dir: info.graph_root.display().to_string(),
        http_proxy: env("http_proxy"),
        https_proxy: env("https_proxy"),
        no_proxy: env("no_proxy"),
        name: info.hostname.clone(),
        labels: None,
        experimental_build: true,
        server_version: system::PODMAN_VERSION.into(),
        runtimes: info
            .runtimes
            .iter()
            .map(|(n, p)| (n.clone(), RuntimePath { path: p.clone() }))
            .collect(),
        default_runtime: info.oci_runtime.name.clone(),
        swarm: SwarmInfo {
            node_id: String::new(),
            node_addr: String::new(),
            local_node_state: "inactive".into(),
            control_available: false,
            error: String::new(),
            remote_managers: None,
        },
        live_restore_enabled: false,
        isolation: String::new(),
        init_binary: String::new(),
        containerd_commit: Commit::default(),
        runc_commit: Commit::default(),
        init_commit: Commit::default(),
        security_options: if info.seccomp_enabled {
            vec!["name=seccomp,profile=default".into()]
        } else {
            vec![]
        },
        product_license: "Apache-2.0".into(),
        warnings: vec![],
        buildah_version: system::BUILDAH_VERSION.into(),
        cpu_realtime_period: v1,
        cpu_realtime_runtime: v1,
        cgroup_version: info.cgroup_version.trim_start_matches('v').to_string(),
        rootless: false,
        swap_free: info.swap_free,
        swap_total: info.swap_total,
        uptime: system::format_uptime(info.uptime_secs),
    }
}

fn tool(t: &ToolInfo, with_name: bool) -> ToolInfoReport {
    ToolInfoReport {
        name: with_name.then(|| t.name.clone()),
        package: t.package.clone(),
        path: t.path.clone(),
        version: t.version.clone(),
    }
}

/// libpod `/info`.
pub(crate) fn libpod_info(info: &HostInfo) -> LibpodInfo {
    let mut registries: BTreeMap<String, serde_json::Value> = info
        .registries
        .iter()
        .map(|r| {
            let report = RegistryReport {
                prefix: r.effective_prefix().to_string(),
                location: r.location.clone(),
                insecure: r.insecure,
                pull_from_mirror: String::new(),
                mirrors: if r.mirrors.is_empty() {
                    None
                } else {
                    Some(
                        r.mirrors
                            .iter()
                            .map(|m| {
                                serde_json::json!({
                                    "Location": m.location,
                                    "Insecure": m.insecure,
                                    "PullFromMirror": m.pull_from_mirror,
                                })
                            })
                            .collect(),
                    )
                },
                blocked: r.blocked,
                mirror_by_digest_only: r.mirror_by_digest_only,
            };
            (
                r.effective_prefix().to_string(),
                serde_json::to_value(report).unwrap_or_default(),
            )
        })
        .collect();
    if !info.search_registries.is_empty() {
        registries.insert(
            "search".into(),
            serde_json::to_value(&info.search_registries).unwrap_or_default(),
        );
    }
    let (rt, ct) = (info.oci_runtime.clone(), info.conmon.clone());
    LibpodInfo {
        host: HostInfoReport {
            arch: info.arch.clone(),
            buildah_version: system::BUILDAH_VERSION.into(),
            cgroup_manager: info.cgroup_manager.clone(),
            cgroup_version: info.cgroup_version.clone(),
            cgroup_controllers: info.cgroup_controllers.clone(),
            conmon: tool(&ct, false),
            cpus: info.cpus,
            cpu_utilization: CpuUsage {
                user_percent: 0.0,
                system_percent: 0.0,
                idle_percent: 100.0,
            },
            database_backend: "sqlite".into(),
            distribution: DistributionInfo {
                distribution: info.distribution.id.clone(),
                version: info.distribution.version.clone(),
                codename: info.distribution.codename.clone(),
            },
            event_logger: info.event_logger.clone(),
            free_locks: 2048,
            hostname: info.hostname.clone(),
            id_mappings: IdMappings {
                gidmap: None,
                uidmap: None,
            },
            kernel: info.kernel.clone(),
            log_driver: info.log_driver.clone(),
            mem_free: info.mem_free,
            mem_total: info.mem_total,
            network_backend: info.network_backend.clone(),
            network_backend_info: serde_json::json!({
                "backend": info.network_backend,
                "version": "",
                "package": "",
                "path": "",
                "dns": {}
            }),
            oci_runtime: tool(&rt, true),
            os: info.os.clone(),
            remote_socket: RemoteSocket {
                path: info.remote_socket.clone().unwrap_or_default(),
                exists: info.remote_socket.is_some(),
            },
            rootless_network_cmd: String::new(),
            service_is_remote: false,
            security: SecurityInfo {
                apparmor_enabled: info.apparmor_enabled,
                capabilities: info
                    .capabilities
                    .iter()
                    .map(|c| {
                        if c.starts_with("CAP_") {
                            c.clone()
                        } else {
                            format!("CAP_{c}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                rootless: false,
                seccomp_enabled: info.seccomp_enabled,
                seccomp_profile_path: info.seccomp_profile.clone(),
                selinux_enabled: false,
            },
            slirp4netns: SlirpInfo {
                executable: String::new(),
                package: String::new(),
                version: String::new(),
            },
            pasta: ToolInfoReport {
                name: None,
                package: String::new(),
                path: String::new(),
                version: String::new(),
            },
            swap_free: info.swap_free,
            swap_total: info.swap_total,
            uptime: system::format_uptime(info.uptime_secs),
            variant: String::new(),
            linkmode: "static".into(),
        },
        store: StoreInfoReport {
            config_file: String::new(),
            container_store: ContainerStoreReport {
                number: info.containers.total,
                paused: info.containers.paused,
                running: info.containers.running,
                stopped: info.containers.stopped,
            },
            graph_driver_name: info.graph_driver.clone(),
            graph_options: BTreeMap::new(),
            graph_root: info.graph_root.display().to_string(),
            graph_root_allocated: info.graph_root_allocated,
            graph_root_used: info.graph_root_used,
            graph_status: graph_status(info).into_iter().collect(),
            image_copy_tmp_dir: "/var/tmp".into(),
            image_store: ImageStoreReport {
                number: info.images,
            },
            run_root: info.run_root.display().to_string(),
            volume_path: info.volume_path.display().to_string(),
            transient_store: false,
        },
        registries,
        plugins: PluginsReport {
            volume: vec!["local".into()],
            network: vec!["bridge".into(), "macvlan".into()],
            log: plugins_log(),
            authorization: None,
        },
        version: LibpodVersion {
            api_version: system::PODMAN_VERSION.into(),
            version: system::PODMAN_VERSION.into(),
            go_version: go_version(),
            git_commit: String::new(),
            built_time: "Thu Jan  1 00:00:00 1970".into(),
            built: 0,
            os_arch: format!("{}/{}", info.os, info.arch),
            os: info.os.clone(),
        },
    }
}

/// A random UUID-shaped id (Podman makes a new one per `/info`).
fn uuid_like() -> String {
    let b: [u8; 16] = rand_bytes();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn rand_bytes() -> [u8; 16] {
    let id = engine::ids::new_id();
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&id[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    out
}

/// An engine event in the wire shape; `compat` applies Docker's names.
pub(crate) fn event_message(e: &Event, compat: bool) -> EventMessage {
    let mut attributes = e.attributes.clone();
    attributes.insert("image".into(), e.image.clone());
    attributes.insert("name".into(), e.name.clone());
    attributes.insert(
        "containerExitCode".into(),
        e.exit_code.unwrap_or(0).to_string(),
    );
    attributes.insert("podId".into(), e.pod_id.clone());
    let mut status = e.status.clone();
    if compat {
        match (e.kind, status.as_str()) {
            (EventType::Image, "remove") => status = "delete".into(),
            (EventType::Container, "remove") => status = "destroy".into(),
            (_, "died") => {
                status = "die".into();
                attributes.insert("exitCode".into(), e.exit_code.unwrap_or(0).to_string());
            }
            _ => {}
        }
    }
    let nanos = e.time.timestamp_nanos_opt().unwrap_or(0);
    EventMessage {
        status: status.clone(),
        id: e.id.clone(),
        from: e.image.clone(),
        kind: e.kind.as_str().into(),
        action: status,
        actor: EventActor {
            id: e.id.clone(),
            attributes,
        },
        scope: "local".into(),
        time: e.time.timestamp(),
        time_nano: nanos,
        health_status: e
            .attributes
            .get("health_status")
            .cloned()
            .unwrap_or_default(),
    }
}

/// A time as Go's `time.Time` marshals to JSON (RFC 3339, trailing zeros of the fraction
/// dropped).
fn go_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    let s = t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let body = s.strip_suffix('Z').unwrap_or(&s);
    format!("{}Z", body.trim_end_matches('0').trim_end_matches('.'))
}

fn secret_report(
    r: &SecretRecord,
    updated_at: &chrono::DateTime<chrono::Utc>,
    labels: Option<BTreeMap<String, String>>,
    data: Option<&[u8]>,
) -> SecretInfoReport {
    SecretInfoReport {
        id: r.id.clone(),
        created_at: go_time(&r.created_at),
        updated_at: go_time(updated_at),
        spec: SecretSpec {
            name: r.name.clone(),
            driver: SecretDriverSpec {
                name: r.driver.clone(),
                options: r.driver_options.clone(),
            },
            labels,
        },
        secret_data: data.map(|d| String::from_utf8_lossy(d).into_owned()),
    }
}

/// A secret in a list: Podman 4.9.5 shows no labels there and repeats the creation time
/// as `UpdatedAt`.
pub(crate) fn secret_listed(r: &SecretRecord) -> SecretInfoReport {
    secret_report(r, &r.created_at, None, None)
}

/// A secret as inspected, with its bytes when they were asked for.
pub(crate) fn secret_inspected(r: &SecretRecord, data: Option<&[u8]>) -> SecretInfoReport {
    secret_report(r, &r.updated_at, Some(r.labels.clone()), data)
}

/// Docker's shape: the libpod report plus `Version.Index` 1.
pub(crate) fn secret_compat(report: SecretInfoReport) -> SecretInfoReportCompat {
    SecretInfoReportCompat {
        report,
        version: SecretVersion { index: 1 },
    }
}
