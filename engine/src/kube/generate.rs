//! `kube generate`: pods, standalone containers and volumes to Kubernetes YAML, following
//! what Podman 4.9.5 writes (`libpod/kube.go`): members of a pod without its infra container,
//! the pod's published ports on its first container, standalone containers in one Pod named
//! `<first container>-pod`, volumes as PersistentVolumeClaims with `volume.podman.io/*`
//! annotations, optional NodePort Services, and Deployment / DaemonSet wrappers.
//!
//! Pure apart from one look at the host: a bind mount's `hostPath.type` says whether its
//! source is a directory, a file or missing (`DirectoryOrCreate`), as Podman's does.
//! Knows nothing of the runtime or HTTP.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::containers::config::{ContainerConfig, NetMode, PortMapping};
use crate::containers::lifecycle::ContainerRecord;
use crate::error::{Error, Result};
use crate::kube::{
    format_bytes, format_milli, yaml_text, GenerateInput, GenerateOptions, AUTO_UPDATE_LABEL,
    BIND_MOUNT_ANNOTATION, INFRA_NAME_ANNOTATION, MAX_KUBE_ANNOTATION, ULIMIT_ANNOTATION,
    VOLUME_DEVICE_ANNOTATION, VOLUME_DRIVER_ANNOTATION, VOLUME_GID_ANNOTATION,
    VOLUME_MOUNT_OPTS_ANNOTATION, VOLUME_TYPE_ANNOTATION, VOLUME_UID_ANNOTATION,
};
use crate::pods::PodRecord;
use crate::volumes::VolumeRecord;

const HEADER: &str = "# Kubernetes YAML written by podapid for the Podman 4.9.5 API.\n\
# Import it with `kubectl create -f`, or run it again with `podman kube play`.\n\
#\n\
# Created with podapid (podman-4.9.5 compatible)\n";

const NAMESPACE_NOTE: &str =
    "\n# NOTE: a pod here shares other namespaces than Kubernetes' default (ipc, net, uts):\n\
# it may behave differently in a Kubernetes cluster.\n";

const VOLUME_NOTE: &str =
    "\n# NOTE: these containers mount host paths or volumes. On an SELinux host, the volumes\n\
# of a rootless container may need relabeling before a cluster can use them.\n";

/// The default `PATH` and `container` variables every container gets: not written.
const DEFAULT_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("container", "podman"),
];

/// Annotations Podman sets itself at create, which generate leaves out.
const RESERVED_ANNOTATIONS: &[&str] = &[
    "io.podman.annotations.cid-file",
    "io.podman.annotations.autoremove",
    "io.podman.annotations.volumes-from",
    "io.podman.annotations.privileged",
    "io.podman.annotations.publish-all",
    "io.podman.annotations.init",
    "io.podman.annotations.label",
    "io.podman.annotations.seccomp",
    "io.podman.annotations.apparmor",
    "TRUE",
    "FALSE",
    "io.container.manager",
];

/// The stop timeout every container has unless told otherwise.
const DEFAULT_STOP_TIMEOUT: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pod,
    Deployment,
    DaemonSet,
}

/// Generates the YAML with Podman's default capability set as the reference for
/// `capabilities.add` / `drop`.
pub fn generate(inputs: &[GenerateInput], opts: &GenerateOptions) -> Result<String> {
    let defaults = crate::config::ContainersSection::default().default_capabilities;
    generate_with_caps(inputs, opts, &defaults)
}

/// [`generate`] against another default capability set (containers.conf's).
pub fn generate_with_caps(
    inputs: &[GenerateInput],
    opts: &GenerateOptions,
    default_caps: &[String],
) -> Result<String> {
    let kind = match opts.kind.to_ascii_lowercase().as_str() {
        "" | "pod" => Kind::Pod,
        "deployment" => Kind::Deployment,
        "daemonset" => Kind::DaemonSet,
        other => {
            return Err(Error::InvalidArg(format!(
                "invalid generation type - only pods, deployments and daemonsets are currently supported: {other}"
            )))
        }
    };
    if opts.replicas > 1 && kind != Kind::Deployment {
        return Err(Error::InvalidArg(
            "--replicas can only be set when --type is set to deployment".into(),
        ));
    }
    if opts.replicas < 1 {
        return Err(Error::InvalidArg(
            "--replicas has to be greater than or equal to 1. By default, --replicas is set to 1"
                .into(),
        ));
    }
    let mut pods = Vec::new();
    let mut ctrs = Vec::new();
    let mut vols = Vec::new();
    for i in inputs {
        match i {
            GenerateInput::Pod {
                pod,
                infra,
                members,
            } => pods.push((pod, infra.as_ref(), members)),
            GenerateInput::Container(c) => ctrs.push(c),
            GenerateInput::Volume(v) => vols.push(v),
        }
    }
    let mut content = Vec::new();
    let mut typed = Vec::new();
    if pods
        .iter()
        .any(|(p, ..)| !(p.shares("ipc") && p.shares("net") && p.shares("uts")))
    {
        content.push(NAMESPACE_NOTE.to_string());
    }
    for v in vols {
        content.push(yaml_text(&pvc(v))?);
    }
    for (pod, infra, members) in pods {
        let (po, service_ports) = pod_to_kube(pod, infra, members, opts.service, default_caps)?;
        typed.push(yaml_text(&wrap(kind, &po, opts.replicas)?)?);
        if opts.service {
            content.push(yaml_text(&service(&po, service_ports))?);
        }
    }
    if !ctrs.is_empty() {
        let po = containers_to_kube(&ctrs, opts.service, default_caps)?;
        if po["spec"]["volumes"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            content.push(VOLUME_NOTE.to_string());
        }
        typed.push(yaml_text(&wrap(kind, &po, opts.replicas)?)?);
        if opts.service {
            content.push(yaml_text(&service(&po, Vec::new()))?);
        }
    }
    content.extend(typed);
    let mut out = HEADER.to_string();
    for (i, b) in content.iter().enumerate() {
        if i != 0 {
            out.push_str("---\n");
        }
        out.push_str(b);
    }
    Ok(out)
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn remove_underscores(s: &str) -> String {
    s.replace('_', "")
}

/// Kubernetes caps annotation values at 63 characters; Podman truncates (and warns).
fn truncate_annotation(v: &str) -> String {
    let t = v.trim();
    if t.chars().count() < MAX_KUBE_ANNOTATION {
        t.to_string()
    } else {
        let cut: String = t.chars().take(MAX_KUBE_ANNOTATION).collect();
        tracing::warn!(annotation = t, truncated = %cut, "truncating a kube annotation to 63 characters");
        cut
    }
}

fn reserved_annotation(k: &str) -> bool {
    RESERVED_ANNOTATIONS.contains(&k) || k.starts_with("io.kubernetes.cri-o.")
}

/// The annotations a container contributes to its pod: its own (`<key>/<container>`) and its
/// auto-update labels.
fn container_annotations(cfg: &ContainerConfig, name: &str, out: &mut BTreeMap<String, String>) {
    for (k, v) in &cfg.annotations {
        if !reserved_annotation(k) {
            out.insert(format!("{k}/{name}"), truncate_annotation(v));
        }
    }
    for (k, v) in &cfg.labels {
        if k.contains(AUTO_UPDATE_LABEL) {
            out.insert(format!("{k}/{name}"), truncate_annotation(v));
        }
    }
}

fn restart_policy(name: &str) -> &'static str {
    match name {
        "no" => "Never",
        "always" => "Always",
        "on-failure" => "OnFailure",
        _ => "",
    }
}

