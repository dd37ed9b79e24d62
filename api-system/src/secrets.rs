//! Secret routes of both API trees: create (Docker's JSON body with base64 data; libpod's
//! raw body with query parameters), list with `name`/`id` filters, inspect (`showsecret`),
//! exists, remove, and Docker's update (always 501). Handlers decode, make one engine call
//! and convert; the secrets themselves are the engine's.

use std::collections::BTreeMap;

use api_core::query::go_json_error;
use api_core::{ApiError, ApiPath, ApiResult, ApiVersion, AppState, Query};
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine as _;
use engine::json::field;
use engine::secrets::SecretCreateOptions;
use serde_json::Value;

use crate::convert;
use crate::types::SecretCreateReport;

/// Go's name for the kind of a JSON value, for decode errors.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON `map[string]string` (null or absent: empty).
fn string_map(v: &Value) -> Result<BTreeMap<String, String>, String> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| match x {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(format!(
                    "json: cannot unmarshal {} into Go value of type string",
                    go_kind(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]string",
            go_kind(other)
        )),
    }
}

/// A string field of the compat create body (null or absent: empty).
fn string_field(body: &Value, key: &str) -> ApiResult<String> {
    match field(body, key) {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        other => Err(ApiError::bad_request(format!(
            "Decode(): json: cannot unmarshal {} into Go struct field SecretCreateRequest.{key} of type string",
            go_kind(other)
        ))),
    }
}

/// A query parameter holding a JSON `map[string]string` (`labels`, `driveropts`), as
/// Podman's query decoder reads it.
fn map_param(q: &Query, key: &str) -> ApiResult<BTreeMap<String, String>> {
    let raw = match q.get(key) {
        None | Some("") => return Ok(BTreeMap::new()),
        Some(raw) => raw,
    };
    let bad = |cause: String| {
        ApiError::with_cause(
            StatusCode::BAD_REQUEST,
            cause.clone(),
            format!("failed to parse parameters: {key}: {cause}"),
        )
    };
    let v: Value = serde_json::from_str(raw).map_err(|e| bad(go_json_error(&e, raw)))?;
    string_map(&v).map_err(bad)
}

/// Decodes the compat body's `Data`: standard base64 (what Podman decodes), URL-safe
/// accepted too; padding optional, line breaks ignored like Go's decoder does.
fn decode_data(data: &str) -> ApiResult<Vec<u8>> {
    let clean: String = data.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(&clean)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_PAD_INDIFFERENT.decode(&clean))
        .map_err(|e| ApiError::bad_request(format!("decoding the secret data: {e}")))
}

/// `POST /secrets/create`: Docker's body `{Name, Data (base64), Labels, Driver: {Name}}`
/// (Podman ignores `Driver.Options` on this route) -> 200 `{"ID"}`.
pub(crate) async fn create_compat(
    State(st): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<SecretCreateReport>> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "Decode(): {}",
            go_json_error(&e, &String::from_utf8_lossy(&body))
        ))
    })?;
    if !(v.is_object() || v.is_null()) {
        return Err(ApiError::bad_request(format!(
            "Decode(): json: cannot unmarshal {} into Go value of type SecretCreateRequest",
            go_kind(&v)
        )));
    }
    let name = string_field(&v, "Name")?;
    let data = decode_data(&string_field(&v, "Data")?)?;
    let driver = string_field(field(&v, "Driver"), "Name")?;
    let labels = string_map(field(&v, "Labels"))
        .map_err(|e| ApiError::bad_request(format!("Decode(): {e}")))?;
    let id = st
        .secrets
        .create(
            &name,
            data,
            SecretCreateOptions {
                driver,
                labels,
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(SecretCreateReport { id }))
}

/// `POST /libpod/secrets/create?name=&driver=&driveropts=&labels=&replace=`: the body is
/// the secret -> 200 `{"ID"}`.
pub(crate) async fn create_libpod(
    State(st): State<AppState>,
    q: Query,
    body: Bytes,
) -> ApiResult<Json<SecretCreateReport>> {
    let name = q.get("name").unwrap_or_default().to_string();
    let opts = SecretCreateOptions {
        driver: q.get("driver").unwrap_or_default().to_string(),
        driver_options: map_param(&q, "driveropts")?,
        labels: map_param(&q, "labels")?,
        replace: q.bool_or("replace", false)?,
    };
    let id = st.secrets.create(&name, body.to_vec(), opts).await?;
    Ok(Json(SecretCreateReport { id }))
}

/// `GET /secrets` and `/libpod/secrets/json` (`filters`: `name`, `id`).
pub(crate) async fn list(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Response> {
    let filters = q.filters()?;
    let recs = st.secrets.list(&filters).await?;
    let reports = recs.iter().map(convert::secret_listed);
    Ok(if ver.libpod {
        Json(reports.collect::<Vec<_>>()).into_response()
    } else {
        Json(reports.map(convert::secret_compat).collect::<Vec<_>>()).into_response()
    })
}

/// `GET /secrets/{name}` and `/libpod/secrets/{name}/json` (`showsecret` adds the data).
pub(crate) async fn inspect(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let show = q.bool_or("showsecret", false)?;
    let (rec, data) = st.secrets.inspect(&name, show).await?;
    let report = convert::secret_inspected(&rec, data.as_deref());
    Ok(if ver.libpod {
        Json(report).into_response()
    } else {
        Json(convert::secret_compat(report)).into_response()
    })
}

/// `GET /libpod/secrets/{name}/exists` -> 204 | 404.
pub(crate) async fn exists(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if st.secrets.exists(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such secret"))
    }
}

/// `DELETE /libpod/secrets/{name}` -> 204 | 404. Podman 4.9.5 serves this route with its
/// compat handler, which ignores the documented `all` parameter; so does podapid.
pub(crate) async fn remove(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.secrets.remove(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v{version}/secrets/{name}`. Podman registers this one only with a version
/// prefix; the bare path falls to its swarm stub, which answers 503.
pub(crate) async fn remove_compat(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    uri: Uri,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    if ver.raw.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Podman does not support service: {uri}"),
        ));
    }
    st.secrets.remove(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /secret/{name}`: registered by Podman only without a version prefix.
pub(crate) async fn remove_singular(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    if ver.raw.is_some() {
        return Ok(api_core::middleware::plain(
            StatusCode::NOT_FOUND,
            "Not Found\n",
        ));
    }
    st.secrets.remove(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /secrets/{name}/update`: secrets cannot be updated -> 501.
pub(crate) async fn update() -> ApiError {
    ApiError::new(StatusCode::NOT_IMPLEMENTED, "update is not supported")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_data_decode_like_podman() {
        let q = Query::parse("labels=%7B%22a%22%3A%22b%22%7D&driveropts=");
        assert_eq!(map_param(&q, "labels").unwrap()["a"], "b");
        assert!(map_param(&q, "driveropts").unwrap().is_empty());
        let q = Query::parse("labels=%7B%22a%22%3A1%7D");
        assert_eq!(
            map_param(&q, "labels").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let q = Query::parse("labels=garb1age");
        assert_eq!(
            map_param(&q, "labels").unwrap_err().cause,
            "invalid character 'g' looking for beginning of value"
        );
        assert_eq!(decode_data("c2VjcmV0").unwrap(), b"secret");
        assert_eq!(decode_data("c2VjcmV0Cg==").unwrap(), b"secret\n");
        assert_eq!(decode_data("_-8").unwrap(), vec![0xff, 0xef]);
        assert!(decode_data("!!").is_err());
    }
}
