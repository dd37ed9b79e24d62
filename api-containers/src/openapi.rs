//! The OpenAPI description of the containers routes: one [`Op`] per route row, and the wire
//! types of the JSON bodies the handlers build (named after Docker's and Podman's schemas).
//!
//! The types only describe what the handlers emit with `json!` (they are never built), so
//! keep them in step with `inspect.rs`, `lifecycle.rs`, `stats.rs` and `exec.rs`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use api_core::hijack::MULTIPLEXED_STREAM;
use api_core::openapi::Op;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

const TAR: &str = "application/x-tar";

/// The operations of the containers router, in the order of `routes.tsv`.
pub fn openapi() -> Vec<Op> {
    vec![
        // Archive (`docker cp`).
        Op::get("/containers/{name}/archive")
            .summary("Get a tar archive of a path in the container")
            .raw(200, TAR),
        Op::put("/containers/{name}/archive")
            .summary("Extract a tar archive (optionally gzipped) into a path of the container")
            .empty(200),
        Op::head("/containers/{name}/archive")
            .summary("Stat a path in the container (X-Docker-Container-Path-Stat header)")
            .empty(200),
        Op::get("/libpod/containers/{name}/archive")
            .summary("Get a tar archive of a path in the container")
            .raw(200, TAR),
        Op::put("/libpod/containers/{name}/archive")
            .summary("Extract a tar archive (optionally gzipped) into a path of the container")
            .empty(200),
        Op::head("/libpod/containers/{name}/archive")
            .summary("Stat a path in the container (X-Docker-Container-Path-Stat header)")
            .empty(200),
        // Compat tree.
        Op::post("/containers/create")
            .summary("Create a container")
            .json_at::<ContainerCreateResponse>(201),
        Op::get("/containers/json")
            .summary("List containers")
            .json::<Vec<ContainerSummary>>(),
        Op::post("/containers/prune")
            .summary("Delete stopped containers")
            .json::<ContainersPruneReport>(),
        Op::delete("/containers/{name}")
            .summary("Remove a container")
            .empty(204),
        Op::get("/containers/{name}/json")
            .summary("Inspect a container")
            .json::<ContainerInspect>(),
        Op::post("/containers/{name}/kill")
            .summary("Send a signal to a container")
            .empty(204),
        Op::get("/containers/{name}/logs")
            .summary("Get container logs (raw bytes for a TTY container)")
            .raw(200, MULTIPLEXED_STREAM),
        Op::post("/containers/{name}/pause")
            .summary("Pause a container")
            .empty(204),
        Op::post("/containers/{name}/restart")
            .summary("Restart a container")
            .empty(204),
        Op::post("/containers/{name}/start")
            .summary("Start a container (304: already running)")
            .empty(204)
            .empty(304),
        Op::get("/containers/{name}/stats")
            .summary("Resource usage of a container, one document per second")
            .lines::<ContainerStatsResponse>(),
        Op::post("/containers/{name}/stop")
            .summary("Stop a container (304: not running)")
            .empty(204)
            .empty(304),
        Op::get("/containers/{name}/top")
            .summary("List the processes of a container")
            .json::<ContainerTopResponse>(),
        Op::post("/containers/{name}/unpause")
            .summary("Unpause a container")
            .empty(204),
        Op::post("/containers/{name}/wait")
            .summary("Wait for a container (headers first, the body at the end of the wait)")
            .json::<ContainerWaitResponse>(),
        Op::post("/containers/{name}/attach")
            .summary("Attach to a container (101 with an upgrade; raw stream for a TTY container)")
            .raw(101, MULTIPLEXED_STREAM)
            .raw(200, MULTIPLEXED_STREAM),
        Op::post("/containers/{name}/resize")
            .summary("Resize the TTY of a container")
            .json::<ContainerResizeResponse>(),
        Op::get("/containers/{name}/export")
            .summary("Export the filesystem of a container as a tar archive")
            .raw(200, TAR),
        Op::post("/containers/{name}/rename")
            .summary("Rename a container")
            .empty(204),
        // Libpod tree.
        Op::post("/libpod/containers/create")
            .summary("Create a container from a SpecGenerator")
            .json_at::<ContainerCreateResponse>(201),
        Op::get("/libpod/containers/json")
            .summary("List containers")
            .json::<Vec<ListContainer>>(),
        Op::post("/libpod/containers/prune")
            .summary("Delete stopped containers")
            .json::<Vec<ContainersPruneReportLibpod>>(),
        Op::get("/libpod/containers/showmounted")
            .summary("Mounted containers: container ID to mount point")
            .json::<BTreeMap<String, String>>(),
        Op::delete("/libpod/containers/{name}")
            .summary("Remove a container")
            .json::<Vec<LibpodContainersRmReport>>(),
        Op::get("/libpod/containers/{name}/json")
            .summary("Inspect a container")
            .json::<LibpodContainerInspect>(),
        Op::post("/libpod/containers/{name}/kill")
            .summary("Send a signal to a container")
            .empty(204),
        Op::post("/libpod/containers/{name}/mount")
            .summary("Mount a container's root filesystem; the mount point as a JSON string")
            .json::<String>(),
        Op::post("/libpod/containers/{name}/unmount")
            .summary("Unmount a container's root filesystem")
            .empty(204),
        Op::get("/libpod/containers/{name}/logs")
            .summary("Get container logs (raw bytes for a TTY container)")
            .raw(200, MULTIPLEXED_STREAM),
        Op::post("/libpod/containers/{name}/pause")
            .summary("Pause a container")
            .empty(204),
        Op::post("/libpod/containers/{name}/restart")
            .summary("Restart a container")
            .empty(204),
        Op::post("/libpod/containers/{name}/start")
            .summary("Start a container (304: already running)")
            .empty(204)
            .empty(304),
        Op::get("/libpod/containers/{name}/stats")
            .summary("Resource usage of a container, one document per second")
            .lines::<LibpodContainerStatsResponse>(),
        Op::get("/libpod/containers/stats")
            .summary("Resource usage of containers, one report per interval")
            .lines::<LibpodContainersStatsReport>(),
        Op::get("/libpod/containers/{name}/top")
            .summary("List the processes of a container")
            .json::<ContainerTopResponse>(),
        Op::post("/libpod/containers/{name}/unpause")
            .summary("Unpause a container")
            .empty(204),
        Op::post("/libpod/containers/{name}/wait")
            .summary("Wait for a container state; the exit code, as JSON text")
            .json::<i32>(),
        Op::get("/libpod/containers/{name}/exists")
            .summary("Check that a container exists")
            .empty(204),
        Op::post("/libpod/containers/{name}/stop")
            .summary("Stop a container (304: not running)")
            .empty(204)
            .empty(304),
        Op::post("/libpod/containers/{name}/attach")
            .summary("Attach to a container (101 with an upgrade; raw stream for a TTY)")
            .raw(101, MULTIPLEXED_STREAM)
            .raw(200, MULTIPLEXED_STREAM),
        Op::post("/libpod/containers/{name}/resize")
            .summary("Resize the TTY of a container")
            .json::<ContainerResizeResponse>(),
        Op::get("/libpod/containers/{name}/export")
            .summary("Export the filesystem of a container as a tar archive")
            .raw(200, TAR),
        Op::post("/libpod/containers/{name}/checkpoint")
            .summary("Checkpoint a container: not supported (501)"),
        Op::post("/libpod/containers/{name}/restore")
            .summary("Restore a container: not supported (501)"),
        Op::get("/containers/{name}/changes")
            .summary("Filesystem changes of a container (or of an image)")
            .json::<Vec<ContainerChangeResponseItem>>(),
        Op::get("/libpod/containers/{name}/changes")
            .summary("Filesystem changes of a container (or of an image)")
            .json::<Vec<ContainerChangeResponseItem>>(),
        Op::post("/libpod/containers/{name}/init")
            .summary("Initialize a container (304: already initialized)")
            .empty(204)
            .empty(304),
        Op::post("/libpod/containers/{name}/rename")
            .summary("Rename a container")
            .empty(204),
        Op::post("/containers/{name}/update")
            .summary("Update the resources and restart policy of a container (Docker)")
            .json::<ContainerUpdateResponse>(),
        Op::post("/libpod/containers/{name}/update")
            .summary("Update the resources and restart policy of a container")
            .json_at::<ContainerIdResponse>(201),
        // Exec.
        Op::post("/containers/{name}/exec")
            .summary("Create an exec session")
            .json_at::<ContainerIdResponse>(201),
        Op::post("/exec/{id}/start")
            .summary("Start an exec session (101 with an upgrade; raw stream for a TTY)")
            .raw(101, MULTIPLEXED_STREAM)
            .raw(200, MULTIPLEXED_STREAM),
        Op::post("/exec/{id}/resize")
            .summary("Resize the TTY of an exec session")
            .empty(201),
        Op::get("/exec/{id}/json")
            .summary("Inspect an exec session")
            .json::<ExecInspectResponse>(),
        Op::post("/libpod/containers/{name}/exec")
            .summary("Create an exec session")
            .json_at::<ContainerIdResponse>(201),
        Op::post("/libpod/exec/{id}/start")
            .summary("Start an exec session (101 with an upgrade; raw stream for a TTY)")
            .raw(101, MULTIPLEXED_STREAM)
            .raw(200, MULTIPLEXED_STREAM),
        Op::post("/libpod/exec/{id}/resize")
            .summary("Resize the TTY of an exec session")
            .empty(201),
        Op::get("/libpod/exec/{id}/json")
            .summary("Inspect an exec session")
            .json::<LibpodExecInspect>(),
        Op::post("/libpod/exec/{id}/remove")
            .summary("Remove an exec session")
            .empty(200),
        // Generate and healthcheck.
        Op::get("/libpod/generate/{name:.*}/systemd")
            .summary("Generate systemd units: unit name to unit text")
            .json::<BTreeMap<String, String>>(),
        Op::get("/libpod/containers/{name:.*}/healthcheck")
            .summary("Run the healthcheck of a container now")
            .json::<ContainerHealthCheckResults>(),
    ]
}

