//! Image archives and local ingestion: `save`/`export` as docker-archive or oci-archive,
//! `load` of either, `import` of a root filesystem tar, and the common `ingest` that turns
//! a config plus layer blobs into a stored image (used by load, import and, later, commit
//! and build).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::params;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::images::layer::{chain_ids, decompressed, sha256_digest, HashingReader};
use crate::images::store::{load_images, ImageStore};
use crate::images::{ImageRecord, ImageRef, LayerInfo};
use crate::store::Db;

fn io(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", p.display()), e)
}

fn hex_of(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

/// A layer to ingest: a blob file (compressed or not) with its media type.
pub struct LayerBlob {
    pub path: PathBuf,
    pub media_type: String,
}

/// Stores blobs, unpacks layers (verifying DiffIDs against the config) and records the
/// image with `names` (normalised tags). Runs blocking I/O: call from a blocking thread.
pub fn ingest(
    store: &ImageStore,
    db_conn: &mut rusqlite::Connection,
    config_bytes: &[u8],
    layers: Vec<LayerBlob>,
    manifest: Option<(Vec<u8>, String)>,
    names: &[String],
) -> Result<ImageRecord> {
    let config: Value = serde_json::from_slice(config_bytes)
        .map_err(|e| Error::InvalidArg(format!("bad image config: {e}")))?;
    let diff_ids = crate::images::store::diff_ids_of(&config);
    if diff_ids.len() != layers.len() {
        return Err(Error::InvalidArg(format!(
            "image config lists {} layers, {} given",
            diff_ids.len(),
            layers.len()
        )));
    }
    let chains = chain_ids(&diff_ids);
    let config_digest = sha256_digest(config_bytes);
    store.put_blob(&config_digest, config_bytes)?;
    let mut infos = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        // Blob digest and size.
        let mut f = std::fs::File::open(&l.path).map_err(|e| io("opening", &l.path, e))?;
        let mut h = HashingReader::new(&mut f);
        std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| io("reading", &l.path, e))?;
        let (blob_digest, blob_size) = h.finish();
        let blob_path = store.blob_path(&blob_digest);
        if !blob_path.exists() {
            std::fs::copy(&l.path, &blob_path).map_err(|e| io("storing", &blob_path, e))?;
        }
        let known: Option<i64> = db_conn
            .query_row(
                "SELECT size FROM layers WHERE chain_id = ?1",
                [&chains[i]],
                |r| r.get(0),
            )
            .ok();
        let size = match known {
            Some(s) => s as u64,
            None => {
                let (link, n) = store.install_layer(&blob_path, &diff_ids[i], &chains[i])?;
                db_conn.execute(
                    "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, short_link, size) VALUES (?1, ?2, NULL, ?3, ?4)",
                    params![chains[i], diff_ids[i], link, n as i64],
                )?;
                n
            }
        };
        infos.push(LayerInfo {
            chain_id: chains[i].clone(),
            diff_id: diff_ids[i].clone(),
            blob_digest,
            media_type: l.media_type.clone(),
            blob_size,
            size,
        });
    }
    let id = hex_of(&config_digest).to_string();
    let mut rec = ImageRecord {
        id: id.clone(),
        digest: String::new(),
        manifest_media_type: String::new(),
        repo_digests: Vec::new(),
        config: config.clone(),
        size: infos.iter().map(|l| l.size).sum(),
        layers: infos,
        created: config["created"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now),
        added: Utc::now(),
        names: Vec::new(),
    };
    let (mbytes, mtype) = match manifest {
        Some(m) => m,
        None => {
            let m = generated_manifest(&rec, config_bytes.len());
            (m, "application/vnd.oci.image.manifest.v1+json".to_string())
        }
    };
    rec.digest = sha256_digest(&mbytes);
    rec.manifest_media_type = mtype;
    store.put_blob(&rec.digest, &mbytes)?;
    let tx = db_conn.transaction()?;
    let exists: i64 = tx.query_row("SELECT COUNT(*) FROM images WHERE id = ?1", [&id], |r| {
        r.get(0)
    })?;
    if exists == 0 {
        tx.execute(
            "INSERT INTO images (id, data, created) VALUES (?1, ?2, ?3)",
            params![
                id,
                serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?,
                rec.added.timestamp_nanos_opt().unwrap_or(0)
            ],
        )?;
        for (i, l) in rec.layers.iter().enumerate() {
            tx.execute(
                "INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?1, ?2, ?3)",
                params![id, i as i64, l.chain_id],
            )?;
        }
    }
    for n in names {
        tx.execute("DELETE FROM image_names WHERE name = ?1", [n])?;
        tx.execute(
            "INSERT INTO image_names (name, image_id) VALUES (?1, ?2)",
            [n, &id],
        )?;
    }
    tx.commit()?;
    load_images(db_conn, Some(&id))?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal("ingested image vanished".into()))
}

