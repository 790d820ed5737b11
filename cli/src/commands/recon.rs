//! `clearledger recon` (import external statements, run reconciliations,
//! show a run) and `clearledger breaks` (list, show and resolve breaks).
//!
//! Statement files are read and checked here with the ledger's own importers
//! before anything is sent: a malformed file or one that does not add up is
//! refused with the line or XML path of the fault, and nothing is stored.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ledger::Currency;
use ledger::recon::csv::{CsvMapping, CsvSource};
use ledger::recon::{StatementFormat, import};
use serde_json::{Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, field};

/// Files above this many bytes in all get a progress bar.
const PROGRESS_BYTES_MIN: u64 = 1 << 20;

/// Statement file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// ISO 20022 camt.053 (.001.02 or .001.08).
    Camt053,
    /// SWIFT MT940.
    Mt940,
    /// SWIFT MT950.
    Mt950,
    /// CSV through a column mapping (--mapping).
    Csv,
}

impl FormatArg {
    fn of(path: &std::path::Path) -> Option<FormatArg> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "xml" => Some(FormatArg::Camt053),
            "sta" | "940" | "mt940" => Some(FormatArg::Mt940),
            "950" | "mt950" => Some(FormatArg::Mt950),
            "csv" => Some(FormatArg::Csv),
            _ => None,
        }
    }

    fn format(self) -> StatementFormat {
        match self {
            FormatArg::Camt053 => StatementFormat::Camt053V02,
            FormatArg::Mt940 => StatementFormat::Mt940,
            FormatArg::Mt950 => StatementFormat::Mt950,
            FormatArg::Csv => StatementFormat::Csv,
        }
    }

    fn wire(self) -> (&'static str, &'static str) {
        match self {
            FormatArg::Camt053 => ("camt053", "application/xml"),
            FormatArg::Mt940 => ("mt940", "text/plain"),
            FormatArg::Mt950 => ("mt950", "application/x-mt950"),
            FormatArg::Csv => ("csv", "text/csv"),
        }
    }
}

/// `recon import` flags.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  clearledger --key dev-operator-key-1 recon import --account HQ-NOSTRO-USD statement.xml
  clearledger --key dev-operator-key-1 recon import --account HQ-NOSTRO-USD --mapping bank-x.json \\
      --reference 2026-11-21 bank-x.csv")]
pub struct ImportArgs {
    /// The ledger account the statements state.
    #[arg(long)]
    pub account: String,
    /// The files' format [default: from the extension: .xml camt053, .sta/.940 mt940, .950 mt950, .csv csv].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// CSV: the source's column mapping, a JSON file (see docs/reconciliation.md).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// CSV: the statement reference.
    #[arg(long)]
    pub reference: Option<String>,
    /// CSV: the account as the source names it.
    #[arg(long)]
    pub external_account: Option<String>,
    /// CSV without a balance column: the opening balance.
    #[arg(long, allow_hyphen_values = true)]
    pub opening: Option<String>,
    /// CSV without a balance column: the closing balance.
    #[arg(long, allow_hyphen_values = true)]
    pub closing: Option<String>,
    /// The statement files; each is one request, all or none of its statements.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `recon` commands.
#[derive(Debug, Subcommand)]
pub enum ReconCommand {
    /// Import external statement files (camt.053, MT940, MT950, CSV).
    Import(ImportArgs),
    /// Reconcile an account against an imported statement.
    #[command(
        after_help = "Rules, in priority order (default: reference, amount_date:days=3,
one_to_many:days=3,max_items=5, many_to_one:days=3,max_items=5):
  reference                        reference + amount + direction
  amount_date:days=N               amount + direction, value dates at most N days apart
  tolerance:amount=X,days=N        amounts at most X apart
  one_to_many:days=N,max_items=K   one line = 2..K of our postings [,amount=X]
  many_to_one:days=N,max_items=K   2..K lines = one of our postings [,amount=X]

Example:
  clearledger --key dev-operator-key-1 recon run --account HQ-NOSTRO-USD --statement xs-0123456789abcdef \\
      --rule reference --rule amount_date:days=2 --rule tolerance:amount=0.50,days=1"
    )]
    Run {
        /// The ledger account.
        #[arg(long)]
        account: String,
        /// The imported statement's id (`xs-...`).
        #[arg(long)]
        statement: String,
        /// A matching rule; repeat in priority order.
        #[arg(long = "rule", value_name = "RULE")]
        rules: Vec<String>,
    },
    /// One reconciliation run: its matches, balance check and breaks.
    Show {
        /// The run's id.
        id: u64,
    },
    /// Imported statements.
    Statements {
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
    },
}

