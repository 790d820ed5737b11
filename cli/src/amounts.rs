//! Amounts as the CLI shows and checks them: exact decimal strings in the
//! currency's minor unit, through the `ledger` crate's `Amount` and
//! `Currency`, never through floating point.

use ledger::{Amount, AmountError, Currency};

/// `text` printed with exactly `currency`'s decimals (`"1250.5"` in CNY is
/// `"1250.50"`); text that is not an amount in a known currency is shown as given.
pub fn display(text: &str, currency: &str) -> String {
    match Currency::new(currency) {
        Ok(currency) => match Amount::parse(text, currency) {
            Ok(amount) => amount.to_decimal_string(currency),
            Err(_) => text.to_string(),
        },
        Err(_) => text.to_string(),
    }
}

/// Why an amount was refused, in the API's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountProblem {
    /// The code the node would answer (`amount_precision`, ...).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub detail: String,
}

impl std::fmt::Display for AmountProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

fn problem(error: AmountError) -> AmountProblem {
    let code = match &error {
        AmountError::NotANumber(_) => "invalid_amount",
        AmountError::TooManyDecimals { .. } => "amount_precision",
        AmountError::NotPositive(_) => "amount_not_positive",
        AmountError::TooLarge(_) => "amount_too_large",
    };
    AmountProblem {
        code,
        detail: error.to_string(),
    }
}

fn currency(code: &str) -> Result<Currency, AmountProblem> {
    Currency::new(code).map_err(|error| AmountProblem {
        code: "unknown_currency",
        detail: error.to_string(),
    })
}

/// Checks a posting amount: positive, in a known currency, with no more
/// decimals than the currency has.
pub fn check_positive(text: &str, currency_code: &str) -> Result<Amount, AmountProblem> {
    let currency = currency(currency_code)?;
    Amount::parse_positive(text, currency).map_err(problem)
}

/// Checks a signed amount (a threshold or tier bound may be zero).
pub fn check_signed(text: &str, currency_code: &str) -> Result<Amount, AmountProblem> {
    let currency = currency(currency_code)?;
    Amount::parse(text, currency).map_err(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_the_currency_decimals() {
        assert_eq!(display("1250.5", "CNY"), "1250.50");
        assert_eq!(display("1500", "JPY"), "1500");
        assert_eq!(display("0.1", "KWD"), "0.100");
        assert_eq!(display("-3", "CNY"), "-3.00");
        assert_eq!(display("n/a", "CNY"), "n/a");
        assert_eq!(display("12.5", "XYZ"), "12.5");
    }

    #[test]
    fn too_many_decimals_is_refused_not_rounded() {
        let code = |text: &str, currency: &str| check_positive(text, currency).map_err(|p| p.code);
        assert_eq!(code("1.001", "CNY"), Err("amount_precision"));
        assert_eq!(code("1.5", "JPY"), Err("amount_precision"));
        assert_eq!(code("0", "CNY"), Err("amount_not_positive"));
        assert_eq!(code("1,00", "CNY"), Err("invalid_amount"));
        assert_eq!(code("1.00", "XYZ"), Err("unknown_currency"));
        assert!(
            check_positive("1.001", "CNY")
                .unwrap_err()
                .detail
                .contains("decimals")
        );
        assert_eq!(check_positive("1.10", "CNY").map(Amount::minor), Ok(110));
    }
}
