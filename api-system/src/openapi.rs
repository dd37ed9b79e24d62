//! The OpenAPI description of the system routes: `_ping`, version, info, events, disk usage,
//! prune, `/auth`, secrets, the OpenAPI document itself and the stubs that only say no.
//!
//! Most bodies are the wire types of [`crate::types`]; the ones the handlers build with
//! `json!` (`system df` in both shapes, libpod's `system prune`, `/auth`) are described here.
//! The stubs (`/plugins`, `/monitor`, `/distribution/…`, the swarm prefixes) and Docker's
//! secret update only ever answer errors, so their operations list no success answer.

#![allow(dead_code)]

use std::collections::BTreeMap;

use api_core::openapi::Op;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::types::{
    CompatInfo, EventMessage, LibpodInfo, SecretCreateReport, SecretInfoReport,
    SecretInfoReportCompat, VersionReport,
};

/// An image of compat `system df`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDataUsageImage {
    /// How many containers use the image.
    pub containers: u64,
    /// Creation time, in seconds since the epoch.
    pub created: i64,
    /// `sha256:` and the image ID.
    pub id: String,
    pub labels: BTreeMap<String, String>,
    /// Always empty.
    pub parent_id: String,
    pub repo_digests: Vec<String>,
    pub repo_tags: Vec<String>,
    /// Always -1 (not computed).
    pub shared_size: i64,
    pub size: u64,
    pub virtual_size: u64,
}

/// A container of compat `system df`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDataUsageContainer {
    pub id: String,
    /// The name with a leading `/`.
    pub names: Vec<String>,
    pub image: String,
    /// `sha256:` and the image ID.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// The command, joined with spaces.
    pub command: String,
    /// Creation time, in seconds since the epoch.
    pub created: i64,
    pub state: String,
    pub status: String,
    /// Bytes in the writable layer.
    pub size_rw: u64,
    /// The image's size plus the writable layer's.
    pub size_root_fs: u64,
    pub labels: BTreeMap<String, String>,
    /// Always empty.
    pub mounts: Vec<Value>,
}

/// A volume's usage in compat `system df`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDataUsageVolumeUsage {
    /// How many containers use the volume.
    pub ref_count: u64,
    pub size: u64,
}

/// A volume of compat `system df`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDataUsageVolume {
    /// RFC 3339, seconds.
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: String,
    pub name: String,
    /// `null` when the volume has no options.
    pub options: Option<BTreeMap<String, String>>,
    pub scope: String,
    pub usage_data: SystemDataUsageVolumeUsage,
}

/// `GET /system/df`: Docker's disk usage report.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDataUsageResponse {
    /// Bytes of all distinct layers.
    pub layers_size: u64,
    pub images: Vec<SystemDataUsageImage>,
    pub containers: Vec<SystemDataUsageContainer>,
    pub volumes: Vec<SystemDataUsageVolume>,
    /// Always empty.
    pub build_cache: Vec<Value>,
}

/// An image name of libpod `system df` (one entry per repository and tag).
#[derive(Serialize, JsonSchema)]
pub struct SystemDfImageReport {
    /// `<none>` for an untagged image.
    #[serde(rename = "Repository")]
    pub repository: String,
    /// `<none>` for an untagged image.
    #[serde(rename = "Tag")]
    pub tag: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// RFC 3339, nanoseconds.
    #[serde(rename = "Created")]
    pub created: String,
    #[serde(rename = "Size")]
    pub size: u64,
    /// Always 0.
    #[serde(rename = "SharedSize")]
    pub shared_size: u64,
    #[serde(rename = "UniqueSize")]
    pub unique_size: u64,
    /// How many containers use the image.
    #[serde(rename = "Containers")]
    pub containers: u64,
}

/// A container of libpod `system df`.
#[derive(Serialize, JsonSchema)]
pub struct SystemDfContainerReport {
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// The image ID.
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Command")]
    pub command: Vec<String>,
    /// How many volumes it mounts.
    #[serde(rename = "LocalVolumes")]
    pub local_volumes: u64,
    /// The image's size plus the writable layer's.
    #[serde(rename = "Size")]
    pub size: u64,
    /// Bytes in the writable layer.
    #[serde(rename = "RWSize")]
    pub rw_size: u64,
    /// RFC 3339, nanoseconds.
    #[serde(rename = "Created")]
    pub created: String,
    #[serde(rename = "Status")]
    pub status: String,
    /// The container's name.
    #[serde(rename = "Names")]
    pub names: String,
}

