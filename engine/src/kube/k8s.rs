//! The Kubernetes objects `kube play` reads, as serde types over YAML: only the fields Podman
//! 4.9.5 acts on. Scalars are read leniently (a number where a string is expected is taken as
//! its text, a missing or null field as empty) because Podman reads YAML through JSON with
//! the target types in hand and accepts `value: 8080` or `args: [--port, 80]`.
//! Knows nothing of containers or the runtime.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_norway::Value;

/// A scalar as text (`None` for sequences and mappings).
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) => scalar(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

/// Removes mapping entries whose value is null, as Go's decoder leaves such fields unset.
pub(crate) fn drop_nulls(v: Value) -> Value {
    match v {
        Value::Mapping(m) => {
            let mut out = serde_norway::Mapping::new();
            for (k, v) in m {
                if !v.is_null() {
                    out.insert(k, drop_nulls(v));
                }
            }
            Value::Mapping(out)
        }
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(drop_nulls).collect()),
        other => other,
    }
}

fn lstr<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    scalar(&v).ok_or_else(|| D::Error::custom("expected a string"))
}

fn lvec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(s) => s
            .iter()
            .map(|x| scalar(x).ok_or_else(|| D::Error::custom("expected a list of strings")))
            .collect(),
        _ => Err(D::Error::custom("expected a list of strings")),
    }
}

fn lmap<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(BTreeMap::new()),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| match (scalar(k), scalar(v)) {
                (Some(k), Some(v)) => Ok((k, v)),
                _ => Err(D::Error::custom("expected a map of strings")),
            })
            .collect(),
        _ => Err(D::Error::custom("expected a map of strings")),
    }
}