// ---------------------------------------------------------------------------------------
// Small answers.

/// `{"Id", "Warnings"}` of a create (both trees).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerCreateResponse {
    /// The ID of the new container.
    id: String,
    /// Always empty.
    warnings: Vec<String>,
}

/// `{"Id"}`: an exec session created, or a container updated (Docker's/Podman's
/// `IdResponse`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerIdResponse {
    id: String,
}

/// The empty object `{}` a container resize answers.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerResizeResponse {}

/// An empty object (`{}`), the value of `Volumes` and `ExposedPorts` entries.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerEmptyObject {}

/// Compat prune report.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainersPruneReport {
    /// IDs of the removed containers; null when none was removed.
    containers_deleted: Option<Vec<String>>,
    /// Always 0.
    space_reclaimed: u64,
}

/// One removed container of a libpod prune.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainersPruneReportLibpod {
    id: String,
    /// Always 0.
    size: i64,
    /// Always null.
    err: Option<String>,
}

/// One removed container of a libpod remove.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainersRmReport {
    id: String,
    /// Always null.
    err: Option<String>,
}

/// The error of a compat wait that could not complete.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerWaitExitError {
    message: String,
}

/// Compat wait answer.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerWaitResponse {
    /// The exit code; -1 when the wait failed.
    status_code: i32,
    /// Null unless the wait failed.
    error: Option<ContainerWaitExitError>,
}

