//! `kube play` planning: Kubernetes YAML to a [`KubePlan`], following Podman 4.9.5
//! (`pkg/domain/infra/abi/play.go`, `pkg/specgen/generate/kube`).
//!
//! Documents are split on `---` (items of a `kind: List` count as documents) and every
//! document that is not a Pod, Deployment or DaemonSet is taken first, so volumes, secrets
//! and ConfigMaps exist before the pods using them. Pods get `<name>`, Deployments and
//! DaemonSets one pod `<name>-pod` (4.9.5 plays one replica); containers are named
//! `<pod>-<container>`; host ports go to the pod (its infra). Kinds 4.9.5 does not play
//! (Job, Service, ...) are skipped, as Podman does; a YAML with nothing to play is refused.
//!
//! Pure: the caller hands in the bytes of secrets stored earlier that the YAML references
//! ([`referenced_secrets`] names them). Knows nothing of the runtime or HTTP.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_norway::Value;

use crate::containers::config::{
    ContainerConfig, Device, Mount, NetAttach, NetMode, PortMapping, RestartPolicy,
};
use crate::containers::lifecycle::ContainerCreate;
use crate::error::{Error, Result};
use crate::kube::k8s::{self, drop_nulls, scalar};
use crate::kube::{
    parse_quantity, HostPathCheck, KubePlan, PlannedHostPath, PlannedImage, PlannedPod,
    PlannedSecret, PlannedVolumeFiles, PlayOptions, PullPolicy, AUTO_UPDATE_AUTHFILE_LABEL,
    AUTO_UPDATE_LABEL, INFRA_NAME_ANNOTATION, INIT_CONTAINER_TYPE_ANNOTATION, KUBE_DEFAULT_NETWORK,
    KUBE_HEALTH_CHECK_ANNOTATION, MAX_KUBE_ANNOTATION, ULIMIT_ANNOTATION, VOLUME_DEVICE_ANNOTATION,
    VOLUME_DRIVER_ANNOTATION, VOLUME_GID_ANNOTATION, VOLUME_IMPORT_SOURCE_ANNOTATION,
    VOLUME_MOUNT_OPTS_ANNOTATION, VOLUME_TYPE_ANNOTATION, VOLUME_UID_ANNOTATION,
};
use crate::pods::PodCreate;
use crate::volumes::VolumeCreate;

/// Default file mode of ConfigMap and Secret volume files (0644).
const DEFAULT_VOLUME_FILE_MODE: i64 = 0o644;

/// Plans a YAML whose secret references are all satisfied by Secrets in the same YAML.
pub fn plan(yaml: &str, opts: &PlayOptions) -> Result<KubePlan> {
    plan_with_secrets(yaml, opts, &BTreeMap::new())
}

/// Plans a YAML; `stored` holds the bytes of secrets created earlier (by name), for
/// `secretKeyRef`, `envFrom.secretRef` and secret volumes naming a Secret the YAML lacks.
/// A stored secret is read as Podman reads one: a JSON object of base64 values, else a
/// Kubernetes Secret in YAML.
pub fn plan_with_secrets(
    yaml: &str,
    opts: &PlayOptions,
    stored: &BTreeMap<String, Vec<u8>>,
) -> Result<KubePlan> {
    let docs = documents(yaml)?;
    let mut plan = KubePlan::default();
    if opts.networks.is_empty() {
        plan.networks.push(KUBE_DEFAULT_NETWORK.to_string());
    }
    let mut config_maps: Vec<k8s::ConfigMap> = Vec::new();
    let mut yaml_secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    let mut ip_index = 0usize;
    let mut valid = 0;
    for (kind, doc) in docs {
        match kind.as_str() {
            "Pod" => {
                let pod: k8s::Pod = typed(&doc, "Kube Pod")?;
                for (k, v) in &pod.metadata.annotations {
                    if v.len() > MAX_KUBE_ANNOTATION {
                        return Err(Error::InvalidArg(format!(
                            "annotation {k:?}={v:?} value length exceeds Kubernetes max {MAX_KUBE_ANNOTATION}"
                        )));
                    }
                }
                let mut annotations = pod.metadata.annotations.clone();
                annotations.extend(opts.annotations.clone());
                let tpl = k8s::PodTemplateSpec {
                    metadata: pod.metadata,
                    spec: pod.spec,
                };
                let ctx = Ctx {
                    opts,
                    config_maps: &config_maps,
                    yaml_secrets: &yaml_secrets,
                    stored,
                };
                let name = tpl.metadata.name.clone();
                ctx.plan_pod(&mut plan, &name, &tpl, annotations, "Pod", &mut ip_index)?;
                valid += 1;
            }
            "Deployment" | "DaemonSet" => {
                let what = if kind == "Deployment" {
                    "Kube Deployment"
                } else {
                    "Kube DaemonSet"
                };
                let w: k8s::Workload = typed(&doc, what)?;
                if w.metadata.name.is_empty() {
                    return Err(Error::InvalidArg(if kind == "Deployment" {
                        "deployment does not have a name".into()
                    } else {
                        "daemonSet does not have a name".into()
                    }));
                }
                if kind == "Deployment" && w.spec.replicas.is_some_and(|r| r > 1) {
                    tracing::warn!(
                        "Limiting replica count to 1, more than one replica is not supported by Podman"
                    );
                }
                let pod_name = format!("{}-pod", w.metadata.name);
                let ctx = Ctx {
                    opts,
                    config_maps: &config_maps,
                    yaml_secrets: &yaml_secrets,
                    stored,
                };
                ctx.plan_pod(
                    &mut plan,
                    &pod_name,
                    &w.spec.template,
                    w.metadata.annotations.clone(),
                    &kind,
                    &mut ip_index,
                )
                .map_err(|e| {
                    context(e, &format!("encountered while bringing up pod {pod_name}"))
                })?;
                valid += 1;
            }
            "PersistentVolumeClaim" => {
                let pvc: k8s::PersistentVolumeClaim = typed(&doc, "Kube PersistentVolumeClaim")?;
                plan.volumes.push(pvc_volume(pvc, opts)?);
                valid += 1;
            }
            "ConfigMap" => config_maps.push(typed(&doc, "Kube ConfigMap")?),
            "Secret" => {
                let secret: k8s::Secret = typed(&doc, "kube secret")?;
                let name = secret.metadata.name.clone();
                yaml_secrets.insert(name.clone(), secret_items(&secret)?);
                // Stored as Podman stores it: the Secret object, as YAML.
                let data = serde_norway::to_string(&doc)
                    .map_err(|e| Error::Internal(format!("writing secret {name}: {e}")))?;
                plan.secrets.retain(|s| s.name != name);
                plan.secrets.push(PlannedSecret {
                    name,
                    data: data.into_bytes(),
                    labels: BTreeMap::new(),
                });
                valid += 1;
            }
            other => {
                tracing::info!(kind = other, "Kube kind not supported");
            }
        }
    }
    if valid == 0 {
        return Err(Error::InvalidArg(if config_maps.is_empty() {
            "YAML document does not contain any supported kube kind".into()
        } else {
            "ConfigMaps in podman are not a standalone object and must be used in a container"
                .into()
        }));
    }
    Ok(plan)
}