/// `breaks` commands.
#[derive(Debug, Subcommand)]
pub enum BreaksCommand {
    /// Breaks with their age (unresolved ones unless --status says otherwise).
    List {
        /// open, awaiting_approval, resolved or all.
        #[arg(long)]
        status: Option<String>,
        /// unmatched_ledger_item, unmatched_external_line, amount_difference, balance_difference,
        /// disputed_statement or overdue_return.
        #[arg(long)]
        kind: Option<String>,
        /// Only this branch's.
        #[arg(long)]
        branch: Option<String>,
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
    },
    /// One break with everything done to it and by whom.
    Show {
        /// The break's id.
        id: u64,
    },
    /// Resolve a break: by explanation, manual match, or adjusting entry.
    #[command(after_help = "Examples:
  clearledger --key dev-operator-key-1 breaks resolve 7 --explain 'timing difference: cheque presented on the 23rd'
  clearledger --key dev-operator-key-1 breaks resolve 8 --match line:xs-0123456789abcdef:4 --match ledger:fee-1121:1
  clearledger --key dev-operator-key-1 breaks resolve 9 --adjust adj-1121 --debit HQ-FEES-USD --credit HQ-NOSTRO-USD \\
      --amount 15.00 --currency USD    # then another operator: approvals approve adj-1121")]
    Resolve(ResolveArgs),
}

/// `breaks resolve` flags.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The break's id.
    pub id: u64,
    /// Record why the difference stands.
    #[arg(long, conflicts_with_all = ["matches", "adjust"])]
    pub explain: Option<String>,
    /// An item of a manual match: `ledger:ENTRY:POSTING` or `line:STATEMENT:LINE`; repeat.
    #[arg(long = "match", value_name = "ITEM", conflicts_with = "adjust")]
    pub matches: Vec<String>,
    /// Propose an adjusting entry with this id (it waits for another operator's approval).
    #[arg(long, value_name = "ENTRY_ID", requires_all = ["debit", "credit", "amount", "currency"])]
    pub adjust: Option<String>,
    /// The adjusting entry's debit account.
    #[arg(long)]
    pub debit: Option<String>,
    /// The adjusting entry's credit account.
    #[arg(long)]
    pub credit: Option<String>,
    /// The adjusting entry's amount.
    #[arg(long)]
    pub amount: Option<String>,
    /// The adjusting entry's currency.
    #[arg(long)]
    pub currency: Option<String>,
    /// The adjusting entry's memo.
    #[arg(long)]
    pub memo: Option<String>,
}

/// Runs a `recon` command.
pub fn run(context: &Context, command: &ReconCommand) -> anyhow::Result<View> {
    match command {
        ReconCommand::Import(args) => import_files(context, args),
        ReconCommand::Run {
            account,
            statement,
            rules,
        } => {
            let rules = rules
                .iter()
                .map(|r| parse_rule(r))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let body =
                json!({ "account": account, "external_statement": statement, "rules": rules });
            let client = context.client()?;
            let value = expect_ok(client.post("/v1/reconciliations", &body, Retry::Write))
                .with_context(|| format!("reconciling {account} against {statement}"))?;
            Ok(run_view(&value))
        }
        ReconCommand::Show { id } => {
            let client = context.client()?;
            let value = expect_ok(client.get(&format!("/v1/reconciliations/{id}"), &[]))
                .with_context(|| format!("reading reconciliation {id}"))?;
            Ok(run_view(&value))
        }
        ReconCommand::Statements { account } => {
            let client = context.client()?;
            let query: Vec<(&str, String)> =
                account.iter().map(|a| ("account", a.clone())).collect();
            let value = expect_ok(client.get("/v1/external-statements", &query))
                .context("listing statements")?;
            Ok(statements_view(&value))
        }
    }
}

