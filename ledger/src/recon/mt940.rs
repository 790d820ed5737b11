//! SWIFT MT940 (customer statement) and MT950 (statement between banks).
//!
//! Both are tagged text: `:20:` reference, `:25:` account, `:28C:`
//! sequence, `:60F:`/`:60M:` opening balance, `:61:` lines (each with an
//! optional `:86:` of details in MT940), `:62F:`/`:62M:` closing balance.
//! A file may hold several statements, with or without SWIFT header blocks.
//! Faults are reported with the 1-based line of the field.

use super::statement::{
    ImportError, ParsedStatement, StatementBalance, StatementFormat, StatementLine, parse_decimal,
};
use crate::currency::Currency;
use crate::journal_entry::Side;
use crate::time::Date;

/// One field: its tag, its text (continuation lines joined by `\n`) and the
/// line it starts on.
struct Field {
    tag: String,
    text: String,
    line: usize,
}

/// The tag of a line that starts a field (`:20:`, `:60F:`, `:NS:`).
fn tag_of(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let end = rest.find(':')?;
    let tag = &rest[..end];
    let well_formed = tag == "NS"
        || (tag.len() >= 2
            && tag.len() <= 3
            && tag.as_bytes()[..2].iter().all(u8::is_ascii_digit)
            && tag.as_bytes()[2..].iter().all(u8::is_ascii_uppercase));
    well_formed.then(|| (tag, &rest[end + 1..]))
}

/// Splits the text into fields; `None` marks the end of a message (`-`).
fn fields(text: &str) -> Result<Vec<Option<Field>>, ImportError> {
    let mut out: Vec<Option<Field>> = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let number = number + 1;
        // SWIFT transmissions wrap messages in SOH (0x01) and ETX (0x03).
        let mut line = raw
            .trim_start_matches(['\u{1}', '\u{3}'])
            .trim_end_matches(['\r', ' ', '\u{3}']);
        if line.starts_with('{') {
            // SWIFT header blocks; the text block starts after `{4:`.
            match line.find("{4:") {
                Some(at) => line = &line[at + 3..],
                None => continue,
            }
            if line.is_empty() {
                continue;
            }
        }
        if line == "-" || line == "-}" || line.starts_with("-}") {
            out.push(None);
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some((tag, rest)) = tag_of(line) {
            out.push(Some(Field {
                tag: tag.to_string(),
                text: rest.to_string(),
                line: number,
            }));
            continue;
        }
        match out.last_mut() {
            Some(Some(field)) => {
                field.text.push('\n');
                field.text.push_str(line);
            }
            _ => {
                return Err(ImportError::at_line(
                    number,
                    format!("{line:?} is outside any field"),
                ));
            }
        }
    }
    Ok(out)
}

/// A `YYMMDD` date. A day past the end of its month (banks that count 30-day
/// months write February 30th) is taken as the month's last day.
fn date(text: &str, line: usize) -> Result<Date, ImportError> {
    let digits = text
        .get(..6)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    let digits = digits.ok_or_else(|| {
        ImportError::at_line(line, format!("{text:?} does not start with a YYMMDD date"))
    })?;
    let year: i64 = digits[..2].parse().expect("digits");
    let month: u32 = digits[2..4].parse().expect("digits");
    let day: u32 = digits[4..6].parse().expect("digits");
    let year = if year < 80 { 2000 + year } else { 1900 + year };
    month_day(year, month, day)
        .ok_or_else(|| ImportError::at_line(line, format!("{digits} is not a date")))
}

fn month_day(year: i64, month: u32, day: u32) -> Option<Date> {
    if !(1..=31).contains(&day) {
        return None;
    }
    (1..=day)
        .rev()
        .find_map(|day| Date::from_ymd(year, month, day))
}

fn side(mark: &str, line: usize) -> Result<Side, ImportError> {
    match mark {
        "C" | "RD" => Ok(Side::Credit),
        "D" | "RC" => Ok(Side::Debit),
        other => Err(ImportError::at_line(
            line,
            format!("{other:?} is not a debit/credit mark"),
        )),
    }
}

/// `:60F:`/`:62F:`: mark, date, currency, amount. The currency must be the
/// statement's once one is known.
fn balance(
    field: &Field,
    currency: Option<Currency>,
) -> Result<(StatementBalance, Currency), ImportError> {
    let text = field.text.trim();
    let line = field.line;
    let mark = text.get(..1).unwrap_or_default();
    let side = side(mark, line)?;
    let date = date(&text[1..], line)?;
    let code = text
        .get(7..10)
        .ok_or_else(|| ImportError::at_line(line, "the balance has no currency"))?;
    let stated =
        Currency::new(code).map_err(|error| ImportError::at_line(line, error.to_string()))?;
    if let Some(currency) = currency.filter(|currency| *currency != stated) {
        return Err(ImportError::at_line(
            line,
            format!("currency {stated} differs from the statement's {currency}"),
        ));
    }
    let amount =
        parse_decimal(&text[10..], stated).map_err(|reason| ImportError::at_line(line, reason))?;
    let amount = if side == Side::Credit {
        amount
    } else {
        amount.negated()
    };
    Ok((StatementBalance { amount, date }, stated))
}

