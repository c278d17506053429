//! Scheduling rules, worked out when read (issue 12, docs/day.md). Pure functions of the
//! record: every phone holding the same documents computes the same visits, and only the
//! exceptions (moved, handed over, cancelled, done) are stored.
//!
//! - Days are Europe/London local days (docs/decisions/0007): `[local midnight, next local
//!   midnight)`, 23 or 25 hours on clock-change days. A local time that does not exist (spring
//!   forward) moves to the first valid instant after it; an ambiguous one (autumn) is the earlier.
//! - A care-plan intervention is due on a day by its [`Frequency`] (from its start date, until
//!   its end date, while it and its goal and problem are open). A timed dose ("08:00") is a
//!   visit whose window is the time ± the tolerance (30 minutes unless set); an untimed one uses
//!   the intervention's window (09:00–17:00 unless set).
//! - A person's interventions due in windows that start at the same time are one visit; its id
//!   (the *visit ref*) is `<date>T<HHMM>` of its original window start, so two phones name it
//!   alike. A booked visit's ref is its id.
//! - The visit's priority is its most urgent intervention's, unless a nurse set it by hand.
//! - The travel order (within visits whose windows start together) is [`travel_order`].

use std::collections::HashMap;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::day::{VisitCancellation, VisitHandover, VisitMove, VisitPriorityOverride};
use super::model::{ContactType, Intervention, VisitOutcome};
use super::plan::{DayOfWeek, Frequency, PlanIntervention, VisitPriority};

/// The time zone of every day, window and "08:00 daily" (docs/decisions/0007).
pub const LONDON: Tz = chrono_tz::Europe::London;

/// Minutes either side of a timed dose unless the plan says otherwise.
pub const DEFAULT_TOLERANCE_MINUTES: u16 = 30;
/// The window of an untimed visit unless the plan says otherwise.
pub const DEFAULT_WINDOW: (u32, u32) = (9, 17);
/// A booked visit without an end lasts this long.
pub const DEFAULT_BOOKED_MINUTES: i64 = 30;

/// The instant of a local date and time in London. A time in the spring-forward gap is moved to
/// the first valid instant after it; a time that occurs twice (autumn) is the earlier.
pub fn instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = date.and_time(time);
    // The gap is one hour; step a minute at a time past it (at most 61 steps, only on that day).
    for _ in 0..=120 {
        match LONDON.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(early, _) => return early.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    // Unreachable for Europe/London; read the local time as UTC rather than fail.
    date.and_time(time).and_utc()
}

/// The first instant of a London day and of the next one.
pub fn day_bounds(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.succ_opt().unwrap_or(date);
    (instant(date, NaiveTime::MIN), instant(next, NaiveTime::MIN))
}

/// The London date of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&LONDON).date_naive()
}

/// The London time of day of an instant, "HH:MM".
pub fn local_hhmm(t: DateTime<Utc>) -> String {
    t.with_timezone(&LONDON).format("%H:%M").to_string()
}

/// The ref of the visit a plan makes on `date` in the window starting at `start`.
pub fn plan_ref(date: NaiveDate, start: NaiveTime) -> String {
    format!("{}T{}", date.format("%Y-%m-%d"), start.format("%H%M"))
}

/// The date and window start of a plan visit's ref; `None` for any other ref (a booked visit).
pub fn parse_plan_ref(r: &str) -> Option<(NaiveDate, NaiveTime)> {
    let (d, t) = r.split_once('T')?;
    if d.len() != 10 || t.len() != 4 {
        return None;
    }
    let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
    let time = NaiveTime::parse_from_str(t, "%H%M").ok()?;
    Some((date, time))
}

fn hhmm(s: Option<&str>, default: NaiveTime) -> NaiveTime {
    s.and_then(|s| NaiveTime::parse_from_str(s, "%H:%M").ok())
        .unwrap_or(default)
}

