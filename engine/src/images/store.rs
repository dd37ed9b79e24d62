//! The image store on disk and in the state database.
//!
//! Layout under `<root>/storage`: `blobs/sha256/<hex>` (manifests, configs, compressed
//! layers, kept so pushes and saves reproduce the same digests), `overlay/<chain hex>/diff`
//! (unpacked layers, shared by every image using them), `overlay/l/<26 chars>` (short links to
//! the diff dirs for overlay mount options), `tmp/` (work in progress, wiped at start-up).
//!
//! Crash safety: a blob or layer is written under `tmp/`, verified (digest / DiffID), then
//! renamed into place; the database records a layer only after its rename, and an image
//! only after all its layers, in one transaction. At start-up `tmp/` is emptied and unpacked
//! layers the database does not know are deleted, so an interrupted pull leaves nothing
//! half-visible and the next pull starts clean.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::events::{Event, EventBus, EventType};
use crate::images::layer::{chain_ids, short_link_name, unpack_layer};
use crate::images::reference::{is_short_name, ImageRef};
use crate::images::registry::RegistryClient;
use crate::images::{ImageRecord, LayerInfo, Platform, PullOptions, PullProgress};
use crate::registries::RegistriesConf;
use crate::store::Db;

/// Paths of the store.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

fn io(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", p.display()), e)
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

impl ImageStore {
    /// Creates the directories under `storage_root` and empties `tmp/`.
    pub fn open(storage_root: &Path) -> Result<ImageStore> {
        let s = ImageStore {
            root: storage_root.to_path_buf(),
        };
        for d in [s.blobs_dir(), s.overlay_dir().join("l"), s.tmp_dir()] {
            std::fs::create_dir_all(&d).map_err(|e| io("creating", &d, e))?;
        }
        for e in std::fs::read_dir(s.tmp_dir()).map_err(|e| io("reading", &s.tmp_dir(), e))? {
            let p = e.map_err(|e| io("reading", &s.tmp_dir(), e))?.path();
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
        Ok(s)
    }

    /// The storage root (`<root>/storage`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    /// Where a blob lives.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.blobs_dir().join(hex_of(digest))
    }

    fn overlay_dir(&self) -> PathBuf {
        self.root.join("overlay")
    }

    /// The unpacked directory of a layer.
    pub fn layer_diff(&self, chain_id: &str) -> PathBuf {
        self.overlay_dir().join(hex_of(chain_id)).join("diff")
    }

    /// Work in progress (emptied at every start).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh path under `tmp/` (removed at the next start if left behind).
    pub fn tmp_path(&self) -> PathBuf {
        self.tmp_dir().join(crate::ids::new_id())
    }

    /// Deletes unpacked layers and short links the database does not know (left by a crash
    /// between rename and commit).
    pub fn collect_garbage(&self, known: &HashSet<String>, links: &HashSet<String>) {
        let Ok(rd) = std::fs::read_dir(self.overlay_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "l" {
                continue;
            }
            if !known.contains(&name) {
                tracing::info!(layer = %name, "removing a layer no image records");
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.overlay_dir().join("l")) {
            for e in rd.flatten() {
                if !links.contains(&e.file_name().to_string_lossy().into_owned()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Unpacks a stored layer blob into its ChainID directory, verifying its DiffID, and
    /// gives it a short link. Returns the link and the uncompressed size. When another pull
    /// installed the same layer meanwhile, its link is reused.
    pub fn install_layer(&self, blob: &Path, diff_id: &str, chain: &str) -> Result<(String, u64)> {
        let work = self.tmp_path();
        let f = std::fs::File::open(blob).map_err(|e| io("opening", blob, e))?;
        let (got, size) = match unpack_layer(f, &work.join("diff")) {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work);
                return Err(e);
            }
        };
        if got != diff_id {
            let _ = std::fs::remove_dir_all(&work);
            return Err(Error::InvalidArg(format!(
                "layer {chain}: DiffID mismatch: expected {diff_id}, got {got}"
            )));
        }
        let dir = self.overlay_dir().join(hex_of(chain));
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&work);
            if let Ok(link) = std::fs::read_to_string(dir.join("link")) {
                return Ok((link.trim().to_string(), size));
            }
        } else {
            std::fs::rename(&work, &dir).map_err(|e| io("storing", &dir, e))?;
        }
        let link = short_link_name();
        self.link_layer(chain, &link)?;
        Ok((link, size))
    }

    /// Creates the short `l/` link of an unpacked layer and records it beside the layer.
    pub fn link_layer(&self, chain_id: &str, link: &str) -> Result<()> {
        let lp = self.overlay_dir().join("l").join(link);
        std::os::unix::fs::symlink(format!("../{}/diff", hex_of(chain_id)), &lp)
            .map_err(|e| io("linking", &lp, e))?;
        let dir = self.overlay_dir().join(hex_of(chain_id));
        std::fs::write(dir.join("link"), link).map_err(|e| io("writing", &dir, e))
    }

    /// Writes a small blob (manifest, config) atomically.
    pub fn put_blob(&self, digest: &str, data: &[u8]) -> Result<()> {
        let dst = self.blob_path(digest);
        if dst.exists() {
            return Ok(());
        }
        let tmp = self.tmp_path();
        std::fs::write(&tmp, data).map_err(|e| io("writing", &tmp, e))?;
        std::fs::rename(&tmp, &dst).map_err(|e| io("storing", &dst, e))
    }
}

/// The DiffIDs an image config lists.
pub fn diff_ids_of(config: &serde_json::Value) -> Vec<String> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads records with their names (all images, or the one with ID `only`), newest first.
pub fn load_images(c: &Connection, only: Option<&str>) -> Result<Vec<ImageRecord>> {
    let mut stmt = c.prepare(
        "SELECT id, data FROM images WHERE (?1 IS NULL OR id = ?1) ORDER BY created DESC, id",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map([only], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    // One query for every name, newest tag first, instead of one per image.
    let mut names: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    let mut q = c.prepare(
        "SELECT image_id, name FROM image_names WHERE (?1 IS NULL OR image_id = ?1) ORDER BY rowid DESC",
    )?;
    for row in q.query_map([only], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (id, name) = row?;
        names.entry(id).or_default().push(name);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (id, data) in rows {
        let mut rec: ImageRecord = serde_json::from_str(&data)
            .map_err(|e| Error::Internal(format!("corrupt image record {id}: {e}")))?;
        rec.names = names.remove(&id).unwrap_or_default();
        out.push(rec);
    }
    Ok(out)
}

/// Resolves a user-given image name or ID to an image ID, like libimage's lookup: exact
/// name, full or prefix ID, Docker-normalised name, repo digest, then a short name matched
/// against the search registries, `localhost/`, and any repository ending with it.
pub fn resolve_image(c: &Connection, key: &str, search: &[String]) -> Result<Option<String>> {
    let key = key.trim();
    if key.is_empty() {
        return Ok(None);
    }
    let by_name = |n: &str| -> Result<Option<String>> {
        Ok(c.query_row(
            "SELECT image_id FROM image_names WHERE name = ?1",
            [n],
            |r| r.get(0),
        )
        .optional()?)
    };
    if let Some(id) = by_name(key)? {
        return Ok(Some(id));
    }
    let hexkey = key.strip_prefix("sha256:").unwrap_or(key);
    if !hexkey.is_empty() && hexkey.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut stmt = c.prepare("SELECT id FROM images WHERE id LIKE ?1 || '%' LIMIT 2")?;
        let ids: Vec<String> = stmt
            .query_map([hexkey.to_ascii_lowercase()], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        if ids.len() == 1 {
            return Ok(ids.into_iter().next());
        }
        if ids.len() > 1 {
            return Err(Error::InvalidArg(format!(
                "more than one result for image ID {key}"
            )));
        }
    }
    let Ok(r) = ImageRef::parse_normalized(key) else {
        return Ok(None);
    };
    if let Some(d) = &r.digest {
        let want = format!("{}@{d}", r.name());
        let id: Option<String> = c
            .query_row(
                "SELECT id FROM images WHERE EXISTS (SELECT 1 FROM json_each(images.data, '$.repo_digests') WHERE value = ?1)",
                [want],
                |r| r.get(0),
            )
            .optional()?;
        if id.is_some() || r.tag.is_none() {
            return Ok(id);
        }
    }
    if !is_short_name(key) {
        return Ok(match r.tagged() {
            Some(t) => by_name(&t)?,
            None => None,
        });
    }
    // A short name: `name[:tag]` as given (the docker.io normalisation added `library/`).
    let short = ImageRef::parse_with(key, "localhost")?;
    let tag = short.tag.clone().unwrap_or_else(|| "latest".into());
    let path = short.repository.clone();
    for reg in search
        .iter()
        .map(String::as_str)
        .chain(["localhost", "docker.io"])
    {
        let repo = if reg == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.clone()
        };
        if let Some(id) = by_name(&format!("{reg}/{repo}:{tag}"))? {
            return Ok(Some(id));
        }
    }
    let suffix = format!("/{path}:{tag}");
    Ok(c.query_row(
        "SELECT image_id FROM image_names WHERE substr(name, -length(?1)) = ?1 ORDER BY rowid LIMIT 1",
        [suffix],
        |r| r.get(0),
    )
    .optional()?)
}

/// Moves `name` to image `id` (a tag names one image at a time).
fn set_name(tx: &Transaction<'_>, id: &str, name: &str) -> Result<()> {
    tx.execute("DELETE FROM image_names WHERE name = ?1", [name])?;
    tx.execute(
        "INSERT INTO image_names (name, image_id) VALUES (?1, ?2)",
        [name, id],
    )?;
    Ok(())
}

/// Layers no image uses any more: deleted from the database, returned for removal from disk.
fn orphan_layers(tx: &Transaction<'_>) -> Result<Vec<(String, String)>> {
    let mut stmt = tx.prepare(
        "SELECT chain_id, short_link FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)",
    )?;
    let v: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    tx.execute(
        "DELETE FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)",
        [],
    )?;
    Ok(v)
}

/// The digests of the layers a manifest lists, with media types and sizes.
fn manifest_layers(m: &serde_json::Value) -> Vec<(String, String, u64)> {
    m["layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["digest"].as_str().unwrap_or_default().to_string(),
                        l["mediaType"].as_str().unwrap_or_default().to_string(),
                        l["size"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Picks the manifest for `want` (default: this host) from an index.
fn select_platform(index: &serde_json::Value, want: &Platform) -> Option<String> {
    let entries = index["manifests"].as_array()?;
    let arch_ok = |p: &serde_json::Value| p["architecture"].as_str() == Some(want.arch.as_str());
    let os_ok = |p: &serde_json::Value| p["os"].as_str() == Some(want.os.as_str());
    let variant_ok = |p: &serde_json::Value| {
        want.variant.is_empty() || p["variant"].as_str() == Some(want.variant.as_str())
    };
    entries
        .iter()
        .find(|m| {
            let p = &m["platform"];
            os_ok(p) && arch_ok(p) && variant_ok(p)
        })
        .or_else(|| {
            entries
                .iter()
                .find(|m| os_ok(&m["platform"]) && arch_ok(&m["platform"]))
        })
        .and_then(|m| m["digest"].as_str().map(String::from))
}

/// One layer to bring in during a pull.
struct LayerJob {
    blob: String,
    size: u64,
    diff_id: String,
    chain: String,
    have: bool,
}

/// Everything a pull needs from the runtime.
pub struct PullContext<'a> {
    pub store: &'a ImageStore,
    pub db: &'a Db,
    pub registries: &'a RegistriesConf,
    pub events: &'a EventBus,
}

fn is_index(media_type: &str, v: &serde_json::Value) -> bool {
    media_type.contains("index")
        || media_type.contains("manifest.list")
        || v.get("manifests").is_some()
}

/// The names a pull tries, in order.
fn pull_candidates(opts: &PullOptions, reg: &RegistriesConf) -> Result<Vec<ImageRef>> {
    name_candidates(&opts.reference, opts.compat, reg)
}

/// The registry names a name stands for: itself when fully qualified (or for compat
/// requests, Docker-normalised), else the alias, else one per unqualified-search registry.
pub(crate) fn name_candidates(
    given: &str,
    compat: bool,
    reg: &RegistriesConf,
) -> Result<Vec<ImageRef>> {
    let given = given.trim();
    if compat || !is_short_name(given) {
        return Ok(vec![ImageRef::parse_normalized(given)?]);
    }
    let short = ImageRef::parse_with(given, "localhost")?;
    let mut out = Vec::new();
    if let Some(target) = reg.alias(&short.repository) {
        let mut r = ImageRef::parse_normalized(target)?;
        if short.tag.is_some() || short.digest.is_some() {
            r.tag = short.tag.clone();
            r.digest = short.digest.clone();
        }
        out.push(r);
        return Ok(out);
    }
    for search in &reg.unqualified_search_registries {
        let mut r = ImageRef::parse_with(given, search)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".into());
        }
        out.push(r);
    }
    if out.is_empty() {
        return Err(Error::InvalidArg(format!(
            "short-name {given:?} did not resolve to an alias and no unqualified-search registries are defined in registries.conf"
        )));
    }
    Ok(out)
}

impl PullContext<'_> {
    /// Pulls per the options; see the module docs for the crash-safety rules.
    pub async fn pull(
        &self,
        opts: &PullOptions,
        progress: &mpsc::Sender<PullProgress>,
    ) -> Result<ImageRecord> {
        let candidates = pull_candidates(opts, self.registries)?;
        let mut last_err = None;
        for cand in &candidates {
            let _ = progress.send(PullProgress::Trying(cand.full())).await;
            let sources = self.registries.pull_sources(&cand.name())?;
            for src in sources {
                let contacted = cand.relocated(&src.repository);
                let creds = opts
                    .credentials
                    .clone()
                    .or_else(|| crate::images::auth::lookup(&cand.name()))
                    .or_else(|| crate::images::auth::lookup(&contacted.name()));
                let client =
                    RegistryClient::connect(&contacted.registry, src.insecure, creds.as_ref())
                        .await;
                match self
                    .pull_from(&client, cand, &contacted, opts, progress)
                    .await
                {
                    Ok(rec) => return Ok(rec),
                    Err(e @ Error::Registry { .. }) => {
                        tracing::debug!(source = %contacted, error = %e, "pull source failed");
                        last_err = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::NoSuchImage(opts.reference.clone())))
    }

    async fn pull_from(
        &self,
        client: &RegistryClient,
        name: &ImageRef,
        contacted: &ImageRef,
        opts: &PullOptions,
        progress: &mpsc::Sender<PullProgress>,
    ) -> Result<ImageRecord> {
        let (mut bytes, mut digest, mut media_type) = client.manifest(contacted).await?;
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Registry {
                status: 500,
                message: format!("bad manifest: {e}"),
            })?;
        let mut list_digest = None;
        if is_index(&media_type, &manifest) {
            let want = opts.platform.clone().unwrap_or(Platform {
                os: "linux".into(),
                arch: crate::system::go_arch().into(),
                variant: String::new(),
            });
            let inst = select_platform(&manifest, &want).ok_or_else(|| Error::Registry {
                status: 404,
                message: format!(
                    "choosing an image from manifest list {}: no image found in manifest list for architecture {}, variant {:?}, OS {}",
                    name.full(), want.arch, want.variant, want.os
                ),
            })?;
            self.store.put_blob(&digest, &bytes)?;
            list_digest = Some(digest.clone());
            let mut by_digest = contacted.clone();
            by_digest.digest = Some(inst);
            (bytes, digest, media_type) = client.manifest(&by_digest).await?;
            manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Registry {
                status: 500,
                message: format!("bad manifest: {e}"),
            })?;
        }
        let _ = progress.send(PullProgress::Resolved(name.full())).await;
        if media_type.is_empty() {
            media_type = "application/vnd.oci.image.manifest.v1+json".into();
        }
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .ok_or_else(|| Error::Registry {
                status: 500,
                message: "manifest without config".into(),
            })?
            .to_string();
        let config_bytes = client.blob_bytes(contacted, &config_digest).await?;
        let config: serde_json::Value =
            serde_json::from_slice(&config_bytes).map_err(|e| Error::Registry {
                status: 500,
                message: format!("bad image config: {e}"),
            })?;
        let diff_ids = diff_ids_of(&config);
        let blobs = manifest_layers(&manifest);
        if blobs.len() != diff_ids.len() {
            return Err(Error::Registry {
                status: 500,
                message: format!(
                    "manifest has {} layers but the config {} diff IDs",
                    blobs.len(),
                    diff_ids.len()
                ),
            });
        }
        self.store.put_blob(&digest, &bytes)?;
        self.store.put_blob(&config_digest, &config_bytes)?;
        let chains = chain_ids(&diff_ids);
        let known: HashSet<String> = {
            let chains = chains.clone();
            self.db
                .read(move |c| {
                    let mut stmt = c.prepare("SELECT 1 FROM layers WHERE chain_id = ?1")?;
                    let mut have = HashSet::new();
                    for ch in chains {
                        if stmt.exists([&ch])? {
                            have.insert(ch);
                        }
                    }
                    Ok(have)
                })
                .await?
        };
        let jobs: Vec<LayerJob> = blobs
            .iter()
            .zip(diff_ids.iter())
            .zip(chains.iter())
            .map(|(((blob, _mt, size), diff), chain)| LayerJob {
                blob: blob.clone(),
                size: *size,
                diff_id: diff.clone(),
                chain: chain.clone(),
                have: known.contains(chain),
            })
            .collect();
        let fetched: Vec<Option<(String, String, String, u64)>> = futures::stream::iter(jobs)
            .map(|job| self.layer_job(client, contacted, progress, job))
            .buffered(3)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let mut layers = Vec::new();
        for (i, ((blob, mt, size), diff)) in blobs.iter().zip(diff_ids.iter()).enumerate() {
            layers.push(LayerInfo {
                chain_id: chains[i].clone(),
                diff_id: diff.clone(),
                blob_digest: blob.clone(),
                media_type: mt.clone(),
                blob_size: *size,
                size: fetched[i].as_ref().map(|f| f.3).unwrap_or(0),
            });
        }
        let id = hex_of(&config_digest).to_string();
        let created = config["created"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now);
        let mut repo_digests = vec![format!("{}@{digest}", name.name())];
        if let Some(ld) = &list_digest {
            repo_digests.insert(0, format!("{}@{ld}", name.name()));
        }
        let record = ImageRecord {
            id: id.clone(),
            digest: digest.clone(),
            manifest_media_type: media_type,
            repo_digests,
            config,
            layers,
            size: 0,
            created,
            added: Utc::now(),
            names: Vec::new(),
        };
        let tag_name = name.tagged();
        let new_layers: Vec<(String, String, String, u64)> =
            fetched.into_iter().flatten().collect();
        let rec2 = record.clone();
        self.db
            .write(move |tx| {
                for (chain, diff, link, size) in &new_layers {
                    tx.execute(
                        "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, short_link, size) VALUES (?1, ?2, NULL, ?3, ?4)",
                        params![chain, diff, link, *size as i64],
                    )?;
                }
                let exists: bool = tx
                    .query_row("SELECT COUNT(*) FROM images WHERE id = ?1", [&rec2.id], |r| r.get::<_, i64>(0))?
                    > 0;
                let mut rec = rec2.clone();
                // Sizes of layers that were already present come from their rows.
                for l in rec.layers.iter_mut() {
                    if l.size == 0 {
                        l.size = tx
                            .query_row("SELECT size FROM layers WHERE chain_id = ?1", [&l.chain_id], |r| r.get::<_, i64>(0))
                            .unwrap_or(0) as u64;
                    }
                }
                rec.size = rec.layers.iter().map(|l| l.size).sum();
                if exists {
                    // Keep the record, merge the repo digests.
                    let old: String = tx.query_row("SELECT data FROM images WHERE id = ?1", [&rec.id], |r| r.get(0))?;
                    if let Ok(mut o) = serde_json::from_str::<ImageRecord>(&old) {
                        for d in &rec.repo_digests {
                            if !o.repo_digests.contains(d) {
                                o.repo_digests.push(d.clone());
                            }
                        }
                        rec = o;
                    }
                    tx.execute(
                        "UPDATE images SET data = ?2 WHERE id = ?1",
                        params![rec.id, serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?],
                    )?;
                } else {
                    tx.execute(
                        "INSERT INTO images (id, data, created) VALUES (?1, ?2, ?3)",
                        params![
                            rec.id,
                            serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?,
                            rec.added.timestamp_nanos_opt().unwrap_or(0)
                        ],
                    )?;
                    for (i, l) in rec.layers.iter().enumerate() {
                        tx.execute(
                            "INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?1, ?2, ?3)",
                            params![rec.id, i as i64, l.chain_id],
                        )?;
                    }
                }
                if let Some(t) = &tag_name {
                    set_name(tx, &rec.id, t)?;
                }
                Ok(())
            })
            .await?;
        let mut e = Event::new(EventType::Image, "pull");
        e.id = id.clone();
        e.name = name.full();
        self.events.emit(e);
        let _ = progress
            .send(PullProgress::Done {
                id: id.clone(),
                digest: digest.clone(),
                name: name.full(),
            })
            .await;
        let mut out = self
            .db
            .read(move |c| load_images(c, Some(&id)))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal("pulled image vanished".into()))?;
        out.names.sort();
        Ok(out)
    }

    async fn layer_job(
        &self,
        client: &RegistryClient,
        contacted: &ImageRef,
        progress: &mpsc::Sender<PullProgress>,
        job: LayerJob,
    ) -> Result<Option<(String, String, String, u64)>> {
        let short_id = hex_of(&job.blob)[..12.min(hex_of(&job.blob).len())].to_string();
        if job.have {
            let _ = progress
                .send(PullProgress::LayerExists { id: short_id })
                .await;
            return Ok(None);
        }
        let (link, size) = self
            .fetch_layer(
                client,
                contacted,
                &job.blob,
                job.size,
                &job.diff_id,
                &job.chain,
                &short_id,
                progress,
            )
            .await?;
        Ok(Some((job.chain, job.diff_id, link, size)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn fetch_layer(
        &self,
        client: &RegistryClient,
        contacted: &ImageRef,
        blob: &str,
        size: u64,
        diff_id: &str,
        chain: &str,
        short_id: &str,
        progress: &mpsc::Sender<PullProgress>,
    ) -> Result<(String, u64)> {
        let blob_path = self.store.blob_path(blob);
        if !blob_path.exists() {
            let tmp = self.store.tmp_path();
            let f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| io("creating", &tmp, e))?;
            // Batched writes: each write to a tokio file is a blocking-pool round trip.
            let mut f = tokio::io::BufWriter::with_capacity(1 << 20, f);
            let mut last = 0u64;
            let tx = progress.clone();
            let id = short_id.to_string();
            client
                .blob_to(contacted, blob, &mut f, |n| {
                    if n - last >= 256 * 1024 || n == size {
                        last = n;
                        let _ = tx.try_send(PullProgress::LayerDownloading {
                            id: id.clone(),
                            current: n,
                            total: size,
                        });
                    }
                })
                .await?;
            tokio::io::AsyncWriteExt::flush(&mut f)
                .await
                .map_err(|e| io("writing", &tmp, e))?;
            f.get_mut()
                .sync_all()
                .await
                .map_err(|e| io("syncing", &tmp, e))?;
            tokio::fs::rename(&tmp, &blob_path)
                .await
                .map_err(|e| io("storing", &blob_path, e))?;
        }
        let _ = progress
            .send(PullProgress::LayerDownloaded {
                id: short_id.to_string(),
            })
            .await;
        let _ = progress
            .send(PullProgress::LayerExtracting {
                id: short_id.to_string(),
            })
            .await;
        let store = self.store.clone();
        let (blob_path2, diff_id2, chain2) =
            (blob_path.clone(), diff_id.to_string(), chain.to_string());
        let (link, usize_) = tokio::task::spawn_blocking(move || -> Result<(String, u64)> {
            store
                .install_layer(&blob_path2, &diff_id2, &chain2)
                .map_err(|e| {
                    if let Error::InvalidArg(msg) = e {
                        // A blob that does not unpack to its DiffID is dropped; a retry fetches it again.
                        let _ = std::fs::remove_file(&blob_path2);
                        Error::Registry {
                            status: 500,
                            message: msg,
                        }
                    } else {
                        e
                    }
                })
        })
        .await
        .map_err(|e| Error::Internal(format!("unpacking a layer: {e}")))??;
        let _ = progress
            .send(PullProgress::LayerDone {
                id: short_id.to_string(),
            })
            .await;
        Ok((link, usize_))
    }
}

/// Tags an image (the name is Docker-normalised, `latest` by default).
pub fn tag(tx: &Transaction<'_>, id: &str, new_name: &str) -> Result<String> {
    let r = ImageRef::parse_normalized(new_name)?;
    let t = r
        .tagged()
        .ok_or_else(|| Error::InvalidArg(format!("{new_name}: a tag cannot be a digest")))?;
    set_name(tx, id, &t)?;
    Ok(t)
}

/// Removes one name or all names of an image; returns what was removed.
pub fn untag(tx: &Transaction<'_>, id: &str, name: Option<&str>) -> Result<Vec<String>> {
    let names: Vec<String> = {
        let mut stmt = tx.prepare("SELECT name FROM image_names WHERE image_id = ?1")?;
        let v = stmt
            .query_map([id], |r| r.get(0))?
            .collect::<std::result::Result<Vec<String>, _>>()?;
        v
    };
    let gone: Vec<String> = match name {
        None => names,
        Some(n) => {
            let r = ImageRef::parse_normalized(n)?;
            let want = r.tagged().unwrap_or_else(|| r.full());
            if !names.contains(&want) {
                return Err(Error::InvalidArg(format!("{n}: tag not known")));
            }
            vec![want]
        }
    };
    for n in &gone {
        tx.execute("DELETE FROM image_names WHERE name = ?1", [n])?;
    }
    Ok(gone)
}

/// Deletes an image record and returns the layers (chain id, short link) to delete from
/// disk after the commit.
pub fn delete_image(tx: &Transaction<'_>, id: &str) -> Result<Vec<(String, String)>> {
    tx.execute("DELETE FROM image_names WHERE image_id = ?1", [id])?;
    tx.execute("DELETE FROM images WHERE id = ?1", [id])?;
    orphan_layers(tx)
}

impl ImageStore {
    /// Removes unpacked layers (after their rows are gone).
    pub fn remove_layers(&self, layers: &[(String, String)]) {
        for (chain, link) in layers {
            let _ = std::fs::remove_file(self.overlay_dir().join("l").join(link));
            let _ = std::fs::remove_dir_all(self.overlay_dir().join(hex_of(chain)));
        }
    }
}
