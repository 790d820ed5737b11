//! Reconciliation: external statements (camt.053, MT940/MT950, CSV),
//! reconciliation runs and the breaks workflow.
//!
//! Files are parsed here, at the edge, by the ledger crate's pure importers;
//! what reaches the log is the parsed statement, so every replica stores the
//! same thing and a malformed file never becomes a command.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use ledger::recon::csv::{CsvMapping, CsvSource};
use ledger::recon::{
    BreakKind, BreakResolution, BreakStatus, ExternalStatement, ExternalStatementId, ImportError,
    ItemRef, ReconciliationBreak, ReconciliationRun, Resolution, Rule, StatementFormat, import,
};
use ledger::{AccountId, Amount, CommandKind, Currency, Ledger, Side, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Caller, Consistency};
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, Query, RawBody};
use crate::http::setup_api::write;
use crate::http::views::amount;
use crate::http::{entries_api, parse};

const READERS: [&str; 3] = ["operator", "auditor", "admin"];

fn side(side: Side) -> &'static str {
    match side {
        Side::Credit => "credit",
        Side::Debit => "debit",
    }
}

fn item(item: &ItemRef) -> Value {
    match item {
        ItemRef::Ledger { entry, posting } => {
            json!({ "type": "ledger", "entry": entry, "posting": posting })
        }
        ItemRef::Line { statement, line } => {
            json!({ "type": "line", "statement": statement.0, "line": line })
        }
    }
}

/// A stored statement; its lines (with what matched them, when the ledger
/// is at hand) only when `lines`.
pub fn statement(ledger: Option<&Ledger>, statement: &ExternalStatement, lines: bool) -> Value {
    let currency = statement.currency;
    let balance = |b: &ledger::recon::StatementBalance| json!({ "amount": amount(b.amount, currency), "date": b.date.to_string() });
    let mut value = json!({
        "id": statement.id.0,
        "account": statement.account,
        "format": statement.format.name(),
        "reference": statement.reference,
        "sequence": statement.sequence,
        "external_account": statement.external_account,
        "currency": currency,
        "opening": balance(&statement.opening),
        "closing": balance(&statement.closing),
        "line_count": statement.lines.len(),
        "imported_by": statement.imported_by,
        "imported_at": statement.imported_at.to_string(),
    });
    if lines {
        let lines: Vec<Value> = statement
            .lines
            .iter()
            .enumerate()
            .map(|(at, line)| {
                let reference = ItemRef::Line {
                    statement: statement.id.clone(),
                    line: at as u32,
                };
                let state = ledger.and_then(|l| l.reconciliation_item(&reference));
                json!({
                    "line": at,
                    "amount": amount(line.amount, currency),
                    "side": side(line.side),
                    "booking_date": line.booking_date.to_string(),
                    "value_date": line.value_date.to_string(),
                    "reference": line.reference,
                    "bank_reference": line.bank_reference,
                    "description": line.description,
                    "matched": state.is_some_and(|s| s.claimed.is_some()),
                    "break": state.and_then(|s| s.open_break),
                })
            })
            .collect();
        value["lines"] = Value::Array(lines);
    }
    value
}

fn rule(rule: &Rule, currency: Currency) -> Value {
    match rule {
        Rule::Reference => json!({ "rule": "reference" }),
        Rule::AmountDate { days } => json!({ "rule": "amount_date", "days": days }),
        Rule::Tolerance { tolerance, days } => {
            json!({ "rule": "tolerance", "amount": amount(*tolerance, currency), "days": days })
        }
        Rule::OneToMany {
            days,
            max_items,
            tolerance,
        }
        | Rule::ManyToOne {
            days,
            max_items,
            tolerance,
        } => json!({
            "rule": rule.name(), "days": days, "max_items": max_items,
            "amount": amount(*tolerance, currency),
        }),
    }
}

fn resolution(resolution: &Resolution) -> Value {
    match resolution {
        Resolution::ManualMatch { items } => {
            json!({ "by": "manual_match", "items": items.iter().map(item).collect::<Vec<_>>() })
        }
        Resolution::AdjustingEntry { entry } => json!({ "by": "adjusting_entry", "entry": entry }),
        Resolution::Explanation { reason } => json!({ "by": "explanation", "reason": reason }),
        Resolution::MatchedInRun { run } => json!({ "by": "matched_in_run", "run": run }),
        Resolution::Superseded { run } => json!({ "by": "superseded", "run": run }),
        Resolution::ReturnedLate { state } => {
            json!({ "by": "returned_late", "state": state.name() })
        }
    }
}

