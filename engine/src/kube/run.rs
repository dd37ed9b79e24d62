//! Running kube plans on the [`Runtime`]: `kube play` (networks, secrets, volumes, images,
//! host paths, ConfigMap / Secret files, then each pod with its containers), `kube down`
//! (stop and remove what a YAML played), `kube generate` over stored objects, and the
//! reports in the JSON shapes Podman 4.9.5 answers with (`entities.PlayKubeReport`; `kube
//! down` answers the same type). Error values, which Go writes as opaque objects, are
//! written as their text. Knows nothing of HTTP.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path};

use serde::{Serialize, Serializer};

use crate::containers::lifecycle::{ContainerCreate, RemoveOptions, WaitCondition};
use crate::error::{Error, Result};
use crate::images::{ImageEngine, PullOptions};
use crate::kube::{
    down_targets, plan_with_secrets, referenced_secrets, GenerateInput, GenerateOptions,
    HostPathCheck, KubePlan, PlannedHostPath, PlannedImage, PlannedPod, PlannedVolumeFiles,
    PlayOptions, PullPolicy, SANDBOX_ID_ANNOTATION,
};
use crate::networks::manage::NetworkCreate;
use crate::pods::PodEngine;
use crate::runtime::Runtime;
use crate::secrets::SecretCreateOptions;
use crate::volumes::{VolumeCreate, VolumeEngine};

/// Go's nil slices: `null` when empty.
fn nil_if_empty<S: Serializer, T: Serialize>(
    v: &[T],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

/// One played pod (`entities.PlayKubePod`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlayKubePod {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Containers", serialize_with = "nil_if_empty")]
    pub containers: Vec<String>,
    #[serde(rename = "InitContainers", serialize_with = "nil_if_empty")]
    pub init_containers: Vec<String>,
    /// Non-fatal messages.
    #[serde(rename = "Logs", serialize_with = "nil_if_empty")]
    pub logs: Vec<String>,
    /// `starting container <id>: <error>` for members that did not start.
    #[serde(rename = "ContainerErrors", serialize_with = "nil_if_empty")]
    pub container_errors: Vec<String>,
}

/// A volume a PersistentVolumeClaim created (`entities.PlayKubeVolume`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlayKubeVolume {
    #[serde(rename = "Name")]
    pub name: String,
}

/// `entities.SecretCreateReport`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecretCreateReport {
    #[serde(rename = "ID")]
    pub id: String,
}

/// A secret a Kubernetes Secret created (`entities.PlaySecret`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlaySecret {
    #[serde(rename = "CreateReport")]
    pub create_report: SecretCreateReport,
}

/// `entities.PodStopReport`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PodStopReport {
    #[serde(rename = "Errs", serialize_with = "nil_if_empty")]
    pub errs: Vec<String>,
    #[serde(rename = "Id")]
    pub id: String,
}

/// `entities.PodRmReport`: the removed containers (each with its error, none here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PodRmReport {
    #[serde(rename = "RemovedCtrs")]
    pub removed_ctrs: BTreeMap<String, Option<String>>,
    #[serde(rename = "Err")]
    pub err: Option<String>,
    #[serde(rename = "Id")]
    pub id: String,
}

/// `entities.VolumeRmReport`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VolumeRmReport {
    #[serde(rename = "Err")]
    pub err: Option<String>,
    #[serde(rename = "Id")]
    pub id: String,
}

/// `entities.SecretRmReport`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecretRmReport {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Err")]
    pub err: Option<String>,
}

/// `entities.PlayKubeReport`: what play created, or (as [`DownReport`]) what down removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlayReport {
    #[serde(rename = "Pods", serialize_with = "nil_if_empty")]
    pub pods: Vec<PlayKubePod>,
    #[serde(rename = "Volumes", serialize_with = "nil_if_empty")]
    pub volumes: Vec<PlayKubeVolume>,
    #[serde(rename = "StopReport")]
    pub stop_report: Option<Vec<PodStopReport>>,
    #[serde(rename = "RmReport")]
    pub rm_report: Option<Vec<PodRmReport>>,
    /// Only with `force`.
    #[serde(rename = "VolumeRmReport")]
    pub volume_rm_report: Option<Vec<VolumeRmReport>>,
    #[serde(rename = "SecretRmReport")]
    pub secret_rm_report: Option<Vec<SecretRmReport>>,
    #[serde(rename = "Secrets", serialize_with = "nil_if_empty")]
    pub secrets: Vec<PlaySecret>,
    /// No service containers in podapid: always empty.
    #[serde(rename = "ServiceContainerID")]
    pub service_container_id: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i32>,
}