/// The names of secrets the YAML's pods reference but does not define itself (so the
/// caller can look them up before planning).
pub fn referenced_secrets(yaml: &str) -> Result<Vec<String>> {
    let mut defined = Vec::new();
    let mut wanted: Vec<String> = Vec::new();
    for (kind, doc) in documents(yaml)? {
        let spec = match kind.as_str() {
            "Secret" => {
                let s: k8s::Secret = typed(&doc, "kube secret")?;
                defined.push(s.metadata.name);
                continue;
            }
            "Pod" => typed::<k8s::Pod>(&doc, "Kube Pod")?.spec,
            "Deployment" | "DaemonSet" => {
                typed::<k8s::Workload>(&doc, "Kube Deployment")?
                    .spec
                    .template
                    .spec
            }
            _ => continue,
        };
        for c in spec.containers.iter().chain(&spec.init_containers) {
            for e in &c.env {
                if let Some(r) = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                {
                    wanted.push(r.name.clone());
                }
            }
            for e in &c.env_from {
                if let Some(r) = &e.secret_ref {
                    wanted.push(r.name.clone());
                }
            }
        }
        for v in &spec.volumes {
            if let Some(s) = &v.secret {
                wanted.push(s.secret_name.clone());
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        if !w.is_empty() && !defined.contains(&w) && !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out)
}

/// What `kube down` removes for a YAML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownTargets {
    pub pods: Vec<String>,
    /// PersistentVolumeClaims and the claim / ConfigMap / Secret volumes of `kind: Pod`
    /// documents (removed only when forced).
    pub volumes: Vec<String>,
    pub secrets: Vec<String>,
}

/// The pods, volumes and secrets a YAML played, named as play names them.
pub fn down_targets(yaml: &str) -> Result<DownTargets> {
    let mut t = DownTargets::default();
    for (kind, doc) in documents(yaml)? {
        match kind.as_str() {
            "Pod" => {
                let pod: k8s::Pod = typed(&doc, "Kube Pod")?;
                t.pods.push(pod.metadata.name);
                for v in pod.spec.volumes {
                    if let Some(c) = v.persistent_volume_claim {
                        t.volumes.push(c.claim_name);
                    } else if let Some(c) = v.config_map {
                        t.volumes.push(c.name);
                    } else if let Some(s) = v.secret {
                        t.volumes.push(s.secret_name);
                    }
                }
            }
            "Deployment" | "DaemonSet" => {
                let w: k8s::Workload = typed(&doc, "Kube Deployment")?;
                t.pods.push(format!("{}-pod", w.metadata.name));
            }
            "PersistentVolumeClaim" => {
                let p: k8s::PersistentVolumeClaim = typed(&doc, "Kube PersistentVolumeClaim")?;
                t.volumes.push(p.metadata.name);
            }
            "Secret" => {
                let s: k8s::Secret = typed(&doc, "Kube Secret")?;
                t.secrets.push(s.metadata.name);
            }
            _ => {}
        }
    }
    Ok(t)
}

/// Deeper flow collections (`[`/`{`) than any Kubernetes object needs.
const MAX_FLOW_DEPTH: usize = 128;

/// Refuses YAML nested deeper than [`MAX_FLOW_DEPTH`] flow collections before the parser
/// sees it: a hostile body of brackets costs the parser time and stack out of all
/// proportion to its size. Quoted scalars and comments are skipped.
fn check_nesting(yaml: &str) -> Result<()> {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = '\n';
    for c in yaml.chars() {
        if comment {
            comment = c != '\n';
        } else if let Some(q) = quote {
            if c == q && !(q == '"' && prev == '\\') {
                quote = None;
            }
        } else {
            match c {
                '"' | '\'' => quote = Some(c),
                '#' if prev.is_whitespace() => comment = true,
                '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
        if max > MAX_FLOW_DEPTH {
            return Err(Error::InvalidArg(format!(
                "multi doc yaml could not be split: collections nested deeper than {MAX_FLOW_DEPTH}"
            )));
        }
    }
    Ok(())
}

/// The documents of a YAML stream with their kinds, dependencies (anything but Pod,
/// Deployment, DaemonSet) first, each prepended as Podman sorts them.
pub(crate) fn documents(yaml: &str) -> Result<Vec<(String, Value)>> {
    check_nesting(yaml)?;
    let mut split = Vec::new();
    for de in serde_norway::Deserializer::from_str(yaml) {
        let v = Value::deserialize(de)
            .map_err(|e| Error::InvalidArg(format!("multi doc yaml could not be split: {e}")))?;
        if v.is_null() {
            continue;
        }
        let v = drop_nulls(v);
        let kind = kind_of(&v)?;
        if kind == "List" {
            if let Some(items) = v.get("items").and_then(Value::as_sequence) {
                for item in items {
                    split.push((kind_of(item)?, item.clone()));
                }
            }
        } else {
            split.push((kind, v));
        }
    }
    let mut sorted: Vec<(String, Value)> = Vec::new();
    for (kind, doc) in split {
        if matches!(kind.as_str(), "Pod" | "Deployment" | "DaemonSet") {
            sorted.push((kind, doc));
        } else {
            sorted.insert(0, (kind, doc));
        }
    }
    Ok(sorted)
}

fn kind_of(doc: &Value) -> Result<String> {
    if !doc.is_mapping() {
        return Err(Error::InvalidArg(
            "unable to read kube YAML: a document is not an object".into(),
        ));
    }
    Ok(doc.get("kind").and_then(scalar).unwrap_or_default())
}

fn typed<T: DeserializeOwned>(doc: &Value, what: &str) -> Result<T> {
    serde_norway::from_value(doc.clone())
        .map_err(|e| Error::InvalidArg(format!("unable to read YAML as {what}: {e}")))
}

/// Prefixes an error's message, keeping its kind.
fn context(e: Error, what: &str) -> Error {
    match e {
        Error::InvalidArg(m) => Error::InvalidArg(format!("{what}: {m}")),
        Error::NotImplemented(m) => Error::NotImplemented(format!("{what}: {m}")),
        other => other,
    }
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| Error::InvalidArg(format!("{what}: invalid base64 data: {e}")))
}

/// A Secret's keys with their bytes (`data` decoded, `stringData` as is).
fn secret_items(s: &k8s::Secret) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for (k, v) in &s.data {
        out.insert(k.clone(), b64(v, &format!("secret {}", s.metadata.name))?);
    }
    for (k, v) in &s.string_data {
        out.insert(k.clone(), v.clone().into_bytes());
    }
    Ok(out)
}

/// A stored secret's keys: a JSON object of base64 values, else a Kubernetes Secret.
fn stored_secret_items(name: &str, data: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    if let Ok(m) = serde_json::from_slice::<BTreeMap<String, String>>(data) {
        return m
            .iter()
            .map(|(k, v)| Ok((k.clone(), b64(v, &format!("secret {name}"))?)))
            .collect();
    }
    let v: Value = serde_norway::from_slice(data)
        .map_err(|e| Error::InvalidArg(format!("secret {name} is not valid JSON/YAML: {e}")))?;
    let s: k8s::Secret = serde_norway::from_value(drop_nulls(v))
        .map_err(|e| Error::InvalidArg(format!("secret {name} is not valid JSON/YAML: {e}")))?;
    secret_items(&s)
}

/// A PersistentVolumeClaim as a volume; the `volume.podman.io/*` annotations carry the
/// driver and options.
fn pvc_volume(pvc: k8s::PersistentVolumeClaim, opts: &PlayOptions) -> Result<VolumeCreate> {
    let name = pvc.metadata.name.trim().to_string();
    if name.is_empty() {
        return Err(Error::InvalidArg(
            "persistent volume claim name can not be empty".into(),
        ));
    }
    let mut annotations = pvc.metadata.annotations;
    annotations.extend(opts.annotations.clone());
    let mut req = VolumeCreate {
        name: Some(name),
        labels: pvc.metadata.labels,
        ignore_if_exists: true,
        ..Default::default()
    };
    for (k, v) in annotations {
        match k.as_str() {
            VOLUME_DRIVER_ANNOTATION => req.driver = Some(v),
            VOLUME_DEVICE_ANNOTATION => {
                req.options.insert("device".into(), v);
            }
            VOLUME_TYPE_ANNOTATION => {
                req.options.insert("type".into(), v);
            }
            VOLUME_UID_ANNOTATION | VOLUME_GID_ANNOTATION => {
                let what = if k == VOLUME_UID_ANNOTATION {
                    "uid"
                } else {
                    "gid"
                };
                if v.parse::<i64>().is_err() {
                    return Err(Error::InvalidArg(format!(
                        "cannot convert {what} {v} to integer"
                    )));
                }
                req.options.insert(what.to_ascii_uppercase(), v);
            }
            VOLUME_MOUNT_OPTS_ANNOTATION => {
                req.options.insert("o".into(), v);
            }
            VOLUME_IMPORT_SOURCE_ANNOTATION => {
                // Every play through the API is remote to Podman, which refuses this then.
                return Err(Error::InvalidArg(
                    "importing volumes is not supported for remote requests".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(req)
}

/// How a pod volume is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VolumeKind {
    Bind,
    Named,
    ConfigMap,
    Secret,
    EmptyDir,
    CharDevice,
    BlockDevice,
}

#[derive(Debug, Clone)]
struct KubeVolume {
    kind: VolumeKind,
    /// Host path, or volume name.
    source: String,
    /// An optional ConfigMap or Secret that is missing: its mounts are skipped.
    optional: bool,
}

/// The secrets and ConfigMaps a pod can refer to.
struct Ctx<'a> {
    opts: &'a PlayOptions,
    config_maps: &'a [k8s::ConfigMap],
    yaml_secrets: &'a BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    stored: &'a BTreeMap<String, Vec<u8>>,
}

/// What every container of a pod shares.
struct PodInput<'a> {
    pod_name: &'a str,
    annotations: &'a BTreeMap<String, String>,
    labels: &'a BTreeMap<String, String>,
    volumes: &'a BTreeMap<String, KubeVolume>,
    pod_security: Option<&'a k8s::PodSecurityContext>,
    restart: &'a str,
    grace: Option<i64>,
}

/// An environment variable's value, or why there is none yet.
enum EnvValue {
    Value(String),
    /// Optional source missing: the variable is not set.
    Skip,
    /// `metadata.uid`: the pod's ID, known once it exists.
    PodUid,
}

impl Ctx<'_> {
    /// A Secret's keys: from the YAML, else stored; `None` when there is no such secret.
    fn secret(&self, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
        if let Some(s) = self.yaml_secrets.get(name) {
            return Ok(Some(s.clone()));
        }
        match self.stored.get(name) {
            Some(d) => stored_secret_items(name, d).map(Some),
            None => Ok(None),
        }
    }

    fn config_map(&self, name: &str) -> Option<&k8s::ConfigMap> {
        self.config_maps.iter().find(|c| c.metadata.name == name)
    }

    fn plan_pod(
        &self,
        plan: &mut KubePlan,
        pod_name: &str,
        tpl: &k8s::PodTemplateSpec,
        annotations: BTreeMap<String, String>,
        kind: &str,
        ip_index: &mut usize,
    ) -> Result<()> {
        if pod_name.is_empty() {
            return Err(Error::InvalidArg("pod does not have a name".into()));
        }
        let spec = &tpl.spec;
        let opts = self.opts;
        let mut share: Vec<String> = vec!["ipc".into(), "net".into(), "uts".into()];
        if spec.share_process_namespace == Some(true) {
            share.push("pid".into());
        }
        let mut pod = PodCreate {
            name: Some(pod_name.to_string()),
            labels: tpl.metadata.labels.clone(),
            share: Some(share),
            exit_policy: "stop".into(),
            hostname: if spec.hostname.is_empty() {
                pod_name.to_string()
            } else {
                spec.hostname.clone()
            },
            ..Default::default()
        };
        let infra = &mut pod.infra_config;
        if spec.host_network {
            infra.net = NetMode::Host;
            // Podman names such a pod after the node.
            pod.hostname = nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default();
        }
        if let Some(aliases) = &spec.host_aliases {
            if opts.no_hosts {
                return Err(Error::InvalidArg(
                    "HostAliases in yaml file will not work with --no-hosts".into(),
                ));
            }
            for a in aliases {
                for h in &a.hostnames {
                    infra.extra_hosts.push(format!("{h}:{}", a.ip));
                }
            }
        }
        infra.ports = pod_ports(&spec.containers);
        if let Some(dns) = &spec.dns_config {
            infra.dns = dns.nameservers.clone();
            infra.dns_search = dns.searches.clone();
            infra.dns_options = dns
                .options
                .iter()
                .map(|o| match &o.value {
                    Some(v) => format!("{}:{v}", o.name),
                    None => o.name.clone(),
                })
                .collect();
        }
        if let Some(sc) = &spec.security_context {
            for s in &sc.sysctls {
                infra.sysctls.insert(s.name.clone(), s.value.clone());
            }
        }
        // Networks: the kube network unless told otherwise (or on the host's).
        let mut networks = opts.networks.clone();
        if infra.net != NetMode::Host && networks.is_empty() {
            networks.push(KUBE_DEFAULT_NETWORK.to_string());
        }
        if !networks.is_empty() {
            let (mode, nets) = parse_networks(&networks)?;
            infra.net = mode;
            infra.networks = nets;
        }
        let userns = opts
            .userns
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                if spec.host_users == Some(false) {
                    "auto".into()
                } else {
                    "host".into()
                }
            });
        if userns != "host" {
            return Err(Error::NotImplemented(format!(
                "user namespace mode {userns:?} is not supported by podapid"
            )));
        }
        if let Some(ip) = opts.static_ips.get(*ip_index) {
            if infra.net != NetMode::Bridge {
                return Err(Error::InvalidArg(
                    "static ip addresses can only be set when the network mode is bridge: invalid argument"
                        .into(),
                ));
            }
            if infra.networks.len() != 1 {
                return Err(Error::InvalidArg(
                    "cannot set static ip addresses for more than network, use netname:ip=<ip> syntax to specify ips for more than network: invalid argument"
                        .into(),
                ));
            }
            for att in infra.networks.values_mut() {
                att.static_ips.push(ip.clone());
            }
        } else if !opts.static_ips.is_empty() {
            tracing::warn!("No more static ips left using a random one");
        }
        if let Some(mac) = opts.static_macs.get(*ip_index) {
            if infra.net != NetMode::Bridge {
                return Err(Error::InvalidArg(
                    "static mac address can only be set when the network mode is bridge: invalid argument"
                        .into(),
                ));
            }
            if infra.networks.len() != 1 {
                return Err(Error::InvalidArg(
                    "cannot set static mac address for more than network, use netname:mac=<mac> syntax to specify mac for more than network: invalid argument"
                        .into(),
                ));
            }
            for att in infra.networks.values_mut() {
                att.static_mac = Some(mac.clone());
            }
        } else if !opts.static_macs.is_empty() {
            tracing::warn!("No more static macs left using a random one");
        }
        *ip_index += 1;
        if !opts.publish_ports.is_empty() {
            let mut published = Vec::new();
            for p in &opts.publish_ports {
                published.extend(parse_publish(p)?);
            }
            for p in std::mem::take(&mut infra.ports) {
                if !already_published(&p, &published) {
                    published.push(p);
                }
            }
            infra.ports = published;
        }
        let volumes = self.init_volumes(plan, &spec.volumes)?;
        let restart = match spec.restart_policy.as_str() {
            "OnFailure" => "on-failure",
            "Never" => "no",
            _ => "always",
        };
        if let Some(n) = annotations.get(INFRA_NAME_ANNOTATION) {
            pod.infra_name = Some(n.clone());
        }
        // The YAML's container names are aliases on the pod's networks, so `<container>`
        // resolves as well as `<pod>-<container>`.
        let aliases: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
        for att in pod.infra_config.networks.values_mut() {
            att.aliases.extend(aliases.iter().cloned());
        }
        let labels = tpl.metadata.labels.clone();
        let input = PodInput {
            pod_name,
            annotations: &annotations,
            labels: &labels,
            volumes: &volumes,
            pod_security: spec.security_context.as_ref(),
            restart,
            grace: spec.termination_grace_period_seconds,
        };
        let mut planned = PlannedPod {
            kind: kind.to_string(),
            init_container_type: annotations
                .get(INIT_CONTAINER_TYPE_ANNOTATION)
                .cloned()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "once".into()),
            ..Default::default()
        };
        let mut names: Vec<&str> = Vec::new();
        for c in &spec.init_containers {
            if names.contains(&c.name.as_str()) {
                return Err(Error::InvalidArg(format!(
                    "the pod {pod_name:?} is invalid; duplicate container name {:?} detected",
                    c.name
                )));
            }
            names.push(&c.name);
            if c.lifecycle.is_some()
                || c.liveness_probe.is_some()
                || c.readiness_probe.is_some()
                || c.startup_probe.is_some()
            {
                return Err(Error::InvalidArg(
                    "cannot create an init container that has either of lifecycle, livenessProbe, readinessProbe, or startupProbe set"
                        .into(),
                ));
            }
            let init_input = PodInput {
                restart: "no",
                grace: None,
                ..input
            };
            let mut ctr = self.container(c, &init_input, &mut planned.pod_uid_env)?;
            ctr.config.annotations.insert(
                INIT_CONTAINER_TYPE_ANNOTATION.to_string(),
                planned.init_container_type.clone(),
            );
            add_image(plan, c)?;
            planned.init_containers.push(ctr);
        }
        for c in &spec.containers {
            if names.contains(&c.name.as_str()) {
                return Err(Error::InvalidArg(format!(
                    "the pod {pod_name:?} is invalid; duplicate container name {:?} detected",
                    c.name
                )));
            }
            names.push(&c.name);
            let ctr = self.container(c, &input, &mut planned.pod_uid_env)?;
            add_image(plan, c)?;
            planned.containers.push(ctr);
        }
        planned.pod = pod;
        plan.pods.push(planned);
        Ok(())
    }

    /// The pod's volumes by name; host paths to prepare and ConfigMap / Secret files go to
    /// the plan.
    fn init_volumes(
        &self,
        plan: &mut KubePlan,
        specs: &[k8s::Volume],
    ) -> Result<BTreeMap<String, KubeVolume>> {
        let mut out = BTreeMap::new();
        for v in specs {
            let kv = self
                .volume(plan, v)
                .map_err(|e| context(e, &format!("failed to create volume {:?}", v.name)))?;
            out.insert(v.name.clone(), kv);
        }
        Ok(out)
    }

    fn volume(&self, plan: &mut KubePlan, v: &k8s::Volume) -> Result<KubeVolume> {
        let kv = |kind, source: &str| KubeVolume {
            kind,
            source: source.to_string(),
            optional: false,
        };
        if let Some(hp) = &v.host_path {
            let (check, kind) = match hp.type_.as_deref().unwrap_or("") {
                "" | "Directory" | "File" => (HostPathCheck::Exists, VolumeKind::Bind),
                "DirectoryOrCreate" => (HostPathCheck::DirectoryOrCreate, VolumeKind::Bind),
                "FileOrCreate" => (HostPathCheck::FileOrCreate, VolumeKind::Bind),
                "Socket" => (HostPathCheck::Socket, VolumeKind::Bind),
                "CharDevice" => (HostPathCheck::CharDevice, VolumeKind::CharDevice),
                "BlockDevice" => (HostPathCheck::BlockDevice, VolumeKind::BlockDevice),
                other => {
                    return Err(Error::InvalidArg(format!(
                        "invalid HostPath type {other:?}"
                    )))
                }
            };
            if !hp.path.starts_with('/') {
                return Err(Error::InvalidArg(format!(
                    "in parsing HostPath in YAML: invalid host path, must be an absolute path {:?}",
                    hp.path
                )));
            }
            plan.host_paths.push(PlannedHostPath {
                volume: v.name.clone(),
                path: hp.path.clone(),
                check,
            });
            return Ok(kv(kind, &hp.path));
        }
        if let Some(c) = &v.persistent_volume_claim {
            return Ok(kv(VolumeKind::Named, &c.claim_name));
        }
        if let Some(src) = &v.config_map {
            let mode = file_mode(src.default_mode, &format!("configMap {:?}", src.name))?;
            let Some(cm) = self.config_map(&src.name) else {
                if src.optional == Some(true) {
                    return Ok(KubeVolume {
                        kind: VolumeKind::ConfigMap,
                        source: src.name.clone(),
                        optional: true,
                    });
                }
                return Err(Error::InvalidArg(format!(
                    "no such ConfigMap {:?}",
                    src.name
                )));
            };
            if let Some(k) = cm.data.keys().find(|k| cm.binary_data.contains_key(*k)) {
                return Err(Error::InvalidArg(format!(
                    "the ConfigMap {:?} is invalid: duplicate key {k:?} present in data and binaryData",
                    cm.metadata.name
                )));
            }
            let mut all = BTreeMap::new();
            for (k, val) in &cm.data {
                all.insert(k.clone(), val.clone().into_bytes());
            }
            for (k, val) in &cm.binary_data {
                all.insert(
                    k.clone(),
                    b64(val, &format!("configMap {}", cm.metadata.name))?,
                );
            }
            let files = pick_items(all, &src.items)?;
            plan.volume_files.push(PlannedVolumeFiles {
                volume: src.name.clone(),
                files,
                mode,
            });
            return Ok(kv(VolumeKind::ConfigMap, &src.name));
        }
        if let Some(src) = &v.secret {
            let mode = file_mode(src.default_mode, &format!("secret {:?}", src.secret_name))?;
            let Some(items) = self.secret(&src.secret_name)? else {
                if src.optional == Some(true) {
                    return Ok(KubeVolume {
                        kind: VolumeKind::Secret,
                        source: src.secret_name.clone(),
                        optional: true,
                    });
                }
                return Err(Error::InvalidArg(format!(
                    "{}: no such secret",
                    src.secret_name
                )));
            };
            let files = pick_items(items, &src.items)?;
            plan.volume_files.push(PlannedVolumeFiles {
                volume: src.secret_name.clone(),
                files,
                mode,
            });
            return Ok(kv(VolumeKind::Secret, &src.secret_name));
        }
        if v.empty_dir.is_some() {
            return Ok(kv(VolumeKind::EmptyDir, &v.name));
        }
        Err(Error::InvalidArg(
            "HostPath, ConfigMap, EmptyDir, Secret, and PersistentVolumeClaim are currently the only supported VolumeSource"
                .into(),
        ))
    }

    /// One container's create request.
    fn container(
        &self,
        c: &k8s::Container,
        input: &PodInput<'_>,
        uid_env: &mut Vec<(String, String)>,
    ) -> Result<ContainerCreate> {
        if input.pod_name.is_empty() {
            return Err(Error::InvalidArg(
                "got empty pod name on container creation when playing kube".into(),
            ));
        }
        if c.image.is_empty() {
            return Err(Error::InvalidArg(format!(
                "container {:?} has no image",
                c.name
            )));
        }
        let name = format!("{}-{}", input.pod_name, c.name);
        let mut cfg = ContainerConfig {
            pod: Some(input.pod_name.to_string()),
            tty: c.tty,
            raw_image_name: c.image.clone(),
            ..Default::default()
        };
        if let Some(d) = &self.opts.log_driver {
            cfg.log_driver = d.clone();
        }
        // Labels: auto-update settings from the annotations (per container first), then
        // the pod's labels.
        for label in [AUTO_UPDATE_LABEL, AUTO_UPDATE_AUTHFILE_LABEL] {
            let specific = format!("{label}/{}", c.name);
            if let Some(v) = input.annotations.get(&specific) {
                cfg.labels.insert(label.to_string(), v.clone());
            } else if let Some(v) = input.annotations.get(label).filter(|v| !v.is_empty()) {
                cfg.labels.insert(label.to_string(), v.clone());
            }
        }
        cfg.labels.extend(input.labels.clone());
        security(&mut cfg, c.security_context.as_ref(), input.pod_security);
        if let Some(p) = &c.liveness_probe {
            cfg.healthcheck = Some(probe_to_healthcheck(p, &c.ports)?);
        }
        resources(&mut cfg, &c.resources)?;
        if let Some(u) = input.annotations.get(ULIMIT_ANNOTATION) {
            cfg.ulimits = u.split(',').map(|s| s.trim().to_string()).collect();
        }
        // Annotations: the pod's, the per-container ones Podman understands, and the
        // kube health-check marker.
        let mut ann = input.annotations.clone();
        for key in [
            "io.podman.annotations.cid-file",
            "io.podman.annotations.seccomp",
            "io.podman.annotations.apparmor",
        ] {
            if let Some(v) = input.annotations.get(&format!("{key}/{}", c.name)) {
                ann.insert(key.to_string(), v.clone());
            }
        }
        let label_key = "io.podman.annotations.label";
        if let Some(v) = input.annotations.get(&format!("{label_key}/{}", c.name)) {
            cfg.security_opt.push(format!("label={v}"));
            ann.insert(label_key.to_string(), v.clone());
        }
        let autoremove_key = "io.podman.annotations.autoremove";
        if let Some(v) = input
            .annotations
            .get(&format!("{autoremove_key}/{}", c.name))
        {
            cfg.auto_remove = parse_bool(v)?;
            ann.insert(autoremove_key.to_string(), v.clone());
        }
        let init_key = "io.podman.annotations.init";
        if let Some(v) = input.annotations.get(&format!("{init_key}/{}", c.name)) {
            cfg.init = parse_bool(v)?;
            ann.insert(init_key.to_string(), v.clone());
        }
        let publish_all_key = "io.podman.annotations.publish-all";
        if let Some(v) = input
            .annotations
            .get(&format!("{publish_all_key}/{}", c.name))
        {
            ann.insert(publish_all_key.to_string(), v.clone());
        }
        ann.insert(KUBE_HEALTH_CHECK_ANNOTATION.to_string(), "true".into());
        // Environment: `env`, then `envFrom` (which wins, as in Podman).
        let mut env: Vec<(String, String)> = Vec::new();
        fn set(env: &mut Vec<(String, String)>, k: &str, v: String) {
            match env.iter_mut().find(|(x, _)| x == k) {
                Some(e) => e.1 = v,
                None => env.push((k.to_string(), v)),
            }
        }
        for e in &c.env {
            match self.env_value(e, c, input, &cfg.labels)? {
                EnvValue::Value(v) => set(&mut env, &e.name, v),
                EnvValue::Skip => {}
                EnvValue::PodUid => uid_env.push((name.clone(), e.name.clone())),
            }
        }
        for ef in &c.env_from {
            for (k, v) in self.env_from(ef)? {
                set(&mut env, &k, v);
            }
        }
        // `command` replaces the image's entrypoint and drops its cmd; `args` replaces the
        // cmd; `$(VAR)` expands from the environment, as Kubernetes does.
        if !c.command.is_empty() {
            cfg.entrypoint = Some(c.command.iter().map(|s| expand(s, &env)).collect());
        }
        if !c.args.is_empty() {
            cfg.cmd = Some(c.args.iter().map(|s| expand(s, &env)).collect());
        }
        if !c.working_dir.is_empty() {
            cfg.workdir = Some(c.working_dir.clone());
        }
        cfg.env = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        cfg.annotations = ann;
        for vm in &c.volume_mounts {
            let kv = input.volumes.get(&vm.name).ok_or_else(|| {
                Error::InvalidArg(format!(
                    "volume mount {} specified for container but not configured in volumes",
                    vm.name
                ))
            })?;
            if kv.optional {
                continue;
            }
            let (dest, options) = parse_mount_path(
                &vm.mount_path,
                vm.read_only,
                vm.mount_propagation.as_deref(),
            )?;
            let read_only = options.iter().any(|o| o == "ro");
            let options: Vec<String> = options
                .into_iter()
                .filter(|o| o != "ro" && o != "rw")
                .collect();
            match kv.kind {
                VolumeKind::Bind => {
                    let source = if vm.sub_path.is_empty() {
                        kv.source.clone()
                    } else {
                        format!(
                            "{}/{}",
                            kv.source.trim_end_matches('/'),
                            vm.sub_path.trim_start_matches('/')
                        )
                    };
                    cfg.mounts.push(Mount {
                        kind: "bind".into(),
                        source,
                        destination: dest,
                        options,
                        read_only,
                    });
                }
                VolumeKind::Named | VolumeKind::ConfigMap | VolumeKind::Secret => {
                    if !vm.sub_path.is_empty() {
                        return Err(Error::NotImplemented(format!(
                            "subPath {:?} of volume mount {}: podapid mounts whole volumes only",
                            vm.sub_path, vm.name
                        )));
                    }
                    cfg.mounts.push(Mount {
                        kind: "volume".into(),
                        source: kv.source.clone(),
                        destination: dest,
                        options: Vec::new(),
                        read_only,
                    });
                }
                VolumeKind::EmptyDir => cfg.volumes.push(dest),
                VolumeKind::CharDevice | VolumeKind::BlockDevice => cfg.devices.push(Device {
                    path_on_host: kv.source.clone(),
                    path_in_container: dest,
                    permissions: "rwm".into(),
                }),
            }
        }
        cfg.restart = RestartPolicy {
            name: input.restart.to_string(),
            max_retry: 0,
        };
        if let Some(g) = input.grace {
            cfg.stop_timeout = Some(u32::try_from(g.max(0)).unwrap_or(u32::MAX));
        }
        Ok(ContainerCreate {
            name: Some(name),
            image: c.image.clone(),
            config: cfg,
        })
    }

    fn env_value(
        &self,
        e: &k8s::EnvVar,
        c: &k8s::Container,
        input: &PodInput<'_>,
        labels: &BTreeMap<String, String>,
    ) -> Result<EnvValue> {
        let Some(from) = &e.value_from else {
            return Ok(EnvValue::Value(e.value.clone()));
        };
        if let Some(r) = &from.config_map_key_ref {
            let found = match self.config_map(&r.name) {
                Some(cm) => match cm.data.get(&r.key) {
                    Some(v) => return Ok(EnvValue::Value(v.clone())),
                    None => format!(
                        "cannot set env {}: key {} not found in configmap {}",
                        e.name, r.key, r.name
                    ),
                },
                None => format!("cannot set env {}: configmap {} not found", e.name, r.name),
            };
            if r.optional == Some(true) {
                return Ok(EnvValue::Skip);
            }
            return Err(Error::InvalidArg(found));
        }
        if let Some(r) = &from.secret_key_ref {
            let err = match self.secret(&r.name)? {
                Some(items) => match items.get(&r.key) {
                    Some(v) => return Ok(EnvValue::Value(String::from_utf8_lossy(v).into_owned())),
                    None => format!("secret {} has not {} key", r.name, r.key),
                },
                None => format!("{}: no such secret", r.name),
            };
            if r.optional == Some(true) {
                return Ok(EnvValue::Skip);
            }
            return Err(Error::InvalidArg(format!(
                "cannot set env {}: {err}",
                e.name
            )));
        }
        if let Some(f) = &from.field_ref {
            let path = f.field_path.as_str();
            if path == "metadata.name" {
                return Ok(EnvValue::Value(input.pod_name.to_string()));
            }
            if path == "metadata.uid" {
                return Ok(EnvValue::PodUid);
            }
            let bracket = |prefix: &str| -> Option<String> {
                path.strip_prefix(prefix)?
                    .strip_prefix("['")?
                    .strip_suffix("']")
                    .map(String::from)
            };
            if let Some(k) = bracket("metadata.labels") {
                return Ok(EnvValue::Value(labels.get(&k).cloned().unwrap_or_default()));
            }
            if let Some(k) = bracket("metadata.annotations") {
                return Ok(EnvValue::Value(
                    input.annotations.get(&k).cloned().unwrap_or_default(),
                ));
            }
            return Err(Error::InvalidArg(format!(
                "can not set env {}. Reason: fieldPath {path} is either not valid or not supported",
                e.name
            )));
        }
        if let Some(r) = &from.resource_field_ref {
            return resource_field(e, r, c).map(EnvValue::Value);
        }
        Ok(EnvValue::Value(e.value.clone()))
    }

    fn env_from(&self, ef: &k8s::EnvFromSource) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        if let Some(r) = &ef.config_map_ref {
            match self.config_map(&r.name) {
                Some(cm) => out.extend(cm.data.iter().map(|(k, v)| (k.clone(), v.clone()))),
                None if r.optional == Some(true) => {}
                None => return Err(Error::InvalidArg(format!("configmap {} not found", r.name))),
            }
        }
        if let Some(r) = &ef.secret_ref {
            match self.secret(&r.name)? {
                Some(items) => out.extend(
                    items
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())),
                ),
                None if r.optional == Some(true) => {}
                None => return Err(Error::InvalidArg(format!("{}: no such secret", r.name))),
            }
        }
        Ok(out)
    }
}