fn hour(h: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// Whether `iv` is due on `date` at all (its frequency, start and end).
pub fn due_on(iv: &PlanIntervention, date: NaiveDate) -> bool {
    if !iv.active || date < iv.starts_on || iv.ends_on.is_some_and(|e| date > e) {
        return false;
    }
    let since = (date - iv.starts_on).num_days();
    match &iv.frequency {
        Frequency::DailyAt { times } => !times.is_empty(),
        Frequency::TimesPerWeek { times } => {
            let n = i64::from((*times).clamp(1, 7));
            let day_in_week = since % 7;
            (0..n).any(|i| i * 7 / n == day_in_week)
        }
        Frequency::OnWeekdays { days } => days.contains(&DayOfWeek::of(date)),
        Frequency::EveryNDays { days } => since % i64::from((*days).max(1)) == 0,
        Frequency::AsNeeded => false,
    }
}

/// The local windows `(start, end)` in which `iv` is due on `date`, in time order.
pub fn windows_on(iv: &PlanIntervention, date: NaiveDate) -> Vec<(NaiveTime, NaiveTime)> {
    if !due_on(iv, date) {
        return Vec::new();
    }
    match &iv.frequency {
        Frequency::DailyAt { times } => {
            let tol = Duration::minutes(i64::from(
                iv.tolerance_minutes.unwrap_or(DEFAULT_TOLERANCE_MINUTES),
            ));
            let last = NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN);
            let mut out: Vec<(NaiveTime, NaiveTime)> = times
                .iter()
                .filter_map(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
                .map(|t| {
                    let (start, wrapped_back) = t.overflowing_sub_signed(tol);
                    let start = if wrapped_back != 0 {
                        NaiveTime::MIN
                    } else {
                        start
                    };
                    let (end, wrapped) = t.overflowing_add_signed(tol);
                    let end = if wrapped != 0 { last } else { end };
                    (start, end)
                })
                .collect();
            out.sort();
            out
        }
        _ => {
            let start = hhmm(iv.window_start.as_deref(), hour(DEFAULT_WINDOW.0));
            let end = hhmm(iv.window_end.as_deref(), hour(DEFAULT_WINDOW.1));
            vec![(start, end.max(start))]
        }
    }
}

/// One intervention due at a visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ScheduledIntervention {
    pub intervention_id: String,
    pub kind: Intervention,
    pub label: String,
    pub priority: VisitPriority,
}

/// A visit as a plan (or a booking) makes it, before the exceptions are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanVisit {
    pub person_id: String,
    pub visit_ref: String,
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub interventions: Vec<ScheduledIntervention>,
    pub clinician: Option<String>,
    pub contact_type: ContactType,
    /// The booked visit this is, if it was booked rather than planned.
    pub planned_visit_id: Option<String>,
}

/// The visits one person's plan makes on `date`: due interventions whose windows start at the
/// same time are one visit, in window order. `interventions` are the live ones (open goal and
/// problem).
pub fn plan_visits_on(
    person_id: &str,
    interventions: &[PlanIntervention],
    date: NaiveDate,
) -> Vec<PlanVisit> {
    let mut by_start: Vec<(NaiveTime, NaiveTime, Vec<&PlanIntervention>)> = Vec::new();
    for iv in interventions {
        for (s, e) in windows_on(iv, date) {
            match by_start.iter_mut().find(|(start, _, _)| *start == s) {
                Some((_, end, list)) => {
                    *end = (*end).max(e);
                    list.push(iv);
                }
                None => by_start.push((s, e, vec![iv])),
            }
        }
    }
    by_start.sort_by_key(|(s, _, _)| *s);
    by_start
        .into_iter()
        .map(|(s, e, ivs)| {
            let contact_type = if ivs.iter().any(|i| i.contact_type == ContactType::HomeVisit) {
                ContactType::HomeVisit
            } else {
                ivs.first()
                    .map(|i| i.contact_type)
                    .unwrap_or(ContactType::HomeVisit)
            };
            PlanVisit {
                person_id: person_id.to_string(),
                visit_ref: plan_ref(date, s),
                date,
                start: instant(date, s),
                end: instant(date, e),
                clinician: ivs.iter().find_map(|i| i.clinician.clone()),
                contact_type,
                interventions: ivs
                    .iter()
                    .map(|i| ScheduledIntervention {
                        intervention_id: i.id.clone(),
                        kind: i.kind.clone(),
                        label: i.label(),
                        priority: i.priority(),
                    })
                    .collect(),
                planned_visit_id: None,
            }
        })
        .collect()
}