/// `ndots:2` as a name and an optional value.
fn dns_options(opts: &[String]) -> Vec<(String, Option<String>)> {
    opts.iter()
        .map(|o| match o.split_once(':') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (o.clone(), None),
        })
        .collect()
}

/// The pod's DNS settings as collected from containers.
#[derive(Debug, Default)]
struct Dns {
    servers: Vec<String>,
    searches: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

impl Dns {
    fn from_config(cfg: &ContainerConfig) -> Dns {
        Dns {
            servers: cfg.dns.clone(),
            searches: cfg.dns_search.clone(),
            options: dns_options(&cfg.dns_options),
        }
    }

    fn to_value(&self) -> Option<Value> {
        let mut m = Map::new();
        if !self.servers.is_empty() {
            m.insert("nameservers".into(), json!(self.servers));
        }
        if !self.searches.is_empty() {
            m.insert("searches".into(), json!(self.searches));
        }
        if !self.options.is_empty() {
            let opts: Vec<Value> = self
                .options
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => json!({"name": k, "value": v}),
                    None => json!({"name": k}),
                })
                .collect();
            m.insert("options".into(), Value::Array(opts));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    }
}

/// A pod's Kubernetes form and the ports its Service would publish.
fn pod_to_kube(
    pod: &PodRecord,
    infra: Option<&ContainerRecord>,
    members: &[ContainerRecord],
    service: bool,
    default_caps: &[String],
) -> Result<(Value, Vec<Value>)> {
    if members.is_empty() {
        return Err(Error::InvalidArg(
            if infra.is_some() || pod.infra_id.is_some() {
                format!("pod {} only has an infra container", pod.id)
            } else {
                format!("pod {} has no containers", pod.id)
            },
        ));
    }
    let has_infra = infra.is_some() || pod.infra_id.is_some();
    let mut ports = Vec::new();
    let mut host_aliases = Vec::new();
    let mut host_network = false;
    let mut dns = Dns::default();
    let mut annotations = BTreeMap::new();
    if has_infra {
        let icfg = &pod.infra_config;
        let infra_cfg = infra.map(|i| &i.config);
        let pick = |own: &Vec<String>, f: fn(&ContainerConfig) -> &Vec<String>| -> Vec<String> {
            if !own.is_empty() {
                own.clone()
            } else {
                infra_cfg.map(|c| f(c).clone()).unwrap_or_default()
            }
        };
        for h in pick(&icfg.extra_hosts, |c| &c.extra_hosts) {
            let (host, ip) = h
                .split_once(':')
                .ok_or_else(|| Error::InvalidArg("invalid hostAdd".into()))?;
            host_aliases.push(json!({"hostnames": [host], "ip": ip}));
        }
        let port_list: &[PortMapping] = if !icfg.ports.is_empty() {
            &icfg.ports
        } else {
            infra_cfg.map(|c| c.ports.as_slice()).unwrap_or(&[])
        };
        ports = container_ports(port_list, service)?;
        host_network =
            icfg.net == NetMode::Host || infra_cfg.is_some_and(|c| c.net == NetMode::Host);
        dns = Dns {
            servers: pick(&icfg.dns, |c| &c.dns),
            searches: pick(&icfg.dns_search, |c| &c.dns_search),
            options: dns_options(&pick(&icfg.dns_options, |c| &c.dns_options)),
        };
        if let Some(i) = infra {
            let default_name = format!("{}-infra", pod.id.get(..12).unwrap_or(&pod.id));
            if i.name != default_name {
                annotations.insert(
                    INFRA_NAME_ANNOTATION.to_string(),
                    truncate_annotation(&i.name),
                );
            }
        }
    }
    let service_ports = node_ports(&ports);
    let mut members: Vec<&ContainerRecord> = members.iter().collect();
    members.sort_by_key(|c| c.created);
    let shares_net = pod.shares("net");
    let prefix = format!("{}-", pod.name);
    let mut first = true;
    let mut hostname = String::new();
    let mut stop_timeout = None;
    let mut containers = Vec::new();
    let mut volumes: Vec<(String, Value)> = Vec::new();
    for ctr in &members {
        // The YAML name: Podman adds `<pod>-` when it plays a pod, so it comes off again.
        let name = remove_underscores(
            ctr.name
                .strip_prefix(&prefix)
                .filter(|n| !n.is_empty())
                .unwrap_or(&ctr.name),
        );
        container_annotations(&ctr.config, &name, &mut annotations);
        if hostname.is_empty() {
            let h = if pod.shares("uts") && ctr.config.hostname.is_empty() {
                &pod.hostname
            } else if !ctr.config.hostname.is_empty() {
                &ctr.config.hostname
            } else {
                &ctr.hostname
            };
            if !h.is_empty() && !ctr.id.contains(h.as_str()) && *h != pod.name {
                hostname = h.clone();
            }
        }
        if stop_timeout.is_none() {
            stop_timeout = ctr
                .config
                .stop_timeout
                .filter(|t| *t != DEFAULT_STOP_TIMEOUT);
        }
        let mut k = container_to_kube(ctr, &name, service, default_caps)?;
        if let Some(a) = k.bind_annotation.take() {
            annotations.insert(BIND_MOUNT_ANNOTATION.to_string(), truncate_annotation(&a));
        }
        if shares_net {
            k.value.remove("ports");
            if first && !ports.is_empty() {
                k.value.insert("ports".into(), Value::Array(ports.clone()));
                first = false;
            }
        }
        containers.push(Value::Object(k.value));
        for (n, v) in k.volumes {
            if !volumes.iter().any(|(x, _)| *x == n) {
                volumes.push((n, v));
            }
        }
    }
    let restart = members
        .first()
        .map(|c| restart_policy(&c.config.restart.name))
        .unwrap_or("");
    let name = remove_underscores(&pod.name);
    let mut spec = Map::new();
    spec.insert("containers".into(), Value::Array(containers));
    if let Some(d) = dns.to_value() {
        spec.insert("dnsConfig".into(), d);
    }
    if !host_aliases.is_empty() {
        spec.insert("hostAliases".into(), Value::Array(host_aliases));
    }
    if host_network {
        spec.insert("hostNetwork".into(), json!(true));
    }
    if !hostname.is_empty() {
        spec.insert("hostname".into(), json!(hostname));
    }
    if !restart.is_empty() {
        spec.insert("restartPolicy".into(), json!(restart));
    }
    if pod.shares("pid") {
        spec.insert("shareProcessNamespace".into(), json!(true));
    }
    if let Some(t) = stop_timeout {
        spec.insert("terminationGracePeriodSeconds".into(), json!(t));
    }
    if !volumes.is_empty() {
        spec.insert(
            "volumes".into(),
            Value::Array(volumes.into_iter().map(|(_, v)| v).collect()),
        );
    }
    Ok((pod_object(&name, annotations, spec), service_ports))
}

