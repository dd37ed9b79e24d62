//! Kubernetes YAML both ways, as Podman 4.9.5's `kube generate`, `kube play` and `kube down`.
//!
//! - [`generate()`] turns pods, standalone containers and volumes into Pod (or Deployment /
//!   DaemonSet), Service and PersistentVolumeClaim documents (pure: records in, text out).
//! - [`plan()`] turns YAML into a [`KubePlan`]: the create requests to run (pure: no I/O,
//!   no runtime; secrets stored earlier are handed in by the caller, see
//!   [`play::plan_with_secrets`]).
//! - [`run`] executes a plan on the [`crate::Runtime`] (`play_kube`, `kube_down`) and reports
//!   in the JSON shapes Podman answers with.
//!
//! What a plan asks besides create requests is explicit data the executor acts on: networks
//! to make sure of, images to pull, host paths to create or check
//! ([`PlannedHostPath`]), and files to write into the named volumes that carry ConfigMap and
//! Secret volumes ([`PlannedVolumeFiles`]: Podman's way, a named volume per ConfigMap or
//! Secret holding one file per key). Knows nothing of HTTP.

use std::collections::BTreeMap;

use crate::containers::lifecycle::{ContainerCreate, ContainerRecord};
use crate::error::{Error, Result};
use crate::pods::{PodCreate, PodRecord};
use crate::volumes::{VolumeCreate, VolumeRecord};

pub mod apply;
pub mod generate;
mod k8s;
pub mod play;
pub mod run;

pub use generate::{generate, generate_with_caps};
pub use play::{down_targets, plan, plan_with_secrets, referenced_secrets, DownTargets};
pub use run::{
    DownReport, PlayKubePod, PlayKubeVolume, PlayReport, PlaySecret, PodRmReport, PodStopReport,
    SecretCreateReport, SecretRmReport, VolumeRmReport,
};

/// The network `kube play` puts pods on when no network is asked for (created with DNS).
pub const KUBE_DEFAULT_NETWORK: &str = "podman-default-kube-network";
/// Pod annotation naming the infra container (set by generate when it is not the default).
pub const INFRA_NAME_ANNOTATION: &str = "io.podman.annotations.infra.name";
/// Pod annotation choosing how init containers run: `once` (default, removed after their
/// run) or `always`.
pub const INIT_CONTAINER_TYPE_ANNOTATION: &str = "io.podman.annotations.init.container.type";
/// Pod annotation with the ulimits of the containers (`nofile=1024:2048,...`).
pub const ULIMIT_ANNOTATION: &str = "io.podman.annotations.ulimit";
/// Set on every played container: health checks wait for `initialDelaySeconds`.
pub const KUBE_HEALTH_CHECK_ANNOTATION: &str = "io.podman.annotations.kube.health.check";
/// The infra container of the pod a played container belongs to.
pub const SANDBOX_ID_ANNOTATION: &str = "io.kubernetes.cri-o.SandboxID";
/// Pod annotation carrying a bind mount's SELinux relabel option (`/src:Z`).
pub const BIND_MOUNT_ANNOTATION: &str = "bind-mount-options";
/// Container label (or pod annotation, `<label>/<container>`) for `podman auto-update`.
pub const AUTO_UPDATE_LABEL: &str = "io.containers.autoupdate";
/// The authfile `podman auto-update` uses.
pub const AUTO_UPDATE_AUTHFILE_LABEL: &str = "io.containers.autoupdate.authfile";
/// PersistentVolumeClaim annotations carrying the Podman volume's driver and options.
pub const VOLUME_DRIVER_ANNOTATION: &str = "volume.podman.io/driver";
pub const VOLUME_TYPE_ANNOTATION: &str = "volume.podman.io/type";
pub const VOLUME_DEVICE_ANNOTATION: &str = "volume.podman.io/device";
pub const VOLUME_UID_ANNOTATION: &str = "volume.podman.io/uid";
pub const VOLUME_GID_ANNOTATION: &str = "volume.podman.io/gid";
pub const VOLUME_MOUNT_OPTS_ANNOTATION: &str = "volume.podman.io/mount-options";
pub const VOLUME_IMPORT_SOURCE_ANNOTATION: &str = "volume.podman.io/import-source";
/// The longest annotation value Kubernetes takes (longer ones are truncated by generate and
/// refused by play).
pub const MAX_KUBE_ANNOTATION: usize = 63;

