//! The kube routes: play (`/libpod/play/kube`, `/libpod/kube/play`), down (DELETE on the
//! same paths), generate (`/libpod/generate/kube`, `/libpod/kube/generate`) and apply
//! (`/libpod/kube/apply`). The YAML work is the engine's (`engine::kube`).

use api_core::{ApiError, ApiResult, AppState, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::kube::apply::ApplyOptions;
use engine::kube::{GenerateOptions, PlayOptions};

/// The kube routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/libpod/play/kube", post(play).delete(down))
        .route("/libpod/kube/play", post(play).delete(down))
        .route("/libpod/generate/kube", get(generate))
        .route("/libpod/kube/generate", get(generate))
        .route("/libpod/kube/apply", post(apply))
}

fn yaml_body(body: &Bytes) -> ApiResult<&str> {
    std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the kube YAML is not UTF-8"))
}

/// `POST /libpod/kube/play?network=&start=&replace=&annotations=&publishPorts=...`.
async fn play(
    State(st): State<AppState>,
    q: Query,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let yaml = yaml_body(&body)?;
    let annotations = match q.get("annotations").filter(|a| !a.is_empty()) {
        None => Default::default(),
        Some(a) => serde_json::from_str(a).map_err(|e| {
            ApiError::bad_request(format!("failed to parse parameters: annotations: {e}"))
        })?,
    };
    for ip in q.all("staticIPs") {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(ApiError::bad_request(format!("invalid IP address {ip}")));
        }
    }
    let opts = PlayOptions {
        networks: q.all("network"),
        static_ips: q.all("staticIPs"),
        static_macs: q.all("staticMACs"),
        publish_ports: q.all("publishPorts"),
        annotations,
        log_driver: q.string("logDriver").filter(|d| !d.is_empty()),
        no_hosts: q.bool_or("noHosts", false)?,
        userns: q.string("userns").filter(|u| !u.is_empty()),
    };
    let start = q.bool_or("start", true)?;
    let replace = q.bool_or("replace", false)?;
    let report = st.pods.play_kube(yaml, opts, start, replace).await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|e| ApiError::internal(e.to_string()))?,
    ))
}

/// `DELETE /libpod/kube/play?force=`: stops and removes what the YAML created.
async fn down(
    State(st): State<AppState>,
    q: Query,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let yaml = yaml_body(&body)?;
    let report = st.pods.kube_down(yaml, q.bool_or("force", false)?).await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|e| ApiError::internal(e.to_string()))?,
    ))
}

/// `GET /libpod/generate/kube?names=&service=&type=&replicas=`: the YAML as text.
async fn generate(State(st): State<AppState>, q: Query) -> ApiResult<Response> {
    let names = q.all("names");
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "at least one pod, container or volume name is required",
        ));
    }
    let kind = q.string("type").unwrap_or_default();
    let opts = GenerateOptions {
        service: q.bool_or("service", false)?,
        kind: if kind.is_empty() {
            "pod".into()
        } else {
            kind.to_ascii_lowercase()
        },
        replicas: q.value::<u32>("replicas")?.unwrap_or(1).max(1),
    };
    let yaml = st.pods.generate_kube(&names, opts).await?;
    let mut r = (StatusCode::OK, yaml).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/vnd.yaml"),
    );
    Ok(r)
}

/// `POST /libpod/kube/apply?kubeconfig=&namespace=&caCertFile=`: deploys the YAML body.
async fn apply(State(st): State<AppState>, q: Query, body: Bytes) -> ApiResult<Json<&'static str>> {
    let yaml = yaml_body(&body)?;
    let opts = ApplyOptions {
        kubeconfig: q.string("kubeconfig").unwrap_or_default(),
        namespace: q.string("namespace").unwrap_or_default(),
        ca_cert_file: q.string("caCertFile").unwrap_or_default(),
    };
    st.pods.kube_apply(yaml, opts).await?;
    Ok(Json("Deployed!"))
}
