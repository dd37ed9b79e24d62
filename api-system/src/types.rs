//! Wire types of the system routes, named after Podman's and Docker's schemas.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

/// `Platform` of a version report.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemPlatform")]
pub struct Platform {
    #[serde(rename = "Name")]
    pub name: String,
}

/// One component of a version report.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ComponentVersion {
    pub name: String,
    pub version: String,
    pub details: BTreeMap<String, String>,
}

/// `GET /version` (both trees): Docker's `types.Version` with Podman's components.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemVersionReport")]
#[serde(rename_all = "PascalCase")]
pub struct VersionReport {
    pub platform: Platform,
    pub components: Vec<ComponentVersion>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

/// `IndexInfo` of the compat registry config.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct IndexInfo {
    pub name: String,
    pub mirrors: Vec<String>,
    pub secure: bool,
    pub official: bool,
}

/// `ServiceConfig` of compat info.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RegistryServiceConfig {
    #[serde(rename = "AllowNondistributableArtifactsCIDRs")]
    pub allow_nondistributable_artifacts_cidrs: Vec<String>,
    pub allow_nondistributable_artifacts_hostnames: Vec<String>,
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Vec<String>,
    pub index_configs: BTreeMap<String, IndexInfo>,
    pub mirrors: Vec<String>,
}

/// Docker's `PluginsInfo`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PluginsInfo {
    pub volume: Vec<String>,
    pub network: Vec<String>,
    pub authorization: Option<Vec<String>>,
    pub log: Vec<String>,
}

/// Docker's `Commit`.
#[derive(Debug, Serialize, Default, JsonSchema)]
#[schemars(rename = "SystemInfoCommit")]
#[serde(rename_all = "PascalCase")]
pub struct Commit {
    #[serde(rename = "ID")]
    pub id: String,
    pub expected: String,
}

/// A runtime path of compat info.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemInfoRuntime")]
pub struct RuntimePath {
    pub path: String,
}

/// Docker's swarm `Info` (always inactive).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SwarmInfo {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_addr: String,
    pub local_node_state: String,
    pub control_available: bool,
    pub error: String,
    pub remote_managers: Option<Vec<String>>,
}

/// `GET /info` (compat): Docker's `types.Info` plus Podman's extra fields.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemInfo")]
#[serde(rename_all = "PascalCase")]
pub struct CompatInfo {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub driver: String,
    pub driver_status: Vec<[String; 2]>,
    pub plugins: PluginsInfo,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub kernel_memory: bool,
    #[serde(rename = "KernelMemoryTCP")]
    pub kernel_memory_tcp: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub bridge_nf_iptables: bool,
    pub bridge_nf_ip6tables: bool,
    pub debug: bool,
    #[serde(rename = "NFd")]
    pub nfd: usize,
    pub oom_kill_disable: bool,
    pub n_goroutines: usize,
    pub system_time: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub n_events_listener: usize,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    pub index_server_address: String,
    pub registry_config: RegistryServiceConfig,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub generic_resources: Option<Vec<String>>,
    pub docker_root_dir: String,
    pub http_proxy: String,
    pub https_proxy: String,
    pub no_proxy: String,
    pub name: String,
    pub labels: Option<Vec<String>>,
    pub experimental_build: bool,
    pub server_version: String,
    pub runtimes: BTreeMap<String, RuntimePath>,
    pub default_runtime: String,
    pub swarm: SwarmInfo,
    pub live_restore_enabled: bool,
    pub isolation: String,
    pub init_binary: String,
    pub containerd_commit: Commit,
    pub runc_commit: Commit,
    pub init_commit: Commit,
    pub security_options: Vec<String>,
    pub product_license: String,
    pub warnings: Vec<String>,
    pub buildah_version: String,
    #[serde(rename = "CPURealtimePeriod")]
    pub cpu_realtime_period: bool,
    #[serde(rename = "CPURealtimeRuntime")]
    pub cpu_realtime_runtime: bool,
    pub cgroup_version: String,
    pub rootless: bool,
    pub swap_free: u64,
    pub swap_total: u64,
    pub uptime: String,
}

/// libpod's `ConmonInfo` / `OCIRuntimeInfo` / `SlirpInfo`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemToolInfo")]
pub struct ToolInfoReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub package: String,
    pub path: String,
    pub version: String,
}

/// libpod's `SlirpInfo`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SlirpInfo {
    pub executable: String,
    pub package: String,
    pub version: String,
}

/// libpod's `CPUUsage`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemCPUUsage")]
#[serde(rename_all = "camelCase")]
pub struct CpuUsage {
    pub user_percent: f64,
    pub system_percent: f64,
    pub idle_percent: f64,
}

/// libpod's `DistributionInfo`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DistributionInfo {
    pub distribution: String,
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub codename: String,
}

/// libpod's `IDMappings`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemIDMappings")]
pub struct IdMappings {
    pub gidmap: Option<Vec<serde_json::Value>>,
    pub uidmap: Option<Vec<serde_json::Value>>,
}

/// libpod's `RemoteSocket`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RemoteSocket {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    pub exists: bool,
}

/// libpod's `SecurityInfo`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemSecurityInfo")]
#[serde(rename_all = "camelCase")]
pub struct SecurityInfo {
    pub apparmor_enabled: bool,
    pub capabilities: String,
    pub rootless: bool,
    pub seccomp_enabled: bool,
    pub seccomp_profile_path: String,
    pub selinux_enabled: bool,
}

