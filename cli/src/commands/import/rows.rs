//! Reading an import file: CSV with a header row, or JSON Lines, one transfer
//! per row. Every row is checked before anything is sent, with the ledger's
//! own rules for ids, currencies and amounts, and every problem names its
//! file line.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde_json::{Map, Value};

use crate::amounts;

/// The columns (CSV) or fields (JSON Lines) a row may have.
pub const COLUMNS: [&str; 10] = [
    "id",
    "debit_account",
    "credit_account",
    "amount",
    "currency",
    "pending",
    "timeout_seconds",
    "memo",
    "reference",
    "value_date",
];

/// The columns every row must have.
pub const REQUIRED: [&str; 5] = [
    "id",
    "debit_account",
    "credit_account",
    "amount",
    "currency",
];

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row naming the columns.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format a file name suggests.
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// A row that passed every check, ready to send.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its line in the file (1-based).
    pub line: u64,
    /// The transfer's id.
    pub id: String,
    /// The cells as given, for the rejects file.
    pub cells: BTreeMap<String, String>,
    /// The transfer as the API takes it.
    pub transfer: Value,
}

/// A row that failed a check.
#[derive(Debug, Clone)]
pub struct BadRow {
    /// Its line in the file (1-based).
    pub line: u64,
    /// Which check failed, in the API's words (`amount_precision`, ...).
    pub code: String,
    /// What is wrong, for a person.
    pub detail: String,
    /// The cells as given, as far as they could be read.
    pub cells: BTreeMap<String, String>,
}

/// The file could not be used at all (no rows can be trusted).
#[derive(Debug, Clone)]
pub struct FileError {
    /// The line at fault.
    pub line: u64,
    /// What is wrong.
    pub detail: String,
}

/// Everything read from a file.
#[derive(Debug, Default)]
pub struct Rows {
    /// Rows that passed, in file order.
    pub good: Vec<Row>,
    /// Rows that failed, in file order.
    pub bad: Vec<BadRow>,
}

/// Reads and checks every row of `path`.
pub fn read(path: &Path, format: Format) -> anyhow::Result<Result<Rows, FileError>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(match format {
        Format::Csv => read_csv(&text),
        Format::Jsonl => Ok(read_jsonl(&text)),
    })
}

/// Reads CSV: the header must name known columns, each once, and all the
/// required ones.
pub fn read_csv(bytes: &[u8]) -> Result<Rows, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|error| FileError {
            line: 1,
            detail: format!("cannot read the header row: {error}"),
        })?
        .iter()
        .map(|name| name.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    check_headers(&headers)?;
    let mut rows = Rows::default();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line_before = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line_before, csv::Position::line);
                if record.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                let cells: BTreeMap<String, String> = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, cell)| !cell.trim().is_empty())
                    .map(|(name, cell)| (name.clone(), cell.trim().to_string()))
                    .collect();
                let fields: Map<String, Value> = cells
                    .iter()
                    .map(|(name, cell)| (name.clone(), Value::String(cell.clone())))
                    .collect();
                rows.add(check_row(line, cells, &fields), &mut seen);
            }
            Err(error) => {
                let line = error
                    .position()
                    .map_or(line_before + 1, csv::Position::line);
                let detail = match error.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("malformed row: {len} fields where the header has {expected_len}")
                    }
                    _ => format!("malformed row: {error}"),
                };
                rows.bad.push(BadRow {
                    line,
                    code: "malformed_row".into(),
                    detail,
                    cells: BTreeMap::new(),
                });
            }
        }
    }
    Ok(rows)
}

fn check_headers(headers: &[String]) -> Result<(), FileError> {
    let mut seen: Vec<&str> = Vec::new();
    for name in headers {
        if !COLUMNS.contains(&name.as_str()) {
            return Err(FileError {
                line: 1,
                detail: format!(
                    "unknown column {name:?} (known columns: {})",
                    COLUMNS.join(", ")
                ),
            });
        }
        if seen.contains(&name.as_str()) {
            return Err(FileError {
                line: 1,
                detail: format!("column {name:?} appears twice"),
            });
        }
        seen.push(name);
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| !seen.contains(name))
        .collect();
    if !missing.is_empty() {
        return Err(FileError {
            line: 1,
            detail: format!("missing column(s): {}", missing.join(", ")),
        });
    }
    Ok(())
}

/// Reads JSON Lines: one object per line with known fields; blank lines are skipped.
pub fn read_jsonl(bytes: &[u8]) -> Rows {
    let mut rows = Rows::default();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (at, line_bytes) in bytes.split(|byte| *byte == b'\n').enumerate() {
        let line = at as u64 + 1;
        let bad = |detail: String| BadRow {
            line,
            code: "malformed_row".into(),
            detail,
            cells: BTreeMap::new(),
        };
        let Ok(text) = std::str::from_utf8(line_bytes) else {
            rows.bad.push(bad("malformed row: not UTF-8".into()));
            continue;
        };
        let text = text.trim().trim_start_matches('\u{feff}');
        if text.is_empty() {
            continue;
        }
        let fields = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => {
                rows.bad
                    .push(bad("malformed row: not a JSON object".into()));
                continue;
            }
            Err(error) => {
                rows.bad.push(bad(format!("malformed row: {error}")));
                continue;
            }
        };
        let cells: BTreeMap<String, String> = fields
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_string),
                )
            })
            .collect();
        rows.add(check_row(line, cells, &fields), &mut seen);
    }
    rows
}

