//! Auditors' commands: `snapshot` (trial balance, balances and end-of-day
//! balances as of a past point), `journal export`, `periods`, and `audit`
//! (verify the hash chain, read the trail, work the review list).
//!
//! `audit verify` recomputes every record's chain hash itself, with the
//! ledger's own encoding, from an export file or from a node's export, and
//! names the first record that does not match.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use ledger::ExportedRecord;
use ledger::audit::{GENESIS_HASH, Hash};
use serde_json::{Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::commands::account::balance_view;
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, field};

/// Balance snapshots as of a past point.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// The trial balance (试算平衡): every account's debits and credits and the
    /// totals per branch, currency and class, all at one log index.
    #[command(
        after_help = "Examples:\n  clearledger --key dev-auditor-key-1 snapshot trial-balance --as-of 2026-11-22T18:00:00Z\n  clearledger --key dev-auditor-key-1 snapshot trial-balance --index 1200 --branch SH01 -o csv"
    )]
    TrialBalance {
        /// As it stood at this RFC 3339 time.
        #[arg(long, value_name = "TIME", conflicts_with = "index")]
        as_of: Option<String>,
        /// As it stood at the end of this log index.
        #[arg(long)]
        index: Option<u64>,
        /// Only this branch.
        #[arg(long)]
        branch: Option<String>,
        /// Read the answering node's state without asking the leader.
        #[arg(long)]
        stale: bool,
    },
    /// One account's balance now, as of a past time, or at a log index.
    Balance {
        /// The account id.
        id: String,
        /// As it stood at this RFC 3339 time.
        #[arg(long, value_name = "TIME", conflicts_with = "index")]
        as_of: Option<String>,
        /// As it stood at the end of this log index.
        #[arg(long)]
        index: Option<u64>,
        /// Read the answering node's state without asking the leader.
        #[arg(long)]
        stale: bool,
    },
    /// An account's end-of-day balances (日终余额), day by day.
    EndOfDay {
        /// The account id.
        id: String,
        /// The first day (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// The last day [default: the first].
        #[arg(long)]
        to: Option<String>,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row; `event` holds the event's JSON.
    Csv,
}

/// The range of the chain to read.
#[derive(Debug, Clone, clap::Args)]
pub struct Range {
    /// From this log index.
    #[arg(long)]
    from_index: Option<u64>,
    /// Up to this log index.
    #[arg(long)]
    to_index: Option<u64>,
    /// From this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Up to this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
}

impl Range {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        query.extend(self.from_index.map(|n| ("from_index", n.to_string())));
        query.extend(self.to_index.map(|n| ("to_index", n.to_string())));
        query.extend(self.from.clone().map(|t| ("from", t)));
        query.extend(self.to.clone().map(|t| ("to", t)));
        query
    }
}

/// The journal.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Export the journal (the whole audit chain, or a range) with each
    /// record's chain hash, streamed to a file or stdout.
    #[command(
        after_help = "Examples:\n  clearledger --key dev-auditor-key-1 journal export --out journal.jsonl\n  clearledger --key dev-auditor-key-1 journal export --from 2026-11-22T00:00:00Z --format csv --out day.csv"
    )]
    Export {
        #[command(flatten)]
        range: Range,
        /// The format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Period close (关账).
#[derive(Debug, Subcommand)]
pub enum PeriodCommand {
    /// Close a branch's books through a date: entries valued on or before it
    /// are refused from then on.
    Close {
        /// The branch.
        #[arg(long)]
        branch: String,
        /// The last day closed (YYYY-MM-DD).
        #[arg(long)]
        through: String,
    },
    /// Every branch's period close.
    List,
}

/// The audit trail, the chain check and the review list.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain from an export file, or from a node's export,
    /// and say exactly where it breaks.
    #[command(
        after_help = "Examples:\n  clearledger audit verify journal.jsonl\n  clearledger --key dev-auditor-key-1 audit verify"
    )]
    Verify {
        /// An export (JSON Lines or CSV); without it, the node's whole chain.
        file: Option<PathBuf>,
    },
    /// Who did what, when, with which key and from where.
    Trail {
        #[command(flatten)]
        range: Range,
        /// Only this principal.
        #[arg(long)]
        principal: Option<String>,
        /// Start after this record.
        #[arg(long)]
        after_seq: Option<u64>,
        /// Show at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Post-hoc review (事后监督): the flagged entries, and marking one reviewed.
    #[command(subcommand)]
    Review(ReviewCommand),
}

