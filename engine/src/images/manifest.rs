//! Manifest lists (Docker manifest lists / OCI image indexes) built locally, the way
//! `podman manifest` keeps them: a named list of instances (manifest digest, size, media
//! type, platform, annotations) plus, per instance, where its manifest and blobs come from
//! (an image of this store, or a registry repository), so a push can copy them.
//!
//! Storage: one row per list in the `manifest_lists` table (ID, unique normalised name, the
//! JSON record below, creation time). Every change is a read-modify-write of that row inside
//! one transaction, so concurrent edits never lose each other's instances and a crash leaves
//! the old or the new list. Instance manifests of local images are also kept as blobs (by
//! digest) before the row refers to them, so a push sends exactly the bytes that were
//! listed; a crash in between only leaves an unreferenced small blob.
//!
//! Names: a short name gets `localhost/` and `:latest` (libimage's `NormalizeName`); lookups
//! accept the ID, an ID prefix, the name, and short names. The index is serialised like
//! Podman's store does: OCI when an instance carries annotations or URLs, Docker when one
//! carries Docker-only `features` or when the list is empty, OCI otherwise. It must not know
//! HTTP: the API crate turns [`ManifestInspect`] into Podman's inspect JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::events::{Event, EventBus, EventType};
use crate::images::auth::Credentials;
use crate::images::layer::sha256_digest;
use crate::images::reference::{is_short_name, ImageRef};
use crate::images::registry::RegistryClient;
use crate::images::store::{load_images, resolve_image, ImageStore};
use crate::images::{ImageRecord, Platform, PushOptions, PushProgress, RemoveReport};
use crate::registries::RegistriesConf;
use crate::store::Db;

/// Docker's manifest list media type (what Podman's inspect always shows for a list).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// containers/image transports other than `docker` and `containers-storage`.
const OTHER_TRANSPORTS: &[&str] = &[
    "dir",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "sif",
    "tarball",
    "ostree",
];

/// The platform of an instance (on-disk record, version 1). `features` only exists in
/// Docker lists, `os_version`/`os_features` in both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub os_version: String,
    #[serde(default)]
    pub os_features: Vec<String>,
    #[serde(default)]
    pub variant: String,
    #[serde(default)]
    pub features: Vec<String>,
}

/// One instance of a list (on-disk record, version 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub media_type: String,
    /// `sha256:` digest of the instance's manifest.
    pub digest: String,
    /// Size of the instance's manifest.
    pub size: u64,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub platform: PlatformSpec,
    /// OCI-only: not part of a Docker list.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A list's content, format-neutral (on-disk record, version 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageIndex {
    #[serde(default)]
    pub manifests: Vec<IndexEntry>,
    /// Index-level annotations (OCI-only).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A stored manifest list.
#[derive(Debug, Clone)]
pub struct ManifestList {
    /// 64 hex digits, random (the list is not content-addressed, like Podman's).
    pub id: String,
    /// The normalised name (`localhost/abc:latest`).
    pub name: String,
    pub index: ImageIndex,
    pub created: DateTime<Utc>,
}

/// What `manifest inspect` found: a local list, or a registry's list or single manifest.
#[derive(Debug, Clone)]
pub struct ManifestInspect {
    /// Docker's list type for lists (Podman shows them in Docker form); a single image's own
    /// manifest type otherwise (its `manifests` are then empty).
    pub media_type: String,
    pub index: ImageIndex,
    /// Podman shows `"manifests": null`, not `[]`, for a list that never had an instance
    /// (emptied ones show `[]`) and for a single image's manifest.
    pub null_manifests: bool,
}

/// Platform overrides and annotations for an instance (`manifest annotate`, and the
/// first instance of each `manifest add`). Empty fields are left alone.
#[derive(Debug, Clone, Default)]
pub struct ManifestAnnotateOptions {
    /// `key=value` entries, joined over `annotations` (these win).
    pub annotation: Vec<String>,
    pub annotations: BTreeMap<String, String>,
    pub arch: String,
    pub features: Vec<String>,
    pub os: String,
    pub os_features: Vec<String>,
    pub os_version: String,
    pub variant: String,
}

impl ManifestAnnotateOptions {
    fn sets_platform(&self) -> bool {
        !(self.arch.is_empty()
            && self.features.is_empty()
            && self.os.is_empty()
            && self.os_features.is_empty()
            && self.os_version.is_empty()
            && self.variant.is_empty())
    }
}

/// How images are added to a list.
#[derive(Debug, Clone, Default)]
pub struct ManifestAddOptions {
    /// For a registry index: add every instance instead of the one for this host.
    pub all: bool,
    /// Applied to the first instance each image adds.
    pub annotate: ManifestAnnotateOptions,
    /// `Some(false)` disables TLS verification for registry sources.
    pub tls_verify: Option<bool>,
    pub credentials: Option<Credentials>,
}

/// How `manifest inspect` reaches registries when the name is no local list.
#[derive(Debug, Clone, Default)]
pub struct ManifestInspectOptions {
    pub tls_verify: Option<bool>,
    pub credentials: Option<Credentials>,
}

/// How a list is pushed.
#[derive(Debug, Clone, Default)]
pub struct ManifestPushOptions {
    /// Push every instance (manifest and blobs) first; otherwise only the list, whose
    /// instances the registry must already have.
    pub all: bool,
    /// `""` (the stored form), `oci`, `v2s2` or `docker`: the list's format.
    pub format: String,
    /// `Some(false)` disables TLS verification (sources and destination, like Podman's one
    /// system context).
    pub tls_verify: Option<bool>,
    pub credentials: Option<Credentials>,
}

/// Where an image given to `manifest add` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddSource {
    /// `containers-storage:[store-spec]name-or-id`: an image of this store.
    Local(String),
    /// `docker://ref`, or a reference without transport (Podman's meaning: a registry, with
    /// Docker's normalisation, not a local image).
    Registry(ImageRef),
}

/// Where an instance's manifest and blobs are found at push time (on-disk record, version 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum InstanceSource {
    Local { image_id: String },
    Registry { repository: String },
}

/// The JSON of a `manifest_lists` row (on-disk record, version 1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ListRecord {
    index: ImageIndex,
    /// Instance digest → source.
    #[serde(default)]
    instances: BTreeMap<String, InstanceSource>,
    /// Whether an instance was ever added (an emptied list inspects as `[]`, a new one as
    /// `null`).
    #[serde(default)]
    had_instances: bool,
}

// --- Registry JSON (field order and omissions as Go's encoders write them) ---

#[derive(Serialize)]
struct PlatformJson {
    architecture: String,
    os: String,
    #[serde(rename = "os.version", skip_serializing_if = "String::is_empty")]
    os_version: String,
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    os_features: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    features: Vec<String>,
}

impl PlatformJson {
    fn of(p: &PlatformSpec, docker: bool) -> Self {
        PlatformJson {
            architecture: p.architecture.clone(),
            os: p.os.clone(),
            os_version: p.os_version.clone(),
            os_features: p.os_features.clone(),
            variant: p.variant.clone(),
            features: if docker {
                p.features.clone()
            } else {
                Vec::new()
            },
        }
    }
}

#[derive(Serialize)]
struct DockerEntryJson {
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
    digest: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    platform: PlatformJson,
}