/// Runs a `breaks` command.
pub fn run_breaks(context: &Context, command: &BreaksCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        BreaksCommand::List {
            status,
            kind,
            branch,
            account,
        } => {
            let query: Vec<(&str, String)> = [
                ("status", status),
                ("kind", kind),
                ("branch", branch),
                ("account", account),
            ]
            .into_iter()
            .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
            .collect();
            let value = expect_ok(client.get("/v1/breaks", &query)).context("listing breaks")?;
            Ok(breaks_view(&value))
        }
        BreaksCommand::Show { id } => {
            let value = expect_ok(client.get(&format!("/v1/breaks/{id}"), &[]))
                .with_context(|| format!("reading break {id}"))?;
            Ok(break_view(&value))
        }
        BreaksCommand::Resolve(args) => {
            let body = resolution(args)?;
            let value = expect_ok(client.post(
                &format!("/v1/breaks/{}/resolve", args.id),
                &body,
                Retry::Write,
            ))
            .with_context(|| format!("resolving break {}", args.id))?;
            Ok(break_view(&value))
        }
    }
}

fn resolution(args: &ResolveArgs) -> anyhow::Result<Value> {
    if let Some(reason) = &args.explain {
        return Ok(json!({ "by": "explanation", "reason": reason }));
    }
    if !args.matches.is_empty() {
        let items = args
            .matches
            .iter()
            .map(|i| parse_item(i))
            .collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(json!({ "by": "manual_match", "items": items }));
    }
    let (Some(id), Some(debit), Some(credit), Some(amount), Some(currency)) = (
        &args.adjust,
        &args.debit,
        &args.credit,
        &args.amount,
        &args.currency,
    ) else {
        return Err(usage(
            "say how to resolve it: --explain, --match (twice or more), or --adjust with --debit --credit --amount --currency",
        ));
    };
    amounts::check_positive(amount, currency)
        .map_err(|problem| usage(format!("--amount: {problem}")))?;
    Ok(json!({
        "by": "adjusting_entry",
        "entry": {
            "id": id,
            "currency": currency,
            "memo": args.memo,
            "postings": [
                { "account": debit, "side": "debit", "amount": amount },
                { "account": credit, "side": "credit", "amount": amount },
            ],
        },
    }))
}

/// `ledger:ENTRY:POSTING` or `line:STATEMENT:LINE` (ids may hold `:`).
pub fn parse_item(text: &str) -> anyhow::Result<Value> {
    let bad = || {
        usage(format!(
            "{text:?} is not ledger:ENTRY:POSTING or line:STATEMENT:LINE"
        ))
    };
    let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
    let (id, number) = rest.rsplit_once(':').ok_or_else(bad)?;
    let number: u32 = number.parse().map_err(|_| bad())?;
    match kind {
        "ledger" => Ok(json!({ "type": "ledger", "entry": id, "posting": number })),
        "line" => Ok(json!({ "type": "line", "statement": id, "line": number })),
        _ => Err(bad()),
    }
}

/// `NAME` or `NAME:key=value,key=value` as the API's rule object.
pub fn parse_rule(text: &str) -> anyhow::Result<Value> {
    let (name, parameters) = text.split_once(':').unwrap_or((text, ""));
    let mut rule = json!({ "rule": name });
    for parameter in parameters.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = parameter
            .split_once('=')
            .ok_or_else(|| usage(format!("rule {text:?}: {parameter:?} is not key=value")))?;
        rule[key] = match key {
            "days" | "max_items" => json!(
                value
                    .parse::<u32>()
                    .map_err(|_| usage(format!("rule {text:?}: {key} must be a whole number")))?
            ),
            "amount" => json!(value),
            _ => {
                return Err(usage(format!(
                    "rule {text:?}: unknown parameter {key:?} (days, amount, max_items)"
                )));
            }
        };
    }
    Ok(rule)
}

