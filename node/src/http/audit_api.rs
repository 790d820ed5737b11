//! Auditors' calls: trial balances and end-of-day balances as of a past
//! point, period close, the journal export with chain hashes, the audit
//! trail, the hash-chain check and the post-hoc review list.
//!
//! Every snapshot names the log index it was read at. A point the ledger
//! cannot answer for is a 422 with the ledger's code, never an empty answer.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledger::audit::{GENESIS_HASH, verify_chain};
use ledger::{
    BranchCode, CommandKind, Currency, EntryId, ExportedRecord, Ledger, PeriodClose,
    PointInTimeError, Review, ReviewList, Role, Timestamp, Totals, TrailQuery,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::{AppState, Caller, Consistency};
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, Query};
use crate::http::setup_api::{visible_account, write};
use crate::http::{parse, views};

/// Records read per turn of the lock while exporting or verifying: the state
/// machine never waits long for a reader.
const RECORDS_PER_TURN: usize = 2_000;
/// The most audit records one trail page holds.
const TRAIL_PAGE_MAX: usize = 1_000;
/// The most review-list entries one page holds.
const REVIEW_PAGE_MAX: usize = 1_000;

fn point_error(error: PointInTimeError) -> ApiError {
    let status = match error {
        PointInTimeError::BranchNotFound(_) | PointInTimeError::AccountNotFound(_) => {
            StatusCode::NOT_FOUND
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, error.code(), error.to_string())
}

/// The log index for `as_of` or `index` (at most one), or the last applied.
fn resolve_point(
    ledger: &Ledger,
    as_of: Option<&str>,
    index: Option<u64>,
) -> Result<u64, ApiError> {
    let as_of = as_of.map(|at| parse::timestamp("as_of", at)).transpose()?;
    match (as_of, index) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "invalid_query",
            "give as_of or index, not both",
        )),
        // Nothing was applied between the last command and now: the current
        // state is the state as of any moment in between.
        (Some(at), None) if at > ledger.applied_at() && at <= crate::proposer::now() => {
            Ok(ledger.applied_index())
        }
        (Some(at), None) => ledger.index_at_time(at).map_err(point_error),
        (None, Some(index)) => ledger
            .check_index(index)
            .map(|()| index)
            .map_err(point_error),
        (None, None) => ledger
            .check_index(ledger.applied_index())
            .map(|()| ledger.applied_index())
            .map_err(point_error),
    }
}

fn totals(totals: &Totals, currency: Currency) -> Value {
    json!({
        "debits_posted": views::amount(totals.debits_posted, currency),
        "credits_posted": views::amount(totals.credits_posted, currency),
        "debit_balances": views::amount(totals.debit_balances, currency),
        "credit_balances": views::amount(totals.credit_balances, currency),
        "balanced": totals.balanced(),
    })
}

