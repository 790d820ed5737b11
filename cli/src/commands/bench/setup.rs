//! What the bench needs on the ledger before it measures, and the money
//! check after: a bench branch with a clearing account, a cash account, N
//! customer accounts funded from the cash account with one transfer each,
//! and a principal with the operator role that posts the transfers. The
//! mixed workload adds a payee branch (clearing account and unfunded
//! customer accounts that inter-branch transfers credit) and a second
//! operator that approves the pending transfers.
//!
//! Every id is fixed by the branch and the account's number, so a second run
//! opens nothing new and its funding transfers answer with their first
//! outcome: the money in the branch stays what it was funded with.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use ledger::{Amount, Currency};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::client::Problem;
use crate::commands::bench::api::Api;
use crate::exit::Failure;
use crate::output::field;

/// The currency of every bench account.
pub const CURRENCY: &str = "CNY";
/// What each bench account is funded with, in minor units (1,000,000.00 CNY):
/// far more than random transfers of at most 9.99 can drain in any run.
pub const FUNDING_MINOR: i128 = 100_000_000;
/// The most bench accounts (ids have six digits).
pub const ACCOUNTS_MAX: usize = 1_000_000;
/// Account opens in flight at once (group commit coalesces them).
const OPEN_CONCURRENCY: usize = 64;
/// Funding transfers per request.
const FUNDING_BATCH: usize = 4_000;
/// Accounts per page when listing (the node's maximum).
const LIST_PAGE: usize = 1_000;
/// The most customer accounts of the payee branch.
pub const PAYEES_MAX: usize = 1_000;
/// The approver's authority: the most there is, so no policy tier refuses it.
const APPROVER_AUTHORITY: u8 = u8::MAX;

/// The branch that inter-branch transfers of `branch` credit.
pub fn payee_branch(branch: &str) -> String {
    format!("{branch}-IB")
}

/// The id of bench account number `n`.
pub fn account_id(branch: &str, n: usize) -> String {
    format!("{branch}-C{n:06}")
}

fn cash_account(branch: &str) -> String {
    format!("{branch}-CASH-{CURRENCY}")
}

fn clearing_account(branch: &str) -> String {
    format!("{branch}-CLR-{CURRENCY}")
}

fn currency() -> Currency {
    Currency::new(CURRENCY).expect("the bench currency is an ISO 4217 code")
}

/// A run's id: microseconds since the epoch in hex. It names the run's
/// principal and prefixes its transfer ids, so runs never share an id.
pub fn run_id() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    format!("{micros:x}")
}

/// What the run posts with.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The bench accounts, by number.
    pub accounts: Arc<Vec<String>>,
    /// The payee branch's accounts (empty without inter-branch transfers).
    pub payees: Arc<Vec<String>>,
    /// The key the transfers are posted with.
    pub posting_key: String,
    /// The principal that posts them.
    pub principal: String,
    /// The key that approves pending transfers (none without them).
    pub approver_key: Option<String>,
}

/// What to prepare beyond the bench branch.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// Customer accounts of the bench branch.
    pub accounts: usize,
    /// Open the payee branch and its accounts.
    pub payees: bool,
    /// Create an approver.
    pub approver: bool,
}

/// Makes sure the branch, its accounts and their funding exist (and the
/// payee branch, when asked), and creates the run's principals.
pub async fn prepare(
    api: &Api,
    branch: &str,
    needs: Needs,
    run_id: &str,
    note: &dyn Fn(&str),
) -> anyhow::Result<Prepared> {
    let ids = ensure_customers(api, branch, needs.accounts, true, note).await?;
    let payees = if needs.payees {
        let count = needs.accounts.min(PAYEES_MAX);
        ensure_customers(api, &payee_branch(branch), count, false, note).await?
    } else {
        Vec::new()
    };
    let (principal, posting_key) = posting_principal(api, run_id, note).await?;
    let approver_key = if needs.approver {
        Some(approver(api, run_id).await?)
    } else {
        None
    };
    note(&format!(
        "funding {} bench account(s) (ids make this a no-op for those already funded)",
        needs.accounts
    ));
    fund(&api.with_key(&posting_key), branch, &ids).await?;
    Ok(Prepared {
        accounts: Arc::new(ids),
        payees: Arc::new(payees),
        posting_key,
        principal,
        approver_key,
    })
}

