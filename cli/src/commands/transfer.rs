//! `clearledger transfer post` (one transfer) and `transfer import` (a file of them).

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::commands::import::{self, ImportArgs};
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, field};

/// Transfer commands.
#[derive(Debug, Subcommand)]
pub enum TransferCommand {
    /// Post one transfer: a debit and a credit of the same amount.
    Post(PostArgs),
    /// Post every transfer of a CSV or JSON Lines file, in batches.
    Import(ImportArgs),
}

/// `transfer post`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  clearledger --key dev-branch-sh01-key transfer post --id t-1001 --debit SH01-C002 --credit BJ01-C002 --amount 250.00 --currency CNY\n  clearledger --key dev-branch-sh01-key transfer post --id t-1002 --debit SH01-C001 --credit GZ01-C001 --amount 700000 --currency CNY --memo 'large: needs approval'\n\nPosting the same id again is safe: the ledger answers with the original outcome."
)]
pub struct PostArgs {
    /// The transfer's id, chosen by you; posting it again returns the first outcome.
    #[arg(long)]
    pub id: String,
    /// The account debited (the payer's customer account).
    #[arg(long, visible_alias = "from")]
    pub debit: String,
    /// The account credited (the payee's customer account).
    #[arg(long, visible_alias = "to")]
    pub credit: String,
    /// The amount as a decimal, e.g. 1250.00 (no more decimals than the currency has).
    #[arg(long)]
    pub amount: String,
    /// ISO 4217 currency code.
    #[arg(long)]
    pub currency: String,
    /// Hold it for approval even below the threshold.
    #[arg(long)]
    pub pending: bool,
    /// If it would take the payer branch past its net debit cap, wait in
    /// the liquidity queue instead of being refused.
    #[arg(long)]
    pub queue_if_over_cap: bool,
    /// Seconds a pending (or queued) transfer waits before it expires.
    #[arg(long)]
    pub timeout_seconds: Option<u64>,
    /// A memo.
    #[arg(long)]
    pub memo: Option<String>,
    /// An external reference.
    #[arg(long)]
    pub reference: Option<String>,
    /// The value date, YYYY-MM-DD.
    #[arg(long)]
    pub value_date: Option<String>,
}

/// Runs a transfer command.
pub fn run(context: &Context, command: &TransferCommand) -> anyhow::Result<View> {
    match command {
        TransferCommand::Post(args) => post(context, args),
        TransferCommand::Import(args) => import::run(context, args),
    }
}

fn post(context: &Context, args: &PostArgs) -> anyhow::Result<View> {
    ledger::EntryId::new(args.id.as_str())
        .map_err(|error| usage(format!("--id {:?}: {error}", args.id)))?;
    amounts::check_positive(&args.amount, &args.currency)
        .map_err(|error| usage(format!("--amount: {error}")))?;
    if let Some(date) = &args.value_date {
        ledger::Date::parse(date)
            .map_err(|error| usage(format!("--value-date {date:?}: {error}")))?;
    }
    let mut body = Map::new();
    body.insert("id".into(), json!(args.id));
    body.insert("debit_account".into(), json!(args.debit));
    body.insert("credit_account".into(), json!(args.credit));
    body.insert("amount".into(), json!(args.amount));
    body.insert("currency".into(), json!(args.currency));
    if args.pending {
        body.insert("pending".into(), json!(true));
    }
    if args.queue_if_over_cap {
        body.insert("queue_if_over_cap".into(), json!(true));
    }
    for (key, value) in [
        ("memo", &args.memo),
        ("reference", &args.reference),
        ("value_date", &args.value_date),
    ] {
        if let Some(value) = value {
            body.insert(key.into(), json!(value));
        }
    }
    if let Some(seconds) = args.timeout_seconds {
        body.insert("timeout_seconds".into(), json!(seconds));
    }
    let answer = context
        .client()?
        .post("/v1/transfers", &Value::Object(body), Retry::Idempotent);
    let value = expect_ok(answer).with_context(|| format!("posting transfer {}", args.id))?;
    Ok(results_view(&value))
}

/// The result lines of posted transfers or entries.
pub fn results_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("ID", Align::Left),
        ("STATUS", Align::Left),
        ("CODE", Align::Left),
        ("INDEX", Align::Right),
        ("BOOKED AT", Align::Left),
    ]);
    let mut blocks = Vec::new();
    let results: Vec<&Value> = answer
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    for result in &results {
        listing.push(vec![
            field(result, "id"),
            field(result, "status"),
            field(result, "code"),
            field(result, "index"),
            field(result, "booked_at"),
        ]);
    }
    blocks.push(Block::Table {
        caption: None,
        listing,
    });
    let pending: Vec<String> = results
        .iter()
        .filter(|result| field(result, "status") == "pending")
        .map(|result| field(result, "id"))
        .collect();
    if !pending.is_empty() {
        blocks.push(Block::Line(format!(
            "Waiting for approval: {} (see `clearledger approvals queue`).",
            pending.join(", ")
        )));
    }
    let queued: Vec<String> = results
        .iter()
        .filter(|result| field(result, "status") == "queued")
        .map(|result| field(result, "id"))
        .collect();
    if !queued.is_empty() {
        blocks.push(Block::Line(format!(
            "Waiting for room under the net debit cap: {} (see `clearledger windows queue`).",
            queued.join(", ")
        )));
    }
    View::new(answer.clone(), blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    #[test]
    fn posted_and_pending_results_table() {
        let answer = json!({"results": [
            {"id": "t-1001", "status": "posted", "index": 41, "booked_at": "2026-11-22T09:30:00.000000Z"},
            {"id": "t-1002", "status": "pending", "index": 41, "booked_at": "2026-11-22T09:30:00.000000Z"},
            {"id": "t-1003", "status": "rejected", "code": "insufficient_funds", "index": 41, "booked_at": "2026-11-22T09:30:00.000000Z"},
            {"id": "t-1004", "status": "queued", "index": 41, "booked_at": "2026-11-22T09:30:00.000000Z"}
        ]});
        insta::assert_snapshot!(table(&results_view(&answer)));
    }
}
