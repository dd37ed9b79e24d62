//! Volumes: the local driver (`<root>/volumes/<name>/_data`, records in the state database's
//! `volumes` table, users in `container_volumes`) and the trait the API crates call.
//!
//! A volume with `type`/`device` options is mounted (with the `mount` program, so helpers
//! such as NFS work) when the first container using it starts and unmounted when the last
//! one stops; the count is derived from the users' states, so a daemon crash cannot leave it
//! wrong. A new volume gets the image's content at its mount point copied in, and the
//! owner/mode of that directory, the first time a container mounts it (Docker's semantics;
//! `nocopy` opts out). Removal refuses a volume in use unless forced, which removes the
//! containers using it; a still-mounted `_data` is never deleted recursively.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::containers::lifecycle::{ContainerRecord, RemoveOptions};
use crate::containers::rootfs;
use crate::containers::ContainerStatus;
use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// Operations on volumes.
#[async_trait]
pub trait VolumeEngine: Send + Sync {
    /// Whether a volume with this name exists.
    async fn exists(&self, name: &str) -> Result<bool>;
    /// Creates a volume.
    async fn create(&self, req: VolumeCreate) -> Result<VolumeInfo>;
    /// Every volume, oldest first.
    async fn list(&self) -> Result<Vec<VolumeInfo>>;
    /// One volume by its exact name.
    async fn inspect(&self, name: &str) -> Result<VolumeInfo>;
    /// Removes a volume (by name or unique name prefix); `force` removes the containers
    /// using it first (stopping them within `timeout`).
    async fn remove(&self, name: &str, force: bool, timeout: Option<u32>) -> Result<()>;
    /// Removes those of `names` no container uses; returns the removed ones with the bytes
    /// they held.
    async fn prune(&self, names: Vec<String>) -> Result<Vec<(String, u64)>>;
    /// Bytes stored in a volume.
    async fn size(&self, name: &str) -> Result<u64>;
}

/// A create request (both API trees).
#[derive(Debug, Clone, Default)]
pub struct VolumeCreate {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// Answer with the existing volume instead of failing (libpod `IgnoreIfExists`).
    pub ignore_if_exists: bool,
    pub anonymous: bool,
}

/// A volume with what is derived from its users.
#[derive(Debug, Clone)]
pub struct VolumeInfo {
    pub record: VolumeRecord,
    /// IDs of the containers using it.
    pub users: Vec<String>,
    /// Active mounts (volumes with mount options: the users that are running).
    pub mount_count: u32,
}

/// A volume (on-disk record, version 1; later fields default for older records).
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
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    /// Not mounted by a container yet: the image's content is copied in on first use.
    #[serde(default)]
    pub needs_copy_up: bool,
}

fn local() -> String {
    "local".into()
}

impl VolumeRecord {
    /// Whether the volume is a filesystem mounted on use (`type`/`device` options).
    pub fn needs_mount(&self) -> bool {
        self.driver == "local"
            && self
                .options
                .keys()
                .any(|k| matches!(k.to_ascii_lowercase().as_str(), "type" | "device"))
    }

    fn data_dir(&self) -> &Path {
        &self.mountpoint
    }
}

/// Volume names as Podman allows them.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArg(format!(
            "volume name {name:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        )))
    }
}

/// Options as the local driver takes them: `o` is split so `uid=`/`gid=`/`size=`/`inodes=`
/// also show as `UID`/`GID`/`SIZE`/`INODES` (Podman's inspect does), unknown keys refused.
/// Options as stored, with the owner they ask for (`uid`, `gid`).
type LocalOptions = (BTreeMap<String, String>, Option<u32>, Option<u32>);