/// Makes sure `branch` exists with a clearing account, a cash account when
/// `with_cash`, and customer accounts 0..count; returns their ids.
async fn ensure_customers(
    api: &Api,
    branch: &str,
    count: usize,
    with_cash: bool,
    note: &dyn Fn(&str),
) -> anyhow::Result<Vec<String>> {
    ensure_branch(api, branch).await?;
    let existing = list_accounts(api, branch).await?;
    let known: BTreeSet<String> = existing.iter().map(|a| field(a, "id")).collect();
    let has_clearing = existing
        .iter()
        .any(|a| field(a, "purpose") == "clearing" && field(a, "currency") == CURRENCY);
    if !has_clearing {
        open(
            api,
            &clearing_account(branch),
            branch,
            "liability",
            "clearing",
            false,
        )
        .await?;
    }
    if with_cash && !known.contains(&cash_account(branch)) {
        open(
            api,
            &cash_account(branch),
            branch,
            "asset",
            "internal",
            false,
        )
        .await?;
    }
    let ids: Vec<String> = (0..count).map(|n| account_id(branch, n)).collect();
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !known.contains(*id))
        .cloned()
        .collect();
    if !missing.is_empty() {
        note(&format!(
            "opening {} bench account(s) in {branch}",
            missing.len()
        ));
        open_customers(api, branch, missing).await?;
    }
    Ok(ids)
}

async fn ensure_branch(api: &Api, branch: &str) -> anyhow::Result<()> {
    let branches = api
        .get("/v1/branches", &[])
        .await
        .context("listing branches")?;
    let exists = branches
        .get("branches")
        .and_then(Value::as_array)
        .is_some_and(|all| all.iter().any(|b| field(b, "code") == branch));
    if exists {
        return Ok(());
    }
    let body = json!({ "code": branch, "name": "Benchmark", "parent": null });
    api.post("/v1/branches", &body)
        .await?
        .map_err(Problem::into_error)
        .with_context(|| format!("creating the bench branch {branch}"))?;
    Ok(())
}

/// Every account of `branch`, page by page.
async fn list_accounts(api: &Api, branch: &str) -> anyhow::Result<Vec<Value>> {
    let mut accounts = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![
            ("branch", branch.to_string()),
            ("limit", LIST_PAGE.to_string()),
        ];
        if let Some(after) = &after {
            query.push(("after", after.clone()));
        }
        let page = api
            .get("/v1/accounts", &query)
            .await
            .with_context(|| format!("listing the accounts of {branch}"))?;
        accounts.extend(
            page.get("accounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .cloned(),
        );
        match page.get("next_after").and_then(Value::as_str) {
            Some(next) => after = Some(next.to_string()),
            None => return Ok(accounts),
        }
    }
}

async fn open(
    api: &Api,
    id: &str,
    branch: &str,
    class: &str,
    purpose: &str,
    no_overdraft: bool,
) -> anyhow::Result<()> {
    let body = json!({
        "id": id, "branch": branch, "currency": CURRENCY, "class": class, "purpose": purpose,
        "flags": { "debits_must_not_exceed_credits": no_overdraft },
    });
    match api.post("/v1/accounts", &body).await? {
        Ok(_) => Ok(()),
        Err(problem) => Err(problem.into_error()).with_context(|| format!("opening account {id}")),
    }
}

