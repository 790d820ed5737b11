//! Liveness, readiness, Prometheus metrics and the OpenAPI document: no auth.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// How far behind the local log a node may apply and still call itself ready.
const READY_LAG_MAX: u64 = 1_000;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(app): State<AppState>) -> Response {
    let metrics = app.raft.metrics().borrow().clone();
    let applied = metrics.last_applied.map_or(0, |id| id.index);
    let last_log = metrics.last_log_index.unwrap_or(0);
    let caught_up = applied + READY_LAG_MAX >= last_log;
    let ready = metrics.current_leader.is_some() && caught_up;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "leader": metrics.current_leader,
        "last_applied": applied,
        "last_log_index": last_log,
    });
    (status, Json(body)).into_response()
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    use std::fmt::Write;
    let raft = app.raft.metrics().borrow().clone();
    let mut out = String::new();
    let gauges = [
        (
            "clearledger_raft_term",
            "Current Raft term.",
            raft.current_term,
        ),
        (
            "clearledger_raft_last_log_index",
            "Last log index.",
            raft.last_log_index.unwrap_or(0),
        ),
        (
            "clearledger_raft_last_applied_index",
            "Last applied index.",
            raft.last_applied.map_or(0, |id| id.index),
        ),
        (
            "clearledger_raft_is_leader",
            "1 when this node leads.",
            u64::from(raft.current_leader == Some(app.config.node_id)),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    {
        let ledger = app.ledger();
        let pending = ledger.pending_entries().len();
        let _ = writeln!(
            out,
            "# HELP clearledger_pending_entries Entries waiting for approval.\n# TYPE clearledger_pending_entries gauge\nclearledger_pending_entries {pending}"
        );
        let _ = writeln!(
            out,
            "# HELP clearledger_entry_ids Entry ids in use.\n# TYPE clearledger_entry_ids gauge\nclearledger_entry_ids {}",
            ledger.entry_count()
        );
        let _ = writeln!(
            out,
            "# HELP clearledger_net_debit_cap_warning 1 when a branch's net debit position is at or past its cap's warning threshold.\n# TYPE clearledger_net_debit_cap_warning gauge"
        );
        for (cap, exposure) in ledger.caps() {
            let _ = writeln!(
                out,
                "clearledger_net_debit_cap_warning{{branch=\"{}\",currency=\"{}\"}} {}",
                cap.branch,
                cap.currency,
                u8::from(exposure.net_debit() >= cap.warning_at())
            );
        }
    }
    app.metrics.render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// The OpenAPI description of the whole HTTP API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