/// `:61:` value date, [entry date], mark, [funds code], amount, type,
/// customer reference[//bank reference], then supplementary details.
fn statement_line(field: &Field, currency: Currency) -> Result<StatementLine, ImportError> {
    let line = field.line;
    let (first, details) = field.text.split_once('\n').unwrap_or((&field.text, ""));
    let value_date = date(first, line)?;
    let mut rest = &first[6..];
    let mut booking_date = value_date;
    if rest.len() >= 4 && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        let month: u32 = rest[..2].parse().expect("digits");
        let day: u32 = rest[2..4].parse().expect("digits");
        let (value_year, value_month) = {
            let text = value_date.to_string();
            (
                text[..4].parse::<i64>().expect("digits"),
                text[5..7].parse::<u32>().expect("digits"),
            )
        };
        let year = match (value_month, month) {
            (12, 1) => value_year + 1,
            (1, 12) => value_year - 1,
            _ => value_year,
        };
        booking_date = month_day(year, month, day).ok_or_else(|| {
            ImportError::at_line(line, format!("{} is not an entry date", &rest[..4]))
        })?;
        rest = &rest[4..];
    }
    let mark_len = if rest.starts_with('R') { 2 } else { 1 };
    let side = side(rest.get(..mark_len).unwrap_or_default(), line)?;
    rest = &rest[mark_len..];
    if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        rest = &rest[1..]; // the funds code: the third letter of the currency
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(rest.len());
    let amount = parse_decimal(&rest[..end], currency)
        .map_err(|reason| ImportError::at_line(line, reason))?;
    if !amount.is_positive() {
        return Err(ImportError::at_line(
            line,
            "a line's amount must be greater than zero",
        ));
    }
    rest = &rest[end..];
    let after_type = rest
        .get(4..)
        .filter(|_| matches!(rest.as_bytes()[0], b'N' | b'F' | b'S'));
    let Some(after_type) = after_type else {
        return Err(ImportError::at_line(
            line,
            format!(
                "{rest:?} does not start with a transaction type (N, F or S and three characters)"
            ),
        ));
    };
    rest = after_type;
    let (customer, bank) = match rest.split_once("//") {
        Some((customer, bank)) => (customer, Some(bank)),
        None => (rest, None),
    };
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty() && s != "NONREF");
    Ok(StatementLine {
        amount,
        side,
        booking_date,
        value_date,
        reference: text(customer),
        bank_reference: bank.and_then(text),
        description: text(details),
    })
}

/// A statement being read.
#[derive(Default)]
struct Partial {
    reference: Option<(String, usize)>,
    account: Option<String>,
    sequence: Option<String>,
    opening: Option<(StatementBalance, Currency)>,
    closing: Option<StatementBalance>,
    lines: Vec<StatementLine>,
}

impl Partial {
    fn finish(self, format: StatementFormat, line: usize) -> Result<ParsedStatement, ImportError> {
        let (reference, start) = self
            .reference
            .ok_or_else(|| ImportError::at_line(line, "the statement has no :20: reference"))?;
        let missing = |what: &str| {
            ImportError::at_line(start, format!("the statement {reference} has no {what}"))
        };
        let (opening, currency) = self
            .opening
            .ok_or_else(|| missing(":60F: opening balance"))?;
        Ok(ParsedStatement {
            format,
            external_account: self.account.ok_or_else(|| missing(":25: account"))?,
            sequence: self.sequence,
            currency,
            opening,
            closing: self
                .closing
                .ok_or_else(|| missing(":62F: closing balance"))?,
            lines: self.lines,
            reference,
        })
    }
}

/// Parses an MT940 or MT950 file into its statements.
pub(crate) fn parse(
    bytes: &[u8],
    format: StatementFormat,
) -> Result<Vec<ParsedStatement>, ImportError> {
    let text = String::from_utf8_lossy(bytes);
    let mut statements = Vec::new();
    let mut current: Option<Partial> = None;
    let mut last_line = 0;
    for field in fields(&text)? {
        let Some(field) = field else {
            if let Some(partial) = current.take() {
                statements.push(partial.finish(format, last_line)?);
            }
            continue;
        };
        last_line = field.line;
        if field.tag == "20" {
            if let Some(partial) = current.take() {
                statements.push(partial.finish(format, field.line)?);
            }
            current = Some(Partial {
                reference: Some((field.text.trim().to_string(), field.line)),
                ..Partial::default()
            });
            continue;
        }
        let partial = current.as_mut().ok_or_else(|| {
            ImportError::at_line(
                field.line,
                format!(":{}: comes before any :20: reference", field.tag),
            )
        })?;
        let currency = partial.opening.as_ref().map(|(_, currency)| *currency);
        match field.tag.as_str() {
            "25" => partial.account = Some(field.text.trim().to_string()),
            "28" | "28C" => partial.sequence = Some(field.text.trim().to_string()),
            "60F" | "60M" => partial.opening = Some(balance(&field, None)?),
            "62F" | "62M" => partial.closing = Some(balance(&field, currency)?.0),
            "61" => {
                let currency = currency.ok_or_else(|| {
                    ImportError::at_line(
                        field.line,
                        "a :61: line comes before the :60F: opening balance",
                    )
                })?;
                if partial.closing.is_some() {
                    return Err(ImportError::at_line(
                        field.line,
                        "a :61: line comes after the closing balance",
                    ));
                }
                partial.lines.push(statement_line(&field, currency)?);
            }
            "86" => {
                if format == StatementFormat::Mt950 {
                    return Err(ImportError::at_line(field.line, "MT950 has no :86: field"));
                }
                if let Some(line) = partial
                    .lines
                    .last_mut()
                    .filter(|_| partial.closing.is_none())
                {
                    let text = field.text.trim();
                    if !text.is_empty() {
                        line.description = Some(text.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(partial) = current.take() {
        statements.push(partial.finish(format, last_line)?);
    }
    if statements.is_empty() {
        return Err(ImportError::at_line(
            1,
            "the file holds no statement (no :20: field)",
        ));
    }
    Ok(statements)
}
