//! Handlers of the image routes (pull is in `pull`).

use std::collections::BTreeMap;

use api_core::{ApiError, ApiResult, AppState, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use engine::images::{ImageRecord, ImageRef};
use serde_json::{json, Value};

use crate::convert;

/// Simple `*` globbing.
fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut pos = 0;
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            continue;
        }
        match s[pos..].find(p) {
            Some(at) => {
                if i == 0 && at != 0 {
                    return false;
                }
                pos += at + p.len();
            }
            None => return false,
        }
    }
    parts.last().is_some_and(|l| l.is_empty()) || pos == s.len()
}

/// Whether an image name matches a `reference` filter the way Docker and Podman match
/// them: against the full name, the name without registry, or the familiar name.
fn reference_matches(filter: &str, name: &str) -> bool {
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (name, None),
    };
    let mut repos = vec![repo.to_string()];
    if let Some((_, rest)) = repo.split_once('/') {
        repos.push(rest.to_string());
        if let Some(f) = rest.strip_prefix("library/") {
            repos.push(f.to_string());
        }
    }
    let (frepo, ftag) = match filter.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (filter, None),
    };
    repos.iter().any(|r| glob(frepo, r))
        && match (ftag, tag) {
            (None, _) => true,
            (Some(ft), Some(t)) => glob(ft, t),
            (Some(_), None) => false,
        }
}

fn label_matches(img: &ImageRecord, f: &str) -> bool {
    let labels = img.labels();
    match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f),
    }
}

/// Applies list filters (`reference`, `label`, `label!`, `dangling`, `before`, `since`, `id`).
async fn filtered(st: &AppState, q: &Query) -> ApiResult<Vec<ImageRecord>> {
    let mut filters = q.filters().map_err(|e| {
        ApiError::with_cause(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.cause.clone(),
            e.message.clone(),
        )
    })?;
    if let Some(f) = q.string("filter") {
        filters.entry("reference".into()).or_default().push(f);
    }
    let all = st.images.list_images().await?;
    let mut before = None;
    let mut since = None;
    for (key, slot) in [("before", &mut before), ("since", &mut since)] {
        if let Some(v) = filters.get(key).and_then(|v| v.first()) {
            let img = st.images.lookup_image(v).await?;
            *slot = Some(img.created);
        }
    }
    let mut out = Vec::new();
    'images: for img in all {
        for (k, vals) in &filters {
            let ok = match k.as_str() {
                "reference" => vals
                    .iter()
                    .any(|f| img.names.iter().any(|n| reference_matches(f, n))),
                "label" => vals.iter().all(|f| label_matches(&img, f)),
                "label!" => vals.iter().all(|f| !label_matches(&img, f)),
                "dangling" => vals.iter().all(|v| match v.as_str() {
                    "true" | "1" => img.dangling(),
                    "false" | "0" => !img.dangling(),
                    _ => true,
                }),
                "id" => vals
                    .iter()
                    .any(|v| img.id.starts_with(v.trim_start_matches("sha256:"))),
                "before" => before.is_some_and(|b| img.created < b),
                "since" => since.is_some_and(|s| img.created > s),
                "intermediate" | "readonly" | "until" | "manifest" => true,
                other => {
                    return Err(ApiError::internal(format!("{other} is an invalid filter")));
                }
            };
            if !ok {
                continue 'images;
            }
        }
        out.push(img);
    }
    Ok(out)
}

/// `GET /images/json`.
pub(crate) async fn compat_list(
    State(st): State<AppState>,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let _ = q.bool_or("all", false)?;
    let imgs = filtered(&st, &q).await?;
    Ok(Json(
        imgs.iter()
            .map(|i| {
                let mut v = convert::compat_summary(i, 0);
                v["Names"] = json!(i.names);
                v
            })
            .collect(),
    ))
}

/// `GET /libpod/images/json`.
pub(crate) async fn libpod_list(
    State(st): State<AppState>,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let _ = q.bool_or("all", false)?;
    let imgs = filtered(&st, &q).await?;
    Ok(Json(
        imgs.iter().map(|i| convert::libpod_summary(i, 0)).collect(),
    ))
}

fn layer_dirs(st: &AppState, img: &ImageRecord) -> Vec<String> {
    img.layers
        .iter()
        .map(|l| st.images.layer_dir(&l.chain_id).display().to_string())
        .collect()
}

/// Splits `name/op` into the image name and a known operation suffix.
fn split_op<'a>(rest: &'a str, ops: &[&str]) -> (&'a str, Option<&'a str>) {
    for op in ops {
        if let Some(name) = rest.strip_suffix(&format!("/{op}")) {
            return (name, Some(&rest[rest.len() - op.len()..]));
        }
    }
    (rest, None)
}

