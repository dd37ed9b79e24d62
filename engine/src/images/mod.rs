//! Images: the content-addressed store (blobs by digest, unpacked layers keyed by ChainID
//! and shared between images), the registry client, reference resolution through
//! registries.conf, and the image trait the API crates call.

pub mod archive;
pub mod auth;
pub mod diff;
pub mod layer;
pub mod login;
pub mod manifest;
pub mod push;
pub mod reference;
pub mod registry;
pub mod search;
pub mod store;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::Result;

pub use auth::Credentials;
pub use push::{PushOptions, PushProgress, PushReport};
pub use reference::ImageRef;

/// One layer of an image (on-disk record, version 1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerInfo {
    /// `sha256:` ChainID: the key of the unpacked layer.
    pub chain_id: String,
    /// `sha256:` digest of the uncompressed tar.
    pub diff_id: String,
    /// `sha256:` digest of the blob as the registry served it.
    pub blob_digest: String,
    pub media_type: String,
    /// Size of the compressed blob.
    pub blob_size: u64,
    /// Size of the uncompressed tar.
    pub size: u64,
}

/// An image in the store (on-disk record, version 1). Names live in the `image_names` table
/// and are filled in when the record is read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Hex of the config digest (no `sha256:`).
    pub id: String,
    /// `sha256:` digest of the image manifest.
    pub digest: String,
    pub manifest_media_type: String,
    /// `name@digest` entries.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// The image configuration (OCI/Docker config JSON).
    pub config: serde_json::Value,
    pub layers: Vec<LayerInfo>,
    /// Sum of the layers' uncompressed sizes.
    pub size: u64,
    pub created: DateTime<Utc>,
    /// When it entered this store.
    pub added: DateTime<Utc>,
    /// Tagged names (`registry/repo:tag`), from `image_names`.
    #[serde(skip)]
    pub names: Vec<String>,
}

impl ImageRecord {
    /// `config.config` (entrypoint, cmd, env, labels...).
    pub fn container_config(&self) -> &serde_json::Value {
        &self.config["config"]
    }

    /// The image labels.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.container_config()["Labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether it has no name.
    pub fn dangling(&self) -> bool {
        self.names.is_empty()
    }
}

/// What `pull` fetches when a platform index is met.
#[derive(Debug, Clone, Default)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: String,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let os = it.next()?.to_string();
        let arch = it.next()?.to_string();
        let variant = it.next().unwrap_or_default().to_string();
        (!os.is_empty() && !arch.is_empty()).then_some(Platform { os, arch, variant })
    }
}

/// How a pull is asked for.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub reference: String,
    /// Docker semantics: short names always mean docker.io.
    pub compat: bool,
    pub platform: Option<Platform>,
    pub credentials: Option<Credentials>,
}

/// Progress of a pull, for the API's streams.
#[derive(Debug, Clone, PartialEq)]
pub enum PullProgress {
    /// Trying a source (`registry/repo:tag` as contacted).
    Trying(String),
    /// The resolved name whose manifest was found.
    Resolved(String),
    LayerExists {
        id: String,
    },
    LayerDownloading {
        id: String,
        current: u64,
        total: u64,
    },
    LayerDownloaded {
        id: String,
    },
    LayerExtracting {
        id: String,
    },
    LayerDone {
        id: String,
    },
    /// The image is in the store under this name.
    Done {
        id: String,
        digest: String,
        name: String,
    },
}

/// What a removal did.
#[derive(Debug, Clone, Default)]
pub struct RemoveReport {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
}

/// Archive formats of save/export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
}

impl ArchiveFormat {
    /// Parses Podman's format names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" | "docker-archive" | "docker-dir" => Some(ArchiveFormat::DockerArchive),
            "oci-archive" | "oci-dir" => Some(ArchiveFormat::OciArchive),
            _ => None,
        }
    }
}

pub use archive::ImportOptions;