/// A break with its age at `now`.
pub fn reconciliation_break(record: &ReconciliationBreak, now: Timestamp) -> Value {
    let currency = record.currency;
    let mut value = json!({
        "id": record.id,
        "kind": record.kind.name(),
        "account": record.account,
        "branch": record.branch,
        "currency": currency,
        "amount": amount(record.amount, currency),
        "date": record.date.to_string(),
        "status": record.status.name(),
        "age_days": record.age_days(now),
        "raised_at": record.raised_at.to_string(),
        "history": record.history.iter().map(|action| json!({
            "action": action.action,
            "by": action.by,
            "at": action.at.to_string(),
            "index": action.position.index,
            "detail": action.detail,
        })).collect::<Vec<_>>(),
    });
    match &record.kind {
        BreakKind::UnmatchedLedgerItem { item: it }
        | BreakKind::UnmatchedExternalLine { item: it } => {
            value["item"] = item(it);
        }
        BreakKind::AmountDifference { run, number } => {
            value["run"] = json!(run);
            value["match"] = json!(number);
        }
        BreakKind::BalanceDifference {
            statement,
            ledger_balance,
            statement_balance,
        } => {
            value["statement"] = json!(statement.0);
            value["ledger_balance"] = amount(*ledger_balance, currency);
            value["statement_balance"] = amount(*statement_balance, currency);
        }
        BreakKind::DisputedStatement {
            statement,
            closing_balance,
            stated_balance,
        } => {
            value["statement"] = json!(statement);
            value["closing_balance"] = amount(*closing_balance, currency);
            value["stated_balance"] = amount(*stated_balance, currency);
        }
        BreakKind::OverdueReturn { statement, due } => {
            value["statement"] = json!(statement);
            value["due"] = json!(due.to_string());
        }
    }
    match &record.status {
        BreakStatus::AwaitingApproval { entry } => value["adjusting_entry"] = json!(entry),
        BreakStatus::Resolved { resolution: how } => value["resolution"] = resolution(how),
        BreakStatus::Open => {}
    }
    value
}

/// A run with its matches, its balance check and the breaks it raised.
pub fn run(ledger: &Ledger, run: &ReconciliationRun, now: Timestamp) -> Value {
    // Accounts are never removed, and a run's statement has the account's currency.
    let currency = ledger
        .account(&run.account)
        .map(|a| a.currency)
        .or_else(|| {
            ledger
                .external_statement(&run.statement)
                .map(|s| s.currency)
        });
    let amount = |value: Amount| currency.map_or(Value::Null, |c| amount(value, c));
    let breaks: Vec<Value> = run
        .breaks_raised
        .iter()
        .filter_map(|id| ledger.reconciliation_break(*id))
        .map(|record| reconciliation_break(record, now))
        .collect();
    json!({
        "id": run.id,
        "account": run.account,
        "external_statement": run.statement.0,
        "rules": currency.map(|c| run.rules.iter().map(|r| rule(r, c)).collect::<Vec<_>>()),
        "matches": run.matches.iter().map(|m| json!({
            "rule": m.rule,
            "ledger": m.ledger.iter().map(item).collect::<Vec<_>>(),
            "external": m.external.iter().map(item).collect::<Vec<_>>(),
            "difference": amount(m.difference),
        })).collect::<Vec<_>>(),
        "balance": {
            "cutoff": run.balance.cutoff.to_string(),
            "ledger_balance": amount(run.balance.ledger_balance),
            "statement_balance": amount(run.balance.statement_balance),
            "explained": amount(run.balance.explained),
            "unexplained": amount(run.balance.unexplained),
        },
        "breaks": breaks,
        "breaks_resolved": run.breaks_resolved,
        "run_by": run.run_by,
        "at": run.at.to_string(),
    })
}

/// How the caller names the file format, from `format` or the Content-Type.
fn format_of(query: Option<&str>, headers: &HeaderMap) -> Result<StatementFormat, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let name = query.map(str::to_string).unwrap_or(content_type);
    match name.as_str() {
        "camt053" | "application/xml" | "text/xml" => Ok(StatementFormat::Camt053V02),
        "mt940" | "text/plain" | "application/x-mt940" => Ok(StatementFormat::Mt940),
        "mt950" | "application/x-mt950" => Ok(StatementFormat::Mt950),
        "csv" | "text/csv" => Ok(StatementFormat::Csv),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_statement_format",
            format!(
                "{other:?} is not a statement format: send camt.053 as application/xml, MT940 as text/plain, MT950 as application/x-mt950, CSV as text/csv, or name it with ?format="
            ),
        )),
    }
}

