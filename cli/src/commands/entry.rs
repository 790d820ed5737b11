//! `clearledger entries` (show, post a journal entry with any postings) and
//! `clearledger reverse` (冲正: a linked entry with the opposite postings).

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::commands::transfer::results_view;
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, cell, field};

/// Journal entry commands.
#[derive(Debug, Subcommand)]
pub enum EntryCommand {
    /// An entry with its postings, status, approval and reversal links.
    Show {
        /// The entry id.
        id: String,
    },
    /// Post a journal entry: postings that balance in one currency.
    #[command(
        after_help = "Example:\n  clearledger --key dev-operator-key-1 entries post --id je-7 --currency CNY \\\n    --debit HQ-CASH-CNY=100.00 --credit SH01-C001=60.00 --credit SH01-C002=40.00 --memo 'split deposit'"
    )]
    Post(EntryPostArgs),
}

/// `entries post`.
#[derive(Debug, Args)]
pub struct EntryPostArgs {
    /// The entry's id, chosen by you; posting it again returns the first outcome.
    #[arg(long)]
    pub id: String,
    /// ISO 4217 currency code of every posting.
    #[arg(long)]
    pub currency: String,
    /// A debit posting, ACCOUNT=AMOUNT; repeat for more.
    #[arg(long, value_name = "ACCOUNT=AMOUNT")]
    pub debit: Vec<String>,
    /// A credit posting, ACCOUNT=AMOUNT; repeat for more.
    #[arg(long, value_name = "ACCOUNT=AMOUNT")]
    pub credit: Vec<String>,
    /// Hold it for approval.
    #[arg(long)]
    pub pending: bool,
    /// If it would take a payer branch past its net debit cap, wait in the
    /// liquidity queue instead of being refused.
    #[arg(long)]
    pub queue_if_over_cap: bool,
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

/// `reverse`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  clearledger --key dev-operator-key-1 reverse demo-t-1 --reason 'duplicate of invoice 2026-118'"
)]
pub struct ReverseArgs {
    /// The posted entry to reverse.
    pub original: String,
    /// Why (recorded with the reversal).
    #[arg(long)]
    pub reason: String,
    /// The reversal's id [default: rev-ORIGINAL].
    #[arg(long)]
    pub id: Option<String>,
}

/// Runs an entry command.
pub fn run(context: &Context, command: &EntryCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        EntryCommand::Show { id } => {
            let value = expect_ok(client.get(&format!("/v1/entries/{id}"), &[]))
                .with_context(|| format!("reading entry {id}"))?;
            Ok(entry_view(&value))
        }
        EntryCommand::Post(args) => {
            let body = entry_body(args)?;
            let value = expect_ok(client.post("/v1/entries", &body, Retry::Idempotent))
                .with_context(|| format!("posting entry {}", args.id))?;
            Ok(results_view(&value))
        }
    }
}

fn entry_body(args: &EntryPostArgs) -> anyhow::Result<Value> {
    ledger::EntryId::new(args.id.as_str())
        .map_err(|error| usage(format!("--id {:?}: {error}", args.id)))?;
    let mut postings = Vec::new();
    for (side, specs) in [("debit", &args.debit), ("credit", &args.credit)] {
        for spec in specs {
            let (account, amount) = spec.split_once('=').ok_or_else(|| {
                usage(format!(
                    "--{side} {spec:?}: write ACCOUNT=AMOUNT, e.g. SH01-C001=100.00"
                ))
            })?;
            amounts::check_positive(amount, &args.currency)
                .map_err(|error| usage(format!("--{side} {spec:?}: {error}")))?;
            postings.push(json!({ "account": account, "side": side, "amount": amount }));
        }
    }
    if args.debit.is_empty() || args.credit.is_empty() {
        return Err(usage(
            "an entry needs at least one --debit and one --credit",
        ));
    }
    let mut body = Map::new();
    body.insert("id".into(), json!(args.id));
    body.insert("currency".into(), json!(args.currency));
    body.insert("postings".into(), Value::Array(postings));
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
    Ok(Value::Object(body))
}

/// Runs `reverse`.
pub fn reverse(context: &Context, args: &ReverseArgs) -> anyhow::Result<View> {
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("rev-{}", args.original));
    ledger::EntryId::new(id.as_str())
        .map_err(|error| usage(format!("reversal id {id:?}: {error}; choose one with --id")))?;
    let body = json!({ "id": id, "reason": args.reason });
    let answer = context.client()?.post(
        &format!("/v1/entries/{}/reverse", args.original),
        &body,
        Retry::Write,
    );
    let value = expect_ok(answer).with_context(|| format!("reversing {}", args.original))?;
    Ok(entry_view(&value))
}

/// Snake-case words as a person reads them: `above_threshold` → `above threshold`.
pub fn words(value: &Value) -> String {
    cell(value).replace('_', " ")
}

/// One journal entry: what, who, its approval and reversal links, and its postings.
pub fn entry_view(entry: &Value) -> View {
    let currency = field(entry, "currency");
    let postings = postings_listing(entry, &currency);
    let mut view = View::new(
        entry.clone(),
        vec![
            Block::Fields(entry_fields(entry, &currency)),
            Block::Table {
                caption: Some(format!("Postings ({currency})")),
                listing: postings.clone(),
            },
        ],
    );
    view.csv = Some(postings);
    view
}