/// A volume of libpod `system df`.
#[derive(Serialize, JsonSchema)]
pub struct SystemDfVolumeReport {
    #[serde(rename = "VolumeName")]
    pub volume_name: String,
    /// How many containers use it.
    #[serde(rename = "Links")]
    pub links: u64,
    #[serde(rename = "Size")]
    pub size: u64,
    /// Its size when unused, else 0.
    #[serde(rename = "ReclaimableSize")]
    pub reclaimable_size: u64,
}

/// `GET /libpod/system/df`: libpod's disk usage report.
#[derive(Serialize, JsonSchema)]
pub struct SystemDfReport {
    #[serde(rename = "ImagesSize")]
    pub images_size: u64,
    #[serde(rename = "Images")]
    pub images: Vec<SystemDfImageReport>,
    #[serde(rename = "Containers")]
    pub containers: Vec<SystemDfContainerReport>,
    #[serde(rename = "Volumes")]
    pub volumes: Vec<SystemDfVolumeReport>,
}

/// A pod removed by `system prune`.
#[derive(Serialize, JsonSchema)]
pub struct SystemPrunePodReport {
    /// Always `null`.
    #[serde(rename = "Err")]
    pub err: Option<String>,
    #[serde(rename = "Id")]
    pub id: String,
}

/// A container, image or volume removed by `system prune`.
#[derive(Serialize, JsonSchema)]
pub struct SystemPruneEntry {
    #[serde(rename = "Id")]
    pub id: String,
    /// Always `null`.
    #[serde(rename = "Err")]
    pub err: Option<String>,
    /// Bytes freed.
    #[serde(rename = "Size")]
    pub size: u64,
}

/// A network removed by `system prune`.
#[derive(Serialize, JsonSchema)]
pub struct SystemPruneNetworkEntry {
    #[serde(rename = "Name")]
    pub name: String,
    /// Always `null`.
    #[serde(rename = "Error")]
    pub error: Option<String>,
}

/// `POST /libpod/system/prune`: what was removed; each list is `null` when empty.
#[derive(Serialize, JsonSchema)]
pub struct SystemPruneReport {
    #[serde(rename = "PodPruneReport")]
    pub pod_prune_report: Option<Vec<SystemPrunePodReport>>,
    #[serde(rename = "ContainerPruneReports")]
    pub container_prune_reports: Option<Vec<SystemPruneEntry>>,
    #[serde(rename = "ImagePruneReports")]
    pub image_prune_reports: Option<Vec<SystemPruneEntry>>,
    #[serde(rename = "NetworkPruneReports")]
    pub network_prune_reports: Option<Vec<SystemPruneNetworkEntry>>,
    #[serde(rename = "VolumePruneReports")]
    pub volume_prune_reports: Option<Vec<SystemPruneEntry>>,
    /// Bytes freed by the containers, images and volumes removed.
    #[serde(rename = "ReclaimedSpace")]
    pub reclaimed_space: u64,
}

/// `POST /auth`: the registry accepted the credentials.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SystemAuthResponse {
    /// `Login Succeeded`.
    pub status: String,
    /// Always empty.
    pub identity_token: String,
}

/// `GET /libpod/swagger`: this OpenAPI 3.0 document.
#[derive(Serialize, JsonSchema)]
pub struct OpenApiDocument {
    /// `3.0.3`.
    pub openapi: String,
    /// Title, version and description of the API.
    pub info: Value,
    /// The operations by path template.
    pub paths: BTreeMap<String, Value>,
    /// The schemas of the bodies.
    pub components: Value,
}

