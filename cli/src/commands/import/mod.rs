//! `clearledger transfer import FILE`: every row is checked first (nothing is
//! sent while any row is bad, unless `--continue-on-error`), then the rows go
//! in batches. Each row's id is the transfer's id, so running the same import
//! again after an interruption books nothing twice: the ledger answers a
//! known id with its original outcome, and the summary counts those rows as
//! booked before this run.

pub mod rows;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::exit::{Failure, usage};
use crate::output::{Align, Block, Listing, View, field};
use rows::{BadRow, Format, Row};

/// How many bad rows are listed before the rest are only counted.
const BAD_ROWS_SHOWN_MAX: usize = 50;

/// `transfer import`.
#[derive(Debug, Args)]
#[command(after_help = "\
File formats:
  CSV with a header row, or JSON Lines (one object per line, amounts as strings).
  Columns: id, debit_account, credit_account, amount, currency (required);
           pending, timeout_seconds, memo, reference, value_date (optional).

Examples:
  clearledger --key dev-branch-sh01-key transfer import transfers.csv
  clearledger --key dev-operator-key-1 transfer import day.jsonl --batch-size 2000 --continue-on-error

Every row is checked before anything is sent; a bad row (malformed, unknown
column, too many decimals, ...) is reported with its line and nothing is sent,
unless --continue-on-error. Rows are identified by their ids: if an import is
interrupted, run the same command again; rows already booked are not booked twice.")]
pub struct ImportArgs {
    /// The file to import.
    pub file: PathBuf,
    /// The file's format [default: from its extension: .csv, .jsonl or .ndjson].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Transfers per request.
    #[arg(long, default_value_t = 500, value_name = "ROWS")]
    pub batch_size: usize,
    /// Send the good rows even when some are bad; bad rows go to the rejects file.
    #[arg(long)]
    pub continue_on_error: bool,
    /// Where rejected rows are written [default: FILE's name with .rejected.csv].
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
}

/// A row that did not go in, for the rejects file.
#[derive(Debug, Clone)]
struct Rejected {
    line: u64,
    id: String,
    code: String,
    detail: String,
    cells: BTreeMap<String, String>,
}

impl From<BadRow> for Rejected {
    fn from(bad: BadRow) -> Rejected {
        let id = bad.cells.get("id").cloned().unwrap_or_default();
        Rejected {
            line: bad.line,
            id,
            code: bad.code,
            detail: bad.detail,
            cells: bad.cells,
        }
    }
}

/// What happened to the rows.
#[derive(Debug, Default)]
struct Tally {
    /// Rows in the file, good and bad.
    rows: u64,
    /// Requests answered.
    batches: u64,
    /// By status (`posted`, `pending`, `voided`): (booked by this run, booked before it).
    booked: BTreeMap<String, (u64, u64)>,
    /// Rejected rows, by code.
    rejected: BTreeMap<String, u64>,
    /// Rows not sent, or sent without a known outcome, when the import stopped.
    unconfirmed: u64,
    rejects: Vec<Rejected>,
}

/// Runs the import.
pub fn run(context: &Context, args: &ImportArgs) -> anyhow::Result<View> {
    let format = args
        .format
        .or_else(|| Format::of(&args.file))
        .ok_or_else(|| {
            usage(format!(
                "{}: say --format csv or --format jsonl (the extension does not tell)",
                args.file.display()
            ))
        })?;
    let batch_max = ledger::limits::ENTRIES_PER_BATCH_MAX;
    if !(1..=batch_max).contains(&args.batch_size) {
        return Err(usage(format!(
            "--batch-size must be between 1 and {batch_max}"
        )));
    }
    let rows = rows::read(&args.file, format)?.map_err(|error| {
        usage(format!(
            "{}:{}: {}; nothing was sent",
            args.file.display(),
            error.line,
            error.detail
        ))
    })?;
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| default_rejects_path(&args.file));
    if !rows.bad.is_empty() && !args.continue_on_error {
        return Err(refuse(&args.file, &rows, &rejects_path));
    }
    let mut tally = Tally {
        rows: (rows.good.len() + rows.bad.len()) as u64,
        ..Tally::default()
    };
    for bad in rows.bad {
        *tally.rejected.entry(bad.code.clone()).or_default() += 1;
        tally.rejects.push(bad.into());
    }
    let stop = send(context, args, &rows.good, &mut tally)?;
    finish(context, &args.file, tally, &rejects_path, stop)
}

