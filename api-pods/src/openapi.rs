//! The OpenAPI operations of the pods routes and the kube routes, with the wire types of
//! their JSON answers (the shapes the handlers in `lib.rs` and `kube.rs` build).

#![allow(dead_code)]

use std::collections::BTreeMap;

use api_core::openapi::Op;
use schemars::JsonSchema;

/// The operations of the pods router fragment (kube routes included).
pub fn openapi() -> Vec<Op> {
    vec![
        Op::get("/libpod/generate/kube")
            .summary("Generate Kubernetes YAML for pods, containers or volumes")
            .raw(200, "text/vnd.yaml"),
        Op::post("/libpod/play/kube")
            .summary("Play a Kubernetes YAML file")
            .json::<PlayKubeReport>(),
        Op::post("/libpod/kube/play")
            .summary("Play a Kubernetes YAML file")
            .json::<PlayKubeReport>(),
        Op::delete("/libpod/play/kube")
            .summary("Stop and remove what a Kubernetes YAML file created")
            .json::<PlayKubeReport>(),
        Op::delete("/libpod/kube/play")
            .summary("Stop and remove what a Kubernetes YAML file created")
            .json::<PlayKubeReport>(),
        Op::get("/libpod/kube/generate")
            .summary("Generate Kubernetes YAML for pods, containers or volumes")
            .raw(200, "text/vnd.yaml"),
        Op::post("/libpod/kube/apply")
            .summary("Deploy a Kubernetes YAML file to a Kubernetes cluster")
            .json::<String>(),
        Op::get("/libpod/pods/json")
            .summary("List pods")
            .json::<Vec<ListPodsReport>>(),
        Op::post("/libpod/pods/create")
            .summary("Create a pod")
            .json_at::<PodCreateResponse>(201),
        Op::post("/libpod/pods/prune")
            .summary("Remove the pods whose containers are all stopped")
            .json::<Vec<PodPruneReport>>(),
        Op::delete("/libpod/pods/{name}")
            .summary("Remove a pod")
            .json::<PodRmReport>(),
        Op::get("/libpod/pods/{name}/json")
            .summary("Inspect a pod")
            .json::<PodInspectReport>(),
        Op::get("/libpod/pods/{name}/exists")
            .summary("Whether a pod exists")
            .empty(204),
        Op::post("/libpod/pods/{name}/kill")
            .summary("Send a signal to the containers of a pod")
            .json::<PodKillReport>()
            .json_at::<PodKillReport>(409)
            .empty(304),
        Op::post("/libpod/pods/{name}/pause")
            .summary("Pause the containers of a pod")
            .json::<PodPauseReport>()
            .json_at::<PodPauseReport>(409)
            .empty(304),
        Op::post("/libpod/pods/{name}/restart")
            .summary("Restart the containers of a pod")
            .json::<PodRestartReport>()
            .json_at::<PodRestartReport>(409)
            .empty(304),
        Op::post("/libpod/pods/{name}/start")
            .summary("Start a pod")
            .json::<PodStartReport>()
            .json_at::<PodStartReport>(409)
            .empty(304),
        Op::post("/libpod/pods/{name}/stop")
            .summary("Stop a pod")
            .json::<PodStopReport>()
            .json_at::<PodStopReport>(409)
            .empty(304),
        Op::post("/libpod/pods/{name}/unpause")
            .summary("Unpause the containers of a pod")
            .json::<PodUnpauseReport>()
            .json_at::<PodUnpauseReport>(409)
            .empty(304),
        Op::get("/libpod/pods/{name}/top")
            .summary("List the processes of the running containers of a pod")
            .json::<PodTopOkBody>(),
        // One JSON array per sample: a single one without `stream`, one a line with it.
        Op::get("/libpod/pods/stats")
            .summary("Resource usage of the running containers of pods")
            .lines::<Vec<PodStatsReport>>(),
    ]
}

/// `POST /libpod/pods/create`: the new pod's ID (Podman's `IdResponse`).
#[derive(serde::Serialize, JsonSchema)]
struct PodCreateResponse {
    /// The pod's ID.
    #[serde(rename = "Id")]
    id: String,
}