fn not_found() -> Response {
    api_core::middleware::plain(StatusCode::NOT_FOUND, "Not Found\n")
}

/// `GET /images/{name}/json|history`.
pub(crate) async fn compat_get(
    State(st): State<AppState>,
    Path(rest): Path<String>,
) -> ApiResult<Response> {
    match split_op(&rest, &["json", "history", "get"]) {
        (name, Some("get")) => {
            crate::archive::save(
                &st,
                vec![name.to_string()],
                engine::images::ArchiveFormat::DockerArchive,
                false,
            )
            .await
        }
        (name, Some("json")) => {
            let img = st.images.lookup_image(name).await?;
            let dirs = layer_dirs(&st, &img);
            Ok(Json(convert::compat_inspect(&img, &dirs)).into_response())
        }
        (name, Some("history")) => {
            let img = st.images.lookup_image(name).await?;
            Ok(Json(convert::history(&img, true)).into_response())
        }
        _ => Ok(not_found()),
    }
}

/// `GET /libpod/images/{name}/json|history|exists`.
pub(crate) async fn libpod_get(
    State(st): State<AppState>,
    Path(rest): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    match split_op(
        &rest,
        &["json", "history", "exists", "get", "tree", "changes"],
    ) {
        (name, Some("tree")) => {
            let img = st.images.lookup_image(name).await?;
            Ok(Json(json!({ "Tree": convert::tree(&img) })).into_response())
        }
        (name, Some("changes")) => {
            let _ = q.string("parent");
            let changes = st.images.image_changes(name).await?;
            let v: Vec<Value> = changes
                .iter()
                .map(|c| json!({"Path": c.path, "Kind": c.kind.code()}))
                .collect();
            Ok(Json(v).into_response())
        }
        (name, Some("get")) => crate::archive::libpod_get(&st, name, &q).await,
        (name, Some("json")) => {
            let img = st.images.lookup_image(name).await?;
            let dirs = layer_dirs(&st, &img);
            Ok(Json(convert::libpod_inspect(&img, &dirs)).into_response())
        }
        (name, Some("history")) => {
            let img = st.images.lookup_image(name).await?;
            Ok(Json(convert::history(&img, false)).into_response())
        }
        (name, Some("exists")) => {
            if st.images.exists(name).await? {
                Ok(StatusCode::NO_CONTENT.into_response())
            } else {
                Err(ApiError::with_cause(
                    StatusCode::NOT_FOUND,
                    format!("failed to find image {name}"),
                    format!("failed to find image {name}: image not known"),
                ))
            }
        }
        _ => Ok(not_found()),
    }
}