/// Lists the bad rows with their lines and refuses the whole file.
fn refuse(file: &Path, rows: &rows::Rows, rejects_path: &Path) -> anyhow::Error {
    for bad in rows.bad.iter().take(BAD_ROWS_SHOWN_MAX) {
        eprintln!(
            "{}:{}: {}: {}",
            file.display(),
            bad.line,
            bad.code,
            bad.detail
        );
    }
    if rows.bad.len() > BAD_ROWS_SHOWN_MAX {
        eprintln!(
            "... and {} more bad rows",
            rows.bad.len() - BAD_ROWS_SHOWN_MAX
        );
    }
    usage(format!(
        "{} of {} rows in {} are bad; nothing was sent. Fix them, or pass --continue-on-error \
         to import the other rows (the bad ones are written to {})",
        rows.bad.len(),
        rows.bad.len() + rows.good.len(),
        file.display(),
        rejects_path.display()
    ))
}

/// Writes the rejects file and answers the summary, or prints it and
/// answers why the import did not fully succeed.
fn finish(
    context: &Context,
    file: &Path,
    mut tally: Tally,
    rejects_path: &Path,
    stop: Option<anyhow::Error>,
) -> anyhow::Result<View> {
    tally.rejects.sort_by_key(|rejected| rejected.line);
    let written = if tally.rejects.is_empty() {
        None
    } else {
        write_rejects(rejects_path, &tally.rejects)?;
        Some(rejects_path)
    };
    let stopped = stop.as_ref().map(ToString::to_string);
    let view = summary_view(file, &tally, written, stopped);
    let rejected: u64 = tally.rejected.values().sum();
    let failure = match stop {
        Some(failure) => failure,
        None if rejected > 0 => {
            Failure::PartlyRejected(format!("{rejected} of {} rows were rejected", tally.rows))
                .into()
        }
        None => return Ok(view),
    };
    context.print(&view);
    Err(failure)
}

/// Sends the good rows in batches; answers why it stopped early, if it did.
fn send(
    context: &Context,
    args: &ImportArgs,
    good: &[Row],
    tally: &mut Tally,
) -> anyhow::Result<Option<anyhow::Error>> {
    if good.is_empty() {
        return Ok(None);
    }
    let client = context.client()?;
    let before = expect_ok(client.get("/v1/branches", &[]))
        .context("reading the ledger's position before the import")?
        .get("index")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let batches = good.len().div_ceil(args.batch_size);
    if !context.quiet {
        eprintln!(
            "Importing {} transfers from {} in {batches} batch(es) of up to {}. Rows are identified by their ids: \
             if this is interrupted, run the same command again; rows already booked are not booked twice.",
            good.len(),
            args.file.display(),
            args.batch_size
        );
    }
    let interrupted = context.interrupted.clone();
    // A second Ctrl-C stops at once; the first lets the batch in flight finish.
    let _ = ctrlc::set_handler(move || {
        if interrupted.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        }
    });
    let progress = progress_bar(good.len() as u64, context.quiet);
    let mut sent = 0usize;
    for chunk in good.chunks(args.batch_size) {
        if context.interrupted.load(Ordering::SeqCst) {
            progress.abandon();
            tally.unconfirmed = (good.len() - sent) as u64;
            return Ok(Some(
                Failure::Interrupted(format!(
                    "interrupted after {sent} of {} rows; run the same command again to finish \
                     (rows already booked are not booked twice)",
                    good.len()
                ))
                .into(),
            ));
        }
        let body = json!({ "transfers": chunk.iter().map(|row| row.transfer.clone()).collect::<Vec<_>>() });
        let answer = client.post("/v1/transfers", &body, Retry::Idempotent);
        let value = match expect_ok(answer) {
            Ok(value) => value,
            Err(error) => {
                progress.abandon();
                tally.unconfirmed = (good.len() - sent) as u64;
                let first = chunk.first().map_or(0, |row| row.line);
                return Ok(Some(error.context(format!(
                    "the batch from line {first} got no outcome; {} rows are unconfirmed: run the same command \
                     again to finish (rows already booked are not booked twice)",
                    tally.unconfirmed
                ))));
            }
        };
        count_results(chunk, &value, before, tally)?;
        tally.batches += 1;
        sent += chunk.len();
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(None)
}

