//! Care plans (issue 12): problems → goals → interventions, each intervention with a frequency
//! from which the day's visits are worked out when read ([`super::schedule`]).
//!
//! Every problem, goal and intervention is its own single-value register under a flat key
//! (`cp_problem:<id>`, `cp_goal:<id>`, `cp_int:<id>`; the review date `cp_review`), so edits of
//! different goals merge and concurrent edits of the same one are kept by Automerge as
//! conflicting values, surfaced by [`super::conflict`] with both authors. The first release's
//! single `care_plan` value is read as the plan's first version ([`first_version`]).

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use super::model::*;
use crate::error::ValidationError;

/// How urgent a visit is. Ordered: the first is the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum VisitPriority {
    /// Medication that must be given at its time (insulin, a syringe driver).
    TimeCriticalMedication,
    EndOfLife,
    Wound,
    Routine,
}

impl VisitPriority {
    pub fn label(&self) -> &'static str {
        match self {
            VisitPriority::TimeCriticalMedication => "time-critical medication",
            VisitPriority::EndOfLife => "end of life",
            VisitPriority::Wound => "wound",
            VisitPriority::Routine => "routine",
        }
    }

    /// The priority an intervention has unless the plan or the nurse says otherwise.
    pub fn of_kind(kind: &Intervention) -> VisitPriority {
        match kind {
            Intervention::Insulin => VisitPriority::TimeCriticalMedication,
            Intervention::PalliativeCare => VisitPriority::EndOfLife,
            Intervention::WoundCare => VisitPriority::Wound,
            _ => VisitPriority::Routine,
        }
    }
}

/// A day of the week (Monday first), for "every Monday and Thursday".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DayOfWeek {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl DayOfWeek {
    pub fn of(d: NaiveDate) -> DayOfWeek {
        match d.weekday() {
            Weekday::Mon => DayOfWeek::Monday,
            Weekday::Tue => DayOfWeek::Tuesday,
            Weekday::Wed => DayOfWeek::Wednesday,
            Weekday::Thu => DayOfWeek::Thursday,
            Weekday::Fri => DayOfWeek::Friday,
            Weekday::Sat => DayOfWeek::Saturday,
            Weekday::Sun => DayOfWeek::Sunday,
        }
    }
}

/// How often an intervention is due. Local times are `"HH:MM"`, Europe/London.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case", tag = "every")]
pub enum Frequency {
    /// At these local times every day ("insulin 08:00 and 17:00 daily"); each time is a visit
    /// whose window is the time ± the intervention's tolerance.
    DailyAt { times: Vec<String> },
    /// On this many days of each week counted from the start date, spread evenly ("dressing
    /// change 3× weekly": days 0, 2 and 4 of every week from the start).
    TimesPerWeek { times: u8 },
    /// On these days of the week.
    OnWeekdays { days: Vec<DayOfWeek> },
    /// Every this many days from the start date (1 = daily).
    EveryNDays { days: u16 },
    /// Only when needed: never scheduled.
    AsNeeded,
}

