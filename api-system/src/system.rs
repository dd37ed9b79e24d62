//! `system df` in Docker's and libpod's shapes, libpod's `system prune`, and `/auth`.

use api_core::{ApiJson, ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::response::Json;
use chrono::SecondsFormat;
use engine::df::{DiskUsage, PruneOptions, Pruned};
use engine::json::field;
use serde_json::{json, Value};

fn repo_tags(names: &[String]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            let slash = n.rfind('/').map_or(0, |i| i + 1);
            match n[slash..].rfind(':') {
                Some(i) => (n[..slash + i].to_string(), n[slash + i + 1..].to_string()),
                None => (n.clone(), "latest".to_string()),
            }
        })
        .collect()
}

fn compat_df(u: &DiskUsage) -> Value {
    let images: Vec<Value> = u
        .images
        .iter()
        .map(|(i, n)| {
            json!({
                "Containers": n,
                "Created": i.created.timestamp(),
                "Id": format!("sha256:{}", i.id),
                "Labels": i.labels(),
                "ParentId": "",
                "RepoDigests": i.repo_digests,
                "RepoTags": i.names,
                "SharedSize": -1,
                "Size": i.size,
                "VirtualSize": i.size,
            })
        })
        .collect();
    let containers: Vec<Value> = u
        .containers
        .iter()
        .map(|c| {
            let r = &c.record;
            json!({
                "Id": r.id,
                "Names": [format!("/{}", r.name)],
                "Image": r.image,
                "ImageID": format!("sha256:{}", r.image_id),
                "Command": r.command.join(" "),
                "Created": r.created.timestamp(),
                "State": r.status.as_str(),
                "Status": r.status.as_str(),
                "SizeRw": c.rw_size,
                "SizeRootFs": c.root_fs_size,
                "Labels": r.labels,
                "Mounts": [],
            })
        })
        .collect();
    let volumes: Vec<Value> = u
        .volumes
        .iter()
        .map(|v| {
            let r = &v.info.record;
            json!({
                "CreatedAt": r.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                "Driver": r.driver,
                "Labels": r.labels,
                "Mountpoint": r.mountpoint,
                "Name": r.name,
                "Options": if r.options.is_empty() { Value::Null } else { json!(r.options) },
                "Scope": "local",
                "UsageData": {"RefCount": v.info.users.len(), "Size": v.size},
            })
        })
        .collect();
    json!({
        "LayersSize": u.layers_size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": [],
    })
}

fn libpod_df(u: &DiskUsage) -> Value {
    let mut images = Vec::new();
    for (i, n) in &u.images {
        let tags = repo_tags(&i.names);
        let tags = if tags.is_empty() {
            vec![("<none>".to_string(), "<none>".to_string())]
        } else {
            tags
        };
        for (repo, tag) in tags {
            images.push(json!({
                "Repository": repo,
                "Tag": tag,
                "ImageID": i.id,
                "Created": i.created.to_rfc3339_opts(SecondsFormat::Nanos, true),
                "Size": i.size,
                "SharedSize": 0,
                "UniqueSize": i.size,
                "Containers": n,
            }));
        }
    }
    let containers: Vec<Value> = u
        .containers
        .iter()
        .map(|c| {
            let r = &c.record;
            let volumes = r
                .config
                .mounts
                .iter()
                .filter(|m| m.kind == "volume")
                .count();
            json!({
                "ContainerID": r.id,
                "Image": r.image_id,
                "Command": r.command,
                "LocalVolumes": volumes,
                "Size": c.root_fs_size,
                "RWSize": c.rw_size,
                "Created": r.created.to_rfc3339_opts(SecondsFormat::Nanos, true),
                "Status": r.status.as_str(),
                "Names": r.name,
            })
        })
        .collect();
    let volumes: Vec<Value> = u
        .volumes
        .iter()
        .map(|v| {
            let unused = v.info.users.is_empty();
            json!({
                "VolumeName": v.info.record.name,
                "Links": v.info.users.len(),
                "Size": v.size,
                "ReclaimableSize": if unused { v.size } else { 0 },
            })
        })
        .collect();
    let images_size: u64 = u.images.iter().map(|(i, _)| i.size).sum();
    json!({
        "ImagesSize": images_size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
    })
}

/// `GET /system/df` and `/libpod/system/df`.
pub(crate) async fn df(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
) -> ApiResult<Json<Value>> {
    let u = st.system.disk_usage().await?;
    Ok(Json(if ver.libpod {
        libpod_df(&u)
    } else {
        compat_df(&u)
    }))
}

fn reports(list: &[Pruned]) -> Value {
    if list.is_empty() {
        return Value::Null;
    }
    Value::Array(
        list.iter()
            .map(|p| json!({"Id": p.id, "Err": null, "Size": p.size}))
            .collect(),
    )
}

/// `POST /libpod/system/prune?all=&volumes=&filters=`.
pub(crate) async fn prune(State(st): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    let opts = PruneOptions {
        all: q.bool_or("all", false)?,
        volumes: q.bool_or("volumes", false)?,
        filters: q.filters()?.into_iter().collect(),
    };
    let r = st.system.prune(opts).await?;
    let pods: Vec<Value> = r
        .pods
        .iter()
        .map(|p| json!({"Err": null, "Id": p.id}))
        .collect();
    let nets: Vec<Value> = r
        .networks
        .iter()
        .map(|n| json!({"Name": n, "Error": null}))
        .collect();
    Ok(Json(json!({
        "PodPruneReport": if pods.is_empty() { Value::Null } else { json!(pods) },
        "ContainerPruneReports": reports(&r.containers),
        "ImagePruneReports": reports(&r.images),
        "NetworkPruneReports": if nets.is_empty() { Value::Null } else { json!(nets) },
        "VolumePruneReports": reports(&r.volumes),
        "ReclaimedSpace": r.reclaimed(),
    })))
}

/// `POST /auth`: `{username, password, serveraddress}` checked against the registry.
pub(crate) async fn auth(
    State(st): State<AppState>,
    ApiJson(v): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let s = |k: &str| field(&v, k).as_str().unwrap_or_default().to_string();
    st.system
        .login(&s("serveraddress"), &s("username"), &s("password"))
        .await?;
    Ok(Json(
        json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}