#[derive(Serialize)]
struct DockerListJson {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: Vec<DockerEntryJson>,
}

#[derive(Serialize)]
struct OciEntryJson {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    platform: PlatformJson,
}

#[derive(Serialize)]
struct OciIndexJson {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: Vec<OciEntryJson>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn strings_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn map_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn platform_of(v: &Value) -> PlatformSpec {
    PlatformSpec {
        architecture: str_of(&v["architecture"]),
        os: str_of(&v["os"]),
        os_version: str_of(&v["os.version"]),
        os_features: strings_of(&v["os.features"]),
        variant: str_of(&v["variant"]),
        features: strings_of(&v["features"]),
    }
}

/// An instance's platform as its image config states it (`os`, `architecture`, `variant`,
/// `os.version`, `os.features`).
pub fn platform_from_config(config: &Value) -> PlatformSpec {
    PlatformSpec {
        features: Vec::new(),
        ..platform_of(config)
    }
}

/// Arm's implied variants, so `arm64` and `arm64/v8` match like in containers/image.
fn normalized_variant(arch: &str, variant: &str) -> String {
    match (arch, variant) {
        ("arm64", "") => "v8".into(),
        ("arm", "") => "v7".into(),
        _ => variant.to_string(),
    }
}

impl ImageIndex {
    /// Reads a Docker manifest list or an OCI index (leniently: missing fields are empty).
    pub fn from_json(v: &Value) -> ImageIndex {
        let manifests = v["manifests"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| IndexEntry {
                        media_type: str_of(&m["mediaType"]),
                        digest: str_of(&m["digest"]),
                        size: m["size"].as_u64().unwrap_or(0),
                        urls: strings_of(&m["urls"]),
                        platform: platform_of(&m["platform"]),
                        annotations: map_of(&m["annotations"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ImageIndex {
            manifests,
            annotations: map_of(&v["annotations"]),
        }
    }

    /// The format Podman's store writes a list in after a change: OCI when an instance has
    /// annotations or URLs (OCI-only data), Docker when one has `features` (Docker-only) or
    /// when the list is empty, OCI otherwise.
    pub fn storage_media_type(&self) -> &'static str {
        if self
            .manifests
            .iter()
            .any(|m| !m.urls.is_empty() || !m.annotations.is_empty())
        {
            return OCI_INDEX;
        }
        if self
            .manifests
            .iter()
            .any(|m| !m.platform.features.is_empty())
        {
            return DOCKER_LIST;
        }
        if self.manifests.is_empty() {
            DOCKER_LIST
        } else {
            OCI_INDEX
        }
    }

    /// The list serialised as `media_type` (Docker list or OCI index).
    pub fn to_bytes(&self, media_type: &str) -> Result<Vec<u8>> {
        let out = match media_type {
            DOCKER_LIST => serde_json::to_vec(&DockerListJson {
                schema_version: 2,
                media_type: DOCKER_LIST,
                manifests: self
                    .manifests
                    .iter()
                    .map(|m| DockerEntryJson {
                        media_type: m.media_type.clone(),
                        size: m.size,
                        digest: m.digest.clone(),
                        urls: m.urls.clone(),
                        platform: PlatformJson::of(&m.platform, true),
                    })
                    .collect(),
            }),
            OCI_INDEX => serde_json::to_vec(&OciIndexJson {
                schema_version: 2,
                media_type: OCI_INDEX,
                manifests: self
                    .manifests
                    .iter()
                    .map(|m| OciEntryJson {
                        media_type: m.media_type.clone(),
                        digest: m.digest.clone(),
                        size: m.size,
                        urls: m.urls.clone(),
                        annotations: m.annotations.clone(),
                        platform: PlatformJson::of(&m.platform, false),
                    })
                    .collect(),
                annotations: self.annotations.clone(),
            }),
            other => {
                return Err(Error::InvalidArg(format!(
                "serializing list to type {other:?} not implemented: manifest type not supported"
            )))
            }
        };
        out.map_err(|e| Error::Internal(format!("serializing a manifest list: {e}")))
    }

    /// Adds an instance; an instance with the same digest is replaced (annotations and
    /// overrides included) and the new one goes last, like Podman's `AddInstance`.
    pub fn add_instance(&mut self, entry: IndexEntry) {
        self.manifests.retain(|m| m.digest != entry.digest);
        self.manifests.push(entry);
    }

    /// Removes every instance with `digest`.
    pub fn remove_instance(&mut self, digest: &str) -> Result<()> {
        let before = self.manifests.len();
        self.manifests.retain(|m| m.digest != digest);
        if self.manifests.len() == before {
            return Err(Error::InvalidArg(format!(
                "no instance matching digest {digest:?} found in manifest list: file does not exist"
            )));
        }
        Ok(())
    }

    /// Applies platform overrides (non-empty fields only) and replaces the instance's
    /// annotations when any are given. Nothing to apply is no error, even for an unknown
    /// digest (as in Podman).
    pub fn annotate(&mut self, digest: &str, opts: &ManifestAnnotateOptions) -> Result<()> {
        let annotations = merge_annotations(&opts.annotation, &opts.annotations)?;
        let sets_platform = opts.sets_platform();
        if !sets_platform && annotations.is_empty() {
            return Ok(());
        }
        let Some(e) = self.manifests.iter_mut().find(|m| m.digest == digest) else {
            // Podman looks the platform fields up in its Docker form, annotations in its OCI form.
            let form = if sets_platform { "Docker" } else { "OCI" };
            return Err(Error::InvalidArg(format!(
                "no {form} manifest matching digest {digest:?} was found in list: no image instance matching the specified digest was found in the list or index"
            )));
        };
        let p = &mut e.platform;
        if !opts.os.is_empty() {
            p.os = opts.os.clone();
        }
        if !opts.os_version.is_empty() {
            p.os_version = opts.os_version.clone();
        }
        if !opts.features.is_empty() {
            p.features = opts.features.clone();
        }
        if !opts.os_features.is_empty() {
            p.os_features = opts.os_features.clone();
        }
        if !opts.arch.is_empty() {
            p.architecture = opts.arch.clone();
        }
        if !opts.variant.is_empty() {
            p.variant = opts.variant.clone();
        }
        if !annotations.is_empty() {
            e.annotations = annotations;
        }
        Ok(())
    }

    /// The instance for `want`: same OS and architecture and (Arm defaults applied) variant;
    /// without a wanted variant, any variant of the architecture as a fallback.
    pub fn choose_instance(&self, want: &Platform) -> Option<&IndexEntry> {
        let same =
            |e: &IndexEntry| e.platform.os == want.os && e.platform.architecture == want.arch;
        let variant = normalized_variant(&want.arch, &want.variant);
        self.manifests
            .iter()
            .find(|&e| {
                same(e)
                    && normalized_variant(&e.platform.architecture, &e.platform.variant) == variant
            })
            .or_else(|| {
                if want.variant.is_empty() {
                    self.manifests.iter().find(|&e| same(e))
                } else {
                    None
                }
            })
    }
}

/// Joins `key=value` entries over a map (entries win), like Podman's `envLib.Join`.
pub fn merge_annotations(
    list: &[String],
    map: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = map.clone();
    for spec in list {
        let (k, v) = spec
            .split_once('=')
            .ok_or_else(|| Error::InvalidArg(format!("no value given for annotation {spec:?}")))?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Validates a digest like go-digest's `Parse`, with its error texts.
pub fn check_digest(s: &str) -> std::result::Result<(), &'static str> {
    const FORMAT: &str = "invalid checksum digest format";
    let Some(i) = s.find(':') else {
        return Err(FORMAT);
    };
    if i == 0 || i + 1 == s.len() {
        return Err(FORMAT);
    }
    let (alg, hex) = (&s[..i], &s[i + 1..]);
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            let alg_ok = alg.split(['+', '.', '_', '-']).all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            let hex_ok = hex
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
            return Err(if alg_ok && hex_ok {
                "unsupported digest algorithm"
            } else {
                FORMAT
            });
        }
    };
    if hex.len() != len {
        return Err("invalid checksum digest length");
    }
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(FORMAT);
    }
    Ok(())
}

/// The name a new list is stored under: short names get `localhost/`, and `:latest` when
/// neither tag nor digest is given.
pub fn normalize_list_name(name: &str) -> Result<String> {
    let mut r = ImageRef::parse_with(name.trim(), "localhost")?;
    if r.tag.is_none() && r.digest.is_none() {
        r.tag = Some("latest".into());
    }
    Ok(r.full())
}

/// Podman's `IsRegistryReference`: only the `docker` transport (or none) is accepted.
pub fn check_registry_reference(s: &str) -> std::result::Result<(), String> {
    if let Some((t, _)) = s.split_once(':') {
        if t == "containers-storage" || OTHER_TRANSPORTS.contains(&t) {
            return Err(format!(
                "unsupported transport {t} in {s:?}: only docker transport is supported"
            ));
        }
    }
    Ok(())
}

/// A push destination: a registry reference, `docker://` optional, Docker-normalised.
pub fn parse_destination(s: &str) -> Result<ImageRef> {
    check_registry_reference(s).map_err(Error::InvalidArg)?;
    ImageRef::parse_normalized(s.strip_prefix("docker://").unwrap_or(s))
}

/// Parses an image given to `manifest add` the way libimage does: a known transport
/// prefix, else `docker://` is assumed.
pub fn parse_add_source(s: &str) -> Result<AddSource> {
    if let Some(rest) = s.strip_prefix("containers-storage:") {
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map(|(_, n)| n).ok_or_else(|| {
                Error::InvalidArg(format!(
                    "invalid reference format: {s:?}: unterminated store specifier"
                ))
            })?,
            None => rest,
        };
        if rest.is_empty() {
            return Err(Error::InvalidArg(format!(
                "invalid reference format: {s:?}: no image name"
            )));
        }
        return Ok(AddSource::Local(rest.to_string()));
    }
    if let Some(rest) = s.strip_prefix("docker://") {
        return Ok(AddSource::Registry(ImageRef::parse_normalized(rest)?));
    }
    if let Some((t, _)) = s.split_once(':') {
        if OTHER_TRANSPORTS.contains(&t) {
            return Err(Error::NotImplemented(format!(
                "adding {s:?} to a manifest list: the {t} transport is not supported"
            )));
        }
    }
    Ok(AddSource::Registry(ImageRef::parse_normalized(s)?))
}

/// The media type of a manifest whose fetch or record did not say.
fn guess_manifest_type(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    if let Some(mt) = v["mediaType"].as_str().filter(|m| !m.is_empty()) {
        return mt.to_string();
    }
    if v.get("manifests").is_some() {
        return OCI_INDEX.into();
    }
    if v["config"]["mediaType"].as_str() == Some(DOCKER_CONFIG) {
        return DOCKER_MANIFEST.into();
    }
    OCI_MANIFEST.into()
}

fn is_index(media_type: &str, v: &Value) -> bool {
    media_type.contains("index")
        || media_type.contains("manifest.list")
        || v.get("manifests").is_some()
}

fn host_platform() -> Platform {
    Platform {
        os: "linux".into(),
        arch: crate::system::go_arch().into(),
        variant: String::new(),
    }
}

fn short_id(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

fn bad_manifest(what: &str, e: serde_json::Error) -> Error {
    Error::Registry {
        status: 500,
        message: format!("parsing manifest blob from {what}: {e}"),
    }
}

// --- Database ---

fn by_name(c: &Connection, name: &str) -> Result<Option<String>> {
    Ok(c.query_row(
        "SELECT id FROM manifest_lists WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()?)
}

/// Resolves a list name or ID like image lookups: exact name, full or prefix ID, the
/// `localhost/` normalisation, the search registries and Docker's normalisation for short
/// names, then any list whose repository ends with the short name.
fn resolve_list(c: &Connection, key: &str, search: &[String]) -> Result<Option<String>> {
    let key = key.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if let Some(id) = by_name(c, key)? {
        return Ok(Some(id));
    }
    let hexkey = key.strip_prefix("sha256:").unwrap_or(key);
    if !hexkey.is_empty() && hexkey.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut stmt =
            c.prepare("SELECT id FROM manifest_lists WHERE id LIKE ?1 || '%' LIMIT 2")?;
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
    if let Ok(n) = normalize_list_name(key) {
        if let Some(id) = by_name(c, &n)? {
            return Ok(Some(id));
        }
    }
    if !is_short_name(key) {
        return Ok(None);
    }
    for reg in search.iter().map(String::as_str).chain(["docker.io"]) {
        if let Ok(mut r) = ImageRef::parse_with(key, reg) {
            if r.tag.is_none() && r.digest.is_none() {
                r.tag = Some("latest".into());
            }
            if let Some(id) = by_name(c, &r.full())? {
                return Ok(Some(id));
            }
        }
    }
    let Ok(short) = ImageRef::parse_with(key, "localhost") else {
        return Ok(None);
    };
    let tag = short.tag.clone().unwrap_or_else(|| "latest".into());
    let suffix = format!("/{}:{tag}", short.repository);
    Ok(c
        .query_row(
            "SELECT id FROM manifest_lists WHERE substr(name, -length(?1)) = ?1 ORDER BY created LIMIT 1",
            [suffix],
            |r| r.get(0),
        )
        .optional()?)
}

fn load_list(c: &Connection, id: &str) -> Result<Option<(ManifestList, ListRecord)>> {
    let row: Option<(String, String, i64)> = c
        .query_row(
            "SELECT name, data, created FROM manifest_lists WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((name, data, created)) = row else {
        return Ok(None);
    };
    let rec: ListRecord = serde_json::from_str(&data)
        .map_err(|e| Error::Internal(format!("corrupt manifest list record {id}: {e}")))?;
    let list = ManifestList {
        id: id.to_string(),
        name,
        index: rec.index.clone(),
        created: DateTime::<Utc>::from_timestamp_nanos(created),
    };
    Ok(Some((list, rec)))
}

fn save_list(tx: &Transaction<'_>, id: &str, rec: &ListRecord) -> Result<()> {
    let data = serde_json::to_string(rec).map_err(|e| Error::Internal(e.to_string()))?;
    let n = tx.execute(
        "UPDATE manifest_lists SET data = ?2 WHERE id = ?1",
        params![id, data],
    )?;
    if n == 0 {
        return Err(Error::NoSuchImage(id.to_string()));
    }
    Ok(())
}

/// Inserts an empty list; `Ok(Err(owner))` when an image or list already has the name.
fn insert_list(
    tx: &Transaction<'_>,
    id: &str,
    name: &str,
    created: DateTime<Utc>,
) -> Result<std::result::Result<(), String>> {
    if let Some(other) = by_name(tx, name)? {
        return Ok(Err(other));
    }
    let image: Option<String> = tx
        .query_row(
            "SELECT image_id FROM image_names WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = image {
        return Ok(Err(other));
    }
    let data = serde_json::to_string(&ListRecord::default())
        .map_err(|e| Error::Internal(e.to_string()))?;
    tx.execute(
        "INSERT INTO manifest_lists (id, name, data, created) VALUES (?1, ?2, ?3, ?4)",
        params![id, name, data, created.timestamp_nanos_opt().unwrap_or(0)],
    )?;
    Ok(Ok(()))
}

/// A manifest fetched from a registry, with the client and location that served it.
struct Fetched {
    client: RegistryClient,
    contacted: ImageRef,
    bytes: Vec<u8>,
    digest: String,
    media_type: String,
}

/// Everything the manifest-list operations need from the runtime.
pub struct ManifestContext<'a> {
    pub store: &'a ImageStore,
    pub db: &'a Db,
    pub registries: &'a RegistriesConf,
    pub events: &'a EventBus,
}

impl ManifestContext<'_> {
    fn emit(&self, status: &str, id: &str, name: &str) {
        let mut e = Event::new(EventType::Image, status);
        e.id = id.to_string();
        e.name = name.to_string();
        self.events.emit(e);
    }

    async fn resolve(&self, name: &str) -> Result<Option<String>> {
        let key = name.to_string();
        let search = self.registries.unqualified_search_registries.clone();
        self.db.read(move |c| resolve_list(c, &key, &search)).await
    }

    async fn resolve_required(&self, name: &str) -> Result<String> {
        self.resolve(name)
            .await?
            .ok_or_else(|| Error::NoSuchImage(name.to_string()))
    }

    async fn record(&self, name: &str) -> Result<(ManifestList, ListRecord)> {
        let id = self.resolve_required(name).await?;
        self.db
            .read(move |c| load_list(c, &id))
            .await?
            .ok_or_else(|| Error::NoSuchImage(name.to_string()))
    }

    /// Whether `name` is a manifest list of this store.
    pub async fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.resolve(name).await?.is_some())
    }