impl Frequency {
    pub fn describe(&self) -> String {
        match self {
            Frequency::DailyAt { times } => format!("{} daily", times.join(" and ")),
            Frequency::TimesPerWeek { times } => format!("{times}× weekly"),
            Frequency::OnWeekdays { days } => {
                let d: Vec<String> = days.iter().map(|d| format!("{d:?}")).collect();
                format!("every {}", d.join(", "))
            }
            Frequency::EveryNDays { days: 1 } => "daily".into(),
            Frequency::EveryNDays { days } => format!("every {days} days"),
            Frequency::AsNeeded => "as needed".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    Active,
    Achieved,
    Stopped,
}

/// A problem the plan addresses ("leg ulcer, left gaiter").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlanProblem {
    pub id: String,
    pub text: String,
    pub active: bool,
    pub author: Author,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct GoalInput {
    pub problem_id: String,
    pub text: String,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub target_date: Option<NaiveDate>,
    pub status: GoalStatus,
}

/// A goal of a problem ("wound healed by 31 January").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlanGoal {
    pub id: String,
    pub problem_id: String,
    pub text: String,
    pub target_date: Option<NaiveDate>,
    pub status: GoalStatus,
    pub author: Author,
}

/// What a nurse enters for an intervention of a goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlanInterventionInput {
    pub goal_id: String,
    pub kind: Intervention,
    /// "Dressing change (Aquacel, Kerramax)", "NovoMix 30 insulin".
    pub description: String,
    pub frequency: Frequency,
    /// For frequencies without times: the visit's window, local "HH:MM" (default 09:00–17:00).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub window_start: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub window_end: Option<String>,
    /// For [`Frequency::DailyAt`]: minutes either side of each time (default 30).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub tolerance_minutes: Option<u16>,
    /// Overrides the priority of the kind ([`VisitPriority::of_kind`]).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub priority: Option<VisitPriority>,
    /// User id of the nurse the visits are allocated to; none: the team's.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub clinician: Option<String>,
    pub starts_on: NaiveDate,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub ends_on: Option<NaiveDate>,
    pub contact_type: ContactType,
}

/// An intervention as the plan holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlanIntervention {
    pub id: String,
    pub goal_id: String,
    pub kind: Intervention,
    pub description: String,
    pub frequency: Frequency,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub tolerance_minutes: Option<u16>,
    pub priority: Option<VisitPriority>,
    pub clinician: Option<String>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub contact_type: ContactType,
    /// False once the intervention is stopped: it is no longer scheduled.
    pub active: bool,
    pub author: Author,
}

impl PlanIntervention {
    pub fn priority(&self) -> VisitPriority {
        self.priority
            .unwrap_or_else(|| VisitPriority::of_kind(&self.kind))
    }

    pub fn label(&self) -> String {
        format!("{} ({})", self.description, self.frequency.describe())
    }
}

/// The review date of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlanReview {
    pub review_date: NaiveDate,
    pub author: Author,
}

/// A person's care plan as the app shows it. Where a problem, goal or intervention has
/// concurrent values, the one shown is Automerge's deterministic winner and `conflicts` names
/// it (resolve with `resolve_field_conflict`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CarePlanView {
    pub problems: Vec<PlanProblem>,
    pub goals: Vec<PlanGoal>,
    pub interventions: Vec<PlanIntervention>,
    pub review_date: Option<NaiveDate>,
    /// Ids of the problems, goals and interventions (and "review") that are in conflict.
    pub in_conflict: Vec<String>,
    /// True when part of the plan is the first release's single care plan, read as version 1
    /// (problem `first-version`, goals `first-version-goal-<n>`, interventions
    /// `first-version-intervention-<n>`, as needed). Editing one of them writes it as a new-style
    /// item with the same id.
    pub first_version: bool,
}

impl CarePlanView {
    /// The intervention's goal and problem are both still open.
    pub fn is_live(&self, i: &PlanIntervention) -> bool {
        let goal = self.goals.iter().find(|g| g.id == i.goal_id);
        let problem = goal.and_then(|g| self.problems.iter().find(|p| p.id == g.problem_id));
        i.active
            && goal.is_some_and(|g| g.status == GoalStatus::Active)
            && problem.is_some_and(|p| p.active)
    }
}

/// The ids the first version's items are read under.
pub const FIRST_VERSION_PROBLEM: &str = "first-version";