/// The review list.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Flagged entries with the coverage figure.
    List {
        /// Only entries touching this branch.
        #[arg(long)]
        branch: Option<String>,
        /// Only entries not reviewed yet.
        #[arg(long)]
        unreviewed: bool,
        /// Show at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Mark a flagged entry reviewed.
    Mark {
        /// The entry id.
        entry: String,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
}

fn consistency(stale: bool) -> Vec<(&'static str, String)> {
    if stale {
        vec![("consistency", "stale".to_string())]
    } else {
        Vec::new()
    }
}

/// Runs a `snapshot` command.
pub fn run_snapshot(context: &Context, command: &SnapshotCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        SnapshotCommand::TrialBalance {
            as_of,
            index,
            branch,
            stale,
        } => {
            let mut query = consistency(*stale);
            query.extend(as_of.clone().map(|at| ("as_of", at)));
            query.extend(index.map(|n| ("index", n.to_string())));
            query.extend(branch.clone().map(|b| ("branch", b)));
            let answer = expect_ok(client.get("/v1/snapshots/trial-balance", &query))?;
            Ok(trial_balance_view(&answer))
        }
        SnapshotCommand::Balance {
            id,
            as_of,
            index,
            stale,
        } => {
            let mut query = consistency(*stale);
            query.extend(as_of.clone().map(|at| ("as_of", at)));
            query.extend(index.map(|n| ("index", n.to_string())));
            let answer = expect_ok(client.get(&format!("/v1/accounts/{id}/balance"), &query))?;
            Ok(balance_view(&answer))
        }
        SnapshotCommand::EndOfDay { id, from, to } => {
            let mut query = vec![("from", from.clone())];
            query.extend(to.clone().map(|to| ("to", to)));
            let answer = expect_ok(client.get(&format!("/v1/accounts/{id}/end-of-day"), &query))?;
            Ok(end_of_day_view(&answer))
        }
    }
}

/// The trial balance: what it was read at, the totals, then the accounts.
pub fn trial_balance_view(answer: &Value) -> View {
    let fields = vec![
        ("log index".to_string(), field(answer, "index")),
        ("at".to_string(), field(answer, "at")),
        ("branch".to_string(), {
            let branch = field(answer, "branch");
            if branch.is_empty() {
                "all".into()
            } else {
                branch
            }
        }),
    ];
    let totals_columns = [
        ("DEBITS", Align::Right),
        ("CREDITS", Align::Right),
        ("DEBIT BALANCES", Align::Right),
        ("CREDIT BALANCES", Align::Right),
        ("BALANCED", Align::Left),
    ];
    let figures = |row: &Value| -> Vec<String> {
        let currency = field(row, "currency");
        let mut cells: Vec<String> = [
            "debits_posted",
            "credits_posted",
            "debit_balances",
            "credit_balances",
        ]
        .iter()
        .map(|key| amounts::display(&field(row, key), &currency))
        .collect();
        cells.push(if row["balanced"] == true { "yes" } else { "NO" }.to_string());
        cells
    };
    let mut totals = Listing::new(&[&[("CURRENCY", Align::Left)][..], &totals_columns].concat());
    for row in answer["totals"].as_array().into_iter().flatten() {
        totals.push([vec![field(row, "currency")], figures(row)].concat());
    }
    let mut classes = Listing::new(
        &[
            &[
                ("BRANCH", Align::Left),
                ("CURRENCY", Align::Left),
                ("CLASS", Align::Left),
            ][..],
            &totals_columns,
        ]
        .concat(),
    );
    for row in answer["classes"].as_array().into_iter().flatten() {
        let key = vec![
            field(row, "branch"),
            field(row, "currency"),
            field(row, "class"),
        ];
        classes.push([key, figures(row)].concat());
    }
    let mut accounts = Listing::new(&[
        ("ACCOUNT", Align::Left),
        ("BRANCH", Align::Left),
        ("CUR", Align::Left),
        ("CLASS", Align::Left),
        ("DEBITS", Align::Right),
        ("CREDITS", Align::Right),
        ("DEBIT BALANCE", Align::Right),
        ("CREDIT BALANCE", Align::Right),
    ]);
    for row in answer["accounts"].as_array().into_iter().flatten() {
        let currency = field(row, "currency");
        let amount = |key: &str| amounts::display(&field(row, key), &currency);
        accounts.push(vec![
            field(row, "account"),
            field(row, "branch"),
            currency.clone(),
            field(row, "class"),
            amount("debits_posted"),
            amount("credits_posted"),
            amount("debit_balance"),
            amount("credit_balance"),
        ]);
    }
    let mut view = View::new(
        answer.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: Some("Totals per currency".into()),
                listing: totals,
            },
            Block::Table {
                caption: Some("Per branch, currency and class".into()),
                listing: classes,
            },
            Block::Table {
                caption: Some("Accounts".into()),
                listing: accounts.clone(),
            },
        ],
    );
    view.csv = Some(accounts);
    view
}

