//! Turning request fields into ledger values, each failure a specific 422.

use ledger::{Amount, AmountError, Currency, Date, Timestamp};

use crate::http::error::ApiError;

/// Parses an id field.
pub fn id<T: std::str::FromStr<Err = ledger::IdError>>(
    field: &str,
    text: &str,
) -> Result<T, ApiError> {
    text.parse()
        .map_err(|error| ApiError::invalid("invalid_id", format!("{field}: {error}")))
}

/// Parses an optional id field, such as a `?branch=` filter.
pub fn optional_id<T: std::str::FromStr<Err = ledger::IdError>>(
    field: &str,
    text: Option<&str>,
) -> Result<Option<T>, ApiError> {
    text.map(|text| id(field, text)).transpose()
}

/// Parses a currency code.
pub fn currency(text: &str) -> Result<Currency, ApiError> {
    Currency::new(text).map_err(|error| ApiError::invalid("unknown_currency", error.to_string()))
}

fn amount_error(field: &str, error: AmountError) -> ApiError {
    let code = match &error {
        AmountError::NotANumber(_) => "invalid_amount",
        AmountError::TooManyDecimals { .. } => "amount_precision",
        AmountError::NotPositive(_) => "amount_not_positive",
        AmountError::TooLarge(_) => "amount_too_large",
    };
    ApiError::invalid(code, format!("{field}: {error}"))
}

/// Parses a positive amount in `currency`.
pub fn positive_amount(field: &str, text: &str, currency: Currency) -> Result<Amount, ApiError> {
    Amount::parse_positive(text, currency).map_err(|error| amount_error(field, error))
}

/// Parses a signed amount in `currency`.
pub fn signed_amount(field: &str, text: &str, currency: Currency) -> Result<Amount, ApiError> {
    Amount::parse(text, currency).map_err(|error| amount_error(field, error))
}

/// Parses a `YYYY-MM-DD` date.
pub fn date(field: &str, text: &str) -> Result<Date, ApiError> {
    Date::parse(text)
        .map_err(|error| ApiError::invalid("invalid_date", format!("{field}: {error}")))
}

/// Parses an RFC 3339 timestamp.
pub fn timestamp(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text)
        .map_err(|error| ApiError::invalid("invalid_timestamp", format!("{field}: {error}")))
}