/// `resourceFieldRef`: a limit or request divided by the divisor, rounded up.
fn resource_field(
    e: &k8s::EnvVar,
    r: &k8s::ResourceFieldRef,
    c: &k8s::Container,
) -> Result<String> {
    let divisor_text = if r.divisor.is_empty() {
        "1"
    } else {
        r.divisor.as_str()
    };
    let memory = matches!(r.resource.as_str(), "limits.memory" | "requests.memory");
    let cpu = matches!(r.resource.as_str(), "limits.cpu" | "requests.cpu");
    if !memory && !cpu {
        return Err(Error::InvalidArg(format!(
            "can not set env {}. Reason: resource {} is either not valid or not supported",
            e.name, r.resource
        )));
    }
    let valid = if memory {
        matches!(
            divisor_text,
            "1" | "1k"
                | "1M"
                | "1G"
                | "1T"
                | "1P"
                | "1E"
                | "1Ki"
                | "1Mi"
                | "1Gi"
                | "1Ti"
                | "1Pi"
                | "1Ei"
        )
    } else {
        matches!(divisor_text, "1" | "1m")
    };
    let divisor = parse_quantity(divisor_text)
        .filter(|_| valid)
        .ok_or_else(|| {
            Error::InvalidArg(format!(
                "can not set env {}. Reason: divisor value {divisor_text} is not valid",
                e.name
            ))
        })?;
    let key = if memory { "memory" } else { "cpu" };
    let limit = c.resources.limits.get(key).and_then(|q| parse_quantity(q));
    let request = c
        .resources
        .requests
        .get(key)
        .and_then(|q| parse_quantity(q));
    let limit = match limit.filter(|v| *v > 0.0) {
        Some(v) => v,
        // Without a limit Kubernetes (and Podman) report the node's capacity.
        None if cpu => std::thread::available_parallelism()
            .map(|n| n.get() as f64)
            .unwrap_or(1.0),
        None => {
            return Err(Error::NotImplemented(format!(
                "can not set env {}: {} needs an explicit memory limit with podapid",
                e.name, r.resource
            )))
        }
    };
    let value = if r.resource.starts_with("requests.") {
        request.filter(|v| *v > 0.0).unwrap_or(limit)
    } else {
        limit
    };
    Ok(((value / divisor).ceil() as i64).to_string())
}