fn local_options(given: &BTreeMap<String, String>) -> Result<LocalOptions> {
    let mut opts = BTreeMap::new();
    let (mut uid, mut gid) = (None, None);
    let num = |what: &str, v: &str| -> Result<u32> {
        v.parse().map_err(|_| {
            Error::InvalidArg(format!(
                "cannot convert {what} {v} to integer: invalid argument"
            ))
        })
    };
    for (k, v) in given {
        if k != "o" {
            match k.to_ascii_lowercase().as_str() {
                "device" | "type" | "size" | "inodes" | "noquota" | "copy" | "nocopy" => {}
                "uid" => uid = Some(num("UID", v)?),
                "gid" => gid = Some(num("GID", v)?),
                _ => {
                    return Err(Error::InvalidArg(format!(
                        "invalid mount option {k} for driver 'local': invalid argument"
                    )))
                }
            }
            opts.insert(k.clone(), v.clone());
            continue;
        }
        let mut kept = Vec::new();
        for o in v.split(',').filter(|o| !o.is_empty()) {
            let (key, val) = match o.split_once('=') {
                Some((a, b)) => (a.to_ascii_lowercase(), Some(b)),
                None => (o.to_ascii_lowercase(), None),
            };
            match (key.as_str(), val) {
                ("uid", Some(x)) => {
                    uid = Some(num("UID", x)?);
                    opts.insert("UID".into(), x.to_string());
                }
                ("gid", Some(x)) => {
                    gid = Some(num("GID", x)?);
                    opts.insert("GID".into(), x.to_string());
                }
                ("uid" | "gid", None) => {
                    return Err(Error::InvalidArg(format!(
                        "{key} option must provide a {}: invalid argument",
                        key.to_ascii_uppercase()
                    )))
                }
                ("size", Some(x)) => {
                    opts.insert("SIZE".into(), x.to_string());
                }
                ("inodes", Some(x)) => {
                    num("inodes", x)?;
                    opts.insert("INODES".into(), x.to_string());
                }
                ("noquota", _) => {
                    opts.insert("NOQUOTA".into(), "true".into());
                    continue;
                }
                ("timeout", _) => continue,
                _ => {}
            }
            kept.push(o.to_string());
        }
        if !kept.is_empty() {
            opts.insert("o".into(), kept.join(","));
        }
    }
    let lower = |k: &str| {
        opts.iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let kind = lower("type").unwrap_or_default();
    if kind == "bind" {
        if let Some(dev) = lower("device") {
            std::fs::metadata(&dev).map_err(|e| {
                Error::InvalidArg(format!(
                    "invalid volume option device for driver 'local': stat {dev}: {e}"
                ))
            })?;
        }
    }
    let quota = opts.contains_key("SIZE") || opts.contains_key("INODES");
    if quota && kind != "tmpfs" && !opts.contains_key("NOQUOTA") {
        return Err(Error::InvalidArg(
            "volume options size and inodes not supported. Filesystem does not support Project Quota"
                .into(),
        ));
    }
    if kind == "tmpfs" && opts.contains_key("INODES") {
        return Err(Error::InvalidArg(
            "volume option inodes not supported on tmpfs filesystem".into(),
        ));
    }
    Ok((opts, uid, gid))
}

/// Bytes in a tree (regular files' lengths, symlinks not followed).
pub fn tree_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}