/// `ps` output of a container.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerTopResponse {
    /// Column titles (`UID PID PPID C STIME TTY TIME CMD`, or libpod's descriptors).
    titles: Vec<String>,
    /// One row per process, one field per title.
    processes: Vec<Vec<String>>,
}

/// One filesystem change.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerChangeResponseItem {
    path: String,
    /// 0 modified, 1 added, 2 deleted.
    kind: u8,
}

// ---------------------------------------------------------------------------------------
// Healthchecks.

/// Docker's answer to a container update.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerUpdateResponse {
    /// Always empty.
    #[serde(rename = "Warnings")]
    pub(crate) warnings: Vec<String>,
}

/// One run of a healthcheck.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerHealthCheckLog {
    start: String,
    end: String,
    exit_code: i32,
    output: String,
}

/// The result of `GET /libpod/containers/{name}/healthcheck` (Podman's
/// `HealthCheckResults`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerHealthCheckResults {
    /// `starting`, `healthy` or `unhealthy`.
    status: String,
    failing_streak: u32,
    /// The last runs.
    log: Vec<ContainerHealthCheckLog>,
}

/// `State.Health` of an inspect (status "" and a null log for a container without a check).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerHealthState {
    status: String,
    failing_streak: u32,
    log: Option<Vec<ContainerHealthCheckLog>>,
}

