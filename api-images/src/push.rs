//! Push streams: Docker's (`The push refers to repository [...]`, then
//! `TAG: digest: sha256:... size: N`) and libpod's (`{"stream"}` lines, then
//! `{"manifestdigest"}`).

use api_core::{ApiError, ApiResult, AppState, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::images::{PushOptions, PushProgress};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

fn options(q: &Query, headers: &HeaderMap) -> ApiResult<PushOptions> {
    Ok(PushOptions {
        tls_verify: q.bool("tlsVerify")?,
        credentials: crate::pull::registry_auth(headers),
    })
}

/// `POST /images/{name}/push?tag=`.
pub(crate) async fn compat(
    st: &AppState,
    name: &str,
    q: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let mut image = name.to_string();
    if let Some(t) = q.string("tag") {
        image = format!("{image}:{t}");
    }
    let destination = q.string("destination").unwrap_or_else(|| image.clone());
    if !st.images.exists(&image).await? {
        return Err(ApiError::not_found(format!(
            "An image does not exist locally with the tag: {image}"
        )));
    }
    let opts = options(q, headers)?;
    let tag = q.string("tag").unwrap_or_else(|| "latest".into());
    let (tx, mut rx) = mpsc::channel(64);
    let images = st.images.clone();
    let task = tokio::spawn(async move { images.push(&image, &destination, opts, tx).await });
    // Like Podman, the status is decided by the first progress or by the end: a push that
    // fails before any progress answers 500.
    if rx.recv().await.is_none() {
        let res = task
            .await
            .unwrap_or_else(|e| Err(engine::Error::Internal(e.to_string())));
        return match res {
            Err(e) => {
                let m = e.to_string();
                let body = api_core::stream::json_line(
                    &json!({"error": m, "errorDetail": {"message": m}}),
                );
                Ok((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response())
            }
            Ok(r) => finish(name, q, tag, tokio::spawn(async move { Ok(r) })),
        };
    }
    // Podman's compat push reports only the reference and the result.
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    finish(name, q, tag, task)
}

fn finish(
    name: &str,
    q: &Query,
    tag: String,
    task: tokio::task::JoinHandle<engine::Result<engine::images::PushReport>>,
) -> ApiResult<Response> {
    let head =
        json!({"status": format!("The push refers to repository [{}]", name_with_tag(name, q))});
    let tail = futures::stream::once(async move {
        match task.await.unwrap_or_else(|e| Err(engine::Error::Internal(e.to_string()))) {
            Ok(r) => vec![
                json!({"status": format!("{tag}: digest: {} size: {}", r.manifest_digest, r.manifest_size)}),
                json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": r.manifest_digest, "Size": r.manifest_size}}),
            ],
            Err(e) => {
                let m = e.to_string();
                vec![json!({"error": m, "errorDetail": {"message": m}})]
            }
        }
    })
    .map(futures::stream::iter)
    .flatten();
    Ok(api_core::stream::json_lines(
        futures::stream::once(async { head }).chain(tail),
    ))
}

fn name_with_tag(name: &str, q: &Query) -> String {
    match q.string("tag") {
        Some(t) => format!("{name}:{t}"),
        None => name.to_string(),
    }
}

/// `POST /libpod/images/{name}/push?destination=&tlsVerify=&quiet=`.
pub(crate) async fn libpod(
    st: &AppState,
    name: &str,
    q: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let destination = q.string("destination").unwrap_or_else(|| name.to_string());
    let quiet = q.bool_or("quiet", true)?;
    let opts = options(q, headers)?;
    st.images.lookup_image(name).await?;
    let (tx, rx) = mpsc::channel(64);
    let images = st.images.clone();
    let source = name.to_string();
    let task = tokio::spawn(async move { images.push(&source, &destination, opts, tx).await });
    if quiet {
        drop(rx);
        return match task
            .await
            .unwrap_or_else(|e| Err(engine::Error::Internal(e.to_string())))
        {
            Ok(_) => Ok((StatusCode::OK, axum::Json(json!(""))).into_response()),
            Err(e) => Err(ApiError::bad_request(format!(
                "pushing image {name:?}: {e}"
            ))),
        };
    }
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let ev = rx.recv().await?;
        let s = match ev {
            PushProgress::Pushing(id) => format!("Copying blob {id}\n"),
            PushProgress::Exists(id) => format!("Copying blob {id} skipped: already exists\n"),
            PushProgress::Pushed(_) => String::new(),
            PushProgress::WritingManifest => "Writing manifest to image destination\n".into(),
        };
        Some((s, rx))
    })
    .filter(|s| futures::future::ready(!s.is_empty()))
    .map(|s| json!({"stream": s}));
    let head =
        futures::stream::once(async { json!({"stream": "Getting image source signatures\n"}) });
    let tail = futures::stream::once(async move {
        match task
            .await
            .unwrap_or_else(|e| Err(engine::Error::Internal(e.to_string())))
        {
            Ok(r) => json!({"manifestdigest": r.manifest_digest}),
            Err(e) => json!({"error": e.to_string()}),
        }
    });
    Ok(api_core::stream::json_lines(head.chain(lines).chain(tail)))
}