/// Kubernetes' `$(VAR)` expansion (`$$` escapes a `$`; unknown variables stay as written).
fn expand(s: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match env.iter().find(|(k, _)| k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn parse_bool(v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(Error::InvalidArg(format!(
            "strconv.ParseBool: parsing {v:?}: invalid syntax"
        ))),
    }
}

/// A ConfigMap / Secret volume's file mode: 0..=0777, default 0644.
fn file_mode(mode: Option<i64>, what: &str) -> Result<u32> {
    match mode {
        None => Ok(DEFAULT_VOLUME_FILE_MODE as u32),
        Some(m) if (0..=0o777).contains(&m) => Ok(m as u32),
        Some(_) => Err(Error::InvalidArg(format!(
            "invalid DefaultMode for {what}: must be between 0000 and 0777"
        ))),
    }
}

/// The files of a ConfigMap / Secret volume: every key, or the listed `items` at their
/// paths. Paths must stay inside the volume.
fn pick_items(
    all: BTreeMap<String, Vec<u8>>,
    items: &[k8s::KeyToPath],
) -> Result<BTreeMap<String, Vec<u8>>> {
    let files = if items.is_empty() {
        all
    } else {
        items
            .iter()
            .filter_map(|i| all.get(&i.key).map(|v| (i.path.clone(), v.clone())))
            .collect()
    };
    for p in files.keys() {
        if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(Error::InvalidArg(format!(
                "invalid volume item path {p:?}: must be relative and stay in the volume"
            )));
        }
    }
    Ok(files)
}