fn import_error(error: ImportError) -> ApiError {
    let location = match &error {
        ImportError::Malformed { location, .. } => Some(location.to_string()),
        _ => None,
    };
    let problem = ApiError::invalid(error.code(), error.to_string());
    match location {
        Some(location) => problem.with(json!({ "location": location })),
        None => problem,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    account: String,
    format: Option<String>,
    reference: Option<String>,
    external_account: Option<String>,
    opening: Option<String>,
    closing: Option<String>,
    mapping: Option<String>,
}

fn csv_source(query: &ImportQuery, currency: Currency) -> Result<CsvSource, ApiError> {
    let mapping = query.mapping.as_deref().ok_or_else(|| {
        ApiError::invalid(
            "csv_mapping_invalid",
            "a CSV statement needs ?mapping= (the column mapping as JSON)",
        )
    })?;
    let mapping: CsvMapping = serde_json::from_str(mapping)
        .map_err(|error| ApiError::invalid("csv_mapping_invalid", format!("mapping: {error}")))?;
    let balance = |field: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| parse::signed_amount(field, t, currency))
            .transpose()
    };
    Ok(CsvSource {
        mapping,
        currency,
        reference: query.reference.clone().ok_or_else(|| {
            ApiError::invalid("csv_mapping_invalid", "a CSV statement needs ?reference=")
        })?,
        external_account: query.external_account.clone().unwrap_or_default(),
        opening: balance("opening", &query.opening)?,
        closing: balance("closing", &query.closing)?,
    })
}

pub async fn import_statement(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["operator", "admin"], "import statements")?;
    let account: AccountId = parse::id("account", &query.account)?;
    let format = format_of(query.format.as_deref(), &headers)?;
    let currency = app
        .ledger()
        .account(&account)
        .map(|a| a.currency)
        .ok_or_else(|| {
            ApiError::not_found(
                "account_not_found",
                format!("account {account} does not exist"),
            )
        })?;
    let source = match format {
        StatementFormat::Csv => Some(csv_source(&query, currency)?),
        _ => None,
    };
    let statements = import(format, &body, source.as_ref()).map_err(import_error)?;
    let Json(mut value) = write(
        &app,
        &caller,
        CommandKind::ImportExternalStatements {
            account,
            statements,
        },
    )
    .await?;
    // One statement answers as itself; a file of several as a list.
    if let Some(Value::Array(stored)) = value.get("statements").cloned()
        && let [only] = stored.as_slice()
    {
        let mut single = only.clone();
        single["index"] = value["index"].take();
        single["booked_at"] = value["booked_at"].take();
        return Ok(Json(single));
    }
    Ok(Json(value))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ListQuery {
    consistency: Consistency,
    account: Option<String>,
}

