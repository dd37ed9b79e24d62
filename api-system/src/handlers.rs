//! Handlers of the system routes.

use api_core::time::parse_time_param;
use api_core::{ApiError, ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use chrono::Utc;
use engine::events::{EventFilter, EventType};
use futures::StreamExt;

use crate::convert;

/// `GET|HEAD /_ping`: `OK` with the headers clients probe.
pub(crate) async fn ping(method: Method) -> Response {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("buildkit-version", ""),
        ("builder-version", ""),
        ("docker-experimental", "true"),
        ("cache-control", "no-cache"),
        ("pragma", "no-cache"),
        ("ostype", "linux"),
        ("libpod-buildah-version", engine::system::BUILDAH_VERSION),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let body = if method == Method::HEAD { "" } else { "OK" };
    (StatusCode::OK, h, body).into_response()
}

/// `GET /version` and `/libpod/version`.
pub(crate) async fn version(
    State(st): State<AppState>,
) -> ApiResult<Json<crate::types::VersionReport>> {
    let info = st.system.info().await?;
    Ok(Json(convert::version_report(&info)))
}

/// `GET /info`.
pub(crate) async fn compat_info(
    State(st): State<AppState>,
) -> ApiResult<Json<crate::types::CompatInfo>> {
    let info = st.system.info().await?;
    Ok(Json(convert::compat_info(&info)))
}

/// `GET /libpod/info`.
pub(crate) async fn libpod_info(
    State(st): State<AppState>,
) -> ApiResult<Json<crate::types::LibpodInfo>> {
    let info = st.system.info().await?;
    Ok(Json(convert::libpod_info(&info)))
}

/// Maps Docker event names in a filter to libpod's.
fn libpod_status(s: &str) -> String {
    match s {
        "die" => "died".into(),
        "destroy" | "delete" => "remove".into(),
        other => other.into(),
    }
}

/// Builds the engine filter from the query.
fn event_filter(q: &Query) -> ApiResult<EventFilter> {
    let mut f = EventFilter::default();
    if let Some(s) = q.string("since") {
        f.since = Some(parse_time_param("since", &s)?);
    }
    if let Some(s) = q.string("until") {
        f.until = Some(parse_time_param("until", &s)?);
    }
    for (k, vals) in q.filters()? {
        match k.as_str() {
            "type" => {
                for v in &vals {
                    let t = EventType::parse(v).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "failed to parse parameters: unknown event type {v:?}"
                        ))
                    })?;
                    f.types.push(t);
                }
            }
            "event" | "status" => f.statuses.extend(vals.iter().map(|v| libpod_status(v))),
            "label" => f.labels.extend(vals),
            "container" => {
                f.objects.insert(EventType::Container, vals);
            }
            "image" => {
                f.objects.insert(EventType::Image, vals);
            }
            "pod" => {
                f.objects.insert(EventType::Pod, vals);
            }
            "volume" => {
                f.objects.insert(EventType::Volume, vals);
            }
            "network" => {
                f.objects.insert(EventType::Network, vals);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "failed to parse parameters: {other:?} is an invalid filter"
                )))
            }
        }
    }
    Ok(f)
}

/// `GET /events` and `/libpod/events`: past events (with `since`/`until` or `stream=false`)
/// then, when streaming, live events until `until` or the client leaves.
pub(crate) async fn events(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Response> {
    let filter = event_filter(&q)?;
    let stream = q.bool_or("stream", true)?;
    let compat = !ver.libpod;
    let from_start = filter.since.is_some() || filter.until.is_some() || !stream;
    // Subscribe before reading the past so nothing falls between the two.
    let live = stream.then(|| st.system.subscribe_events());
    let past = if from_start {
        st.system.events(filter.clone()).await?
    } else {
        Vec::new()
    };
    let last_past = past.last().map(|e| e.time);
    let past_stream = futures::stream::iter(
        past.into_iter()
            .map(move |e| convert::event_message(&e, compat)),
    );
    let Some(rx) = live else {
        return Ok(api_core::stream::json_lines(past_stream));
    };
    if filter.until.is_some_and(|u| u <= Utc::now()) {
        return Ok(api_core::stream::json_lines(past_stream));
    }
    let until = filter.until;
    let live_stream = futures::stream::unfold((rx, filter), move |(mut rx, filter)| async move {
        loop {
            let next = match until {
                Some(u) => {
                    let left = (u - Utc::now()).to_std().unwrap_or_default();
                    match tokio::time::timeout(left, rx.recv()).await {
                        Ok(r) => r,
                        Err(_) => return None,
                    }
                }
                None => rx.recv().await,
            };
            match next {
                Ok(e) => {
                    if last_past.is_some_and(|t| e.time <= t) || !filter.matches(&e) {
                        continue;
                    }
                    return Some((convert::event_message(&e, compat), (rx, filter)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "events reader lagged");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let all = past_stream.chain(live_stream);
    let mut resp = api_core::stream::json_lines(all);
    // Flush the headers at once: clients wait for them before reading events.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