impl Rows {
    /// Adds a checked row, refusing an id that an earlier row already has.
    fn add(&mut self, checked: Result<Row, BadRow>, seen: &mut BTreeMap<String, u64>) {
        match checked {
            Ok(row) => match seen.get(&row.id) {
                Some(first) => self.bad.push(BadRow {
                    line: row.line,
                    code: "duplicate_id".into(),
                    detail: format!("id {:?} is already used on line {first}", row.id),
                    cells: row.cells,
                }),
                None => {
                    seen.insert(row.id.clone(), row.line);
                    self.good.push(row);
                }
            },
            Err(bad) => self.bad.push(bad),
        }
    }
}

/// Why a row failed: the code in the API's words, and the detail.
type RowProblem = (&'static str, String);

/// Checks one row's fields and builds the transfer to send.
fn check_row(
    line: u64,
    cells: BTreeMap<String, String>,
    fields: &Map<String, Value>,
) -> Result<Row, BadRow> {
    match transfer(fields) {
        Ok((id, transfer)) => Ok(Row {
            line,
            id,
            cells,
            transfer,
        }),
        Err((code, detail)) => Err(BadRow {
            line,
            code: code.into(),
            detail,
            cells,
        }),
    }
}

/// The transfer a row describes, with its id, after the ledger's checks of
/// ids, currency and amount.
fn transfer(fields: &Map<String, Value>) -> Result<(String, Value), RowProblem> {
    if let Some(unknown) = fields.keys().find(|name| !COLUMNS.contains(&name.as_str())) {
        let known = COLUMNS.join(", ");
        return Err((
            "unknown_field",
            format!("unknown field {unknown:?} (known fields: {known})"),
        ));
    }
    let mut transfer = Map::new();
    for name in REQUIRED {
        let value =
            text(fields, name)?.ok_or_else(|| ("missing_field", format!("{name} is missing")))?;
        transfer.insert(name.to_string(), Value::String(value));
    }
    let get = |name: &str| transfer[name].as_str().unwrap_or_default().to_string();
    let id = get("id");
    ledger::EntryId::new(id.as_str())
        .map_err(|error| ("invalid_id", format!("id {id:?}: {error}")))?;
    for name in ["debit_account", "credit_account"] {
        let account = get(name);
        ledger::AccountId::new(account.as_str())
            .map_err(|error| ("invalid_id", format!("{name} {account:?}: {error}")))?;
    }
    amounts::check_positive(&get("amount"), &get("currency")).map_err(|problem| {
        let column = if problem.code == "unknown_currency" {
            "currency"
        } else {
            "amount"
        };
        (problem.code, format!("{column}: {}", problem.detail))
    })?;
    optional_fields(fields, &mut transfer)?;
    Ok((id, Value::Object(transfer)))
}

/// Checks the optional fields and adds those given to `transfer`.
fn optional_fields(
    fields: &Map<String, Value>,
    transfer: &mut Map<String, Value>,
) -> Result<(), RowProblem> {
    for name in ["memo", "reference"] {
        if let Some(value) = text(fields, name)? {
            transfer.insert(name.to_string(), Value::String(value));
        }
    }
    if let Some(date) = text(fields, "value_date")? {
        ledger::Date::parse(&date)
            .map_err(|error| ("invalid_date", format!("value_date {date:?}: {error}")))?;
        transfer.insert("value_date".into(), Value::String(date));
    }
    if let Some(pending) =
        flag(fields.get("pending")).map_err(|detail| ("invalid_field", detail))?
    {
        transfer.insert("pending".into(), Value::Bool(pending));
    }
    let timeout =
        seconds(fields.get("timeout_seconds")).map_err(|detail| ("invalid_field", detail))?;
    if let Some(seconds) = timeout {
        transfer.insert("timeout_seconds".into(), Value::from(seconds));
    }
    Ok(())
}

/// A text field: absent, blank or null is `None`; a non-string is a problem
/// (an amount above all: a JSON number could have been a float).
fn text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, RowProblem> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
        Some(other) if name == "amount" => Err((
            "invalid_amount",
            format!("amount must be a decimal string like \"1250.00\", not {other}"),
        )),
        Some(other) => Err((
            "invalid_field",
            format!("{name} must be a string, not {other}"),
        )),
    }
}

fn flag(value: Option<&Value>) -> Result<Option<bool>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "yes" | "1" => Ok(Some(true)),
            "false" | "no" | "0" => Ok(Some(false)),
            other => Err(format!("pending must be true or false, not {other:?}")),
        },
        Some(other) => Err(format!("pending must be true or false, not {other}")),
    }
}