/// Deletes a volume's directory; a `_data` still mounted is detached first and left alone
/// if that fails (never recurse into a mounted filesystem).
fn remove_volume_dir(dir: &Path) {
    let data = dir.join("_data");
    if rootfs::is_mounted(&data) {
        let _ = rootfs::unmount(&data);
        if rootfs::is_mounted(&data) {
            tracing::warn!(path = %data.display(), "volume still mounted; its directory is kept");
            return;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// What a volume's first mount does inside a container's rootfs.
#[derive(Debug, Clone)]
pub struct FirstUse {
    pub volume: String,
    pub data: PathBuf,
    /// The mount's destination in the container.
    pub destination: String,
    /// Copy the image's content (not `nocopy`).
    pub copy: bool,
}

impl FirstUse {
    /// Copies the image's content at the destination (inside `rootfs`, symlinks not
    /// followed out of it) into the still-empty volume and gives the volume that
    /// directory's owner and mode; without such a directory the volume goes to the
    /// container's user (`uid`, `gid`) as Podman does.
    pub fn apply(&self, rootfs: &Path, uid: u32, gid: u32) -> Result<()> {
        let empty = std::fs::read_dir(&self.data)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Ok(());
        }
        // Walk the destination component by component: a symlink anywhere means the
        // runtime resolves it inside the container; copying is skipped rather than risk
        // following it on the host.
        let mut src = rootfs.to_path_buf();
        let mut plain = true;
        for c in Path::new(&self.destination).components() {
            if let std::path::Component::Normal(n) = c {
                src.push(n);
                match std::fs::symlink_metadata(&src) {
                    Ok(m) if m.file_type().is_symlink() => {
                        plain = false;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        plain = false;
                        break;
                    }
                }
            }
        }
        let io = |what: &str, e: std::io::Error| Error::io(what.to_string(), e);
        match std::fs::symlink_metadata(&src) {
            Ok(m) if plain && m.is_dir() => {
                std::os::unix::fs::lchown(&self.data, Some(m.uid()), Some(m.gid()))
                    .map_err(|e| io("chowning a volume", e))?;
                std::fs::set_permissions(
                    &self.data,
                    std::fs::Permissions::from_mode(m.mode() & 0o7777),
                )
                .map_err(|e| io("chmoding a volume", e))?;
                if self.copy {
                    copy_tree(&src, &self.data)?;
                }
            }
            _ if uid != 0 || gid != 0 => {
                std::os::unix::fs::lchown(&self.data, Some(uid), Some(gid))
                    .map_err(|e| io("chowning a volume", e))?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Copies a directory's entries (files, directories, symlinks as links; owners, modes and
/// modification times kept; other file types skipped).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let io = |p: &Path, e: std::io::Error| Error::io(format!("copying {}", p.display()), e);
    for e in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let e = e.map_err(|e| io(from, e))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let m = std::fs::symlink_metadata(&src).map_err(|e| io(&src, e))?;
        let ft = m.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(&src).map_err(|e| io(&src, e))?;
            std::os::unix::fs::symlink(&target, &dst).map_err(|e| io(&dst, e))?;
        } else if ft.is_dir() {
            std::fs::create_dir(&dst).map_err(|e| io(&dst, e))?;
            copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| io(&dst, e))?;
        } else {
            continue;
        }
        let _ = std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()));
        if !ft.is_symlink() {
            let _ =
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(m.mode() & 0o7777));
            if let (Ok(f), Ok(t)) = (std::fs::File::open(&dst), m.modified()) {
                let _ = f.set_modified(t);
            }
        }
    }
    Ok(())
}

impl Runtime {
    /// Where volumes live.
    pub fn volumes_dir(&self) -> PathBuf {
        self.options().root.join("volumes")
    }