fn add_image(plan: &mut KubePlan, c: &k8s::Container) -> Result<()> {
    let policy = match c.image_pull_policy.to_ascii_lowercase().as_str() {
        "" => {
            // An explicit `:latest` is pulled again when newer, as Podman does.
            let no_digest = c.image.split('@').next().unwrap_or(&c.image);
            let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
            if c.image.contains('@') || last.rsplit_once(':').map(|(_, t)| t) != Some("latest") {
                PullPolicy::Missing
            } else {
                PullPolicy::Newer
            }
        }
        "always" => PullPolicy::Always,
        "missing" | "ifnotpresent" => PullPolicy::Missing,
        "never" => PullPolicy::Never,
        "newer" | "ifnewer" => PullPolicy::Newer,
        other => {
            return Err(Error::InvalidArg(format!(
                "unsupported pull policy {other:?}"
            )))
        }
    };
    let img = PlannedImage {
        reference: c.image.clone(),
        policy,
    };
    if !plan.images.contains(&img) {
        plan.images.push(img);
    }
    Ok(())
}

/// The host ports of a pod's containers as its port mappings (container ports without a
/// host port are reachable in the pod's namespace and published nowhere).
fn pod_ports(containers: &[k8s::Container]) -> Vec<PortMapping> {
    let mut out = Vec::new();
    for c in containers {
        for p in &c.ports {
            let mut cp = p.container_port;
            if p.host_port != 0 && cp == 0 {
                cp = p.host_port;
            }
            if p.host_port == 0 {
                continue;
            }
            let (Ok(host_port), Ok(container_port)) =
                (u16::try_from(p.host_port), u16::try_from(cp))
            else {
                continue;
            };
            out.push(PortMapping {
                host_ip: p.host_ip.clone(),
                host_port,
                container_port,
                range: 1,
                protocol: if p.protocol.is_empty() {
                    "tcp".into()
                } else {
                    p.protocol.to_ascii_lowercase()
                },
            });
        }
    }
    out
}

fn same_protocol(a: &str, b: &str) -> bool {
    let a = if a.is_empty() { "tcp" } else { a };
    let b = if b.is_empty() { "tcp" } else { b };
    a.eq_ignore_ascii_case(b)
}

