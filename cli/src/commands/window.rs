//! `clearledger windows`: clearing windows (清算场次), their positions (头寸),
//! closing, settlement and aborting.

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
        after_help = "Examples:\n  clearledger --key dev-operator-key-1 windows positions 1 -o csv > window-1.csv\n  clearledger --key dev-operator-key-1 windows positions 1 --matrix"
    )]
    Positions {
        /// The window id.
        id: u64,
        /// Show the bilateral flows as a payer × payee matrix per currency.
        #[arg(long)]
        matrix: bool,
    },
    /// Close the open window; the next one opens at the same moment (operator).
    #[command(after_help = "Example:\n  clearledger --key dev-operator-key-1 windows close 1")]
    Close {
        /// The window id.
        id: u64,
    },
    /// Settle a closed window: one entry per branch between its settlement
    /// reserve and the clearing center's (operator).
    #[command(after_help = "Example:\n  clearledger --key dev-operator-key-1 windows settle 1")]
    Settle {
        /// The window id.
        id: u64,
    },
    /// Abort a closed window: its positions move to the open window (operator).
    Abort {
        /// The window id.
        id: u64,
    },
    /// The liquidity-saving queue: entries waiting for room under their
    /// payer's net debit cap, by payer and currency, first in first.
    #[command(after_help = "Example:\n  clearledger --key dev-operator-key-1 windows queue")]
    Queue,
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
        WindowCommand::Positions { id, matrix } => {
            let value = expect_ok(client.get(&format!("/v1/windows/{id}/positions"), &[]))
                .with_context(|| format!("reading the positions of window {id}"))?;
            Ok(if *matrix {
                matrix_view(&value)
            } else {
                positions_view(&value)
            })
        }
        // Closing, settling and aborting answer the same when repeated, so a
        // retry after an unknown outcome is safe.
        WindowCommand::Close { id } => {
            let path = format!("/v1/windows/{id}/close");
            let value = expect_ok(client.post(&path, &json!({}), Retry::Idempotent))
                .with_context(|| format!("closing window {id}"))?;
            Ok(window_view(&value))
        }
        WindowCommand::Settle { id } => {
            let path = format!("/v1/windows/{id}/settle");
            let value = expect_ok(client.post(&path, &json!({}), Retry::Idempotent))
                .with_context(|| format!("settling window {id}"))?;
            Ok(settlement_view(&value))
        }
        WindowCommand::Abort { id } => {
            let path = format!("/v1/windows/{id}/abort");
            let value = expect_ok(client.post(&path, &json!({}), Retry::Idempotent))
                .with_context(|| format!("aborting window {id}"))?;
            Ok(window_view(&value))
        }
        WindowCommand::Queue => Ok(queue_view(
            &expect_ok(client.get("/v1/queue", &[])).context("reading the liquidity queue")?,
        )),
    }
}

/// `windows queue`: one line per queued entry.
pub fn queue_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("QUEUE", Align::Left),
        ("CCY", Align::Left),
        ("ID", Align::Left),
        ("AMOUNT", Align::Right),
        ("EXPIRES AT", Align::Left),
        ("APPROVAL", Align::Left),
        ("WAITING S", Align::Right),
    ]);
    let queued = answer
        .get("queued")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in queued {
        // Released into the approval queue when room opens.
        let needs_approval = list(entry, "approval_reasons") != "-";
        listing.push(vec![
            field(&entry["queue"], "branch"),
            field(entry, "currency"),
            field(entry, "id"),
            field(entry, "amount"),
            field(entry, "expires_at"),
            if needs_approval { "yes" } else { "" }.to_string(),
            field(entry, "waiting_seconds"),
        ]);
    }
    let summary = match (queued.len(), answer.get("window").and_then(Value::as_u64)) {
        (0, _) => "The liquidity queue is empty.".to_string(),
        (n, Some(window)) => {
            format!("{n} queued; released as room opens, or resolved when window {window} closes.")
        }
        (n, None) => format!("{n} queued."),
    };
    View::new(
        answer.clone(),
        vec![
            Block::Table {
                caption: None,
                listing,
            },
            Block::Line(summary),
        ],
    )
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
        let entries = window.get("entries").and_then(Value::as_u64).unwrap_or(0);
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
        ("closed at index".to_string(), field(window, "closed_index")),
        ("entries".to_string(), field(window, "entries")),
        ("settled/aborted at".to_string(), field(window, "ended_at")),
        ("by".to_string(), field(window, "ended_by")),
        ("carried to".to_string(), field(window, "carried_to")),
        ("carried from".to_string(), list(window, "carried_from")),
        ("settlement".to_string(), list(window, "settlement")),
    ];
    let positions = window.get("positions").cloned().unwrap_or(Value::Null);
    let mut blocks = vec![Block::Fields(fields)];
    blocks.extend(position_blocks(&positions));
    let warnings = window
        .get("cap_warnings")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !warnings.is_empty() {
        blocks.push(Block::Table {
            caption: Some("Net debit cap warnings".into()),
            listing: crate::commands::cap::caps_listing(warnings),
        });
    }
    View::new(window.clone(), blocks)
}