    async fn volume_record(&self, name: &str) -> Result<Option<VolumeRecord>> {
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
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| Error::Internal(format!("corrupt volume record: {e}")))
        })
        .transpose()
    }

    async fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        let n = name.to_string();
        self.db()
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT container_id FROM container_volumes WHERE volume = ?1 ORDER BY container_id",
                )?;
                let rows = st.query_map([&n], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
            })
            .await
    }

    /// Users of the volume whose processes exist (created, running, paused, stopping).
    async fn active_users(&self, name: &str, except: &str) -> Result<u32> {
        let mut n = 0;
        for id in self.volume_users(name).await? {
            if id == except {
                continue;
            }
            if let Ok(c) = self.container_record(&id).await {
                if c.is_running() || c.status == ContainerStatus::Created {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    async fn volume_info(&self, record: VolumeRecord) -> Result<VolumeInfo> {
        let users = self.volume_users(&record.name).await?;
        let mount_count = if record.needs_mount() && rootfs::is_mounted(record.data_dir()) {
            self.active_users(&record.name, "").await?.max(1)
        } else {
            0
        };
        Ok(VolumeInfo {
            record,
            users,
            mount_count,
        })
    }

    /// Creates a volume: its directories (owned by the `uid`/`gid` options) and record.
    pub async fn create_volume(&self, req: VolumeCreate) -> Result<VolumeRecord> {
        let name = match req.name.filter(|n| !n.is_empty()) {
            Some(n) => {
                check_name(&n)?;
                n
            }
            None => crate::ids::new_id(),
        };
        let driver = req.driver.filter(|d| !d.is_empty()).unwrap_or_else(local);
        if driver != "local" {
            return Err(Error::NotFound(format!(
                "volume {name} uses volume plugin {driver} but it could not be retrieved: no volume plugin with name {driver} available: required plugin missing"
            )));
        }
        if let Some(existing) = self.volume_record(&name).await? {
            if req.ignore_if_exists {
                return Ok(existing);
            }
            return Err(Error::VolumeExists(name));
        }
        let (options, uid, gid) = local_options(&req.options)?;
        let dir = self.volumes_dir().join(&name);
        let rec = VolumeRecord {
            name: name.clone(),
            driver,
            mountpoint: dir.join("_data"),
            created_at: Utc::now(),
            labels: req.labels,
            needs_copy_up: !options.keys().any(|k| k.eq_ignore_ascii_case("nocopy")),
            options,
            anonymous: req.anonymous,
            uid,
            gid,
        };
        let data = rec.mountpoint.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(dir.parent().unwrap_or(&dir))?;
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            match std::fs::create_dir(&data) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::chown(&dir, uid, gid)?;
                std::os::unix::fs::chown(&data, uid, gid)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::io(format!("creating volume {name}"), e))?;
        let json = serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?;
        let n = name.clone();
        let created = rec.created_at.timestamp();
        let inserted = self
            .db()
            .write(move |tx| {
                let there: Option<String> = tx
                    .query_row("SELECT name FROM volumes WHERE name = ?1", [&n], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if there.is_some() {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO volumes (name, data, created) VALUES (?1, ?2, ?3)",
                    rusqlite::params![n, json, created],
                )?;
                Ok(true)
            })
            .await?;
        if !inserted {
            // Lost a race with a create of the same name: that one owns the directory.
            return match self.volume_record(&name).await? {
                Some(r) if req.ignore_if_exists => Ok(r),
                _ => Err(Error::VolumeExists(name)),
            };
        }
        self.emit_volume("create", &name);
        Ok(rec)
    }

    fn emit_volume(&self, status: &str, name: &str) {
        let mut e = crate::events::Event::new(crate::events::EventType::Volume, status);
        e.id = name.to_string();
        e.name = name.to_string();
        self.event_bus().emit(e);
    }

    /// Records that container `ctr` uses volume `name`, creating the volume when it does not
    /// exist (`docker run -v name:/x` does; `anonymous` for `-v /path` and image
    /// `VOLUME`s). Done at container create, so the volume counts as used from then on.
    pub async fn use_volume(&self, ctr: &str, name: &str, anonymous: bool) -> Result<VolumeRecord> {
        let rec = match self.volume_record(name).await? {
            Some(r) => r,
            None => {
                self.create_volume(VolumeCreate {
                    name: Some(name.to_string()),
                    anonymous,
                    ignore_if_exists: true,
                    ..Default::default()
                })
                .await?
            }
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
        Ok(rec)
    }

    /// The `_data` dir of volume `name` as container `ctr` starts: the volume's filesystem
    /// is mounted if it has one and is not mounted yet; the first use also yields the
    /// copy-up to do once the container's rootfs is there.
    pub async fn volume_path_for(
        &self,
        ctr: &str,
        name: &str,
        destination: &str,
    ) -> Result<(PathBuf, Option<FirstUse>)> {
        let rec = self.use_volume(ctr, name, false).await?;
        let data = rec.mountpoint.clone();
        if rec.needs_mount() && !rootfs::is_mounted(&data) {
            let get = |k: &str| {
                rec.options
                    .iter()
                    .find(|(x, _)| x.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let (kind, opts) = (get("type"), get("o"));
            let mut device = get("device");
            if device.is_empty() {
                device = kind.clone();
            }
            let mut cmd = tokio::process::Command::new("mount");
            if !opts.is_empty() {
                cmd.arg("-o").arg(&opts);
            }
            match kind.as_str() {
                "" => {}
                "bind" => {
                    cmd.arg("-o").arg("bind");
                }
                k => {
                    cmd.arg("-t").arg(k);
                }
            }
            cmd.arg(&device).arg(&data);
            let out = cmd
                .output()
                .await
                .map_err(|e| Error::io("running mount", e))?;
            if !out.status.success() {
                return Err(Error::Runtime(format!(
                    "mounting volume {name}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            if let (Some(_), _) | (_, Some(_)) = (rec.uid, rec.gid) {
                let _ = std::os::unix::fs::chown(&data, rec.uid, rec.gid);
            }
        }
        let first = rec.needs_copy_up.then(|| FirstUse {
            volume: name.to_string(),
            data: data.clone(),
            destination: destination.to_string(),
            copy: true,
        });
        Ok((data, first))
    }

    /// Marks volumes as used once (no more copy-up).
    pub async fn volumes_used(&self, names: Vec<String>) -> Result<()> {
        for name in names {
            let Some(mut rec) = self.volume_record(&name).await? else {
                continue;
            };
            if !rec.needs_copy_up {
                continue;
            }
            rec.needs_copy_up = false;
            let json = serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?;
            self.db()
                .write(move |tx| {
                    tx.execute(
                        "UPDATE volumes SET data = ?1 WHERE name = ?2",
                        [&json, &name],
                    )?;
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// Unmounts the filesystems of the container's volumes no other active container uses
    /// (after it stopped or was removed).
    pub async fn unmount_idle_volumes(&self, ctr: &ContainerRecord) {
        for m in ctr.config.mounts.iter().filter(|m| m.kind == "volume") {
            let Ok(Some(v)) = self.volume_record(&m.source).await else {
                continue;
            };
            if !v.needs_mount() || !rootfs::is_mounted(&v.mountpoint) {
                continue;
            }
            if self.active_users(&v.name, &ctr.id).await.unwrap_or(1) == 0 {
                if let Err(e) = rootfs::unmount(&v.mountpoint) {
                    tracing::warn!(volume = %v.name, error = %e, "unmounting a volume");
                }
            }
        }
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
            let _ = tokio::task::spawn_blocking(move || remove_volume_dir(&dir)).await;
            self.emit_volume("remove", &v);
        }
        Ok(())
    }

    /// A volume by exact name, else by a unique name prefix.
    async fn lookup_volume(&self, name: &str) -> Result<VolumeRecord> {
        if let Some(r) = self.volume_record(name).await? {
            return Ok(r);
        }
        let prefix = format!("{}%", name.replace(['%', '_'], ""));
        let exact_chars = !name.contains(['%', '_']);
        let hits: Vec<String> = if exact_chars && !name.is_empty() {
            self.db()
                .read(move |c| {
                    let mut st =
                        c.prepare("SELECT name FROM volumes WHERE name LIKE ?1 LIMIT 2")?;
                    let rows = st.query_map([&prefix], |r| r.get::<_, String>(0))?;
                    Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
                })
                .await?
        } else {
            Vec::new()
        };
        match hits.as_slice() {
            [one] => self
                .volume_record(one)
                .await?
                .ok_or_else(|| Error::NoSuchVolume(name.to_string())),
            [] => Err(Error::NoSuchVolume(name.to_string())),
            _ => Err(Error::InvalidArg(format!(
                "more than one result for volume name {name}: volume already exists"
            ))),
        }
    }

    /// Removes a volume; see [`VolumeEngine::remove`].
    pub async fn remove_volume(&self, name: &str, force: bool, timeout: Option<u32>) -> Result<()> {
        let rec = self.lookup_volume(name).await?;
        let users = self.volume_users(&rec.name).await?;
        if !users.is_empty() {
            if !force {
                return Err(Error::VolumeInUse(rec.name.clone(), users.join(", ")));
            }
            for u in users {
                match self
                    .remove_container(
                        &u,
                        RemoveOptions {
                            force: true,
                            timeout,
                            ..Default::default()
                        },
                    )
                    .await
                {
                    Ok(()) | Err(Error::NoSuchContainer(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let n = rec.name.clone();
        let deleted = self
            .db()
            .write(move |tx| {
                let users: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM container_volumes WHERE volume = ?1",
                    [&n],
                    |r| r.get(0),
                )?;
                if users > 0 {
                    return Ok(None);
                }
                Ok(Some(
                    tx.execute("DELETE FROM volumes WHERE name = ?1", [&n])? > 0,
                ))
            })
            .await?;
        match deleted {
            None => Err(Error::VolumeInUse(
                rec.name.clone(),
                "a new container".into(),
            )),
            Some(false) => Err(Error::NoSuchVolume(name.to_string())),
            Some(true) => {
                let dir = self.volumes_dir().join(&rec.name);
                let _ = tokio::task::spawn_blocking(move || remove_volume_dir(&dir)).await;
                self.emit_volume("remove", &rec.name);
                Ok(())
            }
        }
    }
}

#[async_trait]
impl VolumeEngine for Runtime {
    async fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.volume_record(name).await?.is_some())
    }

    async fn create(&self, req: VolumeCreate) -> Result<VolumeInfo> {
        let rec = self.create_volume(req).await?;
        self.volume_info(rec).await
    }

    async fn list(&self) -> Result<Vec<VolumeInfo>> {
        let rows: Vec<String> = self
            .db()
            .read(|c| {
                let mut st = c.prepare("SELECT data FROM volumes ORDER BY created, name")?;
                let rows = st.query_map([], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for j in rows {
            match serde_json::from_str::<VolumeRecord>(&j) {
                Ok(r) => out.push(self.volume_info(r).await?),
                Err(e) => tracing::warn!(error = %e, "skipping a corrupt volume record"),
            }
        }
        Ok(out)
    }

    async fn inspect(&self, name: &str) -> Result<VolumeInfo> {
        let rec = self
            .volume_record(name)
            .await?
            .ok_or_else(|| Error::NoSuchVolume(name.to_string()))?;
        self.volume_info(rec).await
    }

    async fn remove(&self, name: &str, force: bool, timeout: Option<u32>) -> Result<()> {
        self.remove_volume(name, force, timeout).await
    }

    async fn prune(&self, names: Vec<String>) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for n in names {
            if !self.volume_users(&n).await?.is_empty() {
                continue;
            }
            let size = self.size(&n).await.unwrap_or(0);
            match self.remove_volume(&n, false, None).await {
                Ok(()) => {
                    self.emit_volume("prune", &n);
                    out.push((n, size));
                }
                Err(Error::VolumeInUse(..) | Error::NoSuchVolume(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn size(&self, name: &str) -> Result<u64> {
        let rec = self
            .volume_record(name)
            .await?
            .ok_or_else(|| Error::NoSuchVolume(name.to_string()))?;
        tokio::task::spawn_blocking(move || tree_size(&rec.mountpoint))
            .await
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_podman() {
        assert!(check_name("foo1").is_ok());
        assert!(check_name("a_b.c-d").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name("a/b").is_err());
    }

    #[test]
    fn o_is_split_into_uid_gid_size() {
        let mut m = BTreeMap::new();
        m.insert("type".to_string(), "tmpfs".to_string());
        m.insert(
            "o".to_string(),
            "nodev,uid=1000,gid=10,size=1m,timeout=3".to_string(),
        );
        let (o, uid, gid) = local_options(&m).unwrap();
        assert_eq!((uid, gid), (Some(1000), Some(10)));
        assert_eq!(o["o"], "nodev,uid=1000,gid=10,size=1m");
        assert_eq!(o["UID"], "1000");
        assert_eq!(o["SIZE"], "1m");
        m.insert("bogus".into(), "1".into());
        assert!(local_options(&m).is_err());
        let mut q = BTreeMap::new();
        q.insert("o".to_string(), "size=1m".to_string());
        assert!(local_options(&q).is_err(), "size needs tmpfs or quota");
    }

    #[test]
    fn first_use_copies_image_content_and_ownership_but_not_through_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("rootfs");
        std::fs::create_dir_all(root.join("srv/sub")).unwrap();
        std::fs::write(root.join("srv/sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("srv/link")).unwrap();
        std::fs::set_permissions(root.join("srv"), std::fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::chown(root.join("srv"), Some(1234), Some(4321)).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        let data = t.path().join("vol");
        std::fs::create_dir(&data).unwrap();
        let fu = FirstUse {
            volume: "v".into(),
            data: data.clone(),
            destination: "/srv".into(),
            copy: true,
        };
        fu.apply(&root, 0, 0).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("sub/f")).unwrap(), "x");
        assert_eq!(
            std::fs::read_link(data.join("link")).unwrap(),
            PathBuf::from("/etc/passwd")
        );
        let m = std::fs::metadata(&data).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (1234, 4321, 0o750));
        // Not empty any more: a second use copies nothing.
        std::fs::write(root.join("srv/new"), "y").unwrap();
        fu.apply(&root, 0, 0).unwrap();
        assert!(!data.join("new").exists());
        // A destination through a symlink is not followed on the host.
        let data2 = t.path().join("vol2");
        std::fs::create_dir(&data2).unwrap();
        FirstUse {
            volume: "w".into(),
            data: data2.clone(),
            destination: "/escape/etc".into(),
            copy: true,
        }
        .apply(&root, 1000, 1000)
        .unwrap();
        assert_eq!(std::fs::read_dir(&data2).unwrap().count(), 0);
        assert_eq!(std::fs::metadata(&data2).unwrap().uid(), 1000);
    }
}