/// Reads and checks every file, then sends each; a progress bar when they
/// are large. A bad file stops everything before anything is sent.
fn import_files(context: &Context, args: &ImportArgs) -> anyhow::Result<View> {
    let mut files = Vec::with_capacity(args.files.len());
    let mut currency: Option<Currency> = None;
    for path in &args.files {
        let format = args.format.or_else(|| FormatArg::of(path)).ok_or_else(|| {
            usage(format!(
                "{}: say --format (camt053, mt940, mt950 or csv)",
                path.display()
            ))
        })?;
        let bytes = std::fs::read(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
        let (name, content_type) = format.wire();
        let mut query = vec![
            ("account", args.account.clone()),
            ("format", name.to_string()),
        ];
        let source = if format == FormatArg::Csv {
            // A CSV file does not say its currency: the account does.
            let currency = match currency {
                Some(currency) => currency,
                None => *currency.insert(account_currency(context, &args.account)?),
            };
            Some(csv_source(args, currency, &mut query)?)
        } else {
            None
        };
        import(format.format(), &bytes, source.as_ref())
            .map_err(|error| usage(format!("{}: {error}; nothing was sent", path.display())))?;
        files.push((path, bytes, query, content_type));
    }
    let client = context.client()?;
    let total: u64 = files
        .iter()
        .map(|(_, bytes, _, _)| bytes.len() as u64)
        .sum();
    let target = if context.quiet || total < PROGRESS_BYTES_MIN {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let progress = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes}  {msg}") {
        progress.set_style(style);
    }
    let mut stored = Vec::new();
    for (path, bytes, query, content_type) in files {
        progress.set_message(path.display().to_string());
        // Importing is idempotent by the statement's identity: safe to retry.
        let value = expect_ok(client.post_raw(
            "/v1/external-statements",
            &query,
            &bytes,
            content_type,
            Retry::Idempotent,
        ))
        .with_context(|| format!("importing {}", path.display()))?;
        match value.get("statements").and_then(Value::as_array) {
            Some(many) => stored.extend(many.iter().cloned()),
            None => stored.push(value),
        }
        progress.inc(bytes.len() as u64);
    }
    progress.finish_and_clear();
    Ok(statements_view(&json!({ "statements": stored })))
}

fn account_currency(context: &Context, account: &str) -> anyhow::Result<Currency> {
    let client = context.client()?;
    let value = expect_ok(client.get(&format!("/v1/accounts/{account}"), &[]))
        .with_context(|| format!("reading account {account}"))?;
    Currency::new(&field(&value, "currency")).map_err(|e| anyhow::anyhow!("account {account}: {e}"))
}

/// The CSV context from the flags; the mapping file goes along as JSON.
fn csv_source(
    args: &ImportArgs,
    currency: Currency,
    query: &mut Vec<(&str, String)>,
) -> anyhow::Result<CsvSource> {
    let path = args
        .mapping
        .as_ref()
        .ok_or_else(|| usage("a CSV statement needs --mapping FILE"))?;
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let mapping: CsvMapping =
        serde_json::from_str(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let reference = args
        .reference
        .clone()
        .ok_or_else(|| usage("a CSV statement needs --reference"))?;
    query.push(("mapping", serde_json::to_string(&mapping)?));
    query.push(("reference", reference.clone()));
    let balance = |flag: &str, text: &Option<String>| -> anyhow::Result<Option<ledger::Amount>> {
        text.as_deref()
            .map(|t| {
                ledger::Amount::parse(t, currency).map_err(|e| usage(format!("--{flag}: {e}")))
            })
            .transpose()
    };
    for (flag, value) in [
        ("opening", &args.opening),
        ("closing", &args.closing),
        ("external_account", &args.external_account),
    ] {
        if let Some(value) = value {
            query.push((flag, value.clone()));
        }
    }
    Ok(CsvSource {
        mapping,
        currency,
        reference,
        external_account: args.external_account.clone().unwrap_or_default(),
        opening: balance("opening", &args.opening)?,
        closing: balance("closing", &args.closing)?,
    })
}

/// Imported statements.
pub fn statements_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("ID", Align::Left),
        ("ACCOUNT", Align::Left),
        ("FORMAT", Align::Left),
        ("REFERENCE", Align::Left),
        ("CLOSING DATE", Align::Left),
        ("CLOSING", Align::Right),
        ("LINES", Align::Right),
    ]);
    for statement in answer["statements"].as_array().into_iter().flatten() {
        let currency = field(statement, "currency");
        listing.push(vec![
            field(statement, "id"),
            field(statement, "account"),
            field(statement, "format"),
            field(statement, "reference"),
            field(&statement["closing"], "date"),
            amounts::display(&field(&statement["closing"], "amount"), &currency),
            field(statement, "line_count"),
        ]);
    }
    View::new(
        answer.clone(),
        vec![Block::Table {
            caption: None,
            listing,
        }],
    )
}

