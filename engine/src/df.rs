//! Disk usage (`system df`) and `system prune`: what images, containers and volumes hold,
//! measured on disk, and removal of what nothing uses — stopped containers, pods without
//! running members, dangling (or, with `all`, unused) images, unused networks and, when
//! asked, unused volumes, with `label`/`label!`/`until` filters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::containers::lifecycle::{ContainerRecord, RemoveOptions};
use crate::error::{Error, Result};
use crate::images::{ImageEngine, ImageRecord};
use crate::pods::PodEngine;
use crate::runtime::Runtime;
use crate::volumes::{tree_size, VolumeEngine, VolumeInfo};

/// One container's disk usage.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub record: ContainerRecord,
    /// Bytes in its writable layer.
    pub rw_size: u64,
    /// Its image's size plus `rw_size`.
    pub root_fs_size: u64,
}

/// One volume's disk usage.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub info: VolumeInfo,
    pub size: u64,
}

/// Everything `system df` reports.
#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Vec<(ImageRecord, usize)>,
    /// Bytes of all distinct layers.
    pub layers_size: u64,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

/// What `system prune` is asked.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Unused images too, not only dangling ones.
    pub all: bool,
    pub volumes: bool,
    pub filters: BTreeMap<String, Vec<String>>,
}

/// One removed object (`Id`, bytes freed).
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    pub id: String,
    pub size: u64,
}

/// What `system prune` removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub pods: Vec<Pruned>,
    pub containers: Vec<Pruned>,
    pub images: Vec<Pruned>,
    pub networks: Vec<String>,
    pub volumes: Vec<Pruned>,
}

impl PruneReport {
    pub fn reclaimed(&self) -> u64 {
        self.containers
            .iter()
            .chain(&self.images)
            .chain(&self.volumes)
            .map(|p| p.size)
            .sum()
    }
}

fn label_match(labels: &BTreeMap<String, String>, f: &str) -> bool {
    match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f),
    }
}

/// The prune filters: `label` (all must match), `label!` (none may), `until` (created
/// before).
struct Filter {
    label: Vec<String>,
    not_label: Vec<String>,
    until: Option<DateTime<Utc>>,
}

impl Filter {
    fn new(f: &BTreeMap<String, Vec<String>>) -> Result<Filter> {
        for k in f.keys() {
            if !matches!(k.as_str(), "label" | "label!" | "until") {
                return Err(Error::InvalidArg(format!("{k:?} is an invalid filter")));
            }
        }
        let until = match f.get("until").and_then(|v| v.first()) {
            None => None,
            Some(u) => Some(parse_until(u)?),
        };
        Ok(Filter {
            label: f.get("label").cloned().unwrap_or_default(),
            not_label: f.get("label!").cloned().unwrap_or_default(),
            until,
        })
    }

    fn passes(&self, labels: &BTreeMap<String, String>, created: DateTime<Utc>) -> bool {
        self.label.iter().all(|l| label_match(labels, l))
            && !self.not_label.iter().any(|l| label_match(labels, l))
            && self.until.is_none_or(|u| created < u)
    }
}

/// `until` as unix seconds, RFC 3339, or a Go duration ago (`10m`, `1h30m`).
fn parse_until(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(secs) = s.parse::<f64>() {
        return DateTime::from_timestamp(secs as i64, 0)
            .ok_or_else(|| Error::InvalidArg(format!("invalid until value {s:?}")));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(Error::InvalidArg(format!("invalid until value {s:?}"))),
        };
        let n: f64 = num
            .parse()
            .map_err(|_| Error::InvalidArg(format!("invalid until value {s:?}")))?;
        total += n * unit;
        num.clear();
    }
    if !num.is_empty() {
        return Err(Error::InvalidArg(format!("invalid until value {s:?}")));
    }
    Ok(Utc::now() - chrono::Duration::milliseconds((total * 1000.0) as i64))
}