// ---------------------------------------------------------------------------------------
// Shared pieces of inspect and list.

/// One entry of `Mounts` (binds and volumes).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerMountPoint {
    /// `bind` or `volume`.
    #[serde(rename = "Type")]
    kind: String,
    /// The volume name (volumes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    source: String,
    destination: String,
    /// `local` for volumes; libpod also gives "" for binds.
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<String>,
    mode: String,
    #[serde(rename = "RW")]
    rw: bool,
    propagation: String,
    /// Mount options (libpod only).
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Vec<String>>,
}

/// One host binding of a port.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerPortBinding {
    host_ip: String,
    /// The host port as a string ("" or "0" when not assigned).
    host_port: String,
}

/// `IPAMConfig` of an endpoint (always null here).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerEndpointIpamConfig {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    ipv6_address: String,
}

/// A container's endpoint on one network (Docker's `EndpointSettings`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerEndpointSettings {
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<ContainerEndpointIpamConfig>,
    links: Option<Vec<String>>,
    aliases: Option<Vec<String>>,
    /// The network's name.
    #[serde(rename = "NetworkID")]
    network_id: String,
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    gateway: String,
    #[serde(rename = "IPAddress")]
    ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u32,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: u32,
    mac_address: String,
    driver_opts: Option<BTreeMap<String, String>>,
}

// ---------------------------------------------------------------------------------------
// Inspect.

/// `State` of a compat inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerState {
    /// `created`, `running`, `paused`, `exited`... (libpod: `configured`→`created`,
    /// `created`→`initialized`).
    status: String,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i32,
    exit_code: i32,
    error: String,
    started_at: String,
    finished_at: String,
    health: ContainerHealthState,
}

/// `State` of a libpod inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainerState {
    #[serde(flatten)]
    state: ContainerState,
    oci_version: String,
    conmon_pid: i32,
    cgroup_path: String,
    checkpointed_at: String,
    restored_at: String,
}

/// `RestartPolicy` of a host config.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerRestartPolicy {
    name: String,
    maximum_retry_count: u32,
}

/// A resource limit.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerUlimit {
    /// `RLIMIT_NOFILE`...
    name: String,
    soft: i64,
    hard: i64,
}

/// A device made available in the container.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerDeviceMapping {
    path_on_host: String,
    path_in_container: String,
    cgroup_permissions: String,
}

/// A block I/O weight of a device (the lists are always null here).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerWeightDevice {
    path: String,
    weight: u16,
}

/// A block I/O rate limit of a device (the lists are always null here).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerThrottleDevice {
    path: String,
    rate: u64,
}

/// `HostConfig.LogConfig` of a compat inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerLogConfig {
    #[serde(rename = "Type")]
    kind: String,
    config: Option<BTreeMap<String, String>>,
}

/// `HostConfig.LogConfig` of a libpod inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainerLogConfig {
    #[serde(rename = "Type")]
    kind: String,
    config: Option<BTreeMap<String, String>>,
    path: String,
    tag: String,
    size: String,
}

