//! External statements as the importers read them: balances, lines, and the
//! check that the opening balance plus the lines gives the closing balance.
//!
//! Every amount is an exact [`Amount`] in the statement currency's minor
//! units. Balances are signed as the statement shows them: credit (in the
//! account holder's favour) positive, debit negative. A line's amount is
//! positive and its [`Side`] says which way it moved the balance.

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, AmountError};
use crate::currency::Currency;
use crate::journal_entry::Side;
use crate::time::Date;

/// The file formats the importers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementFormat {
    /// ISO 20022 camt.053.001.02.
    Camt053V02,
    /// ISO 20022 camt.053.001.08.
    Camt053V08,
    /// SWIFT MT940 (customer statement).
    Mt940,
    /// SWIFT MT950 (statement message between banks).
    Mt950,
    /// Comma-separated values with a column mapping.
    Csv,
}

impl StatementFormat {
    /// The format's snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            StatementFormat::Camt053V02 => "camt053_v02",
            StatementFormat::Camt053V08 => "camt053_v08",
            StatementFormat::Mt940 => "mt940",
            StatementFormat::Mt950 => "mt950",
            StatementFormat::Csv => "csv",
        }
    }
}

/// A balance as the statement states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementBalance {
    /// Signed: credit positive, debit negative.
    pub amount: Amount,
    /// The day the balance is stated for.
    pub date: Date,
}

/// One booked line of an external statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// Positive amount in the statement currency.
    pub amount: Amount,
    /// Credit (in the account holder's favour) or debit, as the statement shows it.
    pub side: Side,
    /// The day the servicer booked the line.
    pub booking_date: Date,
    /// The value date (起息日).
    pub value_date: Date,
    /// The payer's or our own reference (end-to-end id, MT940 customer reference).
    pub reference: Option<String>,
    /// The account servicer's reference.
    pub bank_reference: Option<String>,
    /// Free text (remittance information, `:86:` details).
    pub description: Option<String>,
}

impl StatementLine {
    /// The line's effect on the balance: positive for a credit.
    pub fn signed(&self) -> Amount {
        match self.side {
            Side::Credit => self.amount,
            Side::Debit => self.amount.negated(),
        }
    }
}

/// A statement as read from a file, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedStatement {
    /// The format it was read from.
    pub format: StatementFormat,
    /// The servicer's statement reference (camt `Stmt/Id`, MT940 `:20:`).
    pub reference: String,
    /// The statement's sequence number (camt `ElctrncSeqNb`, MT940 `:28C:`).
    pub sequence: Option<String>,
    /// The account as the servicer names it (IBAN, `:25:`).
    pub external_account: String,
    /// The statement currency.
    pub currency: Currency,
    /// The opening balance.
    pub opening: StatementBalance,
    /// The closing balance.
    pub closing: StatementBalance,
    /// The lines, in statement order.
    pub lines: Vec<StatementLine>,
}

/// Where in a file a fault is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultLocation {
    /// A 1-based line of a text file (MT940, MT950, CSV).
    Line(usize),
    /// An XML path such as `/Document/BkToCstmrStmt/Stmt[1]/Bal[2]/Amt`, with its line.
    XmlPath {
        /// The path, 1-based indexes in brackets.
        path: String,
        /// The 1-based line of the element, when known.
        line: Option<u32>,
    },
}

impl std::fmt::Display for FaultLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultLocation::Line(line) => write!(f, "line {line}"),
            FaultLocation::XmlPath {
                path,
                line: Some(line),
            } => write!(f, "{path} (line {line})"),
            FaultLocation::XmlPath { path, line: None } => f.write_str(path),
        }
    }
}