/// Image operations.
#[async_trait]
pub trait ImageEngine: Send + Sync {
    /// Whether an image with this name or ID exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;
    /// All images, newest first.
    async fn list_images(&self) -> Result<Vec<ImageRecord>>;
    /// Where a layer is unpacked (for `GraphDriver` in inspect).
    fn layer_dir(&self, chain_id: &str) -> std::path::PathBuf;
    /// Finds an image by ID, ID prefix, name, or short name.
    async fn lookup_image(&self, name_or_id: &str) -> Result<ImageRecord>;
    /// Pulls an image, reporting progress.
    async fn pull(
        &self,
        opts: PullOptions,
        progress: mpsc::Sender<PullProgress>,
    ) -> Result<ImageRecord>;
    /// Adds a name (`repo[:tag]`, normalised) to an image.
    async fn tag(&self, name_or_id: &str, new_name: &str) -> Result<()>;
    /// Removes one name, or every name when `name` is None.
    async fn untag(&self, name_or_id: &str, name: Option<&str>) -> Result<Vec<String>>;
    /// Pushes an image to `destination` (a reference; Docker-normalised).
    async fn push(
        &self,
        name_or_id: &str,
        destination: &str,
        opts: PushOptions,
        progress: mpsc::Sender<PushProgress>,
    ) -> Result<PushReport>;
    /// Writes an archive of the images (by name or ID) to `out`; names given as names are
    /// recorded in it.
    async fn save_images(
        &self,
        names: Vec<String>,
        format: ArchiveFormat,
        out: Box<dyn std::io::Write + Send>,
    ) -> Result<()>;
    /// Loads a docker-archive or oci-archive (compressed or not) from a file.
    async fn load_archive(&self, path: std::path::PathBuf) -> Result<Vec<ImageRecord>>;
    /// Creates a manifest list (with `amend`, reuses an existing one); its ID.
    async fn manifest_create(
        &self,
        name: &str,
        images: Vec<String>,
        all: bool,
        amend: bool,
    ) -> Result<String>;
    /// Adds images to a manifest list.
    async fn manifest_add(
        &self,
        name: &str,
        images: Vec<String>,
        opts: manifest::ManifestAddOptions,
    ) -> Result<String>;
    /// Changes the annotations/platform of one instance.
    async fn manifest_annotate(
        &self,
        name: &str,
        instance: &str,
        opts: manifest::ManifestAnnotateOptions,
    ) -> Result<String>;
    /// Removes one instance (by digest).
    async fn manifest_remove_instance(&self, name: &str, instance: &str) -> Result<String>;
    /// Whether a manifest list of that name exists.
    async fn manifest_exists(&self, name: &str) -> Result<bool>;
    /// The list as Podman shows it.
    async fn manifest_inspect(
        &self,
        name: &str,
        opts: manifest::ManifestInspectOptions,
    ) -> Result<manifest::ManifestInspect>;
    /// Pushes the list (and with `all` its images) to a registry; the pushed digest.
    async fn manifest_push(
        &self,
        name: &str,
        destination: &str,
        opts: manifest::ManifestPushOptions,
        progress: mpsc::Sender<PushProgress>,
    ) -> Result<String>;
    /// Deletes the list.
    async fn manifest_delete(&self, name: &str) -> Result<RemoveReport>;
    /// Builds an image from a Containerfile in a build context tar, reporting progress.
    async fn build(
        &self,
        context_tar: std::path::PathBuf,
        opts: crate::build::BuildOptions,
        progress: mpsc::Sender<crate::build::BuildEvent>,
    ) -> Result<ImageRecord>;
    /// A new image from a container's filesystem changes (`commit`).
    async fn commit(
        &self,
        container: &str,
        opts: crate::containers::commit::CommitOptions,
    ) -> Result<ImageRecord>;
    /// Imports a root filesystem tar from a file as a one-layer image.
    async fn import_image(
        &self,
        path: std::path::PathBuf,
        opts: ImportOptions,
    ) -> Result<ImageRecord>;
    /// Searches registries for repositories matching `term`.
    async fn search(
        &self,
        term: &str,
        limit: usize,
        list_tags: bool,
        credentials: Option<Credentials>,
    ) -> Result<Vec<search::SearchResult>>;
    /// Changes of the image's top layer against the layers below.
    async fn image_changes(&self, name_or_id: &str) -> Result<Vec<diff::Change>>;
    /// Removes an image (or just the given name when it has others).
    async fn remove_image(&self, name_or_id: &str, force: bool) -> Result<RemoveReport>;
}
