//! Customer statements (对账单) and their returns (对账回执): issuing, returns
//! posted by branch systems, reading statements with their lines, the
//! differentiated policy (差异化对账), and the reports — return rate per branch
//! (回收率), overdue list, disputes by age — as JSON or CSV.
//!
//! The verification code is shown to operators, auditors and admins; a
//! branch system reads statements without it, so the code a customer sends
//! back is one the branch could not have copied from the API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ledger::{
    AgedStatement, BranchCode, CommandKind, Frequency, IssueStatements, Ledger, Purpose,
    ReturnAnswer, ReturnState, ReturnStatement, Role, Statement, StatementCommand, StatementId,
    StatementKey, StatementLine, StatementPolicy, StatementReceipt, StatementRule, Timestamp,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Caller, Consistency};
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, Query};
use crate::http::setup_api::write;
use crate::http::{parse, views};

/// Parses a cutoff: an RFC 3339 timestamp, or a date meaning the end of that
/// day (UTC).
fn cutoff(text: &str) -> Result<Timestamp, ApiError> {
    if text.len() == 10 {
        let date = parse::date("cutoff", text)?;
        return Ok(Timestamp(date.next().start().0 - 1));
    }
    parse::timestamp("cutoff", text)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueIn {
    accounts: Option<Vec<String>>,
    branch: Option<String>,
    cutoff: String,
    due: String,
}

pub async fn issue(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<IssueIn>,
) -> Result<Json<Value>, ApiError> {
    let accounts = body
        .accounts
        .unwrap_or_default()
        .iter()
        .map(|id| parse::id("accounts", id))
        .collect::<Result<Vec<_>, _>>()?;
    let issue = IssueStatements {
        accounts,
        branch: body
            .branch
            .as_deref()
            .map(|code| parse::id("branch", code))
            .transpose()?,
        cutoff: cutoff(&body.cutoff)?,
        due: parse::date("due", &body.due)?,
        // The verification key enters the ledger through a command: fresh
        // random bytes that the first issue installs.
        key_seed: StatementKey(rand::random()),
    };
    let kind = CommandKind::Statements(StatementCommand::Issue(issue));
    write(&app, &caller, kind).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnIn {
    verification_code: String,
    status: ReturnAnswer,
    stated_balance: Option<String>,
}

pub async fn return_statement(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReturnIn>,
) -> Result<Json<Value>, ApiError> {
    let id: StatementId = parse::id("id", &id)?;
    let stated_balance = match &body.stated_balance {
        None => None,
        Some(text) => {
            // The amount is in the statement's currency.
            let currency = app
                .ledger()
                .statement(&id)
                .map(|statement| statement.currency)
                .ok_or_else(|| not_found(&id))?;
            Some(parse::signed_amount("stated_balance", text, currency)?)
        }
    };
    let answer = ReturnStatement {
        statement: id,
        verification_code: body.verification_code,
        answer: body.status,
        stated_balance,
    };
    let kind = CommandKind::Statements(StatementCommand::Return(answer));
    write(&app, &caller, kind).await
}

fn not_found(id: &StatementId) -> ApiError {
    ApiError::not_found(
        "statement_not_found",
        format!("statement {id} does not exist"),
    )
}

/// Whether the caller may see verification codes.
fn shows_codes(caller: &Caller) -> bool {
    !matches!(caller.principal.role, Role::Branch(_))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ListQuery {
    consistency: Consistency,
    branch: Option<String>,
    account: Option<String>,
    status: Option<ReturnState>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let branch: Option<BranchCode> = query
        .branch
        .as_deref()
        .map(|code| parse::id("branch", code))
        .transpose()?;
    let account: Option<ledger::AccountId> = query
        .account
        .as_deref()
        .map(|id| parse::id("account", id))
        .transpose()?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let statements: Vec<Value> = ledger
        .statements()
        .filter(|s| caller.may_read_branch(&s.branch))
        .filter(|s| branch.as_ref().is_none_or(|b| *b == s.branch))
        .filter(|s| account.as_ref().is_none_or(|a| *a == s.account))
        .filter(|s| query.status.is_none_or(|status| status == s.state))
        .map(|s| statement(s, shows_codes(&caller)))
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

pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    let id: StatementId = parse::id("id", &id)?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let found = ledger
        .statement(&id)
        .filter(|s| caller.may_read_branch(&s.branch))
        .ok_or_else(|| not_found(&id))?;
    let lines = ledger.statement_lines(&id).unwrap_or_default();
    let mut value = statement(found, shows_codes(&caller));
    value["lines"] = lines
        .iter()
        .map(|line| statement_line(line, found))
        .collect();
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    branch: Option<String>,
    purpose: Option<Purpose>,
    currency: Option<String>,
    min_balance: Option<String>,
    frequency: Frequency,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyIn {
    rules: Vec<RuleIn>,
}

pub async fn set_policy(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PolicyIn>,
) -> Result<Json<Value>, ApiError> {
    let mut rules = Vec::with_capacity(body.rules.len());
    for rule in body.rules {
        let currency = rule.currency.as_deref().map(parse::currency).transpose()?;
        let min_balance = match (&rule.min_balance, currency) {
            (None, _) => None,
            (Some(text), Some(currency)) => {
                Some(parse::signed_amount("min_balance", text, currency)?)
            }
            (Some(_), None) => {
                return Err(ApiError::invalid(
                    "statement_policy_invalid",
                    "a rule with min_balance needs a currency",
                ));
            }
        };
        rules.push(StatementRule {
            branch: rule
                .branch
                .as_deref()
                .map(|code| parse::id("branch", code))
                .transpose()?,
            purpose: rule.purpose,
            currency,
            min_balance,
            frequency: rule.frequency,
        });
    }
    let kind = CommandKind::Statements(StatementCommand::SetPolicy(StatementPolicy { rules }));
    write(&app, &caller, kind).await
}

pub async fn get_policy(
    State(app): State<AppState>,
    _caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let mut value = policy(&ledger.statement_policy());
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

/// JSON (the default) or CSV.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReportQuery {
    consistency: Consistency,
    branch: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Format,
}

/// What every report reads first: the branch filter (a branch caller sees
/// only its own), after a read as fresh as asked.
async fn report_scope(
    app: &AppState,
    caller: &Caller,
    query: &ReportQuery,
) -> Result<Option<BranchCode>, ApiError> {
    let mut branch: Option<BranchCode> = query
        .branch
        .as_deref()
        .map(|code| parse::id("branch", code))
        .transpose()?;
    if let Role::Branch(own) = &caller.principal.role {
        if branch.as_ref().is_some_and(|b| b != own) {
            return Err(ApiError::forbidden(format!(
                "branch {own} may read only its own statement reports"
            )));
        }
        branch = Some(own.clone());
    }
    app.linearize(query.consistency).await?;
    Ok(branch)
}

pub async fn return_rates(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let from = query
        .from
        .as_deref()
        .map(|d| parse::date("from", d))
        .transpose()?;
    let to = query
        .to
        .as_deref()
        .map(|d| parse::date("to", d))
        .transpose()?;
    let branch = report_scope(&app, &caller, &query).await?;
    let ledger = app.ledger();
    let rates: Vec<_> = ledger
        .statement_return_rates(from, to)
        .into_iter()
        .filter(|rate| branch.as_ref().is_none_or(|b| *b == rate.branch))
        .collect();
    if query.format == Format::Csv {
        let mut rows = vec![csv_row([
            "branch",
            "issued",
            "returned",
            "reconciled",
            "disputed",
            "overdue",
            "outstanding",
            "return_rate_percent",
        ])];
        for rate in &rates {
            rows.push(csv_row([
                rate.branch.to_string(),
                rate.issued.to_string(),
                rate.returned.to_string(),
                rate.reconciled.to_string(),
                rate.disputed.to_string(),
                rate.overdue.to_string(),
                rate.outstanding.to_string(),
                rate.rate_percent(),
            ]));
        }
        return Ok(csv(rows));
    }
    let branches: Vec<Value> = rates
        .iter()
        .map(|rate| {
            json!({
                "branch": rate.branch,
                "issued": rate.issued,
                "returned": rate.returned,
                "reconciled": rate.reconciled,
                "disputed": rate.disputed,
                "overdue": rate.overdue,
                "outstanding": rate.outstanding,
                "return_rate_percent": rate.rate_percent(),
            })
        })
        .collect();
    Ok(Json(json!({ "branches": branches, "index": ledger.applied_index() })).into_response())
}

pub async fn overdue(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    aged_report(app, caller, query, Ledger::overdue_statements).await
}

pub async fn disputes(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    aged_report(app, caller, query, Ledger::disputed_statements).await
}

async fn aged_report(
    app: AppState,
    caller: Caller,
    query: ReportQuery,
    report: fn(&Ledger, Timestamp) -> Vec<AgedStatement>,
) -> Result<Response, ApiError> {
    if query.from.is_some() || query.to.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from and to apply to the return-rate report only",
        ));
    }
    let branch = report_scope(&app, &caller, &query).await?;
    let ledger = app.ledger();
    // Ages run on the wall clock: an idle ledger's applied time stands still.
    let now = crate::proposer::now().max(ledger.applied_at());
    let items: Vec<AgedStatement> = report(&ledger, now)
        .into_iter()
        .filter(|item| branch.as_ref().is_none_or(|b| *b == item.statement.branch))
        .collect();
    if query.format == Format::Csv {
        let mut rows = vec![csv_row([
            "statement",
            "branch",
            "account",
            "currency",
            "cutoff",
            "due",
            "closing_balance",
            "stated_balance",
            "difference",
            "status",
            "age_days",
            "age_bucket",
        ])];
        for item in &items {
            let s = &item.statement;
            let money = |a: Option<ledger::Amount>| {
                a.map_or_else(String::new, |a| a.to_decimal_string(s.currency))
            };
            let returned = s.returned.as_ref();
            rows.push(csv_row([
                s.id.to_string(),
                s.branch.to_string(),
                s.account.to_string(),
                s.currency.to_string(),
                s.cutoff.to_string(),
                s.due.to_string(),
                money(Some(s.closing_balance)),
                money(returned.and_then(|r| r.stated_balance)),
                money(returned.map(|r| r.difference)),
                s.state.name().to_string(),
                item.age_days.to_string(),
                item.bucket.name().to_string(),
            ]));
        }
        return Ok(csv(rows));
    }
    let show = shows_codes(&caller);
    let values: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut value = statement(&item.statement, show);
            value["age_days"] = json!(item.age_days);
            value["age_bucket"] = json!(item.bucket.name());
            value
        })
        .collect();
    Ok(Json(json!({
        "statements": values,
        "as_of": now.to_string(),
        "index": ledger.applied_index(),
    }))
    .into_response())
}