fn item_text(item: &Value) -> String {
    match item["type"].as_str() {
        Some("ledger") => format!("ledger:{}:{}", field(item, "entry"), field(item, "posting")),
        Some("line") => format!("line:{}:{}", field(item, "statement"), field(item, "line")),
        _ => String::new(),
    }
}

fn items_text(items: &Value) -> String {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(item_text)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A run: its balance check, matches and the breaks it raised.
pub fn run_view(run: &Value) -> View {
    let balance = &run["balance"];
    let fields = vec![
        ("reconciliation".to_string(), field(run, "id")),
        ("account".to_string(), field(run, "account")),
        ("statement".to_string(), field(run, "external_statement")),
        ("cutoff".to_string(), field(balance, "cutoff")),
        (
            "ledger balance".to_string(),
            field(balance, "ledger_balance"),
        ),
        (
            "statement balance".to_string(),
            field(balance, "statement_balance"),
        ),
        ("explained".to_string(), field(balance, "explained")),
        ("unexplained".to_string(), field(balance, "unexplained")),
        ("run by".to_string(), field(run, "run_by")),
    ];
    let mut matches = Listing::new(&[
        ("RULE", Align::Left),
        ("LEDGER", Align::Left),
        ("STATEMENT", Align::Left),
        ("DIFFERENCE", Align::Right),
    ]);
    for m in run["matches"].as_array().into_iter().flatten() {
        matches.push(vec![
            field(m, "rule"),
            items_text(&m["ledger"]),
            items_text(&m["external"]),
            field(m, "difference"),
        ]);
    }
    let breaks = breaks_listing(&run["breaks"]);
    let count = |key: &str| run[key].as_array().map_or(0, Vec::len);
    let mut view = View::new(
        run.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: Some(format!("{} matches", count("matches"))),
                listing: matches.clone(),
            },
            Block::Table {
                caption: Some(format!("{} breaks raised", count("breaks"))),
                listing: breaks,
            },
        ],
    );
    // For the file: the matches.
    view.csv = Some(matches);
    view
}

fn breaks_listing(breaks: &Value) -> Listing {
    let mut listing = Listing::new(&[
        ("ID", Align::Left),
        ("KIND", Align::Left),
        ("ACCOUNT", Align::Left),
        ("AMOUNT", Align::Right),
        ("AGE (DAYS)", Align::Right),
        ("STATUS", Align::Left),
        ("ITEM", Align::Left),
    ]);
    for record in breaks.as_array().into_iter().flatten() {
        let item = if record.get("item").is_some() {
            item_text(&record["item"])
        } else if record.get("statement").is_some() {
            field(record, "statement")
        } else {
            format!(
                "run {} match {}",
                field(record, "run"),
                field(record, "match")
            )
        };
        listing.push(vec![
            field(record, "id"),
            field(record, "kind"),
            field(record, "account"),
            amounts::display(&field(record, "amount"), &field(record, "currency")),
            field(record, "age_days"),
            field(record, "status"),
            item,
        ]);
    }
    listing
}

/// `breaks list`.
pub fn breaks_view(answer: &Value) -> View {
    let listing = breaks_listing(&answer["breaks"]);
    let count = answer["breaks"].as_array().map_or(0, Vec::len);
    View::new(
        answer.clone(),
        vec![
            Block::Table {
                caption: None,
                listing,
            },
            Block::Line(format!("{count} breaks as of {}.", field(answer, "as_of"))),
        ],
    )
}