/// End-of-day balances, one row a day.
pub fn end_of_day_view(answer: &Value) -> View {
    let currency = field(answer, "currency");
    let mut days = Listing::new(&[
        ("DATE", Align::Left),
        ("INDEX", Align::Right),
        ("POSTED", Align::Right),
        ("AVAILABLE", Align::Right),
        ("DEBITS", Align::Right),
        ("CREDITS", Align::Right),
    ]);
    for day in answer["days"].as_array().into_iter().flatten() {
        let balance = &day["balance"];
        let amount = |key: &str| amounts::display(&field(balance, key), &currency);
        days.push(vec![
            field(day, "date"),
            field(day, "index"),
            amount("posted"),
            amount("available"),
            amount("debits_posted"),
            amount("credits_posted"),
        ]);
    }
    View::new(
        answer.clone(),
        vec![
            Block::Fields(vec![
                ("account".into(), field(answer, "account")),
                ("currency".into(), currency.clone()),
            ]),
            Block::Table {
                caption: None,
                listing: days,
            },
        ],
    )
}

/// Runs a `journal` command.
pub fn run_journal(context: &Context, command: &JournalCommand) -> anyhow::Result<View> {
    let JournalCommand::Export { range, format, out } = command;
    let client = context.client()?;
    let mut query = range.query();
    query.push((
        "format",
        match format {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
        .to_string(),
    ));
    let mut response = match client.get_stream("/v1/journal/export", &query) {
        Ok(Ok(response)) => response,
        Ok(Err(problem)) => return Err(problem.into_error()),
        Err(transport) => return Err(transport.into_error()),
    };
    let mut sink: Box<dyn Write> = match out {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let bytes = std::io::copy(&mut response, &mut sink).context("the export was cut off")?;
    sink.flush()?;
    let summary = json!({"bytes": bytes, "out": out.as_ref().map(|p| p.display().to_string())});
    // On stdout the export itself is the output; the summary goes nowhere.
    let blocks = match out {
        Some(path) => vec![Block::Line(format!(
            "exported {bytes} bytes to {}",
            path.display()
        ))],
        None => Vec::new(),
    };
    Ok(View::new(summary, blocks))
}

/// Runs a `periods` command.
pub fn run_periods(context: &Context, command: &PeriodCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    let answer = match command {
        PeriodCommand::Close { branch, through } => {
            let body = json!({"branch": branch, "through": through});
            let answer = expect_ok(client.post("/v1/periods", &body, Retry::Idempotent))?;
            json!({"periods": [answer], "index": answer["index"]})
        }
        PeriodCommand::List => expect_ok(client.get("/v1/periods", &[]))?,
    };
    let mut listing = Listing::new(&[
        ("BRANCH", Align::Left),
        ("CLOSED THROUGH", Align::Left),
        ("CLOSED AT", Align::Left),
        ("BY", Align::Left),
    ]);
    for close in answer["periods"].as_array().into_iter().flatten() {
        listing.push(vec![
            field(close, "branch"),
            field(close, "closed_through"),
            field(close, "closed_at"),
            field(close, "closed_by"),
        ]);
    }
    Ok(View::new(
        answer,
        vec![Block::Table {
            caption: None,
            listing,
        }],
    ))
}

/// Runs an `audit` command.
pub fn run_audit(context: &Context, command: &AuditCommand) -> anyhow::Result<View> {
    match command {
        AuditCommand::Verify { file: Some(path) } => {
            let file =
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            let report = verify_export(BufReader::new(file))?;
            Ok(verified_view(&report, &path.display().to_string()))
        }
        AuditCommand::Verify { file: None } => verify_node(context),
        AuditCommand::Trail {
            range,
            principal,
            after_seq,
            limit,
        } => {
            let mut query = range.query();
            query.extend(principal.clone().map(|p| ("principal", p)));
            query.extend(after_seq.map(|n| ("after_seq", n.to_string())));
            query.push(("limit", limit.to_string()));
            let answer = expect_ok(context.client()?.get("/v1/audit/trail", &query))?;
            Ok(trail_view(&answer))
        }
        AuditCommand::Review(ReviewCommand::List {
            branch,
            unreviewed,
            limit,
        }) => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(branch.clone().map(|b| ("branch", b)));
            if *unreviewed {
                query.push(("status", "unreviewed".to_string()));
            }
            let answer = expect_ok(context.client()?.get("/v1/audit/reviews", &query))?;
            Ok(review_view(&answer))
        }
        AuditCommand::Review(ReviewCommand::Mark { entry, note }) => {
            let body = json!({ "note": note });
            let path = format!("/v1/entries/{entry}/review");
            let answer = expect_ok(context.client()?.post(&path, &body, Retry::Idempotent))?;
            let fields = ["entry", "reviewed_by", "reviewed_at", "note", "index"]
                .iter()
                .map(|key| (key.replace('_', " "), field(&answer, key)))
                .collect();
            Ok(View::new(answer, vec![Block::Fields(fields)]))
        }
    }
}

/// The audit trail, one record a row.
pub fn trail_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("SEQ", Align::Right),
        ("INDEX", Align::Right),
        ("AT", Align::Left),
        ("PRINCIPAL", Align::Left),
        ("KEY", Align::Left),
        ("CLIENT", Align::Left),
        ("EVENT", Align::Text),
    ]);
    for record in answer["records"].as_array().into_iter().flatten() {
        let event = record["event"]
            .as_object()
            .and_then(|event| event.keys().next().cloned())
            .unwrap_or_default();
        listing.push(vec![
            field(record, "seq"),
            field(record, "index"),
            field(record, "at"),
            field(record, "principal"),
            field(record, "key_id"),
            field(record, "client"),
            event,
        ]);
    }
    let mut blocks = vec![Block::Table {
        caption: None,
        listing,
    }];
    if let Some(next) = answer["next_after_seq"].as_u64() {
        blocks.push(Block::Line(format!("more: --after-seq {next}")));
    }
    View::new(answer.clone(), blocks)
}

