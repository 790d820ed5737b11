//! `clearledger accounts`: open, show, list, balances (also as of a past
//! time), freeze, unfreeze and close.

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, field};

/// Account classes; the class fixes the normal side.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Class {
    /// 资产: grows on the debit side.
    Asset,
    /// 负债: grows on the credit side (customer deposits).
    Liability,
    /// 所有者权益.
    Equity,
    /// 收入.
    Income,
    /// 费用.
    Expense,
}

/// Account purposes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Purpose {
    /// A customer's account.
    Customer,
    /// 内部账户: outbound postings need approval.
    Internal,
    /// The branch's clearing account (系统内往来).
    Clearing,
    /// 备付金: the branch's settlement reserve.
    #[value(name = "settlement_reserve", alias = "settlement-reserve")]
    SettlementReserve,
    /// Our account at another bank (存放同业).
    Nostro,
    /// Another bank's account with us (同业存放).
    Vostro,
    /// 挂账: items waiting to be cleared.
    Suspense,
    /// The clearing center's reserve account at the central bank, through
    /// which external participants settle.
    #[value(name = "central_bank_reserve", alias = "central-bank-reserve")]
    CentralBankReserve,
}

fn api_word<T: ValueEnum>(value: T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Open an account.
    #[command(
        after_help = "Example:\n  clearledger --key dev-operator-key-1 accounts open --id SH01-C003 --branch SH01 \\\n    --currency CNY --class liability --purpose customer --name 'Zhang San' --no-overdraft"
    )]
    Open {
        /// Its id (1-64 of A-Z a-z 0-9 . _ : -).
        #[arg(long)]
        id: String,
        /// The owning branch's code.
        #[arg(long)]
        branch: String,
        /// ISO 4217 currency code.
        #[arg(long)]
        currency: String,
        /// The class, which fixes the normal side.
        #[arg(long, value_enum)]
        class: Class,
        /// What the account is for [default: customer].
        #[arg(long, value_enum)]
        purpose: Option<Purpose>,
        /// The holder's or account's name.
        #[arg(long)]
        name: Option<String>,
        /// Debits may not exceed credits (a deposit account that cannot be overdrawn).
        #[arg(long)]
        no_overdraft: bool,
        /// Credits may not exceed debits.
        #[arg(long)]
        no_overcredit: bool,
    },
    /// An account with its balance.
    Show {
        /// The account id.
        id: String,
        /// Read the answering node's state without asking the leader.
        #[arg(long)]
        stale: bool,
    },
    /// Accounts the key may see, by id.
    #[command(
        after_help = "Example:\n  clearledger --key dev-auditor-key-1 accounts list --branch SH01 -o csv > sh01.csv"
    )]
    List {
        /// Only this branch's accounts.
        #[arg(long)]
        branch: Option<String>,
        /// Start after this account id.
        #[arg(long)]
        after: Option<String>,
        /// Show at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Read the answering node's state without asking the leader.
        #[arg(long)]
        stale: bool,
    },
    /// An account's balance now, as of a past time, or at a log index.
    #[command(
        after_help = "Examples:\n  clearledger --key dev-auditor-key-1 accounts balance SH01-C001\n  clearledger --key dev-auditor-key-1 accounts balance SH01-C001 --as-of 2026-11-22T09:30:00Z"
    )]
    Balance {
        /// The account id.
        id: String,
        /// The balance as it stood at this RFC 3339 time.
        #[arg(long, value_name = "TIME", conflicts_with = "index")]
        as_of: Option<String>,
        /// The balance as it stood at this log index.
        #[arg(long)]
        index: Option<u64>,
        /// Read the answering node's state without asking the leader.
        #[arg(long)]
        stale: bool,
    },
    /// Freeze an account (冻结): no posting may touch it.
    Freeze {
        /// The account id.
        id: String,
    },
    /// Unfreeze an account.
    Unfreeze {
        /// The account id.
        id: String,
    },
    /// Close an account (销户): no posting ever again.
    Close {
        /// The account id.
        id: String,
    },
}

fn consistency(stale: bool) -> Vec<(&'static str, String)> {
    if stale {
        vec![("consistency", "stale".to_string())]
    } else {
        Vec::new()
    }
}