/// A list member as comma-separated words (`-` when empty).
fn list(value: &Value, key: &str) -> String {
    let items: Vec<String> = value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| match item {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

/// `windows settle`: the settled window, then its settlement entries, one
/// posting per line.
pub fn settlement_view(answer: &Value) -> View {
    let window = answer.get("window").cloned().unwrap_or(Value::Null);
    let mut postings = Listing::new(&[
        ("ENTRY", Align::Left),
        ("ACCOUNT", Align::Left),
        ("SIDE", Align::Left),
        ("CCY", Align::Left),
        ("AMOUNT", Align::Right),
    ]);
    let entries = answer
        .get("entries")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in entries {
        let currency = field(entry, "currency");
        for posting in entry
            .get("postings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            postings.push(vec![
                field(entry, "id"),
                field(posting, "account"),
                field(posting, "side"),
                currency.clone(),
                amounts::display(&field(posting, "amount"), &currency),
            ]);
        }
    }
    let summary = format!(
        "Window {} is {}: {} settlement entries.",
        field(&window, "id"),
        field(&window, "status"),
        entries.len(),
    );
    let mut view = View::new(
        answer.clone(),
        vec![
            Block::Line(summary),
            Block::Table {
                caption: Some("Settlement postings".into()),
                listing: postings.clone(),
            },
        ],
    );
    view.csv = Some(postings);
    view
}

/// `windows positions --matrix`: per currency, what each payer (row) paid
/// each payee (column), with row and column totals.
pub fn matrix_view(answer: &Value) -> View {
    let mut currencies: BTreeMap<String, BTreeMap<(String, String), String>> = BTreeMap::new();
    for pair in bilateral(answer) {
        currencies
            .entry(field(pair, "currency"))
            .or_default()
            .insert(
                (field(pair, "payer"), field(pair, "payee")),
                field(pair, "amount"),
            );
    }
    let mut blocks = Vec::new();
    for (currency, cells) in &currencies {
        blocks.push(matrix_block(currency, cells));
    }
    if blocks.is_empty() {
        blocks.push(Block::Line(
            "No flows between branches in this window.".into(),
        ));
    }
    View::new(answer.clone(), blocks)
}