/// Standalone containers in one Pod, as Podman does for `generate kube <container>...`.
fn containers_to_kube(
    ctrs: &[&ContainerRecord],
    service: bool,
    default_caps: &[String],
) -> Result<Value> {
    let names: Vec<String> = ctrs.iter().map(|c| remove_underscores(&c.name)).collect();
    let mut annotations = BTreeMap::new();
    let mut hostname = String::new();
    let mut stop_timeout = None;
    let mut restart = None;
    let mut host_network = true;
    let mut dns = Dns::default();
    let mut containers = Vec::new();
    let mut volumes: Vec<(String, Value)> = Vec::new();
    for (ctr, name) in ctrs.iter().zip(&names) {
        container_annotations(&ctr.config, name, &mut annotations);
        if hostname.is_empty() && !ctr.hostname.is_empty() && !ctr.id.contains(&ctr.hostname) {
            hostname = ctr.hostname.clone();
        }
        if stop_timeout.is_none() {
            stop_timeout = ctr
                .config
                .stop_timeout
                .filter(|t| *t != DEFAULT_STOP_TIMEOUT);
        }
        if restart.is_none() {
            restart = Some(restart_policy(&ctr.config.restart.name));
        }
        if !ctr.config.ulimits.is_empty() {
            annotations.insert(ULIMIT_ANNOTATION.to_string(), ctr.config.ulimits.join(","));
        }
        if ctr.config.net != NetMode::Host {
            host_network = false;
        }
        let mut k = container_to_kube(ctr, name, service, default_caps)?;
        if let Some(a) = k.bind_annotation.take() {
            annotations.insert(BIND_MOUNT_ANNOTATION.to_string(), truncate_annotation(&a));
        }
        containers.push(Value::Object(k.value));
        for (n, v) in k.volumes {
            if !volumes.iter().any(|(x, _)| *x == n) {
                volumes.push((n, v));
            }
        }
        let d = Dns::from_config(&ctr.config);
        for s in d.servers {
            if !dns.servers.contains(&s) {
                dns.servers.push(s);
            }
        }
        for s in d.searches {
            if !dns.searches.contains(&s) {
                dns.searches.push(s);
            }
        }
        dns.options.extend(d.options);
    }
    let mut pod_name = names.first().cloned().unwrap_or_default();
    if names.contains(&pod_name) {
        pod_name.push_str("-pod");
    }
    let mut spec = Map::new();
    spec.insert("containers".into(), Value::Array(containers));
    if let Some(d) = dns.to_value() {
        spec.insert("dnsConfig".into(), d);
    }
    if host_network {
        spec.insert("hostNetwork".into(), json!(true));
    }
    if !hostname.is_empty() {
        spec.insert("hostname".into(), json!(hostname));
    }
    if let Some(r) = restart.filter(|r| !r.is_empty()) {
        spec.insert("restartPolicy".into(), json!(r));
    }
    if let Some(t) = stop_timeout {
        spec.insert("terminationGracePeriodSeconds".into(), json!(t));
    }
    if !volumes.is_empty() {
        spec.insert(
            "volumes".into(),
            Value::Array(volumes.into_iter().map(|(_, v)| v).collect()),
        );
    }
    Ok(pod_object(&pod_name, annotations, spec))
}