/// Where a visit stands on the day list, worked out when the list is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    Due,
    /// Not done and its window has ended.
    Overdue,
    Completed,
    /// No access / not at home.
    NoAccess,
    Declined,
    CancelledByService,
    /// An outreach appointment the client did not come to (issue 14).
    DidNotAttend,
    /// An outreach appointment the client called off.
    CancelledByPerson,
}

impl VisitStatus {
    pub fn label(&self) -> &'static str {
        match self {
            VisitStatus::Due => "due",
            VisitStatus::Overdue => "overdue",
            VisitStatus::Completed => "completed",
            VisitStatus::NoAccess => "no access / not at home",
            VisitStatus::Declined => "declined",
            VisitStatus::CancelledByService => "cancelled by the service",
            VisitStatus::DidNotAttend => "did not attend",
            VisitStatus::CancelledByPerson => "cancelled by the client",
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, VisitStatus::Due | VisitStatus::Overdue)
    }
}

/// A visit recorded against a scheduled visit (its outcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoneVisit {
    pub visit_id: String,
    pub started_at: DateTime<Utc>,
    pub outcome: VisitOutcome,
    pub reason: Option<String>,
    pub interventions_done: Vec<String>,
}

impl DoneVisit {
    pub fn of(v: &super::model::Visit) -> DoneVisit {
        DoneVisit {
            visit_id: v.id.clone(),
            started_at: v.started_at,
            outcome: v.outcome,
            reason: v.outcome_reason.clone(),
            interventions_done: v.interventions_done.clone(),
        }
    }
}

/// The stored exceptions of one visit (winners; `*_conflict` while concurrent values stand).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exceptions {
    pub moved: Option<VisitMove>,
    pub handover: Option<VisitHandover>,
    pub cancelled: Option<VisitCancellation>,
    pub priority: Option<VisitPriorityOverride>,
    pub done: Vec<DoneVisit>,
    /// Keys of this visit's exceptions that hold concurrent values.
    pub in_conflict: bool,
}

/// A visit with its exceptions applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledVisit {
    pub visit: PlanVisit,
    /// Its original date (differs from `visit.date` when moved).
    pub origin_date: NaiveDate,
    pub priority: VisitPriority,
    pub priority_overridden: bool,
    /// Who it is for now: the hand-over's colleague, else the plan's or booking's clinician.
    pub assignee: Option<String>,
    pub status: VisitStatus,
    pub status_reason: Option<String>,
    pub exceptions: Exceptions,
}

/// What a day's schedule is worked out from.
#[derive(Debug, Default)]
pub struct ScheduleInputs {
    /// Each person's live, schedulable interventions.
    pub plans: HashMap<String, Vec<PlanIntervention>>,
    /// Booked visits (on the days asked for, and any moved onto them), each with whether a
    /// recorded visit fulfils it.
    pub booked: Vec<(PlanVisit, bool)>,
    /// By (person, visit ref).
    pub exceptions: HashMap<(String, String), Exceptions>,
}