    /// The list named `name` (NoSuchImage when there is none).
    pub async fn lookup(&self, name: &str) -> Result<ManifestList> {
        Ok(self.record(name).await?.0)
    }

    /// Creates an empty list named `name` (normalised) and adds `images` to it. With
    /// `amend`, an existing list of that name is used instead. Returns the list's ID.
    pub async fn create(
        &self,
        name: &str,
        images: &[String],
        all: bool,
        amend: bool,
    ) -> Result<String> {
        if name.trim().is_empty() {
            return Err(Error::InvalidArg(
                "no name specified for creating a manifest list".into(),
            ));
        }
        let normalized = normalize_list_name(name)?;
        let (id, n2) = (crate::ids::new_id(), normalized.clone());
        let id2 = id.clone();
        let created = self
            .db
            .write(move |tx| insert_list(tx, &id2, &n2, Utc::now()))
            .await?;
        let id = match created {
            Ok(()) => id,
            Err(owner) => {
                let in_use = Error::Runtime(format!(
                    "creating image to hold manifest list: image name {normalized:?} is already associated with image {owner:?}: that name is already in use"
                ));
                if !amend {
                    return Err(in_use);
                }
                match self.resolve(&normalized).await? {
                    Some(id) => id,
                    None => return Err(in_use),
                }
            }
        };
        let opts = ManifestAddOptions {
            all,
            ..Default::default()
        };
        for image in images {
            self.add_one(&id, image, &opts).await?;
        }
        Ok(id)
    }

