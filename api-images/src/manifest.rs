//! Manifest list routes (libpod tree only). Podman 4.9.5 splits them into two routers by the
//! first digit of the request's version: v0-3 (`POST /create?name=`, `POST {name}/add`,
//! `DELETE {name}?digest=` removing one instance, `POST {name}/push?destination=`) and v4-9
//! (`POST {name}` creating, `PUT {name}` modifying, `POST {name}/registry/{destination}`
//! pushing, `DELETE {name}` deleting the list); `GET {name}/json|exists` exist in both.
//!
//! Names hold slashes, so one wildcard per method dispatches here on the raw path, still
//! percent-encoded like gorilla's `UseEncodedPath` matching (`%2F` in a destination stays
//! inside its segment), and each variable is unescaped afterwards.

use std::collections::BTreeMap;

use api_core::{ApiError, ApiResult, ApiVersion, AppState, Query};
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use engine::images::manifest::{
    check_digest, check_registry_reference, ManifestAddOptions, ManifestAnnotateOptions,
    ManifestInspect, ManifestInspectOptions, ManifestPushOptions,
};
use engine::images::PushProgress;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Go error texts that end a wrapped message and are what Podman puts in `cause`.
const SENTINELS: &[&str] = &[
    "x509: certificate signed by unknown authority",
    "image not known",
    "manifest unknown",
    "that name is already in use",
    "file does not exist",
    "no image instance matching the specified digest was found in the list or index",
    "invalid checksum digest format",
    "invalid checksum digest length",
    "unsupported digest algorithm",
    "invalid reference format",
    "unauthorized: access to the requested resource is not authorized",
];

/// The innermost error text of a wrapped message, like Go's `errors.Cause`.
fn go_cause(msg: &str) -> String {
    SENTINELS
        .iter()
        .find(|s| msg.ends_with(**s))
        .map(|s| (*s).to_string())
        .unwrap_or_else(|| msg.to_string())
}

/// An engine error with the status Podman's handler picks for that call.
fn engine_error(status: StatusCode, e: &engine::Error) -> ApiError {
    ApiError::with_cause(status, go_cause(&e.cause()), e.to_string())
}

/// The list was not found: Podman's lookup error, 404.
fn no_list(name: &str) -> ApiError {
    ApiError::from(engine::Error::NoSuchImage(name.to_string()))
}

fn method_not_allowed() -> Response {
    api_core::middleware::plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n")
}

fn id_response(status: StatusCode, id: String) -> Response {
    (status, Json(json!({ "Id": id }))).into_response()
}

/// Whether the request addresses the v0-3 router (first digit of the version).
fn is_v3(ver: &ApiVersion) -> bool {
    ver.raw
        .as_deref()
        .and_then(|r| r.chars().next())
        .is_some_and(|c| ('0'..='3').contains(&c))
}

/// The raw path below `/libpod/manifests/`.
fn raw_rest(uri: &Uri) -> String {
    uri.path()
        .strip_prefix("/libpod/manifests/")
        .unwrap_or_default()
        .to_string()
}

/// Percent-decoding like Go's `url.PathUnescape` (or `QueryUnescape` with `plus`).
fn unescape(s: &str, plus: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A path variable as Podman's `GetVar` gives it: unescaped, or raw when that fails.
fn path_var(raw: &str) -> String {
    unescape(raw, false).unwrap_or_else(|| raw.to_string())
}

/// Podman's `ManifestModifyOptions` (also the body of v3 add and of create). Keys match
/// case-insensitively like Go's decoder; unknown keys are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ModifyBody {
    operation: Option<String>,
    all: Option<bool>,
    images: Option<Vec<String>>,
    annotation: Option<Vec<String>>,
    annotations: Option<BTreeMap<String, String>>,
    arch: Option<String>,
    features: Option<Vec<String>>,
    os: Option<String>,
    os_features: Option<Vec<String>>,
    os_version: Option<String>,
    variant: Option<String>,
    /// The v3 add body's `TLSVerify`.
    tlsverify: Option<bool>,
}