/// One break and its history.
pub fn break_view(record: &Value) -> View {
    let mut fields = vec![
        ("break".to_string(), field(record, "id")),
        ("kind".to_string(), field(record, "kind")),
        ("account".to_string(), field(record, "account")),
        ("branch".to_string(), field(record, "branch")),
        (
            "amount".to_string(),
            format!("{} {}", field(record, "amount"), field(record, "currency")),
        ),
        ("status".to_string(), field(record, "status")),
        ("age (days)".to_string(), field(record, "age_days")),
    ];
    if record.get("item").is_some() {
        fields.push(("item".to_string(), item_text(&record["item"])));
    }
    for (name, label) in [
        ("statement", "statement"),
        ("ledger_balance", "ledger balance"),
        ("statement_balance", "statement balance"),
        ("closing_balance", "our balance"),
        ("stated_balance", "stated balance"),
        ("due", "due"),
    ] {
        if record.get(name).is_some() {
            fields.push((label.to_string(), field(record, name)));
        }
    }
    if let Some(entry) = record.get("adjusting_entry") {
        fields.push((
            "adjusting entry".to_string(),
            entry.as_str().unwrap_or_default().to_string(),
        ));
    }
    if let Some(resolution) = record.get("resolution") {
        fields.push(("resolved by".to_string(), field(resolution, "by")));
    }
    let mut history = Listing::new(&[
        ("AT", Align::Left),
        ("BY", Align::Left),
        ("ACTION", Align::Left),
        ("DETAIL", Align::Left),
    ]);
    for action in record["history"].as_array().into_iter().flatten() {
        history.push(vec![
            field(action, "at"),
            field(action, "by"),
            field(action, "action"),
            field(action, "detail"),
        ]);
    }
    View::new(
        record.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: Some("history".into()),
                listing: history,
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    #[test]
    fn a_disputed_statement_break_shows_both_balances_and_who_raised_it() {
        let record = json!({"id": 4, "kind": "disputed_statement", "account": "SH01-C002",
            "branch": "SH01", "currency": "CNY", "amount": "239.50", "date": "2026-11-22",
            "status": "open", "age_days": 3, "raised_at": "2026-11-23T10:00:00.000000Z",
            "statement": "ST00000002", "closing_balance": "81760.50", "stated_balance": "82000.00",
            "history": [{"action": "raised", "by": "teller-sh01", "at": "2026-11-23T10:00:00.000000Z",
                "index": 70, "detail": "statement ST00000002 disputed"}]});
        let shown = table(&break_view(&record));
        let line = |label: &str| {
            shown
                .lines()
                .find(|l| l.starts_with(label))
                .map(|l| l[label.len()..].trim().to_string())
        };
        assert_eq!(line("kind").as_deref(), Some("disputed_statement"));
        assert_eq!(line("statement").as_deref(), Some("ST00000002"));
        assert_eq!(line("our balance").as_deref(), Some("81760.50"));
        assert_eq!(line("stated balance").as_deref(), Some("82000.00"));
        assert!(shown.contains("teller-sh01"), "{shown}");
        let listed = table(&breaks_view(
            &json!({"breaks": [record], "as_of": "x", "index": 70}),
        ));
        assert!(listed.contains("ST00000002"), "{listed}");
    }

    #[test]
    fn rules_and_items_read_as_the_api_takes_them() {
        assert_eq!(
            parse_rule("reference").unwrap(),
            json!({"rule": "reference"})
        );
        assert_eq!(
            parse_rule("tolerance:amount=0.50,days=2").unwrap(),
            json!({"rule": "tolerance", "amount": "0.50", "days": 2})
        );
        assert_eq!(
            parse_rule("one_to_many:days=1,max_items=4").unwrap(),
            json!({"rule": "one_to_many", "days": 1, "max_items": 4})
        );
        assert!(parse_rule("amount_date:days=two").is_err());
        assert!(parse_rule("amount_date:weeks=2").is_err());
        assert!(parse_rule("amount_date:days").is_err());
        assert_eq!(
            parse_item("ledger:fee:2026:11:1").unwrap(),
            json!({"type": "ledger", "entry": "fee:2026:11", "posting": 1}),
            "entry ids may hold colons"
        );
        assert_eq!(
            parse_item("line:xs-01:4").unwrap(),
            json!({"type": "line", "statement": "xs-01", "line": 4})
        );
        for bad in ["ledger:e1", "line:xs:x", "posting:e1:0", "e1"] {
            assert!(parse_item(bad).is_err(), "{bad}");
        }
    }
}
