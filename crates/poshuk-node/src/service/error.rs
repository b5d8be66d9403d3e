//! Error answers of the node's APIs, mapped from the node's errors in one
//! place, and the JSON body parser whose messages never repeat a value.

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use poshuk_protocol::{ErrorBody, ErrorKind};
use serde::de::DeserializeOwned;

use crate::NodeError;
use crate::generations::{InstallError, RetireError, WriteError, WritesPaused};

/// An error response: status, stable code and a message that says what to do.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the node failed to handle the request; see its log",
        )
    }
}

impl From<NodeError> for ApiError {
    fn from(error: NodeError) -> ApiError {
        if let NodeError::StaleTokens { .. } = error {
            return ApiError::conflict("reingest_needed", error.to_string());
        }
        tracing::error!(error = %error, "request failed");
        ApiError::internal()
    }
}

impl From<WritesPaused> for ApiError {
    fn from(paused: WritesPaused) -> ApiError {
        ApiError::conflict("rekeying", paused.reason)
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> ApiError {
        match error {
            WriteError::Paused(paused) => paused.into(),
            WriteError::EmptyReplace => ApiError::bad_request(error.to_string()),
            WriteError::LargeReplace { .. } => {
                ApiError::conflict("large_replace", error.to_string())
            }
            WriteError::Node(error) => error.into(),
        }
    }
}

impl From<InstallError> for ApiError {
    fn from(error: InstallError) -> ApiError {
        match error {
            InstallError::Refused(message) => ApiError::conflict("key_refused", message),
            InstallError::Node(error) => error.into(),
        }
    }
}

impl From<RetireError> for ApiError {
    fn from(error: RetireError) -> ApiError {
        match error {
            RetireError::NoNewerEpoch { .. } => {
                ApiError::conflict("no_newer_epoch", error.to_string())
            }
            RetireError::Busy => ApiError::conflict("rekeying", error.to_string()),
            RetireError::Node(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: self.message,
            code: self.code.to_string(),
            kind: ErrorKind::of_status(self.status.as_u16()),
        };
        (self.status, Json(body)).into_response()
    }
}

/// Parses a JSON body with a precise message (field, line, column) on error.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!(
            "malformed request body: {}",
            poshuk_protocol::error::mask_quoted(&error.to_string())
        ))
    })
}

/// Parses an optional JSON body: empty means the default.
pub(crate) fn parse_optional_json<T: DeserializeOwned + Default>(
    body: &Bytes,
) -> Result<T, ApiError> {
    if body.is_empty() {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

/// Runs CPU or disk work on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(ApiError::internal()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_messages_do_not_repeat_values() {
        let error = parse_json::<poshuk_protocol::IngestBatch>(&Bytes::from_static(
            br#"{"records":[{"record_id":"1","document_ids":"AB123456"}]}"#,
        ))
        .expect_err("document_ids must be a list");
        assert!(!error.message.contains("AB123456"), "{}", error.message);
        assert!(error.message.contains("line 1"), "{}", error.message);
    }
}