/// The host config keys both trees show.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerHostConfigCommon {
    binds: Vec<String>,
    #[serde(rename = "ContainerIDFile")]
    container_id_file: String,
    network_mode: String,
    /// Published ports by `port/proto` (an unassigned host port is "").
    port_bindings: BTreeMap<String, Vec<ContainerPortBinding>>,
    restart_policy: ContainerRestartPolicy,
    auto_remove: bool,
    volume_driver: String,
    volumes_from: Option<Vec<String>>,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    cgroupns_mode: String,
    dns: Vec<String>,
    dns_options: Vec<String>,
    dns_search: Vec<String>,
    extra_hosts: Vec<String>,
    group_add: Vec<String>,
    ipc_mode: String,
    cgroup: String,
    links: Option<Vec<String>>,
    oom_score_adj: i32,
    pid_mode: String,
    privileged: bool,
    publish_all_ports: bool,
    readonly_rootfs: bool,
    security_opt: Vec<String>,
    /// Mount point → tmpfs options.
    tmpfs: BTreeMap<String, String>,
    #[serde(rename = "UTSMode")]
    uts_mode: String,
    userns_mode: String,
    shm_size: u64,
    runtime: String,
    console_size: Vec<u64>,
    isolation: String,
    cpu_shares: u64,
    memory: i64,
    nano_cpus: i64,
    cgroup_parent: String,
    blkio_weight: u16,
    blkio_weight_device: Option<Vec<ContainerWeightDevice>>,
    blkio_device_read_bps: Option<Vec<ContainerThrottleDevice>>,
    blkio_device_write_bps: Option<Vec<ContainerThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    blkio_device_read_iops: Option<Vec<ContainerThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    blkio_device_write_iops: Option<Vec<ContainerThrottleDevice>>,
    cpu_period: u64,
    cpu_quota: i64,
    cpu_realtime_period: i64,
    cpu_realtime_runtime: i64,
    cpuset_cpus: String,
    cpuset_mems: String,
    devices: Vec<ContainerDeviceMapping>,
    device_cgroup_rules: Option<Vec<String>>,
    /// Always null.
    device_requests: Option<Vec<Value>>,
    kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP")]
    kernel_memory_tcp: i64,
    memory_reservation: i64,
    memory_swap: i64,
    /// -1 when not set.
    memory_swappiness: i64,
    oom_kill_disable: bool,
    pids_limit: i64,
    ulimits: Vec<ContainerUlimit>,
    cpu_count: i64,
    cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps")]
    io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth")]
    io_maximum_bandwidth: u64,
    masked_paths: Option<Vec<String>>,
    readonly_paths: Option<Vec<String>>,
    init: bool,
}

/// `HostConfig` of a compat inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerHostConfig {
    log_config: ContainerLogConfig,
    #[serde(flatten)]
    common: ContainerHostConfigCommon,
}

/// `HostConfig` of a libpod inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainerHostConfig {
    log_config: LibpodContainerLogConfig,
    cgroup_manager: String,
    cgroup_mode: String,
    cgroups: String,
    #[serde(flatten)]
    common: ContainerHostConfigCommon,
}

/// The config keys both trees show.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerInspectConfigCommon {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Vec<String>,
    cmd: Vec<String>,
    image: String,
    /// Anonymous volume mount points (null when none).
    volumes: Option<BTreeMap<String, ContainerEmptyObject>>,
    working_dir: String,
    on_build: Option<Vec<String>>,
    labels: BTreeMap<String, String>,
    stop_timeout: u32,
    /// `port/proto` keys; absent when the container exposes no port.
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<BTreeMap<String, ContainerEmptyObject>>,
    /// The healthcheck given at create time (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Value>,
}

/// `Config` of a compat inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerInspectConfig {
    entrypoint: Vec<String>,
    /// The stop signal's number, as a string.
    stop_signal: String,
    #[serde(flatten)]
    common: ContainerInspectConfigCommon,
}

/// `Config` of a libpod inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainerInspectConfig {
    /// The entrypoint joined with spaces.
    entrypoint: String,
    /// The stop signal's number.
    stop_signal: i32,
    umask: String,
    annotations: BTreeMap<String, String>,
    create_command: Option<Vec<String>>,
    timeout: u64,
    passwd: bool,
    #[serde(rename = "sdNotifyMode")]
    sd_notify_mode: String,
    #[serde(flatten)]
    common: ContainerInspectConfigCommon,
}

