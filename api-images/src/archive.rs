//! Archive routes: save/export (`get`), load and import, plus image prune.

use api_core::{ApiError, ApiResult, AppState, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use engine::images::{ArchiveFormat, ImportOptions};
use serde_json::{json, Value};

/// Streams an archive of `names`; every name is resolved first so a missing one is a 404.
pub(crate) async fn save(
    st: &AppState,
    names: Vec<String>,
    format: ArchiveFormat,
    libpod: bool,
) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no images given"));
    }
    for n in &names {
        st.images.lookup_image(n).await?;
    }
    let (writer, body) = api_core::stream::writer_body();
    let images = st.images.clone();
    tokio::spawn(async move {
        if let Err(e) = images.save_images(names, format, Box::new(writer)).await {
            tracing::warn!(error = %e, "saving images");
        }
    });
    let mut r = (StatusCode::OK, body).into_response();
    // Docker says what it is; Podman lets Go sniff it, which gives octet-stream.
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if libpod {
            "application/octet-stream"
        } else {
            "application/x-tar"
        }),
    );
    Ok(r)
}

fn format_param(q: &Query) -> ApiResult<ArchiveFormat> {
    let f = q.string("format").unwrap_or_default();
    ArchiveFormat::parse(&f).ok_or_else(|| ApiError::internal(format!("unknown format {f:?}")))
}

/// `GET /libpod/images/{name}/get?format=&compress=`.
pub(crate) async fn libpod_get(st: &AppState, name: &str, q: &Query) -> ApiResult<Response> {
    let _ = q.bool("compress")?;
    st.images.lookup_image(name).await?;
    save(st, vec![name.to_string()], format_param(q)?, true).await
}

/// `GET /images/get?names=` and `GET /libpod/images/export?references=`.
pub(crate) async fn save_many(
    State(st): State<AppState>,
    axum::extract::Extension(ver): axum::extract::Extension<api_core::ApiVersion>,
    q: Query,
) -> ApiResult<Response> {
    let mut names = q.all("names");
    names.extend(q.all("references"));
    let names: Vec<String> = names
        .iter()
        .flat_map(|n| n.split(',').map(String::from).collect::<Vec<_>>())
        .filter(|n| !n.is_empty())
        .collect();
    let _ = q.bool("compress")?;
    save(&st, names, format_param(&q)?, ver.libpod).await
}

/// `POST /images/load` (Docker's JSON-lines report) and `POST /libpod/images/load`.
pub(crate) async fn load(
    State(st): State<AppState>,
    axum::extract::Extension(ver): axum::extract::Extension<api_core::ApiVersion>,
    q: Query,
    body: Body,
) -> ApiResult<Response> {
    let _ = q.bool("quiet")?;
    let tmp = api_core::stream::spool(&st.service.tmp_dir(), body).await?;
    let imgs = st.images.load_archive(tmp.to_path_buf()).await?;
    let mut names: Vec<String> = Vec::new();
    for i in &imgs {
        if i.names.is_empty() {
            names.push(format!("sha256:{}", i.id));
        } else {
            names.extend(i.names.iter().cloned());
        }
    }
    if ver.libpod {
        return Ok(Json(json!({ "Names": names })).into_response());
    }
    // Podman reports every loaded name on one line, comma separated, last image first.
    names.reverse();
    let text = format!("Loaded image: {}", names.join(","));
    Ok(api_core::stream::json_lines(futures::stream::iter(vec![
        json!({ "stream": text }),
    ])))
}

fn import_options(q: &Query, reference: Option<String>) -> ImportOptions {
    ImportOptions {
        reference,
        changes: q.all("changes"),
        message: q.string("message").unwrap_or_default(),
        os: q.string("OS").unwrap_or_default(),
        arch: q.string("Arch").unwrap_or_default(),
    }
}

/// `POST /images/create?fromSrc=-&repo=&tag=` (the compat import).
pub(crate) async fn compat_import(st: &AppState, q: &Query, body: Body) -> ApiResult<Response> {
    let src = q.string("fromSrc").unwrap_or_default();
    if src != "-" {
        return Err(ApiError::bad_request(
            "importing from a URL is not supported offline: send the tar as the body with fromSrc=-",
        ));
    }
    let reference = q.string("repo").map(|r| match q.string("tag") {
        Some(t) => format!("{r}:{t}"),
        None => r,
    });
    let tmp = api_core::stream::spool(&st.service.tmp_dir(), body).await?;
    let img = st
        .images
        .import_image(tmp.to_path_buf(), import_options(q, reference))
        .await?;
    let v = json!({"status": format!("sha256:{}", img.id)});
    Ok(api_core::stream::json_lines(futures::stream::iter(vec![v])))
}

/// `POST /libpod/images/import?reference=&changes=&message=`.
pub(crate) async fn libpod_import(
    State(st): State<AppState>,
    q: Query,
    body: Body,
) -> ApiResult<Json<Value>> {
    if let Some(url) = q.string("url") {
        return Err(ApiError::bad_request(format!(
            "importing from {url} is not supported offline: send the tar as the body"
        )));
    }
    let tmp = api_core::stream::spool(&st.service.tmp_dir(), body).await?;
    let img = st
        .images
        .import_image(tmp.to_path_buf(), import_options(&q, q.string("reference")))
        .await?;
    Ok(Json(json!({ "Id": format!("sha256:{}", img.id) })))
}

