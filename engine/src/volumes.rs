//! Volumes: the trait the API crates call and the local driver the container lifecycle
//! uses (named and anonymous volumes as directories `<root>/volumes/<name>/_data`, records in
//! the state database's `volumes` table, users in `container_volumes`). The volumes issue
//! completes the API side.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::containers::lifecycle::ContainerRecord;
use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// Operations on volumes.
#[async_trait]
pub trait VolumeEngine: Send + Sync {
    /// Whether an object with this name or ID exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;
}

/// A volume (on-disk record, version 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    #[serde(default = "local")]
    pub driver: String,
    pub mountpoint: PathBuf,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
}

fn local() -> String {
    "local".into()
}

impl Runtime {
    /// Where volumes live.
    pub fn volumes_dir(&self) -> PathBuf {
        self.options().root.join("volumes")
    }

    /// Creates a volume record and its directory (`anonymous` for `-v /path` and image
    /// `VOLUME`s). Fails with `Exists` when the name is taken.
    pub async fn create_volume_record(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeRecord> {
        let dir = self.volumes_dir().join(name);
        let rec = VolumeRecord {
            name: name.to_string(),
            driver: local(),
            mountpoint: dir.join("_data"),
            created_at: Utc::now(),
            labels,
            options: BTreeMap::new(),
            anonymous,
        };
        let data = rec.mountpoint.clone();
        tokio::fs::create_dir_all(&data)
            .await
            .map_err(|e| Error::io(format!("creating {}", data.display()), e))?;
        let json = serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?;
        let n = name.to_string();
        let created = rec.created_at.timestamp();
        self.db()
            .write(move |tx| {
                let there: Option<String> = tx
                    .query_row("SELECT name FROM volumes WHERE name = ?1", [&n], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if there.is_some() {
                    return Err(Error::Exists(format!("volume with name {n}")));
                }
                tx.execute(
                    "INSERT INTO volumes (name, data, created) VALUES (?1, ?2, ?3)",
                    rusqlite::params![n, json, created],
                )?;
                Ok(())
            })
            .await?;
        Ok(rec)
    }

    /// The `_data` dir of volume `name` for container `ctr`, creating the volume when it
    /// does not exist (`docker run -v name:/x` does), and recording the use.
    pub async fn volume_path_for(&self, ctr: &str, name: &str) -> Result<PathBuf> {
        let n = name.to_string();
        let json: Option<String> = self
            .db()
            .read(move |c| {
                Ok(
                    c.query_row("SELECT data FROM volumes WHERE name = ?1", [&n], |r| {
                        r.get(0)
                    })
                    .optional()?,
                )
            })
            .await?;
        let rec: VolumeRecord = match json {
            Some(j) => serde_json::from_str(&j)
                .map_err(|e| Error::Internal(format!("corrupt volume record: {e}")))?,
            None => match self
                .create_volume_record(name, BTreeMap::new(), false)
                .await
            {
                Ok(r) => r,
                Err(Error::Exists(_)) => return Box::pin(self.volume_path_for(ctr, name)).await,
                Err(e) => return Err(e),
            },
        };
        let (c, n) = (ctr.to_string(), name.to_string());
        self.db()
            .write(move |tx| {
                tx.execute(
                    "INSERT OR IGNORE INTO container_volumes (container_id, volume) VALUES (?1, ?2)",
                    [&c, &n],
                )?;
                Ok(())
            })
            .await?;
        Ok(rec.mountpoint)
    }

    /// Drops the container's volume uses; with `remove_anonymous` also deletes its anonymous
    /// volumes that nothing else uses.
    pub async fn release_volumes(
        &self,
        rec: &ContainerRecord,
        remove_anonymous: bool,
    ) -> Result<()> {
        let id = rec.id.clone();
        let anon: Vec<String> = rec
            .config
            .mounts
            .iter()
            .filter(|m| m.kind == "volume" && m.options.iter().any(|o| o == "anonymous"))
            .map(|m| m.source.clone())
            .collect();
        let removed: Vec<String> = self
            .db()
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM container_volumes WHERE container_id = ?1",
                    [&id],
                )?;
                let mut gone = Vec::new();
                if remove_anonymous {
                    for v in anon {
                        let users: i64 = tx.query_row(
                            "SELECT COUNT(*) FROM container_volumes WHERE volume = ?1",
                            [&v],
                            |r| r.get(0),
                        )?;
                        if users == 0
                            && tx.execute("DELETE FROM volumes WHERE name = ?1", [&v])? > 0
                        {
                            gone.push(v);
                        }
                    }
                }
                Ok(gone)
            })
            .await?;
        for v in removed {
            let dir = self.volumes_dir().join(&v);
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
        Ok(())
    }
}
