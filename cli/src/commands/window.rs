//! `clearledger windows`: clearing windows (清算场次) and their positions (头寸).

use std::collections::BTreeMap;

use anyhow::Context as _;
use clap::Subcommand;
use ledger::{Amount, Currency};
use serde_json::{Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::output::{Align, Block, Listing, View, field};

/// Window commands.
#[derive(Debug, Subcommand)]
pub enum WindowCommand {
    /// Open a new clearing window (operator).
    Open,
    /// All windows, and which one is open.
    List,
    /// One window with its positions.
    Show {
        /// The window id.
        id: u64,
    },
    /// A window's positions: each branch's net, and the flows between branches.
    #[command(
        after_help = "Example:\n  clearledger --key dev-operator-key-1 windows positions 1 -o csv > window-1.csv"
    )]
    Positions {
        /// The window id.
        id: u64,
    },
}

/// Runs a window command.
pub fn run(context: &Context, command: &WindowCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        WindowCommand::Open => {
            let value = expect_ok(client.post("/v1/windows", &json!({}), Retry::Write))
                .context("opening a clearing window")?;
            Ok(window_view(&value))
        }
        WindowCommand::List => Ok(windows_view(
            &expect_ok(client.get("/v1/windows", &[])).context("listing windows")?,
        )),
        WindowCommand::Show { id } => {
            let value = expect_ok(client.get(&format!("/v1/windows/{id}"), &[]))
                .with_context(|| format!("reading window {id}"))?;
            Ok(window_view(&value))
        }
        WindowCommand::Positions { id } => {
            let value = expect_ok(client.get(&format!("/v1/windows/{id}/positions"), &[]))
                .with_context(|| format!("reading the positions of window {id}"))?;
            Ok(positions_view(&value))
        }
    }
}

/// `windows list`.
pub fn windows_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("ID", Align::Right),
        ("STATUS", Align::Left),
        ("OPENED AT", Align::Left),
        ("CLOSED AT", Align::Left),
        ("BRANCHES", Align::Right),
        ("ENTRIES", Align::Right),
    ]);
    for window in answer
        .get("windows")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let multilateral = window["positions"]["multilateral"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let branches: std::collections::BTreeSet<String> =
            multilateral.iter().map(|p| field(p, "branch")).collect();
        let entries: u64 = window["positions"]["bilateral"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pair| pair.get("count").and_then(Value::as_u64))
            .sum();
        listing.push(vec![
            field(window, "id"),
            field(window, "status"),
            field(window, "opened_at"),
            field(window, "closed_at"),
            branches.len().to_string(),
            entries.to_string(),
        ]);
    }
    let open = match answer.get("open") {
        Some(Value::Number(id)) => format!("Window {id} is open."),
        _ => "No window is open.".to_string(),
    };
    View::new(
        answer.clone(),
        vec![
            Block::Table {
                caption: None,
                listing,
            },
            Block::Line(open),
        ],
    )
}

/// One window: its state, then its positions.
pub fn window_view(window: &Value) -> View {
    let fields = vec![
        ("window".to_string(), field(window, "id")),
        ("status".to_string(), field(window, "status")),
        ("opened at".to_string(), field(window, "opened_at")),
        ("opened at index".to_string(), field(window, "opened_index")),
        ("closed at".to_string(), field(window, "closed_at")),
    ];
    let positions = window.get("positions").cloned().unwrap_or(Value::Null);
    let mut blocks = vec![Block::Fields(fields)];
    blocks.extend(position_blocks(&positions));
    View::new(window.clone(), blocks)
}

/// `windows positions`.
pub fn positions_view(answer: &Value) -> View {
    let mut view = View::new(answer.clone(), position_blocks(answer));
    view.csv = Some(positions_csv(answer));
    view
}