/// A file mode: a YAML integer is decimal (`420`); a string with a leading zero is octal
/// (`0644`, YAML 1.1's reading, which Podman's parser applies).
fn lmode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| D::Error::custom("invalid file mode")),
        Value::String(s) => {
            let t = s.trim();
            let parsed = if let Some(o) = t.strip_prefix("0o") {
                i64::from_str_radix(o, 8)
            } else if let Some(o) = t.strip_prefix('0').filter(|o| !o.is_empty()) {
                i64::from_str_radix(o, 8)
            } else {
                t.parse()
            };
            parsed
                .map(Some)
                .map_err(|_| D::Error::custom(format!("invalid file mode {s:?}")))
        }
        _ => Err(D::Error::custom("invalid file mode")),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ObjectMeta {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    #[serde(deserialize_with = "lmap")]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "lmap")]
    pub(crate) annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Pod {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: PodSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PodTemplateSpec {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: PodSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Workload {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: WorkloadSpec,
}

/// The part of a Deployment's or DaemonSet's spec Podman plays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WorkloadSpec {
    pub(crate) replicas: Option<i64>,
    pub(crate) template: PodTemplateSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub(crate) containers: Vec<Container>,
    pub(crate) init_containers: Vec<Container>,
    pub(crate) volumes: Vec<Volume>,
    #[serde(deserialize_with = "lstr")]
    pub(crate) restart_policy: String,
    pub(crate) host_network: bool,
    pub(crate) host_users: Option<bool>,
    #[serde(deserialize_with = "lstr")]
    pub(crate) hostname: String,
    pub(crate) host_aliases: Option<Vec<HostAlias>>,
    pub(crate) dns_config: Option<DnsConfig>,
    pub(crate) security_context: Option<PodSecurityContext>,
    pub(crate) share_process_namespace: Option<bool>,
    pub(crate) termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HostAlias {
    #[serde(deserialize_with = "lstr")]
    pub(crate) ip: String,
    #[serde(deserialize_with = "lvec")]
    pub(crate) hostnames: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DnsConfig {
    #[serde(deserialize_with = "lvec")]
    pub(crate) nameservers: Vec<String>,
    #[serde(deserialize_with = "lvec")]
    pub(crate) searches: Vec<String>,
    pub(crate) options: Vec<DnsOption>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DnsOption {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodSecurityContext {
    pub(crate) run_as_user: Option<i64>,
    pub(crate) run_as_group: Option<i64>,
    pub(crate) supplemental_groups: Vec<i64>,
    pub(crate) sysctls: Vec<Sysctl>,
    #[serde(rename = "seLinuxOptions")]
    pub(crate) se_linux_options: Option<SeLinuxOptions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Sysctl {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SeLinuxOptions {
    #[serde(deserialize_with = "lstr")]
    pub(crate) user: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) role: String,
    #[serde(rename = "type", deserialize_with = "lstr")]
    pub(crate) type_: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) level: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Container {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) image: String,
    #[serde(deserialize_with = "lvec")]
    pub(crate) command: Vec<String>,
    #[serde(deserialize_with = "lvec")]
    pub(crate) args: Vec<String>,
    #[serde(deserialize_with = "lstr")]
    pub(crate) working_dir: String,
    pub(crate) ports: Vec<ContainerPort>,
    pub(crate) env: Vec<EnvVar>,
    pub(crate) env_from: Vec<EnvFromSource>,
    pub(crate) resources: ResourceRequirements,
    pub(crate) volume_mounts: Vec<VolumeMount>,
    pub(crate) security_context: Option<SecurityContext>,
    pub(crate) tty: bool,
    #[serde(deserialize_with = "lstr")]
    pub(crate) image_pull_policy: String,
    pub(crate) liveness_probe: Option<Probe>,
    pub(crate) startup_probe: Option<Probe>,
    pub(crate) readiness_probe: Option<Value>,
    pub(crate) lifecycle: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ContainerPort {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    pub(crate) container_port: i64,
    pub(crate) host_port: i64,
    #[serde(rename = "hostIP", deserialize_with = "lstr")]
    pub(crate) host_ip: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) protocol: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EnvVar {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) value: String,
    pub(crate) value_from: Option<EnvVarSource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EnvVarSource {
    pub(crate) config_map_key_ref: Option<KeyRef>,
    pub(crate) secret_key_ref: Option<KeyRef>,
    pub(crate) field_ref: Option<FieldRef>,
    pub(crate) resource_field_ref: Option<ResourceFieldRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct KeyRef {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) key: String,
    pub(crate) optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FieldRef {
    #[serde(deserialize_with = "lstr")]
    pub(crate) field_path: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResourceFieldRef {
    #[serde(deserialize_with = "lstr")]
    pub(crate) resource: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) divisor: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EnvFromSource {
    pub(crate) config_map_ref: Option<NameRef>,
    pub(crate) secret_ref: Option<NameRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NameRef {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    pub(crate) optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResourceRequirements {
    #[serde(deserialize_with = "lmap")]
    pub(crate) limits: BTreeMap<String, String>,
    #[serde(deserialize_with = "lmap")]
    pub(crate) requests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct VolumeMount {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) mount_path: String,
    pub(crate) read_only: bool,
    #[serde(deserialize_with = "lstr")]
    pub(crate) sub_path: String,
    pub(crate) mount_propagation: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SecurityContext {
    pub(crate) capabilities: Option<Capabilities>,
    pub(crate) privileged: Option<bool>,
    pub(crate) read_only_root_filesystem: Option<bool>,
    pub(crate) allow_privilege_escalation: Option<bool>,
    pub(crate) run_as_user: Option<i64>,
    pub(crate) run_as_group: Option<i64>,
    pub(crate) proc_mount: Option<String>,
    #[serde(rename = "seLinuxOptions")]
    pub(crate) se_linux_options: Option<SeLinuxOptions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Capabilities {
    #[serde(deserialize_with = "lvec")]
    pub(crate) add: Vec<String>,
    #[serde(deserialize_with = "lvec")]
    pub(crate) drop: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Probe {
    pub(crate) exec: Option<ExecAction>,
    pub(crate) http_get: Option<HttpGetAction>,
    pub(crate) tcp_socket: Option<TcpSocketAction>,
    pub(crate) initial_delay_seconds: i64,
    pub(crate) period_seconds: i64,
    pub(crate) timeout_seconds: i64,
    pub(crate) failure_threshold: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ExecAction {
    #[serde(deserialize_with = "lvec")]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HttpGetAction {
    #[serde(deserialize_with = "lstr")]
    pub(crate) path: String,
    /// A number or a port name.
    #[serde(deserialize_with = "lstr")]
    pub(crate) port: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) host: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) scheme: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TcpSocketAction {
    #[serde(deserialize_with = "lstr")]
    pub(crate) port: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) host: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Volume {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    pub(crate) host_path: Option<HostPathSource>,
    pub(crate) persistent_volume_claim: Option<PvcSource>,
    pub(crate) config_map: Option<ConfigMapSource>,
    pub(crate) secret: Option<SecretSource>,
    pub(crate) empty_dir: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HostPathSource {
    #[serde(deserialize_with = "lstr")]
    pub(crate) path: String,
    #[serde(rename = "type")]
    pub(crate) type_: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PvcSource {
    #[serde(deserialize_with = "lstr")]
    pub(crate) claim_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ConfigMapSource {
    #[serde(deserialize_with = "lstr")]
    pub(crate) name: String,
    pub(crate) items: Vec<KeyToPath>,
    #[serde(deserialize_with = "lmode")]
    pub(crate) default_mode: Option<i64>,
    pub(crate) optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SecretSource {
    #[serde(deserialize_with = "lstr")]
    pub(crate) secret_name: String,
    pub(crate) items: Vec<KeyToPath>,
    #[serde(deserialize_with = "lmode")]
    pub(crate) default_mode: Option<i64>,
    pub(crate) optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct KeyToPath {
    #[serde(deserialize_with = "lstr")]
    pub(crate) key: String,
    #[serde(deserialize_with = "lstr")]
    pub(crate) path: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ConfigMap {
    pub(crate) metadata: ObjectMeta,
    #[serde(deserialize_with = "lmap")]
    pub(crate) data: BTreeMap<String, String>,
    /// Base64 values.
    #[serde(deserialize_with = "lmap")]
    pub(crate) binary_data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Secret {
    pub(crate) metadata: ObjectMeta,
    /// Base64 values.
    #[serde(deserialize_with = "lmap")]
    pub(crate) data: BTreeMap<String, String>,
    #[serde(deserialize_with = "lmap")]
    pub(crate) string_data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PersistentVolumeClaim {
    pub(crate) metadata: ObjectMeta,
}