impl ModifyBody {
    fn annotate(&self) -> ManifestAnnotateOptions {
        ManifestAnnotateOptions {
            annotation: self.annotation.clone().unwrap_or_default(),
            annotations: self.annotations.clone().unwrap_or_default(),
            arch: self.arch.clone().unwrap_or_default(),
            features: self.features.clone().unwrap_or_default(),
            os: self.os.clone().unwrap_or_default(),
            os_features: self.os_features.clone().unwrap_or_default(),
            os_version: self.os_version.clone().unwrap_or_default(),
            variant: self.variant.clone().unwrap_or_default(),
        }
    }
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// Decodes the first JSON value of a body like `json.NewDecoder(..).Decode`; the error is
/// the decoder's text (Podman answers it as `Decode(): <text>`).
fn decode_body(body: &[u8]) -> Result<ModifyBody, String> {
    let text = String::from_utf8_lossy(body);
    let v = match serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .next()
    {
        None => return Err("EOF".into()),
        Some(Err(e)) => return Err(api_core::query::go_json_error(&e, &text)),
        Some(Ok(v)) => v,
    };
    let v = match v {
        Value::Null => return Ok(ModifyBody::default()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type entities.ManifestModifyOptions",
                go_kind(&other)
            ))
        }
    };
    serde_json::from_value(v).map_err(|e| format!("json: {e}"))
}

fn decode_error(status: StatusCode, text: String) -> ApiError {
    ApiError::with_cause(status, text.clone(), format!("Decode(): {text}"))
}

// --- Inspect: Podman's `ManifestListData` (a Docker list plus OCI annotations) ---

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Schema2PlatformSpec {
    architecture: String,
    os: String,
    #[serde(rename = "os.version", skip_serializing_if = "String::is_empty")]
    os_version: String,
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    os_features: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    features: Vec<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ManifestListDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
    digest: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    platform: Schema2PlatformSpec,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

/// `GET /libpod/manifests/{name}/json`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ManifestListData {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: String,
    manifests: Option<Vec<ManifestListDescriptor>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

impl From<&ManifestInspect> for ManifestListData {
    fn from(m: &ManifestInspect) -> Self {
        let manifests = m
            .index
            .manifests
            .iter()
            .map(|e| ManifestListDescriptor {
                media_type: e.media_type.clone(),
                size: e.size,
                digest: e.digest.clone(),
                urls: e.urls.clone(),
                platform: Schema2PlatformSpec {
                    architecture: e.platform.architecture.clone(),
                    os: e.platform.os.clone(),
                    os_version: e.platform.os_version.clone(),
                    os_features: e.platform.os_features.clone(),
                    variant: e.platform.variant.clone(),
                    features: e.platform.features.clone(),
                },
                annotations: e.annotations.clone(),
            })
            .collect::<Vec<_>>();
        ManifestListData {
            schema_version: 2,
            media_type: m.media_type.clone(),
            manifests: (!(manifests.is_empty() && m.null_manifests)).then_some(manifests),
            annotations: m.index.annotations.clone(),
        }
    }
}

/// `ManifestModifyReport`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ManifestModifyReport {
    #[serde(rename = "Id")]
    id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<String>,
    /// Podman's field holds Go `error` values, which encode as `{}`: one empty object per
    /// failure is what clients receive.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<serde_json::Map<String, Value>>,
}

/// `LibpodImagesRemoveReport`, as the v4 delete answers it.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ManifestRemoveReport")]
pub(crate) struct RemoveReport {
    #[serde(rename = "Deleted", skip_serializing_if = "Vec::is_empty")]
    deleted: Vec<String>,
    #[serde(rename = "Untagged", skip_serializing_if = "Vec::is_empty")]
    untagged: Vec<String>,
    #[serde(rename = "ExitCode")]
    exit_code: i32,
    #[serde(rename = "Errors")]
    errors: Option<Vec<String>>,
}

// --- Dispatch ---

/// `GET /libpod/manifests/{name}/json|exists` (both trees).
pub(crate) async fn get(
    State(st): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    q: Query,
) -> ApiResult<Response> {
    let rest = raw_rest(&uri);
    if let Some(name) = rest.strip_suffix("/exists") {
        return exists(&st, &path_var(name)).await;
    }
    if let Some(name) = rest.strip_suffix("/json") {
        return inspect(&st, &path_var(name), &q, &headers).await;
    }
    // Every path matches the DELETE route of either tree, so Go's router answers 405.
    Ok(method_not_allowed())
}