    /// Adds each image (see [`parse_add_source`]); the first instance each image adds gets
    /// `opts.annotate`. Returns the list's ID.
    pub async fn add(
        &self,
        name: &str,
        images: &[String],
        opts: &ManifestAddOptions,
    ) -> Result<String> {
        if images.is_empty() {
            return Err(Error::InvalidArg(
                "manifest add requires at least one image".into(),
            ));
        }
        let id = self.resolve_required(name).await?;
        merge_annotations(&opts.annotate.annotation, &opts.annotate.annotations)?;
        for image in images {
            self.add_one(&id, image, opts).await?;
        }
        Ok(id)
    }

    /// Adds one image to list `id`; returns the digest of its first instance.
    async fn add_one(&self, id: &str, image: &str, opts: &ManifestAddOptions) -> Result<String> {
        let found = match parse_add_source(image)? {
            AddSource::Local(key) => vec![self.local_instance(&key).await?],
            AddSource::Registry(r) => self.registry_instances(&r, opts).await?,
        };
        let first = found
            .first()
            .map(|(e, _)| e.digest.clone())
            .ok_or_else(|| Error::InvalidArg(format!("{image}: no image instance to add")))?;
        let annotate = opts.annotate.clone();
        let (id2, first2) = (id.to_string(), first.clone());
        self.db
            .write(move |tx| {
                let (_, mut rec) =
                    load_list(tx, &id2)?.ok_or_else(|| Error::NoSuchImage(id2.clone()))?;
                rec.had_instances = true;
                for (entry, source) in found {
                    // The first source recorded for a digest is kept, like Podman.
                    rec.instances.entry(entry.digest.clone()).or_insert(source);
                    rec.index.add_instance(entry);
                }
                rec.index.annotate(&first2, &annotate)?;
                save_list(tx, &id2, &rec)
            })
            .await?;
        Ok(first)
    }

    /// An image of this store as an instance: its manifest (the stored one, or the one
    /// generated for images that never had one), kept as a blob so a push sends these
    /// bytes, and its config's platform.
    async fn local_instance(&self, key: &str) -> Result<(IndexEntry, InstanceSource)> {
        let (k, search) = (
            key.to_string(),
            self.registries.unqualified_search_registries.clone(),
        );
        let img: ImageRecord = self
            .db
            .read(move |c| {
                let Some(id) = resolve_image(c, &k, &search)? else {
                    return Ok(None);
                };
                Ok(load_images(c, Some(&id))?.into_iter().next())
            })
            .await?
            .ok_or_else(|| Error::NoSuchImage(key.to_string()))?;
        let (store, img2) = (self.store.clone(), img.clone());
        let (bytes, media_type) =
            tokio::task::spawn_blocking(move || crate::images::push::manifest_of(&store, &img2))
                .await
                .map_err(|e| Error::Internal(format!("reading a manifest: {e}")))??;
        let media_type = if media_type.is_empty() {
            guess_manifest_type(&bytes)
        } else {
            media_type
        };
        let digest = sha256_digest(&bytes);
        self.store.put_blob(&digest, &bytes)?;
        let entry = IndexEntry {
            media_type,
            digest,
            size: bytes.len() as u64,
            urls: Vec::new(),
            platform: platform_from_config(&img.config),
            annotations: BTreeMap::new(),
        };
        Ok((entry, InstanceSource::Local { image_id: img.id }))
    }