/// One CSV record (RFC 4180: fields with a comma, quote or line break are quoted).
fn csv_row<S: AsRef<str>>(fields: impl IntoIterator<Item = S>) -> String {
    let fields: Vec<String> = fields
        .into_iter()
        .map(|field| {
            let field = field.as_ref();
            if field.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field.to_string()
            }
        })
        .collect();
    fields.join(",")
}

fn csv(rows: Vec<String>) -> Response {
    let mut body = rows.join("\r\n");
    body.push_str("\r\n");
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    response
}

/// A statement; the verification code only when `show_code`.
pub fn statement(statement: &Statement, show_code: bool) -> Value {
    let currency = statement.currency;
    let returned = statement.returned.as_ref();
    json!({
        "id": statement.id,
        "account": statement.account,
        "branch": statement.branch,
        "currency": currency,
        "cutoff": statement.cutoff.to_string(),
        "due": statement.due.to_string(),
        "opening_index": statement.opening.index,
        "opening_balance": views::amount(statement.opening_balance, currency),
        "closing_index": statement.closing.index,
        "closing_balance": views::amount(statement.closing_balance, currency),
        "status": statement.state.name(),
        "verification_code": show_code.then(|| statement.verification_code.clone()),
        "issued_at": statement.issued_at.to_string(),
        "issued_by": statement.issued_by,
        "issued_index": statement.issued.index,
        "overdue_at": statement.overdue_at.map(|at| at.to_string()),
        "stated_balance": returned
            .and_then(|r| r.stated_balance)
            .map(|a| views::amount(a, currency)),
        "difference": returned.map(|r| views::amount(r.difference, currency)),
        "returned": returned.map(|r| json!({
            "answer": r.answer,
            "by": r.by,
            "at": r.at.to_string(),
            "index": r.position.index,
            "late": r.late,
        })),
        "breaks": statement.breaks,
    })
}

