//! The OpenAPI description of the image, build and manifest routes: one [`Op`] per route
//! row the router serves, and the wire types of the JSON bodies the handlers emit (they
//! build them with `json!`; these types only describe them).

// The types below exist for their schemas: they are never built.
#![allow(dead_code)]

use std::collections::BTreeMap;

use api_core::openapi::Op;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::manifest::{ManifestListData, ManifestModifyReport, RemoveReport};

// --- Lists, inspect, history ---

/// An image of `GET /images/json` (Docker's `ImageSummary`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageSummary {
    /// `sha256:`-prefixed image ID.
    id: String,
    /// Always empty.
    parent_id: String,
    /// The image's names, `["<none>:<none>"]` for an untagged image.
    repo_tags: Vec<String>,
    /// `name@digest` entries.
    repo_digests: Vec<String>,
    /// Creation time, seconds since the epoch.
    created: i64,
    size: u64,
    shared_size: i64,
    virtual_size: u64,
    labels: BTreeMap<String, String>,
    /// Number of containers using the image (always 0 here).
    containers: i64,
    /// The image's names (empty for an untagged image).
    names: Vec<String>,
}

/// An image of `GET /libpod/images/json`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct LibpodImageSummary {
    /// Image ID (hex, without `sha256:`).
    id: String,
    parent_id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    /// Creation time, seconds since the epoch.
    created: i64,
    size: u64,
    shared_size: i64,
    virtual_size: u64,
    labels: BTreeMap<String, String>,
    containers: i64,
    names: Vec<String>,
    /// `sha256:` digest of the image manifest.
    digest: String,
    history: Vec<String>,
    read_only: bool,
    /// Whether the image has no name.
    dangling: bool,
    arch: String,
    os: String,
}

/// The container configuration of a compat image inspect (Docker's `ImageConfig`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageConfig {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    /// Ports as keys (`80/tcp`), empty objects as values.
    exposed_ports: Option<BTreeMap<String, Value>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    image: String,
    /// Paths as keys, empty objects as values.
    volumes: Option<BTreeMap<String, Value>>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    on_build: Option<Vec<String>>,
    /// `null` when the image has no labels.
    labels: Option<BTreeMap<String, String>>,
    stop_signal: Option<String>,
}

/// The storage driver and its directories for the image's layers.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageGraphDriverData {
    /// Always `overlay`.
    name: String,
    /// `UpperDir`, `LowerDir`, `WorkDir` (empty for an image without layers).
    data: BTreeMap<String, String>,
}

/// The layers of an image.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageRootFS {
    /// Always `layers`.
    #[serde(rename = "Type")]
    kind: String,
    /// The layers' `sha256:` diff IDs.
    layers: Vec<String>,
}

/// Local metadata of a compat image inspect.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageMetadata {
    last_tag_time: String,
}

/// `GET /images/{name}/json` (Docker's `ImageInspect`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageInspect {
    /// `sha256:`-prefixed image ID.
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    /// RFC 3339 creation time.
    created: String,
    container: String,
    container_config: ImageConfig,
    docker_version: String,
    author: String,
    config: ImageConfig,
    architecture: String,
    variant: String,
    os: String,
    size: u64,
    virtual_size: u64,
    graph_driver: ImageGraphDriverData,
    #[serde(rename = "RootFS")]
    root_fs: ImageRootFS,
    metadata: ImageMetadata,
}

/// The image's container configuration in a libpod inspect: only the keys the image sets.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct LibpodImageConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volumes: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
}

/// One entry of the image configuration's history (OCI `History`).
#[derive(Serialize, JsonSchema)]
struct ImageDataHistory {
    /// RFC 3339 time.
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    empty_layer: Option<bool>,
}

/// `GET /libpod/images/{name}/json` (Podman's `ImageData`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageData {
    /// Image ID (hex, without `sha256:`).
    id: String,
    /// `sha256:` digest of the image manifest.
    digest: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    /// RFC 3339 creation time.
    created: String,
    config: LibpodImageConfig,
    version: String,
    author: String,
    architecture: String,
    os: String,
    size: u64,
    virtual_size: u64,
    graph_driver: ImageGraphDriverData,
    #[serde(rename = "RootFS")]
    root_fs: ImageRootFS,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    /// The media type of the image manifest.
    manifest_type: String,
    user: String,
    /// The configuration's history, oldest first.
    history: Option<Vec<ImageDataHistory>>,
    names_history: Vec<String>,
}