fn with_totals(mut value: Value, sums: &Totals, currency: Currency) -> Value {
    if let (Value::Object(object), Value::Object(sums)) = (&mut value, totals(sums, currency)) {
        object.extend(sums);
    }
    value
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrialBalanceQuery {
    consistency: Consistency,
    as_of: Option<String>,
    index: Option<u64>,
    branch: Option<String>,
}

pub async fn trial_balance(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<TrialBalanceQuery>,
) -> Result<Json<Value>, ApiError> {
    let branch: Option<BranchCode> = parse::optional_id("branch", query.branch.as_deref())?;
    let own_branch_only = match &branch {
        Some(branch) => !caller.may_read_branch(branch),
        None => matches!(caller.principal.role, Role::Branch(_)),
    };
    if own_branch_only {
        return Err(ApiError::forbidden(
            "a branch reads its own trial balance only (?branch=<its code>)",
        ));
    }
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let index = resolve_point(&ledger, query.as_of.as_deref(), query.index)?;
    let snapshot = ledger
        .trial_balance(index, branch.as_ref())
        .map_err(point_error)?;
    let accounts: Vec<Value> = snapshot
        .accounts
        .iter()
        .map(|line| {
            let net = line.balance.debits_posted - line.balance.credits_posted;
            let (debit, credit) = if net.is_positive() {
                (net, ledger::Amount::ZERO)
            } else {
                (ledger::Amount::ZERO, net.negated())
            };
            json!({
                "account": line.account,
                "branch": line.branch,
                "currency": line.currency,
                "class": line.class,
                "debits_posted": views::amount(line.balance.debits_posted, line.currency),
                "credits_posted": views::amount(line.balance.credits_posted, line.currency),
                "debit_balance": views::amount(debit, line.currency),
                "credit_balance": views::amount(credit, line.currency),
            })
        })
        .collect();
    Ok(Json(json!({
        "index": snapshot.index,
        "at": snapshot.at.to_string(),
        "as_of": query.as_of,
        "branch": snapshot.branch,
        "accounts": accounts,
        "classes": snapshot.classes.iter().map(|c| with_totals(
            json!({ "branch": c.branch, "currency": c.currency, "class": c.class }), &c.totals, c.currency,
        )).collect::<Vec<_>>(),
        "branches": snapshot.branches.iter().map(|b| with_totals(
            json!({ "branch": b.branch, "currency": b.currency }), &b.totals, b.currency,
        )).collect::<Vec<_>>(),
        "totals": snapshot.currencies.iter().map(|c| with_totals(
            json!({ "currency": c.currency }), &c.totals, c.currency,
        )).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndOfDayQuery {
    from: String,
    to: Option<String>,
    #[serde(default)]
    consistency: Consistency,
}

pub async fn end_of_day(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<EndOfDayQuery>,
) -> Result<Json<Value>, ApiError> {
    let id: ledger::AccountId = parse::id("id", &id)?;
    let from = parse::date("from", &query.from)?;
    let to = query
        .to
        .as_deref()
        .map(|to| parse::date("to", to))
        .transpose()?
        .unwrap_or(from);
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let account = visible_account(&ledger, &caller, &id)?;
    let days = ledger
        .end_of_day_balances(&id, from, to, crate::proposer::now())
        .map_err(point_error)?;
    let days: Vec<Value> = days
        .iter()
        .map(|day| {
            json!({
                "date": day.date.to_string(),
                "index": day.index,
                "balance": views::balance(&day.balance, &account),
            })
        })
        .collect();
    Ok(Json(json!({
        "account": id,
        "currency": account.currency,
        "days": days,
    })))
}

/// A period close as JSON.
pub fn period(close: &PeriodClose) -> Value {
    json!({
        "branch": close.branch,
        "closed_through": close.closed_through.to_string(),
        "closed_at": close.closed_at.to_string(),
        "closed_by": close.closed_by,
        "closed_index": close.position.index,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodIn {
    branch: String,
    through: String,
}

pub async fn close_period(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PeriodIn>,
) -> Result<Json<Value>, ApiError> {
    let kind = CommandKind::ClosePeriod {
        branch: parse::id("branch", &body.branch)?,
        through: parse::date("through", &body.through)?,
    };
    write(&app, &caller, kind).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReadQuery {
    consistency: Consistency,
}

pub async fn list_periods(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let periods: Vec<Value> = ledger
        .period_closes()
        .filter(|close| caller.may_read_branch(&close.branch))
        .map(period)
        .collect();
    Ok(Json(
        json!({ "periods": periods, "index": ledger.applied_index() }),
    ))
}

/// A review mark as JSON.
pub fn review(review: &Review) -> Value {
    json!({
        "entry": review.entry,
        "reviewed_by": review.reviewed_by,
        "reviewed_at": review.reviewed_at.to_string(),
        "reviewed_index": review.position.index,
        "note": review.note,
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReviewIn {
    note: Option<String>,
}

pub async fn review_entry(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReviewIn>,
) -> Result<Json<Value>, ApiError> {
    let entry: EntryId = parse::id("id", &id)?;
    let kind = CommandKind::ReviewEntry {
        entry,
        note: body.note,
    };
    write(&app, &caller, kind).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewQuery {
    consistency: Consistency,
    branch: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

fn review_list(list: &ReviewList) -> Value {
    let entries: Vec<Value> = list
        .entries
        .iter()
        .map(|flagged| {
            json!({
                "entry": flagged.entry,
                "flags": flagged.flags,
                "currency": flagged.currency,
                "amount": views::amount(flagged.amount, flagged.currency),
                "branches": flagged.branches,
                "posted_by": flagged.posted_by,
                "approved_by": flagged.approved_by,
                "booked_at": flagged.booked_at.to_string(),
                "review": flagged.review.as_ref().map(review),
            })
        })
        .collect();
    json!({
        "flagged": list.flagged,
        "reviewed": list.reviewed,
        "coverage_percent": list.coverage_percent(),
        "entries": entries,
    })
}

pub async fn list_reviews(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReviewQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["auditor", "operator", "admin"], "read the review list")?;
    let branch: Option<BranchCode> = parse::optional_id("branch", query.branch.as_deref())?;
    let unreviewed_only = match query.status.as_deref() {
        None | Some("all") => false,
        Some("unreviewed") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("status must be all or unreviewed, not {other:?}"),
            ));
        }
    };
    let limit = query.limit.unwrap_or(100).clamp(1, REVIEW_PAGE_MAX);
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let list = ledger
        .review_list(branch.as_ref(), unreviewed_only, limit)
        .map_err(ApiError::from)?;
    let mut value = review_list(&list);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RangeQuery {
    consistency: Consistency,
    from_index: Option<u64>,
    to_index: Option<u64>,
    from: Option<String>,
    to: Option<String>,
    principal: Option<String>,
    after_seq: Option<u64>,
    limit: Option<usize>,
    format: Option<String>,
}

impl RangeQuery {
    fn trail_query(&self) -> Result<TrailQuery, ApiError> {
        let time = |field: &str, text: &Option<String>| -> Result<Option<Timestamp>, ApiError> {
            text.as_deref()
                .map(|at| parse::timestamp(field, at))
                .transpose()
        };
        let query = TrailQuery {
            from_index: self.from_index,
            to_index: self.to_index,
            from_time: time("from", &self.from)?,
            to_time: time("to", &self.to)?,
            principal: parse::optional_id("principal", self.principal.as_deref())?,
            after_seq: self.after_seq.unwrap_or(0),
        };
        let backwards = matches!((query.from_index, query.to_index), (Some(from), Some(to)) if from > to)
            || matches!((query.from_time, query.to_time), (Some(from), Some(to)) if from > to);
        if backwards {
            return Err(ApiError::bad_request(
                "invalid_range",
                "the range ends before it starts",
            ));
        }
        Ok(query)
    }
}

/// A page of the audit trail. Serialized as it is (not through a JSON
/// value), so that amounts of any size keep every digit.
#[derive(Serialize)]
pub struct TrailPage {
    records: Vec<ExportedRecord>,
    next_after_seq: Option<u64>,
    index: u64,
}

pub async fn trail(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<RangeQuery>,
) -> Result<Json<TrailPage>, ApiError> {
    caller.require(&["auditor", "operator", "admin"], "read the audit trail")?;
    if query.format.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "format applies to /v1/journal/export only",
        ));
    }
    let trail_query = query.trail_query()?;
    let limit = query.limit.unwrap_or(100).clamp(1, TRAIL_PAGE_MAX);
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let mut records = Vec::new();
    ledger.audit_trail(&trail_query, |chained| {
        let previous = ledger.hash_before(chained.record.seq);
        records.push(ExportedRecord::of(chained, &previous));
        records.len() < limit
    });
    let next_after_seq = (records.len() == limit)
        .then(|| records.last().map(|record| record.seq))
        .flatten();
    Ok(Json(TrailPage {
        records,
        next_after_seq,
        index: ledger.applied_index(),
    }))
}

/// Export formats.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Csv,
}

const CSV_HEADER: &str = "seq,index,command,at,principal,key_id,client,event,previous_hash,hash\n";

/// A CSV field, quoted when it must be.
fn csv_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// JSON text of a typed value. Serialized directly, not through a JSON
/// value, so that amounts of any size keep every digit.
fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("ledger records have no maps with non-string keys")
}

fn export_line(out: &mut String, format: Format, record: &ExportedRecord) {
    match format {
        Format::JsonLines => out.push_str(&json_text(record)),
        Format::Csv => {
            let cells = [
                record.seq.to_string(),
                record.index.to_string(),
                record.command.to_string(),
                record.at.clone(),
                record.principal.clone(),
                record.key_id.clone(),
                record.client.clone(),
                json_text(&record.event),
                record.previous_hash.clone(),
                record.hash.clone(),
            ];
            for (n, cell) in cells.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                csv_field(out, cell);
            }
        }
    }
    out.push('\n');
}

pub async fn export(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    caller.require(&["auditor", "operator", "admin"], "export the journal")?;
    let format = match query.format.as_deref() {
        None | Some("jsonl") => Format::JsonLines,
        Some("csv") => Format::Csv,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format must be jsonl or csv, not {other:?}"),
            ));
        }
    };
    if query.principal.is_some() || query.limit.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "an export is a contiguous run of the chain: principal and limit do not apply",
        ));
    }
    let mut trail_query = query.trail_query()?;
    app.linearize(query.consistency).await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    let reader = app.clone();
    tokio::task::spawn_blocking(move || {
        if format == Format::Csv && sender.blocking_send(Bytes::from(CSV_HEADER)).is_err() {
            return;
        }
        loop {
            let mut chunk = String::new();
            let mut last = None;
            {
                let ledger = reader.ledger();
                let mut count = 0;
                ledger.audit_trail(&trail_query, |chained| {
                    let previous = ledger.hash_before(chained.record.seq);
                    export_line(&mut chunk, format, &ExportedRecord::of(chained, &previous));
                    last = Some(chained.record.seq);
                    count += 1;
                    count < RECORDS_PER_TURN
                });
            }
            let Some(last) = last else { break };
            trail_query.after_seq = last;
            if sender.blocking_send(Bytes::from(chunk)).is_err() {
                break;
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |context| {
        receiver
            .poll_recv(context)
            .map(|chunk| chunk.map(Ok::<_, Infallible>))
    });
    let content_type = match format {
        Format::JsonLines => "application/x-ndjson",
        Format::Csv => "text/csv",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}

pub async fn verify(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&["auditor", "operator", "admin"], "verify the audit chain")?;
    app.linearize(Consistency::Linearizable).await?;
    let reader = app.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let (mut seq, mut head) = (0, GENESIS_HASH);
        let (end, index) = {
            let ledger = reader.ledger();
            (ledger.chain_head().0, ledger.applied_index())
        };
        // The chain only grows: check it a run at a time up to the head
        // it had when the check began.
        while seq < end {
            let last = (seq + RECORDS_PER_TURN as u64).min(end);
            let ledger = reader.ledger();
            match verify_chain(head, seq + 1, ledger.audit_records(seq + 1, last)) {
                Ok(next) => head = next,
                Err(chain_break) => return (seq, head, index, Some(chain_break)),
            }
            seq = last;
        }
        (seq, head, index, None)
    })
    .await
    .map_err(|_| ApiError::unavailable("verify_failed", "the check stopped before it finished"))?;
    let (seq, head, index, chain_break) = outcome;
    Ok(Json(json!({
        "valid": chain_break.is_none(),
        "checked": seq,
        "chain_seq": seq,
        "chain_head": hex::encode(head),
        "index": index,
        "break": chain_break.map(|b| b.to_string()),
    })))
}