impl Runtime {
    /// Disk usage of images, containers and volumes.
    pub async fn disk_usage(&self) -> Result<DiskUsage> {
        let images = self.list_images().await?;
        let containers = self.container_records().await?;
        let mut layer_sizes: BTreeMap<String, u64> = BTreeMap::new();
        for i in &images {
            for l in &i.layers {
                layer_sizes.insert(l.chain_id.clone(), l.size);
            }
        }
        let mut out = DiskUsage {
            layers_size: layer_sizes.values().sum(),
            ..Default::default()
        };
        for i in images {
            let n = containers.iter().filter(|c| c.image_id == i.id).count();
            out.images.push((i, n));
        }
        for c in containers {
            let upper = self.ctr_paths(&c.id).storage.join("diff");
            let rw = tokio::task::spawn_blocking(move || tree_size(&upper))
                .await
                .unwrap_or(0);
            let image_size = out
                .images
                .iter()
                .find(|(i, _)| i.id == c.image_id)
                .map(|(i, _)| i.size)
                .unwrap_or(0);
            out.containers.push(ContainerUsage {
                record: c,
                rw_size: rw,
                root_fs_size: rw + image_size,
            });
        }
        for v in VolumeEngine::list(self).await? {
            let size = VolumeEngine::size(self, &v.record.name).await.unwrap_or(0);
            out.volumes.push(VolumeUsage { info: v, size });
        }
        Ok(out)
    }

    /// `system prune` (see [`PruneOptions`]).
    pub async fn system_prune(&self, opts: PruneOptions) -> Result<PruneReport> {
        let f = Filter::new(&opts.filters)?;
        let mut report = PruneReport::default();
        // Pods whose containers are all stopped (Podman prunes them first).
        for p in PodEngine::list(self).await? {
            if p.containers.iter().any(|c| c.is_running())
                || !f.passes(&p.record.labels, p.record.created)
            {
                continue;
            }
            if self.remove_pod(&p.record.id, false, None).await.is_ok() {
                report.pods.push(Pruned {
                    id: p.record.id,
                    size: 0,
                });
            }
        }
        // Stopped containers.
        for c in self.container_records().await? {
            if c.is_running()
                || c.status == crate::containers::ContainerStatus::Created
                || !f.passes(&c.labels, c.created)
            {
                continue;
            }
            let upper = self.ctr_paths(&c.id).storage.join("diff");
            let size = tokio::task::spawn_blocking(move || tree_size(&upper))
                .await
                .unwrap_or(0);
            let opts = RemoveOptions {
                volumes: false,
                ..Default::default()
            };
            if self.remove_container(&c.id, opts).await.is_ok() {
                report.containers.push(Pruned { id: c.id, size });
            }
        }
        // Images: dangling ones, or with `all` every one no container uses; removing one
        // can leave its parent dangling, so repeat until nothing changes.
        loop {
            let used: Vec<String> = self
                .container_records()
                .await?
                .into_iter()
                .map(|c| c.image_id)
                .collect();
            let mut changed = false;
            for img in self.list_images().await? {
                if (!opts.all && !img.dangling())
                    || used.contains(&img.id)
                    || !f.passes(&img.labels(), img.created)
                {
                    continue;
                }
                if let Ok(r) = self.remove_image(&img.id, false).await {
                    if !r.deleted.is_empty() {
                        report.images.push(Pruned {
                            id: img.id.clone(),
                            size: img.size,
                        });
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        // Networks no container uses (never the default one).
        let default = self.default_network_name();
        for n in self.network_list().await? {
            let created = DateTime::parse_from_rfc3339(&n.created)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now());
            if n.name == default || !f.passes(&n.labels, created) {
                continue;
            }
            if self.network_containers(&n).await?.is_empty()
                && self.network_remove(&n.name, false).await.is_ok()
            {
                report.networks.push(n.name);
            }
        }
        if opts.volumes {
            let mut names = Vec::new();
            for v in VolumeEngine::list(self).await? {
                if v.users.is_empty() && f.passes(&v.record.labels, v.record.created_at) {
                    names.push(v.record.name);
                }
            }
            for (id, size) in VolumeEngine::prune(self, names).await? {
                report.volumes.push(Pruned { id, size });
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_label_and_until() {
        let mut m = BTreeMap::new();
        m.insert("label".to_string(), vec!["a=1".to_string()]);
        let f = Filter::new(&m).unwrap();
        let mut labels = BTreeMap::new();
        assert!(!f.passes(&labels, Utc::now()));
        labels.insert("a".into(), "1".into());
        assert!(f.passes(&labels, Utc::now()));
        m.insert("until".to_string(), vec!["1h".to_string()]);
        let f = Filter::new(&m).unwrap();
        assert!(!f.passes(&labels, Utc::now()));
        assert!(f.passes(&labels, Utc::now() - chrono::Duration::hours(2)));
        m.insert("bogus".to_string(), vec![]);
        assert!(Filter::new(&m).is_err());
    }
}
