//! Clearing windows (清算场次): open, close, settle, abort, positions; and
//! net debit caps (净借记限额).
//!
//! The writes answer with a fresh read of the window: its positions live
//! apart from the window itself, and once a window is closed they never
//! change, so the read after the write describes what the write did.

use axum::Json;
use axum::extract::{Path, State};
use ledger::{Applied, CommandKind, Ledger, NetDebitCap, Receipt};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Caller};
use crate::http::entries_api::ReadQuery;
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, Query};
use crate::http::{parse, views};

/// The default share of the cap from which a branch shows a warning.
const WARNING_PERCENT_DEFAULT: u8 = 80;

fn window_id(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("invalid_id", format!("window id {text:?} is not a number")))
}

fn window_not_found(id: u64) -> ApiError {
    ApiError::not_found(
        "window_not_found",
        format!("clearing window {id} does not exist"),
    )
}

/// A window as the read and write routes show it.
fn window_view(ledger: &Ledger, id: u64) -> Option<Value> {
    let window = ledger.window(id)?;
    Some(views::window(window, &ledger.window_positions(id)))
}

/// Proposes a window command and answers with the window it names.
async fn window_write(
    app: &AppState,
    caller: &Caller,
    kind: CommandKind,
) -> Result<Value, ApiError> {
    let applied = app.propose(caller, kind).await?;
    let window = match &applied.outcome {
        Ok(Receipt::Window(window)) => window.id,
        Ok(_) => unreachable!("window commands answer with a window"),
        Err(rejection) => return Err(rejected(&applied, rejection.clone())),
    };
    let ledger = app.ledger();
    let mut value = window_view(&ledger, window).ok_or_else(|| window_not_found(window))?;
    if let Ok(Receipt::Window(receipt)) = &applied.outcome {
        // The status as the command left it, whatever followed it.
        value["status"] = json!(receipt.status.name());
    }
    stamp(&mut value, &applied);
    Ok(value)
}

fn rejected(applied: &Applied, rejection: ledger::Rejection) -> ApiError {
    ApiError::from(rejection)
        .with(json!({ "index": applied.position.index, "booked_at": applied.at.to_string() }))
}

fn stamp(value: &mut Value, applied: &Applied) {
    value["index"] = json!(applied.position.index);
    value["booked_at"] = json!(applied.at.to_string());
}

pub async fn open_window(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    window_write(&app, &caller, CommandKind::OpenWindow)
        .await
        .map(Json)
}

pub async fn close_window(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let window = window_id(&id)?;
    window_write(&app, &caller, CommandKind::CloseWindow { window })
        .await
        .map(Json)
}

pub async fn abort_window(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let window = window_id(&id)?;
    window_write(&app, &caller, CommandKind::AbortWindow { window })
        .await
        .map(Json)
}

/// Settles a closed window; answers with the settlement entries.
pub async fn settle_window(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let window = window_id(&id)?;
    let applied = app
        .propose(&caller, CommandKind::SettleWindow { window })
        .await?;
    let settled = match &applied.outcome {
        Ok(Receipt::Window(settled)) => settled,
        Ok(_) => unreachable!("settling answers with a window"),
        Err(rejection) => return Err(rejected(&applied, rejection.clone())),
    };
    let ledger = app.ledger();
    let entries: Vec<Value> = settled
        .settlement
        .iter()
        .filter_map(|id| ledger.entry(id))
        .map(|entry| views::entry(&entry))
        .collect();
    let window_value = views::window(settled, &ledger.window_positions(window));
    let mut value = json!({ "window": window_value, "entries": entries });
    stamp(&mut value, &applied);
    Ok(Json(value))
}

pub async fn list_windows(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["operator", "auditor", "admin"], "read clearing windows")?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let windows: Vec<Value> = ledger
        .windows()
        .filter_map(|window| window_view(&ledger, window.id))
        .collect();
    Ok(Json(
        json!({ "windows": windows, "open": ledger.open_window_id(), "index": ledger.applied_index() }),
    ))
}

pub async fn get_window(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["operator", "auditor", "admin"], "read clearing windows")?;
    let id = window_id(&id)?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let mut value = window_view(&ledger, id).ok_or_else(|| window_not_found(id))?;
    // Branches at or past their cap's warning threshold, as of this read.
    let warnings: Vec<Value> = ledger
        .cap_warnings()
        .iter()
        .map(|(cap, exposure)| views::cap(cap, exposure))
        .collect();
    value["cap_warnings"] = json!(warnings);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

pub async fn window_positions(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["operator", "auditor", "admin"], "read clearing windows")?;
    let id = window_id(&id)?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    if ledger.window(id).is_none() {
        return Err(window_not_found(id));
    }
    let mut value = views::positions(&ledger.window_positions(id));
    value["window"] = json!(id);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapIn {
    branch: String,
    currency: String,
    cap: String,
    warning_percent: Option<u8>,
}

pub async fn set_cap(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CapIn>,
) -> Result<Json<Value>, ApiError> {
    let currency = parse::currency(&body.currency)?;
    let cap = NetDebitCap {
        branch: parse::id("branch", &body.branch)?,
        currency,
        cap: parse::signed_amount("cap", &body.cap, currency)?,
        warning_percent: body.warning_percent.unwrap_or(WARNING_PERCENT_DEFAULT),
    };
    let applied = app
        .propose(&caller, CommandKind::SetNetDebitCap(cap))
        .await?;
    let cap = match &applied.outcome {
        Ok(Receipt::Cap(cap)) => cap,
        Ok(_) => unreachable!("setting a cap answers with the cap"),
        Err(rejection) => return Err(rejected(&applied, rejection.clone())),
    };
    let ledger = app.ledger();
    let mut value = views::cap(cap, &ledger.exposure(&cap.branch, cap.currency));
    stamp(&mut value, &applied);
    Ok(Json(value))
}

pub async fn list_caps(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["operator", "auditor", "admin"], "read net debit caps")?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let caps: Vec<Value> = ledger
        .caps()
        .iter()
        .map(|(cap, exposure)| views::cap(cap, exposure))
        .collect();
    Ok(Json(
        json!({ "caps": caps, "index": ledger.applied_index() }),
    ))
}