/// One object `kube generate` describes.
// A pod carries several records while a volume is small; these are built once per request,
// so boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum GenerateInput {
    /// A pod: its record, its infra container and its other containers.
    Pod {
        pod: PodRecord,
        infra: Option<ContainerRecord>,
        members: Vec<ContainerRecord>,
    },
    /// A container outside pods; all of them go into one Pod named `<first container>-pod`.
    Container(ContainerRecord),
    /// A volume: a PersistentVolumeClaim.
    Volume(VolumeRecord),
}

/// Options of `kube generate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Add a `kind: Service` (NodePort) per pod; pods then publish no `hostPort`.
    pub service: bool,
    /// `pod` (default), `deployment` or `daemonset`.
    pub kind: String,
    /// Deployment replicas (1 is not written, as Kubernetes defaults to it).
    pub replicas: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            service: false,
            kind: "pod".into(),
            replicas: 1,
        }
    }
}

/// Options of `kube play`, applied as Podman applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlayOptions {
    /// `--network` values (`host`, `none`, `ns:<path>`, `name[:ip=...,mac=...,alias=...]`);
    /// empty: every pod joins [`KUBE_DEFAULT_NETWORK`].
    pub networks: Vec<String>,
    /// One static IP per pod, in the order the pods are played.
    pub static_ips: Vec<String>,
    /// One static MAC per pod, in the order the pods are played.
    pub static_macs: Vec<String>,
    /// `-p` specs; they win over the YAML's host ports for the same container port.
    pub publish_ports: Vec<String>,
    /// Added to the annotations of every `kind: Pod` (not Deployments, as Podman).
    pub annotations: BTreeMap<String, String>,
    pub log_driver: Option<String>,
    /// Refuses `hostAliases`, as Podman (podapid has no per-container `/etc/hosts` switch).
    pub no_hosts: bool,
    /// User namespace mode; only the host's is supported.
    pub userns: Option<String>,
}

/// What `kube play` creates, in order: networks, secrets, volumes, images, host paths,
/// volume files, then each pod with its containers.
#[derive(Debug, Clone, Default)]
pub struct KubePlan {
    /// PersistentVolumeClaims (created with `ignore_if_exists`).
    pub volumes: Vec<VolumeCreate>,
    pub secrets: Vec<PlannedSecret>,
    pub pods: Vec<PlannedPod>,
    /// Networks to create when missing (DNS enabled).
    pub networks: Vec<String>,
    /// Images the containers need, with their pull policy (deduplicated).
    pub images: Vec<PlannedImage>,
    /// hostPath volumes to create or check before the containers are created.
    pub host_paths: Vec<PlannedHostPath>,
    /// Named volumes (created when missing) to fill with files: ConfigMap and Secret volumes.
    pub volume_files: Vec<PlannedVolumeFiles>,
}

/// A Kubernetes Secret stored as a Podman secret. Its bytes are the Secret object as YAML
/// (what Podman stores), so references to it read `data` and `stringData` back.
#[derive(Debug, Clone, Default)]
pub struct PlannedSecret {
    pub name: String,
    pub data: Vec<u8>,
    pub labels: BTreeMap<String, String>,
}

/// One pod to create.
#[derive(Debug, Clone, Default)]
pub struct PlannedPod {
    pub pod: PodCreate,
    /// Run one after the other before the containers; their config has no restart policy.
    pub init_containers: Vec<ContainerCreate>,
    pub containers: Vec<ContainerCreate>,
    /// The YAML kind the pod came from: `Pod`, `Deployment` or `DaemonSet`.
    pub kind: String,
    /// `once` (removed after their run) or `always`.
    pub init_container_type: String,
    /// Environment variables that get the pod's ID (`fieldRef: metadata.uid`), known only
    /// once the pod exists: (container name, variable).
    pub pod_uid_env: Vec<(String, String)>,
}