/// An entry's named values; empty ones are left out.
fn entry_fields(entry: &Value, currency: &str) -> Vec<(String, String)> {
    let code = field(entry, "code");
    let status = match field(entry, "status") {
        status if code.is_empty() => status,
        status => format!("{status} ({code})"),
    };
    let amount = amounts::display(&field(entry, "amount"), currency);
    let mut fields: Vec<(String, String)> = vec![
        ("id".into(), field(entry, "id")),
        ("status".into(), status),
        ("amount".into(), format!("{amount} {currency}")),
    ];
    let waiting = matches!(field(entry, "status").as_str(), "pending" | "queued");
    for (name, key) in [
        ("memo", "memo"),
        ("reference", "reference"),
        ("value date", "value_date"),
        ("booked at", "booked_at"),
        ("booked at index", "booked_index"),
        ("posted by", "posted_by"),
        ("inter-branch", "inter_branch"),
        ("window", "window"),
        ("detail", "detail"),
        ("needs approval because", "approval_reasons"),
        ("authority needed", "required_authority"),
        ("expires at", "expires_at"),
        ("reverses", "reverses"),
        ("reversal reason", "reversal_reason"),
        ("reversed by", "reversed_by"),
    ] {
        let text = match key {
            "expires_at" if !waiting => String::new(),
            "approval_reasons" => words(&entry[key]),
            _ => field(entry, key),
        };
        fields.push((name.into(), text));
    }
    if let Some(queue) = entry.get("queue").filter(|q| q.is_object()) {
        let left = field(queue, "left_index");
        let text = if left.is_empty() {
            format!("waiting in {}'s queue", field(queue, "branch"))
        } else {
            format!(
                "waited in {}'s queue until index {left}",
                field(queue, "branch")
            )
        };
        fields.push(("liquidity queue".into(), text));
    }
    if let Some(decision) = entry.get("decision").filter(|d| d.is_object()) {
        let mut text = format!(
            "by {} at {} (index {})",
            field(decision, "by"),
            field(decision, "at"),
            field(decision, "index")
        );
        let reason = field(decision, "reason");
        if !reason.is_empty() {
            text = format!("{text}: {reason}");
        }
        fields.push(("decision".into(), text));
    }
    fields.retain(|(_, value)| !value.is_empty());
    fields
}

/// The booked postings (with an inter-branch entry's clearing legs), or
/// the requested ones while nothing is booked.
fn postings_listing(entry: &Value, currency: &str) -> Listing {
    let mut postings = Listing::new(&[
        ("ACCOUNT", Align::Left),
        ("DEBIT", Align::Right),
        ("CREDIT", Align::Right),
    ]);
    let booked = entry
        .get("postings")
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty());
    let shown = booked.or_else(|| entry.get("requested_postings").and_then(Value::as_array));
    for posting in shown.into_iter().flatten() {
        let amount = amounts::display(&field(posting, "amount"), currency);
        let (debit, credit) = if field(posting, "side") == "debit" {
            (amount, String::new())
        } else {
            (String::new(), amount)
        };
        postings.push(vec![field(posting, "account"), debit, credit]);
    }
    postings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    #[test]
    fn inter_branch_entry_table_shows_the_clearing_legs() {
        let entry = json!({
            "id": "demo-t-2", "currency": "CNY", "status": "posted", "code": null, "detail": null, "amount": "35000.00",
            "postings": [
                {"account": "SH01-C001", "side": "debit", "amount": "35000.00"},
                {"account": "SH01-CLR-CNY", "side": "credit", "amount": "35000.00"},
                {"account": "BJ01-CLR-CNY", "side": "debit", "amount": "35000.00"},
                {"account": "BJ01-C001", "side": "credit", "amount": "35000.00"}
            ],
            "requested_postings": [],
            "memo": "inter-branch: equipment", "reference": null, "value_date": null, "booked_index": 40,
            "booked_at": "2026-11-22T09:30:00.000000Z", "posted_by": "teller-sh01", "approval_reasons": [],
            "required_authority": null, "expires_at": null, "decision": null, "reverses": null,
            "reversal_reason": null, "reversed_by": null, "window": 1, "inter_branch": true
        });
        insta::assert_snapshot!(table(&entry_view(&entry)));
    }

    #[test]
    fn entry_postings_must_be_account_equals_amount() {
        let args = EntryPostArgs {
            id: "je-1".into(),
            currency: "CNY".into(),
            debit: vec!["A=1.00".into()],
            credit: vec!["B 1.00".into()],
            pending: false,
            queue_if_over_cap: false,
            memo: None,
            reference: None,
            value_date: None,
        };
        assert!(entry_body(&args).is_err());
        let good = EntryPostArgs {
            credit: vec!["B=1".into()],
            ..args
        };
        let body = entry_body(&good).expect("valid");
        assert_eq!(
            body["postings"][1],
            json!({"account": "B", "side": "credit", "amount": "1"})
        );
    }
}