/// libpod's `HostInfo`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibpodHostInfo")]
#[serde(rename_all = "camelCase")]
pub struct HostInfoReport {
    pub arch: String,
    pub buildah_version: String,
    pub cgroup_manager: String,
    pub cgroup_version: String,
    pub cgroup_controllers: Vec<String>,
    pub conmon: ToolInfoReport,
    pub cpus: usize,
    pub cpu_utilization: CpuUsage,
    pub database_backend: String,
    pub distribution: DistributionInfo,
    pub event_logger: String,
    pub free_locks: u32,
    pub hostname: String,
    pub id_mappings: IdMappings,
    pub kernel: String,
    pub log_driver: String,
    pub mem_free: u64,
    pub mem_total: u64,
    pub network_backend: String,
    pub network_backend_info: serde_json::Value,
    pub oci_runtime: ToolInfoReport,
    pub os: String,
    pub remote_socket: RemoteSocket,
    pub rootless_network_cmd: String,
    pub service_is_remote: bool,
    pub security: SecurityInfo,
    pub slirp4netns: SlirpInfo,
    pub pasta: ToolInfoReport,
    pub swap_free: u64,
    pub swap_total: u64,
    pub uptime: String,
    pub variant: String,
    pub linkmode: String,
}

/// libpod's `ContainerStore`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibpodContainerStore")]
pub struct ContainerStoreReport {
    pub number: i64,
    pub paused: i64,
    pub running: i64,
    pub stopped: i64,
}

/// libpod's `ImageStore`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibpodImageStore")]
pub struct ImageStoreReport {
    pub number: i64,
}

/// libpod's `StoreInfo`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibpodStoreInfo")]
#[serde(rename_all = "camelCase")]
pub struct StoreInfoReport {
    pub config_file: String,
    pub container_store: ContainerStoreReport,
    pub graph_driver_name: String,
    pub graph_options: BTreeMap<String, String>,
    pub graph_root: String,
    pub graph_root_allocated: u64,
    pub graph_root_used: u64,
    pub graph_status: BTreeMap<String, String>,
    pub image_copy_tmp_dir: String,
    pub image_store: ImageStoreReport,
    pub run_root: String,
    pub volume_path: String,
    pub transient_store: bool,
}

/// One registry of libpod info (containers/image's `Registry`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SystemRegistry")]
#[serde(rename_all = "PascalCase")]
pub struct RegistryReport {
    pub prefix: String,
    pub location: String,
    pub insecure: bool,
    pub pull_from_mirror: String,
    pub mirrors: Option<Vec<serde_json::Value>>,
    pub blocked: bool,
    pub mirror_by_digest_only: bool,
}

/// libpod's `Plugins`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibpodPlugins")]
pub struct PluginsReport {
    pub volume: Vec<String>,
    pub network: Vec<String>,
    pub log: Vec<String>,
    pub authorization: Option<Vec<String>>,
}

/// libpod's `Version`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LibpodVersion {
    #[serde(rename = "APIVersion")]
    pub api_version: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "GoVersion")]
    pub go_version: String,
    #[serde(rename = "GitCommit")]
    pub git_commit: String,
    #[serde(rename = "BuiltTime")]
    pub built_time: String,
    #[serde(rename = "Built")]
    pub built: i64,
    #[serde(rename = "OsArch")]
    pub os_arch: String,
    #[serde(rename = "Os")]
    pub os: String,
}

/// `GET /libpod/info`: libpod's `define.Info`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LibpodInfo {
    pub host: HostInfoReport,
    pub store: StoreInfoReport,
    pub registries: BTreeMap<String, serde_json::Value>,
    pub plugins: PluginsReport,
    pub version: LibpodVersion,
}

/// An event in Docker's `events.Message` shape (both trees; libpod names differ).
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventMessage {
    pub status: String,
    pub id: String,
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    #[serde(rename = "HealthStatus", skip_serializing_if = "String::is_empty")]
    pub health_status: String,
}

/// Docker's `events.Actor`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventActor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// `SecretDriverSpec`: the driver keeping a secret's bytes and its options.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SecretDriverSpec {
    pub name: String,
    pub options: BTreeMap<String, String>,
}

/// `SecretSpec`: a secret's name, driver and labels.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SecretSpec {
    pub name: String,
    pub driver: SecretDriverSpec,
    /// `null` in lists (Podman leaves labels out there), a map on inspect.
    pub labels: Option<BTreeMap<String, String>>,
}

/// `SecretInfoReport`: a secret as libpod lists and inspects it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretInfoReport {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "UpdatedAt")]
    pub updated_at: String,
    #[serde(rename = "Spec")]
    pub spec: SecretSpec,
    /// The secret's bytes, only when `showsecret` was asked for.
    #[serde(rename = "SecretData", skip_serializing_if = "Option::is_none")]
    pub secret_data: Option<String>,
}

/// `SecretVersion`: always index 1, secrets cannot be updated.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SecretVersion {
    pub index: u64,
}

/// `SecretInfoReportCompat`: the libpod report plus Docker's `Version`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretInfoReportCompat {
    #[serde(flatten)]
    pub report: SecretInfoReport,
    #[serde(rename = "Version")]
    pub version: SecretVersion,
}

/// `SecretCreateReport`: the ID of a new secret (both trees).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretCreateReport {
    #[serde(rename = "ID")]
    pub id: String,
}