pub async fn list_statements(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&READERS, "read statements")?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let statements: Vec<Value> = ledger
        .external_statements()
        .filter(|s| {
            query
                .account
                .as_deref()
                .is_none_or(|a| s.account.as_str() == a)
        })
        .map(|s| statement(Some(&ledger), s, false))
        .collect();
    Ok(Json(
        json!({ "statements": statements, "index": ledger.applied_index() }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReadQuery {
    consistency: Consistency,
}

pub async fn get_statement(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&READERS, "read statements")?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let found = ledger
        .external_statement(&ExternalStatementId(id.clone()))
        .ok_or_else(|| {
            ApiError::not_found(
                "external_statement_not_found",
                format!("external statement {id} does not exist"),
            )
        })?;
    let mut value = statement(Some(&ledger), found, true);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    rule: String,
    days: Option<u32>,
    amount: Option<String>,
    max_items: Option<u8>,
}

fn parse_rule(rule: &RuleIn, currency: Currency) -> Result<Rule, ApiError> {
    let invalid = |detail: String| ApiError::invalid("rules_invalid", detail);
    let days = || {
        rule.days
            .ok_or_else(|| invalid(format!("{}: days is required", rule.rule)))
    };
    let tolerance = |required: bool| -> Result<Amount, ApiError> {
        match (&rule.amount, required) {
            (Some(text), _) => parse::signed_amount("rules.amount", text, currency),
            (None, false) => Ok(Amount::ZERO),
            (None, true) => Err(invalid(format!("{}: amount is required", rule.rule))),
        }
    };
    let max_items = || {
        rule.max_items
            .ok_or_else(|| invalid(format!("{}: max_items is required", rule.rule)))
    };
    Ok(match rule.rule.as_str() {
        "reference" => Rule::Reference,
        "amount_date" => Rule::AmountDate { days: days()? },
        "tolerance" => Rule::Tolerance {
            tolerance: tolerance(true)?,
            days: days()?,
        },
        "one_to_many" => Rule::OneToMany {
            days: days()?,
            max_items: max_items()?,
            tolerance: tolerance(false)?,
        },
        "many_to_one" => Rule::ManyToOne {
            days: days()?,
            max_items: max_items()?,
            tolerance: tolerance(false)?,
        },
        other => {
            return Err(invalid(format!(
                "{other:?} is not a rule: reference, amount_date, tolerance, one_to_many or many_to_one"
            )));
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunIn {
    account: String,
    external_statement: String,
    #[serde(default)]
    rules: Vec<RuleIn>,
}

pub async fn run_reconciliation(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<RunIn>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = parse::id("account", &body.account)?;
    let currency = app
        .ledger()
        .account(&account)
        .map(|a| a.currency)
        .ok_or_else(|| {
            ApiError::not_found(
                "account_not_found",
                format!("account {account} does not exist"),
            )
        })?;
    let rules = body
        .rules
        .iter()
        .map(|r| parse_rule(r, currency))
        .collect::<Result<Vec<_>, _>>()?;
    let command = CommandKind::RunReconciliation {
        account,
        statement: ExternalStatementId(body.external_statement),
        rules,
    };
    let applied = app.propose(&caller, command).await?;
    match &applied.outcome {
        Ok(ledger::Receipt::Reconciliation(record)) => {
            let ledger = app.ledger();
            let mut value = run(&ledger, record, applied.at);
            value["index"] = json!(applied.position.index);
            value["booked_at"] = json!(applied.at.to_string());
            Ok(Json(value))
        }
        Ok(_) => unreachable!("a run answers with the run"),
        Err(rejection) => Err(ApiError::from(rejection.clone())
            .with(json!({ "index": applied.position.index, "booked_at": applied.at.to_string() }))),
    }
}

pub async fn list_reconciliations(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&READERS, "read reconciliations")?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let runs: Vec<Value> = ledger
        .reconciliations()
        .filter(|r| {
            query
                .account
                .as_deref()
                .is_none_or(|a| r.account.as_str() == a)
        })
        .map(|r| {
            let currency = ledger.account(&r.account).map(|a| a.currency);
            json!({
                "id": r.id,
                "account": r.account,
                "external_statement": r.statement.0,
                "matches": r.matches.len(),
                "breaks_raised": r.breaks_raised.len(),
                "unexplained": currency.map(|c| amount(r.balance.unexplained, c)),
                "run_by": r.run_by,
                "at": r.at.to_string(),
            })
        })
        .collect();
    Ok(Json(
        json!({ "reconciliations": runs, "index": ledger.applied_index() }),
    ))
}

fn number(field: &str, text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("invalid_id", format!("{field} {text:?} is not a number")))
}

pub async fn get_reconciliation(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&READERS, "read reconciliations")?;
    let id = number("reconciliation id", &id)?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let now = crate::proposer::now().max(ledger.applied_at());
    let record = ledger.reconciliation(id).ok_or_else(|| {
        ApiError::not_found(
            "reconciliation_not_found",
            format!("reconciliation {id} does not exist"),
        )
    })?;
    let mut value = run(&ledger, record, now);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BreaksQuery {
    consistency: Consistency,
    status: Option<String>,
    kind: Option<String>,
    branch: Option<String>,
    account: Option<String>,
}

const STATUSES: [&str; 4] = ["open", "awaiting_approval", "resolved", "all"];

pub async fn list_breaks(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<BreaksQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&READERS, "read breaks")?;
    if let Some(status) = query.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("status {status:?} is not one of {}", STATUSES.join(", ")),
        ));
    }
    if let Some(kind) = query
        .kind
        .as_deref()
        .filter(|k| !BreakKind::NAMES.contains(k))
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!(
                "kind {kind:?} is not one of {}",
                BreakKind::NAMES.join(", ")
            ),
        ));
    }
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    // Age runs on the wall clock: an idle ledger's applied time stands still.
    let now = crate::proposer::now().max(ledger.applied_at());
    let breaks: Vec<Value> = ledger
        .reconciliation_breaks()
        .filter(|b| match query.status.as_deref() {
            None => b.is_open(),
            Some("all") => true,
            Some(status) => b.status.name() == status,
        })
        .filter(|b| query.kind.as_deref().is_none_or(|k| b.kind.name() == k))
        .filter(|b| {
            query
                .branch
                .as_deref()
                .is_none_or(|c| b.branch.as_str() == c)
        })
        .filter(|b| {
            query
                .account
                .as_deref()
                .is_none_or(|a| b.account.as_str() == a)
        })
        .map(|b| reconciliation_break(b, now))
        .collect();
    Ok(Json(
        json!({ "breaks": breaks, "as_of": now.to_string(), "index": ledger.applied_index() }),
    ))
}

