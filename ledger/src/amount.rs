//! Exact money: integer minor units, parsed from and printed as decimal strings.
//!
//! The API speaks decimal strings ("1234.56"); they are parsed with
//! `rust_decimal` and checked against the currency's minor unit. Too many
//! decimals is a rejection, never a rounding. Inside the ledger an amount is
//! a count of minor units in an `i128`, added with checked arithmetic.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::limits::AMOUNT_MAX_MINOR;

/// A signed amount of minor units (fen for CNY, yen for JPY). Balances may be
/// negative; a posting's amount is always positive.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Amount(i128);

/// Why a decimal string is not an acceptable amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a decimal number at all.
    #[error("{0:?} is not a decimal number")]
    NotANumber(String),
    /// More decimal digits than the currency's minor unit.
    #[error("{text:?} has {decimals} decimals but {currency} allows {allowed}")]
    TooManyDecimals {
        /// The text given.
        text: String,
        /// Its decimal digits.
        decimals: u32,
        /// The currency.
        currency: Currency,
        /// The currency's minor unit.
        allowed: u8,
    },
    /// Zero or negative where a positive amount is required.
    #[error("{0:?} must be greater than zero")]
    NotPositive(String),
    /// Beyond the largest amount the ledger accepts.
    #[error("{0:?} is larger than the largest amount the ledger accepts")]
    TooLarge(String),
}

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `minor` minor units.
    pub const fn from_minor(minor: i128) -> Self {
        Amount(minor)
    }

    /// The count of minor units.
    pub const fn minor(self) -> i128 {
        self.0
    }

    /// Parses a positive amount for a posting, e.g. `"1250.00"` in CNY.
    pub fn parse_positive(text: &str, currency: Currency) -> Result<Self, AmountError> {
        let amount = Self::parse(text, currency)?;
        if amount.0 <= 0 {
            return Err(AmountError::NotPositive(text.to_string()));
        }
        Ok(amount)
    }

    /// Parses a signed amount, e.g. a stated balance of `"-12.50"`.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, AmountError> {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
        let well_formed = unsigned.chars().all(|c| c.is_ascii_digit() || c == '.')
            && unsigned.chars().filter(|c| *c == '.').count() <= 1
            && unsigned.chars().any(|c| c.is_ascii_digit());
        if !well_formed {
            return Err(AmountError::NotANumber(text.to_string()));
        }
        let allowed = currency.minor_unit();
        // Count the decimals in the text: rust_decimal rounds digits beyond its
        // 28-digit precision, which would turn too many decimals into a rounding.
        let decimals = unsigned
            .split_once('.')
            .map_or(0, |(_, fraction)| fraction.trim_end_matches('0').len());
        let decimals = u32::try_from(decimals).unwrap_or(u32::MAX);
        if decimals > u32::from(allowed) {
            return Err(AmountError::TooManyDecimals {
                text: text.to_string(),
                decimals,
                currency,
                allowed,
            });
        }
        let decimal =
            Decimal::from_str(text).map_err(|_| AmountError::TooLarge(text.to_string()))?;
        let mut scaled = decimal;
        scaled.rescale(u32::from(allowed));
        let minor = scaled.mantissa();
        if minor.abs() > AMOUNT_MAX_MINOR {
            return Err(AmountError::TooLarge(text.to_string()));
        }
        Ok(Amount(minor))
    }

    /// Prints the amount with exactly the currency's decimals: `"1250.00"`.
    pub fn to_decimal_string(self, currency: Currency) -> String {
        let scale = u32::from(currency.minor_unit());
        if scale == 0 {
            return self.0.to_string();
        }
        let divisor = 10i128.pow(scale);
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let divisor = divisor as u128;
        format!(
            "{sign}{}.{:0width$}",
            magnitude / divisor,
            magnitude % divisor,
            width = scale as usize
        )
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `-self`.
    pub fn negated(self) -> Amount {
        Amount(-self.0)
    }

    /// Whether the amount is above zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    /// Adds two amounts that the ledger's limits keep far from overflow; an
    /// overflow here is a broken invariant, so it panics.
    fn add(self, other: Amount) -> Amount {
        self.checked_add(other).expect("amount overflow")
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    /// Subtracts within the ledger's limits; an overflow is a broken invariant.
    fn sub(self, other: Amount) -> Amount {
        self.checked_sub(other).expect("amount overflow")
    }
}

impl std::ops::AddAssign for Amount {
    fn add_assign(&mut self, other: Amount) {
        *self = *self + other;
    }
}

impl std::ops::SubAssign for Amount {
    fn sub_assign(&mut self, other: Amount) {
        *self = *self - other;
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny() -> Currency {
        Currency::new("CNY").unwrap()
    }

    #[test]
    fn decimal_strings_become_minor_units_exactly() {
        assert_eq!(Amount::parse("1234.56", cny()), Ok(Amount(123_456)));
        assert_eq!(Amount::parse("1234.5", cny()), Ok(Amount(123_450)));
        assert_eq!(Amount::parse("1234", cny()), Ok(Amount(123_400)));
        assert_eq!(Amount::parse("0.10", cny()), Ok(Amount(10)));
        assert_eq!(Amount::parse("-12.50", cny()), Ok(Amount(-1250)));
        assert_eq!(
            Amount::parse("1.230", cny()),
            Ok(Amount(123)),
            "trailing zeros are exact"
        );
        let jpy = Currency::new("JPY").unwrap();
        assert_eq!(Amount::parse("500", jpy), Ok(Amount(500)));
    }

    #[test]
    fn too_many_decimals_is_a_rejection_not_a_rounding() {
        assert!(matches!(
            Amount::parse("1.001", cny()),
            Err(AmountError::TooManyDecimals {
                decimals: 3,
                allowed: 2,
                ..
            })
        ));
        let jpy = Currency::new("JPY").unwrap();
        assert!(matches!(
            Amount::parse("1.5", jpy),
            Err(AmountError::TooManyDecimals { .. })
        ));
    }

    #[test]
    fn malformed_and_non_positive_amounts_are_rejected() {
        for bad in [
            "", " 1", "1e5", "abc", "1.2.3", "NaN", "--1", ".", "0x10", "1,000.00",
        ] {
            assert!(
                matches!(Amount::parse(bad, cny()), Err(AmountError::NotANumber(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Amount::parse_positive("0", cny()),
            Err(AmountError::NotPositive(_))
        ));
        assert!(matches!(
            Amount::parse_positive("-1", cny()),
            Err(AmountError::NotPositive(_))
        ));
        assert!(matches!(
            Amount::parse("99999999999999999999999999999", cny()),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn printing_uses_the_currency_decimals() {
        assert_eq!(Amount(123_456).to_decimal_string(cny()), "1234.56");
        assert_eq!(Amount(5).to_decimal_string(cny()), "0.05");
        assert_eq!(Amount(-5).to_decimal_string(cny()), "-0.05");
        let kwd = Currency::new("KWD").unwrap();
        assert_eq!(Amount(1).to_decimal_string(kwd), "0.001");
        let jpy = Currency::new("JPY").unwrap();
        assert_eq!(Amount(1500).to_decimal_string(jpy), "1500");
    }
}