/// What `kube down` answers: Podman 4.9.5 uses the play report's type.
pub type DownReport = PlayReport;

/// A played container's request completed with what exists once the pod does.
fn in_pod(
    mut c: ContainerCreate,
    pod_id: &str,
    infra_id: Option<&str>,
    uid_env: &[(String, String)],
) -> ContainerCreate {
    c.config.pod = Some(pod_id.to_string());
    if let Some(i) = infra_id {
        c.config
            .annotations
            .insert(SANDBOX_ID_ANNOTATION.to_string(), i.to_string());
    }
    let name = c.name.clone().unwrap_or_default();
    for (ctr, var) in uid_env {
        if *ctr == name {
            c.config.env.push(format!("{var}={pod_id}"));
        }
    }
    c
}

/// Creates or checks a hostPath before use (blocking).
fn prepare_host_path(hp: &PlannedHostPath) -> Result<()> {
    let path = Path::new(&hp.path);
    let fail =
        |msg: String| Error::InvalidArg(format!("failed to create volume {:?}: {msg}", hp.volume));
    match hp.check {
        HostPathCheck::DirectoryOrCreate => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(path)
            .map_err(|e| fail(format!("creating {}: {e}", hp.path)))?,
        HostPathCheck::FileOrCreate if !path.exists() => {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(path)
                .map_err(|e| fail(format!("creating HostPath: {e}")))?;
        }
        _ => {}
    }
    let md = std::fs::metadata(path).map_err(|e| {
        fail(format!(
            "in parsing HostPath in YAML: stat {}: {e}",
            hp.path
        ))
    })?;
    let ft = md.file_type();
    match hp.check {
        HostPathCheck::Socket if !ft.is_socket() => Err(fail(format!(
            "checking HostPathSocket: path {} is not a socket",
            hp.path
        ))),
        HostPathCheck::CharDevice if !ft.is_char_device() => Err(fail(format!(
            "checking HostPathCharDevice: path {} is not a character device",
            hp.path
        ))),
        HostPathCheck::BlockDevice if !ft.is_block_device() => Err(fail(format!(
            "checking HostPathBlockDevice: path {} is not a block device",
            hp.path
        ))),
        _ => Ok(()),
    }
}

