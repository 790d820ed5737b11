//! `clearledger approvals`: the central authorization queue (集中授权). The
//! queue shows the oldest item first with how long it has waited; approving
//! or rejecting needs an operator other than the one who posted it.

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::commands::entry::{entry_view, words};
use crate::output::{Align, Block, Listing, View, field};

/// Approval commands.
#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// Entries waiting for approval, oldest first, with their waiting time.
    #[command(after_help = "Example:\n  clearledger --key dev-operator-key-1 approvals queue")]
    Queue,
    /// Approve (post) a pending entry.
    #[command(after_help = "Example:\n  clearledger --key dev-operator-key-1 approvals approve demo-t-5 --reason 'confirmed with the branch'")]
    Approve {
        /// The pending entry's id.
        id: String,
        /// Why (recorded with the decision).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject (void) a pending entry; its reserved amounts are released.
    Reject {
        /// The pending entry's id.
        id: String,
        /// Why (recorded with the decision).
        #[arg(long)]
        reason: String,
    },
}

/// Runs an approval command.
pub fn run(context: &Context, command: &ApprovalCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        ApprovalCommand::Queue => {
            let value = expect_ok(client.get("/v1/approvals", &[])).context("reading the approval queue")?;
            Ok(queue_view(&value))
        }
        ApprovalCommand::Approve { id, reason } => {
            let answer = client.post(&format!("/v1/entries/{id}/approve"), &json!({ "reason": reason }), Retry::Write);
            let value = expect_ok(answer).with_context(|| format!("approving {id}"))?;
            Ok(entry_view(&value))
        }
        ApprovalCommand::Reject { id, reason } => {
            let answer = client.post(&format!("/v1/entries/{id}/reject"), &json!({ "reason": reason }), Retry::Write);
            let value = expect_ok(answer).with_context(|| format!("rejecting {id}"))?;
            Ok(entry_view(&value))
        }
    }
}

/// A duration for a person: `45s`, `2m 05s`, `1h 02m`, `3d 04h`.
pub fn duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3_600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        3_600..86_400 => format!("{}h {:02}m", seconds / 3_600, seconds / 60 % 60),
        _ => format!("{}d {:02}h", seconds / 86_400, seconds / 3_600 % 24),
    }
}

/// The debit and credit accounts a person asked for.
fn accounts(entry: &Value, side: &str) -> String {
    let requested = entry.get("requested_postings").and_then(Value::as_array);
    let names: Vec<String> = requested
        .into_iter()
        .flatten()
        .filter(|posting| field(posting, "side") == side)
        .map(|posting| field(posting, "account"))
        .collect();
    names.join(", ")
}

/// `approvals queue`: oldest first.
pub fn queue_view(answer: &Value) -> View {
    let as_of = field(answer, "as_of");
    let mut pending: Vec<&Value> = answer.get("pending").and_then(Value::as_array).into_iter().flatten().collect();
    let waited = |entry: &Value| entry.get("waiting_seconds").and_then(Value::as_u64).unwrap_or(0);
    let booked = |entry: &Value| entry.get("booked_index").and_then(Value::as_u64).unwrap_or(0);
    pending.sort_by(|a, b| waited(b).cmp(&waited(a)).then(booked(a).cmp(&booked(b))));
    let mut listing = Listing::new(&[
        ("ID", Align::Left),
        ("WAITING", Align::Right),
        ("AMOUNT", Align::Right),
        ("CCY", Align::Left),
        ("DEBIT", Align::Left),
        ("CREDIT", Align::Left),
        ("POSTED BY", Align::Left),
        ("WHY", Align::Text),
    ]);
    for entry in &pending {
        let currency = field(entry, "currency");
        let mut why = words(&entry["approval_reasons"]);
        if let Some(authority) = entry.get("required_authority").and_then(Value::as_u64) {
            why = format!("{why} (authority {authority})");
        }
        listing.push(vec![
            field(entry, "id"),
            duration(waited(entry)),
            amounts::display(&field(entry, "amount"), &currency),
            currency,
            accounts(entry, "debit"),
            accounts(entry, "credit"),
            field(entry, "posted_by"),
            why,
        ]);
    }
    let caption = format!("{} waiting for approval as of {as_of}, oldest first", pending.len());
    View::new(answer.clone(), vec![Block::Table { caption: Some(caption), listing }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    fn pending(id: &str, amount: &str, waiting: u64, booked: u64) -> Value {
        json!({
            "id": id, "currency": "CNY", "status": "pending", "amount": amount, "waiting_seconds": waiting,
            "booked_index": booked, "booked_at": "2026-11-22T09:00:00.000000Z", "posted_by": "teller-sh01",
            "requested_postings": [
                {"account": "SH01-C001", "side": "debit", "amount": amount},
                {"account": "GZ01-C001", "side": "credit", "amount": amount}
            ],
            "approval_reasons": ["above_threshold"], "required_authority": 1,
            "expires_at": "2026-11-23T09:00:00.000000Z"
        })
    }

    #[test]
    fn queue_table_lists_the_oldest_first_with_waiting_time() {
        let answer = json!({"as_of": "2026-11-22T10:02:05.000000Z", "index": 90, "pending": [
            pending("t-new", "700000.00", 45, 88),
            pending("demo-t-5", "600000", 3725, 40),
        ]});
        insta::assert_snapshot!(table(&queue_view(&answer)));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(125), "2m 05s");
        assert_eq!(duration(3_725), "1h 02m");
        assert_eq!(duration(277_200), "3d 05h");
    }
}