fn pod_object(
    name: &str,
    annotations: BTreeMap<String, String>,
    spec: Map<String, Value>,
) -> Value {
    let mut meta = Map::new();
    if !annotations.is_empty() {
        meta.insert("annotations".into(), json!(annotations));
    }
    meta.insert("creationTimestamp".into(), json!(now()));
    meta.insert("labels".into(), json!({"app": name}));
    meta.insert("name".into(), json!(name));
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": Value::Object(meta),
        "spec": Value::Object(spec),
    })
}

/// The pod as asked: itself, or the template of a Deployment / DaemonSet.
fn wrap(kind: Kind, pod: &Value, replicas: u32) -> Result<Value> {
    let (kind_name, suffix) = match kind {
        Kind::Pod => return Ok(pod.clone()),
        Kind::Deployment => ("Deployment", "deployment"),
        Kind::DaemonSet => ("DaemonSet", "daemonset"),
    };
    let restart = pod["spec"]["restartPolicy"].as_str().unwrap_or("");
    if !(restart.is_empty() || restart == "Always") {
        return Err(Error::InvalidArg(format!(
            "k8s {kind_name}s can only have restartPolicy set to Always"
        )));
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let mut spec = Map::new();
    if kind == Kind::Deployment && replicas > 1 {
        spec.insert("replicas".into(), json!(replicas));
    }
    spec.insert("selector".into(), json!({"matchLabels": {"app": name}}));
    spec.insert(
        "template".into(),
        json!({"metadata": pod["metadata"], "spec": pod["spec"]}),
    );
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": kind_name,
        "metadata": {
            "creationTimestamp": pod["metadata"]["creationTimestamp"],
            "labels": pod["metadata"]["labels"],
            "name": format!("{name}-{suffix}"),
        },
        "spec": Value::Object(spec),
    }))
}

/// A NodePort Service for a pod: the given ports, else every container port of the pod.
fn service(pod: &Value, ports: Vec<Value>) -> Value {
    let ports = if ports.is_empty() {
        let all: Vec<Value> = pod["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        node_ports(&all)
    } else {
        ports
    };
    let name = pod["metadata"]["name"].clone();
    let mut spec = Map::new();
    if !ports.is_empty() {
        spec.insert("ports".into(), Value::Array(ports));
    }
    spec.insert("selector".into(), json!({"app": name}));
    spec.insert("type".into(), json!("NodePort"));
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "creationTimestamp": pod["metadata"]["creationTimestamp"],
            "labels": pod["metadata"]["labels"],
            "name": name,
        },
        "spec": Value::Object(spec),
    })
}

/// Service ports for container ports, each with a distinct random NodePort in Kubernetes'
/// legal range 30000-32767.
fn node_ports(ports: &[Value]) -> Vec<Value> {
    let mut used = Vec::new();
    let mut out = Vec::new();
    for p in ports {
        let cp = p["containerPort"].as_u64().unwrap_or(0);
        let mut node = 0u32;
        for _ in 0..100 {
            let r: [u8; 2] = rand::random();
            let candidate = 30000 + u32::from(u16::from_le_bytes(r)) % 2768;
            if !used.contains(&candidate) {
                node = candidate;
                break;
            }
        }
        used.push(node);
        let mut sp = Map::new();
        sp.insert("name".into(), json!(cp.to_string()));
        sp.insert("nodePort".into(), json!(node));
        sp.insert("port".into(), json!(cp));
        if let Some(proto) = p.get("protocol") {
            sp.insert("protocol".into(), proto.clone());
        }
        sp.insert("targetPort".into(), json!(cp));
        out.push(Value::Object(sp));
    }
    out
}

/// Port mappings as container ports: one per port of a range and per protocol; TCP is
/// left implicit and `hostPort` is dropped when a Service publishes the ports.
fn container_ports(ports: &[PortMapping], service: bool) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for p in ports {
        let protocols: Vec<&str> = if p.protocol.is_empty() {
            vec!["tcp"]
        } else {
            p.protocol.split(',').collect()
        };
        for proto in protocols {
            let protocol = match proto.to_ascii_uppercase().as_str() {
                "TCP" => None,
                "UDP" => Some("UDP"),
                "SCTP" => Some("SCTP"),
                _ => {
                    return Err(Error::InvalidArg(format!(
                        "unknown network protocol {}",
                        p.protocol
                    )))
                }
            };
            for i in 0..u32::from(p.range.max(1)) {
                let mut cp = Map::new();
                cp.insert(
                    "containerPort".into(),
                    json!(u32::from(p.container_port) + i),
                );
                if !p.host_ip.is_empty() {
                    cp.insert("hostIP".into(), json!(p.host_ip));
                }
                if !service && p.host_port != 0 {
                    cp.insert("hostPort".into(), json!(u32::from(p.host_port) + i));
                }
                if let Some(pr) = protocol {
                    cp.insert("protocol".into(), json!(pr));
                }
                out.push(Value::Object(cp));
            }
        }
    }
    Ok(out)
}

