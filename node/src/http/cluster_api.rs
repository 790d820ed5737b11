//! Cluster membership and status, and the state digest replicas compare.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use openraft::{BasicNode, ChangeMembers};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Caller};
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::raft::types::NodeId;

pub async fn status(State(app): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(cluster_view(&app))
}

/// What this node knows of the cluster.
pub fn cluster_view(app: &AppState) -> Value {
    let metrics = app.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let members: Vec<Value> = membership
        .nodes()
        .map(|(id, node)| json!({ "id": id, "addr": node.addr, "voter": voters.contains(id) }))
        .collect();
    json!({
        "node_id": app.config.node_id,
        "state": match metrics.state {
            openraft::ServerState::Leader => "leader",
            openraft::ServerState::Follower => "follower",
            openraft::ServerState::Candidate => "candidate",
            openraft::ServerState::Learner => "learner",
            openraft::ServerState::Shutdown => "shutdown",
        },
        "leader": metrics.current_leader,
        "term": metrics.current_term,
        "last_log_index": metrics.last_log_index,
        "last_applied": metrics.last_applied.map(|id| id.index),
        "snapshot": metrics.snapshot.map(|id| id.index),
        "purged": metrics.purged.map(|id| id.index),
        "members": members,
    })
}

pub async fn digest(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&["admin", "auditor", "operator"], "read the state digest")?;
    let ledger = app.ledger();
    let (seq, head) = ledger.chain_head();
    Ok(Json(json!({
        "node_id": app.config.node_id,
        "index": ledger.applied_index(),
        "digest": hex::encode(ledger.digest()),
        "books_digest": hex::encode(ledger.books_digest()),
        "chain_seq": seq,
        "chain_head": hex::encode(head),
        "entries": ledger.entry_count(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnerIn {
    id: NodeId,
    addr: String,
}

fn membership_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "membership_change_failed",
        error.to_string(),
    )
}

pub async fn add_learner(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<LearnerIn>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["admin"], "change cluster membership")?;
    if body.addr.parse::<std::net::SocketAddr>().is_err() && !body.addr.contains(':') {
        return Err(ApiError::invalid(
            "invalid_address",
            "addr must be host:port",
        ));
    }
    let response = app
        .raft
        .add_learner(body.id, BasicNode { addr: body.addr }, true)
        .await
        .map_err(membership_error)?;
    Ok(Json(
        json!({ "index": response.log_id.index, "cluster": cluster_view(&app) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoterIn {
    id: NodeId,
}

pub async fn promote(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<VoterIn>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["admin"], "change cluster membership")?;
    let response = app
        .raft
        .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([body.id])), false)
        .await
        .map_err(membership_error)?;
    Ok(Json(
        json!({ "index": response.log_id.index, "cluster": cluster_view(&app) }),
    ))
}

pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["admin"], "change cluster membership")?;
    let id: NodeId = id
        .parse()
        .map_err(|_| ApiError::invalid("invalid_id", format!("node id {id:?} is not a number")))?;
    let metrics = app.raft.metrics().borrow().clone();
    let is_voter = metrics
        .membership_config
        .membership()
        .voter_ids()
        .any(|voter| voter == id);
    if is_voter {
        app.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(membership_error)?;
    }
    let response = app
        .raft
        .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
        .await
        .map_err(membership_error)?;
    Ok(Json(
        json!({ "index": response.log_id.index, "cluster": cluster_view(&app) }),
    ))
}