/// A member of a listed pod.
#[derive(serde::Serialize, JsonSchema)]
struct ListPodContainer {
    #[serde(rename = "Id")]
    id: String,
    /// The container's name.
    #[serde(rename = "Names")]
    names: String,
    /// The container's state (`running`, `exited`, ...).
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "RestartCount")]
    restart_count: u64,
}

/// One pod of `GET /libpod/pods/json`.
#[derive(serde::Serialize, JsonSchema)]
struct ListPodsReport {
    /// The cgroup parent.
    #[serde(rename = "Cgroup")]
    cgroup: String,
    /// The members, infra container first.
    #[serde(rename = "Containers")]
    containers: Vec<ListPodContainer>,
    /// Creation time, RFC 3339 with nanoseconds.
    #[serde(rename = "Created")]
    created: String,
    #[serde(rename = "Id")]
    id: String,
    /// The infra container's ID, empty without one.
    #[serde(rename = "InfraId")]
    infra_id: String,
    #[serde(rename = "Name")]
    name: String,
    /// Always empty.
    #[serde(rename = "Namespace")]
    namespace: String,
    /// The networks the pod's containers are on.
    #[serde(rename = "Networks")]
    networks: Vec<String>,
    /// `Created`, `Running`, `Degraded`, `Exited`, `Paused`, `Stopped` or `Error`.
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Labels")]
    labels: BTreeMap<String, String>,
}

/// A member of an inspected pod (`InspectPodContainerInfo`).
#[derive(serde::Serialize, JsonSchema)]
struct InspectPodContainerInfo {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    /// The container's state (`running`, `exited`, ...).
    #[serde(rename = "State")]
    state: String,
}

/// A host address and port a container port is published on.
#[derive(serde::Serialize, JsonSchema)]
struct PodInspectHostPort {
    /// The host address, empty for all.
    #[serde(rename = "HostIp")]
    host_ip: String,
    /// The host port, empty when chosen at start.
    #[serde(rename = "HostPort")]
    host_port: String,
}

/// The pod-level settings held by the infra container (`InspectPodInfraConfig`).
#[derive(serde::Serialize, JsonSchema)]
struct InspectPodInfraConfig {
    /// `<port>/<protocol>` to the host bindings.
    #[serde(rename = "PortBindings")]
    port_bindings: BTreeMap<String, Vec<PodInspectHostPort>>,
    #[serde(rename = "HostNetwork")]
    host_network: bool,
    #[serde(rename = "StaticIP")]
    static_ip: String,
    #[serde(rename = "StaticMAC")]
    static_mac: String,
    #[serde(rename = "NoManageResolvConf")]
    no_manage_resolv_conf: bool,
    #[serde(rename = "DNSServer")]
    dns_server: Option<Vec<String>>,
    #[serde(rename = "DNSSearch")]
    dns_search: Option<Vec<String>>,
    #[serde(rename = "DNSOption")]
    dns_option: Option<Vec<String>>,
    #[serde(rename = "NoManageHosts")]
    no_manage_hosts: bool,
    /// Extra `/etc/hosts` entries.
    #[serde(rename = "HostAdd")]
    host_add: Option<Vec<String>>,
    #[serde(rename = "Networks")]
    networks: Vec<String>,
    /// Always `null`.
    #[serde(rename = "NetworkOptions")]
    network_options: Option<BTreeMap<String, Vec<String>>>,
    /// `pod` when the members share the PID namespace, else `private`.
    pid_ns: String,
    userns: String,
    uts_nsmode: String,
}

