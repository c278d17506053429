//! A team's escalation routes (issue 13, item 3): who to call in hours and out of hours, and
//! when "in hours" is (London local time; weekends out of hours unless the team works them).
//! Pure rules: the server stores a team's routes and the hub shows the one in force beside each
//! escalation's response.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use chrono_tz::Europe::London as LONDON;

/// The longest route a team may write (it is read aloud at 3 a.m.: keep it short).
pub const MAX_ROUTE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRoutes {
    /// "Call the hub on 01422 555 010; the responsible clinician via switchboard".
    pub in_hours: String,
    /// "Out-of-hours GP via 111 option 3; 999 if NEWS2 7 or more".
    pub out_of_hours: String,
    /// In hours from (London time, inclusive) …
    pub opens: NaiveTime,
    /// … until (exclusive).
    pub closes: NaiveTime,
    /// Saturday and Sunday are in hours too (a seven-day service).
    pub weekends: bool,
}

/// Which route applies at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteInForce {
    InHours,
    OutOfHours,
}

impl EscalationRoutes {
    /// Both routes written, each short, and hours that open before they close.
    pub fn check(&self) -> Result<(), ValidationError> {
        for (field, text) in [
            ("in-hours route", &self.in_hours),
            ("out-of-hours route", &self.out_of_hours),
        ] {
            let n = text.trim().chars().count();
            if n == 0 {
                return Err(ValidationError::MissingField {
                    field,
                    hint: "say who to call and how (a name or role and a number)",
                });
            }
            if n > MAX_ROUTE_CHARS || text.chars().any(|c| c.is_control()) {
                return Err(ValidationError::Invalid {
                    field,
                    reason: format!(
                        "at most {MAX_ROUTE_CHARS} characters on one line (this has {n})"
                    ),
                });
            }
        }
        if self.opens >= self.closes {
            return Err(ValidationError::Invalid {
                field: "hours",
                reason: format!(
                    "in hours must open before they close ({}–{})",
                    self.opens.format("%H:%M"),
                    self.closes.format("%H:%M")
                ),
            });
        }
        Ok(())
    }

    /// The route in force at `t`, by London local time.
    pub fn in_force(&self, t: DateTime<Utc>) -> RouteInForce {
        let local = t.with_timezone(&LONDON);
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        let time = local.time();
        if (weekend && !self.weekends) || time < self.opens || time >= self.closes {
            RouteInForce::OutOfHours
        } else {
            RouteInForce::InHours
        }
    }

    /// "08:00–20:00, Monday to Friday" (or "every day").
    pub fn hours_words(&self) -> String {
        let days = if self.weekends {
            "every day"
        } else {
            "Monday to Friday"
        };
        format!(
            "{}–{}, {days}",
            self.opens.format("%H:%M"),
            self.closes.format("%H:%M")
        )
    }
}

/// "08:00-20:00" (or with an en dash) into opening and closing times.
pub fn parse_hours(s: &str) -> Result<(NaiveTime, NaiveTime), ValidationError> {
    let bad = || ValidationError::Invalid {
        field: "hours",
        reason: format!("{s:?}: give them as HH:MM-HH:MM, e.g. 08:00-20:00"),
    };
    let (a, b) = s.split_once(['-', '–']).ok_or_else(bad)?;
    let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
    Ok((t(a)?, t(b)?))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn routes(weekends: bool) -> EscalationRoutes {
        let (opens, closes) = parse_hours("08:00-20:00").unwrap();
        EscalationRoutes {
            in_hours: "Hub 01422 555 010".into(),
            out_of_hours: "111 option 3".into(),
            opens,
            closes,
            weekends,
        }
    }

    #[test]
    fn in_hours_are_london_weekday_hours_unless_the_team_works_weekends() {
        let r = routes(false);
        // Wednesday 2 Dec 2026, 07:59 and 08:00 GMT.
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap();
        assert_eq!(r.in_force(at(2, 7, 59)), RouteInForce::OutOfHours);
        assert_eq!(r.in_force(at(2, 8, 0)), RouteInForce::InHours);
        assert_eq!(r.in_force(at(2, 20, 0)), RouteInForce::OutOfHours);
        // Saturday 5 Dec.
        assert_eq!(r.in_force(at(5, 12, 0)), RouteInForce::OutOfHours);
        assert_eq!(routes(true).in_force(at(5, 12, 0)), RouteInForce::InHours);
        // Summer time: 07:30 UTC on 1 Jul 2026 is 08:30 in London.
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 7, 30, 0).unwrap();
        assert_eq!(r.in_force(summer), RouteInForce::InHours);
        assert_eq!(r.hours_words(), "08:00–20:00, Monday to Friday");
    }

    #[test]
    fn routes_must_be_written_short_and_hours_must_open_before_they_close() {
        let mut r = routes(false);
        r.in_hours = "  ".into();
        assert!(r
            .check()
            .unwrap_err()
            .to_string()
            .contains("in-hours route"));
        let mut r = routes(false);
        r.out_of_hours = "x".repeat(501);
        assert!(r.check().unwrap_err().to_string().contains("at most 500"));
        let mut r = routes(false);
        (r.opens, r.closes) = parse_hours("20:00–08:00").unwrap();
        assert!(r.check().unwrap_err().to_string().contains("open before"));
        assert!(parse_hours("8 till 8").is_err());
        assert!(routes(false).check().is_ok());
    }
}