/// Opens customer accounts (no overdraft), [`OPEN_CONCURRENCY`] at a time.
async fn open_customers(api: &Api, branch: &str, ids: Vec<String>) -> anyhow::Result<()> {
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..OPEN_CONCURRENCY.min(ids.len()) {
        let (api, ids, next, branch) = (api.clone(), ids.clone(), next.clone(), branch.to_string());
        tasks.spawn(async move {
            loop {
                let Some(id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return Ok::<(), anyhow::Error>(());
                };
                open(&api, id, &branch, "liability", "customer", true).await?;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("an account-opening task failed")??;
    }
    Ok(())
}

/// Creates this run's posting principal (operator role) with a key made
/// here, so a retried create is the same create. A key that may not create
/// principals posts the transfers itself.
async fn posting_principal(
    api: &Api,
    run_id: &str,
    note: &dyn Fn(&str),
) -> anyhow::Result<(String, String)> {
    let name = format!("bench-{run_id}");
    let key = new_key()?;
    let body = json!({ "name": name, "role": "operator", "authority": 0, "key": key });
    match api.post("/v1/principals", &body).await? {
        Ok(_) => Ok((name, key)),
        Err(problem) if matches!(problem.status, 401 | 403) => {
            note("this key may not create principals: the transfers are posted with it");
            Ok(("(the given key)".to_string(), api.key().to_string()))
        }
        Err(problem) => Err(problem.into_error()).context("creating the bench principal"),
    }
}

/// Creates this run's approver, `bench-<run>-approver` (operator, the
/// highest authority): a pending transfer needs an approver other than its
/// poster. Only a key that may create principals can set this up.
async fn approver(api: &Api, run_id: &str) -> anyhow::Result<String> {
    let name = format!("bench-{run_id}-approver");
    let key = new_key()?;
    let body =
        json!({ "name": name, "role": "operator", "authority": APPROVER_AUTHORITY, "key": key });
    api.post("/v1/principals", &body)
        .await?
        .map_err(Problem::into_error)
        .context("creating the bench approver (pending transfers need the admin key)")?;
    Ok(key)
}

/// 24 random bytes from the kernel as hex.
fn new_key() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("reading /dev/urandom for the bench principal's key")?;
    Ok(bytes.iter().fold("clb_".to_string(), |mut key, byte| {
        key.push_str(&format!("{byte:02x}"));
        key
    }))
}

/// One funding transfer per account, cash to customer, in batches.
async fn fund(api: &Api, branch: &str, ids: &[String]) -> anyhow::Result<()> {
    let amount = Amount::from_minor(FUNDING_MINOR).to_decimal_string(currency());
    let cash = cash_account(branch);
    for chunk in ids.chunks(FUNDING_BATCH) {
        let transfers: Vec<Value> = chunk
            .iter()
            .map(|id| {
                json!({ "id": format!("bench-fund-{id}"), "debit_account": cash, "credit_account": id,
                        "amount": amount, "currency": CURRENCY, "memo": "bench funding" })
            })
            .collect();
        let answer = api
            .post(
                "/v1/transfers",
                &json!({ "transfers": transfers, "atomic": false }),
            )
            .await?
            .map_err(Problem::into_error)
            .context("funding the bench accounts")?;
        let results = answer
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        if let Some(bad) = results
            .into_iter()
            .find(|result| field(result, "status") != "posted")
        {
            return Err(Failure::Rejected(Problem {
                status: 409,
                code: field(bad, "code"),
                title: String::new(),
                detail: format!(
                    "funding transfer {} is {}: {}",
                    field(bad, "id"),
                    field(bad, "status"),
                    field(bad, "detail")
                ),
                body: bad.clone(),
            })
            .into());
        }
    }
    Ok(())
}

/// The money after the run, in the bench branch and its payee branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// Customer accounts in the two branches.
    pub accounts: usize,
    /// Their posted balances, summed.
    pub customer_total: Amount,
    /// The cash account's posted balance: everything ever funded.
    pub funded: Amount,
}

impl Money {
    /// Whether the customer accounts hold exactly what was funded.
    pub fn conserved(&self) -> bool {
        self.customer_total == self.funded
    }
}

/// Sums the customer balances of the branch and its payee branch (where
/// inter-branch transfers move money) and reads what was funded.
pub async fn count_money(api: &Api, branch: &str) -> anyhow::Result<Money> {
    let mut accounts = list_accounts(api, branch).await?;
    accounts.extend(list_accounts(api, &payee_branch(branch)).await?);
    money_of(&accounts, &cash_account(branch))
}

/// The money in listed accounts: customer balances against the cash account.
pub fn money_of(accounts: &[Value], cash: &str) -> anyhow::Result<Money> {
    let currency = currency();
    let posted = |account: &Value| -> anyhow::Result<Amount> {
        let text = account
            .get("balance")
            .map(|balance| field(balance, "posted"))
            .unwrap_or_default();
        Amount::parse(&text, currency)
            .with_context(|| format!("account {}: posted balance {text:?}", field(account, "id")))
    };
    let mut money = Money {
        accounts: 0,
        customer_total: Amount::ZERO,
        funded: Amount::ZERO,
    };
    for account in accounts {
        if field(account, "id") == cash {
            money.funded = posted(account)?;
        } else if field(account, "purpose") == "customer" && field(account, "currency") == CURRENCY
        {
            money.accounts += 1;
            money.customer_total = money
                .customer_total
                .checked_add(posted(account)?)
                .context("the customer balances overflow")?;
        }
    }
    Ok(money)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_ids_and_sort_by_number() {
        assert_eq!(account_id("BENCH", 7), "BENCH-C000007");
        assert!(account_id("BENCH", 9) < account_id("BENCH", 10));
        assert!(ledger::AccountId::new(account_id("BENCH", ACCOUNTS_MAX - 1)).is_ok());
    }

    #[test]
    fn money_counts_customer_balances_against_the_cash_account() {
        let account = |id: &str, purpose: &str, posted: &str| json!({"id": id, "purpose": purpose, "currency": "CNY", "balance": {"posted": posted}});
        let accounts = [
            account("BENCH-C000000", "customer", "999990.01"),
            account("BENCH-C000001", "customer", "1000009.99"),
            account("BENCH-CASH-CNY", "internal", "2000000.00"),
            account("BENCH-CLR-CNY", "clearing", "0.00"),
        ];
        let money = money_of(&accounts, "BENCH-CASH-CNY").expect("amounts");
        assert_eq!(money.accounts, 2);
        assert_eq!(money.customer_total.minor(), 200_000_000);
        assert!(money.conserved());
        let short = money_of(&accounts[1..], "BENCH-CASH-CNY").expect("amounts");
        assert!(!short.conserved());
    }
}
