//! The pod lifecycle: create (record + infra container), the verbs over all members
//! (infra first on the way up, last on the way down), removal with the members, prune,
//! and the pod events. A member joins the infra container's shared namespaces when it is
//! created (`containers::lifecycle` asks [`Runtime::pod_for_member`]); starting a member
//! starts the infra container first.

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{params, OptionalExtension};

use super::{pod_state, PodCreate, PodEngine, PodInfo, PodRecord, PodReport, DEFAULT_SHARE};
use crate::containers::config::{ContainerConfig, NetMode};
use crate::containers::lifecycle::{ContainerCreate, ContainerRecord, RemoveOptions};
use crate::containers::ContainerStatus;
use crate::error::{Error, Result};
use crate::ids::{resolve, Table};
use crate::runtime::Runtime;

const NAMESPACES: &[&str] = &["net", "ipc", "uts", "pid", "cgroup"];

fn check_name(n: &str) -> Result<()> {
    let mut c = n.chars();
    let ok = c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArg(format!(
            "pod name {n:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        )))
    }
}

impl Runtime {
    fn emit_pod(&self, status: &str, pod: &PodRecord) {
        let mut e = crate::events::Event::new(crate::events::EventType::Pod, status);
        e.id = pod.id.clone();
        e.name = pod.name.clone();
        self.event_bus().emit(e);
    }

    /// A pod record by full ID, name or unique ID prefix.
    pub async fn pod_record(&self, name_or_id: &str) -> Result<PodRecord> {
        let key = name_or_id.to_string();
        let json: Option<String> = self
            .db()
            .read(move |c| {
                let Some(id) = resolve(c, Table::Pods, &key)? else {
                    return Ok(None);
                };
                Ok(
                    c.query_row("SELECT config FROM pods WHERE id = ?1", [id], |r| r.get(0))
                        .optional()?,
                )
            })
            .await?;
        let json = json.ok_or_else(|| Error::NoSuchPod(name_or_id.to_string()))?;
        serde_json::from_str(&json).map_err(|e| Error::Internal(format!("corrupt pod record: {e}")))
    }

    async fn save_pod(&self, pod: &PodRecord) -> Result<()> {
        let json = serde_json::to_string(pod).map_err(|e| Error::Internal(e.to_string()))?;
        let id = pod.id.clone();
        self.db()
            .write(move |tx| {
                tx.execute("UPDATE pods SET config = ?1 WHERE id = ?2", [&json, &id])?;
                Ok(())
            })
            .await
    }

    /// The pod's containers, infra first, then members by creation.
    pub async fn pod_containers(&self, pod: &PodRecord) -> Result<Vec<ContainerRecord>> {
        let mut all = self
            .container_records_query("pod_id = ?1", vec![pod.id.clone()])
            .await?;
        all.sort_by_key(|c| (Some(&c.id) != pod.infra_id.as_ref(), c.created));
        Ok(all)
    }

    async fn pod_info(&self, record: PodRecord) -> Result<PodInfo> {
        let containers = self.pod_containers(&record).await?;
        let statuses: Vec<ContainerStatus> = containers.iter().map(|c| c.status).collect();
        Ok(PodInfo {
            state: pod_state(&statuses).to_string(),
            record,
            containers,
        })
    }

    /// Creates a pod: its record, then its infra container.
    pub async fn create_pod(&self, req: PodCreate) -> Result<PodInfo> {
        let id = crate::ids::new_id();
        let name = match req.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => {
                check_name(n)?;
                n.to_string()
            }
            None => crate::containers::lifecycle::generated_name() + "_" + &id[..4],
        };
        let mut share: Vec<String> = match &req.share {
            None => DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
            Some(list) => {
                let mut out = Vec::new();
                for s in list.iter().flat_map(|s| s.split(',')).map(str::trim) {
                    match s {
                        "" | "none" => {}
                        // `cgroupns` is Podman's spelling on the command line.
                        "cgroupns" => out.push("cgroup".to_string()),
                        k if NAMESPACES.contains(&k) => out.push(k.to_string()),
                        other => {
                            return Err(Error::InvalidArg(format!(
                                "invalid kernel namespace to share: {other}: invalid argument"
                            )))
                        }
                    }
                }
                out
            }
        };
        if req.no_infra {
            if req.share.as_ref().is_some_and(|s| !s.is_empty()) && !share.is_empty() {
                return Err(Error::InvalidArg(
                    "you cannot share kernel namespaces on the pod level without an infra container: invalid argument"
                        .into(),
                ));
            }
            share.clear();
        }
        share.sort();
        share.dedup();
        let mut record = PodRecord {
            id: id.clone(),
            name: name.clone(),
            created: Utc::now(),
            labels: req.labels.clone(),
            hostname: req.hostname.clone(),
            infra_id: None,
            share,
            cgroup_parent: req.cgroup_parent.clone(),
            exit_policy: if req.exit_policy.is_empty() {
                "continue".into()
            } else {
                req.exit_policy.clone()
            },
            infra_config: req.infra_config.clone(),
            create_command: req.create_command.clone(),
        };
        if !matches!(record.exit_policy.as_str(), "continue" | "stop") {
            return Err(Error::InvalidArg(format!(
                "invalid pod exit policy: {:?}: invalid argument",
                record.exit_policy
            )));
        }
        let json = serde_json::to_string(&record).map_err(|e| Error::Internal(e.to_string()))?;
        let (id2, name2) = (id.clone(), name.clone());
        let created = record.created.timestamp_nanos_opt().unwrap_or(0);
        self.db()
            .write(move |tx| {
                let taken: Option<String> = tx
                    .query_row("SELECT id FROM names WHERE name = ?1", [&name2], |r| r.get(0))
                    .optional()?;
                if taken.is_some() {
                    return Err(Error::PodExists(name2.clone()));
                }
                tx.execute(
                    "INSERT INTO names (name, id, kind) VALUES (?1, ?2, 'pod')",
                    [&name2, &id2],
                )?;
                tx.execute(
                    "INSERT INTO pods (id, name, config, state, created) VALUES (?1, ?2, ?3, '{}', ?4)",
                    params![id2, name2, json, created],
                )?;
                Ok(())
            })
            .await?;
        if !req.no_infra {
            match self.create_infra(&record, &req).await {
                Ok(cid) => {
                    record.infra_id = Some(cid);
                    self.save_pod(&record).await?;
                }
                Err(e) => {
                    let _ = self.drop_pod_rows(&record.id).await;
                    return Err(e);
                }
            }
        }
        self.emit_pod("create", &record);
        self.pod_info(record).await
    }

    async fn create_infra(&self, pod: &PodRecord, req: &PodCreate) -> Result<String> {
        let image = match req.infra_image.as_deref().filter(|i| !i.is_empty()) {
            Some(i) => i.to_string(),
            None => self.ensure_pause_image().await?,
        };
        let mut config: ContainerConfig = req.infra_config.clone();
        config.pod = Some(pod.id.clone());
        config.is_infra = true;
        if let Some(cmd) = req.infra_command.clone().filter(|c| !c.is_empty()) {
            config.entrypoint = Some(cmd);
            config.cmd = Some(Vec::new());
        }
        if pod.share.iter().any(|s| s == "uts") {
            config.hostname = if pod.hostname.is_empty() {
                pod.name.clone()
            } else {
                pod.hostname.clone()
            };
        }
        if !pod.share.iter().any(|s| s == "net") && config.net == NetMode::Default {
            // Members keep their own networks; the infra needs none.
            config.net = NetMode::None;
        }
        config.labels.extend(pod.labels.clone());
        let name = req
            .infra_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{}-infra", &pod.id[..12]));
        let rec = self
            .create_container(ContainerCreate {
                name: Some(name),
                image,
                config,
            })
            .await?;
        Ok(rec.id)
    }

    async fn drop_pod_rows(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.db()
            .write(move |tx| {
                tx.execute("DELETE FROM names WHERE id = ?1", [&id])?;
                tx.execute("DELETE FROM pods WHERE id = ?1", [&id])?;
                Ok(())
            })
            .await
    }

    /// For a container being created with `pod` set: the pod, with the container's config
    /// adjusted to join the infra container's shared namespaces (network, IPC, UTS, PID,
    /// cgroup) and the pod's hostname.
    pub(crate) async fn pod_for_member(
        &self,
        cfg: &mut ContainerConfig,
    ) -> Result<Option<PodRecord>> {
        let Some(p) = cfg.pod.clone().filter(|p| !p.is_empty()) else {
            cfg.pod = None;
            return Ok(None);
        };
        let pod = self.pod_record(&p).await?;
        cfg.pod = Some(pod.id.clone());
        if cfg.is_infra {
            return Ok(Some(pod));
        }
        let Some(infra) = pod.infra_id.clone() else {
            return Ok(Some(pod));
        };
        if pod.shares("net") {
            let own_net = !matches!(cfg.net, NetMode::Default | NetMode::Bridge)
                || !cfg.networks.is_empty()
                || !cfg.ports.is_empty();
            if own_net && !matches!(&cfg.net, NetMode::Container(c) if *c == infra) {
                return Err(Error::InvalidArg(
                    "invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod"
                        .into(),
                ));
            }
            cfg.net = NetMode::Container(infra.clone());
            cfg.networks.clear();
            cfg.dns.clear();
        }
        for kind in ["ipc", "uts", "pid", "cgroup"] {
            if pod.shares(kind) {
                cfg.join_ns.insert(kind.to_string(), infra.clone());
            }
        }
        if pod.shares("uts") {
            cfg.hostname = if pod.hostname.is_empty() {
                pod.name.clone()
            } else {
                pod.hostname.clone()
            };
        }
        Ok(Some(pod))
    }

    /// Starts the infra container of the container's pod when it is not running (a member
    /// cannot join namespaces that do not exist).
    pub(crate) async fn ensure_infra_running(&self, rec: &ContainerRecord) -> Result<()> {
        if rec.config.is_infra {
            return Ok(());
        }
        let Some(pod_id) = rec.pod_id.as_deref() else {
            return Ok(());
        };
        let pod = self.pod_record(pod_id).await?;
        let Some(infra) = pod.infra_id.as_deref() else {
            return Ok(());
        };
        match Box::pin(self.start_container(infra)).await {
            Ok(_) | Err(Error::NotModified(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs `f` over containers, collecting errors as Podman's `Errs`.
    async fn each<'a, F, Fut>(
        &'a self,
        ctrs: &'a [ContainerRecord],
        verb: &str,
        f: F,
    ) -> Vec<String>
    where
        F: Fn(&'a Runtime, &'a ContainerRecord) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let mut errs = Vec::new();
        for c in ctrs {
            match f(self, c).await {
                Ok(()) | Err(Error::NotModified(_)) => {}
                Err(e) => errs.push(format!("{verb} container {}: {e}", c.id)),
            }
        }
        errs
    }

    /// Starts a pod (see [`PodEngine::start`]).
    pub async fn start_pod(&self, name_or_id: &str) -> Result<PodReport> {
        let info = self.pod_info(self.pod_record(name_or_id).await?).await?;
        if info.state == "Running" {
            return Err(Error::NotModified(format!(
                "pod {} is already running",
                info.record.id
            )));
        }
        let errs = self
            .each(&info.containers, "starting", |rt, c| async move {
                rt.start_container(&c.id).await.map(drop)
            })
            .await;
        self.emit_pod("start", &info.record);
        Ok(PodReport {
            id: info.record.id,
            errs,
        })
    }

    /// Stops a pod: members first, the infra container last.
    pub async fn stop_pod(&self, name_or_id: &str, timeout: Option<u32>) -> Result<PodReport> {
        let info = self.pod_info(self.pod_record(name_or_id).await?).await?;
        if info.state != "Running" && info.state != "Degraded" && info.state != "Paused" {
            return Err(Error::NotModified(format!(
                "pod {} is not running",
                info.record.id
            )));
        }
        let mut order = info.containers.clone();
        order.reverse();
        let errs = self
            .each(&order, "stopping", |rt, c| async move {
                if c.is_running() {
                    rt.stop_container(&c.id, timeout).await
                } else {
                    Ok(())
                }
            })
            .await;
        self.emit_pod("stop", &info.record);
        Ok(PodReport {
            id: info.record.id,
            errs,
        })
    }

    /// Removes a pod with its containers; the removed containers' IDs.
    pub async fn remove_pod(
        &self,
        name_or_id: &str,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<Vec<String>> {
        let pod = self.pod_record(name_or_id).await?;
        let ctrs = self.pod_containers(&pod).await?;
        // A pod holding only its infra container goes unconditionally (as in Podman).
        let force = force || (ctrs.len() == 1 && Some(&ctrs[0].id) == pod.infra_id.as_ref());
        if !force {
            if let Some(c) = ctrs.iter().find(|c| c.is_running()) {
                return Err(Error::InvalidState(format!(
                    "not all containers could be removed from pod {}: cannot remove container {} as it is running - running or paused containers cannot be removed without force: removing pod containers",
                    pod.id, c.id
                )));
            }
        }
        let mut removed = Vec::new();
        // Members first; the infra container last (others may share its namespaces).
        let mut order = ctrs;
        order.reverse();
        for c in &order {
            let opts = RemoveOptions {
                force,
                timeout,
                pod_removal: true,
                ..Default::default()
            };
            match self.remove_container(&c.id, opts).await {
                Ok(()) | Err(Error::NoSuchContainer(_)) => removed.push(c.id.clone()),
                Err(e) => {
                    return Err(Error::InvalidState(format!(
                    "not all containers could be removed from pod {}: {e}: removing pod containers",
                    pod.id
                )))
                }
            }
        }
        self.drop_pod_rows(&pod.id).await?;
        self.emit_pod("remove", &pod);
        Ok(removed)
    }
}

#[async_trait]
impl PodEngine for Runtime {
    async fn create(&self, req: PodCreate) -> Result<PodInfo> {
        self.create_pod(req).await
    }

    async fn list(&self) -> Result<Vec<PodInfo>> {
        let rows: Vec<String> = self
            .db()
            .read(|c| {
                let mut stmt = c.prepare("SELECT config FROM pods ORDER BY created DESC")?;
                let v = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(v)
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for j in rows {
            match serde_json::from_str::<PodRecord>(&j) {
                Ok(r) => out.push(self.pod_info(r).await?),
                Err(e) => tracing::warn!(error = %e, "skipping a corrupt pod record"),
            }
        }
        Ok(out)
    }

    async fn inspect(&self, name_or_id: &str) -> Result<PodInfo> {
        let r = self.pod_record(name_or_id).await?;
        self.pod_info(r).await
    }

    async fn lookup(&self, name_or_id: &str) -> Result<PodRecord> {
        self.pod_record(name_or_id).await
    }

    async fn start(&self, name_or_id: &str) -> Result<PodReport> {
        self.start_pod(name_or_id).await
    }

    async fn stop(&self, name_or_id: &str, timeout: Option<u32>) -> Result<PodReport> {
        self.stop_pod(name_or_id, timeout).await
    }

    async fn restart(&self, name_or_id: &str) -> Result<PodReport> {
        let info = self.pod_info(self.pod_record(name_or_id).await?).await?;
        let mut errs = Vec::new();
        let mut down = info.containers.clone();
        down.reverse();
        errs.extend(
            self.each(&down, "stopping", |rt, c| async move {
                if c.is_running() {
                    rt.stop_container(&c.id, None).await
                } else {
                    Ok(())
                }
            })
            .await,
        );
        errs.extend(
            self.each(&info.containers, "starting", |rt, c| async move {
                rt.start_container(&c.id).await.map(drop)
            })
            .await,
        );
        self.emit_pod("restart", &info.record);
        Ok(PodReport {
            id: info.record.id,
            errs,
        })
    }

    async fn kill(&self, name_or_id: &str, signal: i32) -> Result<PodReport> {
        let info = self.pod_info(self.pod_record(name_or_id).await?).await?;
        if !info.containers.iter().any(|c| c.is_running()) {
            return Err(Error::InvalidState(format!(
                "pod {} has no running containers: container state improper",
                info.record.id
            )));
        }
        let mut order = info.containers.clone();
        order.reverse();
        let errs = self
            .each(&order, "killing", |rt, c| async move {
                if c.is_running() {
                    rt.kill_container(&c.id, signal).await.map(drop)
                } else {
                    Ok(())
                }
            })
            .await;
        self.emit_pod("kill", &info.record);
        Ok(PodReport {
            id: info.record.id,
            errs,
        })
    }

    async fn pause(&self, name_or_id: &str, pause: bool) -> Result<PodReport> {
        let info = self.pod_info(self.pod_record(name_or_id).await?).await?;
        let errs = self
            .each(
                &info.containers,
                if pause { "pausing" } else { "unpausing" },
                |rt, c| async move {
                    match (pause, c.status) {
                        (true, ContainerStatus::Running) => rt.pause_container(&c.id).await,
                        (false, ContainerStatus::Paused) => rt.unpause_container(&c.id).await,
                        _ => Ok(()),
                    }
                },
            )
            .await;
        self.emit_pod(if pause { "pause" } else { "unpause" }, &info.record);
        Ok(PodReport {
            id: info.record.id,
            errs,
        })
    }

    async fn remove(
        &self,
        name_or_id: &str,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<Vec<String>> {
        self.remove_pod(name_or_id, force, timeout).await
    }

    async fn play_kube(
        &self,
        yaml: &str,
        opts: crate::kube::PlayOptions,
        start: bool,
        replace: bool,
    ) -> Result<crate::kube::run::PlayReport> {
        self.play_kube_yaml(yaml, &opts, start, replace).await
    }

    async fn kube_down(&self, yaml: &str, force: bool) -> Result<crate::kube::run::PlayReport> {
        Runtime::kube_down(self, yaml, force).await
    }

    async fn generate_kube(
        &self,
        names: &[String],
        opts: crate::kube::GenerateOptions,
    ) -> Result<String> {
        Runtime::generate_kube(self, names, &opts).await
    }

    async fn kube_apply(&self, yaml: &str, opts: crate::kube::apply::ApplyOptions) -> Result<()> {
        crate::kube::apply::apply(yaml, &opts).await
    }

    async fn prune(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for p in PodEngine::list(self).await? {
            if p.containers.iter().any(|c| c.is_running()) {
                continue;
            }
            if self.remove_pod(&p.record.id, false, None).await.is_ok() {
                out.push(p.record.id);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_as_podman_derives_them() {
        use ContainerStatus as S;
        assert_eq!(pod_state(&[]), "Created");
        assert_eq!(pod_state(&[S::Running, S::Running]), "Running");
        assert_eq!(pod_state(&[S::Running, S::Exited]), "Degraded");
        assert_eq!(pod_state(&[S::Exited, S::Exited]), "Exited");
        assert_eq!(pod_state(&[S::Paused]), "Paused");
        assert_eq!(pod_state(&[S::Configured, S::Created]), "Created");
        assert_eq!(pod_state(&[S::Exited, S::Created]), "Stopped");
    }

    #[test]
    fn pod_names() {
        assert!(check_name("foo").is_ok());
        assert!(check_name("a.b-c_d").is_ok());
        assert!(check_name("-x").is_err());
        assert!(check_name("").is_err());
    }
}