/// `POST`: v3 `create`, `{name}/push`, `{name}/add`; v4 `{name}/registry/{destination}`
/// and `{name}` (create).
pub(crate) async fn post(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    uri: Uri,
    headers: HeaderMap,
    q: Query,
    body: Bytes,
) -> ApiResult<Response> {
    let rest = raw_rest(&uri);
    if is_v3(&ver) {
        if let Some(name) = rest
            .strip_suffix("/push")
            .filter(|n| !n.is_empty() && !n.contains('/'))
        {
            return push_v3(&st, &path_var(name), &q, &headers).await;
        }
        if rest == "create" {
            let name = q.get("name").unwrap_or_default().to_string();
            return create(&st, &ver, name, &q, &body).await;
        }
        if let Some(name) = rest.strip_suffix("/add") {
            return add_v3(&st, &path_var(name), &q, &headers, &body).await;
        }
        return Ok(method_not_allowed());
    }
    // The name is greedy in Podman's route: the last `/registry/` separates them.
    if let Some(at) = rest.rfind("/registry/") {
        let name = path_var(&rest[..at]);
        let destination = path_var(&rest[at + "/registry/".len()..]);
        return push_v4(&st, &name, &destination, &q, &headers).await;
    }
    let name = unescape(&rest, true).ok_or_else(|| {
        ApiError::bad_request(format!(
            "failed to parse name parameter {rest:?}: invalid URL escape"
        ))
    })?;
    create(&st, &ver, name, &q, &body).await
}

/// `PUT /libpod/manifests/{name}` (v4: modify).
pub(crate) async fn put(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    q: Query,
    body: Bytes,
) -> ApiResult<Response> {
    if is_v3(&ver) {
        return Ok(method_not_allowed());
    }
    let name = path_var(&raw_rest(&uri));
    modify(&st, &name, &original, &q, &headers, &body).await
}

/// `DELETE /libpod/manifests/{name}`: v3 removes the instance `digest`, v4 the list.
pub(crate) async fn delete(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    uri: Uri,
    q: Query,
) -> ApiResult<Response> {
    let name = path_var(&raw_rest(&uri));
    if is_v3(&ver) {
        return remove_digest_v3(&st, &name, &q).await;
    }
    if !st
        .images
        .manifest_exists(&name)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?
    {
        return Err(no_list(&name));
    }
    let report = match st.images.manifest_delete(&name).await {
        Ok(r) => RemoveReport {
            deleted: r.deleted,
            untagged: r.untagged,
            exit_code: 0,
            errors: None,
        },
        Err(e) => RemoveReport {
            deleted: Vec::new(),
            untagged: Vec::new(),
            exit_code: 1,
            errors: Some(vec![e.to_string()]),
        },
    };
    Ok((StatusCode::OK, Json(report)).into_response())
}

// --- Operations ---

async fn exists(st: &AppState, name: &str) -> ApiResult<Response> {
    let found = st
        .images
        .manifest_exists(name)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    if found {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found("manifest not found"))
    }
}

async fn inspect(st: &AppState, name: &str, q: &Query, headers: &HeaderMap) -> ApiResult<Response> {
    let opts = ManifestInspectOptions {
        tls_verify: q.bool("tlsVerify")?,
        credentials: crate::pull::registry_auth(headers),
    };
    let found = st
        .images
        .manifest_inspect(name, opts)
        .await
        .map_err(|e| engine_error(StatusCode::NOT_FOUND, &e))?;
    Ok(Json(ManifestListData::from(&found)).into_response())
}

/// Create (both trees): the name is validated, the list created with the query's images,
/// then a body of at least 3 bytes adds its images (or the query's) with its options.
async fn create(
    st: &AppState,
    ver: &ApiVersion,
    name: String,
    q: &Query,
    body: &[u8],
) -> ApiResult<Response> {
    // `image` is the 3.x spelling; `images` wins when both are given.
    let mut images = q.all("image");
    let given = q.all("images");
    if !given.is_empty() {
        images = given;
    }
    let all = q.bool_or("all", false)?;
    let amend = q.bool_or("amend", false)?;
    if engine::images::ImageRef::parse_normalized(&name).is_err() {
        return Err(ApiError::with_cause(
            StatusCode::BAD_REQUEST,
            "invalid reference format",
            format!("invalid image name {name}: invalid reference format"),
        ));
    }
    let id = st
        .images
        .manifest_create(&name, images.clone(), all, amend)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let status = if ver.at_least(4, 0, 0) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // Podman treats a body shorter than 3 bytes (`\r\n`) as none.
    if body.len() < 3 {
        return Ok(id_response(status, id));
    }
    let b = decode_body(body).map_err(|t| decode_error(StatusCode::INTERNAL_SERVER_ERROR, t))?;
    if let Some(imgs) = b.images.clone().filter(|v| !v.is_empty()) {
        images = imgs;
    }
    let opts = ManifestAddOptions {
        all: b.all.unwrap_or(false),
        annotate: b.annotate(),
        tls_verify: None,
        credentials: None,
    };
    let id = st
        .images
        .manifest_add(&name, images, opts)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    Ok(id_response(status, id))
}