/// `GET /libpod/pods/{name}/json`.
#[derive(serde::Serialize, JsonSchema)]
struct PodInspectReport {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    /// Always empty.
    #[serde(rename = "Namespace")]
    namespace: String,
    /// Creation time, RFC 3339 with nanoseconds.
    #[serde(rename = "Created")]
    created: String,
    /// The command line the client reported, `null` when none.
    #[serde(rename = "CreateCommand")]
    create_command: Option<Vec<String>>,
    /// `continue` or `stop`.
    #[serde(rename = "ExitPolicy")]
    exit_policy: String,
    /// `Created`, `Running`, `Degraded`, `Exited`, `Paused`, `Stopped` or `Error`.
    #[serde(rename = "State")]
    state: String,
    #[serde(rename = "Hostname")]
    hostname: String,
    #[serde(rename = "Labels")]
    labels: BTreeMap<String, String>,
    #[serde(rename = "CreateCgroup")]
    create_cgroup: bool,
    #[serde(rename = "CgroupParent")]
    cgroup_parent: String,
    #[serde(rename = "CgroupPath")]
    cgroup_path: String,
    /// Whether the pod has an infra container.
    #[serde(rename = "CreateInfra")]
    create_infra: bool,
    /// Only with an infra container.
    #[serde(rename = "InfraContainerID", skip_serializing_if = "Option::is_none")]
    infra_container_id: Option<String>,
    /// Only with an infra container.
    #[serde(rename = "InfraConfig", skip_serializing_if = "Option::is_none")]
    infra_config: Option<InspectPodInfraConfig>,
    /// The namespaces the members share (`ipc`, `net`, `uts`, ...).
    #[serde(rename = "SharedNamespaces")]
    shared_namespaces: Vec<String>,
    #[serde(rename = "NumContainers")]
    num_containers: u64,
    /// The members, infra container first.
    #[serde(rename = "Containers")]
    containers: Vec<InspectPodContainerInfo>,
    #[serde(rename = "LockNumber")]
    lock_number: u64,
}

/// Declares the reports of the pod-wide verbs: the pod and the errors of its containers.
macro_rules! pod_reports {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(serde::Serialize, JsonSchema)]
        struct $name {
            /// The errors of the containers that failed, `null` when none did.
            #[serde(rename = "Errs")]
            errs: Option<Vec<String>>,
            /// The pod's ID.
            #[serde(rename = "Id")]
            id: String,
        }
    )*};
}

pod_reports! {
    /// `POST /libpod/pods/{name}/kill`.
    PodKillReport;
    /// `POST /libpod/pods/{name}/pause`.
    PodPauseReport;
    /// `POST /libpod/pods/{name}/restart`.
    PodRestartReport;
    /// `POST /libpod/pods/{name}/start`.
    PodStartReport;
    /// `POST /libpod/pods/{name}/stop`, and a pod `kube down` stopped.
    PodStopReport;
    /// `POST /libpod/pods/{name}/unpause`.
    PodUnpauseReport;
}

/// `DELETE /libpod/pods/{name}`, and a pod `kube down` removed.
#[derive(serde::Serialize, JsonSchema)]
struct PodRmReport {
    /// The error, `null` when the pod was removed.
    #[serde(rename = "Err")]
    err: Option<String>,
    #[serde(rename = "Id")]
    id: String,
    /// The removed containers' IDs, each with its error (`null`).
    #[serde(rename = "RemovedCtrs")]
    removed_ctrs: BTreeMap<String, Option<String>>,
}

/// One pod removed by `POST /libpod/pods/prune`.
#[derive(serde::Serialize, JsonSchema)]
struct PodPruneReport {
    /// Always `null`.
    #[serde(rename = "Err")]
    err: Option<String>,
    #[serde(rename = "Id")]
    id: String,
}

/// `GET /libpod/pods/{name}/top` (`PodTopOKBody`).
#[derive(serde::Serialize, JsonSchema)]
#[schemars(rename = "PodTopOKBody")]
struct PodTopOkBody {
    /// The column titles.
    #[serde(rename = "Titles")]
    titles: Vec<String>,
    /// One row per process, as many fields as titles.
    #[serde(rename = "Processes")]
    processes: Vec<Vec<String>>,
}