/// A container's Kubernetes form with the pod volumes it needs.
struct KubeContainer {
    value: Map<String, Value>,
    volumes: Vec<(String, Value)>,
    /// `source:Z` of a bind mount relabeled with `z`/`Z`.
    bind_annotation: Option<String>,
}

fn container_to_kube(
    rec: &ContainerRecord,
    name: &str,
    service: bool,
    default_caps: &[String],
) -> Result<KubeContainer> {
    let cfg = &rec.config;
    if !cfg.privileged && !cfg.devices.is_empty() {
        return Err(Error::NotImplemented(
            "linux devices: not implemented".into(),
        ));
    }
    let mut c = Map::new();
    let (mounts, volumes, bind_annotation) = volume_mounts(cfg)?;
    // The command as the container runs it; what came from the image is not repeated.
    let entrypoint_given = cfg.entrypoint.is_some();
    let cmd_given = cfg.cmd.is_some();
    if !rec.entrypoint.is_empty() {
        if entrypoint_given {
            c.insert("command".into(), json!(rec.entrypoint));
        }
        if !rec.cmd.is_empty() {
            c.insert("args".into(), json!(rec.cmd));
        }
    } else if cmd_given && !rec.cmd.is_empty() {
        c.insert("command".into(), json!(rec.cmd));
    }
    let env: Vec<Value> = cfg
        .env
        .iter()
        .filter_map(|e| e.split_once('='))
        .filter(|&(k, v)| !DEFAULT_ENV.contains(&(k, v)))
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    if !env.is_empty() {
        c.insert("env".into(), Value::Array(env));
    }
    let image = if rec.image.is_empty() {
        &cfg.raw_image_name
    } else {
        &rec.image
    };
    c.insert("image".into(), json!(image));
    c.insert("name".into(), json!(name));
    let ports = container_ports(&cfg.ports, service)?;
    if !ports.is_empty() {
        c.insert("ports".into(), Value::Array(ports));
    }
    if let Some(r) = resources(cfg) {
        c.insert("resources".into(), r);
    }
    if let Some(sc) = security_context(cfg, default_caps)? {
        c.insert("securityContext".into(), sc);
    }
    if cfg.open_stdin {
        c.insert("stdin".into(), json!(true));
    }
    if rec.tty {
        c.insert("tty".into(), json!(true));
    }
    if !mounts.is_empty() {
        c.insert("volumeMounts".into(), Value::Array(mounts));
    }
    if let Some(w) = cfg.workdir.as_ref().filter(|w| !w.is_empty() && *w != "/") {
        c.insert("workingDir".into(), json!(w));
    }
    Ok(KubeContainer {
        value: c,
        volumes,
        bind_annotation,
    })
}

fn resources(cfg: &ContainerConfig) -> Option<Value> {
    let r = &cfg.resources;
    let mut limits = Map::new();
    if r.memory > 0 {
        limits.insert("memory".into(), json!(format_bytes(r.memory)));
    }
    let milli = if r.nano_cpus > 0 {
        r.nano_cpus / 1_000_000
    } else if r.cpu_quota > 0 && r.cpu_period > 0 {
        (1000.0 * r.cpu_quota as f64 / r.cpu_period as f64) as i64
    } else {
        0
    };
    if milli >= 1 {
        limits.insert("cpu".into(), json!(format_milli(milli)));
    }
    (!limits.is_empty()).then(|| json!({"limits": Value::Object(limits)}))
}

fn security_context(cfg: &ContainerConfig, default_caps: &[String]) -> Result<Option<Value>> {
    let mut sc = Map::new();
    if !cfg.privileged {
        if let Some(caps) = capability_changes(cfg, default_caps)? {
            sc.insert("capabilities".into(), caps);
        }
    }
    let mut selinux = Map::new();
    let mut no_new_privileges = false;
    let mut unmask_all = false;
    for opt in &cfg.security_opt {
        let (k, v) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), ""));
        match k {
            "label" => match v.split_once(':') {
                Some(("filetype", x)) => {
                    selinux.insert("fileType".into(), json!(x));
                }
                Some(("type", x)) => {
                    selinux.insert("type".into(), json!(x));
                }
                Some(("level", x)) => {
                    selinux.insert("level".into(), json!(x));
                }
                None if v == "disable" => {
                    selinux.insert("type".into(), json!("spc_t"));
                }
                _ => {}
            },
            "no-new-privileges" => no_new_privileges = v.is_empty() || v == "true",
            "unmask" => unmask_all = v.split(':').any(|p| p == "ALL"),
            _ => {}
        }
    }
    if !selinux.is_empty() {
        sc.insert("seLinuxOptions".into(), Value::Object(selinux));
    }
    if no_new_privileges {
        sc.insert("allowPrivilegeEscalation".into(), json!(false));
    }
    if cfg.privileged {
        sc.insert("privileged".into(), json!(true));
    }
    if cfg.read_only {
        sc.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    if cfg.privileged || unmask_all {
        sc.insert("procMount".into(), json!("Unmasked"));
    }
    // Only numeric users can be told without the container's /etc/passwd.
    if let Some(user) = cfg.user.as_deref().filter(|u| !u.is_empty()) {
        let (u, g) = user.split_once(':').unwrap_or((user, ""));
        if let Ok(uid) = u.parse::<i64>() {
            sc.insert("runAsUser".into(), json!(uid));
            if let Ok(gid) = g.parse::<i64>() {
                sc.insert("runAsGroup".into(), json!(gid));
            }
        }
    }
    Ok((!sc.is_empty()).then_some(Value::Object(sc)))
}