fn generated_manifest(rec: &ImageRecord, config_size: usize) -> Vec<u8> {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", rec.id), "size": config_size},
        "layers": rec.layers.iter().map(|l| json!({"mediaType": l.media_type, "digest": l.blob_digest, "size": l.blob_size})).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&m).unwrap_or_default()
}

fn append_bytes<W: Write>(b: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append_data(&mut h, path, data)
        .map_err(|e| Error::io(format!("writing {path} to the archive"), e))
}

fn append_reader<W: Write>(
    b: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    r: impl Read,
) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append_data(&mut h, path, r)
        .map_err(|e| Error::io(format!("writing {path} to the archive"), e))
}

/// Writes a docker-archive of `images` (each with the names to record) to `out`.
pub fn save_docker_archive<W: Write>(
    store: &ImageStore,
    images: &[(ImageRecord, Vec<String>)],
    out: W,
) -> Result<()> {
    let mut b = tar::Builder::new(out);
    let mut manifest = Vec::new();
    let mut repositories = serde_json::Map::new();
    let mut written = std::collections::HashSet::new();
    for (img, names) in images {
        let config_name = format!("{}.json", img.id);
        if written.insert(config_name.clone()) {
            let cfg = std::fs::read(store.blob_path(&format!("sha256:{}", img.id)))
                .or_else(|_| serde_json::to_vec(&img.config).map_err(std::io::Error::other))
                .map_err(|e| Error::io("reading the image config", e))?;
            append_bytes(&mut b, &config_name, &cfg)?;
        }
        let mut layer_names = Vec::new();
        for l in &img.layers {
            let name = format!("{}.tar", hex_of(&l.diff_id));
            if written.insert(name.clone()) {
                let p = store.blob_path(&l.blob_digest);
                let f = std::fs::File::open(&p).map_err(|e| io("opening", &p, e))?;
                let plain = decompressed(f)?;
                append_reader(&mut b, &name, l.size, plain)?;
            }
            layer_names.push(name);
        }
        for n in names {
            if let Ok(r) = ImageRef::parse_normalized(n) {
                if let Some(t) = &r.tag {
                    let repo = repositories.entry(r.name()).or_insert_with(|| json!({}));
                    repo[t] = json!(img.id);
                }
            }
        }
        manifest.push(json!({"Config": config_name, "RepoTags": names, "Layers": layer_names}));
    }
    append_bytes(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap_or_default(),
    )?;
    append_bytes(
        &mut b,
        "repositories",
        &serde_json::to_vec(&repositories).unwrap_or_default(),
    )?;
    b.into_inner()
        .map_err(|e| Error::io("finishing the archive", e))?
        .flush()
        .map_err(|e| Error::io("finishing the archive", e))
}

/// Writes an oci-archive (an OCI image layout in a tar) of `images` to `out`.
pub fn save_oci_archive<W: Write>(
    store: &ImageStore,
    images: &[(ImageRecord, Vec<String>)],
    out: W,
) -> Result<()> {
    let mut b = tar::Builder::new(out);
    append_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut index = Vec::new();
    let mut written = std::collections::HashSet::new();
    for (img, names) in images {
        let (mbytes, mtype) = crate::images::push::manifest_of(store, img)?;
        let mdigest = sha256_digest(&mbytes);
        let mut blobs: Vec<String> = img.layers.iter().map(|l| l.blob_digest.clone()).collect();
        blobs.push(format!("sha256:{}", img.id));
        for d in blobs {
            if written.insert(d.clone()) {
                let p = store.blob_path(&d);
                let size = std::fs::metadata(&p)
                    .map_err(|e| io("reading", &p, e))?
                    .len();
                let f = std::fs::File::open(&p).map_err(|e| io("opening", &p, e))?;
                append_reader(&mut b, &format!("blobs/sha256/{}", hex_of(&d)), size, f)?;
            }
        }
        if written.insert(mdigest.clone()) {
            append_bytes(
                &mut b,
                &format!("blobs/sha256/{}", hex_of(&mdigest)),
                &mbytes,
            )?;
        }
        let mut desc = json!({"mediaType": mtype, "digest": mdigest, "size": mbytes.len()});
        if let Some(n) = names.first() {
            desc["annotations"] = json!({"org.opencontainers.image.ref.name": n});
        }
        index.push(desc);
    }
    let idx = json!({"schemaVersion": 2, "manifests": index});
    append_bytes(
        &mut b,
        "index.json",
        &serde_json::to_vec(&idx).unwrap_or_default(),
    )?;
    b.into_inner()
        .map_err(|e| Error::io("finishing the archive", e))?
        .flush()
        .map_err(|e| Error::io("finishing the archive", e))
}