fn matrix_block(currency: &str, cells: &BTreeMap<(String, String), String>) -> Block {
    let code = Currency::new(currency).ok();
    let parse = |text: &str| code.and_then(|c| Amount::parse(text, c).ok());
    let show = |amount: Amount| match code {
        Some(c) => amount.to_decimal_string(c),
        None => "?".to_string(),
    };
    let branches: std::collections::BTreeSet<&String> = cells
        .keys()
        .flat_map(|(payer, payee)| [payer, payee])
        .collect();
    let mut headers: Vec<(String, Align)> = vec![("PAYER \\ PAYEE".to_string(), Align::Left)];
    headers.extend(branches.iter().map(|b| (b.to_string(), Align::Right)));
    headers.push(("PAID".to_string(), Align::Right));
    let header_refs: Vec<(&str, Align)> = headers.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let mut listing = Listing::new(&header_refs);
    let mut received: BTreeMap<&String, Amount> = BTreeMap::new();
    for &payer in &branches {
        let mut row = vec![payer.clone()];
        let mut paid = Amount::ZERO;
        for &payee in &branches {
            match cells
                .get(&(payer.clone(), payee.clone()))
                .and_then(|a| parse(a))
            {
                Some(amount) => {
                    paid += amount;
                    *received.entry(payee).or_default() += amount;
                    row.push(show(amount));
                }
                None if payer == payee => row.push("-".to_string()),
                None => row.push(String::new()),
            }
        }
        row.push(show(paid));
        listing.push(row);
    }
    let mut totals = vec!["RECEIVED".to_string()];
    totals.extend(
        branches
            .iter()
            .map(|b| show(received.get(b).copied().unwrap_or_default())),
    );
    totals.push(String::new());
    listing.push(totals);
    Block::Table {
        caption: Some(format!("Bilateral flows, {currency} (row paid column)")),
        listing,
    }
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
    fn positions_matrix_has_payers_as_rows_and_totals() {
        insta::assert_snapshot!(table(&matrix_view(&positions())));
    }

    #[test]
    fn settlement_lists_each_posting() {
        let entry = |id: &str, branch: &str, to_branch: &str, amount: &str| {
            let other = if to_branch == "debit" {
                "credit"
            } else {
                "debit"
            };
            json!({"id": id, "currency": "CNY", "postings": [
                {"account": format!("{branch}-CLR-CNY"), "side": other, "amount": amount},
                {"account": format!("{branch}-RSV-CNY"), "side": to_branch, "amount": amount},
                {"account": "HQ-RSV-CNY", "side": other, "amount": amount},
                {"account": "HQ-CLR-CNY", "side": to_branch, "amount": amount}
            ]})
        };
        let answer = json!({"index": 80, "booked_at": "2026-11-22T18:00:00.000000Z",
            "window": {"id": 1, "status": "settled", "settlement": ["stl:1:BJ01:CNY", "stl:1:SH01:CNY"]},
            "entries": [entry("stl:1:BJ01:CNY", "BJ01", "debit", "21640.00"), entry("stl:1:SH01:CNY", "SH01", "credit", "34440.00")]});
        insta::assert_snapshot!(table(&settlement_view(&answer)));
    }

    #[test]
    fn queue_table_lists_each_queued_entry() {
        let answer = json!({
            "queued": [
                {"id": "q-1", "currency": "CNY", "amount": "200.00", "posted_by": "teller-sh",
                 "waiting_seconds": 12, "expires_at": "2026-11-23T09:00:00.000000Z",
                 "approval_reasons": [], "queue": {"branch": "SH01", "left_index": null, "left_at": null}},
                {"id": "q-2", "currency": "CNY", "amount": "700000.00", "posted_by": "teller-sh",
                 "waiting_seconds": 3, "expires_at": "2026-11-23T09:00:09.000000Z",
                 "approval_reasons": ["above_threshold"], "queue": {"branch": "SH01", "left_index": null, "left_at": null}}
            ],
            "window": 1, "as_of": "2026-11-22T09:00:12.000000Z", "index": 40
        });
        insta::assert_snapshot!(table(&queue_view(&answer)));
        let empty = json!({"queued": [], "window": 1, "index": 40});
        assert!(table(&queue_view(&empty)).contains("The liquidity queue is empty."));
    }

    #[test]
    fn windows_list_table() {
        let answer = json!({"open": 2, "index": 70, "windows": [
            {"id": 1, "status": "closed", "opened_at": "2026-11-22T08:00:00.000000Z", "opened_index": 5,
             "closed_at": "2026-11-22T12:00:00.000000Z", "entries": 3, "positions": positions()},
            {"id": 2, "status": "open", "opened_at": "2026-11-22T12:00:00.000000Z", "opened_index": 66,
             "closed_at": null, "entries": 0, "positions": {"multilateral": [], "bilateral": []}}
        ]});
        insta::assert_snapshot!(table(&windows_view(&answer)));
    }
}
