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
    #[command(
        after_help = "Example:\n  clearledger --key dev-operator-key-1 approvals approve demo-t-5 --reason 'confirmed with the branch'"
    )]
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
            let value = expect_ok(client.get("/v1/approvals", &[]))
                .context("reading the approval queue")?;
            Ok(queue_view(&value, wall_clock()))
        }
        ApprovalCommand::Approve { id, reason } => {
            let answer = client.post(
                &format!("/v1/entries/{id}/approve"),
                &json!({ "reason": reason }),
                Retry::Write,
            );
            let value = expect_ok(answer).with_context(|| format!("approving {id}"))?;
            Ok(entry_view(&value))
        }
        ApprovalCommand::Reject { id, reason } => {
            let answer = client.post(
                &format!("/v1/entries/{id}/reject"),
                &json!({ "reason": reason }),
                Retry::Write,
            );
            let value = expect_ok(answer).with_context(|| format!("rejecting {id}"))?;
            Ok(entry_view(&value))
        }
    }
}

/// The local wall clock. The node's `waiting_seconds` is counted to the
/// last applied command, which stands still while nothing is written, so the
/// queue counts to now as well and shows the larger of the two.
fn wall_clock() -> Option<ledger::Timestamp> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(since_epoch.as_micros())
        .ok()
        .map(ledger::Timestamp)
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

/// `approvals queue` at `now`: oldest first, with how long each has waited.
pub fn queue_view(answer: &Value, now: Option<ledger::Timestamp>) -> View {
    let as_of = now.map_or_else(|| field(answer, "as_of"), |now| now.to_string());
    let waited = |entry: &Value| {
        let by_node = entry
            .get("waiting_seconds")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let booked_at = ledger::Timestamp::parse_rfc3339(&field(entry, "booked_at")).ok();
        let by_clock = now
            .zip(booked_at)
            .map_or(0, |(now, at)| now.micros_since(at) / 1_000_000);
        by_node.max(by_clock)
    };
    let mut pending: Vec<&Value> = answer
        .get("pending")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let booked = |entry: &Value| {
        entry
            .get("booked_index")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
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
    let caption = format!(
        "{} waiting for approval at {as_of}, oldest first",
        pending.len()
    );
    View::new(
        answer.clone(),
        vec![Block::Table {
            caption: Some(caption),
            listing,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    fn pending(id: &str, amount: &str, booked_at: &str, booked: u64) -> Value {
        json!({
            "id": id, "currency": "CNY", "status": "pending", "amount": amount, "waiting_seconds": 0,
            "booked_index": booked, "booked_at": booked_at, "posted_by": "teller-sh01",
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
        let answer = json!({"as_of": "2026-11-22T09:00:00.000000Z", "index": 90, "pending": [
            pending("t-new", "700000.00", "2026-11-22T10:01:20.000000Z", 88),
            pending("demo-t-5", "600000", "2026-11-22T09:00:00.000000Z", 40),
        ]});
        let now = ledger::Timestamp::parse_rfc3339("2026-11-22T10:02:05Z").ok();
        insta::assert_snapshot!(table(&queue_view(&answer, now)));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(125), "2m 05s");
        assert_eq!(duration(3_725), "1h 02m");
        assert_eq!(duration(277_200), "3d 05h");
    }
}