/// The overlay directories of a container.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerOverlayDirs {
    lower_dir: String,
    merged_dir: String,
    upper_dir: String,
    work_dir: String,
}

/// `GraphDriver` of an inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerGraphDriver {
    name: String,
    data: ContainerOverlayDirs,
}

/// `NetworkSettings` of a libpod inspect (compat adds the `Secondary*` addresses).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainerNetworkSettings {
    bridge: String,
    #[serde(rename = "SandboxID")]
    sandbox_id: String,
    hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    link_local_ipv6_prefix_len: u32,
    /// Exposed ports (null) and published ones (their bindings) by `port/proto`.
    ports: BTreeMap<String, Option<Vec<ContainerPortBinding>>>,
    sandbox_key: String,
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: u32,
    #[serde(rename = "IPAddress")]
    ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u32,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: String,
    mac_address: String,
    networks: BTreeMap<String, ContainerEndpointSettings>,
}

/// An address with its prefix length (the lists are always null here).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerNetworkAddress {
    addr: String,
    prefix_len: u32,
}

/// `NetworkSettings` of a compat inspect.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerNetworkSettings {
    #[serde(rename = "SecondaryIPAddresses")]
    secondary_ip_addresses: Option<Vec<ContainerNetworkAddress>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    secondary_ipv6_addresses: Option<Vec<ContainerNetworkAddress>>,
    #[serde(flatten)]
    common: LibpodContainerNetworkSettings,
}

/// The inspect keys both trees show.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerInspectCommon {
    id: String,
    created: String,
    path: String,
    args: Vec<String>,
    /// The image ID (`sha256:`-prefixed on the compat tree).
    image: String,
    resolv_conf_path: String,
    hostname_path: String,
    hosts_path: String,
    log_path: String,
    /// The name (`/`-prefixed on the compat tree).
    name: String,
    restart_count: u32,
    driver: String,
    mount_label: String,
    process_label: String,
    app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    exec_ids: Vec<String>,
    graph_driver: ContainerGraphDriver,
    mounts: Vec<ContainerMountPoint>,
}

/// Compat inspect (Docker's `ContainerJSON`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerInspect {
    state: ContainerState,
    host_config: ContainerHostConfig,
    config: ContainerInspectConfig,
    network_settings: ContainerNetworkSettings,
    platform: String,
    size_root_fs: i64,
    #[serde(flatten)]
    common: ContainerInspectCommon,
}

/// Libpod inspect (Podman's `InspectContainerData`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainerInspect {
    state: LibpodContainerState,
    host_config: LibpodContainerHostConfig,
    config: LibpodContainerInspectConfig,
    network_settings: LibpodContainerNetworkSettings,
    image_digest: String,
    image_name: String,
    rootfs: String,
    /// The pod's ID ("" when none).
    pod: String,
    static_dir: String,
    #[serde(rename = "OCIConfigPath")]
    oci_config_path: String,
    #[serde(rename = "OCIRuntime")]
    oci_runtime: String,
    conmon_pid_file: String,
    pid_file: String,
    dependencies: Vec<String>,
    namespace: String,
    is_infra: bool,
    is_service: bool,
    effective_caps: Vec<String>,
    bounding_caps: Vec<String>,
    #[serde(flatten)]
    common: ContainerInspectCommon,
}

// ---------------------------------------------------------------------------------------
// Lists.

/// A port of a compat list entry.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerSummaryPort {
    private_port: u16,
    /// `tcp`, `udp`...
    #[serde(rename = "Type")]
    kind: String,
    /// Absent when no host port is bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    public_port: Option<u16>,
    /// Absent when no host port is bound.
    #[serde(rename = "IP", skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
}

/// `HostConfig` of a compat list entry.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerSummaryHostConfig {
    network_mode: String,
}

/// `NetworkSettings` of a compat list entry.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerSummaryNetworkSettings {
    networks: BTreeMap<String, ContainerEndpointSettings>,
}