fn seconds(value: Option<&Value>) -> Result<Option<u64>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("timeout_seconds must be a whole number, not {number}")),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("timeout_seconds must be a whole number, not {text:?}")),
        Some(other) => Err(format!(
            "timeout_seconds must be a whole number, not {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,debit_account,credit_account,amount,currency,memo\n";

    fn csv(body: &str) -> Rows {
        read_csv(format!("{HEADER}{body}").as_bytes()).expect("header is fine")
    }

    #[test]
    fn good_csv_rows_become_transfers() {
        let rows = csv("t-1,SH01-A,BJ01-A,1250.5,CNY,rent\nt-2,SH01-A,BJ01-A,3,JPY,\n");
        assert!(rows.bad.is_empty(), "{:?}", rows.bad);
        assert_eq!(rows.good.len(), 2);
        assert_eq!(rows.good[0].line, 2);
        assert_eq!(rows.good[0].transfer["amount"], "1250.5");
        assert_eq!(rows.good[0].transfer["memo"], "rent");
        assert!(
            rows.good[1].transfer.get("memo").is_none(),
            "an empty cell is no field"
        );
    }

    #[test]
    fn too_many_decimals_names_its_line() {
        let rows = csv("t-1,SH01-A,BJ01-A,1.00,CNY,\nt-2,SH01-A,BJ01-A,1.001,CNY,\n");
        assert_eq!(rows.good.len(), 1);
        assert_eq!(rows.bad[0].line, 3);
        assert_eq!(rows.bad[0].code, "amount_precision");
        assert!(
            rows.bad[0].detail.contains("decimals"),
            "{}",
            rows.bad[0].detail
        );
    }

    #[test]
    fn a_malformed_csv_row_names_its_line_and_the_rest_are_read() {
        let rows =
            csv("t-1,SH01-A,BJ01-A,1.00,CNY,\nt-2,SH01-A,1.00\nt-3,SH01-A,BJ01-A,2.00,CNY,\n");
        assert_eq!(
            rows.good
                .iter()
                .map(|row| row.id.as_str())
                .collect::<Vec<_>>(),
            ["t-1", "t-3"]
        );
        assert_eq!(rows.bad.len(), 1);
        assert_eq!(
            (rows.bad[0].line, rows.bad[0].code.as_str()),
            (3, "malformed_row")
        );
    }

    #[test]
    fn an_unknown_column_refuses_the_whole_file() {
        let error = read_csv(b"id,debit_account,credit_account,amount,currency,amt\n")
            .expect_err("unknown column");
        assert_eq!(error.line, 1);
        assert!(error.detail.contains("\"amt\""), "{}", error.detail);
        let missing = read_csv(b"id,debit_account,amount,currency\n").expect_err("missing column");
        assert!(
            missing.detail.contains("credit_account"),
            "{}",
            missing.detail
        );
    }

    #[test]
    fn bad_cells_get_the_api_codes() {
        let rows = csv(concat!(
            "bad id!,SH01-A,BJ01-A,1.00,CNY,\n",
            "t-2,SH01-A,BJ01-A,1.00,XYZ,\n",
            "t-3,SH01-A,BJ01-A,-1,CNY,\n",
            "t-4,SH01-A,BJ01-A,1e3,CNY,\n",
            "t-5,SH01-A,BJ01-A,,CNY,\n",
            "t-6,SH01-A,BJ01-A,1.00,CNY,\n",
            "t-6,SH01-A,BJ01-A,1.00,CNY,\n",
        ));
        let codes: Vec<(u64, &str)> = rows
            .bad
            .iter()
            .map(|bad| (bad.line, bad.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                (2, "invalid_id"),
                (3, "unknown_currency"),
                (4, "amount_not_positive"),
                (5, "invalid_amount"),
                (6, "missing_field"),
                (8, "duplicate_id")
            ]
        );
    }

    #[test]
    fn json_lines_take_strings_for_amounts_and_refuse_unknown_fields() {
        let text = concat!(
            "{\"id\":\"t-1\",\"debit_account\":\"A\",\"credit_account\":\"B\",\"amount\":\"5.00\",\"currency\":\"CNY\",\"pending\":true}\n",
            "\n",
            "{\"id\":\"t-2\",\"debit_account\":\"A\",\"credit_account\":\"B\",\"amount\":5.1,\"currency\":\"CNY\"}\n",
            "{\"id\":\"t-3\",\"debit_account\":\"A\",\"credit_account\":\"B\",\"amount\":\"5\",\"currency\":\"CNY\",\"colour\":\"red\"}\n",
            "{\"id\":\"t-4\",\n",
        );
        let rows = read_jsonl(text.as_bytes());
        assert_eq!(rows.good.len(), 1);
        assert_eq!(rows.good[0].transfer["pending"], true);
        let codes: Vec<(u64, &str)> = rows
            .bad
            .iter()
            .map(|bad| (bad.line, bad.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                (3, "invalid_amount"),
                (4, "unknown_field"),
                (5, "malformed_row")
            ]
        );
    }

    #[test]
    fn formats_follow_the_file_name() {
        assert_eq!(Format::of(Path::new("a/transfers.CSV")), Some(Format::Csv));
        assert_eq!(Format::of(Path::new("t.jsonl")), Some(Format::Jsonl));
        assert_eq!(Format::of(Path::new("t.txt")), None);
    }
}