fn already_published(p: &PortMapping, published: &[PortMapping]) -> bool {
    published.iter().any(|q| {
        let start = u32::from(q.container_port);
        let end = start + u32::from(q.range.max(1));
        (start..end).contains(&u32::from(p.container_port))
            && same_protocol(&p.protocol, &q.protocol)
    })
}

fn port_range(s: &str, what: &str) -> Result<(u16, u16)> {
    let bad = || Error::InvalidArg(format!("invalid {what} port {s:?}"));
    match s.split_once('-') {
        Some((a, b)) => {
            let a: u16 = a.trim().parse().map_err(|_| bad())?;
            let b: u16 = b.trim().parse().map_err(|_| bad())?;
            if b < a {
                return Err(bad());
            }
            let count = u16::try_from(u32::from(b) - u32::from(a) + 1).map_err(|_| bad())?;
            Ok((a, count))
        }
        None => Ok((s.trim().parse().map_err(|_| bad())?, 1)),
    }
}

/// A `-p` spec: `[[ip:][hostPort]:]containerPort[/protocol]`, ports or ranges.
fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    let (ip, ports) = if let Some(v6) = rest.strip_prefix('[') {
        let (ip, after) = v6
            .split_once("]:")
            .ok_or_else(|| Error::InvalidArg(format!("invalid port format {spec:?}")))?;
        (ip.to_string(), after)
    } else {
        match rest.matches(':').count() {
            0 | 1 => (String::new(), rest),
            2 => {
                let (ip, after) = rest.split_once(':').unwrap_or(("", rest));
                (ip.to_string(), after)
            }
            _ => return Err(Error::InvalidArg(format!("invalid port format {spec:?}"))),
        }
    };
    let (host, ctr) = match ports.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", ports),
    };
    let (container_port, range) = port_range(ctr, "container")?;
    let host_port = if host.is_empty() {
        0
    } else {
        let (h, hr) = port_range(host, "host")?;
        if hr != 1 && hr != range {
            return Err(Error::InvalidArg(format!(
                "host and container port ranges differ in {spec:?}"
            )));
        }
        h
    };
    Ok(vec![PortMapping {
        host_ip: ip,
        host_port,
        container_port,
        range,
        protocol: proto,
    }])
}

/// `--network` values as a network mode and the networks to join (bridge mode).
fn parse_networks(values: &[String]) -> Result<(NetMode, BTreeMap<String, NetAttach>)> {
    let mut nets = BTreeMap::new();
    let first = values.first().map(String::as_str).unwrap_or("");
    let mode = match first {
        "" | "default" | "private" => NetMode::Default,
        "none" => NetMode::None,
        "host" => NetMode::Host,
        s if s == "slirp4netns"
            || s == "pasta"
            || s.starts_with("slirp4netns:")
            || s.starts_with("pasta:") =>
        {
            return Err(Error::NotImplemented(format!(
                "network mode {s} is not supported by podapid"
            )))
        }
        s if s.starts_with("ns:") => NetMode::Path(s.trim_start_matches("ns:").to_string()),
        s if s.starts_with("container:") => {
            NetMode::Container(s.trim_start_matches("container:").to_string())
        }
        s => {
            if s == "bridge" || s.starts_with("bridge:") {
                let opts = s.strip_prefix("bridge:").unwrap_or("");
                nets.insert("default".to_string(), network_options(opts)?);
            } else if let Some((name, opts)) = s.split_once(':') {
                if name.is_empty() {
                    return Err(Error::InvalidArg("network name cannot be empty".into()));
                }
                nets.insert(
                    name.to_string(),
                    network_options(opts)
                        .map_err(|e| context(e, &format!("invalid option for network {name}")))?,
                );
            } else {
                for n in s.split(',') {
                    nets.insert(n.to_string(), NetAttach::default());
                }
            }
            NetMode::Bridge
        }
    };
    if values.len() > 1 {
        if mode != NetMode::Bridge {
            return Err(Error::InvalidArg(format!(
                "cannot set multiple networks without bridge network mode, selected mode {first}: invalid argument"
            )));
        }
        for v in &values[1..] {
            let (name, opts) = v.split_once(':').unwrap_or((v.as_str(), ""));
            if name.is_empty() {
                return Err(Error::InvalidArg(
                    "network name cannot be empty: invalid argument".into(),
                ));
            }
            if matches!(
                name,
                "bridge"
                    | "slirp4netns"
                    | "pod"
                    | "none"
                    | "default"
                    | "private"
                    | "ns"
                    | "container"
                    | "host"
            ) {
                return Err(Error::InvalidArg(format!(
                    "can only set extra network names, selected mode {name} conflicts with bridge: invalid argument"
                )));
            }
            nets.insert(
                name.to_string(),
                network_options(opts)
                    .map_err(|e| context(e, &format!("invalid option for network {name}")))?,
            );
        }
    }
    Ok((mode, nets))
}

/// `ip=`, `ip6=`, `mac=`, `alias=`, `interface_name=` of a network.
fn network_options(opts: &str) -> Result<NetAttach> {
    let mut att = NetAttach::default();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        match k {
            "ip" | "ip6" => {
                if v.parse::<std::net::IpAddr>().is_err() {
                    return Err(Error::InvalidArg(format!("invalid ip address {v:?}")));
                }
                att.static_ips.push(v.to_string());
            }
            "mac" => att.static_mac = Some(v.to_string()),
            "alias" if !v.is_empty() => att.aliases.push(v.to_string()),
            "alias" => return Err(Error::InvalidArg("alias cannot be empty".into())),
            "interface_name" if !v.is_empty() => att.interface_name = Some(v.to_string()),
            "interface_name" => {
                return Err(Error::InvalidArg("interface_name cannot be empty".into()))
            }
            other => {
                return Err(Error::InvalidArg(format!(
                    "unknown bridge network option: {other}"
                )))
            }
        }
    }
    Ok(att)
}

