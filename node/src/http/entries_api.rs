//! Transfers, journal entries, the approval queue, approvals and reversals.

use axum::Json;
use axum::extract::{Path, State};
use ledger::{CommandKind, EntryId, EntryStatus, NewEntry, Posting, Receipt, Side};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Caller, Consistency};
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, Query, RawBody, parse_json};
use crate::http::setup_api::write;
use crate::http::{parse, views};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    id: String,
    debit_account: String,
    credit_account: String,
    amount: String,
    currency: String,
    #[serde(default)]
    pending: bool,
    timeout_seconds: Option<u64>,
    memo: Option<String>,
    reference: Option<String>,
    value_date: Option<String>,
    #[serde(default)]
    queue_if_over_cap: bool,
}

fn transfer_entry(body: TransferIn) -> Result<NewEntry, ApiError> {
    let currency = parse::currency(&body.currency)?;
    let amount = parse::positive_amount("amount", &body.amount, currency)?;
    let mut entry = NewEntry::transfer(
        parse::id("id", &body.id)?,
        parse::id("debit_account", &body.debit_account)?,
        parse::id("credit_account", &body.credit_account)?,
        amount,
        currency,
    );
    entry.pending = body.pending;
    entry.queue_if_over_cap = body.queue_if_over_cap;
    entry.timeout_seconds = body.timeout_seconds;
    entry.memo = body.memo;
    entry.reference = body.reference;
    entry.value_date = body
        .value_date
        .as_deref()
        .map(|d| parse::date("value_date", d))
        .transpose()?;
    Ok(entry)
}

/// The id of an item that failed validation, for its result line.
fn item_id(item: &Value) -> Value {
    item.get("id").cloned().unwrap_or(Value::Null)
}

fn invalid_item(item: &Value, error: &ApiError, index: u64) -> Value {
    json!({ "id": item_id(item), "status": "rejected", "code": error.code, "detail": error.detail, "index": index })
}

