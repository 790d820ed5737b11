//! Request extractors that fail with problem+json: JSON bodies with a size
//! limit and unknown fields refused, and query strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// The largest request body: a full batch of the longest transfers.
pub const BODY_BYTES_MAX: usize = ledger::limits::ENTRIES_PER_BATCH_MAX * 2048;

/// A JSON body, parsed strictly.
pub struct JsonBody<T>(pub T);

/// Reads a body of at most [`BODY_BYTES_MAX`] bytes.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let _ = state;
    let too_large = || {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies may be at most {BODY_BYTES_MAX} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    // Refuse a declared oversized body before reading any of it.
    if declared.is_some_and(|length| length > BODY_BYTES_MAX as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(request.into_body(), BODY_BYTES_MAX)
        .await
        .map_err(|_| too_large())
}

/// Parses JSON, naming where it went wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        let code = if error.is_syntax() || error.is_eof() {
            "malformed_json"
        } else {
            "invalid_body"
        };
        ApiError::bad_request(code, error.to_string())
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(request, state).await?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        parse_json(bytes).map(JsonBody)
    }
}

/// A raw body of at most [`BODY_BYTES_MAX`] bytes.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        read_body(request, state).await.map(RawBody)
    }
}

/// A query string, parsed strictly.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|error| ApiError::bad_request("invalid_query", error.to_string()))
    }
}