pub async fn get_break(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&READERS, "read breaks")?;
    let id = number("break id", &id)?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let now = crate::proposer::now().max(ledger.applied_at());
    let record = ledger.reconciliation_break(id).ok_or_else(|| {
        ApiError::not_found("break_not_found", format!("break {id} does not exist"))
    })?;
    let mut value = reconciliation_break(record, now);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemIn {
    #[serde(rename = "type")]
    kind: String,
    entry: Option<String>,
    posting: Option<u32>,
    statement: Option<String>,
    line: Option<u32>,
}

fn parse_item(item: &ItemIn) -> Result<ItemRef, ApiError> {
    let invalid = |detail: &str| ApiError::invalid("invalid_item", detail.to_string());
    match item.kind.as_str() {
        "ledger" => Ok(ItemRef::Ledger {
            entry: parse::id(
                "items.entry",
                item.entry
                    .as_deref()
                    .ok_or_else(|| invalid("a ledger item needs entry"))?,
            )?,
            posting: item
                .posting
                .ok_or_else(|| invalid("a ledger item needs posting"))?,
        }),
        "line" => Ok(ItemRef::Line {
            statement: ExternalStatementId(
                item.statement
                    .clone()
                    .ok_or_else(|| invalid("a line needs statement"))?,
            ),
            line: item.line.ok_or_else(|| invalid("a line needs line"))?,
        }),
        _ => Err(invalid("an item's type is ledger or line")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveIn {
    by: String,
    reason: Option<String>,
    items: Option<Vec<ItemIn>>,
    entry: Option<Value>,
}

pub async fn resolve_break(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ResolveIn>,
) -> Result<Json<Value>, ApiError> {
    let id = number("break id", &id)?;
    let missing = |field: &str| {
        ApiError::invalid(
            "invalid_resolution",
            format!("resolving by {} needs {field}", body.by),
        )
    };
    let resolution = match body.by.as_str() {
        "explanation" => BreakResolution::Explanation {
            reason: body.reason.clone().ok_or_else(|| missing("reason"))?,
        },
        "manual_match" => BreakResolution::ManualMatch {
            items: body
                .items
                .as_ref()
                .ok_or_else(|| missing("items"))?
                .iter()
                .map(parse_item)
                .collect::<Result<_, _>>()?,
        },
        "adjusting_entry" => BreakResolution::AdjustingEntry {
            entry: entries_api::parse_entry(body.entry.as_ref().ok_or_else(|| missing("entry"))?)?,
        },
        other => {
            return Err(ApiError::invalid(
                "invalid_resolution",
                format!("{other:?} is not explanation, manual_match or adjusting_entry"),
            ));
        }
    };
    let applied = app
        .propose(&caller, CommandKind::ResolveBreak { id, resolution })
        .await?;
    match &applied.outcome {
        Ok(ledger::Receipt::Break(record)) => {
            let mut value = reconciliation_break(record, applied.at);
            value["index"] = json!(applied.position.index);
            value["booked_at"] = json!(applied.at.to_string());
            Ok(Json(value))
        }
        Ok(_) => unreachable!("resolving answers with the break"),
        Err(rejection) => Err(ApiError::from(rejection.clone())
            .with(json!({ "index": applied.position.index, "booked_at": applied.at.to_string() }))),
    }
}