/// The review list with its coverage.
pub fn review_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("ENTRY", Align::Left),
        ("FLAGS", Align::Text),
        ("AMOUNT", Align::Right),
        ("CUR", Align::Left),
        ("POSTED BY", Align::Left),
        ("APPROVED BY", Align::Left),
        ("REVIEWED BY", Align::Left),
    ]);
    for entry in answer["entries"].as_array().into_iter().flatten() {
        let flags: Vec<String> = entry["flags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let currency = field(entry, "currency");
        listing.push(vec![
            field(entry, "entry"),
            flags.join(", "),
            amounts::display(&field(entry, "amount"), &currency),
            currency,
            field(entry, "posted_by"),
            field(entry, "approved_by"),
            field(&entry["review"], "reviewed_by"),
        ]);
    }
    let fields = vec![
        ("flagged".to_string(), field(answer, "flagged")),
        ("reviewed".to_string(), field(answer, "reviewed")),
        (
            "coverage".to_string(),
            format!("{}%", field(answer, "coverage_percent")),
        ),
    ];
    let mut view = View::new(
        answer.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: None,
                listing: listing.clone(),
            },
        ],
    );
    view.csv = Some(listing);
    view
}

/// What a verified run of the chain is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// The first record's sequence number.
    pub first_seq: u64,
    /// The last record's sequence number.
    pub last_seq: u64,
    /// The hash before the first record (the genesis hash when it is record 1).
    pub previous: Hash,
    /// The last record's hash.
    pub head: Hash,
}