/// v3 `POST {name}/add`: a JSON body of add options.
async fn add_v3(
    st: &AppState,
    name: &str,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let b = decode_body(body).map_err(|t| decode_error(StatusCode::INTERNAL_SERVER_ERROR, t))?;
    // Podman reads the value from the body, but only when the query names `tlsVerify`.
    let tls_verify = if q.has("tlsVerify") {
        Some(b.tlsverify.or(q.bool("tlsVerify")?).unwrap_or(false))
    } else {
        None
    };
    if !st
        .images
        .manifest_exists(name)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?
    {
        return Err(no_list(name));
    }
    let opts = ManifestAddOptions {
        all: b.all.unwrap_or(false),
        annotate: b.annotate(),
        tls_verify,
        credentials: crate::pull::registry_auth(headers),
    };
    let id = st
        .images
        .manifest_add(name, b.images.unwrap_or_default(), opts)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    Ok(id_response(StatusCode::OK, id))
}

/// v3 `DELETE {name}?digest=`: removes one instance.
async fn remove_digest_v3(st: &AppState, name: &str, q: &Query) -> ApiResult<Response> {
    let digest = q.get("digest").unwrap_or_default().to_string();
    if !st
        .images
        .manifest_exists(name)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?
    {
        return Err(no_list(name));
    }
    check_digest(&digest).map_err(ApiError::bad_request)?;
    let id = st
        .images
        .manifest_remove_instance(name, &digest)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    Ok(id_response(StatusCode::OK, id))
}

