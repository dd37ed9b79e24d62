//! `HEAD`/`GET`/`PUT /containers/{name}/archive` (both trees): `docker cp`. The engine does
//! all path resolution inside the container's root; this module speaks HTTP: the
//! `X-Docker-Container-Path-Stat` header, the tar body, the upload spooled whole before
//! anything is extracted.

use api_core::{ApiError, ApiPath, ApiResult, AppState, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use engine::containers::archive::PathStat;

fn path_param(q: &Query) -> ApiResult<String> {
    q.string("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("the path parameter is required"))
}

fn stat_header(st: &PathStat) -> ApiResult<HeaderValue> {
    let json = serde_json::to_vec(st).map_err(|e| ApiError::internal(e.to_string()))?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `HEAD` and `GET`: the stat header, and for `GET` the tar.
pub(crate) async fn get(
    State(st): State<AppState>,
    method: Method,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let path = path_param(&q)?;
    if method == Method::HEAD {
        let stat = st.containers.archive_stat(&name, &path).await?;
        let mut r = StatusCode::OK.into_response();
        r.headers_mut()
            .insert("X-Docker-Container-Path-Stat", stat_header(&stat)?);
        return Ok(r);
    }
    let tmp = tempfile::NamedTempFile::new_in(st.service.tmp_dir())
        .map_err(|e| ApiError::internal(format!("creating a temporary file: {e}")))?
        .into_temp_path();
    let stat = st
        .containers
        .archive_get(&name, &path, tmp.to_path_buf())
        .await?;
    let f = tokio::fs::File::open(&tmp)
        .await
        .map_err(|e| ApiError::internal(format!("reading the archive: {e}")))?;
    let stream = futures::StreamExt::map(api_core::stream::file_stream(f), move |c| {
        let _keep = &tmp;
        c
    });
    let mut r = (StatusCode::OK, Body::from_stream(stream)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    r.headers_mut()
        .insert("X-Docker-Container-Path-Stat", stat_header(&stat)?);
    Ok(r)
}

/// `PUT ?path=&noOverwriteDirNonDir=&copyUIDGID=&pause=`: extracts the uploaded tar.
pub(crate) async fn put(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
    body: Body,
) -> ApiResult<Response> {
    let path = path_param(&q)?;
    let no_overwrite = q.bool_or("noOverwriteDirNonDir", false)?;
    let _ = q.bool_or("copyUIDGID", false)?;
    let _ = q.bool_or("pause", true)?;
    st.containers.inspect(&name).await?;
    let tmp = api_core::stream::spool(&st.service.tmp_dir(), body).await?;
    // Compressed uploads are accepted like Docker does (gzip).
    let tar_path = maybe_gunzip(tmp.to_path_buf()).await?;
    let res = st
        .containers
        .archive_put(&name, &path, tar_path.clone(), no_overwrite)
        .await;
    if tar_path != tmp.to_path_buf() {
        let _ = tokio::fs::remove_file(&tar_path).await;
    }
    res?;
    Ok(StatusCode::OK.into_response())
}

/// Decompresses a gzip upload into a sibling file; returns the tar's path.
async fn maybe_gunzip(p: std::path::PathBuf) -> ApiResult<std::path::PathBuf> {
    tokio::task::spawn_blocking(move || -> ApiResult<std::path::PathBuf> {
        use std::io::Read;
        let mut magic = [0u8; 2];
        let mut f = std::fs::File::open(&p).map_err(|e| ApiError::internal(e.to_string()))?;
        if f.read(&mut magic).unwrap_or(0) < 2 || magic != [0x1f, 0x8b] {
            return Ok(p);
        }
        let out = p.with_extension("tar");
        let mut dec = flate2::read::GzDecoder::new(
            std::fs::File::open(&p).map_err(|e| ApiError::internal(e.to_string()))?,
        );
        let mut w = std::fs::File::create(&out).map_err(|e| ApiError::internal(e.to_string()))?;
        std::io::copy(&mut dec, &mut w)
            .map_err(|e| ApiError::bad_request(format!("bad archive: {e}")))?;
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}