/// Extracts an uploaded archive into `dir` (refusing entries that escape it).
pub fn extract_upload<R: Read>(r: R, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    let plain = decompressed(r)?;
    let mut a = tar::Archive::new(plain);
    for e in a
        .entries()
        .map_err(|e| Error::InvalidArg(format!("not a tar archive: {e}")))?
    {
        let mut e = e.map_err(|e| Error::InvalidArg(format!("reading the archive: {e}")))?;
        e.unpack_in(dir)
            .map_err(|e| Error::InvalidArg(format!("extracting the archive: {e}")))?;
    }
    Ok(())
}

/// Loads every image of an extracted docker-archive or OCI layout in `dir`.
pub fn load_dir(
    store: &ImageStore,
    conn: &mut rusqlite::Connection,
    dir: &Path,
) -> Result<Vec<ImageRecord>> {
    let read = |p: &str| std::fs::read(dir.join(p)).map_err(|e| io("reading", &dir.join(p), e));
    let mut out = Vec::new();
    if dir.join("manifest.json").exists() {
        let manifest: Value = serde_json::from_slice(&read("manifest.json")?)
            .map_err(|e| Error::InvalidArg(format!("bad manifest.json: {e}")))?;
        for entry in manifest.as_array().cloned().unwrap_or_default() {
            let config = read(entry["Config"].as_str().unwrap_or_default())?;
            let layers = entry["Layers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|l| LayerBlob {
                    path: dir.join(l.as_str().unwrap_or_default()),
                    media_type: "application/vnd.oci.image.layer.v1.tar".into(),
                })
                .collect();
            let names: Vec<String> = entry["RepoTags"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|n| n.as_str())
                .filter_map(|n| ImageRef::parse_normalized(n).ok().and_then(|r| r.tagged()))
                .collect();
            let mut rec = ingest(store, conn, &config, layers, None, &names)?;
            rec.names = names;
            out.push(rec);
        }
        return Ok(out);
    }
    if dir.join("index.json").exists() {
        let index: Value = serde_json::from_slice(&read("index.json")?)
            .map_err(|e| Error::InvalidArg(format!("bad index.json: {e}")))?;
        let blob = |d: &str| dir.join("blobs/sha256").join(hex_of(d));
        for desc in index["manifests"].as_array().cloned().unwrap_or_default() {
            let digest = desc["digest"].as_str().unwrap_or_default();
            let mbytes =
                std::fs::read(blob(digest)).map_err(|e| io("reading", &blob(digest), e))?;
            let m: Value = serde_json::from_slice(&mbytes)
                .map_err(|e| Error::InvalidArg(format!("bad manifest: {e}")))?;
            if m.get("manifests").is_some() {
                continue; // nested index: not supported for load
            }
            let cfg_d = m["config"]["digest"].as_str().unwrap_or_default();
            let config = std::fs::read(blob(cfg_d)).map_err(|e| io("reading", &blob(cfg_d), e))?;
            let layers = m["layers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|l| LayerBlob {
                    path: blob(l["digest"].as_str().unwrap_or_default()),
                    media_type: l["mediaType"].as_str().unwrap_or_default().to_string(),
                })
                .collect();
            let names: Vec<String> = desc["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .and_then(|n| ImageRef::parse_normalized(n).ok().and_then(|r| r.tagged()))
                .into_iter()
                .collect();
            let mt = m["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json")
                .to_string();
            let mut rec = ingest(store, conn, &config, layers, Some((mbytes, mt)), &names)?;
            rec.names = names;
            out.push(rec);
        }
        return Ok(out);
    }
    Err(Error::InvalidArg(
        "payload does not match any of the supported image formats (oci-archive, docker-archive)"
            .into(),
    ))
}