/// The operations of the system router.
pub fn openapi() -> Vec<Op> {
    vec![
        // Ping.
        Op::get("/_ping")
            .summary("Ping the service")
            .raw(200, "text/plain"),
        Op::head("/_ping")
            .summary("Ping the service (headers only)")
            .empty(200),
        Op::get("/libpod/_ping")
            .summary("Ping the service")
            .raw(200, "text/plain"),
        Op::head("/libpod/_ping")
            .summary("Ping the service (headers only)")
            .empty(200),
        // Version and info.
        Op::get("/version")
            .summary("Component versions")
            .json::<VersionReport>(),
        Op::get("/libpod/version")
            .summary("Component versions")
            .json::<VersionReport>(),
        Op::get("/info")
            .summary("System information (Docker's shape)")
            .json::<CompatInfo>(),
        Op::get("/libpod/info")
            .summary("System information")
            .json::<LibpodInfo>(),
        // Events.
        Op::get("/events")
            .summary("Monitor events")
            .lines::<EventMessage>(),
        Op::get("/libpod/events")
            .summary("Monitor events")
            .lines::<EventMessage>(),
        // Disk usage, prune, registry login.
        Op::get("/system/df")
            .summary("Disk usage (Docker's shape)")
            .json::<SystemDataUsageResponse>(),
        Op::get("/libpod/system/df")
            .summary("Disk usage")
            .json::<SystemDfReport>(),
        Op::post("/libpod/system/prune")
            .summary("Remove unused containers, pods, images, networks (and volumes)")
            .json::<SystemPruneReport>(),
        Op::post("/auth")
            .summary("Check registry credentials")
            .json::<SystemAuthResponse>(),
        // The OpenAPI document.
        Op::get("/libpod/swagger")
            .summary("This OpenAPI document")
            .json::<OpenApiDocument>(),
        // Secrets, compat tree.
        Op::get("/secrets")
            .summary("List secrets")
            .json::<Vec<SecretInfoReportCompat>>(),
        Op::post("/secrets/create")
            .summary("Create a secret (JSON body, base64 data)")
            .json::<SecretCreateReport>(),
        Op::get("/secrets/{name}")
            .summary("Inspect a secret")
            .json::<SecretInfoReportCompat>(),
        Op::delete("/secrets/{name}")
            .summary("Remove a secret (versioned path only)")
            .empty(204),
        Op::delete("/secret/{name}")
            .summary("Remove a secret (unversioned path only)")
            .empty(204),
        Op::post("/secrets/{name}/update").summary("Update a secret (not supported: 501)"),
        // Secrets, libpod tree.
        Op::post("/libpod/secrets/create")
            .summary("Create a secret (raw body)")
            .json::<SecretCreateReport>(),
        Op::get("/libpod/secrets/json")
            .summary("List secrets")
            .json::<Vec<SecretInfoReport>>(),
        Op::get("/libpod/secrets/{name}/json")
            .summary("Inspect a secret")
            .json::<SecretInfoReport>(),
        Op::get("/libpod/secrets/{name}/exists")
            .summary("Check whether a secret exists")
            .empty(204),
        Op::delete("/libpod/secrets/{name}")
            .summary("Remove a secret")
            .empty(204),
        // Stubs: unsupported (404) and swarm (503).
        Op::any("/plugins").summary("Not supported (404)"),
        Op::any("/monitor").summary("Not supported (404)"),
        Op::any("/distribution/{name}/json").summary("Not supported (404)"),
        Op::any("/configs/{path:.*}").summary("Swarm is not supported (503)"),
        Op::any("/nodes/{path:.*}").summary("Swarm is not supported (503)"),
        Op::any("/secrets/{path:.*}").summary("Swarm is not supported (503)"),
        Op::any("/services/{path:.*}").summary("Swarm is not supported (503)"),
        Op::any("/swarm/{path:.*}").summary("Swarm is not supported (503)"),
        Op::any("/tasks/{path:.*}").summary("Swarm is not supported (503)"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_this_crate_is_described_once() {
        let ops = openapi();
        assert_eq!(ops.len(), 35);
        let mut keys: Vec<String> = ops
            .iter()
            .map(|o| format!("{} {}", o.method, o.path))
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ops.len());
        let d = api_core::openapi::document(&ops);
        let schemas = &d["components"]["schemas"];
        for name in [
            "SystemVersionReport",
            "SystemInfo",
            "LibpodInfo",
            "EventMessage",
            "SystemDataUsageResponse",
            "SystemDfReport",
            "SystemPruneReport",
            "SecretInfoReport",
            "SecretInfoReportCompat",
        ] {
            assert!(schemas[name].is_object(), "{name}");
        }
        let compat = &schemas["SecretInfoReportCompat"];
        assert!(compat["properties"]["Spec"].is_object());
        assert!(compat["properties"]["Version"].is_object());
    }
}