/// One entry of the compat list.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerSummary {
    id: String,
    /// `/`-prefixed.
    names: Vec<String>,
    image: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    command: String,
    /// Unix seconds.
    created: i64,
    ports: Vec<ContainerSummaryPort>,
    labels: BTreeMap<String, String>,
    state: String,
    /// `Up 3 seconds`, `Exited (0) 2 minutes ago`...
    status: String,
    host_config: ContainerSummaryHostConfig,
    network_settings: ContainerSummaryNetworkSettings,
    mounts: Vec<ContainerMountPoint>,
    size_rw: i64,
    size_root_fs: i64,
}

/// A port mapping of a libpod list entry.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerPortMapping {
    host_ip: String,
    container_port: u16,
    host_port: u16,
    range: u16,
    protocol: String,
}

/// `Namespaces` of a libpod list entry (always empty here).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ListContainerNamespaces {}

/// `Size` of a libpod list entry (always null here).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ListContainerSize {
    #[serde(rename = "rootFsSize")]
    root_fs_size: i64,
    #[serde(rename = "rwSize")]
    rw_size: i64,
}

/// One entry of the libpod list.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListContainer {
    auto_remove: bool,
    command: Vec<String>,
    /// RFC 3339.
    created: String,
    created_at: String,
    exited: bool,
    /// Unix seconds (Go's zero time when never exited).
    exited_at: i64,
    exit_code: i32,
    id: String,
    image: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    is_infra: bool,
    /// Null when there is no label.
    labels: Option<BTreeMap<String, String>>,
    /// Mount destinations.
    mounts: Vec<String>,
    names: Vec<String>,
    namespaces: ListContainerNamespaces,
    networks: Vec<String>,
    pid: i32,
    pod: String,
    pod_name: String,
    /// Null when no port is published.
    ports: Option<Vec<ContainerPortMapping>>,
    restarts: u32,
    size: Option<ListContainerSize>,
    /// Unix seconds (Go's zero time when never started).
    started_at: i64,
    state: String,
    status: String,
}

// ---------------------------------------------------------------------------------------
// Stats.

/// `pids_stats`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerPidsStats {
    current: u64,
    /// 0 when unlimited.
    limit: u64,
}

/// One block I/O counter.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerBlkioStatEntry {
    major: u64,
    minor: u64,
    op: String,
    value: u64,
}

/// `blkio_stats` (only the bytes are counted; the other lists are null).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerBlkioStats {
    io_service_bytes_recursive: Vec<ContainerBlkioStatEntry>,
    io_serviced_recursive: Option<Vec<ContainerBlkioStatEntry>>,
    io_queue_recursive: Option<Vec<ContainerBlkioStatEntry>>,
    io_service_time_recursive: Option<Vec<ContainerBlkioStatEntry>>,
    io_wait_time_recursive: Option<Vec<ContainerBlkioStatEntry>>,
    io_merged_recursive: Option<Vec<ContainerBlkioStatEntry>>,
    io_time_recursive: Option<Vec<ContainerBlkioStatEntry>>,
    sectors_recursive: Option<Vec<ContainerBlkioStatEntry>>,
}

/// `storage_stats` (always empty).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerStorageStats {}

/// `cpu_usage`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerCpuUsage {
    total_usage: u64,
    /// Per CPU (cgroup v1 only; empty on v2).
    percpu_usage: Vec<u64>,
    usage_in_kernelmode: u64,
    usage_in_usermode: u64,
}

/// `throttling_data`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerThrottlingData {
    periods: u64,
    throttled_periods: u64,
    throttled_time: u64,
}

/// `cpu_stats` and `precpu_stats`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerCpuStats {
    cpu_usage: ContainerCpuUsage,
    system_cpu_usage: u64,
    online_cpus: u32,
    throttling_data: ContainerThrottlingData,
}

/// `memory_stats`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerMemoryStats {
    usage: u64,
    max_usage: u64,
    /// The contents of `memory.stat`.
    stats: BTreeMap<String, u64>,
    limit: u64,
}

/// Counters of one network interface.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerNetworkStats {
    rx_bytes: u64,
    rx_packets: u64,
    rx_errors: u64,
    rx_dropped: u64,
    tx_bytes: u64,
    tx_packets: u64,
    tx_errors: u64,
    tx_dropped: u64,
}