/// Image prune on both trees: dangling images (all unused with `all=true`), with `label`,
/// `label!`, `until` and `dangling` filters.
pub(crate) async fn prune(
    State(st): State<AppState>,
    axum::extract::Extension(ver): axum::extract::Extension<api_core::ApiVersion>,
    q: Query,
) -> ApiResult<Response> {
    let to500 =
        |e: ApiError| ApiError::with_cause(StatusCode::INTERNAL_SERVER_ERROR, e.cause, e.message);
    let all = q.bool_or("all", false).map_err(to500)?;
    let filters = q.filters().map_err(to500)?;
    let mut dangling_only = !all;
    if let Some(d) = filters.get("dangling").and_then(|v| v.first()) {
        dangling_only = matches!(d.as_str(), "true" | "1");
    }
    let until = match filters.get("until").and_then(|v| v.first()) {
        Some(u) => Some(api_core::time::parse_time_param("until", u).map_err(to500)?),
        None => None,
    };
    let mut removed = Vec::new();
    let mut reclaimed = 0u64;
    // Removing an image can make its parent dangling: repeat until nothing changes.
    loop {
        let mut changed = false;
        for img in st.images.list_images().await? {
            if dangling_only && !img.dangling() {
                continue;
            }
            if until.is_some_and(|u| img.created > u) {
                continue;
            }
            let labels = img.labels();
            let label_ok = |f: &String| match f.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                None => labels.contains_key(f),
            };
            let wanted = filters.get("label").is_none_or(|v| v.iter().all(label_ok));
            let unwanted = filters
                .get("label!")
                .is_some_and(|v| v.iter().any(label_ok));
            if !wanted || unwanted {
                continue;
            }
            match st.images.remove_image(&img.id, false).await {
                Ok(r) if !r.deleted.is_empty() => {
                    reclaimed += img.size;
                    removed.push((img.id.clone(), img.size, r.untagged));
                    changed = true;
                }
                // In use by a container: kept, as Docker does.
                _ => {}
            }
        }
        if !changed {
            break;
        }
    }
    if ver.libpod {
        let v: Vec<Value> = removed
            .iter()
            .map(|(id, size, _)| json!({"Id": id, "Err": null, "Size": size}))
            .collect();
        return Ok(Json(v).into_response());
    }
    let mut deleted: Vec<Value> = Vec::new();
    for (id, _, untagged) in &removed {
        for u in untagged {
            deleted.push(json!({"Untagged": u}));
        }
        deleted.push(json!({"Deleted": format!("sha256:{id}")}));
    }
    Ok(Json(json!({"ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": reclaimed})).into_response())
}

/// `POST /commit` and `/libpod/commit?container=&repo=&tag=&author=&comment=&changes=&
/// pause=&format=&squash=&stream=`: the body, if any, is a Docker container config whose set
/// fields the image takes.
pub(crate) async fn commit(
    State(st): State<AppState>,
    axum::extract::Extension(ver): axum::extract::Extension<api_core::ApiVersion>,
    q: Query,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let container = q.string("container").unwrap_or_default();
    if container.is_empty() {
        return Err(ApiError::bad_request("a container name or ID is required"));
    }
    let config = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Decode(): {e}")))?;
        v.is_object().then_some(v)
    };
    let repo = q.string("repo").unwrap_or_default();
    let tag = q.string("tag").unwrap_or_default();
    let reference = match (repo.is_empty(), tag.is_empty()) {
        (true, _) => None,
        (false, true) => Some(repo),
        (false, false) => Some(format!("{repo}:{tag}")),
    };
    // Docker pauses by default; Podman's libpod API does not unless asked.
    let pause = q.bool_or("pause", !ver.libpod)?;
    let format = q.string("format").unwrap_or_default();
    if !matches!(format.as_str(), "" | "oci" | "docker") {
        return Err(ApiError::bad_request(format!(
            "unrecognized image format {format:?}"
        )));
    }
    let mut changes = Vec::new();
    for c in q.all("changes") {
        // Podman splits a `changes` value on commas unless it holds a JSON list.
        if c.contains('[') {
            changes.push(c);
        } else {
            changes.extend(
                c.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty()),
            );
        }
    }
    let opts = engine::containers::commit::CommitOptions {
        reference,
        author: q.string("author").unwrap_or_default(),
        comment: q.string("comment").unwrap_or_default(),
        changes,
        config,
        pause,
        docker_format: format == "docker" || (!ver.libpod && format.is_empty()),
    };
    let img = st.images.commit(&container, opts).await?;
    let id = format!("sha256:{}", img.id);
    if ver.libpod {
        Ok((StatusCode::OK, Json(json!({"Id": id}))).into_response())
    } else {
        Ok((StatusCode::CREATED, Json(json!({"Id": id}))).into_response())
    }
}

/// `POST /libpod/images/scp/{name}?destination=&quiet=`: podapid keeps one image store, so
/// there is no other local user's store to copy into, and SSH transfers to remote hosts
/// are not made from a daemon here; the image is looked up (404) and the refusal says why.
pub(crate) async fn scp(
    State(st): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let _ = q.bool_or("quiet", false)?;
    st.images.lookup_image(&name).await?;
    let dest = q.string("destination").unwrap_or_default();
    Err(ApiError::from(engine::Error::NotImplemented(format!(
        "image scp to {:?} is not supported: podapid has a single image store (use save/load, or push to a registry)",
        dest
    ))))
}

/// `POST /build/prune` (Docker's; Podman has no such route, which breaks `docker system
/// prune`): the build cache is made of ordinary images here, pruned with the images, so
/// nothing is left to delete.
pub(crate) async fn build_prune(q: Query) -> ApiResult<Json<Value>> {
    let _ = q.bool_or("all", false)?;
    Ok(Json(json!({"CachesDeleted": [], "SpaceReclaimed": 0})))
}