/// An image to have before creating containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedImage {
    pub reference: String,
    pub policy: PullPolicy,
}

/// `imagePullPolicy`; the default is `Missing`, or `Newer` for an explicit `:latest` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Missing,
    Always,
    Never,
    Newer,
}

/// A hostPath volume's host side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedHostPath {
    /// The volume's name in the YAML (for messages).
    pub volume: String,
    pub path: String,
    pub check: HostPathCheck,
}

/// What is done with a hostPath before use, by its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathCheck {
    /// Unset, `Directory`, `File`: it must exist (Podman checks no more).
    Exists,
    /// Created (mode 0755, with parents) when missing.
    DirectoryOrCreate,
    /// Created empty (mode 0644) when missing.
    FileOrCreate,
    Socket,
    /// Passed to the container as a device.
    CharDevice,
    /// Passed to the container as a device.
    BlockDevice,
}

/// Files to write into a named volume (ConfigMap / Secret volumes): `files` maps a path
/// relative to the volume's data directory to its bytes, written with `mode`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedVolumeFiles {
    pub volume: String,
    pub files: BTreeMap<String, Vec<u8>>,
    pub mode: u32,
}

/// Turns a JSON tree into YAML with every mapping's keys sorted, as Podman's YAML writer
/// (which goes through JSON objects) orders them.
pub(crate) fn to_yaml(v: &serde_json::Value) -> serde_norway::Value {
    use serde_json::Value as J;
    use serde_norway::Value as Y;
    match v {
        J::Null => Y::Null,
        J::Bool(b) => Y::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Y::Number(serde_norway::Number::from(i))
            } else if let Some(u) = n.as_u64() {
                Y::Number(serde_norway::Number::from(u))
            } else {
                Y::Number(serde_norway::Number::from(n.as_f64().unwrap_or_default()))
            }
        }
        J::String(s) => Y::String(s.clone()),
        J::Array(a) => Y::Sequence(a.iter().map(to_yaml).collect()),
        J::Object(o) => {
            let mut entries: Vec<(&String, &J)> = o.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut m = serde_norway::Mapping::new();
            for (k, v) in entries {
                m.insert(Y::String(k.clone()), to_yaml(v));
            }
            Y::Mapping(m)
        }
    }
}

/// One YAML document (no `---`), ending with a newline.
pub(crate) fn yaml_text(v: &serde_json::Value) -> Result<String> {
    serde_norway::to_string(&to_yaml(v))
        .map_err(|e| Error::Internal(format!("writing kube YAML: {e}")))
}

/// A Kubernetes quantity (`128Mi`, `1G`, `500m`, `0.5`, `1e3`) in base units.
pub(crate) fn parse_quantity(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let split = t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '+' || *c == '-'))
        .map(|(i, _)| i)
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let mut value: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        exp if exp.starts_with(['e', 'E']) => {
            let e: i32 = exp.get(1..)?.parse().ok()?;
            value *= 10f64.powi(e);
            1.0
        }
        _ => return None,
    };
    let v = value * mult;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// Bytes as Kubernetes prints a binary quantity: the largest power-of-1024 suffix that
/// divides it (`64Mi`), else the plain number.
pub(crate) fn format_bytes(n: i64) -> String {
    const SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut best = None;
    let mut unit: i64 = 1;
    for s in SUFFIXES {
        unit = match unit.checked_mul(1024) {
            Some(u) => u,
            None => break,
        };
        if n >= unit && n % unit == 0 {
            best = Some((n / unit, s));
        }
    }
    match best {
        Some((m, s)) => format!("{m}{s}"),
        None => n.to_string(),
    }
}