/// Posts entries: one (rejections answer as problems) or a batch (one
/// result per item, never failing as a whole).
async fn post(
    app: &AppState,
    caller: &Caller,
    items: Vec<Value>,
    atomic: bool,
    single: bool,
    parse_item: fn(&Value) -> Result<NewEntry, ApiError>,
) -> Result<Json<Value>, ApiError> {
    if items.len() > ledger::limits::ENTRIES_PER_BATCH_MAX {
        return Err(ApiError::invalid(
            "batch_too_large",
            format!(
                "a batch may hold at most {} items",
                ledger::limits::ENTRIES_PER_BATCH_MAX
            ),
        ));
    }
    if items.is_empty() {
        return Err(ApiError::invalid("batch_empty", "the batch holds no items"));
    }
    // Each item is read where it lies (the items are kept for the result
    // lines of the ones that fail), not copied whole to be parsed, and the
    // parsed entries and the outcomes are moved, not copied. In a profile of
    // batched posting those copies were about 2% of the machine's CPU; A/B
    // runs did not show it through their noise.
    let parsed: Vec<Result<NewEntry, ApiError>> = items.iter().map(parse_item).collect();
    #[cfg(feature = "fault-injection")]
    let parsed = crate::faults::forget_ids(app, parsed);
    if single {
        let entry = parsed.into_iter().next().expect("one item")?;
        return post_single(app, caller, entry).await;
    }
    let failed = parsed.iter().any(Result::is_err);
    if atomic && failed {
        let first_bad = parsed.iter().position(Result::is_err).expect("one failed");
        let results: Vec<Value> = items
            .iter()
            .zip(&parsed)
            .map(|(item, result)| match result {
                Err(error) => invalid_item(item, error, 0),
                Ok(_) => json!({ "id": item_id(item), "status": "rejected", "code": "atomic_batch_failed",
                    "detail": format!("item {first_bad} of the atomic batch is invalid"), "index": 0 }),
            })
            .collect();
        return Ok(Json(json!({ "results": results, "index": 0 })));
    }
    let mut entries = Vec::with_capacity(parsed.len());
    let errors: Vec<Option<ApiError>> = parsed
        .into_iter()
        .map(|result| result.map(|entry| entries.push(entry)).err())
        .collect();
    let mut posted = if entries.is_empty() {
        Vec::new().into_iter()
    } else {
        let Json(mut value) =
            write(app, caller, CommandKind::PostEntries { entries, atomic }).await?;
        match value.get_mut("results").map(Value::take) {
            Some(Value::Array(results)) => results.into_iter(),
            _ => Vec::new().into_iter(),
        }
    };
    let results: Vec<Value> = items
        .iter()
        .zip(&errors)
        .map(|(item, error)| match error {
            Some(error) => invalid_item(item, error, 0),
            None => posted.next().expect("one outcome per posted item"),
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

async fn post_single(
    app: &AppState,
    caller: &Caller,
    entry: NewEntry,
) -> Result<Json<Value>, ApiError> {
    let applied = app
        .propose(
            caller,
            CommandKind::PostEntries {
                entries: vec![entry],
                atomic: false,
            },
        )
        .await?;
    let outcome = match &applied.outcome {
        Ok(Receipt::Entries(outcomes)) => outcomes.first().cloned().expect("one outcome"),
        Ok(_) => unreachable!("posting entries answers with entry outcomes"),
        Err(rejection) => return Err(ApiError::from(rejection.clone())),
    };
    let result = views::entry_outcome(&outcome);
    match &outcome.status {
        EntryStatus::Rejected { rejection } => Err(ApiError::from(rejection.clone())
            .with(json!({ "results": [result], "index": outcome.position.index }))),
        _ => Ok(Json(json!({
            "results": [result],
            "index": outcome.position.index,
            "booked_at": outcome.booked_at.to_string(),
        }))),
    }
}

fn parse_transfer(item: &Value) -> Result<NewEntry, ApiError> {
    let body = TransferIn::deserialize(item)
        .map_err(|error| ApiError::bad_request("invalid_body", error.to_string()))?;
    transfer_entry(body)
}

/// Posts one item, or a batch `{"<batch_key>": [...], "atomic": bool}`.
async fn post_body(
    app: &AppState,
    caller: &Caller,
    body: &[u8],
    batch_key: &str,
    parse_item: fn(&Value) -> Result<NewEntry, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let invalid = |detail: String| ApiError::bad_request("invalid_body", detail);
    match parse_json(body)? {
        Value::Object(mut batch) if batch.contains_key(batch_key) => {
            let Some(Value::Array(items)) = batch.remove(batch_key) else {
                return Err(invalid(format!("`{batch_key}` must be an array")));
            };
            let atomic = match batch.remove("atomic") {
                None => false,
                Some(Value::Bool(atomic)) => atomic,
                Some(_) => return Err(invalid("`atomic` must be true or false".into())),
            };
            if let Some(unknown) = batch.keys().next() {
                return Err(invalid(format!(
                    "unknown field `{unknown}`, expected `{batch_key}` or `atomic`"
                )));
            }
            post(app, caller, items, atomic, false, parse_item).await
        }
        single => post(app, caller, vec![single], false, true, parse_item).await,
    }
}

pub async fn post_transfers(
    State(app): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    post_body(&app, &caller, &body, "transfers", parse_transfer).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostingIn {
    account: String,
    side: Side,
    amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryIn {
    id: String,
    currency: String,
    postings: Vec<PostingIn>,
    #[serde(default)]
    pending: bool,
    timeout_seconds: Option<u64>,
    memo: Option<String>,
    reference: Option<String>,
    value_date: Option<String>,
    #[serde(default)]
    queue_if_over_cap: bool,
}

pub fn parse_entry(item: &Value) -> Result<NewEntry, ApiError> {
    let body = EntryIn::deserialize(item)
        .map_err(|error| ApiError::bad_request("invalid_body", error.to_string()))?;
    let currency = parse::currency(&body.currency)?;
    if body.postings.len() > ledger::limits::POSTINGS_PER_ENTRY_MAX {
        return Err(ApiError::invalid("postings_too_many", "too many postings"));
    }
    let postings = body
        .postings
        .iter()
        .map(|posting| {
            Ok(Posting {
                account: parse::id("postings.account", &posting.account)?,
                side: posting.side,
                amount: parse::positive_amount("postings.amount", &posting.amount, currency)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(NewEntry {
        id: parse::id("id", &body.id)?,
        currency,
        postings,
        pending: body.pending,
        timeout_seconds: body.timeout_seconds,
        memo: body.memo,
        reference: body.reference,
        value_date: body
            .value_date
            .as_deref()
            .map(|d| parse::date("value_date", d))
            .transpose()?,
        queue_if_over_cap: body.queue_if_over_cap,
    })
}

pub async fn post_entries(
    State(app): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    post_body(&app, &caller, &body, "entries", parse_entry).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReadQuery {
    pub(crate) consistency: Consistency,
}

/// Whether `caller` may see `entry`: branch principals see entries touching their branch.
fn entry_visible(ledger: &ledger::Ledger, caller: &Caller, entry: &ledger::JournalEntry) -> bool {
    entry.posted_by == caller.principal.name
        || entry.request.postings.iter().any(|posting| {
            ledger
                .account(&posting.account)
                .is_some_and(|a| caller.may_read_branch(&a.branch))
        })
}

pub async fn get_entry(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    let id: EntryId = parse::id("id", &id)?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let not_found = || ApiError::not_found("entry_not_found", format!("entry {id} does not exist"));
    let entry = ledger.entry(&id).ok_or_else(not_found)?;
    if !entry_visible(&ledger, &caller, &entry) {
        return Err(not_found());
    }
    let mut value = views::entry(&entry);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

/// The waiting entries `caller` may see, each with how long it has waited by `now`.
fn waiting<'a>(
    ledger: &ledger::Ledger,
    caller: &Caller,
    entries: impl IntoIterator<Item = &'a ledger::JournalEntry>,
    now: ledger::Timestamp,
) -> Vec<Value> {
    entries
        .into_iter()
        .filter(|entry| entry_visible(ledger, caller, entry))
        .map(|entry| {
            let mut value = views::entry(entry);
            value["waiting_seconds"] = json!(now.micros_since(entry.booked_at) / 1_000_000);
            value
        })
        .collect()
}

pub async fn approval_queue(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    // Waiting time runs on the wall clock: an idle ledger's applied time stands still.
    let now = crate::proposer::now().max(ledger.applied_at());
    let queue = waiting(&ledger, &caller, ledger.pending_entries(), now);
    Ok(Json(
        json!({ "pending": queue, "as_of": now.to_string(), "index": ledger.applied_index() }),
    ))
}

/// The liquidity-saving queue: entries waiting for room under their payer's
/// net debit cap, by payer branch and currency, first in first.
pub async fn liquidity_queue(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let now = crate::proposer::now().max(ledger.applied_at());
    let queued = waiting(&ledger, &caller, ledger.queued_entries(), now);
    Ok(Json(json!({
        "queued": queued,
        "window": ledger.open_window_id(),
        "as_of": now.to_string(),
        "index": ledger.applied_index(),
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionIn {
    reason: Option<String>,
}

pub async fn approve(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DecisionIn>,
) -> Result<Json<Value>, ApiError> {
    let entry = parse::id("id", &id)?;
    write(
        &app,
        &caller,
        CommandKind::ApproveEntry {
            entry,
            reason: body.reason,
        },
    )
    .await
}

pub async fn reject(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DecisionIn>,
) -> Result<Json<Value>, ApiError> {
    let entry = parse::id("id", &id)?;
    write(
        &app,
        &caller,
        CommandKind::RejectEntry {
            entry,
            reason: body.reason,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseIn {
    id: String,
    reason: String,
}

pub async fn reverse(
    State(app): State<AppState>,
    caller: Caller,
    Path(original): Path<String>,
    JsonBody(body): JsonBody<ReverseIn>,
) -> Result<Json<Value>, ApiError> {
    let original = parse::id("original", &original)?;
    let id = parse::id("id", &body.id)?;
    write(
        &app,
        &caller,
        CommandKind::ReverseEntry {
            original,
            id,
            reason: body.reason,
        },
    )
    .await
}