/// Where and why a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the chain breaks at line {line}{}: {reason}", .seq.map(|s| format!(" (record {s})")).unwrap_or_default())]
pub struct ChainBroken {
    /// The line of the export (from 1, the CSV header included).
    pub line: u64,
    /// The record's sequence number, when it could be read.
    pub seq: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

fn hex(hash: &Hash) -> String {
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The CSV columns of an export, in order.
const CSV_COLUMNS: [&str; 10] = [
    "seq",
    "index",
    "command",
    "at",
    "principal",
    "key_id",
    "client",
    "event",
    "previous_hash",
    "hash",
];

/// One CSV row of an export as a record.
fn csv_record(row: &csv::StringRecord) -> Result<ExportedRecord, String> {
    let cell = |at: usize| row.get(at).unwrap_or_default();
    let number = |at: usize| -> Result<u64, String> {
        cell(at)
            .parse()
            .map_err(|_| format!("{} is not a number", CSV_COLUMNS[at]))
    };
    Ok(ExportedRecord {
        seq: number(0)?,
        index: number(1)?,
        command: u32::try_from(number(2)?).map_err(|_| "command is out of range")?,
        at: cell(3).to_string(),
        principal: cell(4).to_string(),
        key_id: cell(5).to_string(),
        client: cell(6).to_string(),
        event: serde_json::from_str(cell(7)).map_err(|error| format!("event: {error}"))?,
        previous_hash: cell(8).to_string(),
        hash: cell(9).to_string(),
    })
}

/// Reads an export's records one at a time, with their line numbers, from
/// JSON Lines or (when it starts with the CSV header) CSV, and hands each to
/// `visit`, stopping at the first error it returns.
fn for_each_record(
    mut input: impl BufRead,
    mut visit: impl FnMut(u64, Result<ExportedRecord, String>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let csv = input
        .fill_buf()
        .context("cannot read the export")?
        .starts_with(b"seq,");
    if !csv {
        for (at, line) in input.lines().enumerate() {
            let line = line.context("cannot read the export")?;
            if line.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str(&line)
                .map_err(|error| format!("not a record of an export: {error}"));
            visit(at as u64 + 1, record)?;
        }
        return Ok(());
    }
    let mut reader = csv::ReaderBuilder::new().from_reader(input);
    let headers = reader.headers().context("the CSV header")?.clone();
    if headers.iter().ne(CSV_COLUMNS) {
        let reason = format!("the CSV header is not {}", CSV_COLUMNS.join(","));
        return visit(1, Err(reason));
    }
    for row in reader.records() {
        match row {
            Ok(row) => visit(row.position().map_or(0, |p| p.line()), csv_record(&row))?,
            Err(error) => visit(
                error.position().map_or(0, |p| p.line()),
                Err(error.to_string()),
            )?,
        }
    }
    Ok(())
}

/// Recomputes the chain of an export: every record must follow the one
/// before it (sequence and `previous_hash`) and hash to its `hash`; record 1
/// must follow the genesis hash.
pub fn verify_export(input: impl BufRead) -> anyhow::Result<Verified> {
    let mut verified: Option<Verified> = None;
    for_each_record(input, |line, row| {
        let broken = |seq: Option<u64>, reason: String| ChainBroken { line, seq, reason };
        let exported = row.map_err(|reason| broken(None, reason))?;
        let seq = exported.seq;
        let (record, previous, hash) = exported
            .parts()
            .map_err(|reason| broken(Some(seq), reason))?;
        let expected_previous = match &verified {
            Some(run) if seq != run.last_seq + 1 => {
                return Err(broken(
                    Some(seq),
                    format!(
                        "it follows record {}: a record is missing or out of order",
                        run.last_seq
                    ),
                )
                .into());
            }
            Some(run) => run.head,
            None if seq == 1 => GENESIS_HASH,
            None => previous,
        };
        if previous != expected_previous {
            return Err(broken(
                Some(seq),
                "its previous_hash is not the hash of the record before it".into(),
            )
            .into());
        }
        if record.chain_hash(&expected_previous) != hash {
            return Err(broken(
                Some(seq),
                "its content does not match its hash: the record was altered".into(),
            )
            .into());
        }
        let run = verified.get_or_insert(Verified {
            records: 0,
            first_seq: seq,
            last_seq: seq,
            previous: expected_previous,
            head: hash,
        });
        run.records += 1;
        run.last_seq = seq;
        run.head = hash;
        Ok(())
    })?;
    verified.ok_or_else(|| usage("the export holds no records"))
}

fn verified_view(report: &Verified, source: &str) -> View {
    let json = json!({
        "valid": true,
        "source": source,
        "records": report.records,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "previous_hash": hex(&report.previous),
        "chain_head": hex(&report.head),
    });
    let mut fields = vec![
        ("source".to_string(), source.to_string()),
        ("records".to_string(), report.records.to_string()),
        ("from record".to_string(), report.first_seq.to_string()),
        ("to record".to_string(), report.last_seq.to_string()),
        ("chain head".to_string(), hex(&report.head)),
    ];
    if report.first_seq > 1 {
        fields.push(("after hash".to_string(), hex(&report.previous)));
    }
    View::new(
        json,
        vec![
            Block::Line("the chain verifies".into()),
            Block::Fields(fields),
        ],
    )
}

/// Streams the node's whole chain, verifies it here, and checks that the
/// node's own record at the last sequence carries the same hash.
fn verify_node(context: &Context) -> anyhow::Result<View> {
    let client = context.client()?;
    let response = match client.get_stream("/v1/journal/export", &[]) {
        Ok(Ok(response)) => response,
        Ok(Err(problem)) => return Err(problem.into_error()),
        Err(transport) => return Err(transport.into_error()),
    };
    let report = verify_export(BufReader::new(response))?;
    anyhow::ensure!(
        report.first_seq == 1,
        "the node's export does not start at record 1"
    );
    let query = [
        ("after_seq", (report.last_seq - 1).to_string()),
        ("limit", "1".to_string()),
    ];
    let trail = expect_ok(client.get("/v1/audit/trail", &query))?;
    let node_hash = trail["records"][0]["hash"].as_str().unwrap_or_default();
    if node_hash != hex(&report.head) {
        return Err(ChainBroken {
            line: report.records,
            seq: Some(report.last_seq),
            reason: format!("the node now answers hash {node_hash} for it"),
        }
        .into());
    }
    let server = client
        .settings()
        .servers
        .first()
        .cloned()
        .unwrap_or_default();
    Ok(verified_view(&report, &server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;
    use ledger::audit::{AuditEvent, AuditRecord, ChainedRecord};
    use ledger::{Actor, Position, PrincipalName, Timestamp};

    /// A chain of `count` records as the node exports them (JSON Lines).
    fn export(count: u64) -> String {
        let mut previous = GENESIS_HASH;
        let mut out = String::new();
        for seq in 1..=count {
            let record = AuditRecord {
                seq,
                position: Position {
                    index: seq + 2,
                    seq: 0,
                },
                at: Timestamp::parse_rfc3339("2026-11-22T09:00:00Z").unwrap(),
                actor: Actor {
                    principal: PrincipalName::new("op1").unwrap(),
                    key_id: "k1".into(),
                    client: "10.0.0.1".into(),
                },
                event: AuditEvent::EntryBooked {
                    id: ledger::EntryId::new(format!("t{seq}")).unwrap(),
                    currency: ledger::Currency::new("CNY").unwrap(),
                    postings: vec![ledger::Posting {
                        account: ledger::AccountId::new("SH01-A").unwrap(),
                        side: ledger::Side::Debit,
                        amount: ledger::Amount::from_minor(12_345 * i128::from(seq)),
                    }],
                    status: "posted".into(),
                    reverses: None,
                },
            };
            let hash = record.chain_hash(&previous);
            let chained = ChainedRecord { record, hash };
            let line = serde_json::to_string(&ExportedRecord::of(&chained, &previous)).unwrap();
            out.push_str(&line);
            out.push('\n');
            previous = hash;
        }
        out
    }

    fn broken(text: &str) -> ChainBroken {
        verify_export(text.as_bytes())
            .expect_err("the chain must break")
            .downcast::<ChainBroken>()
            .expect("a chain break")
    }

    #[test]
    fn an_intact_export_verifies_to_its_head() {
        let text = export(5);
        let report = verify_export(text.as_bytes()).unwrap();
        assert_eq!(
            (report.records, report.first_seq, report.last_seq),
            (5, 1, 5)
        );
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(hex(&report.head), last["hash"]);
        // A run from the middle verifies from the hash it states.
        let tail: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(verify_export(tail.as_bytes()).unwrap().first_seq, 3);
    }

    /// Changing any one byte of a record's amount, time, actor or hash
    /// breaks the chain at exactly that record.
    #[test]
    fn one_altered_byte_breaks_the_chain_at_its_record() {
        let text = export(6);
        let lines: Vec<&str> = text.lines().collect();
        let third = lines[3];
        for (from, to) in [
            ("49380", "49381"),
            ("op1", "op2"),
            ("10.0.0.1", "10.0.0.2"),
            ("09:00:00", "09:00:01"),
        ] {
            let altered = third.replacen(from, to, 1);
            assert_ne!(altered, third, "{from} is in the record");
            let text = [&lines[..3], &[altered.as_str()], &lines[4..]]
                .concat()
                .join("\n");
            let at = broken(&text);
            assert_eq!((at.line, at.seq), (4, Some(4)), "{from}: {at}");
            assert!(at.reason.contains("altered"), "{at}");
        }
        // Its hash altered: this record no longer matches, or the next one
        // no longer follows it.
        let hash_at = third.rfind("\"hash\":\"").unwrap() + 8;
        let mut bytes = third.as_bytes().to_vec();
        bytes[hash_at] = if bytes[hash_at] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(bytes).unwrap();
        let text = [&lines[..3], &[altered.as_str()], &lines[4..]]
            .concat()
            .join("\n");
        assert_eq!(broken(&text).seq, Some(4));
        // A dropped record and a broken line are named too.
        let dropped = [&lines[..2], &lines[3..]].concat().join("\n");
        assert_eq!((broken(&dropped).line, broken(&dropped).seq), (3, Some(4)));
        let cut = [&lines[..5], &[&lines[5][..20]]].concat().join("\n");
        assert_eq!(broken(&cut).line, 6);
    }

    #[test]
    fn a_csv_export_verifies_and_breaks_like_json_lines() {
        let text = export(3);
        let mut csv =
            String::from("seq,index,command,at,principal,key_id,client,event,previous_hash,hash\n");
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            let cells: Vec<String> = CSV_COLUMNS
                .iter()
                .map(|name| match &value[*name] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .map(|cell| {
                    if cell.contains([',', '"']) {
                        format!("\"{}\"", cell.replace('"', "\"\""))
                    } else {
                        cell
                    }
                })
                .collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        assert_eq!(verify_export(csv.as_bytes()).unwrap().records, 3);
        let altered = csv.replacen("24690", "24691", 1);
        let at = broken(&altered);
        assert_eq!((at.line, at.seq), (3, Some(2)), "{at}");
    }

    #[test]
    fn review_list_table_shows_the_coverage() {
        let answer = json!({"flagged": 2, "reviewed": 1, "coverage_percent": "50.00", "index": 40, "entries": [
            {"entry": "int-1", "flags": ["internal_account_outbound", "approval"], "currency": "CNY", "amount": "1200.00",
             "branches": ["SH01"], "posted_by": "teller-sh01", "approved_by": "op2", "booked_at": "2026-11-22T09:00:00.000000Z",
             "review": {"entry": "int-1", "reviewed_by": "aud", "reviewed_at": "2026-11-22T10:00:00.000000Z", "reviewed_index": 39, "note": null}},
            {"entry": "rev-1", "flags": ["reversal"], "currency": "CNY", "amount": "100.00", "branches": ["SH01"],
             "posted_by": "op1", "approved_by": null, "booked_at": "2026-11-22T09:05:00.000000Z", "review": null}]});
        let text = crate::output::render(
            &review_view(&answer),
            crate::args::OutputFormat::Table,
            Some(120),
        );
        assert!(text.contains("50.00%"), "{text}");
        assert!(
            text.contains("internal_account_outbound, approval"),
            "{text}"
        );
        assert!(text.contains("1200.00"), "{text}");
        let narrow = table(&review_view(&answer));
        assert!(narrow.contains("coverage  50.00%"), "{narrow}");
    }
}