/// Millicores as Kubernetes prints a CPU quantity (`1`, `1500m`).
pub(crate) fn format_milli(m: i64) -> String {
    if m % 1000 == 0 {
        (m / 1000).to_string()
    } else {
        format!("{m}m")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::containers::config::{Mount, NetMode, PortMapping};

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("128Mi"), Some(134_217_728.0));
        assert_eq!(parse_quantity("1G"), Some(1e9));
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("12Q"), None);
        assert_eq!(format_bytes(64 << 20), "64Mi");
        assert_eq!(format_bytes(1536), "1536");
        assert_eq!(format_bytes(1 << 30), "1Gi");
        assert_eq!(format_milli(1500), "1500m");
        assert_eq!(format_milli(2000), "2");
    }

    #[test]
    fn yaml_keys_are_sorted() {
        let v = serde_json::json!({"spec": {"b": 1, "a": [true]}, "kind": "Pod"});
        let text = yaml_text(&v).unwrap();
        assert_eq!(text, "kind: Pod\nspec:\n  a:\n  - true\n  b: 1\n");
    }

    /// generate → plan gives back the pod: same containers (by their YAML names), images,
    /// commands, env, published ports, mounts and restart policy.
    #[test]
    fn round_trip() {
        let pod = PodRecord {
            id: "a".repeat(64),
            name: "web".into(),
            hostname: "web".into(),
            infra_id: Some("b".repeat(64)),
            share: vec!["ipc".into(), "net".into(), "uts".into()],
            infra_config: crate::containers::config::ContainerConfig {
                ports: vec![PortMapping {
                    host_ip: String::new(),
                    host_port: 8080,
                    container_port: 80,
                    range: 1,
                    protocol: "tcp".into(),
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        let mut c1 = generate::tests::record("web-nginx", "docker.io/library/nginx:latest");
        c1.pod_id = Some(pod.id.clone());
        c1.config.env = vec!["MODE=prod".into()];
        c1.config.restart = crate::containers::config::RestartPolicy {
            name: "always".into(),
            max_retry: 0,
        };
        c1.config.mounts = vec![Mount {
            kind: "volume".into(),
            source: "data".into(),
            destination: "/data".into(),
            options: vec![],
            read_only: false,
        }];
        let mut c2 = generate::tests::record("web-sidecar", "docker.io/library/busybox:latest");
        c2.pod_id = Some(pod.id.clone());
        c2.config.entrypoint = Some(vec!["sh".into(), "-c".into()]);
        c2.config.cmd = Some(vec!["sleep 1000".into()]);
        c2.entrypoint = vec!["sh".into(), "-c".into()];
        c2.cmd = vec!["sleep 1000".into()];
        c2.config.restart = c1.config.restart.clone();
        c2.created = c1.created + chrono::Duration::seconds(1);
        let yaml = generate(
            &[GenerateInput::Pod {
                pod,
                infra: None,
                members: vec![c1, c2],
            }],
            &GenerateOptions::default(),
        )
        .unwrap();
        let plan = plan(&yaml, &PlayOptions::default()).unwrap();
        assert_eq!(plan.pods.len(), 1);
        let p = &plan.pods[0];
        assert_eq!(p.pod.name.as_deref(), Some("web"));
        assert_eq!(p.pod.infra_config.ports.len(), 1);
        assert_eq!(p.pod.infra_config.ports[0].host_port, 8080);
        assert_eq!(p.pod.infra_config.ports[0].container_port, 80);
        assert_eq!(p.pod.infra_config.net, NetMode::Bridge);
        let names: Vec<_> = p
            .containers
            .iter()
            .map(|c| c.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["web-nginx", "web-sidecar"]);
        let nginx = &p.containers[0];
        assert_eq!(nginx.image, "docker.io/library/nginx:latest");
        assert_eq!(nginx.config.env, ["MODE=prod"]);
        assert_eq!(nginx.config.restart.name, "always");
        assert_eq!(nginx.config.mounts.len(), 1);
        assert_eq!(nginx.config.mounts[0].kind, "volume");
        assert_eq!(nginx.config.mounts[0].source, "data");
        assert_eq!(nginx.config.mounts[0].destination, "/data");
        assert!(nginx.config.entrypoint.is_none());
        let sidecar = &p.containers[1];
        assert_eq!(
            sidecar.config.entrypoint.as_deref(),
            Some(&["sh".to_string(), "-c".to_string()][..])
        );
        assert_eq!(
            sidecar.config.cmd.as_deref(),
            Some(&["sleep 1000".to_string()][..])
        );
        assert!(sidecar.config.ports.is_empty());
    }
}