/// `capabilities.add` / `drop` relative to the default set.
fn capability_changes(cfg: &ContainerConfig, default_caps: &[String]) -> Result<Option<Value>> {
    if cfg.cap_add.is_empty() && cfg.cap_drop.is_empty() {
        return Ok(None);
    }
    let have =
        crate::containers::spec::capabilities(default_caps, &cfg.cap_add, &cfg.cap_drop, false)?;
    let defaults: Vec<String> = default_caps
        .iter()
        .map(|c| {
            let c = c.trim().to_ascii_uppercase();
            if c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            }
        })
        .collect();
    let mut drop: Vec<&String> = Vec::new();
    for d in &defaults {
        if !have.contains(d) && !drop.contains(&d) {
            drop.push(d);
        }
    }
    let add: Vec<&String> = have.iter().filter(|c| !defaults.contains(c)).collect();
    if add.is_empty() && drop.is_empty() {
        return Ok(None);
    }
    let mut m = Map::new();
    if !add.is_empty() {
        m.insert("add".into(), json!(add));
    }
    if !drop.is_empty() {
        m.insert("drop".into(), json!(drop));
    }
    Ok(Some(Value::Object(m)))
}

/// A host path as a volume name: `/mnt/data/` → `mnt-data`, `/` → `root`.
fn path_to_name(path: &str) -> Result<String> {
    match path {
        "" => Err(Error::InvalidArg(
            "hostSourcePath must be specified to generate volume name".into(),
        )),
        "/" => Ok("root".into()),
        p if p.len() == 1 => Err(Error::InvalidArg(format!(
            "hostSourcePath malformatted: {p}"
        ))),
        p => Ok(p.trim_matches('/').replace('/', "-")),
    }
}

type Mounts = (Vec<Value>, Vec<(String, Value)>, Option<String>);

/// Bind and tmpfs mounts (named `<path>-host-<i>` / `tmp-<i>`), then named volumes
/// (`<volume>-pvc`). Anonymous volumes (option `anonymous`) have no name to claim and are
/// left out.
fn volume_mounts(cfg: &ContainerConfig) -> Result<Mounts> {
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    let mut annotation = None;
    let ro =
        |m: &crate::containers::config::Mount| m.read_only || m.options.iter().any(|o| o == "ro");
    let plain = cfg
        .mounts
        .iter()
        .filter(|m| m.kind == "bind" || m.kind == "tmpfs");
    for (index, m) in plain.enumerate() {
        if let Some(z) = m.options.iter().find(|o| *o == "z" || *o == "Z") {
            annotation = Some(format!("{}:{z}", m.source));
        }
        let (name, vol) = if m.kind == "tmpfs" {
            let name = format!("tmp-{index}");
            let vol = json!({"emptyDir": {"medium": "Memory"}, "name": name});
            (name, vol)
        } else {
            let name = format!("{}-host-{index}", path_to_name(&m.source)?);
            let kind = match std::fs::metadata(&m.source) {
                Err(_) => "DirectoryOrCreate",
                Ok(md) if md.is_dir() => "Directory",
                Ok(_) => "File",
            };
            let vol = json!({"hostPath": {"path": m.source, "type": kind}, "name": name});
            (name, vol)
        };
        let mut vm = Map::new();
        vm.insert("mountPath".into(), json!(m.destination));
        vm.insert("name".into(), json!(name));
        if ro(m) {
            vm.insert("readOnly".into(), json!(true));
        }
        mounts.push(Value::Object(vm));
        volumes.push((name, vol));
    }
    let named = cfg.mounts.iter().filter(|m| {
        m.kind == "volume" && !m.source.is_empty() && !m.options.iter().any(|o| o == "anonymous")
    });
    for m in named {
        let name = format!("{}-pvc", m.source);
        let mut vm = Map::new();
        vm.insert("mountPath".into(), json!(m.destination));
        vm.insert("name".into(), json!(name));
        let mut claim = Map::new();
        claim.insert("claimName".into(), json!(m.source));
        if ro(m) {
            vm.insert("readOnly".into(), json!(true));
            claim.insert("readOnly".into(), json!(true));
        }
        mounts.push(Value::Object(vm));
        volumes.push((
            name.clone(),
            json!({"name": name, "persistentVolumeClaim": Value::Object(claim)}),
        ));
    }
    Ok((mounts, volumes, annotation))
}