/// v4 `PUT {name}`: `update` adds images, `remove` drops digests, `annotate` edits
/// instances. Failures go into the report: 409 when some images worked, else 400.
async fn modify(
    st: &AppState,
    name: &str,
    original: &Uri,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let b = decode_body(body).map_err(|t| decode_error(StatusCode::INTERNAL_SERVER_ERROR, t))?;
    if !st
        .images
        .manifest_exists(name)
        .await
        .map_err(|e| engine_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?
    {
        return Err(no_list(name));
    }
    let mut annotate = b.annotate();
    if !annotate.annotation.is_empty() {
        if !annotate.annotations.is_empty() {
            return Err(ApiError::bad_request(
                "can not set both Annotation and Annotations",
            ));
        }
        for spec in std::mem::take(&mut annotate.annotation) {
            let Some((k, v)) = spec.split_once('=') else {
                return Err(ApiError::bad_request(format!(
                    "no value given for annotation {spec:?}"
                )));
            };
            annotate.annotations.insert(k.to_string(), v.to_string());
        }
    }
    let tls_verify = match q.all("tlsVerify").last() {
        None => None,
        Some(v) => Some(api_core::query::parse_bool(v).ok_or_else(|| {
            ApiError::with_cause(
                StatusCode::BAD_REQUEST,
                "invalid syntax",
                format!("tlsVerify param is not a bool: strconv.ParseBool: parsing {v:?}: invalid syntax"),
            )
        })?),
    };
    let credentials = crate::pull::registry_auth(headers);
    let operation = b.operation.clone().unwrap_or_default();
    let images = b.images.clone().unwrap_or_default();
    let mut report = ManifestModifyReport {
        id: String::new(),
        images: Vec::new(),
        errors: Vec::new(),
    };
    let mut failures: Vec<String> = Vec::new();
    match operation.to_ascii_lowercase().as_str() {
        "update" => {
            let opts = ManifestAddOptions {
                all: b.all.unwrap_or(false),
                annotate,
                tls_verify,
                credentials,
            };
            match st.images.manifest_add(name, images.clone(), opts).await {
                Ok(id) => {
                    report.id = id;
                    report.images = images;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        "remove" => {
            for image in &images {
                match st.images.manifest_remove_instance(name, image).await {
                    Ok(id) => {
                        report.id = id;
                        report.images.push(image.clone());
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
        "annotate" => {
            for image in &images {
                match st
                    .images
                    .manifest_annotate(name, image, annotate.clone())
                    .await
                {
                    Ok(id) => {
                        report.id = id;
                        report.images.push(image.clone());
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "illegal operation {operation:?} for {:?}",
                original.to_string()
            )))
        }
    }
    for f in &failures {
        tracing::debug!(list = %name, error = %f, "manifest modify failure");
    }
    report.errors = failures.iter().map(|_| serde_json::Map::new()).collect();
    let status = match (failures.is_empty(), report.images.is_empty()) {
        (true, _) => StatusCode::OK,
        (false, false) => StatusCode::CONFLICT,
        (false, true) => StatusCode::BAD_REQUEST,
    };
    Ok((status, Json(report)).into_response())
}

/// The text of a failed push (what the v4 stream's `error` holds).
fn push_failure(name: &str, e: &engine::Error) -> String {
    match e {
        engine::Error::NoSuchImage(_) => {
            format!("retrieving local image from image name {name}: {e}")
        }
        _ => e.to_string(),
    }
}

/// A failed push as the handlers answer it: 400, `pushing image "<dest>": ...`.
fn push_error(name: &str, destination: &str, e: &engine::Error) -> ApiError {
    ApiError::with_cause(
        StatusCode::BAD_REQUEST,
        go_cause(&e.cause()),
        format!("pushing image {destination:?}: {}", push_failure(name, e)),
    )
}

/// v3 `POST {name}/push?destination=&all=&tlsVerify=`.
async fn push_v3(st: &AppState, name: &str, q: &Query, headers: &HeaderMap) -> ApiResult<Response> {
    let all = q.bool_or("all", false)?;
    let _ = q.bool_or("removeSignatures", false)?;
    let tls_verify = q.bool("tlsVerify")?;
    let destination = q.get("destination").unwrap_or_default().to_string();
    check_registry_reference(&destination).map_err(ApiError::bad_request)?;
    let opts = ManifestPushOptions {
        all,
        format: String::new(),
        tls_verify,
        credentials: crate::pull::registry_auth(headers),
    };
    let (tx, rx) = mpsc::channel(64);
    drop(rx);
    match st.images.manifest_push(name, &destination, opts, tx).await {
        Ok(digest) => Ok(id_response(StatusCode::OK, digest)),
        Err(e) => Err(push_error(name, &destination, &e)),
    }
}

fn progress_line(ev: &PushProgress) -> String {
    match ev {
        PushProgress::Pushing(id) => format!("Copying blob {id}\n"),
        PushProgress::Exists(id) => format!("Copying blob {id} skipped: already exists\n"),
        PushProgress::Pushed(id) => format!("Copying blob {id} done\n"),
        PushProgress::WritingManifest => "Writing manifest to image destination\n".into(),
    }
}

/// v4 `POST {name}/registry/{destination}?all=&tlsVerify=&quiet=&format=`: quiet (the
/// default) answers `{"Id"}` or a 400; otherwise `{"Id":"","stream"}` lines, then the
/// digest or the error.
async fn push_v4(
    st: &AppState,
    name: &str,
    destination: &str,
    q: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let all = q.bool_or("all", false)?;
    let quiet = q.bool_or("quiet", true)?;
    let tls_verify = q.bool("tlsVerify")?;
    for ignored in ["removeSignatures", "forceCompressionFormat"] {
        let _ = q.bool_or(ignored, false)?;
    }
    check_registry_reference(destination).map_err(ApiError::bad_request)?;
    let opts = ManifestPushOptions {
        all,
        format: q.get("format").unwrap_or_default().to_string(),
        tls_verify,
        credentials: crate::pull::registry_auth(headers),
    };
    if quiet {
        let (tx, rx) = mpsc::channel(64);
        drop(rx);
        return match st.images.manifest_push(name, destination, opts, tx).await {
            Ok(digest) => Ok(id_response(StatusCode::OK, digest)),
            Err(e) => Err(push_error(name, destination, &e)),
        };
    }
    let (tx, rx) = mpsc::channel::<PushProgress>(64);
    let images = st.images.clone();
    let (n, d) = (name.to_string(), destination.to_string());
    let task = tokio::spawn(async move { images.manifest_push(&n, &d, opts, tx).await });
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let ev = rx.recv().await?;
        Some((progress_line(&ev), rx))
    })
    .map(|s| json!({"Id": "", "stream": s}));
    let n = name.to_string();
    let tail = futures::stream::once(async move {
        match task
            .await
            .unwrap_or_else(|e| Err(engine::Error::Internal(e.to_string())))
        {
            Ok(digest) => json!({ "Id": digest }),
            Err(e) => json!({"Id": "", "error": push_failure(&n, &e)}),
        }
    });
    Ok(api_core::stream::json_lines(lines.chain(tail)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use engine::images::manifest::{ImageIndex, IndexEntry, PlatformSpec};

    #[test]
    fn trees_split_on_the_first_digit() {
        assert!(is_v3(&ApiVersion::parse(Some("3.4.0"), true)));
        assert!(is_v3(&ApiVersion::parse(Some("0.1"), true)));
        assert!(is_v3(&ApiVersion::parse(Some("10.0"), true)));
        assert!(!is_v3(&ApiVersion::parse(Some("4.0.0"), true)));
        assert!(!is_v3(&ApiVersion::parse(None, true)));
    }

    #[test]
    fn unescaping_like_go() {
        assert_eq!(
            unescape("localhost:5000%2Fxyz:latest", false).unwrap(),
            "localhost:5000/xyz:latest"
        );
        assert_eq!(unescape("a+b", false).unwrap(), "a+b");
        assert_eq!(unescape("a+b", true).unwrap(), "a b");
        assert!(unescape("bad%zz", false).is_none());
        assert!(unescape("bad%2", false).is_none());
        assert!(unescape("%+1", false).is_none());
        assert_eq!(path_var("bad%zz"), "bad%zz");
    }

    #[test]
    fn causes_are_the_innermost_go_errors() {
        assert_eq!(
            go_cause("pushing image \"x\": Get https://x/v2/: tls: failed to verify certificate: x509: certificate signed by unknown authority"),
            "x509: certificate signed by unknown authority"
        );
        assert_eq!(go_cause("abc: image not known"), "image not known");
        assert_eq!(go_cause("something else"), "something else");
    }

    #[test]
    fn bodies_decode_case_insensitively() {
        let b = decode_body(
            br#"{"Operation":"update","Images":["a"],"annotation":["k=v"],"OS_Features":["x"]}"#,
        )
        .unwrap();
        assert_eq!(b.operation.as_deref(), Some("update"));
        assert_eq!(b.images.unwrap(), vec!["a"]);
        assert_eq!(b.os_features.unwrap(), vec!["x"]);
        assert!(decode_body(b"null").unwrap().images.is_none());
        assert_eq!(decode_body(b"").unwrap_err(), "EOF");
        assert!(decode_body(b"[1]")
            .unwrap_err()
            .contains("cannot unmarshal array"));
        assert!(decode_body(b"{not json").is_err());
        // Trailing data after the first value is ignored, like json.Decoder.
        assert!(decode_body(b"{\"all\":true} trailing")
            .unwrap()
            .all
            .unwrap());
    }

    #[test]
    fn inspect_shape_is_podmans() {
        let mut index = ImageIndex::default();
        let mut annotations = BTreeMap::new();
        annotations.insert("foo".to_string(), "bar".to_string());
        index.add_instance(IndexEntry {
            media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 7,
            urls: vec![],
            platform: PlatformSpec {
                architecture: "amd64".into(),
                os: "linux".into(),
                ..Default::default()
            },
            annotations,
        });
        let m = ManifestInspect {
            media_type: engine::images::manifest::DOCKER_LIST.into(),
            index,
            null_manifests: false,
        };
        let v = serde_json::to_value(ManifestListData::from(&m)).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(
            v["mediaType"],
            "application/vnd.docker.distribution.manifest.list.v2+json"
        );
        assert_eq!(v["manifests"][0]["annotations"]["foo"], "bar");
        assert_eq!(
            v["manifests"][0]["platform"],
            json!({"architecture": "amd64", "os": "linux"})
        );
        assert!(v.get("annotations").is_none());
        let empty = ManifestInspect {
            media_type: engine::images::manifest::DOCKER_LIST.into(),
            index: ImageIndex::default(),
            null_manifests: true,
        };
        let v = serde_json::to_value(ManifestListData::from(&empty)).unwrap();
        assert!(v["manifests"].is_null());
        let emptied = ManifestInspect {
            null_manifests: false,
            ..empty
        };
        let v = serde_json::to_value(ManifestListData::from(&emptied)).unwrap();
        assert_eq!(v["manifests"], json!([]));
    }

    #[test]
    fn modify_reports_hide_error_texts_like_go() {
        let r = ManifestModifyReport {
            id: String::new(),
            images: vec![],
            errors: vec![serde_json::Map::new()],
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Id":"","errors":[{}]}"#
        );
    }
}