/// `mountPath` (`dest[:opts]`), `readOnly` and `mountPropagation` as a destination and
/// mount options.
fn parse_mount_path(
    path: &str,
    read_only: bool,
    propagation: Option<&str>,
) -> Result<(String, Vec<String>)> {
    let parts: Vec<&str> = path.split(':').collect();
    if parts.len() > 2 {
        return Err(Error::InvalidArg(format!(
            "{path:?} incorrect volume format, should be ctr-dir[:option]"
        )));
    }
    let dest = parts[0].to_string();
    let mut options: Vec<String> = parts
        .get(1)
        .map(|o| {
            o.split(',')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if !dest.starts_with('/') {
        return Err(Error::InvalidArg(format!(
            "parsing MountPath: invalid container path {dest:?}, must be an absolute path"
        )));
    }
    if read_only {
        options.push("ro".into());
    }
    match propagation {
        None => {}
        Some("None") => options.push("private".into()),
        Some("HostToContainer") => options.push("rslave".into()),
        Some("Bidirectional") => options.push("rshared".into()),
        Some(other) => {
            return Err(Error::InvalidArg(format!(
                "unknown propagation mode {other:?}"
            )))
        }
    }
    Ok((dest, options))
}

/// `securityContext` (the container's, else the pod's for user, group and SELinux).
fn security(
    cfg: &mut ContainerConfig,
    sc: Option<&k8s::SecurityContext>,
    psc: Option<&k8s::PodSecurityContext>,
) {
    let default_sc = k8s::SecurityContext::default();
    let sc = sc.unwrap_or(&default_sc);
    if let Some(ro) = sc.read_only_root_filesystem {
        cfg.read_only = ro;
    }
    if let Some(p) = sc.privileged {
        cfg.privileged = p;
    }
    if sc.allow_privilege_escalation == Some(false) {
        cfg.security_opt.push("no-new-privileges".into());
    }
    if sc.proc_mount.as_deref() == Some("Unmasked") {
        cfg.security_opt.push("unmask=ALL".into());
    }
    let selinux = sc
        .se_linux_options
        .as_ref()
        .or_else(|| psc.and_then(|p| p.se_linux_options.as_ref()));
    if let Some(se) = selinux {
        for (k, v) in [
            ("user", &se.user),
            ("role", &se.role),
            ("type", &se.type_),
            ("level", &se.level),
        ] {
            if !v.is_empty() {
                cfg.security_opt.push(format!("label={k}:{v}"));
            }
        }
    }
    if let Some(caps) = &sc.capabilities {
        cfg.cap_add.extend(caps.add.iter().cloned());
        cfg.cap_drop.extend(caps.drop.iter().cloned());
    }
    let uid = sc.run_as_user.or_else(|| psc.and_then(|p| p.run_as_user));
    let gid = sc.run_as_group.or_else(|| psc.and_then(|p| p.run_as_group));
    let mut user = uid.map(|u| u.to_string());
    if let Some(g) = gid {
        user = Some(format!("{}:{g}", user.unwrap_or_else(|| "0".into())));
    }
    if user.is_some() {
        cfg.user = user;
    }
    if let Some(p) = psc {
        cfg.group_add
            .extend(p.supplemental_groups.iter().map(|g| g.to_string()));
    }
}

/// `resources`: CPU limit as quota over a 100ms period, memory limit and request.
fn resources(cfg: &mut ContainerConfig, r: &k8s::ResourceRequirements) -> Result<()> {
    if let Some(cpu) = r.limits.get("cpu") {
        let cores = parse_quantity(cpu)
            .ok_or_else(|| Error::InvalidArg(format!("invalid cpu limit {cpu:?}")))?;
        let milli = (cores * 1000.0).ceil() as i64;
        if milli > 0 {
            cfg.resources.cpu_period = 100_000;
            cfg.resources.cpu_quota = milli.saturating_mul(100);
        }
    }
    let bytes = |q: &String, what: &str| -> Result<i64> {
        parse_quantity(q).map(|v| v.ceil() as i64).ok_or_else(|| {
            Error::InvalidArg(format!("failed to set {what}: invalid quantity {q:?}"))
        })
    };
    if let Some(m) = r.limits.get("memory") {
        cfg.resources.memory = bytes(m, "memory limit")?;
    }
    if let Some(m) = r.requests.get("memory") {
        cfg.resources.memory_reservation = bytes(m, "memory reservation")?;
    }
    Ok(())
}

/// A liveness probe as a healthcheck (Docker's shape, durations in nanoseconds), with
/// Kubernetes' defaults: every 10s, 3 retries, 1s timeout.
fn probe_to_healthcheck(p: &k8s::Probe, ports: &[k8s::ContainerPort]) -> Result<serde_json::Value> {
    let port_of = |port: &str| -> Result<String> {
        if port.parse::<u16>().is_ok() {
            return Ok(port.to_string());
        }
        ports
            .iter()
            .find(|cp| cp.name == port)
            .map(|cp| cp.container_port.to_string())
            .ok_or_else(|| {
                Error::InvalidArg(format!(
                    "failed to configure livenessProbe: unknown port: {port}"
                ))
            })
    };
    let test: Vec<String> = if let Some(e) = &p.exec {
        std::iter::once("CMD".to_string())
            .chain(e.command.iter().cloned())
            .collect()
    } else if let Some(h) = &p.http_get {
        let scheme = if h.scheme.is_empty() {
            "HTTP"
        } else {
            h.scheme.as_str()
        };
        let host = if h.host.is_empty() {
            "localhost"
        } else {
            h.host.as_str()
        };
        let path = if h.path.is_empty() {
            "/"
        } else {
            h.path.as_str()
        };
        let cmd = format!(
            "curl -f {scheme}://{host}:{}{path} || exit 1",
            port_of(&h.port)?
        );
        std::iter::once("CMD-SHELL".to_string())
            .chain(cmd.split(' ').map(String::from))
            .collect()
    } else if let Some(t) = &p.tcp_socket {
        let host = if t.host.is_empty() {
            "localhost"
        } else {
            t.host.as_str()
        };
        let cmd = format!("nc -z -v {host} {} || exit 1", port_of(&t.port)?);
        std::iter::once("CMD-SHELL".to_string())
            .chain(cmd.split(' ').map(String::from))
            .collect()
    } else {
        return Err(Error::InvalidArg(
            "failed to configure livenessProbe: must define a healthcheck command for all healthchecks"
                .into(),
        ));
    };
    const SECOND: i64 = 1_000_000_000;
    let interval = if p.period_seconds < 1 {
        10
    } else {
        p.period_seconds
    };
    let retries = if p.failure_threshold < 1 {
        3
    } else {
        p.failure_threshold
    };
    let timeout = if p.timeout_seconds < 1 {
        1
    } else {
        p.timeout_seconds
    };
    Ok(serde_json::json!({
        "Test": test,
        "Interval": interval.saturating_mul(SECOND),
        "Timeout": timeout.saturating_mul(SECOND),
        "StartPeriod": p.initial_delay_seconds.max(0).saturating_mul(SECOND),
        "Retries": retries,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const YAML: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: app
  labels:
    tier: web
  annotations:
    io.podman.annotations.init/web: "true"
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 20
  hostAliases:
  - ip: 10.1.1.1
    hostnames: [db, cache]
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: appdata
  - name: conf
    configMap:
      name: settings
      defaultMode: 0600
      items:
      - key: app.conf
        path: conf/app.conf
  - name: creds
    secret:
      secretName: login
  - name: scratch
    emptyDir: {}
  - name: host
    hostPath:
      path: /srv/app
      type: DirectoryOrCreate
  containers:
  - name: web
    image: docker.io/library/nginx:latest
    command: [nginx]
    args: [-g, "daemon off;", $(MODE)]
    workingDir: /srv
    ports:
    - containerPort: 80
      hostPort: 8080
      hostIP: 127.0.0.1
    - containerPort: 443
    env:
    - name: MODE
      valueFrom:
        configMapKeyRef:
          name: settings
          key: mode
    - name: PASSWORD
      valueFrom:
        secretKeyRef:
          name: login
          key: password
    - name: POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: UID
      valueFrom:
        fieldRef:
          fieldPath: metadata.uid
    - name: TIER
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['tier']
    - name: PORT
      value: 8080
    envFrom:
    - configMapRef:
        name: settings
    resources:
      limits:
        memory: 128Mi
        cpu: 500m
      requests:
        memory: 64Mi
    securityContext:
      readOnlyRootFilesystem: true
      runAsUser: 1000
      runAsGroup: 1000
      capabilities:
        add: [NET_ADMIN]
        drop: [KILL]
    volumeMounts:
    - name: data
      mountPath: /data
    - name: conf
      mountPath: /etc/app
      readOnly: true
    - name: creds
      mountPath: /run/creds
    - name: scratch
      mountPath: /tmp/scratch
    - name: host
      mountPath: /host
  - name: sidecar
    image: busybox
    args: [sleep, "1000"]
    livenessProbe:
      exec:
        command: [true]
      periodSeconds: 5
    ports:
    - hostPort: 9090
      protocol: UDP
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: production
  app.conf: |
    key=value
---
apiVersion: v1
kind: Secret
metadata:
  name: login
data:
  password: czNjcmV0
stringData:
  user: admin
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: appdata
  annotations:
    volume.podman.io/driver: local
    volume.podman.io/uid: "1000"
    volume.podman.io/mount-options: nodev
spec:
  accessModes: [ReadWriteOnce]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: ignored
"#;

    #[test]
    fn pod_with_everything() {
        let plan = plan(YAML, &PlayOptions::default()).unwrap();
        assert_eq!(plan.networks, [KUBE_DEFAULT_NETWORK]);
        // The PVC.
        assert_eq!(plan.volumes.len(), 1);
        let v = &plan.volumes[0];
        assert_eq!(v.name.as_deref(), Some("appdata"));
        assert_eq!(v.driver.as_deref(), Some("local"));
        assert_eq!(v.options.get("UID").map(String::as_str), Some("1000"));
        assert_eq!(v.options.get("o").map(String::as_str), Some("nodev"));
        assert!(v.ignore_if_exists);
        // The secret, stored as YAML that reads back.
        assert_eq!(plan.secrets.len(), 1);
        assert_eq!(plan.secrets[0].name, "login");
        let items = stored_secret_items("login", &plan.secrets[0].data).unwrap();
        assert_eq!(items["password"], b"s3cret");
        assert_eq!(items["user"], b"admin");
        // Files for the ConfigMap and Secret volumes.
        let conf = plan
            .volume_files
            .iter()
            .find(|f| f.volume == "settings")
            .unwrap();
        assert_eq!(conf.mode, 0o600);
        assert_eq!(conf.files.len(), 1);
        assert_eq!(conf.files["conf/app.conf"], b"key=value\n");
        let creds = plan
            .volume_files
            .iter()
            .find(|f| f.volume == "login")
            .unwrap();
        assert_eq!(creds.mode, 0o644);
        assert_eq!(creds.files["password"], b"s3cret");
        assert_eq!(
            plan.host_paths,
            [PlannedHostPath {
                volume: "host".into(),
                path: "/srv/app".into(),
                check: HostPathCheck::DirectoryOrCreate,
            }]
        );
        assert_eq!(
            plan.images,
            [
                PlannedImage {
                    reference: "docker.io/library/nginx:latest".into(),
                    policy: PullPolicy::Newer
                },
                PlannedImage {
                    reference: "busybox".into(),
                    policy: PullPolicy::Missing
                }
            ]
        );

        assert_eq!(plan.pods.len(), 1);
        let p = &plan.pods[0];
        assert_eq!(p.kind, "Pod");
        assert_eq!(p.pod.name.as_deref(), Some("app"));
        assert_eq!(p.pod.hostname, "app");
        assert_eq!(p.pod.exit_policy, "stop");
        assert_eq!(p.pod.labels["tier"], "web");
        let infra = &p.pod.infra_config;
        assert_eq!(infra.net, NetMode::Bridge);
        let att = &infra.networks[KUBE_DEFAULT_NETWORK];
        assert_eq!(att.aliases, ["web", "sidecar"]);
        assert_eq!(infra.extra_hosts, ["db:10.1.1.1", "cache:10.1.1.1"]);
        // Only ports with a host port are published, by the pod.
        assert_eq!(infra.ports.len(), 2);
        assert_eq!(infra.ports[0].host_ip, "127.0.0.1");
        assert_eq!(infra.ports[0].host_port, 8080);
        assert_eq!(infra.ports[0].container_port, 80);
        assert_eq!(infra.ports[1].host_port, 9090);
        assert_eq!(infra.ports[1].container_port, 9090);
        assert_eq!(infra.ports[1].protocol, "udp");

        assert_eq!(p.containers.len(), 2);
        let web = &p.containers[0];
        assert_eq!(web.name.as_deref(), Some("app-web"));
        assert_eq!(web.image, "docker.io/library/nginx:latest");
        let cfg = &web.config;
        assert_eq!(cfg.pod.as_deref(), Some("app"));
        assert!(cfg.ports.is_empty());
        assert_eq!(cfg.entrypoint.as_deref(), Some(&["nginx".to_string()][..]));
        assert_eq!(
            cfg.cmd.as_deref(),
            Some(&["-g".to_string(), "daemon off;".into(), "production".into()][..])
        );
        assert_eq!(cfg.workdir.as_deref(), Some("/srv"));
        let env: BTreeMap<&str, &str> =
            cfg.env.iter().map(|e| e.split_once('=').unwrap()).collect();
        assert_eq!(env["MODE"], "production");
        assert_eq!(env["PASSWORD"], "s3cret");
        assert_eq!(env["POD"], "app");
        assert_eq!(env["TIER"], "web");
        assert_eq!(env["PORT"], "8080");
        assert_eq!(env["mode"], "production");
        assert!(!env.contains_key("UID"));
        assert_eq!(p.pod_uid_env, [("app-web".to_string(), "UID".to_string())]);
        assert_eq!(cfg.resources.memory, 128 << 20);
        assert_eq!(cfg.resources.memory_reservation, 64 << 20);
        assert_eq!(cfg.resources.cpu_quota, 50_000);
        assert_eq!(cfg.resources.cpu_period, 100_000);
        assert!(cfg.read_only);
        assert_eq!(cfg.user.as_deref(), Some("1000:1000"));
        assert_eq!(cfg.cap_add, ["NET_ADMIN"]);
        assert_eq!(cfg.cap_drop, ["KILL"]);
        assert!(cfg.init);
        assert_eq!(cfg.restart.name, "on-failure");
        assert_eq!(cfg.stop_timeout, Some(20));
        assert_eq!(cfg.labels["tier"], "web");
        assert_eq!(cfg.annotations[KUBE_HEALTH_CHECK_ANNOTATION], "true");
        let m = &cfg.mounts;
        assert_eq!(m.len(), 4);
        assert_eq!(
            (m[0].kind.as_str(), m[0].source.as_str()),
            ("volume", "appdata")
        );
        assert_eq!(
            (m[1].kind.as_str(), m[1].source.as_str()),
            ("volume", "settings")
        );
        assert!(m[1].read_only);
        assert_eq!(
            (m[2].kind.as_str(), m[2].source.as_str()),
            ("volume", "login")
        );
        assert_eq!(
            (m[3].kind.as_str(), m[3].source.as_str()),
            ("bind", "/srv/app")
        );
        assert_eq!(m[3].destination, "/host");
        assert_eq!(cfg.volumes, ["/tmp/scratch"]);

        let side = &p.containers[1];
        assert_eq!(side.name.as_deref(), Some("app-sidecar"));
        assert!(side.config.entrypoint.is_none());
        assert_eq!(
            side.config.cmd.as_deref(),
            Some(&["sleep".to_string(), "1000".into()][..])
        );
        let hc = side.config.healthcheck.as_ref().unwrap();
        assert_eq!(hc["Test"], serde_json::json!(["CMD", "true"]));
        assert_eq!(hc["Interval"], 5_000_000_000i64);
        assert_eq!(hc["Retries"], 3);
    }

    #[test]
    fn deployment_and_options() {
        let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    team: blue
spec:
  replicas: 3
  template:
    metadata:
      labels:
        app: api
    spec:
      initContainers:
      - name: migrate
        image: quay.io/x/migrate:1
      containers:
      - name: server
        image: quay.io/x/api:1
        imagePullPolicy: Always
        ports:
        - containerPort: 8000
          hostPort: 8000
"#;
        let opts = PlayOptions {
            networks: vec!["net1:alias=x".into()],
            static_ips: vec!["10.89.0.10".into()],
            publish_ports: vec!["127.0.0.1:18000:8000".into()],
            annotations: [("ignored".to_string(), "on deployments".to_string())].into(),
            log_driver: Some("k8s-file".into()),
            ..Default::default()
        };
        let plan = plan(yaml, &opts).unwrap();
        assert!(plan.networks.is_empty());
        let p = &plan.pods[0];
        assert_eq!(p.kind, "Deployment");
        assert_eq!(p.pod.name.as_deref(), Some("api-pod"));
        assert_eq!(p.init_container_type, "once");
        let infra = &p.pod.infra_config;
        assert_eq!(infra.net, NetMode::Bridge);
        let att = &infra.networks["net1"];
        assert_eq!(att.static_ips, ["10.89.0.10"]);
        assert_eq!(att.aliases, ["x", "server"]);
        // The -p spec wins over the YAML's port for container port 8000.
        assert_eq!(infra.ports.len(), 1);
        assert_eq!(infra.ports[0].host_port, 18000);
        assert_eq!(infra.ports[0].host_ip, "127.0.0.1");
        assert_eq!(p.init_containers.len(), 1);
        let init = &p.init_containers[0];
        assert_eq!(init.name.as_deref(), Some("api-pod-migrate"));
        assert_eq!(init.config.restart.name, "no");
        let server = &p.containers[0];
        assert_eq!(server.name.as_deref(), Some("api-pod-server"));
        assert_eq!(server.config.restart.name, "always");
        assert_eq!(server.config.log_driver, "k8s-file");
        assert_eq!(server.config.annotations["team"], "blue");
        assert!(!server.config.annotations.contains_key("ignored"));
        assert_eq!(
            plan.images[1],
            PlannedImage {
                reference: "quay.io/x/api:1".into(),
                policy: PullPolicy::Always
            }
        );

        let down = down_targets(yaml).unwrap();
        assert_eq!(down.pods, ["api-pod"]);
    }

    #[test]
    fn refusals() {
        // Nothing to play.
        let e = plan(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n",
            &PlayOptions::default(),
        );
        assert!(matches!(e, Err(Error::InvalidArg(m)) if m.contains("supported kube kind")));
        let e = plan(
            "kind: ConfigMap\nmetadata:\n  name: c\n",
            &PlayOptions::default(),
        );
        assert!(matches!(e, Err(Error::InvalidArg(m)) if m.contains("ConfigMaps")));
        // A missing ConfigMap key, a missing secret, a duplicate container.
        let bad_env = "kind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n    env:\n    - name: A\n      valueFrom:\n        configMapKeyRef: {name: nope, key: k}\n";
        assert!(plan(bad_env, &PlayOptions::default()).is_err());
        let optional = bad_env.replace("key: k}", "key: k, optional: true}");
        assert!(plan(&optional, &PlayOptions::default()).is_ok());
        let bad_secret = "kind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n    envFrom:\n    - secretRef: {name: nope}\n";
        assert!(plan(bad_secret, &PlayOptions::default()).is_err());
        let stored: BTreeMap<String, Vec<u8>> =
            [("nope".to_string(), br#"{"k":"dg=="}"#.to_vec())].into();
        let p = plan_with_secrets(bad_secret, &PlayOptions::default(), &stored).unwrap();
        assert_eq!(p.pods[0].containers[0].config.env, ["k=v"]);
        assert_eq!(referenced_secrets(bad_secret).unwrap(), ["nope"]);
        let dup = "kind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - {name: a, image: x}\n  - {name: a, image: y}\n";
        assert!(plan(dup, &PlayOptions::default()).is_err());
        let no_hosts = PlayOptions {
            no_hosts: true,
            ..Default::default()
        };
        let aliases = "kind: Pod\nmetadata:\n  name: p\nspec:\n  hostAliases: []\n  containers:\n  - {name: a, image: x}\n";
        assert!(plan(aliases, &no_hosts).is_err());
        // Lists are unpacked; host networking leaves the kube network out of the pod.
        let list = "kind: List\nitems:\n- kind: Pod\n  metadata:\n    name: p\n  spec:\n    hostNetwork: true\n    containers:\n    - {name: a, image: x}\n";
        let p = plan(list, &PlayOptions::default()).unwrap();
        assert_eq!(p.pods[0].pod.infra_config.net, NetMode::Host);
        assert!(p.pods[0].pod.infra_config.networks.is_empty());
    }

    #[test]
    fn helpers() {
        let env = vec![("A".to_string(), "1".to_string())];
        assert_eq!(expand("x$(A)y $(B) $$(A) $", &env), "x1y $(B) $(A) $");
        let p = parse_publish("8080:80").unwrap();
        assert_eq!(
            (p[0].host_port, p[0].container_port, p[0].range),
            (8080, 80, 1)
        );
        let p = parse_publish("[::1]:9000-9001:90-91/udp").unwrap();
        assert_eq!(p[0].host_ip, "::1");
        assert_eq!(
            (p[0].host_port, p[0].container_port, p[0].range),
            (9000, 90, 2)
        );
        assert_eq!(p[0].protocol, "udp");
        let (mode, nets) = parse_networks(&["host".into()]).unwrap();
        assert_eq!(mode, NetMode::Host);
        assert!(nets.is_empty());
        assert!(parse_networks(&["host".into(), "net2".into()]).is_err());
        let (dest, o) = parse_mount_path("/x:z", true, Some("HostToContainer")).unwrap();
        assert_eq!(dest, "/x");
        assert_eq!(o, ["z", "ro", "rslave"]);
        assert!(parse_mount_path("rel", false, None).is_err());
    }
}
