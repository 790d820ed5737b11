//! Any node takes any call: a write, or a linearizable read, that lands on a
//! follower is forwarded to the leader, so a branch system needs one address.
//! A forwarded request is never forwarded again.
//!
//! Postings (`POST /v1/transfers`, `POST /v1/entries`), the calls branch
//! systems make all day, are not forwarded as requests: the follower
//! authenticates and parses them itself, and its group commit sends the
//! gathered commands to the leader in one internal call (see
//! [`crate::proposer`]).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::raft::network::CLUSTER_SECRET_HEADER;

/// The posting routes a follower serves itself.
const POSTINGS: [&str; 2] = ["/v1/transfers", "/v1/entries"];

/// Marks a request a follower forwarded.
pub const FORWARDED_HEADER: &str = "x-clearledger-forwarded-by";
/// The original client's address on a forwarded request.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";

fn needs_leader(request: &Request) -> bool {
    let path = request.uri().path();
    if !path.starts_with("/v1/") {
        return false;
    }
    if request.method() == Method::POST && POSTINGS.contains(&path) {
        return false;
    }
    if request.method() != Method::GET {
        return true;
    }
    #[cfg(feature = "fault-injection")]
    if crate::faults::is(crate::faults::Fault::SkipLinearizableRead) {
        return false;
    }
    let stale = request
        .uri()
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "consistency=stale"));
    !stale && !path.starts_with("/v1/cluster")
}

/// The middleware.
pub async fn forward_to_leader(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !needs_leader(&request) {
        return next.run(request).await;
    }
    let metrics = app.raft.metrics().borrow().clone();
    if metrics.current_leader == Some(app.config.node_id) {
        return next.run(request).await;
    }
    let not_leader = |detail: &str| {
        ApiError::unavailable("not_leader", detail.to_string())
            .with(serde_json::json!({ "leader": metrics.current_leader }))
            .into_response()
    };
    if request.headers().contains_key(FORWARDED_HEADER) {
        return not_leader("this node was forwarded a request but is not the leader; retry");
    }
    let Some(leader) = metrics.current_leader else {
        return not_leader("no leader is known; nothing was proposed; retry");
    };
    let Some(node) = metrics.membership_config.membership().get_node(&leader) else {
        return not_leader("the leader's address is unknown; retry");
    };
    forward(&app, &node.addr, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn forward(
    app: &AppState,
    leader_addr: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_default();
    let mut builder = app
        .client
        .request(
            method.clone(),
            format!("{}://{leader_addr}{path}", app.config.scheme()),
        )
        .timeout(if path.starts_with("/v1/admin/backup") {
            crate::http::backup_api::SNAPSHOT_WAIT * 2
        } else {
            Duration::from_millis(app.config.write.deadline_ms + 2_000)
        })
        .header(FORWARDED_HEADER, app.config.node_id.to_string())
        .header(FORWARDED_FOR_HEADER, peer);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(value) = request.headers().get(&name) {
            builder = builder.header(name, value);
        }
    }
    if let Some(secret) = &app.config.cluster_secret {
        builder = builder.header(CLUSTER_SECRET_HEADER, secret);
    }
    let body = crate::http::extract::read_body(request, &()).await?;
    let response = builder.body(body).send().await.map_err(|error| {
        if error.is_connect() {
            ApiError::unavailable(
                "not_leader",
                "the leader is unreachable; nothing was proposed; retry",
            )
        } else if method == Method::GET {
            ApiError::unavailable(
                "leader_unavailable",
                format!("the leader did not answer: {error}"),
            )
        } else {
            ApiError::unavailable(
                "outcome_unknown",
                "the leader did not answer in time; retry with the same id to learn the outcome",
            )
        }
    })?;
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = response.bytes().await.map_err(|_| {
        ApiError::unavailable(
            "outcome_unknown",
            "the leader's answer was cut off; retry with the same id to learn the outcome",
        )
    })?;
    let mut reply = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        reply
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    reply
        .headers_mut()
        .insert("x-clearledger-forwarded-to", leader_hint(leader_addr));
    Ok(reply)
}

fn leader_hint(addr: &str) -> HeaderValue {
    HeaderValue::from_str(addr).unwrap_or(HeaderValue::from_static("unknown"))
}