/// Why a file was not imported. Nothing of a refused file is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ImportError {
    /// The file is not a well-formed statement of its format.
    #[error("malformed statement at {location}: {reason}")]
    Malformed {
        /// Where the fault is.
        location: FaultLocation,
        /// What is wrong.
        reason: String,
    },
    /// A CSV column mapping that cannot read the file.
    #[error("the CSV mapping is invalid: {reason}")]
    InvalidMapping {
        /// What is wrong.
        reason: String,
    },
    /// The opening balance plus the lines is not the closing balance.
    #[error(
        "statement {reference} does not add up: opening {opening} plus lines {lines} is {expected}, but the closing balance is {closing}"
    )]
    Unbalanced {
        /// The statement's reference.
        reference: String,
        /// The opening balance, as a decimal string.
        opening: String,
        /// The net of the lines.
        lines: String,
        /// Opening plus lines.
        expected: String,
        /// The stated closing balance.
        closing: String,
    },
}

impl ImportError {
    /// The stable snake_case code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Malformed { .. } => "statement_malformed",
            ImportError::InvalidMapping { .. } => "csv_mapping_invalid",
            ImportError::Unbalanced { .. } => "statement_unbalanced",
        }
    }

    pub(crate) fn mapping(reason: impl Into<String>) -> ImportError {
        ImportError::InvalidMapping {
            reason: reason.into(),
        }
    }

    pub(crate) fn at_line(line: usize, reason: impl Into<String>) -> ImportError {
        ImportError::Malformed {
            location: FaultLocation::Line(line),
            reason: reason.into(),
        }
    }
}

/// Parses a decimal amount in `currency`, with `,` or `.` as the decimal
/// separator and no thousands separators. Trailing zeros beyond the minor
/// unit are exact; any other extra digit is refused, never rounded.
pub(crate) fn parse_decimal(text: &str, currency: Currency) -> Result<Amount, String> {
    let mut normal = text.trim().replace(',', ".");
    if normal.ends_with('.') {
        normal.pop();
    }
    if normal.starts_with('.') {
        normal.insert(0, '0');
    }
    Amount::parse(&normal, currency).map_err(|error| match error {
        AmountError::NotANumber(_) => format!("{text:?} is not an amount"),
        other => other.to_string(),
    })
}

impl ParsedStatement {
    /// Opening plus the lines, or `None` on overflow.
    pub fn expected_closing(&self) -> Option<Amount> {
        self.lines
            .iter()
            .try_fold(self.opening.amount, |sum, line| {
                sum.checked_add(line.signed())
            })
    }

    /// Refuses a statement whose opening balance plus its lines is not its
    /// closing balance.
    pub fn check_balance(&self) -> Result<(), ImportError> {
        let expected = self.expected_closing();
        if expected == Some(self.closing.amount) {
            return Ok(());
        }
        let print = |amount: Amount| amount.to_decimal_string(self.currency);
        let lines = expected.map(|sum| sum - self.opening.amount);
        Err(ImportError::Unbalanced {
            reference: self.reference.clone(),
            opening: print(self.opening.amount),
            lines: lines.map_or_else(|| "overflow".into(), print),
            expected: expected.map_or_else(|| "overflow".into(), print),
            closing: print(self.closing.amount),
        })
    }
}

/// Reads a file of `format` into its statements, each checked to add up.
/// A file that holds no statement, or any statement that is malformed or
/// does not add up, is refused whole.
pub fn import(
    format: StatementFormat,
    bytes: &[u8],
    csv: Option<&super::csv::CsvSource>,
) -> Result<Vec<ParsedStatement>, ImportError> {
    let statements = match format {
        StatementFormat::Camt053V02 | StatementFormat::Camt053V08 => super::camt::parse(bytes)?,
        StatementFormat::Mt940 | StatementFormat::Mt950 => super::mt940::parse(bytes, format)?,
        StatementFormat::Csv => {
            let source = csv.ok_or_else(|| ImportError::InvalidMapping {
                reason: "a CSV statement needs a column mapping".into(),
            })?;
            vec![super::csv::parse(bytes, source)?]
        }
    };
    for statement in &statements {
        statement.check_balance()?;
    }
    Ok(statements)
}
