//! The HTTP surface: the public API under `/v1` (see `openapi.json`),
//! operations endpoints, and internal Raft routes.

pub mod audit_api;
pub mod backup_api;
pub mod clearing_api;
pub mod cluster_api;
pub mod entries_api;
pub mod error;
pub mod extract;
pub mod forward;
pub mod internal_api;
pub mod ops_api;
pub mod parse;
pub mod recon_api;
pub mod setup_api;
pub mod statements_api;
pub mod views;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use crate::app::AppState;
use crate::http::error::ApiError;

async fn count_responses(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    app.metrics.responded(response.status().as_u16());
    response
}

async fn no_route() -> ApiError {
    ApiError::not_found("no_such_route", "no such route; see /openapi.json")
}

async fn wrong_method() -> Response {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
    .into_response()
}

/// The router for `app`.
pub fn router(app: AppState) -> Router {
    use audit_api as audit;
    use clearing_api as clearing;
    use cluster_api as cluster;
    use entries_api as entries;
    use setup_api as setup;
    let api = Router::new()
        .route(
            "/v1/branches",
            post(setup::create_branch).get(setup::list_branches),
        )
        .route(
            "/v1/accounts",
            post(setup::open_account).get(setup::list_accounts),
        )
        .route("/v1/accounts/{id}", get(setup::get_account))
        .route("/v1/accounts/{id}/balance", get(setup::get_balance))
        .route("/v1/accounts/{id}/freeze", post(setup::freeze_account))
        .route("/v1/accounts/{id}/unfreeze", post(setup::unfreeze_account))
        .route("/v1/accounts/{id}/close", post(setup::close_account))
        .route(
            "/v1/principals",
            post(setup::create_principal).get(setup::list_principals),
        )
        .route(
            "/v1/principals/{name}/rotate-key",
            post(setup::rotate_principal_key),
        )
        .route(
            "/v1/principals/{name}/revoke",
            post(setup::revoke_principal),
        )
        .route("/v1/policies", post(setup::set_policy))
        .route("/v1/transfers", post(entries::post_transfers))
        .route("/v1/entries", post(entries::post_entries))
        .route("/v1/entries/{id}", get(entries::get_entry))
        .route("/v1/entries/{id}/approve", post(entries::approve))
        .route("/v1/entries/{id}/reject", post(entries::reject))
        .route("/v1/entries/{id}/reverse", post(entries::reverse))
        .route("/v1/approvals", get(entries::approval_queue))
        .route("/v1/queue", get(entries::liquidity_queue))
        .route(
            "/v1/windows",
            post(clearing::open_window).get(clearing::list_windows),
        )
        .route("/v1/windows/{id}", get(clearing::get_window))
        .route(
            "/v1/windows/{id}/positions",
            get(clearing::window_positions),
        )
        .route("/v1/windows/{id}/close", post(clearing::close_window))
        .route("/v1/windows/{id}/settle", post(clearing::settle_window))
        .route("/v1/windows/{id}/abort", post(clearing::abort_window))
        .route("/v1/caps", post(clearing::set_cap).get(clearing::list_caps))
        .route(
            "/v1/statements",
            post(statements_api::issue).get(statements_api::list),
        )
        .route("/v1/statements/{id}", get(statements_api::get))
        .route(
            "/v1/statements/{id}/return",
            post(statements_api::return_statement),
        )
        .route(
            "/v1/statement-policy",
            post(statements_api::set_policy).get(statements_api::get_policy),
        )
        .route(
            "/v1/statement-reports/return-rates",
            get(statements_api::return_rates),
        )
        .route(
            "/v1/statement-reports/overdue",
            get(statements_api::overdue),
        )
        .route(
            "/v1/statement-reports/disputes",
            get(statements_api::disputes),
        )
        .route("/v1/snapshots/trial-balance", get(audit::trial_balance))
        .route("/v1/accounts/{id}/end-of-day", get(audit::end_of_day))
        .route(
            "/v1/periods",
            post(audit::close_period).get(audit::list_periods),
        )
        .route("/v1/journal/export", get(audit::export))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/audit/trail", get(audit::trail))
        .route("/v1/audit/reviews", get(audit::list_reviews))
        .route("/v1/entries/{id}/review", post(audit::review_entry))
        .route(
            "/v1/external-statements",
            post(recon_api::import_statement).get(recon_api::list_statements),
        )
        .route(
            "/v1/external-statements/{id}",
            get(recon_api::get_statement),
        )
        .route(
            "/v1/reconciliations",
            post(recon_api::run_reconciliation).get(recon_api::list_reconciliations),
        )
        .route(
            "/v1/reconciliations/{id}",
            get(recon_api::get_reconciliation),
        )
        .route("/v1/breaks", get(recon_api::list_breaks))
        .route("/v1/breaks/{id}", get(recon_api::get_break))
        .route("/v1/breaks/{id}/resolve", post(recon_api::resolve_break))
        .route("/v1/cluster", get(cluster::status))
        .route("/v1/cluster/digest", get(cluster::digest))
        .route("/v1/cluster/learners", post(cluster::add_learner))
        .route("/v1/cluster/voters", post(cluster::promote))
        .route("/v1/cluster/members/{id}", delete(cluster::remove))
        .route("/v1/admin/backup", get(backup_api::backup))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            forward::forward_to_leader,
        ));
    // Raft RPCs carry whole group-commit batches and snapshot chunks.
    let internal = Router::new()
        .route("/internal/raft/append", post(internal_api::append))
        .route("/internal/raft/vote", post(internal_api::vote))
        .route("/internal/raft/snapshot", post(internal_api::snapshot))
        .route(crate::proposer::PROPOSE_PATH, post(internal_api::propose))
        .layer(DefaultBodyLimit::max(internal_api::RPC_BYTES_MAX));
    // A restore goes to a node that has never joined a cluster, so it has no
    // leader to forward to; it reads its (large) body itself, after the key.
    let restore = Router::new()
        .route("/v1/admin/restore", post(backup_api::restore))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .merge(api)
        .merge(internal)
        .merge(restore)
        .route("/healthz", get(ops_api::healthz))
        .route("/readyz", get(ops_api::readyz))
        .route("/metrics", get(ops_api::metrics))
        .route("/openapi.json", get(ops_api::openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(app.clone(), count_responses))
        .with_state(app)
}