/// The first release's single care plan, read as the plan's first version: one problem, its
/// goals, and its interventions as needed (the first release had no frequencies), all authored
/// by whoever last set it.
pub fn first_version(plan: &CarePlan, author: &Author, starts_on: NaiveDate) -> CarePlanView {
    let problem = PlanProblem {
        id: FIRST_VERSION_PROBLEM.into(),
        text: "Care plan (first version)".into(),
        active: true,
        author: author.clone(),
    };
    let goals: Vec<PlanGoal> = plan
        .goals
        .iter()
        .enumerate()
        .map(|(i, g)| PlanGoal {
            id: format!("{FIRST_VERSION_PROBLEM}-goal-{i}"),
            problem_id: FIRST_VERSION_PROBLEM.into(),
            text: g.clone(),
            target_date: None,
            status: GoalStatus::Active,
            author: author.clone(),
        })
        .collect();
    let goal_id = goals
        .first()
        .map(|g| g.id.clone())
        .unwrap_or_else(|| format!("{FIRST_VERSION_PROBLEM}-goal-0"));
    let interventions = plan
        .interventions
        .iter()
        .enumerate()
        .map(|(i, text)| PlanIntervention {
            id: format!("{FIRST_VERSION_PROBLEM}-intervention-{i}"),
            goal_id: goal_id.clone(),
            kind: Intervention::Other(text.clone()),
            description: text.clone(),
            frequency: Frequency::AsNeeded,
            window_start: None,
            window_end: None,
            tolerance_minutes: None,
            priority: None,
            clinician: None,
            starts_on,
            ends_on: None,
            contact_type: ContactType::HomeVisit,
            active: true,
            author: author.clone(),
        })
        .collect();
    CarePlanView {
        problems: vec![problem],
        goals,
        interventions,
        review_date: plan.review_date,
        in_conflict: Vec::new(),
        first_version: true,
    }
}

// ---------------------------------------------------------------- validation

/// Parse a local time of day, `"HH:MM"`.
pub fn parse_hhmm(field: &'static str, s: &str) -> Result<NaiveTime, ValidationError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| ValidationError::Invalid {
        field,
        reason: format!("'{s}' is not a time of day: use the 24-hour form HH:MM, e.g. 08:00"),
    })
}

/// The most visits a day may hold for one intervention (insulin four times a day is the most
/// seen; eight leaves room for a syringe-driver check every three hours).
pub const MAX_TIMES_A_DAY: usize = 8;
/// The longest tolerance either side of a timed dose.
pub const MAX_TOLERANCE_MINUTES: u16 = 180;
/// How far ahead a plan may start or a visit be moved.
pub const MAX_DAYS_AHEAD: i64 = 366;

impl PlanInterventionInput {
    /// Check the whole input; normalises times to "HH:MM".
    pub fn validated(mut self) -> Result<Self, ValidationError> {
        self.description = required_short(
            "intervention description",
            &self.description,
            "say what is to be done, e.g. \"dressing change\"",
        )?;
        if let Intervention::Other(s) = &self.kind {
            required_short("other intervention", s, "name the intervention")?;
        }
        if self.goal_id.trim().is_empty() {
            return Err(ValidationError::MissingField {
                field: "goal",
                hint: "choose the goal this intervention serves",
            });
        }
        match &mut self.frequency {
            Frequency::DailyAt { times } => {
                if times.is_empty() || times.len() > MAX_TIMES_A_DAY {
                    return Err(ValidationError::Invalid {
                        field: "frequency times",
                        reason: format!(
                            "{} times a day: give between 1 and {MAX_TIMES_A_DAY}",
                            times.len()
                        ),
                    });
                }
                let mut parsed = Vec::new();
                for t in times.iter() {
                    parsed.push(parse_hhmm("frequency time", t)?);
                }
                parsed.sort();
                parsed.dedup();
                *times = parsed
                    .iter()
                    .map(|t| t.format("%H:%M").to_string())
                    .collect();
            }
            Frequency::TimesPerWeek { times } => {
                if !(1..=7).contains(times) {
                    return Err(ValidationError::OutOfRange {
                        what: "times a week",
                        value: times.to_string(),
                        unit: "times",
                        min: "1".into(),
                        max: "7".into(),
                    });
                }
            }
            Frequency::OnWeekdays { days } => {
                if days.is_empty() {
                    return Err(ValidationError::MissingField {
                        field: "days of the week",
                        hint: "choose at least one day",
                    });
                }
            }
            Frequency::EveryNDays { days } => {
                if !(1..=365).contains(days) {
                    return Err(ValidationError::OutOfRange {
                        what: "interval",
                        value: days.to_string(),
                        unit: "days",
                        min: "1".into(),
                        max: "365".into(),
                    });
                }
            }
            Frequency::AsNeeded => {}
        }
        if let Some(t) = self.tolerance_minutes {
            if t > MAX_TOLERANCE_MINUTES {
                return Err(ValidationError::OutOfRange {
                    what: "tolerance",
                    value: t.to_string(),
                    unit: "minutes",
                    min: "0".into(),
                    max: MAX_TOLERANCE_MINUTES.to_string(),
                });
            }
        }
        let start = self
            .window_start
            .as_deref()
            .map(|s| parse_hhmm("window start", s))
            .transpose()?;
        let end = self
            .window_end
            .as_deref()
            .map(|s| parse_hhmm("window end", s))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                return Err(ValidationError::Invalid {
                    field: "window end",
                    reason: "the window ends before it starts: check the times".into(),
                });
            }
        }
        self.window_start = start.map(|t| t.format("%H:%M").to_string());
        self.window_end = end.map(|t| t.format("%H:%M").to_string());
        if let Some(end) = self.ends_on {
            if end < self.starts_on {
                return Err(ValidationError::Invalid {
                    field: "end date",
                    reason: format!(
                        "the intervention ends on {end}, before it starts ({}): check the dates",
                        self.starts_on
                    ),
                });
            }
        }
        if let Some(c) = &self.clinician {
            short("clinician", c)?;
        }
        Ok(self)
    }
}