/// One running container of `GET /libpod/pods/stats`; every value is text.
#[derive(serde::Serialize, JsonSchema)]
struct PodStatsReport {
    /// CPU percentage (`0.00%`).
    #[serde(rename = "CPU")]
    cpu: String,
    /// Human-readable usage and limit (`1.2MB / 8GB`).
    #[serde(rename = "MemUsage")]
    mem_usage: String,
    /// Usage and limit in bytes (`1234 / 5678`).
    #[serde(rename = "MemUsageBytes")]
    mem_usage_bytes: String,
    /// Memory percentage (`0.02%`).
    #[serde(rename = "Mem")]
    mem: String,
    #[serde(rename = "NetIO")]
    net_io: String,
    #[serde(rename = "BlockIO")]
    block_io: String,
    /// The number of processes.
    #[serde(rename = "PIDS")]
    pids: String,
    /// The pod's short ID.
    #[serde(rename = "Pod")]
    pod: String,
    /// The container's short ID.
    #[serde(rename = "CID")]
    cid: String,
    /// The container's name.
    #[serde(rename = "Name")]
    name: String,
}

/// A pod `kube play` created (`PlayKubePod`).
#[derive(serde::Serialize, JsonSchema)]
struct PlayKubePod {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Containers")]
    containers: Option<Vec<String>>,
    #[serde(rename = "InitContainers")]
    init_containers: Option<Vec<String>>,
    /// Non-fatal messages.
    #[serde(rename = "Logs")]
    logs: Option<Vec<String>>,
    /// `starting container <id>: <error>` for members that did not start.
    #[serde(rename = "ContainerErrors")]
    container_errors: Option<Vec<String>>,
}

/// A volume a PersistentVolumeClaim created (`PlayKubeVolume`).
#[derive(serde::Serialize, JsonSchema)]
struct PlayKubeVolume {
    #[serde(rename = "Name")]
    name: String,
}

/// The secret a Kubernetes Secret created (Podman's `SecretCreateReport`).
#[derive(serde::Serialize, JsonSchema)]
struct PlayKubeSecretCreateReport {
    #[serde(rename = "ID")]
    id: String,
}

/// A secret `kube play` created (`PlaySecret`).
#[derive(serde::Serialize, JsonSchema)]
struct PlaySecret {
    #[serde(rename = "CreateReport")]
    create_report: PlayKubeSecretCreateReport,
}

/// A volume `kube down` removed (Podman's `VolumeRmReport`).
#[derive(serde::Serialize, JsonSchema)]
struct PlayKubeVolumeRmReport {
    /// The error, `null` on success.
    #[serde(rename = "Err")]
    err: Option<String>,
    #[serde(rename = "Id")]
    id: String,
}

/// A secret `kube down` removed (Podman's `SecretRmReport`).
#[derive(serde::Serialize, JsonSchema)]
struct PlayKubeSecretRmReport {
    #[serde(rename = "ID")]
    id: String,
    /// The error, `null` on success.
    #[serde(rename = "Err")]
    err: Option<String>,
}

/// What `kube play` created, or what `kube down` stopped and removed (`PlayKubeReport`).
#[derive(serde::Serialize, JsonSchema)]
struct PlayKubeReport {
    #[serde(rename = "Pods")]
    pods: Option<Vec<PlayKubePod>>,
    #[serde(rename = "Volumes")]
    volumes: Option<Vec<PlayKubeVolume>>,
    /// `kube down` only.
    #[serde(rename = "StopReport")]
    stop_report: Option<Vec<PodStopReport>>,
    /// `kube down` only.
    #[serde(rename = "RmReport")]
    rm_report: Option<Vec<PodRmReport>>,
    /// `kube down` with `force` only.
    #[serde(rename = "VolumeRmReport")]
    volume_rm_report: Option<Vec<PlayKubeVolumeRmReport>>,
    /// `kube down` only.
    #[serde(rename = "SecretRmReport")]
    secret_rm_report: Option<Vec<PlayKubeSecretRmReport>>,
    #[serde(rename = "Secrets")]
    secrets: Option<Vec<PlaySecret>>,
    /// Always empty: podapid runs no service containers.
    #[serde(rename = "ServiceContainerID")]
    service_container_id: String,
    #[serde(rename = "ExitCode")]
    exit_code: Option<i32>,
}