/// Writes a ConfigMap's / Secret's files into a volume's data directory (blocking).
fn write_files(dir: &Path, vf: &PlannedVolumeFiles) -> Result<()> {
    for (name, data) in &vf.files {
        let rel = Path::new(name);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(Error::InvalidArg(format!(
                "invalid file name {name:?} for volume {}",
                vf.volume
            )));
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        std::fs::write(&path, data).map_err(|e| {
            Error::io(
                format!("cannot create file {name:?} at volume mountpoint {dir:?}"),
                e,
            )
        })?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(vf.mode))
            .map_err(|e| Error::io(format!("setting the mode of {}", path.display()), e))?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

impl Runtime {
    /// `kube play` of a YAML: looks up the stored secrets it references, plans, plays.
    pub async fn play_kube_yaml(
        &self,
        yaml: &str,
        opts: &PlayOptions,
        start: bool,
        replace: bool,
    ) -> Result<PlayReport> {
        let mut stored = BTreeMap::new();
        for name in referenced_secrets(yaml)? {
            match self.secret_inspect(&name, true).await {
                Ok((_, Some(data))) => {
                    stored.insert(name, data);
                }
                Ok((_, None)) | Err(Error::NoSuchSecret(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let plan = plan_with_secrets(yaml, opts, &stored)?;
        self.play_kube(plan, start, replace).await
    }

    /// Runs a plan. Without `replace`, a pod whose name is taken fails as Podman's does;
    /// with it, the pod and containers of those names are removed first. With `start`,
    /// each pod starts (init containers first, one after the other).
    pub async fn play_kube(
        &self,
        plan: KubePlan,
        start: bool,
        replace: bool,
    ) -> Result<PlayReport> {
        let mut report = PlayReport::default();
        for n in &plan.networks {
            self.ensure_network(n).await?;
        }
        for s in plan.secrets {
            // A Secret replaces the stored secret of its name, as in Podman.
            let id = self
                .secret_create(
                    &s.name,
                    s.data,
                    SecretCreateOptions {
                        labels: s.labels,
                        replace: true,
                        ..Default::default()
                    },
                )
                .await?;
            report.secrets.push(PlaySecret {
                create_report: SecretCreateReport { id },
            });
        }
        for v in plan.volumes {
            let rec = self.create_volume(v).await?;
            report.volumes.push(PlayKubeVolume { name: rec.name });
        }
        for img in &plan.images {
            self.ensure_image(img).await?;
        }
        for hp in plan.host_paths {
            blocking(move || prepare_host_path(&hp)).await?;
        }
        for vf in plan.volume_files {
            let rec = self
                .create_volume(VolumeCreate {
                    name: Some(vf.volume.clone()),
                    ignore_if_exists: true,
                    ..Default::default()
                })
                .await?;
            let dir = rec.mountpoint.clone();
            blocking(move || write_files(&dir, &vf)).await?;
        }
        for p in plan.pods {
            report.pods.push(self.play_pod(p, start, replace).await?);
        }
        Ok(report)
    }

    async fn ensure_network(&self, name: &str) -> Result<()> {
        if self.network_list().await?.iter().any(|n| n.name == name) {
            return Ok(());
        }
        let req = NetworkCreate {
            name: name.to_string(),
            dns_enabled: true,
            ..Default::default()
        };
        match self.network_create(req).await {
            Ok(_) | Err(Error::Exists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn ensure_image(&self, img: &PlannedImage) -> Result<()> {
        let present = ImageEngine::exists(self, &img.reference).await?;
        let pull = match img.policy {
            PullPolicy::Always | PullPolicy::Newer => true,
            PullPolicy::Missing => !present,
            PullPolicy::Never if present => false,
            PullPolicy::Never => return Err(Error::NoSuchImage(img.reference.clone())),
        };
        if !pull {
            return Ok(());
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let opts = PullOptions {
            reference: img.reference.clone(),
            ..Default::default()
        };
        let pulled = ImageEngine::pull(self, opts, tx).await;
        let _ = drain.await;
        match pulled {
            Ok(_) => Ok(()),
            // "newer" keeps the local image when the registry cannot be asked.
            Err(e) if present && img.policy == PullPolicy::Newer => {
                tracing::warn!(image = %img.reference, error = %e, "kube play: keeping the local image");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn play_pod(&self, pp: PlannedPod, start: bool, replace: bool) -> Result<PlayKubePod> {
        let pod_name = pp.pod.name.clone().unwrap_or_default();
        if replace {
            match PodEngine::remove(self, &pod_name, true, None).await {
                Ok(_) | Err(Error::NoSuchPod(_)) => {}
                Err(e) => return Err(e),
            }
            for c in pp.init_containers.iter().chain(&pp.containers) {
                let Some(n) = &c.name else { continue };
                let opts = RemoveOptions {
                    force: true,
                    ..Default::default()
                };
                match self.remove_container(n, opts).await {
                    Ok(()) | Err(Error::NoSuchContainer(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let info = PodEngine::create(self, pp.pod).await?;
        let pod_id = info.record.id.clone();
        let infra_id = info.record.infra_id.clone();
        let uid_env = pp.pod_uid_env;
        let prepare = |c| in_pod(c, &pod_id, infra_id.as_deref(), &uid_env);
        let mut report = PlayKubePod {
            id: pod_id.clone(),
            ..Default::default()
        };
        if !start || pp.init_containers.is_empty() {
            for c in pp.init_containers {
                let rec = self.create_container(prepare(c)).await?;
                report.init_containers.push(rec.id);
            }
            for c in pp.containers {
                let rec = self.create_container(prepare(c)).await?;
                report.containers.push(rec.id);
            }
            if start {
                match PodEngine::start(self, &pod_id).await {
                    Ok(r) => report.container_errors.extend(r.errs),
                    Err(Error::NotModified(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(report);
        }
        // Init containers run one after the other, each to a zero exit, before the other
        // containers are created and started (Kubernetes' order, which libpod keeps).
        // Starting a member starts its pod's infra container first.
        let once = pp.init_container_type != "always";
        for c in pp.init_containers {
            let rec = self.create_container(prepare(c)).await?;
            report.init_containers.push(rec.id.clone());
            self.start_container(&rec.id).await?;
            let code = self
                .wait_container(&rec.id, WaitCondition::NotRunning)
                .await?;
            if code != 0 {
                return Err(Error::Runtime(format!(
                    "init container {} exited with code {code}",
                    rec.id
                )));
            }
            if once {
                self.remove_container(&rec.id, RemoveOptions::default())
                    .await?;
            }
        }
        for c in pp.containers {
            let rec = self.create_container(prepare(c)).await?;
            report.containers.push(rec.id.clone());
            if let Err(e) = self.start_container(&rec.id).await {
                report
                    .container_errors
                    .push(format!("starting container {}: {e}", rec.id));
            }
        }
        Ok(report)
    }

    /// `kube down`: stops and removes the pods a YAML names (missing ones are skipped),
    /// removes its secrets, and with `force` its volumes.
    pub async fn kube_down(&self, yaml: &str, force: bool) -> Result<DownReport> {
        let targets = down_targets(yaml)?;
        let mut report = DownReport {
            stop_report: Some(Vec::new()),
            rm_report: Some(Vec::new()),
            secret_rm_report: Some(Vec::new()),
            ..Default::default()
        };
        let mut stops = Vec::new();
        for name in &targets.pods {
            let id = match PodEngine::lookup(self, name).await {
                Ok(r) => r.id,
                Err(Error::NoSuchPod(_)) => continue,
                Err(e) => return Err(e),
            };
            stops.push(match PodEngine::stop(self, &id, None).await {
                Ok(r) => PodStopReport {
                    errs: r.errs,
                    id: if r.id.is_empty() { id } else { r.id },
                },
                Err(Error::NotModified(_)) => PodStopReport {
                    errs: Vec::new(),
                    id,
                },
                Err(e) => PodStopReport {
                    errs: vec![e.to_string()],
                    id,
                },
            });
        }
        report.stop_report = Some(stops);
        let mut rms = Vec::new();
        for name in &targets.pods {
            let id = match PodEngine::lookup(self, name).await {
                Ok(r) => r.id,
                Err(Error::NoSuchPod(_)) => continue,
                Err(e) => return Err(e),
            };
            rms.push(match PodEngine::remove(self, &id, true, None).await {
                Ok(ctrs) => PodRmReport {
                    removed_ctrs: ctrs.into_iter().map(|c| (c, None)).collect(),
                    err: None,
                    id,
                },
                Err(Error::NoSuchPod(_)) => continue,
                Err(e) => PodRmReport {
                    removed_ctrs: BTreeMap::new(),
                    err: Some(e.to_string()),
                    id,
                },
            });
        }
        report.rm_report = Some(rms);
        let mut secrets = Vec::new();
        for s in &targets.secrets {
            match self.secret_remove(s).await {
                Ok(id) => secrets.push(SecretRmReport { id, err: None }),
                Err(Error::NoSuchSecret(_)) => {}
                Err(e) => secrets.push(SecretRmReport {
                    id: s.clone(),
                    err: Some(e.to_string()),
                }),
            }
        }
        report.secret_rm_report = Some(secrets);
        if force {
            let mut vols = Vec::new();
            for v in &targets.volumes {
                match self.remove_volume(v, false, None).await {
                    Ok(()) => vols.push(VolumeRmReport {
                        err: None,
                        id: v.clone(),
                    }),
                    Err(Error::NoSuchVolume(_)) => {}
                    Err(e) => vols.push(VolumeRmReport {
                        err: Some(e.to_string()),
                        id: v.clone(),
                    }),
                }
            }
            report.volume_rm_report = Some(vols);
        }
        Ok(report)
    }

    /// `kube generate` for names of containers, pods and volumes (looked up in that
    /// order), against containers.conf's default capabilities.
    pub async fn generate_kube(&self, names: &[String], opts: &GenerateOptions) -> Result<String> {
        let mut inputs = Vec::new();
        for n in names {
            match self.container_record(n).await {
                Ok(rec) => {
                    if let Some(p) = &rec.pod_id {
                        return Err(Error::Runtime(format!(
                            "container {} is associated with pod {p}: use generate on the pod itself",
                            rec.id
                        )));
                    }
                    inputs.push(GenerateInput::Container(rec));
                    continue;
                }
                Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
            match PodEngine::inspect(self, n).await {
                Ok(info) => {
                    let infra_id = info.record.infra_id.clone();
                    let (infra, members): (Vec<_>, Vec<_>) = info
                        .containers
                        .into_iter()
                        .partition(|c| Some(&c.id) == infra_id.as_ref());
                    inputs.push(GenerateInput::Pod {
                        pod: info.record,
                        infra: infra.into_iter().next(),
                        members,
                    });
                    continue;
                }
                Err(Error::NoSuchPod(_)) => {}
                Err(e) => return Err(e),
            }
            match VolumeEngine::inspect(self, n).await {
                Ok(v) => {
                    inputs.push(GenerateInput::Volume(v.record));
                    continue;
                }
                Err(Error::NoSuchVolume(_)) => {}
                Err(e) => return Err(e),
            }
            return Err(Error::Runtime(format!("name or ID {n:?} not found")));
        }
        crate::kube::generate_with_caps(
            &inputs,
            opts,
            &self.options().conf.containers.default_capabilities,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn report_shapes() {
        let r = PlayReport {
            pods: vec![PlayKubePod {
                id: "p".into(),
                containers: vec!["c".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Pods": [{"ID": "p", "Containers": ["c"], "InitContainers": null, "Logs": null, "ContainerErrors": null}],
                "Volumes": null,
                "StopReport": null,
                "RmReport": null,
                "VolumeRmReport": null,
                "SecretRmReport": null,
                "Secrets": null,
                "ServiceContainerID": "",
                "ExitCode": null,
            })
        );
        let down = DownReport {
            stop_report: Some(vec![PodStopReport {
                errs: vec![],
                id: "p".into(),
            }]),
            rm_report: Some(vec![PodRmReport {
                removed_ctrs: [("c".to_string(), None)].into(),
                err: None,
                id: "p".into(),
            }]),
            secret_rm_report: Some(vec![SecretRmReport {
                id: "s".into(),
                err: None,
            }]),
            ..Default::default()
        };
        let v = serde_json::to_value(down).unwrap();
        assert_eq!(
            v["StopReport"],
            serde_json::json!([{"Errs": null, "Id": "p"}])
        );
        assert_eq!(
            v["RmReport"],
            serde_json::json!([{"RemovedCtrs": {"c": null}, "Err": null, "Id": "p"}])
        );
        assert_eq!(
            v["SecretRmReport"],
            serde_json::json!([{"ID": "s", "Err": null}])
        );
        assert_eq!(v["VolumeRmReport"], serde_json::Value::Null);
        let s = PlaySecret {
            create_report: SecretCreateReport { id: "x".into() },
        };
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::json!({"CreateReport": {"ID": "x"}})
        );
    }

    #[test]
    fn host_paths_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        let hp = PlannedHostPath {
            volume: "v".into(),
            path: d.display().to_string(),
            check: HostPathCheck::DirectoryOrCreate,
        };
        prepare_host_path(&hp).unwrap();
        assert!(d.is_dir());
        let f = dir.path().join("f");
        let hp = PlannedHostPath {
            volume: "v".into(),
            path: f.display().to_string(),
            check: HostPathCheck::FileOrCreate,
        };
        prepare_host_path(&hp).unwrap();
        assert!(f.is_file());
        let missing = PlannedHostPath {
            volume: "v".into(),
            path: dir.path().join("nope").display().to_string(),
            check: HostPathCheck::Exists,
        };
        assert!(prepare_host_path(&missing).is_err());
        let sock = PlannedHostPath {
            check: HostPathCheck::Socket,
            ..hp
        };
        assert!(prepare_host_path(&sock).is_err());

        let vf = PlannedVolumeFiles {
            volume: "cm".into(),
            files: [
                ("a.conf".to_string(), b"x".to_vec()),
                ("sub/b".to_string(), b"y".to_vec()),
            ]
            .into(),
            mode: 0o600,
        };
        write_files(dir.path(), &vf).unwrap();
        assert_eq!(std::fs::read(dir.path().join("sub/b")).unwrap(), b"y");
        let mode = std::fs::metadata(dir.path().join("a.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let bad = PlannedVolumeFiles {
            volume: "cm".into(),
            files: [("../x".to_string(), b"x".to_vec())].into(),
            mode: 0o600,
        };
        assert!(write_files(dir.path(), &bad).is_err());
    }
}