    /// Fetches `r`'s manifest through registries.conf (mirrors, rewritten locations), the
    /// first source that answers winning.
    async fn fetch(
        &self,
        r: &ImageRef,
        tls_verify: Option<bool>,
        credentials: Option<&Credentials>,
    ) -> Result<Fetched> {
        let mut last = None;
        for src in self.registries.pull_sources(&r.name())? {
            let contacted = r.relocated(&src.repository);
            let insecure = tls_verify.map(|v| !v).unwrap_or(src.insecure);
            let creds = credentials
                .cloned()
                .or_else(|| crate::images::auth::lookup(&r.name()))
                .or_else(|| crate::images::auth::lookup(&contacted.name()));
            let client =
                RegistryClient::connect(&contacted.registry, insecure, creds.as_ref()).await;
            match client.manifest(&contacted).await {
                Ok((bytes, digest, media_type)) => {
                    return Ok(Fetched {
                        client,
                        contacted,
                        bytes,
                        digest,
                        media_type,
                    })
                }
                Err(e @ Error::Registry { .. }) => {
                    tracing::debug!(source = %contacted, error = %e, "manifest source failed");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::NoSuchImage(r.full())))
    }

    /// The image config a manifest names, fetched from where the manifest came from.
    async fn config_of(client: &RegistryClient, at: &ImageRef, manifest: &[u8]) -> Result<Value> {
        let m: Value = serde_json::from_slice(manifest).map_err(|e| bad_manifest(&at.full(), e))?;
        let digest = m["config"]["digest"]
            .as_str()
            .ok_or_else(|| Error::Registry {
                status: 500,
                message: format!(
                    "reading configuration blob from {}: manifest without config",
                    at.full()
                ),
            })?;
        let bytes = client.blob_bytes(at, digest).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Registry {
            status: 500,
            message: format!("reading configuration blob from {}: {e}", at.full()),
        })
    }

    /// A registry reference as instances: a single manifest, or from an index the instance
    /// for this host (every instance with `all`). Platforms come from the index, or from
    /// the config when the index has none.
    async fn registry_instances(
        &self,
        r: &ImageRef,
        opts: &ManifestAddOptions,
    ) -> Result<Vec<(IndexEntry, InstanceSource)>> {
        let f = self
            .fetch(r, opts.tls_verify, opts.credentials.as_ref())
            .await?;
        let top: Value =
            serde_json::from_slice(&f.bytes).map_err(|e| bad_manifest(&r.full(), e))?;
        let source = InstanceSource::Registry {
            repository: r.name(),
        };
        if !is_index(&f.media_type, &top) {
            let config = Self::config_of(&f.client, &f.contacted, &f.bytes).await?;
            let media_type = if f.media_type.is_empty() {
                guess_manifest_type(&f.bytes)
            } else {
                f.media_type.clone()
            };
            let entry = IndexEntry {
                media_type,
                digest: f.digest.clone(),
                size: f.bytes.len() as u64,
                platform: platform_from_config(&config),
                ..Default::default()
            };
            return Ok(vec![(entry, source)]);
        }
        let index = ImageIndex::from_json(&top);
        let chosen: Vec<IndexEntry> = if opts.all {
            index.manifests.clone()
        } else {
            let want = host_platform();
            let e = index.choose_instance(&want).cloned().ok_or_else(|| Error::Registry {
                status: 404,
                message: format!(
                    "selecting image from manifest list in \"docker://{}\": choosing image instance: no image found in manifest list for architecture {:?}, variant {:?}, OS {:?}",
                    r.full(), want.arch, want.variant, want.os
                ),
            })?;
            vec![e]
        };
        let mut out = Vec::with_capacity(chosen.len());
        for mut e in chosen {
            let no_platform = e.platform.os.is_empty() || e.platform.architecture.is_empty();
            if no_platform || e.media_type.is_empty() {
                let mut at = f.contacted.clone();
                at.tag = None;
                at.digest = Some(e.digest.clone());
                let (bytes, _, media_type) = f.client.manifest(&at).await?;
                if e.media_type.is_empty() {
                    e.media_type = if media_type.is_empty() {
                        guess_manifest_type(&bytes)
                    } else {
                        media_type
                    };
                }
                if no_platform {
                    let p = platform_from_config(&Self::config_of(&f.client, &at, &bytes).await?);
                    if e.platform.os.is_empty() {
                        e.platform.os = p.os;
                        e.platform.os_version = p.os_version;
                        e.platform.os_features = p.os_features;
                    }
                    if e.platform.architecture.is_empty() {
                        e.platform.architecture = p.architecture;
                        e.platform.variant = p.variant;
                    }
                }
            }
            // Podman's AddInstance keeps neither the source's annotations nor its URLs.
            e.annotations.clear();
            e.urls.clear();
            out.push((e, source.clone()));
        }
        Ok(out)
    }

    /// Sets platform overrides and annotations of one instance. Returns the list's ID.
    pub async fn annotate(
        &self,
        name: &str,
        instance: &str,
        opts: &ManifestAnnotateOptions,
    ) -> Result<String> {
        check_digest(instance)
            .map_err(|e| Error::InvalidArg(format!("invalid image digest {instance:?}: {e}")))?;
        let id = self.resolve_required(name).await?;
        merge_annotations(&opts.annotation, &opts.annotations)?;
        let (id2, inst, opts) = (id.clone(), instance.to_string(), opts.clone());
        self.db
            .write(move |tx| {
                let (_, mut rec) =
                    load_list(tx, &id2)?.ok_or_else(|| Error::NoSuchImage(id2.clone()))?;
                rec.index.annotate(&inst, &opts)?;
                save_list(tx, &id2, &rec)
            })
            .await?;
        Ok(id)
    }

    /// Removes an instance by digest. Returns the list's ID.
    pub async fn remove_instance(&self, name: &str, instance: &str) -> Result<String> {
        check_digest(instance)
            .map_err(|e| Error::InvalidArg(format!("invalid image digest {instance:?}: {e}")))?;
        let id = self.resolve_required(name).await?;
        let (id2, inst) = (id.clone(), instance.to_string());
        self.db
            .write(move |tx| {
                let (_, mut rec) =
                    load_list(tx, &id2)?.ok_or_else(|| Error::NoSuchImage(id2.clone()))?;
                rec.index.remove_instance(&inst)?;
                rec.instances.remove(&inst);
                save_list(tx, &id2, &rec)
            })
            .await?;
        Ok(id)
    }