fn progress_bar(rows: u64, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let progress = ProgressBar::with_draw_target(Some(rows), target);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}")
    {
        progress.set_style(style);
    }
    progress
}

/// Counts one batch's results; a result booked at or before `before` was
/// booked by an earlier run.
fn count_results(
    chunk: &[Row],
    answer: &Value,
    before: u64,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let results = answer
        .get("results")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    anyhow::ensure!(
        results.len() == chunk.len(),
        "the node answered {} results for a batch of {} transfers",
        results.len(),
        chunk.len()
    );
    for (row, result) in chunk.iter().zip(results) {
        let status = field(result, "status");
        let index = result.get("index").and_then(Value::as_u64).unwrap_or(0);
        if status == "rejected" || status.is_empty() {
            let code = result
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("rejected")
                .to_string();
            *tally.rejected.entry(code.clone()).or_default() += 1;
            tally.rejects.push(Rejected {
                line: row.line,
                id: row.id.clone(),
                code,
                detail: field(result, "detail"),
                cells: row.cells.clone(),
            });
        } else {
            let counts = tally.booked.entry(status).or_default();
            if index > 0 && index <= before {
                counts.1 += 1;
            } else {
                counts.0 += 1;
            }
        }
    }
    Ok(())
}

/// `transfers.csv` → `transfers.rejected.csv`, beside it.
fn default_rejects_path(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    file.with_file_name(format!("{stem}.rejected.csv"))
}

