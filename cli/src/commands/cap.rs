//! `clearledger caps`: net debit caps (净借记限额) per branch and currency,
//! with each branch's exposure against its cap.

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, field};

/// Cap commands.
#[derive(Debug, Subcommand)]
pub enum CapCommand {
    /// Set (replace) a branch's net debit cap in one currency (admin).
    #[command(
        after_help = "Example:\n  clearledger --key dev-admin-key caps set --branch SH01 --currency CNY --cap 5000000.00 --warning-percent 80"
    )]
    Set {
        /// The branch code.
        #[arg(long)]
        branch: String,
        /// ISO 4217 currency code.
        #[arg(long)]
        currency: String,
        /// The most the branch may owe the clearing center (0 or more).
        #[arg(long)]
        cap: String,
        /// From this share of the cap (1–100) the branch shows a warning [default: 80].
        #[arg(long, value_name = "PERCENT")]
        warning_percent: Option<u8>,
    },
    /// Every cap with the branch's exposure, headroom and warning.
    Show,
}

/// Runs a cap command.
pub fn run(context: &Context, command: &CapCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        CapCommand::Set {
            branch,
            currency,
            cap,
            warning_percent,
        } => {
            let parsed = amounts::check_signed(cap, currency)
                .map_err(|error| usage(format!("--cap: {error}")))?;
            if parsed.minor() < 0 {
                return Err(usage("--cap: a cap may not be negative"));
            }
            if warning_percent.is_some_and(|p| !(1..=100).contains(&p)) {
                return Err(usage("--warning-percent: a percentage from 1 to 100"));
            }
            let mut body = json!({ "branch": branch, "currency": currency, "cap": cap });
            if let Some(percent) = warning_percent {
                body["warning_percent"] = json!(percent);
            }
            // Setting the same cap again changes nothing: safe to retry.
            let value = expect_ok(client.post("/v1/caps", &body, Retry::Idempotent))
                .with_context(|| format!("setting the {currency} cap of branch {branch}"))?;
            Ok(caps_view(
                &json!({ "caps": [value.clone()], "index": value["index"] }),
            ))
        }
        CapCommand::Show => {
            let value = expect_ok(client.get("/v1/caps", &[])).context("reading the caps")?;
            Ok(caps_view(&value))
        }
    }
}

/// The caps as a table.
pub fn caps_view(answer: &Value) -> View {
    let caps = answer
        .get("caps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut blocks = vec![Block::Table {
        caption: None,
        listing: caps_listing(caps),
    }];
    let warned = caps.iter().filter(|cap| cap["warning"] == true).count();
    if warned > 0 {
        blocks.push(Block::Line(format!(
            "{warned} branch(es) at or past the warning threshold (marked !)."
        )));
    }
    View::new(answer.clone(), blocks)
}

/// One row per cap.
pub fn caps_listing(caps: &[Value]) -> Listing {
    let mut listing = Listing::new(&[
        ("BRANCH", Align::Left),
        ("CCY", Align::Left),
        ("CAP", Align::Right),
        ("CLOSED", Align::Right),
        ("OPEN", Align::Right),
        ("PENDING", Align::Right),
        ("NET DEBIT", Align::Right),
        ("HEADROOM", Align::Right),
        ("WARN", Align::Left),
    ]);
    for cap in caps {
        let currency = field(cap, "currency");
        let money = |value: &Value, key: &str| amounts::display(&field(value, key), &currency);
        let exposure = &cap["exposure"];
        listing.push(vec![
            field(cap, "branch"),
            currency.clone(),
            money(cap, "cap"),
            money(exposure, "closed"),
            money(exposure, "open"),
            money(exposure, "pending"),
            money(exposure, "net_debit"),
            money(cap, "headroom"),
            // The threshold, marked when the branch has reached it.
            format!(
                "{}%{}",
                field(cap, "warning_percent"),
                if cap["warning"] == true { " !" } else { "" }
            ),
        ]);
    }
    listing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    #[test]
    fn caps_table_flags_branches_past_the_warning_threshold() {
        let cap = |branch: &str, net: &str, headroom: &str, warning: bool| {
            json!({"branch": branch, "currency": "CNY", "cap": "500000.00", "warning_percent": 80,
                "warning_at": "400000.00", "headroom": headroom, "warning": warning,
                "exposure": {"closed": "0.00", "open": net, "pending": "0.00", "net_debit": net}})
        };
        let answer = json!({"index": 12, "caps": [
            cap("BJ01", "120000.00", "380000.00", false),
            cap("SH01", "450000.00", "50000.00", true)
        ]});
        insta::assert_snapshot!(table(&caps_view(&answer)));
    }
}