/// A volume as a PersistentVolumeClaim whose annotations keep the driver and options.
fn pvc(v: &VolumeRecord) -> Value {
    let mut annotations = Map::new();
    annotations.insert(VOLUME_DRIVER_ANNOTATION.into(), json!(v.driver));
    for (k, val) in &v.options {
        let key = match k.as_str() {
            "o" => VOLUME_MOUNT_OPTS_ANNOTATION,
            "device" => VOLUME_DEVICE_ANNOTATION,
            "type" => VOLUME_TYPE_ANNOTATION,
            k if k.eq_ignore_ascii_case("uid") => VOLUME_UID_ANNOTATION,
            k if k.eq_ignore_ascii_case("gid") => VOLUME_GID_ANNOTATION,
            _ => continue,
        };
        annotations.insert(key.into(), json!(val));
    }
    let mut meta = Map::new();
    meta.insert("annotations".into(), Value::Object(annotations));
    meta.insert("creationTimestamp".into(), json!(now()));
    if !v.labels.is_empty() {
        meta.insert("labels".into(), json!(v.labels));
    }
    meta.insert("name".into(), json!(v.name));
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": Value::Object(meta),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
        "status": {},
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::containers::config::{Mount, RestartPolicy};

    /// A container record as create leaves it (only what generate reads is meaningful).
    pub(crate) fn record(name: &str, image: &str) -> ContainerRecord {
        let id: String = hex::encode(name)
            .chars()
            .chain(std::iter::repeat('0'))
            .take(64)
            .collect();
        serde_json::from_value(json!({
            "id": id,
            "name": name,
            "image": image,
            "image_id": "f".repeat(64),
            "command": [],
            "created": "2024-01-01T00:00:00Z",
            "status": "configured",
            "labels": {},
            "pod_id": null,
            "exit_code": 0,
            "env": [],
            "cwd": "/",
            "user": "",
            "tty": false,
            "hostname": id[..12],
            "pid": 0,
            "started_at": null,
            "finished_at": null,
        }))
        .unwrap()
    }

    fn parse(yaml: &str) -> Vec<serde_norway::Value> {
        use serde::Deserialize;
        serde_norway::Deserializer::from_str(yaml)
            .map(|d| serde_norway::Value::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect()
    }

    fn s<'a>(v: &'a serde_norway::Value, path: &[&str]) -> &'a serde_norway::Value {
        let mut cur = v;
        for p in path {
            cur = match p.parse::<usize>() {
                Ok(i) => &cur[i],
                Err(_) => &cur[*p],
            };
        }
        cur
    }

    #[test]
    fn standalone_container() {
        let mut c = record("web", "docker.io/library/nginx:latest");
        c.config.env = vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "container=podman".into(),
            "GREETING=hi there".into(),
        ];
        c.config.cmd = Some(vec!["nginx".into(), "-g".into(), "daemon off;".into()]);
        c.cmd = c.config.cmd.clone().unwrap();
        c.config.workdir = Some("/srv".into());
        c.config.ports = vec![PortMapping {
            host_ip: String::new(),
            host_port: 8080,
            container_port: 80,
            range: 1,
            protocol: "tcp".into(),
        }];
        c.config.cap_add = vec!["NET_ADMIN".into()];
        c.config.cap_drop = vec!["CAP_KILL".into()];
        c.config.read_only = true;
        c.config.user = Some("1000:100".into());
        c.config.resources.memory = 64 << 20;
        c.config.resources.nano_cpus = 1_500_000_000;
        c.config.restart = RestartPolicy {
            name: "on-failure".into(),
            max_retry: 0,
        };
        c.config.mounts = vec![
            Mount {
                kind: "bind".into(),
                source: "/".into(),
                destination: "/host".into(),
                options: vec!["ro".into()],
                read_only: true,
            },
            Mount {
                kind: "tmpfs".into(),
                source: String::new(),
                destination: "/scratch".into(),
                options: vec![],
                read_only: false,
            },
            Mount {
                kind: "volume".into(),
                source: "cache".into(),
                destination: "/cache".into(),
                options: vec![],
                read_only: false,
            },
        ];
        let y = generate(&[GenerateInput::Container(c)], &GenerateOptions::default()).unwrap();
        assert!(y.starts_with("# "));
        let docs = parse(&y);
        assert_eq!(docs.len(), 1);
        let pod = &docs[0];
        assert_eq!(s(pod, &["kind"]), "Pod");
        assert_eq!(s(pod, &["apiVersion"]), "v1");
        assert_eq!(s(pod, &["metadata", "name"]), "web-pod");
        assert_eq!(s(pod, &["metadata", "labels", "app"]), "web-pod");
        assert_eq!(s(pod, &["spec", "restartPolicy"]), "OnFailure");
        let ctr = s(pod, &["spec", "containers", "0"]);
        assert_eq!(s(ctr, &["name"]), "web");
        assert_eq!(s(ctr, &["image"]), "docker.io/library/nginx:latest");
        assert_eq!(s(ctr, &["command", "2"]), "daemon off;");
        assert!(s(ctr, &["args"]).is_null());
        assert_eq!(s(ctr, &["env"]).as_sequence().unwrap().len(), 1);
        assert_eq!(s(ctr, &["env", "0", "name"]), "GREETING");
        assert_eq!(s(ctr, &["env", "0", "value"]), "hi there");
        assert_eq!(s(ctr, &["workingDir"]), "/srv");
        assert_eq!(s(ctr, &["ports", "0", "containerPort"]), 80);
        assert_eq!(s(ctr, &["ports", "0", "hostPort"]), 8080);
        assert!(s(ctr, &["ports", "0", "protocol"]).is_null());
        let sc = s(ctr, &["securityContext"]);
        assert_eq!(s(sc, &["capabilities", "add", "0"]), "CAP_NET_ADMIN");
        assert_eq!(s(sc, &["capabilities", "drop", "0"]), "CAP_KILL");
        assert_eq!(s(sc, &["readOnlyRootFilesystem"]).as_bool(), Some(true));
        assert_eq!(s(sc, &["runAsUser"]), 1000);
        assert_eq!(s(sc, &["runAsGroup"]), 100);
        assert_eq!(s(ctr, &["resources", "limits", "memory"]), "64Mi");
        assert_eq!(s(ctr, &["resources", "limits", "cpu"]), "1500m");
        assert_eq!(s(ctr, &["volumeMounts", "0", "name"]), "root-host-0");
        assert_eq!(
            s(ctr, &["volumeMounts", "0", "readOnly"]).as_bool(),
            Some(true)
        );
        assert_eq!(s(ctr, &["volumeMounts", "1", "name"]), "tmp-1");
        assert_eq!(s(ctr, &["volumeMounts", "2", "name"]), "cache-pvc");
        let vols = s(pod, &["spec", "volumes"]).as_sequence().unwrap();
        assert_eq!(vols.len(), 3);
        assert_eq!(s(&vols[0], &["hostPath", "path"]), "/");
        assert_eq!(s(&vols[0], &["hostPath", "type"]), "Directory");
        assert_eq!(s(&vols[1], &["emptyDir", "medium"]), "Memory");
        assert_eq!(
            s(&vols[2], &["persistentVolumeClaim", "claimName"]),
            "cache"
        );
    }

    #[test]
    fn pod_with_service_and_deployment() {
        let pod = PodRecord {
            id: "c".repeat(64),
            name: "shop".into(),
            hostname: "shop".into(),
            infra_id: Some("d".repeat(64)),
            share: vec!["ipc".into(), "net".into(), "uts".into()],
            infra_config: ContainerConfig {
                ports: vec![PortMapping {
                    host_ip: "127.0.0.1".into(),
                    host_port: 9000,
                    container_port: 90,
                    range: 2,
                    protocol: "udp".into(),
                }],
                extra_hosts: vec!["db:10.0.0.5".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let mut a = record("shop-api", "quay.io/x/api:1");
        a.config.ports = vec![PortMapping {
            host_port: 1,
            container_port: 1,
            ..Default::default()
        }];
        a.config.stop_timeout = Some(30);
        a.config.annotations.insert("team".into(), "blue".into());
        let mut infra = record("cccccccccccc-infra", "localhost/podman-pause:4.9.5");
        infra.id = "d".repeat(64);
        let input = GenerateInput::Pod {
            pod: pod.clone(),
            infra: Some(infra),
            members: vec![a.clone()],
        };
        let opts = GenerateOptions {
            service: true,
            kind: "pod".into(),
            replicas: 1,
        };
        let docs = parse(&generate(&[input], &opts).unwrap());
        assert_eq!(docs.len(), 2);
        let svc = &docs[0];
        assert_eq!(s(svc, &["kind"]), "Service");
        assert_eq!(s(svc, &["spec", "type"]), "NodePort");
        assert_eq!(s(svc, &["spec", "selector", "app"]), "shop");
        let ports = s(svc, &["spec", "ports"]).as_sequence().unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!(s(&ports[1], &["port"]), 91);
        assert_eq!(s(&ports[1], &["protocol"]), "UDP");
        let np = s(&ports[0], &["nodePort"]).as_u64().unwrap();
        assert!((30000..=32767).contains(&np));
        let p = &docs[1];
        assert_eq!(s(p, &["metadata", "name"]), "shop");
        assert_eq!(s(p, &["metadata", "annotations", "team/api"]), "blue");
        assert_eq!(s(p, &["spec", "terminationGracePeriodSeconds"]), 30);
        assert_eq!(s(p, &["spec", "hostAliases", "0", "ip"]), "10.0.0.5");
        let ctr = s(p, &["spec", "containers", "0"]);
        assert_eq!(s(ctr, &["name"]), "api");
        // The pod's ports, not the member's own, and no hostPort with a Service.
        let cports = s(ctr, &["ports"]).as_sequence().unwrap();
        assert_eq!(cports.len(), 2);
        assert_eq!(s(&cports[0], &["containerPort"]), 90);
        assert_eq!(s(&cports[0], &["hostIP"]), "127.0.0.1");
        assert!(s(&cports[0], &["hostPort"]).is_null());

        // As a Deployment with replicas.
        let opts = GenerateOptions {
            service: false,
            kind: "deployment".into(),
            replicas: 3,
        };
        let input = GenerateInput::Pod {
            pod,
            infra: None,
            members: vec![a],
        };
        let docs = parse(&generate(&[input], &opts).unwrap());
        let d = &docs[0];
        assert_eq!(s(d, &["apiVersion"]), "apps/v1");
        assert_eq!(s(d, &["kind"]), "Deployment");
        assert_eq!(s(d, &["metadata", "name"]), "shop-deployment");
        assert_eq!(s(d, &["spec", "replicas"]), 3);
        assert_eq!(s(d, &["spec", "selector", "matchLabels", "app"]), "shop");
        assert_eq!(s(d, &["spec", "template", "metadata", "name"]), "shop");
        let cports = s(d, &["spec", "template", "spec", "containers", "0", "ports"]);
        assert_eq!(s(cports, &["0", "hostPort"]), 9000);
        assert_eq!(s(cports, &["1", "hostPort"]), 9001);
    }

    #[test]
    fn volumes_and_errors() {
        let v: VolumeRecord = serde_json::from_value(json!({
            "name": "data",
            "driver": "local",
            "mountpoint": "/x/_data",
            "created_at": "2024-01-01T00:00:00Z",
            "labels": {"tier": "db"},
            "options": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m", "UID": "1000"},
        }))
        .unwrap();
        let y = generate(&[GenerateInput::Volume(v)], &GenerateOptions::default()).unwrap();
        let docs = parse(&y);
        let p = &docs[0];
        assert_eq!(s(p, &["kind"]), "PersistentVolumeClaim");
        let a = s(p, &["metadata", "annotations"]);
        assert_eq!(s(a, &["volume.podman.io/driver"]), "local");
        assert_eq!(s(a, &["volume.podman.io/type"]), "tmpfs");
        assert_eq!(s(a, &["volume.podman.io/mount-options"]), "size=1m");
        assert_eq!(s(a, &["volume.podman.io/uid"]), "1000");
        assert_eq!(s(p, &["metadata", "labels", "tier"]), "db");
        assert_eq!(s(p, &["spec", "accessModes", "0"]), "ReadWriteOnce");
        assert_eq!(s(p, &["spec", "resources", "requests", "storage"]), "1Gi");

        let c = record("x", "busybox");
        let bad = GenerateOptions {
            service: false,
            kind: "pod".into(),
            replicas: 2,
        };
        assert!(generate(&[GenerateInput::Container(c.clone())], &bad).is_err());
        let bad = GenerateOptions {
            kind: "job".into(),
            ..Default::default()
        };
        assert!(generate(&[GenerateInput::Container(c)], &bad).is_err());
    }
}