fn statement_line(line: &StatementLine, statement: &Statement) -> Value {
    let currency = statement.currency;
    json!({
        "entry": line.entry,
        "index": line.position.index,
        "at": line.at.to_string(),
        "side": line.side,
        "amount": views::amount(line.amount, currency),
        "balance_after": views::amount(line.balance_after, currency),
        "memo": line.memo,
        "reference": line.reference,
    })
}

fn policy(policy: &StatementPolicy) -> Value {
    let rules: Vec<Value> = policy
        .rules
        .iter()
        .map(|rule| {
            json!({
                "branch": rule.branch,
                "purpose": rule.purpose,
                "currency": rule.currency,
                "min_balance": rule
                    .min_balance
                    .zip(rule.currency)
                    .map(|(a, c)| views::amount(a, c)),
                "frequency": rule.frequency,
            })
        })
        .collect();
    json!({ "rules": rules })
}

/// A statement command's receipt.
pub fn receipt(receipt: &StatementReceipt) -> Value {
    match receipt {
        StatementReceipt::Issued(statements) => json!({
            "statements": statements.iter().map(|s| statement(s, true)).collect::<Vec<_>>(),
        }),
        StatementReceipt::Returned(returned) => statement(returned, true),
        StatementReceipt::Policy(value) => policy(value),
    }
}