/// The target of a tag request: `repo` plus optional `tag`.
fn tag_target(q: &Query) -> ApiResult<String> {
    let repo = q
        .string("repo")
        .ok_or_else(|| ApiError::bad_request("repo is required"))?;
    let name = match q.string("tag") {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    ImageRef::parse_normalized(&name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(name)
}

/// `POST /images/{name}/tag|push`.
pub(crate) async fn compat_post(
    State(st): State<AppState>,
    Path(rest): Path<String>,
    headers: axum::http::HeaderMap,
    q: Query,
) -> ApiResult<Response> {
    match split_op(&rest, &["tag", "push"]) {
        (name, Some("push")) => crate::push::compat(&st, name, &q, &headers).await,
        (name, Some("tag")) => {
            let target = tag_target(&q)?;
            st.images.tag(name, &target).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        _ => Ok(not_found()),
    }
}

/// `POST /libpod/images/{name}/tag|untag|push`.
pub(crate) async fn libpod_post(
    State(st): State<AppState>,
    Path(rest): Path<String>,
    headers: axum::http::HeaderMap,
    q: Query,
) -> ApiResult<Response> {
    match split_op(&rest, &["tag", "untag", "push"]) {
        (name, Some("push")) => crate::push::libpod(&st, name, &q, &headers).await,
        (name, Some("tag")) => {
            let target = tag_target(&q)?;
            st.images.tag(name, &target).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        (name, Some("untag")) => {
            let target = match q.string("repo") {
                Some(_) => Some(tag_target(&q)?),
                None => None,
            };
            st.images.untag(name, target.as_deref()).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        _ => Ok(not_found()),
    }
}

/// `DELETE /images/{name}`: Docker's list of `Untagged`/`Deleted` entries.
pub(crate) async fn compat_delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let force = q.bool_or("force", false)?;
    let _ = q.bool_or("noprune", false)?;
    let r = st.images.remove_image(&name, force).await?;
    let mut out: Vec<Value> = r
        .untagged
        .iter()
        .map(|u| json!({ "Untagged": u }))
        .collect();
    out.extend(
        r.deleted
            .iter()
            .map(|d| json!({ "Deleted": format!("sha256:{d}") })),
    );
    Ok(Json(out))
}

fn libpod_report(
    untagged: Vec<String>,
    deleted: Vec<String>,
    errors: Vec<String>,
    exit: i32,
) -> Value {
    json!({ "Untagged": untagged, "Deleted": deleted, "Errors": errors, "ExitCode": exit })
}

/// `DELETE /libpod/images/{name}`.
pub(crate) async fn libpod_delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let force = q.bool_or("force", false)?;
    let r = st.images.remove_image(&name, force).await?;
    Ok(Json(libpod_report(r.untagged, r.deleted, vec![], 0)))
}

/// `DELETE /libpod/images/remove?images=...&all=&force=`.
pub(crate) async fn libpod_remove_many(
    State(st): State<AppState>,
    q: Query,
) -> ApiResult<Response> {
    let force = q.bool_or("force", false)?;
    let all = q.bool_or("all", false)?;
    let mut names = q.all("images");
    if all {
        names = st
            .images
            .list_images()
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect();
    }
    let (mut untagged, mut deleted, mut errors) = (vec![], vec![], vec![]);
    let mut status = StatusCode::OK;
    let mut seen = BTreeMap::new();
    for n in names {
        if seen.insert(n.clone(), ()).is_some() {
            continue;
        }
        let mut res = st.images.remove_image(&n, force).await;
        // `lookupmanifest=true` (podman manifest rm): a manifest list of that name goes.
        if matches!(res, Err(engine::Error::NoSuchImage(_)))
            && q.bool_or("lookupmanifest", false)?
            && st.images.manifest_exists(&n).await.unwrap_or(false)
        {
            res = st.images.manifest_delete(&n).await;
        }
        match res {
            Ok(r) => {
                untagged.extend(r.untagged);
                deleted.extend(r.deleted);
            }
            Err(e) => {
                let e = ApiError::from(e);
                if status == StatusCode::OK {
                    status = e.status;
                }
                errors.push(e.message);
            }
        }
    }
    let exit = if errors.is_empty() { 0 } else { 1 };
    Ok((status, Json(libpod_report(untagged, deleted, errors, exit))).into_response())
}

/// `GET /images/search` and `/libpod/images/search`.
pub(crate) async fn search(
    State(st): State<AppState>,
    axum::extract::Extension(ver): axum::extract::Extension<api_core::ApiVersion>,
    headers: axum::http::HeaderMap,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let term = q
        .string("term")
        .ok_or_else(|| ApiError::bad_request("term is required"))?;
    let limit = q.value::<usize>("limit")?.unwrap_or(25);
    if limit > 100 {
        return Err(ApiError::bad_request(format!(
            "limit {limit} is outside the range of [1, 100]"
        )));
    }
    let list_tags = q.bool_or("listTags", false)?;
    let filters = q.filters()?;
    // Registries searched through their catalog have no stars and no official images.
    let stars_wanted = filters
        .get("stars")
        .and_then(|v| v.first())
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0);
    let official_only = filters
        .get("is-official")
        .and_then(|v| v.first())
        .is_some_and(|v| v == "true");
    let automated_only = filters
        .get("is-automated")
        .and_then(|v| v.first())
        .is_some_and(|v| v == "true");
    if stars_wanted > 0 || official_only || automated_only {
        return Ok(Json(vec![]));
    }
    let found = st
        .images
        .search(
            &term,
            limit,
            list_tags,
            crate::pull::registry_auth(&headers),
        )
        .await?;
    let out = found
        .iter()
        .flat_map(|r| {
            if ver.libpod {
                if list_tags {
                    r.tags
                        .iter()
                        .map(|t| json!({"Index": r.index, "Name": r.name, "Description": "", "Stars": 0, "Official": "", "Automated": "", "Tag": t}))
                        .collect::<Vec<_>>()
                } else {
                    vec![json!({"Index": r.index, "Name": r.name, "Description": "", "Stars": 0, "Official": "", "Automated": "", "Tag": ""})]
                }
            } else {
                vec![json!({"name": r.name, "description": "", "star_count": 0, "is_official": false, "is_automated": false})]
            }
        })
        .collect();
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filters() {
        let n = "docker.io/library/alpine:latest";
        assert!(reference_matches("alpine", n));
        assert!(reference_matches("alpine:latest", n));
        assert!(reference_matches("docker.io/library/alpine:latest", n));
        assert!(reference_matches("library/alpine", n));
        assert!(reference_matches("alp*", n));
        assert!(!reference_matches("alpine:1", n));
        assert!(!reference_matches("busybox", n));
        let q = "quay.io/libpod/alpine_labels:latest";
        assert!(reference_matches(q, q));
        assert!(!reference_matches("nonesuch", q));
    }
}