/// The visits of `date`, exceptions applied, status worked out at `now`; unordered.
pub fn day_schedule(
    inputs: &ScheduleInputs,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<ScheduledVisit> {
    let mut out = Vec::new();
    let consider = |v: PlanVisit, fulfilled: bool, out: &mut Vec<ScheduledVisit>| {
        let ex = inputs
            .exceptions
            .get(&(v.person_id.clone(), v.visit_ref.clone()))
            .cloned()
            .unwrap_or_default();
        if let Some(s) = apply(v, fulfilled, ex, date, now) {
            out.push(s);
        }
    };
    let mut people: Vec<&String> = inputs.plans.keys().collect();
    people.sort();
    for person in people {
        if let Some(ivs) = inputs.plans.get(person) {
            for v in plan_visits_on(person, ivs, date) {
                consider(v, false, &mut out);
            }
        }
    }
    for (v, fulfilled) in &inputs.booked {
        consider(v.clone(), *fulfilled, &mut out);
    }
    // Plan visits moved onto this day from another.
    let mut moved_in: Vec<(&(String, String), &Exceptions)> = inputs
        .exceptions
        .iter()
        .filter(|(_, e)| e.moved.as_ref().is_some_and(|m| m.to_date == date))
        .collect();
    moved_in.sort_by(|a, b| a.0.cmp(b.0));
    for ((person, r), _) in moved_in {
        let Some((origin, _)) = parse_plan_ref(r) else {
            continue;
        };
        if origin == date {
            continue;
        }
        let Some(ivs) = inputs.plans.get(person) else {
            continue;
        };
        if let Some(v) = plan_visits_on(person, ivs, origin)
            .into_iter()
            .find(|v| &v.visit_ref == r)
        {
            consider(v, false, &mut out);
        }
    }
    out
}

fn apply(
    mut v: PlanVisit,
    fulfilled: bool,
    ex: Exceptions,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Option<ScheduledVisit> {
    let origin_date = v.date;
    if let Some(m) = &ex.moved {
        let (Ok(s), Ok(e)) = (
            NaiveTime::parse_from_str(&m.window_start, "%H:%M"),
            NaiveTime::parse_from_str(&m.window_end, "%H:%M"),
        ) else {
            return None;
        };
        v.date = m.to_date;
        v.start = instant(m.to_date, s);
        v.end = instant(m.to_date, e);
    }
    if v.date != date {
        return None;
    }
    let planned_priority = v
        .interventions
        .iter()
        .map(|i| i.priority)
        .min()
        .unwrap_or(VisitPriority::Routine);
    let (priority, priority_overridden) = match &ex.priority {
        Some(p) => (p.priority, true),
        None => (planned_priority, false),
    };
    let assignee = ex
        .handover
        .as_ref()
        .map(|h| h.to_user_id.clone())
        .or_else(|| v.clinician.clone());
    let latest = ex
        .done
        .iter()
        .max_by_key(|d| (d.started_at, d.visit_id.clone()));
    let (status, status_reason) = if let Some(c) = &ex.cancelled {
        (VisitStatus::CancelledByService, Some(c.reason.clone()))
    } else if let Some(d) = latest {
        let s = match d.outcome {
            VisitOutcome::Completed => VisitStatus::Completed,
            VisitOutcome::NoAccess => VisitStatus::NoAccess,
            VisitOutcome::Declined => VisitStatus::Declined,
            // A visit "rescheduled" at the door is still to do.
            VisitOutcome::Rescheduled => VisitStatus::Due,
        };
        (s, d.reason.clone())
    } else if fulfilled {
        (VisitStatus::Completed, None)
    } else {
        (VisitStatus::Due, None)
    };
    let status = if status == VisitStatus::Due && now >= v.end {
        VisitStatus::Overdue
    } else {
        status
    };
    Some(ScheduledVisit {
        visit: v,
        origin_date,
        priority,
        priority_overridden,
        assignee,
        status,
        status_reason,
        exceptions: ex,
    })
}

// ---------------------------------------------------------------- travel order

/// A UK postcode's parts as the travel heuristic uses them: area letters, district number
/// (with any letter after it), sector digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostcodeParts {
    pub area: String,
    pub district: u32,
    pub district_suffix: String,
    pub sector: Option<u32>,
}

/// Parse "LS6 2QT", "EC1A 1BB", "LS6" (outward code only) — spaces and case ignored.
pub fn postcode_parts(p: &str) -> Option<PostcodeParts> {
    let compact: String = p
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if !compact.is_ascii() || compact.is_empty() {
        return None;
    }
    // A full postcode's inward code is the last three characters: digit, letter, letter.
    let (outward, sector) = match compact.len() {
        5..=7 => {
            let (o, i) = compact.split_at(compact.len() - 3);
            let digit = i.chars().next().and_then(|c| c.to_digit(10));
            match digit {
                Some(d) => (o.to_string(), Some(d)),
                None => (compact.clone(), None),
            }
        }
        _ => (compact.clone(), None),
    };
    let area: String = outward
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let rest = &outward[area.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if area.is_empty() || area.len() > 2 || digits.is_empty() {
        return None;
    }
    let district = digits.parse().ok()?;
    Some(PostcodeParts {
        area,
        district,
        district_suffix: rest[digits.len()..].to_string(),
        sector,
    })
}

/// The heuristic distance between two postcodes (no map, no network): 0 in the same sector;
/// 10 + the difference of sector digits in the same district; 100 + 10 × the difference of
/// district numbers in the same area; 10 000 across areas; 100 000 when either is unknown.
/// Neighbouring sector and district numbers are usually (not always) neighbours on the ground.
pub fn postcode_distance(a: Option<&PostcodeParts>, b: Option<&PostcodeParts>) -> u32 {
    let (Some(a), Some(b)) = (a, b) else {
        return 100_000;
    };
    if a.area != b.area {
        return 10_000;
    }
    if a.district != b.district || a.district_suffix != b.district_suffix {
        return 100 + 10 * a.district.abs_diff(b.district);
    }
    match (a.sector, b.sector) {
        (Some(x), Some(y)) if x == y => 0,
        (Some(x), Some(y)) => 10 + x.abs_diff(y),
        _ => 10,
    }
}

/// A travel order for stops with these postcodes: nearest neighbour by [`postcode_distance`],
/// starting from `from` (the previous stop, or the team's base) or, without one, from the stop
/// whose postcode sorts first. Ties go to the postcode that sorts first, then the input order.
/// Returns indexes into `postcodes`.
pub fn travel_order(postcodes: &[Option<String>], from: Option<&str>) -> Vec<usize> {
    let parts: Vec<Option<PostcodeParts>> = postcodes
        .iter()
        .map(|p| p.as_deref().and_then(postcode_parts))
        .collect();
    let key = |i: usize| {
        postcodes
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "~".into())
    };
    let mut left: Vec<usize> = (0..postcodes.len()).collect();
    left.sort_by(|a, b| key(*a).cmp(&key(*b)).then(a.cmp(b)));
    let mut at: Option<PostcodeParts> = from.and_then(postcode_parts);
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let pick = match &at {
            None => 0,
            Some(here) => {
                let mut best = 0;
                let mut best_d = u32::MAX;
                for (n, i) in left.iter().enumerate() {
                    let d = postcode_distance(Some(here), parts.get(*i).and_then(|p| p.as_ref()));
                    if d < best_d {
                        best_d = d;
                        best = n;
                    }
                }
                best
            }
        };
        let i = left.remove(pick);
        if let Some(p) = parts.get(i).and_then(|p| p.clone()) {
            at = Some(p);
        }
        out.push(i);
    }
    out
}

