//! The one error type of the API: rendered as Podman's envelope
//! `{"cause","message","response"}` with a status code chosen in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error: status plus the envelope's texts.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub cause: String,
    pub message: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    cause: &'a str,
    message: &'a str,
    response: u16,
}

impl ApiError {
    /// An error with an explicit status; `cause` is the message itself.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status,
            cause: message.clone(),
            message,
        }
    }

    /// An error whose cause differs from its message (Go's wrapped errors).
    pub fn with_cause(
        status: StatusCode,
        cause: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            cause: cause.into(),
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The JSON body of the envelope.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Envelope {
            cause: &self.cause,
            message: &self.message,
            response: self.status.as_u16(),
        })
        .unwrap_or_default()
    }

    /// The envelope as one JSON value (for errors appended to an already started stream).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "cause": self.cause,
            "message": self.message,
            "response": self.status.as_u16(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status.is_server_error() {
            // Logged once by the logging middleware.
            resp.extensions_mut().insert(self);
        }
        resp
    }
}

impl From<engine::Error> for ApiError {
    fn from(err: engine::Error) -> ApiError {
        use engine::Error as E;
        let status = match &err {
            E::NoSuchContainer(_)
            | E::NoSuchPod(_)
            | E::NoSuchImage(_)
            | E::NoSuchNetwork(_)
            | E::NoSuchVolume(_)
            | E::NoSuchSecret(_)
            | E::NoSuchExecSession(_)
            | E::NotFound(_) => StatusCode::NOT_FOUND,
            E::NameInUse(..)
            | E::Exists(_)
            | E::VolumeExists(_)
            | E::PodExists(_)
            | E::VolumeInUse(..)
            | E::InvalidState(_) => StatusCode::CONFLICT,
            E::InvalidArg(_) => StatusCode::BAD_REQUEST,
            E::NetworkConnected(_) => StatusCode::FORBIDDEN,
            E::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            E::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            E::NotModified(_) => StatusCode::NOT_MODIFIED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::with_cause(status, err.cause(), err.to_string())
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_podman_envelopes() {
        let e: ApiError = engine::Error::NoSuchContainer("probe-nonexistent".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "cause": "no such container",
                "message": "no container with name or ID \"probe-nonexistent\" found: no such container",
                "response": 404
            })
        );
    }
}
