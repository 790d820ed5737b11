//! CSV statements, read through a column mapping per source.
//!
//! Banks' CSV exports differ in every detail, so a [`CsvMapping`] names the
//! columns (by header) and the date and decimal conventions of one source.
//! The balances come from a running-balance column, or are given with the
//! file when the export has none.

use serde::{Deserialize, Serialize};

use super::statement::{
    ImportError, ParsedStatement, StatementBalance, StatementFormat, StatementLine, parse_decimal,
};
use crate::amount::Amount;
use crate::currency::Currency;
use crate::journal_entry::Side;
use crate::time::Date;

/// How a source writes its dates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// `2026-11-22`.
    #[default]
    Iso,
    /// `20261122`.
    Compact,
    /// `22.11.2026`.
    DayMonthYear,
    /// `11/22/2026`.
    MonthDayYear,
}

impl DateFormat {
    fn parse(self, text: &str) -> Option<Date> {
        let text = text.trim();
        let number = |s: &str| -> Option<u32> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
        };
        let (year, month, day) = match self {
            DateFormat::Iso => return Date::parse(text).ok(),
            DateFormat::Compact if text.len() == 8 => (
                number(text.get(..4)?)?,
                number(text.get(4..6)?)?,
                number(text.get(6..)?)?,
            ),
            DateFormat::DayMonthYear => {
                let mut parts = text.split('.');
                let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
                (number(y)?, number(m)?, number(d)?)
            }
            DateFormat::MonthDayYear => {
                let mut parts = text.split('/');
                let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
                (number(y)?, number(m)?, number(d)?)
            }
            DateFormat::Compact => return None,
        };
        if year < 1000 {
            return None;
        }
        Date::from_ymd(i64::from(year), month, day)
    }
}

/// Which column holds what, by header name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvMapping {
    /// The field delimiter (`,` when absent).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// The decimal separator (`.` when absent); the other of `.` and `,` is
    /// taken as a thousands separator and dropped.
    #[serde(default)]
    pub decimal_separator: Option<char>,
    /// How dates are written.
    #[serde(default)]
    pub date_format: DateFormat,
    /// The booking date column.
    pub booking_date: String,
    /// The value date column (the booking date when absent).
    #[serde(default)]
    pub value_date: Option<String>,
    /// One signed amount column: negative is a debit.
    #[serde(default)]
    pub amount: Option<String>,
    /// Or two columns: debits and credits, each positive, one of them empty.
    #[serde(default)]
    pub debit: Option<String>,
    /// The credit column that goes with `debit`.
    #[serde(default)]
    pub credit: Option<String>,
    /// The reference column.
    #[serde(default)]
    pub reference: Option<String>,
    /// The servicer's reference column.
    #[serde(default)]
    pub bank_reference: Option<String>,
    /// The description column.
    #[serde(default)]
    pub description: Option<String>,
    /// The running balance after each line.
    #[serde(default)]
    pub balance: Option<String>,
}

/// A CSV file's context: its mapping and what the file itself does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSource {
    /// The source's column mapping.
    pub mapping: CsvMapping,
    /// The statement currency.
    pub currency: Currency,
    /// The statement reference.
    pub reference: String,
    /// The account as the source names it.
    pub external_account: String,
    /// The opening balance, when the file has no balance column.
    pub opening: Option<Amount>,
    /// The closing balance, when the file has no balance column.
    pub closing: Option<Amount>,
}

/// The column indexes of a mapping in one file's header.
struct Columns {
    booking_date: usize,
    value_date: Option<usize>,
    amount: Option<usize>,
    debit_credit: Option<(usize, usize)>,
    reference: Option<usize>,
    bank_reference: Option<usize>,
    description: Option<usize>,
    balance: Option<usize>,
}

impl Columns {
    fn find(mapping: &CsvMapping, header: &csv::StringRecord) -> Result<Columns, ImportError> {
        let find = |name: &String| -> Result<usize, ImportError> {
            header
                .iter()
                .position(|column| column.trim() == name)
                .ok_or_else(|| {
                    ImportError::at_line(1, format!("the header has no column {name:?}"))
                })
        };
        let optional = |name: &Option<String>| name.as_ref().map(find).transpose();
        let debit_credit = match (&mapping.debit, &mapping.credit) {
            (Some(debit), Some(credit)) => Some((find(debit)?, find(credit)?)),
            (None, None) => None,
            _ => {
                return Err(ImportError::mapping(
                    "the mapping names a debit column without a credit column, or the reverse",
                ));
            }
        };
        let amount = optional(&mapping.amount)?;
        if amount.is_some() == debit_credit.is_some() {
            return Err(ImportError::mapping(
                "the mapping must name either an amount column or debit and credit columns",
            ));
        }
        Ok(Columns {
            booking_date: find(&mapping.booking_date)?,
            value_date: optional(&mapping.value_date)?,
            amount,
            debit_credit,
            reference: optional(&mapping.reference)?,
            bank_reference: optional(&mapping.bank_reference)?,
            description: optional(&mapping.description)?,
            balance: optional(&mapping.balance)?,
        })
    }
}