/// Options of an import (a root filesystem tar becoming a one-layer image).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Tag to give it (normalised), if any.
    pub reference: Option<String>,
    /// Dockerfile-style changes: `CMD`, `ENTRYPOINT`, `ENV`, `LABEL`, `EXPOSE`, `WORKDIR`,
    /// `USER`, `VOLUME`.
    pub changes: Vec<String>,
    pub message: String,
    pub os: String,
    pub arch: String,
}

fn json_or_words(s: &str) -> Value {
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(Value::is_array)
        .unwrap_or_else(|| json!(["/bin/sh", "-c", s]))
}

/// Applies Dockerfile-style `changes` to an image's container config.
pub fn apply_changes(cfg: &mut Value, changes: &[String]) -> Result<()> {
    for c in changes {
        let c = c.trim();
        let (inst, arg) = c.split_once([' ', '=']).unwrap_or((c, ""));
        let arg = arg.trim();
        match inst.to_ascii_uppercase().as_str() {
            "CMD" => cfg["Cmd"] = json_or_words(arg),
            "ENTRYPOINT" => cfg["Entrypoint"] = json_or_words(arg),
            "WORKDIR" => cfg["WorkingDir"] = json!(arg),
            "USER" => cfg["User"] = json!(arg),
            "ENV" => {
                let (k, v) = arg.split_once(['=', ' ']).unwrap_or((arg, ""));
                let mut env: Vec<Value> = cfg["Env"].as_array().cloned().unwrap_or_default();
                env.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&format!("{k}="))));
                env.push(json!(format!("{k}={}", v.trim_matches('"'))));
                cfg["Env"] = json!(env);
            }
            "LABEL" => {
                let (k, v) = arg.split_once(['=', ' ']).unwrap_or((arg, ""));
                if !cfg["Labels"].is_object() {
                    cfg["Labels"] = json!({});
                }
                cfg["Labels"][k.trim_matches('"')] = json!(v.trim_matches('"'));
            }
            "EXPOSE" => {
                if !cfg["ExposedPorts"].is_object() {
                    cfg["ExposedPorts"] = json!({});
                }
                for p in arg.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_string()
                    } else {
                        format!("{p}/tcp")
                    };
                    cfg["ExposedPorts"][p] = json!({});
                }
            }
            "VOLUME" => {
                if !cfg["Volumes"].is_object() {
                    cfg["Volumes"] = json!({});
                }
                let vols: Vec<String> = serde_json::from_str(arg)
                    .unwrap_or_else(|_| arg.split_whitespace().map(String::from).collect());
                for v in vols {
                    cfg["Volumes"][v] = json!({});
                }
            }
            other => {
                return Err(Error::InvalidArg(format!(
                    "{other:?} is not a valid change instruction"
                )))
            }
        }
    }
    Ok(())
}

/// Imports a root filesystem tar (compressed or not) at `tar_path` as a one-layer image.
pub fn import(
    store: &ImageStore,
    conn: &mut rusqlite::Connection,
    tar_path: &Path,
    opts: &ImportOptions,
) -> Result<ImageRecord> {
    let f = std::fs::File::open(tar_path).map_err(|e| io("opening", tar_path, e))?;
    let mut h = HashingReader::new(decompressed(f)?);
    std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| io("reading", tar_path, e))?;
    let (diff_id, _) = h.finish();
    let mut cfg =
        json!({"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]});
    apply_changes(&mut cfg, &opts.changes)?;
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let config = json!({
        "created": now,
        "architecture": if opts.arch.is_empty() { crate::system::go_arch() } else { opts.arch.as_str() },
        "os": if opts.os.is_empty() { "linux" } else { opts.os.as_str() },
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": now, "created_by": "/bin/sh -c #(nop) ADD file:imported in / ", "comment": opts.message}],
    });
    let bytes = serde_json::to_vec(&config).map_err(|e| Error::Internal(e.to_string()))?;
    let names: Vec<String> = match &opts.reference {
        Some(r) => vec![ImageRef::parse_normalized(r)?
            .tagged()
            .ok_or_else(|| Error::InvalidArg(format!("{r}: cannot tag with a digest")))?],
        None => vec![],
    };
    ingest(
        store,
        conn,
        &bytes,
        vec![LayerBlob {
            path: tar_path.to_path_buf(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        }],
        None,
        &names,
    )
}

/// Runs `f` with the database connection on a blocking thread (ingestion does file I/O
/// and several statements).
pub async fn with_conn<T, F>(db: &Db, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
{
    db.with_conn(f).await
}