    /// A local list, else (Podman's `manifest inspect` of a plain image or unknown name) the
    /// registry's manifest for the name, shown in Docker form.
    pub async fn inspect(
        &self,
        name: &str,
        opts: &ManifestInspectOptions,
    ) -> Result<ManifestInspect> {
        if let Some(id) = self.resolve(name).await? {
            if let Some((list, rec)) = self.db.read(move |c| load_list(c, &id)).await? {
                return Ok(ManifestInspect {
                    media_type: DOCKER_LIST.into(),
                    null_manifests: list.index.manifests.is_empty() && !rec.had_instances,
                    index: list.index,
                });
            }
        }
        let mut last = None;
        for cand in self.candidates(name)? {
            let f = match self
                .fetch(&cand, opts.tls_verify, opts.credentials.as_ref())
                .await
            {
                Ok(f) => f,
                Err(e @ Error::Registry { .. }) => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let v: Value =
                serde_json::from_slice(&f.bytes).map_err(|e| bad_manifest(&cand.full(), e))?;
            if is_index(&f.media_type, &v) {
                // Converted to a Docker list, which has no annotations.
                let mut index = ImageIndex::from_json(&v);
                index.annotations.clear();
                for m in &mut index.manifests {
                    m.annotations.clear();
                }
                return Ok(ManifestInspect {
                    media_type: DOCKER_LIST.into(),
                    null_manifests: v["manifests"].is_null(),
                    index,
                });
            }
            let media_type = if f.media_type.is_empty() {
                guess_manifest_type(&f.bytes)
            } else {
                f.media_type
            };
            if media_type == DOCKER_MANIFEST {
                return Ok(ManifestInspect {
                    media_type,
                    index: ImageIndex::default(),
                    null_manifests: true,
                });
            }
            return Err(Error::InvalidArg(format!(
                "parsing manifest blob from {} as a {media_type:?}: not a manifest list",
                cand.full()
            )));
        }
        Err(last.unwrap_or_else(|| Error::NoSuchImage(name.to_string())))
    }

    /// The registry names a short name stands for (aliases, then the search registries),
    /// like a pull's.
    fn candidates(&self, name: &str) -> Result<Vec<ImageRef>> {
        crate::images::store::name_candidates(name, false, self.registries)
    }

    async fn client_for(
        &self,
        dest: &ImageRef,
        tls_verify: Option<bool>,
        credentials: Option<&Credentials>,
    ) -> RegistryClient {
        let insecure = match tls_verify {
            Some(v) => !v,
            None => self.registries.is_insecure(&dest.name()),
        };
        let creds = credentials
            .cloned()
            .or_else(|| crate::images::auth::lookup(&dest.name()));
        RegistryClient::connect(&dest.registry, insecure, creds.as_ref()).await
    }

    /// Pushes the list to `destination`: with `all`, every instance (blobs, then its
    /// manifest by digest) first; then the list itself. Returns the list's digest there.
    pub async fn push(
        &self,
        name: &str,
        destination: &str,
        opts: &ManifestPushOptions,
        progress: &mpsc::Sender<PushProgress>,
    ) -> Result<String> {
        let (list, rec) = self.record(name).await?;
        let media_type = match opts.format.as_str() {
            "" => list.index.storage_media_type(),
            "oci" => OCI_INDEX,
            "v2s2" | "docker" => DOCKER_LIST,
            other => {
                return Err(Error::InvalidArg(format!(
                    "unknown format {other:?}. Choose one of the supported formats: 'oci' or 'v2s2'"
                )))
            }
        };
        let dest = parse_destination(destination)?;
        if opts.all {
            for entry in &list.index.manifests {
                let mut at = dest.clone();
                at.tag = None;
                at.digest = Some(entry.digest.clone());
                match rec.instances.get(&entry.digest) {
                    Some(InstanceSource::Local { image_id }) => {
                        self.push_local(image_id, entry, &at, opts, progress)
                            .await?
                    }
                    Some(InstanceSource::Registry { repository }) => {
                        self.copy_remote(repository, entry, &at, opts, progress)
                            .await?
                    }
                    None => {
                        return Err(Error::InvalidArg(format!(
                            "instance {} of manifest list {}: where it comes from is not recorded",
                            entry.digest, list.id
                        )))
                    }
                }
            }
        }
        let bytes = list.index.to_bytes(media_type)?;
        let digest = sha256_digest(&bytes);
        let client = self
            .client_for(&dest, opts.tls_verify, opts.credentials.as_ref())
            .await;
        let _ = progress.send(PushProgress::WritingManifest).await;
        client.push_manifest(&dest, bytes, media_type).await?;
        self.emit("push", &list.id, destination);
        Ok(digest)
    }

    /// Pushes a local image's blobs and its listed manifest to `at` (a digest reference).
    async fn push_local(
        &self,
        image_id: &str,
        entry: &IndexEntry,
        at: &ImageRef,
        opts: &ManifestPushOptions,
        progress: &mpsc::Sender<PushProgress>,
    ) -> Result<()> {
        let id = image_id.to_string();
        let img = self
            .db
            .read(move |c| Ok(load_images(c, Some(&id))?.into_iter().next()))
            .await?
            .ok_or_else(|| Error::NoSuchImage(image_id.to_string()))?;
        let (store, img2) = (self.store.clone(), img.clone());
        let (current, _) =
            tokio::task::spawn_blocking(move || crate::images::push::manifest_of(&store, &img2))
                .await
                .map_err(|e| Error::Internal(format!("reading a manifest: {e}")))??;
        if sha256_digest(&current) == entry.digest {
            let popts = PushOptions {
                tls_verify: opts.tls_verify,
                credentials: opts.credentials.clone(),
            };
            crate::images::push::push(self.store, self.registries, &img, at, &popts, progress)
                .await?;
            return Ok(());
        }
        // The image's manifest is no longer the listed one (a generated manifest that
        // changed): send the same blobs under the listed bytes, kept when it was added.
        let listed = tokio::fs::read(self.store.blob_path(&entry.digest))
            .await
            .map_err(|e| Error::io(format!("reading manifest {}", entry.digest), e))?;
        let client = self
            .client_for(at, opts.tls_verify, opts.credentials.as_ref())
            .await;
        let mut blobs: Vec<String> = img.layers.iter().map(|l| l.blob_digest.clone()).collect();
        blobs.push(format!("sha256:{}", img.id));
        for d in blobs {
            let uploaded = client.push_blob(at, &d, &self.store.blob_path(&d)).await?;
            let ev = if uploaded {
                PushProgress::Pushed(short_id(&d))
            } else {
                PushProgress::Exists(short_id(&d))
            };
            let _ = progress.send(ev).await;
        }
        let _ = progress.send(PushProgress::WritingManifest).await;
        client.push_manifest(at, listed, &entry.media_type).await
    }

    /// Copies an instance that lives in a registry repository to `at` (a digest
    /// reference): its blobs, then its manifest.
    async fn copy_remote(
        &self,
        repository: &str,
        entry: &IndexEntry,
        at: &ImageRef,
        opts: &ManifestPushOptions,
        progress: &mpsc::Sender<PushProgress>,
    ) -> Result<()> {
        let mut src = ImageRef::parse_normalized(repository)?;
        src.tag = None;
        src.digest = Some(entry.digest.clone());
        let f = self
            .fetch(&src, opts.tls_verify, opts.credentials.as_ref())
            .await?;
        let m: Value =
            serde_json::from_slice(&f.bytes).map_err(|e| bad_manifest(&src.full(), e))?;
        let mut blobs: Vec<String> = Vec::new();
        if let Some(c) = m["config"]["digest"].as_str() {
            blobs.push(c.to_string());
        }
        if let Some(layers) = m["layers"].as_array() {
            blobs.extend(
                layers
                    .iter()
                    .filter_map(|l| l["digest"].as_str().map(String::from)),
            );
        }
        let client = self
            .client_for(at, opts.tls_verify, opts.credentials.as_ref())
            .await;
        for d in blobs {
            self.copy_blob(&f, &client, at, &d, progress).await?;
        }
        let media_type = if f.media_type.is_empty() {
            guess_manifest_type(&f.bytes)
        } else {
            f.media_type.clone()
        };
        let _ = progress.send(PushProgress::WritingManifest).await;
        client.push_manifest(at, f.bytes, &media_type).await
    }

    /// One blob from the source registry (or this store, when it has it) to `at`, downloaded
    /// to `tmp/` only when the destination lacks it.
    async fn copy_blob(
        &self,
        from: &Fetched,
        client: &RegistryClient,
        at: &ImageRef,
        digest: &str,
        progress: &mpsc::Sender<PushProgress>,
    ) -> Result<()> {
        let short = short_id(digest);
        let local = self.store.blob_path(digest);
        if local.exists() {
            let ev = if client.push_blob(at, digest, &local).await? {
                PushProgress::Pushed(short)
            } else {
                PushProgress::Exists(short)
            };
            let _ = progress.send(ev).await;
            return Ok(());
        }
        // `push_blob` asks the registry before it opens the file: with a path that does not
        // exist yet, a blob already there answers `false` and a missing one an I/O error.
        let tmp = self.store.tmp_path();
        match client.push_blob(at, digest, &tmp).await {
            Ok(uploaded) => {
                let ev = if uploaded {
                    PushProgress::Pushed(short)
                } else {
                    PushProgress::Exists(short)
                };
                let _ = progress.send(ev).await;
                return Ok(());
            }
            Err(Error::Io { .. }) => {}
            Err(e) => return Err(e),
        }
        let _ = progress.send(PushProgress::Pushing(short.clone())).await;
        let res: Result<bool> = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
            from.client
                .blob_to(&from.contacted, digest, &mut file, |_| {})
                .await?;
            drop(file);
            client.push_blob(at, digest, &tmp).await
        }
        .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        res?;
        let _ = progress.send(PushProgress::Pushed(short)).await;
        Ok(())
    }