/// Parses a CSV statement through its source's mapping.
pub(crate) fn parse(bytes: &[u8], source: &CsvSource) -> Result<ParsedStatement, ImportError> {
    let mapping = &source.mapping;
    let delimiter = mapping.delimiter.unwrap_or(',');
    let delimiter = u8::try_from(delimiter)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| {
            ImportError::mapping(format!(
                "the delimiter {delimiter:?} is not an ASCII character"
            ))
        })?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|error| ImportError::at_line(1, error.to_string()))?
        .clone();
    let columns = Columns::find(mapping, &header)?;
    let currency = source.currency;
    let decimal = mapping.decimal_separator.unwrap_or('.');
    let amount_of = |text: &str, line: usize| -> Result<Amount, ImportError> {
        let thousands = if decimal == ',' { '.' } else { ',' };
        let cleaned: String = text
            .chars()
            .filter(|c| *c != thousands && *c != ' ')
            .collect();
        parse_decimal(&cleaned, currency).map_err(|reason| ImportError::at_line(line, reason))
    };
    let mut lines = Vec::new();
    let mut balances: Vec<(Amount, usize)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            let line = error.position().map_or(0, |p| p.line() as usize);
            ImportError::at_line(line, error.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cell = |index: usize| record.get(index).unwrap_or_default().trim();
        let text = |index: Option<usize>| {
            index
                .map(cell)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let date = |index: usize| {
            mapping.date_format.parse(cell(index)).ok_or_else(|| {
                ImportError::at_line(
                    line,
                    format!("{:?} is not a {:?} date", cell(index), mapping.date_format),
                )
            })
        };
        let signed = match (columns.amount, columns.debit_credit) {
            (Some(amount), _) => amount_of(cell(amount), line)?,
            (None, Some((debit, credit))) => match (cell(debit), cell(credit)) {
                (debit, "") if !debit.is_empty() => amount_of(debit, line)?.negated(),
                ("", credit) if !credit.is_empty() => amount_of(credit, line)?,
                _ => {
                    return Err(ImportError::at_line(
                        line,
                        "exactly one of the debit and credit columns must hold an amount",
                    ));
                }
            },
            (None, None) => unreachable!("Columns::find requires one amount form"),
        };
        if signed.is_zero() {
            return Err(ImportError::at_line(
                line,
                "a line's amount must not be zero",
            ));
        }
        let booking_date = date(columns.booking_date)?;
        lines.push(StatementLine {
            amount: if signed.is_positive() {
                signed
            } else {
                signed.negated()
            },
            side: if signed.is_positive() {
                Side::Credit
            } else {
                Side::Debit
            },
            booking_date,
            value_date: columns
                .value_date
                .map(date)
                .transpose()?
                .unwrap_or(booking_date),
            reference: text(columns.reference),
            bank_reference: text(columns.bank_reference),
            description: text(columns.description),
        });
        if let Some(balance) = columns.balance {
            balances.push((amount_of(cell(balance), line)?, line));
        }
    }
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return Err(ImportError::at_line(1, "the file holds no lines"));
    };
    let (opening, closing) = match (columns.balance, source.opening, source.closing) {
        (Some(_), _, _) => {
            let opening = balances[0].0 - first.signed();
            // Each running balance must follow from the one before.
            let mut running = opening;
            for (line, (balance, number)) in lines.iter().zip(&balances) {
                running += line.signed();
                if running != *balance {
                    return Err(ImportError::at_line(
                        *number,
                        format!(
                            "the running balance {} does not follow from the line before ({})",
                            balance.to_decimal_string(currency),
                            running.to_decimal_string(currency)
                        ),
                    ));
                }
            }
            (opening, running)
        }
        (None, Some(opening), Some(closing)) => (opening, closing),
        (None, _, _) => {
            return Err(ImportError::mapping(
                "without a balance column, the opening and closing balances must be given",
            ));
        }
    };
    Ok(ParsedStatement {
        format: StatementFormat::Csv,
        reference: source.reference.clone(),
        sequence: None,
        external_account: source.external_account.clone(),
        currency,
        opening: StatementBalance {
            amount: opening,
            date: first.booking_date,
        },
        closing: StatementBalance {
            amount: closing,
            date: last.booking_date,
        },
        lines,
    })
}