/// One entry of an image history, newest first (Docker's `HistoryResponseItem`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct HistoryResponseItem {
    /// The image ID on the newest entry, `<missing>` on the others.
    id: String,
    /// Seconds since the epoch.
    created: i64,
    created_by: String,
    /// The image's names on the newest entry, else `null`.
    tags: Option<Vec<String>>,
    size: u64,
    comment: String,
}

/// `GET /libpod/images/{name}/tree`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageTreeReport {
    /// The text `podman image tree` prints.
    tree: String,
}

/// One change of an image's filesystem against its parent.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageChangeResponseItem {
    path: String,
    /// 0 modified, 1 added, 2 deleted.
    kind: u8,
}

// --- Remove, prune, search ---

/// One entry of a compat image removal or prune: either key.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageDeleteResponseItem {
    /// A name removed from the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    untagged: Option<String>,
    /// A deleted image's `sha256:` ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<String>,
}

/// `POST /images/prune` (Docker's `ImagePruneResponse`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImagePruneResponse {
    /// `null` when nothing was removed.
    images_deleted: Option<Vec<ImageDeleteResponseItem>>,
    space_reclaimed: u64,
}

/// One pruned image of `POST /libpod/images/prune`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImagesPruneReport {
    id: String,
    /// Always `null`.
    err: Option<String>,
    size: u64,
}

/// `DELETE /libpod/images/{name}` and `DELETE /libpod/images/remove`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct LibpodImagesRemoveReport {
    untagged: Vec<String>,
    deleted: Vec<String>,
    errors: Vec<String>,
    exit_code: i32,
}

/// A search result on the compat tree (Docker's `ImageSearchResponseItem`).
#[derive(Serialize, JsonSchema)]
struct ImageSearchResponseItem {
    name: String,
    description: String,
    star_count: u64,
    is_official: bool,
    is_automated: bool,
}

/// A search result on the libpod tree (Podman's `ImageSearchReport`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageSearchReport {
    index: String,
    name: String,
    description: String,
    stars: u64,
    official: String,
    automated: String,
    /// The tag with `listTags=true`, else empty.
    tag: String,
}

// --- IDs and reports ---

/// An image or manifest list ID (Docker's and Podman's `IdResponse`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImagesIdResponse {
    id: String,
}

/// `POST /libpod/images/import`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageImportReport {
    /// `sha256:`-prefixed ID of the imported image.
    id: String,
}

/// `POST /libpod/images/load`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImageLoadReport {
    /// The loaded images' names (`sha256:<id>` for an untagged one).
    names: Vec<String>,
}

/// `DELETE /libpod/manifests/{name}`: the v4 router removes the list (a remove report),
/// the v0-3 router removes the instance `digest` (the list's ID).
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum ManifestDeleteResponse {
    List(RemoveReport),
    Instance(ImagesIdResponse),
}

// --- Streams ---

/// Error details of a stream line.
#[derive(Serialize, JsonSchema)]
struct ImageErrorDetail {
    message: String,
}

/// Progress of a stream line: `{}` or the bytes done of a layer.
#[derive(Serialize, JsonSchema)]
struct ImageProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}

/// A line of `POST /images/create` (pull and import; Docker's `CreateImageInfo`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct CreateImageInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress_detail: Option<ImageProgressDetail>,
    /// The text of the progress bar.
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<String>,
    /// A layer's short ID, or the tag on the `Pulling from` line.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_detail: Option<ImageErrorDetail>,
}

/// The result of a compat push.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
struct ImagePushAux {
    tag: String,
    digest: String,
    size: u64,
}

/// A line of `POST /images/{name}/push` (Docker's `PushImageInfo`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct PushImageInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress_detail: Option<ImageProgressDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aux: Option<ImagePushAux>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_detail: Option<ImageErrorDetail>,
}

