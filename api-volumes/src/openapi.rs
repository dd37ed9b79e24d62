//! The OpenAPI operations of the volumes routes, with the wire types of their JSON answers:
//! Docker's volume object (`compat_doc`) and libpod's (`libpod_doc`).

#![allow(dead_code)]

use std::collections::BTreeMap;

use api_core::openapi::Op;
use schemars::JsonSchema;

/// The operations of the volumes router fragment.
pub fn openapi() -> Vec<Op> {
    vec![
        Op::post("/libpod/volumes/create")
            .summary("Create a volume")
            .json_at::<VolumeConfigResponse>(201),
        Op::get("/libpod/volumes/{name}/exists")
            .summary("Whether a volume exists")
            .empty(204),
        Op::get("/libpod/volumes/json")
            .summary("List volumes")
            .json::<Vec<VolumeConfigResponse>>(),
        Op::post("/libpod/volumes/prune")
            .summary("Remove the unused volumes")
            .json::<Vec<VolumesPruneReport>>(),
        Op::get("/libpod/volumes/{name}/json")
            .summary("Inspect a volume")
            .json::<VolumeConfigResponse>(),
        Op::delete("/libpod/volumes/{name}")
            .summary("Remove a volume")
            .empty(204),
        Op::get("/volumes")
            .summary("List volumes")
            .json::<VolumeListResponse>(),
        // An existing name answers that volume, also with 201.
        Op::post("/volumes/create")
            .summary("Create a volume")
            .json_at::<Volume>(201),
        Op::get("/volumes/{name}")
            .summary("Inspect a volume")
            .json::<Volume>(),
        Op::delete("/volumes/{name}")
            .summary("Remove a volume")
            .empty(204),
        Op::post("/volumes/prune")
            .summary("Remove the unused volumes")
            .json::<VolumePruneResponse>(),
    ]
}

/// Docker's volume object.
#[derive(serde::Serialize, JsonSchema)]
struct Volume {
    /// Creation time, RFC 3339 in seconds.
    #[serde(rename = "CreatedAt")]
    created_at: String,
    #[serde(rename = "Driver")]
    driver: String,
    #[serde(rename = "Labels")]
    labels: BTreeMap<String, String>,
    /// The volume's data directory on the host.
    #[serde(rename = "Mountpoint")]
    mountpoint: String,
    #[serde(rename = "Name")]
    name: String,
    /// The driver options, `null` when none.
    #[serde(rename = "Options")]
    options: Option<BTreeMap<String, String>>,
    /// Always `local`.
    #[serde(rename = "Scope")]
    scope: String,
}

/// `GET /volumes`.
#[derive(serde::Serialize, JsonSchema)]
struct VolumeListResponse {
    #[serde(rename = "Volumes")]
    volumes: Vec<Volume>,
    /// Always empty.
    #[serde(rename = "Warnings")]
    warnings: Vec<String>,
}

/// `POST /volumes/prune`.
#[derive(serde::Serialize, JsonSchema)]
struct VolumePruneResponse {
    /// The names of the removed volumes.
    #[serde(rename = "VolumesDeleted")]
    volumes_deleted: Vec<String>,
    /// Bytes freed.
    #[serde(rename = "SpaceReclaimed")]
    space_reclaimed: u64,
}

/// libpod's volume object.
#[derive(serde::Serialize, JsonSchema)]
struct VolumeConfigResponse {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Driver")]
    driver: String,
    /// The volume's data directory on the host.
    #[serde(rename = "Mountpoint")]
    mountpoint: String,
    /// Creation time, RFC 3339 with nanoseconds.
    #[serde(rename = "CreatedAt")]
    created_at: String,
    #[serde(rename = "Labels")]
    labels: BTreeMap<String, String>,
    /// Always `local`.
    #[serde(rename = "Scope")]
    scope: String,
    /// The driver options.
    #[serde(rename = "Options")]
    options: BTreeMap<String, String>,
    /// How many containers have it mounted.
    #[serde(rename = "MountCount")]
    mount_count: u64,
    #[serde(rename = "LockNumber")]
    lock_number: u64,
    /// The owner, when set and not root.
    #[serde(rename = "UID", skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    /// The group, when set and not root.
    #[serde(rename = "GID", skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    /// Only present (`true`) for anonymous volumes.
    #[serde(rename = "Anonymous", skip_serializing_if = "Option::is_none")]
    anonymous: Option<bool>,
    /// Only present (`true`) until the image's content was copied in.
    #[serde(rename = "NeedsCopyUp", skip_serializing_if = "Option::is_none")]
    needs_copy_up: Option<bool>,
    /// Only present (`true`) with `NeedsCopyUp` when no owner was set.
    #[serde(rename = "NeedsChown", skip_serializing_if = "Option::is_none")]
    needs_chown: Option<bool>,
}

/// A volume removed by `POST /libpod/volumes/prune`.
#[derive(serde::Serialize, JsonSchema)]
struct VolumesPruneReport {
    /// The volume's name.
    #[serde(rename = "Id")]
    id: String,
    /// Bytes freed.
    #[serde(rename = "Size")]
    size: u64,
}