/// The nurse's own order laid over the computed one: the visits she ordered keep her order; a
/// visit she has not placed (added since) goes just before the first of hers that the computed
/// order puts after it, or at the end. `computed` and `manual` are visit keys.
pub fn merge_manual_order<K: Clone + PartialEq>(computed: &[K], manual: &[K]) -> Vec<K> {
    let placed: Vec<K> = manual
        .iter()
        .filter(|k| computed.contains(k))
        .cloned()
        .collect();
    let mut out = placed.clone();
    for (ci, k) in computed.iter().enumerate() {
        if placed.contains(k) {
            continue;
        }
        // The first placed visit that the computed order puts after this one.
        let after = computed
            .iter()
            .skip(ci + 1)
            .find(|later| placed.contains(later));
        match after.and_then(|a| out.iter().position(|x| x == a)) {
            Some(pos) => out.insert(pos, k.clone()),
            None => out.push(k.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::model::{Author, Role};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn iv(
        id: &str,
        kind: Intervention,
        frequency: Frequency,
        starts_on: NaiveDate,
    ) -> PlanIntervention {
        PlanIntervention {
            id: id.into(),
            goal_id: "g".into(),
            kind,
            description: id.into(),
            frequency,
            window_start: None,
            window_end: None,
            tolerance_minutes: None,
            priority: None,
            clinician: None,
            starts_on,
            ends_on: None,
            contact_type: ContactType::HomeVisit,
            active: true,
            author: Author {
                user_id: "u".into(),
                display_name: "U".into(),
                role: Role::DistrictNurse,
                device_id: "d".into(),
                at: Utc::now(),
            },
        }
    }

    #[test]
    fn london_days_are_23_or_25_hours_on_clock_changes() {
        let (s, e) = day_bounds(d(2027, 3, 28));
        assert_eq!((e - s).num_hours(), 23);
        let (s, e) = day_bounds(d(2026, 10, 25));
        assert_eq!((e - s).num_hours(), 25);
        let (s, e) = day_bounds(d(2026, 12, 1));
        assert_eq!((e - s).num_hours(), 24);
        assert_eq!(s.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        let (s, _) = day_bounds(d(2026, 7, 1));
        assert_eq!(s.to_rfc3339(), "2026-06-30T23:00:00+00:00");
        assert_eq!(local_date(s), d(2026, 7, 1));
    }

    #[test]
    fn a_time_in_the_gap_moves_forward_and_a_repeated_time_is_the_earlier() {
        // 28 March 2027: 01:00 GMT jumps to 02:00 BST; 01:30 does not exist.
        let t1 = instant(d(2027, 3, 28), t(1, 30));
        assert_eq!(t1.to_rfc3339(), "2027-03-28T01:00:00+00:00");
        assert_eq!(local_hhmm(t1), "02:00");
        // 25 October 2026: 01:30 happens twice (BST, then GMT); the earlier is 00:30 UTC.
        let t2 = instant(d(2026, 10, 25), t(1, 30));
        assert_eq!(t2.to_rfc3339(), "2026-10-25T00:30:00+00:00");
        // 08:00 daily is 08:00 local on both sides of the change.
        assert_eq!(
            instant(d(2027, 3, 27), t(8, 0)).to_rfc3339(),
            "2027-03-27T08:00:00+00:00"
        );
        assert_eq!(
            instant(d(2027, 3, 29), t(8, 0)).to_rfc3339(),
            "2027-03-29T07:00:00+00:00"
        );
    }

    #[test]
    fn frequencies_make_the_expected_days_and_windows() {
        let mon = d(2026, 11, 30);
        let dressing = iv(
            "w",
            Intervention::WoundCare,
            Frequency::TimesPerWeek { times: 3 },
            mon,
        );
        let days: Vec<u32> = (0..14)
            .map(|i| mon + Duration::days(i))
            .filter(|day| due_on(&dressing, *day))
            .map(|day| chrono::Datelike::day(&day))
            .collect();
        // Mon, Wed, Fri of two weeks.
        assert_eq!(days, vec![30, 2, 4, 7, 9, 11]);
        let insulin = iv(
            "i",
            Intervention::Insulin,
            Frequency::DailyAt {
                times: vec!["08:00".into(), "17:00".into()],
            },
            mon,
        );
        assert_eq!(
            windows_on(&insulin, mon),
            vec![(t(7, 30), t(8, 30)), (t(16, 30), t(17, 30))]
        );
        assert!(windows_on(&insulin, mon - Duration::days(1)).is_empty());
        let mut stopped = insulin.clone();
        stopped.active = false;
        assert!(windows_on(&stopped, mon).is_empty());
        let weekly = iv(
            "c",
            Intervention::CatheterCare,
            Frequency::OnWeekdays {
                days: vec![DayOfWeek::Thursday],
            },
            mon,
        );
        assert!(due_on(&weekly, d(2026, 12, 3)) && !due_on(&weekly, d(2026, 12, 4)));
        let every3 = iv(
            "b",
            Intervention::Venepuncture,
            Frequency::EveryNDays { days: 3 },
            mon,
        );
        assert!(due_on(&every3, d(2026, 12, 3)) && !due_on(&every3, d(2026, 12, 4)));
        let mut ended = dressing.clone();
        ended.ends_on = Some(d(2026, 12, 1));
        assert!(!due_on(&ended, d(2026, 12, 2)));
    }

    #[test]
    fn visits_group_interventions_by_window_and_take_the_most_urgent_priority() {
        let mon = d(2026, 11, 30);
        let mut wound = iv(
            "w",
            Intervention::WoundCare,
            Frequency::EveryNDays { days: 1 },
            mon,
        );
        wound.window_start = Some("07:30".into());
        wound.window_end = Some("10:00".into());
        let insulin = iv(
            "i",
            Intervention::Insulin,
            Frequency::DailyAt {
                times: vec!["08:00".into(), "17:00".into()],
            },
            mon,
        );
        let v = plan_visits_on("p", &[wound, insulin], mon);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].visit_ref, "2026-11-30T0730");
        assert_eq!(v[0].interventions.len(), 2);
        assert_eq!(local_hhmm(v[0].end), "10:00");
        assert_eq!(v[1].visit_ref, "2026-11-30T1630");
        assert_eq!(parse_plan_ref(&v[1].visit_ref), Some((mon, t(16, 30))));
        assert_eq!(parse_plan_ref("0193-uuid"), None);
        let mut inputs = ScheduleInputs::default();
        inputs.plans.insert(
            "p".into(),
            vec![iv(
                "i",
                Intervention::Insulin,
                Frequency::DailyAt {
                    times: vec!["08:00".into()],
                },
                mon,
            )],
        );
        let s = day_schedule(&inputs, mon, instant(mon, t(9, 0)));
        assert_eq!(s[0].priority, VisitPriority::TimeCriticalMedication);
        assert_eq!(s[0].status, VisitStatus::Overdue);
        let s = day_schedule(&inputs, mon, instant(mon, t(8, 0)));
        assert_eq!(s[0].status, VisitStatus::Due);
    }

    #[test]
    fn travel_order_keeps_sectors_and_districts_together() {
        let pcs: Vec<Option<String>> =
            ["LS7 3AB", "LS6 2QT", "HX7 8AD", "LS6 2AA", "LS6 4XY", "bad"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect();
        let order = travel_order(&pcs, Some("LS6 1AB"));
        let names: Vec<&str> = order.iter().map(|i| pcs[*i].as_deref().unwrap()).collect();
        assert_eq!(
            names,
            vec!["LS6 2AA", "LS6 2QT", "LS6 4XY", "LS7 3AB", "HX7 8AD", "bad"]
        );
        let p = postcode_parts("ec1a 1bb").unwrap();
        assert_eq!(
            (
                p.area.as_str(),
                p.district,
                p.district_suffix.as_str(),
                p.sector
            ),
            ("EC", 1, "A", Some(1))
        );
        assert_eq!(postcode_parts("LS6").unwrap().sector, None);
        assert!(postcode_parts("123").is_none());
    }

    #[test]
    fn a_manual_order_sticks_and_new_visits_slot_in() {
        let computed = vec!["a", "b", "c", "d"];
        assert_eq!(
            merge_manual_order(&computed, &["c", "a", "b", "d"]),
            vec!["c", "a", "b", "d"]
        );
        // "x" was added since; it goes just before "b", the next of hers the computed order has.
        let computed = vec!["a", "x", "b", "c"];
        assert_eq!(
            merge_manual_order(&computed, &["c", "b", "a"]),
            vec!["c", "x", "b", "a"]
        );
        // A visit gone from the day drops out of the manual order.
        assert_eq!(
            merge_manual_order(&["a", "c"], &["c", "b", "a"]),
            vec!["c", "a"]
        );
    }
}