/// Runs an account command.
pub fn run(context: &Context, command: &AccountCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        AccountCommand::Open {
            id,
            branch,
            currency,
            class,
            purpose,
            name,
            no_overdraft,
            no_overcredit,
        } => {
            ledger::Currency::new(currency).map_err(|error| usage(error.to_string()))?;
            let body = json!({
                "id": id, "branch": branch, "currency": currency, "class": api_word(*class),
                "purpose": api_word(purpose.unwrap_or(Purpose::Customer)), "name": name,
                "flags": { "debits_must_not_exceed_credits": no_overdraft, "credits_must_not_exceed_debits": no_overcredit },
            });
            let value = expect_ok(client.post("/v1/accounts", &body, Retry::Write))
                .with_context(|| format!("opening account {id}"))?;
            Ok(account_view(&value))
        }
        AccountCommand::Show { id, stale } => {
            let value = expect_ok(client.get(&format!("/v1/accounts/{id}"), &consistency(*stale)))
                .with_context(|| format!("reading account {id}"))?;
            Ok(account_view(&value))
        }
        AccountCommand::List {
            branch,
            after,
            limit,
            stale,
        } => list(context, branch.as_deref(), after.clone(), *limit, *stale),
        AccountCommand::Balance {
            id,
            as_of,
            index,
            stale,
        } => {
            let mut query = consistency(*stale);
            if let Some(at) = as_of {
                ledger::Timestamp::parse_rfc3339(at).map_err(|error| {
                    usage(format!(
                        "--as-of {at:?} is not an RFC 3339 time like 2026-11-22T09:30:00Z: {error}"
                    ))
                })?;
                query.push(("as_of", at.clone()));
            }
            if let Some(index) = index {
                query.push(("index", index.to_string()));
            }
            let value = expect_ok(client.get(&format!("/v1/accounts/{id}/balance"), &query))
                .with_context(|| format!("reading the balance of {id}"))?;
            Ok(balance_view(&value))
        }
        AccountCommand::Freeze { id } => change(context, id, "freeze", "freezing"),
        AccountCommand::Unfreeze { id } => change(context, id, "unfreeze", "unfreezing"),
        AccountCommand::Close { id } => change(context, id, "close", "closing"),
    }
}

fn change(context: &Context, id: &str, action: &str, doing: &str) -> anyhow::Result<View> {
    let answer = context.client()?.post(
        &format!("/v1/accounts/{id}/{action}"),
        &json!({}),
        Retry::Write,
    );
    let value = expect_ok(answer).with_context(|| format!("{doing} account {id}"))?;
    Ok(account_view(&value))
}

fn list(
    context: &Context,
    branch: Option<&str>,
    mut after: Option<String>,
    limit: usize,
    stale: bool,
) -> anyhow::Result<View> {
    let client = context.client()?;
    let mut accounts: Vec<Value> = Vec::new();
    let more_after = loop {
        let mut query = consistency(stale);
        query.push(("limit", (limit - accounts.len()).clamp(1, 1000).to_string()));
        if let Some(branch) = branch {
            query.push(("branch", branch.to_string()));
        }
        if let Some(after) = &after {
            query.push(("after", after.clone()));
        }
        let page = expect_ok(client.get("/v1/accounts", &query)).context("listing accounts")?;
        accounts.extend(
            page.get("accounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .cloned(),
        );
        after = page
            .get("next_after")
            .and_then(Value::as_str)
            .map(str::to_string);
        if after.is_none() || accounts.len() >= limit {
            break after;
        }
    };
    let answer = json!({ "accounts": accounts, "next_after": more_after });
    Ok(accounts_view(&answer))
}

fn flag_words(account: &Value) -> String {
    let flags = account.get("flags").and_then(Value::as_object);
    let words: Vec<&str> = [
        ("debits_must_not_exceed_credits", "no-overdraft"),
        ("credits_must_not_exceed_debits", "no-overcredit"),
        ("frozen", "frozen"),
        ("closed", "closed"),
    ]
    .into_iter()
    .filter(|(key, _)| {
        flags
            .and_then(|f| f.get(*key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    })
    .map(|(_, word)| word)
    .collect();
    words.join(", ")
}

/// A balance's figures, right-aligned in the currency's decimals.
fn figures_listing(balance: &Value, currency: &str) -> Listing {
    let mut listing = Listing::new(&[("FIGURE", Align::Left), ("AMOUNT", Align::Right)]);
    for (name, key) in [
        ("balance (posted)", "posted"),
        ("available", "available"),
        ("debits posted", "debits_posted"),
        ("credits posted", "credits_posted"),
        ("debits pending", "debits_pending"),
        ("credits pending", "credits_pending"),
    ] {
        listing.push(vec![
            name.to_string(),
            amounts::display(&field(balance, key), currency),
        ]);
    }
    listing
}

/// One account: its details, then its balance.
pub fn account_view(account: &Value) -> View {
    let currency = field(account, "currency");
    let balance = account.get("balance").cloned().unwrap_or(Value::Null);
    let fields: Vec<(String, String)> = vec![
        ("id".into(), field(account, "id")),
        ("name".into(), field(account, "name")),
        ("branch".into(), field(account, "branch")),
        ("currency".into(), currency.clone()),
        ("class".into(), field(account, "class")),
        ("purpose".into(), field(account, "purpose")),
        ("flags".into(), flag_words(account)),
        ("opened at index".into(), field(account, "opened_index")),
        ("opened by".into(), field(account, "opened_by")),
    ];
    let mut csv_fields = fields.clone();
    for key in [
        "posted",
        "available",
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
    ] {
        csv_fields.push((
            key.to_string(),
            amounts::display(&field(&balance, key), &currency),
        ));
    }
    let mut csv = Listing {
        columns: csv_fields
            .iter()
            .map(|(name, _)| (name.clone(), Align::Left))
            .collect(),
        rows: Vec::new(),
    };
    csv.push(csv_fields.into_iter().map(|(_, value)| value).collect());
    let mut view = View::new(
        account.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: None,
                listing: figures_listing(&balance, &currency),
            },
        ],
    );
    view.csv = Some(csv);
    view
}

/// `accounts list`.
pub fn accounts_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("ID", Align::Left),
        ("BRANCH", Align::Left),
        ("CCY", Align::Left),
        ("PURPOSE", Align::Text),
        ("NAME", Align::Text),
        ("POSTED", Align::Right),
        ("AVAILABLE", Align::Right),
        ("FLAGS", Align::Text),
    ]);
    for account in answer
        .get("accounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let currency = field(account, "currency");
        let balance = account.get("balance").cloned().unwrap_or(Value::Null);
        listing.push(vec![
            field(account, "id"),
            field(account, "branch"),
            currency.clone(),
            field(account, "purpose"),
            field(account, "name"),
            amounts::display(&field(&balance, "posted"), &currency),
            amounts::display(&field(&balance, "available"), &currency),
            flag_words(account),
        ]);
    }
    let mut blocks = vec![Block::Table {
        caption: None,
        listing,
    }];
    if let Some(next) = answer.get("next_after").and_then(Value::as_str) {
        blocks.push(Block::Line(format!(
            "More accounts follow: add --after {next}"
        )));
    }
    View::new(answer.clone(), blocks)
}