impl GoalInput {
    pub fn validated(mut self) -> Result<Self, ValidationError> {
        self.text = required_text("goal", &self.text, "say what the care aims for")?;
        if self.problem_id.trim().is_empty() {
            return Err(ValidationError::MissingField {
                field: "problem",
                hint: "choose the problem this goal belongs to",
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(frequency: Frequency) -> PlanInterventionInput {
        PlanInterventionInput {
            goal_id: "g".into(),
            kind: Intervention::Insulin,
            description: "insulin".into(),
            frequency,
            window_start: None,
            window_end: None,
            tolerance_minutes: None,
            priority: None,
            clinician: None,
            starts_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            ends_on: None,
            contact_type: ContactType::HomeVisit,
        }
    }

    #[test]
    fn times_are_normalised_and_bad_ones_name_the_field() {
        let ok = input(Frequency::DailyAt {
            times: vec!["17:00".into(), "8:00".into(), "08:00".into()],
        })
        .validated()
        .unwrap();
        assert_eq!(
            ok.frequency,
            Frequency::DailyAt {
                times: vec!["08:00".into(), "17:00".into()]
            }
        );
        let e = input(Frequency::DailyAt {
            times: vec!["25:00".into()],
        })
        .validated()
        .unwrap_err();
        assert!(e.to_string().starts_with("frequency time:"), "{e}");
        let e = input(Frequency::TimesPerWeek { times: 9 })
            .validated()
            .unwrap_err();
        assert!(e.to_string().contains("times a week"), "{e}");
        let mut i = input(Frequency::TimesPerWeek { times: 3 });
        i.window_start = Some("12:00".into());
        i.window_end = Some("09:00".into());
        assert!(i
            .validated()
            .unwrap_err()
            .to_string()
            .starts_with("window end"));
    }

    #[test]
    fn priority_comes_from_the_kind_unless_set() {
        let a = Author {
            user_id: "u".into(),
            display_name: "U".into(),
            role: Role::DistrictNurse,
            device_id: "d".into(),
            at: chrono::Utc::now(),
        };
        let plan = CarePlan {
            goals: vec!["Heal the ulcer".into()],
            interventions: vec!["Dressing".into()],
            review_date: None,
        };
        let v = first_version(&plan, &a, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert!(v.first_version);
        assert_eq!(v.interventions[0].goal_id, v.goals[0].id);
        assert!(v.is_live(&v.interventions[0]));
        assert_eq!(v.interventions[0].priority(), VisitPriority::Routine);
        assert_eq!(
            VisitPriority::of_kind(&Intervention::Insulin),
            VisitPriority::TimeCriticalMedication
        );
        assert!(VisitPriority::TimeCriticalMedication < VisitPriority::Routine);
    }
}
