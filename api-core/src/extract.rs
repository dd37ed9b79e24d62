//! Extractors whose rejections are the API's error envelope, never axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; malformed JSON answers 400 with the envelope.
///
/// Only the first JSON value is decoded (what follows is ignored, as Go's decoder does).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        // Like Go's `json.Decoder`, which Podman's handlers use: the first value counts,
        // whatever follows it is not read.
        match serde_json::Deserializer::from_slice(&bytes)
            .into_iter::<T>()
            .next()
        {
            Some(Ok(v)) => Ok(ApiJson(v)),
            Some(Err(e)) => Err(ApiError::bad_request(format!("Decode(): {e}"))),
            None => Err(ApiError::bad_request("Decode(): EOF")),
        }
    }
}

/// Path parameters; bad values answer 400 with the envelope.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}