fn multilateral(positions: &Value) -> &[Value] {
    positions
        .get("multilateral")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn bilateral(positions: &Value) -> &[Value] {
    positions
        .get("bilateral")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Multilateral nets per branch (with their sum per currency, which must be
/// zero), then bilateral flows.
fn position_blocks(positions: &Value) -> Vec<Block> {
    let mut nets = Listing::new(&[
        ("BRANCH", Align::Left),
        ("CCY", Align::Left),
        ("PAID", Align::Right),
        ("RECEIVED", Align::Right),
        ("NET", Align::Right),
        ("ENTRIES", Align::Right),
    ]);
    let mut totals: BTreeMap<String, Option<Amount>> = BTreeMap::new();
    for position in multilateral(positions) {
        let currency = field(position, "currency");
        let net = field(position, "net");
        let total = totals.entry(currency.clone()).or_insert(Some(Amount::ZERO));
        let parsed = Currency::new(&currency)
            .ok()
            .and_then(|c| Amount::parse(&net, c).ok());
        *total = total.and_then(|sum| parsed.and_then(|net| sum.checked_add(net)));
        nets.push(vec![
            field(position, "branch"),
            currency.clone(),
            amounts::display(&field(position, "paid"), &currency),
            amounts::display(&field(position, "received"), &currency),
            amounts::display(&net, &currency),
            field(position, "count"),
        ]);
    }
    for (currency, total) in &totals {
        let text = match (total, Currency::new(currency)) {
            (Some(sum), Ok(c)) => sum.to_decimal_string(c),
            _ => "?".to_string(),
        };
        nets.push(vec![
            "(sum)".to_string(),
            currency.clone(),
            String::new(),
            String::new(),
            text,
            String::new(),
        ]);
    }
    let mut pairs = Listing::new(&[
        ("PAYER", Align::Left),
        ("PAYEE", Align::Left),
        ("CCY", Align::Left),
        ("AMOUNT", Align::Right),
        ("ENTRIES", Align::Right),
    ]);
    for pair in bilateral(positions) {
        let currency = field(pair, "currency");
        pairs.push(vec![
            field(pair, "payer"),
            field(pair, "payee"),
            currency.clone(),
            amounts::display(&field(pair, "amount"), &currency),
            field(pair, "count"),
        ]);
    }
    vec![
        Block::Table {
            caption: Some("Net positions (multilateral)".into()),
            listing: nets,
        },
        Block::Table {
            caption: Some("Flows between branches (bilateral)".into()),
            listing: pairs,
        },
    ]
}

/// Both kinds of position in one CSV table.
fn positions_csv(positions: &Value) -> Listing {
    let mut listing = Listing::new(&[
        ("KIND", Align::Left),
        ("BRANCH", Align::Left),
        ("COUNTERPARTY", Align::Left),
        ("CURRENCY", Align::Left),
        ("PAID", Align::Right),
        ("RECEIVED", Align::Right),
        ("NET", Align::Right),
        ("COUNT", Align::Right),
    ]);
    for position in multilateral(positions) {
        let currency = field(position, "currency");
        listing.push(vec![
            "multilateral".into(),
            field(position, "branch"),
            String::new(),
            currency.clone(),
            amounts::display(&field(position, "paid"), &currency),
            amounts::display(&field(position, "received"), &currency),
            amounts::display(&field(position, "net"), &currency),
            field(position, "count"),
        ]);
    }
    for pair in bilateral(positions) {
        let currency = field(pair, "currency");
        let amount = amounts::display(&field(pair, "amount"), &currency);
        listing.push(vec![
            "bilateral".into(),
            field(pair, "payer"),
            field(pair, "payee"),
            currency,
            amount.clone(),
            String::new(),
            String::new(),
            field(pair, "count"),
        ]);
    }
    listing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;
    use crate::commands::tests::table;
    use crate::output::render;

    fn positions() -> Value {
        json!({"window": 1, "index": 60,
        "multilateral": [
            {"branch": "BJ01", "currency": "CNY", "paid": "13360.00", "received": "35000.00", "net": "21640.00", "count": 3},
            {"branch": "GZ01", "currency": "CNY", "paid": "0.00", "received": "12800.00", "net": "12800.00", "count": 1},
            {"branch": "SH01", "currency": "CNY", "paid": "35000.00", "received": "560.00", "net": "-34440.00", "count": 2}
        ],
        "bilateral": [
            {"payer": "BJ01", "payee": "GZ01", "currency": "CNY", "amount": "12800.00", "count": 1},
            {"payer": "BJ01", "payee": "SH01", "currency": "CNY", "amount": "560.00", "count": 1},
            {"payer": "SH01", "payee": "BJ01", "currency": "CNY", "amount": "35000.00", "count": 1}
        ]})
    }

    #[test]
    fn positions_table_sums_nets_to_zero() {
        insta::assert_snapshot!(table(&positions_view(&positions())));
    }

    #[test]
    fn positions_csv_holds_both_kinds() {
        insta::assert_snapshot!(render(
            &positions_view(&positions()),
            OutputFormat::Csv,
            None
        ));
    }

    #[test]
    fn windows_list_table() {
        let answer = json!({"open": 2, "index": 70, "windows": [
            {"id": 1, "status": "closed", "opened_at": "2026-11-22T08:00:00.000000Z", "opened_index": 5,
             "closed_at": "2026-11-22T12:00:00.000000Z", "positions": positions()},
            {"id": 2, "status": "open", "opened_at": "2026-11-22T12:00:00.000000Z", "opened_index": 66,
             "closed_at": null, "positions": {"multilateral": [], "bilateral": []}}
        ]});
        insta::assert_snapshot!(table(&windows_view(&answer)));
    }
}