/// The stats keys both trees show.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerStatsCommon {
    read: String,
    preread: String,
    pids_stats: ContainerPidsStats,
    blkio_stats: ContainerBlkioStats,
    num_procs: u32,
    storage_stats: ContainerStorageStats,
    cpu_stats: ContainerCpuStats,
    precpu_stats: ContainerCpuStats,
    memory_stats: ContainerMemoryStats,
    /// `/`-prefixed.
    name: String,
    /// By interface name (loopback left out).
    networks: BTreeMap<String, ContainerNetworkStats>,
}

/// Compat stats document (Docker's `ContainerStatsResponse`).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ContainerStatsResponse {
    id: String,
    #[serde(flatten)]
    common: ContainerStatsCommon,
}

/// Stats document of `GET /libpod/containers/{name}/stats` (Docker's shape, `Id` key).
#[derive(Serialize, JsonSchema)]
pub(crate) struct LibpodContainerStatsResponse {
    #[serde(rename = "Id")]
    id: String,
    #[serde(flatten)]
    common: ContainerStatsCommon,
}

/// One container of `GET /libpod/containers/stats` (Podman's `ContainerStats`).
#[derive(Serialize, JsonSchema)]
pub(crate) struct LibpodContainerStats {
    #[serde(rename = "AvgCPU")]
    avg_cpu: f64,
    #[serde(rename = "ContainerID")]
    container_id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "PerCPU")]
    per_cpu: Vec<u64>,
    #[serde(rename = "CPU")]
    cpu: f64,
    #[serde(rename = "CPUNano")]
    cpu_nano: u64,
    #[serde(rename = "CPUSystemNano")]
    cpu_system_nano: u64,
    #[serde(rename = "SystemNano")]
    system_nano: u64,
    #[serde(rename = "MemUsage")]
    mem_usage: u64,
    #[serde(rename = "MemLimit")]
    mem_limit: u64,
    #[serde(rename = "MemPerc")]
    mem_perc: f64,
    #[serde(rename = "NetInput")]
    net_input: u64,
    #[serde(rename = "NetOutput")]
    net_output: u64,
    #[serde(rename = "BlockInput")]
    block_input: u64,
    #[serde(rename = "BlockOutput")]
    block_output: u64,
    #[serde(rename = "PIDs")]
    pids: u64,
    #[serde(rename = "UpTime")]
    up_time: u64,
    #[serde(rename = "Duration")]
    duration: u64,
}

/// One report of `GET /libpod/containers/stats`: the stats, or an error (then `Stats` is
/// null).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodContainersStatsReport {
    error: Option<String>,
    stats: Option<Vec<LibpodContainerStats>>,
}

// ---------------------------------------------------------------------------------------
// Exec.

/// `ProcessConfig` of a compat exec inspect.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ExecProcessConfig {
    arguments: Vec<String>,
    entrypoint: String,
    privileged: bool,
    tty: bool,
    user: String,
}

/// `ProcessConfig` of a libpod exec inspect.
#[derive(Serialize, JsonSchema)]
pub(crate) struct LibpodExecProcessConfig {
    env: Vec<String>,
    workdir: String,
    #[serde(flatten)]
    common: ExecProcessConfig,
}

/// The exec inspect keys both trees show.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ExecInspectCommon {
    can_remove: bool,
    #[serde(rename = "ContainerID")]
    container_id: String,
    detach_keys: String,
    /// 0 until the process exits.
    exit_code: i32,
    #[serde(rename = "ID")]
    id: String,
    open_stderr: bool,
    open_stdin: bool,
    open_stdout: bool,
    running: bool,
    pid: i32,
}

/// Compat exec inspect (Docker's `ExecInspectResponse`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ExecInspectResponse {
    process_config: ExecProcessConfig,
    #[serde(flatten)]
    common: ExecInspectCommon,
}

/// Libpod exec inspect (Podman's `InspectExecSession`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LibpodExecInspect {
    process_config: LibpodExecProcessConfig,
    #[serde(flatten)]
    common: ExecInspectCommon,
}
