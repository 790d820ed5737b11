//! Internal routes for Raft RPC between nodes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::codec;
use crate::proposer::ProposeError;
use crate::raft::network::CLUSTER_SECRET_HEADER;

/// The largest Raft RPC body: `max_payload_entries` entries of the largest
/// group-commit batch, with room to spare.
pub const RPC_BYTES_MAX: usize = 1 << 30;

fn check_secret(app: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    match &app.config.cluster_secret {
        Some(secret)
            if headers
                .get(CLUSTER_SECRET_HEADER)
                .is_none_or(|given| given.as_bytes() != secret.as_bytes()) =>
        {
            Err(StatusCode::FORBIDDEN.into_response())
        }
        _ => Ok(()),
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    // An append can carry megabytes of group-commit entries.
    crate::blocking::blocking_over(body.len(), || codec::decode(body))
        .map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()).into_response())
}

pub async fn append(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = check_secret(&app, &headers) {
        return response;
    }
    match decode(&body) {
        Ok(request) => codec::encode(&app.raft.append_entries(request).await).into_response(),
        Err(response) => response,
    }
}

pub async fn vote(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = check_secret(&app, &headers) {
        return response;
    }
    match decode(&body) {
        Ok(request) => codec::encode(&app.raft.vote(request).await).into_response(),
        Err(response) => response,
    }
}

pub async fn snapshot(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = check_secret(&app, &headers) {
        return response;
    }
    match decode(&body) {
        Ok(request) => codec::encode(&app.raft.install_snapshot(request).await).into_response(),
        Err(response) => response,
    }
}

/// A follower's gathered commands (see [`crate::proposer`]): queued whole
/// for this node's group commit, their outcomes answered in order, or why
/// there are none.
pub async fn propose(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = check_secret(&app, &headers) {
        return response;
    }
    let commands = match decode::<Vec<ledger::Command>>(&body) {
        Ok(commands) => commands,
        Err(response) => return response,
    };
    let answer = match app.proposer.propose_forwarded(commands) {
        Ok(outcome) => outcome.await.unwrap_or_else(|_| {
            Err(ProposeError::Unknown(
                "the leader stopped waiting for the outcome".into(),
            ))
        }),
        Err(error) => Err(error),
    };
    // One outcome per command: no larger than the commands were, as a rule.
    crate::blocking::blocking_over(body.len(), || codec::encode(&answer)).into_response()
}
