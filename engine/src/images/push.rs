//! Pushing an image from the store to a registry: blobs the registry lacks, then the
//! manifest (the stored one, so digests are preserved; a generated OCI manifest for images
//! that never had one, such as imported or committed ones).

use serde_json::json;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::images::registry::RegistryClient;
use crate::images::store::ImageStore;
use crate::images::{Credentials, ImageRecord, ImageRef};
use crate::registries::RegistriesConf;

/// How a push is asked for.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// `Some(false)` disables TLS verification (`tlsVerify=false`).
    pub tls_verify: Option<bool>,
    pub credentials: Option<Credentials>,
}

/// Progress of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushProgress {
    /// A blob is being uploaded (short id).
    Pushing(String),
    /// A blob was already there.
    Exists(String),
    Pushed(String),
    /// The manifest is being written.
    WritingManifest,
}

/// What a push produced.
#[derive(Debug, Clone)]
pub struct PushReport {
    pub manifest_digest: String,
    pub manifest_size: usize,
}

/// The stored manifest of `img`, or a generated OCI one.
pub fn manifest_of(store: &ImageStore, img: &ImageRecord) -> Result<(Vec<u8>, String)> {
    if !img.digest.is_empty() {
        if let Ok(b) = std::fs::read(store.blob_path(&img.digest)) {
            return Ok((b, img.manifest_media_type.clone()));
        }
    }
    let config_digest = format!("sha256:{}", img.id);
    let config_size = std::fs::metadata(store.blob_path(&config_digest))
        .map(|m| m.len())
        .map_err(|e| Error::io("reading the image config", e))?;
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": img.layers.iter().map(|l| json!({
            "mediaType": if l.media_type.is_empty() { "application/vnd.oci.image.layer.v1.tar+gzip" } else { l.media_type.as_str() },
            "digest": l.blob_digest,
            "size": l.blob_size,
        })).collect::<Vec<_>>(),
    });
    Ok((
        serde_json::to_vec(&m).map_err(|e| Error::Internal(e.to_string()))?,
        "application/vnd.oci.image.manifest.v1+json".into(),
    ))
}

/// Pushes `img` to `dest` (a normalised reference).
pub async fn push(
    store: &ImageStore,
    registries: &RegistriesConf,
    img: &ImageRecord,
    dest: &ImageRef,
    opts: &PushOptions,
    progress: &mpsc::Sender<PushProgress>,
) -> Result<PushReport> {
    let insecure = match opts.tls_verify {
        Some(v) => !v,
        None => registries.is_insecure(&dest.name()),
    };
    let creds = opts
        .credentials
        .clone()
        .or_else(|| crate::images::auth::lookup(&dest.name()));
    let client = RegistryClient::connect(&dest.registry, insecure, creds.as_ref()).await;
    let config_digest = format!("sha256:{}", img.id);
    let mut blobs: Vec<String> = img.layers.iter().map(|l| l.blob_digest.clone()).collect();
    blobs.push(config_digest);
    for digest in blobs {
        let short: String = digest
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        let path = store.blob_path(&digest);
        // Progress is reported once the registry answered, so a push that cannot reach it
        // (TLS, DNS) fails before any progress, which the compat API turns into a 500.
        if client.push_blob(dest, &digest, &path).await? {
            let _ = progress.send(PushProgress::Pushed(short)).await;
        } else {
            let _ = progress.send(PushProgress::Exists(short)).await;
        }
    }
    let (manifest, media_type) = manifest_of(store, img)?;
    let _ = progress.send(PushProgress::WritingManifest).await;
    let digest = crate::images::layer::sha256_digest(&manifest);
    let size = manifest.len();
    client.push_manifest(dest, manifest, &media_type).await?;
    Ok(PushReport {
        manifest_digest: digest,
        manifest_size: size,
    })
}