    /// Deletes the list (not its instances' images).
    pub async fn delete(&self, name: &str) -> Result<RemoveReport> {
        let id = self.resolve_required(name).await?;
        let id2 = id.clone();
        let names: Vec<String> = self
            .db
            .write(move |tx| {
                let n: Option<String> = tx
                    .query_row(
                        "SELECT name FROM manifest_lists WHERE id = ?1",
                        [&id2],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute("DELETE FROM manifest_lists WHERE id = ?1", [&id2])?;
                Ok(n.into_iter().collect::<Vec<String>>())
            })
            .await?;
        for n in &names {
            self.emit("untag", &id, n);
        }
        self.emit(
            "remove",
            &id,
            names.first().map(String::as_str).unwrap_or(""),
        );
        Ok(RemoveReport {
            untagged: names,
            deleted: vec![id],
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The `manifest_lists` schema (the migration store.rs appends).
    const SCHEMA: &str = r#"
        CREATE TABLE image_names (name TEXT PRIMARY KEY, image_id TEXT NOT NULL);
        CREATE TABLE manifest_lists (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL,
            created INTEGER NOT NULL);
    "#;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn entry(c: char, arch: &str, variant: &str) -> IndexEntry {
        IndexEntry {
            media_type: DOCKER_MANIFEST.into(),
            digest: d(c),
            size: 528,
            platform: PlatformSpec {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn serialises_like_go() {
        let mut idx = ImageIndex::default();
        idx.add_instance(entry('a', "arm64", "v8"));
        let docker = String::from_utf8(idx.to_bytes(DOCKER_LIST).unwrap()).unwrap();
        assert_eq!(
            docker,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","size":528,"digest":"{}","platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
                d('a')
            )
        );
        idx.manifests[0].platform.features = vec!["sse4".into()];
        idx.manifests[0]
            .annotations
            .insert("foo".into(), "bar".into());
        let oci = String::from_utf8(idx.to_bytes(OCI_INDEX).unwrap()).unwrap();
        assert_eq!(
            oci,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":528,"annotations":{{"foo":"bar"}},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
                d('a')
            )
        );
        assert!(idx.to_bytes("text/plain").is_err());
        let back = ImageIndex::from_json(&serde_json::from_str(&oci).unwrap());
        assert_eq!(back.manifests[0].annotations["foo"], "bar");
        assert_eq!(back.manifests[0].platform.variant, "v8");
        assert!(back.manifests[0].platform.features.is_empty());
    }

    #[test]
    fn storage_format_follows_podman() {
        let mut idx = ImageIndex::default();
        assert_eq!(idx.storage_media_type(), DOCKER_LIST);
        idx.add_instance(entry('a', "amd64", ""));
        assert_eq!(idx.storage_media_type(), OCI_INDEX);
        idx.manifests[0].platform.features = vec!["f".into()];
        assert_eq!(idx.storage_media_type(), DOCKER_LIST);
        idx.manifests[0].annotations.insert("k".into(), "v".into());
        assert_eq!(idx.storage_media_type(), OCI_INDEX);
    }

    #[test]
    fn adding_a_digest_again_replaces_it_at_the_end() {
        let mut idx = ImageIndex::default();
        idx.add_instance(entry('a', "amd64", ""));
        idx.add_instance(entry('b', "arm64", ""));
        idx.manifests[0].annotations.insert("k".into(), "v".into());
        idx.add_instance(entry('a', "amd64", ""));
        let digests: Vec<&str> = idx.manifests.iter().map(|m| m.digest.as_str()).collect();
        assert_eq!(digests, vec![d('b'), d('a')]);
        assert!(idx.manifests[1].annotations.is_empty());
        idx.remove_instance(&d('b')).unwrap();
        let err = idx.remove_instance(&d('b')).unwrap_err().to_string();
        assert!(
            err.ends_with("found in manifest list: file does not exist"),
            "{err}"
        );
        assert_eq!(idx.manifests.len(), 1);
    }

    #[test]
    fn annotate_sets_given_fields_and_replaces_annotations() {
        let mut idx = ImageIndex::default();
        idx.add_instance(entry('a', "amd64", ""));
        let mut opts = ManifestAnnotateOptions {
            annotations: BTreeMap::from([("foo".to_string(), "bar".to_string())]),
            ..Default::default()
        };
        idx.annotate(&d('a'), &opts).unwrap();
        assert_eq!(idx.manifests[0].annotations["foo"], "bar");
        opts.annotations.clear();
        opts.annotation = vec!["hoge=fuga".into()];
        opts.variant = "v3".into();
        idx.annotate(&d('a'), &opts).unwrap();
        let m = &idx.manifests[0];
        assert_eq!(m.annotations.len(), 1);
        assert_eq!(m.annotations["hoge"], "fuga");
        assert_eq!(m.platform.variant, "v3");
        assert_eq!(m.platform.architecture, "amd64");
        // Nothing to set: no error even for an unknown digest.
        idx.annotate(&d('f'), &ManifestAnnotateOptions::default())
            .unwrap();
        let e = idx.annotate(&d('f'), &opts).unwrap_err().to_string();
        assert!(e.starts_with("no Docker manifest matching digest"), "{e}");
        let only_ann = ManifestAnnotateOptions {
            annotation: vec!["x=y".into()],
            ..Default::default()
        };
        let e = idx.annotate(&d('f'), &only_ann).unwrap_err().to_string();
        assert!(e.starts_with("no OCI manifest matching digest"), "{e}");
    }

    #[test]
    fn annotation_entries_join_over_the_map() {
        let base = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        let out = merge_annotations(&["b=3".into(), "c=x=y".into()], &base).unwrap();
        assert_eq!(out["a"], "1");
        assert_eq!(out["b"], "3");
        assert_eq!(out["c"], "x=y");
        let e = merge_annotations(&["novalue".into()], &base).unwrap_err();
        assert_eq!(e.to_string(), r#"no value given for annotation "novalue""#);
    }

    #[test]
    fn digests_are_checked_like_go_digest() {
        assert!(check_digest(&d('a')).is_ok());
        assert_eq!(check_digest("nope"), Err("invalid checksum digest format"));
        assert_eq!(
            check_digest("sha256:"),
            Err("invalid checksum digest format")
        );
        assert_eq!(
            check_digest("sha256:abc"),
            Err("invalid checksum digest length")
        );
        assert_eq!(
            check_digest(&format!("sha256:{}", "A".repeat(64))),
            Err("invalid checksum digest format")
        );
        assert_eq!(
            check_digest("md5:abcd"),
            Err("unsupported digest algorithm")
        );
        assert_eq!(
            check_digest("containers-storage:abc/def"),
            Err("invalid checksum digest format")
        );
    }

    #[test]
    fn platform_choice() {
        let mut idx = ImageIndex::default();
        idx.add_instance(entry('a', "amd64", ""));
        idx.add_instance(entry('b', "arm64", "v8"));
        idx.add_instance(entry('c', "arm", "v6"));
        idx.add_instance(entry('e', "arm", "v7"));
        let p = |arch: &str, variant: &str| Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: variant.into(),
        };
        assert_eq!(idx.choose_instance(&p("amd64", "")).unwrap().digest, d('a'));
        assert_eq!(idx.choose_instance(&p("arm64", "")).unwrap().digest, d('b'));
        assert_eq!(
            idx.choose_instance(&p("arm64", "v8")).unwrap().digest,
            d('b')
        );
        assert_eq!(idx.choose_instance(&p("arm", "")).unwrap().digest, d('e'));
        assert_eq!(idx.choose_instance(&p("arm", "v6")).unwrap().digest, d('c'));
        assert!(idx.choose_instance(&p("arm", "v5")).is_none());
        assert!(idx.choose_instance(&p("s390x", "")).is_none());
        let cfg = serde_json::json!({"os": "linux", "architecture": "arm", "variant": "v7", "os.version": "1"});
        let pf = platform_from_config(&cfg);
        assert_eq!(
            (
                pf.os.as_str(),
                pf.architecture.as_str(),
                pf.variant.as_str(),
                pf.os_version.as_str()
            ),
            ("linux", "arm", "v7", "1")
        );
    }

    #[test]
    fn sources_and_destinations() {
        assert_eq!(
            parse_add_source("containers-storage:abc123").unwrap(),
            AddSource::Local("abc123".into())
        );
        assert_eq!(
            parse_add_source("containers-storage:[overlay@/var/lib/c+/run/c]localhost/x:1")
                .unwrap(),
            AddSource::Local("localhost/x:1".into())
        );
        match parse_add_source("docker://alpine").unwrap() {
            AddSource::Registry(r) => assert_eq!(r.full(), "docker.io/library/alpine:latest"),
            other => panic!("{other:?}"),
        }
        match parse_add_source("localhost:5000/x/y:2").unwrap() {
            AddSource::Registry(r) => assert_eq!(r.full(), "localhost:5000/x/y:2"),
            other => panic!("{other:?}"),
        }
        assert!(parse_add_source("oci-archive:/tmp/x.tar").is_err());
        assert!(parse_add_source("containers-storage:").is_err());
        assert!(check_registry_reference("localhost:5000/xyz:latest").is_ok());
        assert!(check_registry_reference("docker://quay.io/x").is_ok());
        assert_eq!(
            check_registry_reference("oci:/tmp/x").unwrap_err(),
            r#"unsupported transport oci in "oci:/tmp/x": only docker transport is supported"#
        );
        assert_eq!(
            parse_destination("docker://localhost:5000/abc")
                .unwrap()
                .full(),
            "localhost:5000/abc:latest"
        );
        assert_eq!(normalize_list_name("abc").unwrap(), "localhost/abc:latest");
        assert_eq!(normalize_list_name("abc:v1").unwrap(), "localhost/abc:v1");
        assert_eq!(
            normalize_list_name("quay.io/a/b").unwrap(),
            "quay.io/a/b:latest"
        );
        assert!(normalize_list_name("ABC").is_err());
    }

    #[test]
    fn rows_resolve_by_name_id_and_short_name() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let id = "0123456789abcdef".repeat(4);
        let tx = c.transaction().unwrap();
        insert_list(&tx, &id, "localhost/abc:latest", Utc::now())
            .unwrap()
            .unwrap();
        tx.execute(
            "INSERT INTO image_names (name, image_id) VALUES ('localhost/img:latest', 'x')",
            [],
        )
        .unwrap();
        assert_eq!(
            insert_list(&tx, "other", "localhost/abc:latest", Utc::now()).unwrap(),
            Err(id.clone())
        );
        assert_eq!(
            insert_list(&tx, "other", "localhost/img:latest", Utc::now()).unwrap(),
            Err("x".to_string())
        );
        let mut rec = ListRecord::default();
        rec.index.add_instance(entry('a', "amd64", ""));
        rec.instances.insert(
            d('a'),
            InstanceSource::Local {
                image_id: "img".into(),
            },
        );
        save_list(&tx, &id, &rec).unwrap();
        assert!(save_list(&tx, "missing", &rec).is_err());
        tx.commit().unwrap();
        let search = vec!["docker.io".to_string()];
        let full = format!("sha256:{id}");
        for key in [
            "abc",
            "abc:latest",
            "localhost/abc:latest",
            &id[..12],
            full.as_str(),
        ] {
            assert_eq!(
                resolve_list(&c, key, &search).unwrap(),
                Some(id.clone()),
                "{key}"
            );
        }
        assert_eq!(resolve_list(&c, "abc:v2", &search).unwrap(), None);
        assert_eq!(resolve_list(&c, "nope", &search).unwrap(), None);
        let (list, back) = load_list(&c, &id).unwrap().unwrap();
        assert_eq!(list.name, "localhost/abc:latest");
        assert_eq!(list.index.manifests.len(), 1);
        assert_eq!(
            back.instances[&d('a')],
            InstanceSource::Local {
                image_id: "img".into()
            }
        );
    }

    #[test]
    fn manifest_types_are_guessed() {
        assert_eq!(guess_manifest_type(br#"{"mediaType":"x"}"#), "x");
        assert_eq!(guess_manifest_type(br#"{"manifests":[]}"#), OCI_INDEX);
        assert_eq!(
            guess_manifest_type(
                format!(r#"{{"config":{{"mediaType":"{DOCKER_CONFIG}"}}}}"#).as_bytes()
            ),
            DOCKER_MANIFEST
        );
        assert_eq!(guess_manifest_type(b"{}"), OCI_MANIFEST);
    }
}
