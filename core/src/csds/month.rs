//! A UK local calendar month, "YYYY-MM".

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::error::ValidationError;
use crate::record::schedule::day_bounds;

/// A calendar month in Europe/London.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReportMonth {
    first: NaiveDate,
}

impl ReportMonth {
    pub fn new(year: i32, month: u32) -> Result<Self, ValidationError> {
        NaiveDate::from_ymd_opt(year, month, 1)
            .filter(|_| (2000..=2100).contains(&year))
            .map(|first| ReportMonth { first })
            .ok_or_else(|| invalid(&format!("{year:04}-{month:02}")))
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The month's last day.
    pub fn last_day(self) -> NaiveDate {
        self.next_first().pred_opt().unwrap_or(self.first)
    }

    fn next_first(self) -> NaiveDate {
        let (y, m) = match self.first.month() {
            12 => (self.first.year() + 1, 1),
            m => (self.first.year(), m + 1),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(self.first)
    }

    /// Whether `day` is in the month.
    pub fn contains_day(self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last_day()
    }

    /// Whether an instant falls in the month, London time: from local midnight of the first
    /// day to local midnight of the next month's first day.
    pub fn contains(self, t: DateTime<Utc>) -> bool {
        let start = day_bounds(self.first).0;
        let end = day_bounds(self.next_first()).0;
        start <= t && t < end
    }
}

fn invalid(value: &str) -> ValidationError {
    ValidationError::Invalid {
        field: "month",
        reason: format!("'{value}' is not a month: use the form YYYY-MM, e.g. 2026-11"),
    }
}

impl FromStr for ReportMonth {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (y, m) = t.split_once('-').ok_or_else(|| invalid(t))?;
        if y.len() != 4 || m.len() != 2 {
            return Err(invalid(t));
        }
        let year: i32 = y.parse().map_err(|_| invalid(t))?;
        let month: u32 = m.parse().map_err(|_| invalid(t))?;
        ReportMonth::new(year, month).map_err(|_| invalid(t))
    }
}

impl fmt::Display for ReportMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}