/// Writes the rejected rows as CSV: where, which id, why, and the row as given.
fn write_rejects(path: &Path, rejects: &[Rejected]) -> anyhow::Result<()> {
    let mut writer =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut header = vec!["line", "id", "code", "detail"];
    header.extend(rows::COLUMNS.iter().skip(1));
    writer.write_record(&header)?;
    for rejected in rejects {
        let mut record = vec![
            rejected.line.to_string(),
            rejected.id.clone(),
            rejected.code.clone(),
            rejected.detail.clone(),
        ];
        record.extend(
            rows::COLUMNS
                .iter()
                .skip(1)
                .map(|name| rejected.cells.get(*name).cloned().unwrap_or_default()),
        );
        writer.write_record(&record)?;
    }
    writer
        .flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The summary: rows by outcome, rejections by code, where the rejects went.
fn summary_view(
    file: &Path,
    tally: &Tally,
    rejects: Option<&Path>,
    stopped: Option<String>,
) -> View {
    let booked = |status: &str| tally.booked.get(status).copied().unwrap_or((0, 0));
    let json = json!({
        "file": file.display().to_string(),
        "rows": tally.rows,
        "batches": tally.batches,
        "posted": booked("posted").0 + booked("posted").1,
        "pending": booked("pending").0 + booked("pending").1,
        "voided": booked("voided").0 + booked("voided").1,
        "booked_before_this_run": {
            "posted": booked("posted").1, "pending": booked("pending").1, "voided": booked("voided").1,
        },
        "rejected": tally.rejected,
        "unconfirmed": tally.unconfirmed,
        "rejects_file": rejects.map(|path| path.display().to_string()),
        "stopped": stopped,
    });
    summary(json)
}

/// The summary view of a summary's JSON (pure, so it is snapshot-tested).
fn summary(json: Value) -> View {
    let count = |key: &str| json.get(key).and_then(Value::as_u64).unwrap_or(0);
    let mut blocks = vec![
        Block::Line(format!(
            "Import of {}: {} rows, {} batch(es) answered.",
            field(&json, "file"),
            count("rows"),
            count("batches")
        )),
        Block::Table {
            caption: None,
            listing: summary_listing(&json),
        },
    ];
    if let Some(path) = json["rejects_file"].as_str() {
        blocks.push(Block::Line(format!(
            "Rejected rows were written to {path}."
        )));
    }
    blocks.push(Block::Line(
        "Rows are identified by their ids: running the same import again books nothing twice."
            .to_string(),
    ));
    View::new(json, blocks)
}

/// Rows by outcome, rejections by code.
fn summary_listing(json: &Value) -> Listing {
    let count = |key: &str| json.get(key).and_then(Value::as_u64).unwrap_or(0);
    let before = |key: &str| {
        json["booked_before_this_run"]
            .get(key)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let mut listing = Listing::new(&[
        ("OUTCOME", Align::Left),
        ("ROWS", Align::Right),
        ("BOOKED BEFORE THIS RUN", Align::Right),
    ]);
    for (label, key) in [
        ("posted", "posted"),
        ("pending approval", "pending"),
        ("voided", "voided"),
    ] {
        if key == "posted" || count(key) > 0 {
            listing.push(vec![
                label.to_string(),
                count(key).to_string(),
                before(key).to_string(),
            ]);
        }
    }
    let rejected: BTreeMap<String, u64> = json["rejected"]
        .as_object()
        .map(|codes| {
            codes
                .iter()
                .map(|(code, n)| (code.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let total_rejected: u64 = rejected.values().sum();
    listing.push(vec![
        "rejected".to_string(),
        total_rejected.to_string(),
        String::new(),
    ]);
    for (code, n) in &rejected {
        listing.push(vec![format!("  {code}"), n.to_string(), String::new()]);
    }
    if count("unconfirmed") > 0 {
        let unconfirmed = count("unconfirmed").to_string();
        listing.push(vec![
            "not confirmed (re-run)".to_string(),
            unconfirmed,
            String::new(),
        ]);
    }
    listing.push(vec![
        "total".to_string(),
        count("rows").to_string(),
        String::new(),
    ]);
    listing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    #[test]
    fn summary_of_a_resumed_import_with_rejections() {
        let json = json!({
            "file": "transfers.csv", "rows": 2000, "batches": 4, "posted": 1990, "pending": 5, "voided": 0,
            "booked_before_this_run": {"posted": 1200, "pending": 2, "voided": 0},
            "rejected": {"insufficient_funds": 3, "account_not_found": 2}, "unconfirmed": 0,
            "rejects_file": "transfers.rejected.csv", "stopped": null,
        });
        insta::assert_snapshot!(table(&summary(json)));
    }

    #[test]
    fn rejects_file_name_sits_beside_the_input() {
        assert_eq!(
            default_rejects_path(Path::new("in/day-1.csv")),
            PathBuf::from("in/day-1.rejected.csv")
        );
        assert_eq!(
            default_rejects_path(Path::new("day.jsonl")),
            PathBuf::from("day.rejected.csv")
        );
    }

    #[test]
    fn known_ids_count_as_booked_before_this_run() {
        let row = |line: u64, id: &str| Row {
            line,
            id: id.into(),
            cells: BTreeMap::new(),
            transfer: json!({}),
        };
        let chunk = [row(2, "a"), row(3, "b"), row(4, "c")];
        let answer = json!({"results": [
            {"id": "a", "status": "posted", "index": 10},
            {"id": "b", "status": "posted", "index": 25},
            {"id": "c", "status": "rejected", "code": "insufficient_funds", "detail": "x", "index": 25},
        ]});
        let mut tally = Tally::default();
        count_results(&chunk, &answer, 20, &mut tally).expect("counts");
        assert_eq!(tally.booked["posted"], (1, 1));
        assert_eq!(tally.rejected["insufficient_funds"], 1);
        assert_eq!(tally.rejects[0].line, 4);
    }
}