/// `accounts balance`.
pub fn balance_view(answer: &Value) -> View {
    let currency = field(answer, "currency");
    let balance = answer.get("balance").cloned().unwrap_or(Value::Null);
    let as_of = match field(answer, "as_of") {
        text if text.is_empty() => "now".to_string(),
        text => text,
    };
    let fields = vec![
        ("account".to_string(), field(answer, "account")),
        ("currency".to_string(), currency.clone()),
        ("as of".to_string(), as_of),
        ("log index".to_string(), field(answer, "index")),
    ];
    let mut view = View::new(
        answer.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: None,
                listing: figures_listing(&balance, &currency),
            },
        ],
    );
    let mut csv = Listing::new(&[
        ("ACCOUNT", Align::Left),
        ("CURRENCY", Align::Left),
        ("AS OF", Align::Left),
        ("INDEX", Align::Right),
    ]);
    let mut row = vec![
        field(answer, "account"),
        currency.clone(),
        field(answer, "as_of"),
        field(answer, "index"),
    ];
    for key in [
        "posted",
        "available",
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
    ] {
        csv.columns.push((key.to_string(), Align::Right));
        row.push(amounts::display(&field(&balance, key), &currency));
    }
    csv.push(row);
    view.csv = Some(csv);
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;
    use crate::commands::tests::table;
    use crate::output::render;

    fn account(id: &str, name: &str, posted: &str, flags: Value) -> Value {
        json!({
            "id": id, "branch": "SH01", "currency": "CNY", "class": "liability", "purpose": "customer",
            "name": name, "flags": flags, "opened_index": 9, "opened_by": "operator-1",
            "balance": {"debits_posted": "1200.5", "credits_posted": "2500000.00", "debits_pending": "600000.00",
                        "credits_pending": "0.00", "posted": posted, "available": "1898799.50"},
        })
    }

    #[test]
    fn account_table() {
        let value = account(
            "SH01-C001",
            "Shanghai Trading Co.",
            "2498799.50",
            json!({"debits_must_not_exceed_credits": true}),
        );
        insta::assert_snapshot!(table(&account_view(&value)));
    }

    #[test]
    fn accounts_list_table_right_aligns_amounts() {
        let answer = json!({"accounts": [
            account("SH01-C001", "Shanghai Trading Co.", "2498799.50", json!({"debits_must_not_exceed_credits": true})),
            account("SH01-C002", "Li Wei", "81760.5", json!({"frozen": true})),
        ], "next_after": "SH01-C002"});
        insta::assert_snapshot!(table(&accounts_view(&answer)));
    }

    #[test]
    fn accounts_list_csv_keeps_exact_amounts() {
        let answer = json!({"accounts": [account("SH01-C002", "Li, Wei", "81760.5", json!({}))], "next_after": null});
        insta::assert_snapshot!(render(&accounts_view(&answer), OutputFormat::Csv, None));
    }

    #[test]
    fn balance_as_of_table() {
        let answer = json!({"account": "SH01-C001", "currency": "CNY", "index": 31, "as_of": "2026-11-22T09:30:00.000000Z",
            "balance": {"debits_posted": "0.00", "credits_posted": "2500000.00", "debits_pending": "0.00",
                        "credits_pending": "0.00", "posted": "2500000.00", "available": "2500000.00"}});
        insta::assert_snapshot!(table(&balance_view(&answer)));
    }
}
