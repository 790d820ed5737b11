//! Amounts as the harness keeps them: integer minor units (the workload uses
//! CNY, two decimals). The API speaks exact decimal strings; this module is
//! the only place that converts, and it never rounds.

use anyhow::{Context, bail};

/// Decimals of the workload's currency.
pub const MINOR_DIGITS: u32 = 2;

/// Minor units in one major unit.
const SCALE: i64 = 10_i64.pow(MINOR_DIGITS);

/// Parses `"1234.56"`, `"-0.50"` or `"7"` into minor units. More decimals than
/// the currency has is an error, never a rounding.
pub fn parse_minor(text: &str) -> anyhow::Result<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{text:?} is not a decimal amount");
    }
    if fraction.len() > MINOR_DIGITS as usize || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{text:?} has more than {MINOR_DIGITS} decimals or is malformed");
    }
    let whole: i64 = whole
        .parse()
        .with_context(|| format!("{text:?} is out of range"))?;
    let mut minor = 0_i64;
    for position in 0..MINOR_DIGITS as usize {
        let digit = fraction
            .as_bytes()
            .get(position)
            .map_or(0, |b| i64::from(b - b'0'));
        minor = minor * 10 + digit;
    }
    let magnitude = whole
        .checked_mul(SCALE)
        .and_then(|major| major.checked_add(minor))
        .with_context(|| format!("{text:?} is out of range"))?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Formats minor units as the API's decimal string: `12345` → `"123.45"`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    let scale = SCALE.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = MINOR_DIGITS as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_round_trip_through_minor_units() {
        for (text, minor) in [
            ("0.01", 1),
            ("1234.56", 123_456),
            ("-0.50", -50),
            ("7", 700),
            ("3.1", 310),
        ] {
            assert_eq!(parse_minor(text).unwrap(), minor, "{text}");
        }
        assert_eq!(format_minor(123_456), "1234.56");
        assert_eq!(format_minor(-5), "-0.05");
        assert_eq!(format_minor(0), "0.00");
    }

    #[test]
    fn too_many_decimals_or_junk_is_an_error() {
        for text in ["1.234", "", "-", "1.2x", "abc", ".5"] {
            assert!(parse_minor(text).is_err(), "{text}");
        }
    }
}
