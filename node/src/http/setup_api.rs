//! Branches, accounts, principals and approval policy.

use axum::Json;
use axum::extract::{Path, State};
use ledger::{
    AccountClass, AccountFlags, AccountId, ApprovalPolicy, AuthorityTier, BranchCode, BranchKind,
    CommandKind, NewAccount, NewBranch, NewPrincipal, Purpose, Role,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Caller, Consistency, hash_key, key_id};
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, Query};
use crate::http::{parse, views};

/// Proposes `kind` and renders the receipt, or the rejection as a problem.
pub async fn write(
    app: &AppState,
    caller: &Caller,
    kind: CommandKind,
) -> Result<Json<Value>, ApiError> {
    let applied = app.propose(caller, kind).await?;
    match &applied.outcome {
        Ok(receipt) => Ok(Json(views::receipt(&applied, receipt))),
        Err(rejection) => Err(ApiError::from(rejection.clone())
            .with(json!({ "index": applied.position.index, "booked_at": applied.at.to_string() }))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchIn {
    code: String,
    name: String,
    parent: Option<String>,
    /// `internal` (the default) or `external`: another bank reached through
    /// the outside clearing system named by `scheme`.
    kind: Option<String>,
    scheme: Option<String>,
}

/// The branch kind of a `POST /v1/branches` body.
fn branch_kind(kind: Option<&str>, scheme: Option<&str>) -> Result<BranchKind, ApiError> {
    match (kind.unwrap_or("internal"), scheme) {
        ("internal", None) => Ok(BranchKind::Internal),
        ("internal", Some(_)) => Err(ApiError::invalid(
            "invalid_branch_kind",
            "scheme: only an external participant is reached through a scheme",
        )),
        ("external", Some(scheme)) => Ok(BranchKind::External {
            scheme: parse::id("scheme", scheme)?,
        }),
        ("external", None) => Err(ApiError::invalid(
            "invalid_branch_kind",
            "scheme: an external participant needs the outside clearing system it is reached through",
        )),
        (other, _) => Err(ApiError::invalid(
            "invalid_branch_kind",
            format!("kind: {other:?} is not one of internal, external"),
        )),
    }
}

pub async fn create_branch(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<BranchIn>,
) -> Result<Json<Value>, ApiError> {
    let new = NewBranch {
        code: parse::id("code", &body.code)?,
        name: body.name,
        parent: parse::optional_id("parent", body.parent.as_deref())?,
        kind: branch_kind(body.kind.as_deref(), body.scheme.as_deref())?,
    };
    write(&app, &caller, CommandKind::CreateBranch(new)).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReadQuery {
    consistency: Consistency,
}

pub async fn list_branches(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let branches: Vec<Value> = ledger
        .branches()
        .filter(|b| caller.may_read_branch(&b.code))
        .map(views::branch)
        .collect();
    Ok(Json(
        json!({ "branches": branches, "index": ledger.applied_index() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountIn {
    id: String,
    branch: String,
    currency: String,
    class: AccountClass,
    #[serde(default)]
    purpose: Purpose,
    #[serde(default)]
    flags: AccountFlags,
    name: Option<String>,
}

pub async fn open_account(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<AccountIn>,
) -> Result<Json<Value>, ApiError> {
    let new = NewAccount {
        id: parse::id("id", &body.id)?,
        branch: parse::id("branch", &body.branch)?,
        currency: parse::currency(&body.currency)?,
        class: body.class,
        purpose: body.purpose,
        flags: body.flags,
        name: body.name,
    };
    write(&app, &caller, CommandKind::OpenAccount(new)).await
}

/// Looks an account up for `caller`, who must be allowed to see it.
pub fn visible_account(
    ledger: &ledger::Ledger,
    caller: &Caller,
    id: &AccountId,
) -> Result<ledger::Account, ApiError> {
    let not_found =
        || ApiError::not_found("account_not_found", format!("account {id} does not exist"));
    let account = ledger.account(id).ok_or_else(not_found)?;
    if !caller.may_read_branch(&account.branch) {
        return Err(not_found());
    }
    Ok(account.clone())
}

pub async fn get_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    let id: AccountId = parse::id("id", &id)?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let account = visible_account(&ledger, &caller, &id)?;
    let mut value = views::account(&account);
    value["index"] = json!(ledger.applied_index());
    Ok(Json(value))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ListAccountsQuery {
    consistency: Consistency,
    branch: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

pub async fn list_accounts(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListAccountsQuery>,
) -> Result<Json<Value>, ApiError> {
    let branch: Option<BranchCode> = parse::optional_id("branch", query.branch.as_deref())?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let accounts: Vec<Value> = ledger
        .accounts()
        .filter(|account| {
            query
                .after
                .as_deref()
                .is_none_or(|after| account.id.as_str() > after)
        })
        .filter(|account| branch.as_ref().is_none_or(|b| &account.branch == b))
        .filter(|account| caller.may_read_branch(&account.branch))
        .take(limit)
        .map(views::account)
        .collect();
    let next = (accounts.len() == limit).then(|| accounts.last().map(|a| a["id"].clone()));
    Ok(Json(
        json!({ "accounts": accounts, "next_after": next.flatten(), "index": ledger.applied_index() }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BalanceQuery {
    consistency: Consistency,
    as_of: Option<String>,
    index: Option<u64>,
}

pub async fn get_balance(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<BalanceQuery>,
) -> Result<Json<Value>, ApiError> {
    let id: AccountId = parse::id("id", &id)?;
    let as_of = query
        .as_of
        .as_deref()
        .map(|at| parse::timestamp("as_of", at))
        .transpose()?;
    if as_of.is_some() && query.index.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "give as_of or index, not both",
        ));
    }
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let account = visible_account(&ledger, &caller, &id)?;
    let point_error = |error: ledger::PointInTimeError| {
        ApiError::invalid("point_in_time_unavailable", error.to_string())
    };
    let index = match (as_of, query.index) {
        // Nothing was applied between the last command and now: the current
        // state is the state as of any moment in between.
        (Some(at), _) if at > ledger.applied_at() && at <= crate::proposer::now() => {
            ledger.applied_index()
        }
        (Some(at), _) => ledger.index_at_time(at).map_err(point_error)?,
        (None, Some(index)) => index,
        (None, None) => ledger.applied_index(),
    };
    let balance = ledger.balance_at(&id, index).map_err(point_error)?;
    Ok(Json(json!({
        "account": id,
        "currency": account.currency,
        "index": index,
        "as_of": as_of.map(|at| at.to_string()),
        "balance": views::balance(&balance, &account),
    })))
}

pub async fn freeze_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = parse::id("id", &id)?;
    write(
        &app,
        &caller,
        CommandKind::SetAccountFrozen {
            account,
            frozen: true,
        },
    )
    .await
}

pub async fn unfreeze_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = parse::id("id", &id)?;
    write(
        &app,
        &caller,
        CommandKind::SetAccountFrozen {
            account,
            frozen: false,
        },
    )
    .await
}

pub async fn close_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = parse::id("id", &id)?;
    write(&app, &caller, CommandKind::CloseAccount { account }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalIn {
    name: String,
    role: String,
    #[serde(default)]
    authority: u8,
    key: Option<String>,
}

pub async fn create_principal(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PrincipalIn>,
) -> Result<Json<Value>, ApiError> {
    let role: Role = body.role.parse().map_err(|error: ledger::UnknownRole| {
        ApiError::invalid("invalid_role", error.to_string())
    })?;
    let (key, generated) = key_or_generated(body.key)?;
    let new = NewPrincipal {
        name: parse::id("name", &body.name)?,
        role,
        authority: body.authority,
        key_hash: hash_key(&key),
        key_id: key_id(&key),
    };
    let mut value = write(&app, &caller, CommandKind::CreatePrincipal(new))
        .await?
        .0;
    value["key"] = json!(key);
    value["key_generated"] = json!(generated);
    Ok(Json(value))
}

pub async fn list_principals(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&["admin", "auditor"], "list principals")?;
    app.linearize(query.consistency).await?;
    let ledger = app.ledger();
    let principals: Vec<Value> = ledger.principals().map(views::principal).collect();
    Ok(Json(
        json!({ "principals": principals, "index": ledger.applied_index() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    key: Option<String>,
}

/// The key asked for (at least 16 characters), or a generated one.
fn key_or_generated(key: Option<String>) -> Result<(String, bool), ApiError> {
    match key {
        Some(key) if key.len() < 16 => Err(ApiError::invalid(
            "key_too_short",
            "an API key must be at least 16 characters",
        )),
        Some(key) => Ok((key, false)),
        None => Ok((generate_key(), true)),
    }
}

pub async fn rotate_principal_key(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<KeyIn>,
) -> Result<Json<Value>, ApiError> {
    let name = parse::id("name", &name)?;
    let (key, generated) = key_or_generated(body.key)?;
    let kind = CommandKind::RotatePrincipalKey {
        name,
        key_hash: hash_key(&key),
        key_id: key_id(&key),
    };
    let mut value = write(&app, &caller, kind).await?.0;
    value["key"] = json!(key);
    value["key_generated"] = json!(generated);
    Ok(Json(value))
}

pub async fn revoke_principal(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = parse::id("name", &name)?;
    write(&app, &caller, CommandKind::RevokePrincipal { name }).await
}

/// A new random API key: 32 bytes as hex.
pub fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("cl_{}", hex::encode(bytes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierIn {
    at_least: String,
    authority: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyIn {
    branch: String,
    currency: String,
    threshold: Option<String>,
    #[serde(default)]
    tiers: Vec<TierIn>,
}

pub async fn set_policy(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PolicyIn>,
) -> Result<Json<Value>, ApiError> {
    let currency = parse::currency(&body.currency)?;
    let tiers = body
        .tiers
        .iter()
        .map(|tier| {
            Ok(AuthorityTier {
                at_least: parse::signed_amount("tiers.at_least", &tier.at_least, currency)?,
                authority: tier.authority,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let policy = ApprovalPolicy {
        branch: parse::id("branch", &body.branch)?,
        currency,
        threshold: body
            .threshold
            .as_deref()
            .map(|t| parse::positive_amount("threshold", t, currency))
            .transpose()?,
        tiers,
    };
    write(&app, &caller, CommandKind::SetApprovalPolicy(policy)).await
}
