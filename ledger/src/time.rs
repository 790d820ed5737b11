//! Time as the ledger sees it: values inside commands, never a clock.
//!
//! The leader stamps each command with its wall-clock time; the ledger only
//! compares and prints these values. [`Timestamp`] is microseconds since the
//! Unix epoch (UTC); [`Date`] is a calendar day (value dates, cutoffs, period
//! close). Conversions use the proleptic Gregorian calendar.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A point in time: microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

/// A calendar day: days since 1970-01-01.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date(pub i32);

/// Why a string is not an RFC 3339 timestamp or a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid {expected}")]
pub struct TimeParseError {
    text: String,
    expected: &'static str,
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Days since the epoch of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day count (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Date, TimeParseError> {
        let error = || TimeParseError {
            text: text.to_string(),
            expected: "date (YYYY-MM-DD)",
        };
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(error());
        }
        let year = digits(&text[0..4]).ok_or_else(error)?;
        let month = digits(&text[5..7]).ok_or_else(error)?;
        let day = digits(&text[8..10]).ok_or_else(error)?;
        Date::from_ymd(i64::from(year), month, day).ok_or_else(error)
    }

    /// The date of a year, month (1–12) and day, if it exists.
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        i32::try_from(days_from_civil(year, month, day))
            .ok()
            .map(Date)
    }

    /// The first instant of this day, UTC.
    pub fn start(self) -> Timestamp {
        Timestamp(i64::from(self.0) * SECONDS_PER_DAY * MICROS_PER_SECOND)
    }

    /// The day after.
    pub fn next(self) -> Date {
        Date(self.0 + 1)
    }

    /// Calendar months since year 0 (year × 12 + month − 1): two dates are in
    /// the same month when these are equal.
    pub fn month_number(self) -> i64 {
        let (year, month, _) = civil_from_days(i64::from(self.0));
        year * 12 + i64::from(month) - 1
    }
}

impl Timestamp {
    /// Parses RFC 3339 (`2026-11-22T09:30:00Z`, `...T09:30:00.123+08:00`).
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeParseError> {
        let error = || TimeParseError {
            text: text.to_string(),
            expected: "RFC 3339 timestamp",
        };
        if text.len() < 20 || !text.is_char_boundary(10) || !text.is_char_boundary(19) {
            return Err(error());
        }
        let date = Date::parse(&text[..10]).map_err(|_| error())?;
        let rest = &text[10..];
        let b = rest.as_bytes();
        if !(b[0] == b'T' || b[0] == b't' || b[0] == b' ') || b[3] != b':' || b[6] != b':' {
            return Err(error());
        }
        let hour = digits(&rest[1..3]).ok_or_else(error)?;
        let minute = digits(&rest[4..6]).ok_or_else(error)?;
        let second = digits(&rest[7..9]).ok_or_else(error)?;
        if hour > 23 || minute > 59 || second > 60 {
            return Err(error());
        }
        let mut tail = &rest[9..];
        let mut micros: i64 = 0;
        if let Some(fraction) = tail.strip_prefix('.') {
            let end = fraction
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(fraction.len());
            if end == 0 {
                return Err(error());
            }
            let kept = &fraction[..end.min(6)];
            micros = i64::from(digits(kept).ok_or_else(error)?) * 10i64.pow(6 - kept.len() as u32);
            tail = &fraction[end..];
        }
        let offset_seconds: i64 = match tail {
            "Z" | "z" => 0,
            _ if tail.len() == 6
                && (tail.starts_with('+') || tail.starts_with('-'))
                && &tail[3..4] == ":" =>
            {
                let hours = i64::from(digits(&tail[1..3]).ok_or_else(error)?);
                let minutes = i64::from(digits(&tail[4..6]).ok_or_else(error)?);
                if hours > 23 || minutes > 59 {
                    return Err(error());
                }
                let sign = if tail.starts_with('-') { -1 } else { 1 };
                sign * (hours * 3600 + minutes * 60)
            }
            _ => return Err(error()),
        };
        let seconds = i64::from(date.0) * SECONDS_PER_DAY
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second.min(59))
            - offset_seconds;
        Ok(Timestamp(seconds * MICROS_PER_SECOND + micros))
    }

    /// The UTC calendar day this instant falls on.
    pub fn date(self) -> Date {
        Date(self.0.div_euclid(SECONDS_PER_DAY * MICROS_PER_SECOND) as i32)
    }

    /// This instant plus `seconds`, saturating.
    pub fn plus_seconds(self, seconds: u64) -> Timestamp {
        let micros = i64::try_from(seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(MICROS_PER_SECOND);
        Timestamp(self.0.saturating_add(micros))
    }

    /// Microseconds from `earlier` to `self` (zero if `earlier` is later).
    pub fn micros_since(self, earlier: Timestamp) -> u64 {
        u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(i64::from(self.0));
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds: `2026-11-22T09:30:00.000000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day_micros = SECONDS_PER_DAY * MICROS_PER_SECOND;
        let date = self.date();
        let within = self.0.rem_euclid(day_micros);
        let seconds = within / MICROS_PER_SECOND;
        write!(
            f,
            "{date}T{:02}:{:02}:{:02}.{:06}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            within % MICROS_PER_SECOND
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_applies_offsets() {
        let t = Timestamp::parse_rfc3339("2026-11-22T09:30:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T09:30:00.000000Z");
        let shanghai = Timestamp::parse_rfc3339("2026-11-22T17:30:00.5+08:00").unwrap();
        assert_eq!(shanghai.to_string(), "2026-11-22T09:30:00.500000Z");
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z").unwrap(),
            Timestamp(0)
        );
        let before_epoch = Timestamp::parse_rfc3339("1969-12-31T23:59:59Z").unwrap();
        assert_eq!(before_epoch, Timestamp(-1_000_000));
        assert_eq!(before_epoch.to_string(), "1969-12-31T23:59:59.000000Z");
    }

    #[test]
    fn malformed_times_and_dates_are_errors() {
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T09:30:00",
            "2026-11-22T09:30:00+0800",
            "2026-11-22T09:30:00.Z",
            "２026-11-22T09:30:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad:?}");
        }
        assert!(Date::parse("2024-02-29").is_ok(), "leap day");
        assert!(Date::parse("2025-02-29").is_err());
        assert!(Date::parse("2025-1-01").is_err());
    }

    #[test]
    fn dates_round_trip_across_eras() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2026-11-22",
            "1900-03-01",
            "2400-12-31",
        ] {
            assert_eq!(Date::parse(text).unwrap().to_string(), text);
        }
        let t = Timestamp::parse_rfc3339("2026-11-22T23:59:59Z").unwrap();
        assert_eq!(t.date().to_string(), "2026-11-22");
        assert_eq!(
            t.date().next().start().to_string(),
            "2026-11-23T00:00:00.000000Z"
        );
    }
}