/// A line of `POST /libpod/images/{name}/push` without `quiet`.
#[derive(Serialize, JsonSchema)]
struct ImagePushStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    /// The pushed manifest's digest (last line).
    #[serde(skip_serializing_if = "Option::is_none")]
    manifestdigest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /libpod/images/{name}/push`: with `quiet` (the default) a JSON empty string, else
/// one `ImagePushStream` per line.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum LibpodImagePushResponse {
    Quiet(String),
    Line(ImagePushStream),
}

/// A line of `POST /libpod/images/pull`: `stream` lines, then `id` and `images` (or
/// `error`); with `compatMode=true` the lines are Docker's `CreateImageInfo`.
#[derive(Serialize, JsonSchema)]
struct LibpodImagesPullReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The pulled image's ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    images: Option<Vec<String>>,
}

/// The built image of a compat build.
#[derive(Serialize, JsonSchema)]
struct BuildAux {
    /// `sha256:`-prefixed image ID.
    #[serde(rename = "ID")]
    id: String,
}

/// A line of `POST /build` and `POST /libpod/build` (Docker's `BuildInfo`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct BuildInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    /// Compat tree only: the built image.
    #[serde(skip_serializing_if = "Option::is_none")]
    aux: Option<BuildAux>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_detail: Option<ImageErrorDetail>,
}

/// A line of `POST /images/load`.
#[derive(Serialize, JsonSchema)]
struct ImageLoadMessage {
    /// `Loaded image: <names>`.
    stream: String,
}

/// `POST /libpod/manifests/{name}/registry/{destination}`: with `quiet` (the default) one
/// `{"Id": digest}`; else `stream` lines with an empty `Id`, then the digest or `error`.
#[derive(Serialize, JsonSchema)]
struct ManifestPushReport {
    #[serde(rename = "Id")]
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The operations of the images router.
pub fn openapi() -> Vec<Op> {
    vec![
        // --- compat ---
        Op::post("/images/create?fromImage={fromImage}")
            .summary("Pull an image (Docker progress lines)")
            .lines::<CreateImageInfo>(),
        Op::post("/images/create?fromSrc={fromSrc}")
            .summary("Import a rootfs tarball sent as the body (fromSrc=-)")
            .lines::<CreateImageInfo>(),
        Op::get("/images/json")
            .summary("List images")
            .json::<Vec<ImageSummary>>(),
        Op::post("/images/load")
            .summary("Load images from a tar archive")
            .lines::<ImageLoadMessage>(),
        Op::post("/images/prune")
            .summary("Remove unused images")
            .json::<ImagePruneResponse>(),
        Op::get("/images/search")
            .summary("Search a registry")
            .json::<Vec<ImageSearchResponseItem>>(),
        Op::delete("/images/{name:.*}")
            .summary("Remove an image")
            .json::<Vec<ImageDeleteResponseItem>>(),
        Op::post("/images/{name:.*}/push")
            .summary("Push an image")
            .lines::<PushImageInfo>(),
        Op::get("/images/{name:.*}/get")
            .summary("Export an image as a docker-archive tar")
            .raw(200, "application/x-tar"),
        Op::get("/images/get")
            .summary("Export several images as a docker-archive tar")
            .raw(200, "application/x-tar"),
        Op::get("/images/{name:.*}/history")
            .summary("Image history")
            .json::<Vec<HistoryResponseItem>>(),
        Op::get("/images/{name:.*}/json")
            .summary("Inspect an image")
            .json::<ImageInspect>(),
        Op::post("/images/{name:.*}/tag")
            .summary("Tag an image")
            .empty(201),
        Op::post("/commit")
            .summary("Create an image from a container")
            .json_at::<ImagesIdResponse>(201),
        Op::post("/build")
            .summary("Build an image from a context tar")
            .lines::<BuildInfo>(),
        // --- libpod ---
        Op::post("/libpod/images/{name:.*}/push")
            .summary("Push an image")
            .lines::<LibpodImagePushResponse>(),
        Op::get("/libpod/images/{name:.*}/exists")
            .summary("Whether an image exists")
            .empty(204),
        Op::get("/libpod/images/{name:.*}/tree")
            .summary("The layer tree of an image")
            .json::<ImageTreeReport>(),
        Op::get("/libpod/images/{name:.*}/history")
            .summary("Image history")
            .json::<Vec<HistoryResponseItem>>(),
        Op::get("/libpod/images/json")
            .summary("List images")
            .json::<Vec<LibpodImageSummary>>(),
        Op::post("/libpod/images/load")
            .summary("Load images from an archive")
            .json::<ImageLoadReport>(),
        Op::post("/libpod/images/import")
            .summary("Import a rootfs tarball sent as the body")
            .json::<ImageImportReport>(),
        Op::delete("/libpod/images/remove")
            .summary("Remove several images")
            .json::<LibpodImagesRemoveReport>(),
        Op::delete("/libpod/images/{name:.*}")
            .summary("Remove an image")
            .json::<LibpodImagesRemoveReport>(),
        Op::post("/libpod/images/pull")
            .summary("Pull an image (progress lines)")
            .lines::<LibpodImagesPullReport>(),
        Op::post("/libpod/images/prune")
            .summary("Remove unused images")
            .json::<Vec<ImagesPruneReport>>(),
        Op::get("/libpod/images/search")
            .summary("Search a registry")
            .json::<Vec<ImageSearchReport>>(),
        Op::get("/libpod/images/{name:.*}/get")
            .summary("Export an image as an archive")
            .raw(200, "application/octet-stream"),
        Op::get("/libpod/images/export")
            .summary("Export several images as an archive")
            .raw(200, "application/octet-stream"),
        Op::get("/libpod/images/{name:.*}/json")
            .summary("Inspect an image")
            .json::<ImageData>(),
        Op::post("/libpod/images/{name:.*}/tag")
            .summary("Tag an image")
            .empty(201),
        Op::post("/libpod/commit")
            .summary("Create an image from a container")
            .json::<ImagesIdResponse>(),
        Op::post("/libpod/images/{name:.*}/untag")
            .summary("Remove one name (or all names) of an image")
            .empty(201),
        Op::get("/libpod/images/{name}/changes")
            .summary("Filesystem changes of an image against its parent")
            .json::<Vec<ImageChangeResponseItem>>(),
        Op::post("/libpod/build")
            .summary("Build an image from a context tar")
            .lines::<BuildInfo>(),
        // Always refused: podapid has a single image store.
        Op::post("/libpod/images/scp/{name:.*}")
            .summary("Copy an image to another store (not supported: always an error)"),
        // --- manifests (v0-3 and v4 routers; the v3 rows come first) ---
        Op::post("/libpod/manifests/{name}/push")
            .summary("Push a manifest list (v0-3)")
            .json::<ImagesIdResponse>(),
        Op::post("/libpod/manifests/{name:.*}/registry/{destination:.*}")
            .summary("Push a manifest list (v4)")
            .lines::<ManifestPushReport>(),
        Op::post("/build/prune")
            .summary("Remove build cache (Docker; podapid's layer cache is kept)")
            .json::<BuildPruneResponse>(),
        Op::post("/libpod/manifests/create")
            .summary("Create a manifest list (v0-3: 200; a list named `create` on v4: 201)")
            .json::<ImagesIdResponse>()
            .json_at::<ImagesIdResponse>(201),
        Op::post("/libpod/manifests/{name:.*}")
            .summary("Create a manifest list (v4)")
            .json_at::<ImagesIdResponse>(201),
        Op::get("/libpod/manifests/{name:.*}/exists")
            .summary("Whether a manifest list exists")
            .empty(204),
        Op::get("/libpod/manifests/{name:.*}/json")
            .summary("Inspect a manifest list")
            .json::<ManifestListData>(),
        Op::put("/libpod/manifests/{name:.*}")
            .summary("Add, remove or annotate instances of a manifest list (v4)")
            .json::<ManifestModifyReport>(),
        Op::post("/libpod/manifests/{name:.*}/add")
            .summary("Add images to a manifest list (v0-3)")
            .json::<ImagesIdResponse>(),
        Op::delete("/libpod/manifests/{name:.*}")
            .summary("Remove an instance (v0-3) or the manifest list (v4)")
            .json::<ManifestDeleteResponse>(),
    ]
}

/// Docker's answer to a build cache prune.
#[derive(Serialize, JsonSchema)]
struct BuildPruneResponse {
    /// IDs of removed cache records.
    #[serde(rename = "CachesDeleted")]
    caches_deleted: Vec<String>,
    /// Bytes freed.
    #[serde(rename = "SpaceReclaimed")]
    space_reclaimed: u64,
}
