//! The virtual ward (issue 13, docs/virtual-ward.md), sans-IO: admissions (step-up from a GP,
//! an ambulance crew or community services; step-down from hospital) as the virtual-ward
//! [`Episode`] with its [`WardAdmission`], discharge with a destination, who is on the ward on
//! a day, and each person's trends (NEWS2 and every parameter over time).
//!
//! An admission is an `episode:` entry (immutable, as every episode) whose `admission` holds
//! the route, the expected length of stay, the responsible clinician and the personal
//! parameters. An SpO2 target of 92 % or lower prescribes NEWS2 SpO2 scale 2: the admission
//! writes the "SpO2 scale 2" alert in the same change, so the scale rule stays the alert's
//! (`read::spo2_scale`, scale 1 while it is in conflict). Discharge is a `discharge:` entry
//! with its destination.

use automerge::AutoCommit;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::edit::{self, Delta, Edit};
use super::layout::{self, EPISODE};
use super::model::*;
use super::read::{self, ClinicalRecord, Discharge};
use super::schedule::local_date;
use crate::clinical::escalation::{EscalationBand, PersonalParameters};
use crate::clinical::news2::{ClinicalRisk, Parameter, SpO2Scale};
use crate::clinical::observations::{Consciousness, Observations};
use crate::error::{Error, Result, ValidationError};

/// The longest expected length of stay accepted, in days (virtual wards plan for about 14).
pub const MAX_EXPECTED_STAY_DAYS: u32 = 90;

/// How the person came onto the ward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AdmissionRoute {
    /// Step-up: referred by the person's GP instead of a hospital admission.
    StepUpGp,
    /// Step-up: by an ambulance crew instead of conveying to hospital.
    StepUpAmbulance,
    /// Step-up: by community services (district nursing, urgent community response).
    StepUpCommunity,
    /// Step-down: early discharge from a hospital ward onto the virtual ward.
    StepDownHospital,
}

impl AdmissionRoute {
    pub fn label(&self) -> &'static str {
        match self {
            AdmissionRoute::StepUpGp => "step-up from the GP",
            AdmissionRoute::StepUpAmbulance => "step-up from an ambulance crew",
            AdmissionRoute::StepUpCommunity => "step-up from community services",
            AdmissionRoute::StepDownHospital => "step-down from hospital",
        }
    }
}

/// What a virtual-ward admission adds to its episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WardAdmission {
    pub route: AdmissionRoute,
    pub expected_length_of_stay_days: u32,
    /// The consultant or GP with oversight ("Dr A Khan, respiratory consultant").
    pub responsible_clinician: String,
    pub parameters: PersonalParameters,
}

impl WardAdmission {
    /// Check what every copy of an admission must hold (the edit and the validator).
    pub fn validate(&self) -> Result<(), ValidationError> {
        required_short(
            "responsible clinician",
            &self.responsible_clinician,
            "name the consultant or GP with oversight",
        )?;
        let los = self.expected_length_of_stay_days;
        if los == 0 || los > MAX_EXPECTED_STAY_DAYS {
            return Err(ValidationError::OutOfRange {
                what: "expected length of stay",
                value: los.to_string(),
                unit: "days",
                min: "1".into(),
                max: MAX_EXPECTED_STAY_DAYS.to_string(),
            });
        }
        self.parameters.validate()
    }
}

/// What a clinician enters to admit someone to the virtual ward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdmissionInput {
    pub pathway: VirtualWardPathway,
    pub route: AdmissionRoute,
    /// Who referred: the practice, the ambulance service, the hospital ward.
    pub referral_source: String,
    pub referral_reason: String,
    pub admitted_on: NaiveDate,
    pub expected_length_of_stay_days: u32,
    pub responsible_clinician: String,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub parameters: PersonalParameters,
}

/// Where the person went when they left the ward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DischargeDestination {
    /// Home, under their usual care (GP).
    UsualCare,
    /// Home, with community services (district nursing, intermediate care).
    CommunityServices,
    /// Admitted or conveyed to hospital.
    Hospital,
    CareHome,
    Hospice,
    Died,
}

impl DischargeDestination {
    pub fn label(&self) -> &'static str {
        match self {
            DischargeDestination::UsualCare => "home under usual care",
            DischargeDestination::CommunityServices => "home with community services",
            DischargeDestination::Hospital => "hospital",
            DischargeDestination::CareHome => "a care home",
            DischargeDestination::Hospice => "a hospice",
            DischargeDestination::Died => "died",
        }
    }
}

/// Whether an episode is a virtual-ward one.
pub fn is_ward(e: &Episode) -> bool {
    matches!(e.service, Service::VirtualWard(_))
}

/// The virtual-ward episode the person was on during `day` (admitted on or before it, not
/// discharged before it), if any. Episodes entered in error are left out.
pub fn stay_on(c: &ClinicalRecord, day: NaiveDate) -> Option<&Episode> {
    c.episodes
        .iter()
        .filter(|e| is_ward(e) && !c.is_entered_in_error(&e.id))
        .filter(|e| e.accepted_on <= day && e.discharged_on.is_none_or(|d| day <= d))
        .max_by(|a, b| (a.accepted_on, &a.id).cmp(&(b.accepted_on, &b.id)))
}

/// True when the document holds a virtual-ward episode (so its observation sets may escalate
/// and the ward's projection rows must be derived again when one is recorded).
pub fn has_ward_episode(doc: &AutoCommit) -> Result<bool> {
    Ok(layout::entries::<Episode>(doc, EPISODE)?
        .iter()
        .any(is_ward))
}

/// The currently open virtual-ward episode, if any.
fn open_stay(c: &ClinicalRecord) -> Option<&Episode> {
    c.episodes
        .iter()
        .find(|e| is_ward(e) && e.discharged_on.is_none() && !c.is_entered_in_error(&e.id))
}

/// Admit the person to the virtual ward. Refused while they are on it already.
pub fn admit(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    input: AdmissionInput,
) -> Result<Edit<Episode>> {
    let admission = WardAdmission {
        route: input.route,
        expected_length_of_stay_days: input.expected_length_of_stay_days,
        responsible_clinician: input.responsible_clinician.trim().to_string(),
        parameters: input.parameters,
    };
    admission.validate()?;
    let before = read::clinical(person_id, doc)?;
    if let Some(e) = open_stay(&before) {
        return Err(ValidationError::Inconsistent(format!(
            "the person is on the virtual ward already (admitted {}, episode {}): discharge them first",
            e.accepted_on, e.id
        ))
        .into());
    }
    let episode_input = EpisodeInput {
        service: Service::VirtualWard(input.pathway),
        referral_source: input.referral_source,
        referral_reason: input.referral_reason,
        accepted_on: input.admitted_on,
    };
    let scale2 = admission.parameters.wants_spo2_scale2();
    let target = admission.parameters.spo2_target;
    let e = edit::add_episode_with(doc, author, episode_input, Some(admission))?.value;
    let mut summary = format!(
        "admitted to the virtual ward ({}, {}), expected stay {} days, under {}",
        pathway_label(input.pathway),
        input.route.label(),
        input.expected_length_of_stay_days,
        input.responsible_clinician.trim()
    );
    if let (true, Some(t)) = (scale2, target) {
        if read::spo2_scale(doc)? != SpO2Scale::Scale2 {
            let text = format!(
                "prescribed at admission: SpO2 target {}–{} %",
                t.low, t.high
            );
            edit::set_alert(
                doc,
                person_id,
                author,
                AlertInput {
                    kind: AlertKind::Spo2Scale2,
                    text,
                    active: true,
                },
            )?;
            summary.push_str("; SpO2 scale 2 prescribed");
        }
    }
    Ok(Edit {
        value: e,
        summary,
        deltas: vec![Delta::Clinical(Box::new(read::clinical(person_id, doc)?))],
    })
}

pub fn pathway_label(p: VirtualWardPathway) -> &'static str {
    match p {
        VirtualWardPathway::Frailty => "frailty",
        VirtualWardPathway::Copd => "COPD",
        VirtualWardPathway::HeartFailure => "heart failure",
        VirtualWardPathway::Other => "other pathway",
    }
}

/// Discharge the person from their virtual-ward episode, to a destination.
pub fn discharge(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    episode_id: &str,
    on: NaiveDate,
    destination: DischargeDestination,
    reason: &str,
) -> Result<Edit<Discharge>> {
    let before = read::clinical(person_id, doc)?;
    let episode = before
        .episodes
        .iter()
        .find(|e| e.id == episode_id)
        .ok_or_else(|| Error::NotFound {
            what: "episode",
            id: episode_id.to_string(),
        })?;
    if !is_ward(episode) {
        return Err(ValidationError::Inconsistent(format!(
            "episode {episode_id} is not a virtual-ward episode: discharge it as an episode of care"
        ))
        .into());
    }
    if let Some(d) = episode.discharged_on {
        return Err(ValidationError::Inconsistent(format!(
            "the person was discharged from this virtual-ward episode on {d} already"
        ))
        .into());
    }
    let d =
        edit::discharge_episode_to(doc, author, episode_id, on, reason, Some(destination))?.value;
    let summary = format!(
        "discharged from the virtual ward to {} on {on}: {}",
        destination.label(),
        d.reason
    );
    Ok(Edit {
        value: d,
        summary,
        deltas: vec![Delta::Clinical(Box::new(read::clinical(person_id, doc)?))],
    })
}

/// Whole days on the ward by `day` (0 on the day of admission).
pub fn length_of_stay(admitted_on: NaiveDate, day: NaiveDate) -> u32 {
    u32::try_from((day - admitted_on).num_days()).unwrap_or(0)
}

// ---------------------------------------------------------------- trends

/// What a trend shows: NEWS2 or one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum TrendMeasure {
    News2,
    RespirationRate,
    Spo2,
    /// 1 on oxygen, 0 on air.
    OnOxygen,
    SystolicBp,
    DiastolicBp,
    Pulse,
    /// ACVPU as 0 (alert) to 4 (unresponsive).
    Consciousness,
    Temperature,
}

impl TrendMeasure {
    pub const ALL: [TrendMeasure; 9] = [
        TrendMeasure::News2,
        TrendMeasure::RespirationRate,
        TrendMeasure::Spo2,
        TrendMeasure::OnOxygen,
        TrendMeasure::SystolicBp,
        TrendMeasure::DiastolicBp,
        TrendMeasure::Pulse,
        TrendMeasure::Consciousness,
        TrendMeasure::Temperature,
    ];

    pub fn unit(&self) -> &'static str {
        match self {
            TrendMeasure::News2 | TrendMeasure::OnOxygen | TrendMeasure::Consciousness => "",
            TrendMeasure::RespirationRate | TrendMeasure::Pulse => "/min",
            TrendMeasure::Spo2 => "%",
            TrendMeasure::SystolicBp | TrendMeasure::DiastolicBp => "mmHg",
            TrendMeasure::Temperature => "°C",
        }
    }

    /// The NEWS2 parameter this reading scores as (none for NEWS2 itself and diastolic).
    fn parameter(&self) -> Option<Parameter> {
        match self {
            TrendMeasure::RespirationRate => Some(Parameter::RespirationRate),
            TrendMeasure::Spo2 => Some(Parameter::OxygenSaturation),
            TrendMeasure::OnOxygen => Some(Parameter::AirOrOxygen),
            TrendMeasure::SystolicBp => Some(Parameter::SystolicBp),
            TrendMeasure::Pulse => Some(Parameter::Pulse),
            TrendMeasure::Consciousness => Some(Parameter::Consciousness),
            TrendMeasure::Temperature => Some(Parameter::Temperature),
            TrendMeasure::News2 | TrendMeasure::DiastolicBp => None,
        }
    }

    fn value(&self, o: &Observations) -> Option<f64> {
        match self {
            TrendMeasure::News2 => None,
            TrendMeasure::RespirationRate => o.respiration_rate.map(f64::from),
            TrendMeasure::Spo2 => o.spo2_percent.map(f64::from),
            TrendMeasure::OnOxygen => o.on_oxygen.map(|b| if b { 1.0 } else { 0.0 }),
            TrendMeasure::SystolicBp => o.systolic_bp.map(f64::from),
            TrendMeasure::DiastolicBp => o.diastolic_bp.map(f64::from),
            TrendMeasure::Pulse => o.pulse.map(f64::from),
            TrendMeasure::Consciousness => o.consciousness.map(acvpu),
            TrendMeasure::Temperature => o.temperature_c,
        }
    }
}

fn acvpu(c: Consciousness) -> f64 {
    match c {
        Consciousness::Alert => 0.0,
        Consciousness::NewConfusion => 1.0,
        Consciousness::Voice => 2.0,
        Consciousness::Pain => 3.0,
        Consciousness::Unresponsive => 4.0,
    }
}

/// One value of a trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TrendPoint {
    pub observations_id: String,
    #[cfg_attr(feature = "uniffi", uniffi(name = "taken_at_ms"))]
    pub taken_at: DateTime<Utc>,
    pub value: f64,
    /// What NEWS2 scored this reading (for NEWS2 itself: its risk band's order, none).
    pub sub_score: Option<u8>,
    /// For NEWS2: its risk band.
    pub risk: Option<ClinicalRisk>,
    /// "assumed on air, alert" when the point's score rests on values no reading gave (a
    /// home-monitoring set): NEWS2 and the assumed parameters themselves.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub assumed: Option<String>,
}

/// One measure over time, oldest first. A set that did not record it (or, for NEWS2, an
/// incomplete set, which has no total) leaves a gap: it is listed in `gaps`, never drawn as 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TrendSeries {
    pub measure: TrendMeasure,
    pub unit: String,
    pub points: Vec<TrendPoint>,
    /// Ids of the sets in the period without this measure.
    pub gaps: Vec<String>,
}

/// A person's trends over a period: the data a chart needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Trends {
    pub person_id: String,
    /// One series per [`TrendMeasure`], in its order.
    pub series: Vec<TrendSeries>,
    /// The SpO2 scale of each set is in its NEWS2; true when the period mixes scales.
    pub mixed_spo2_scales: bool,
}

/// Every observation set of the record taken in `[from, to)` (none: unbounded), entries marked
/// entered in error left out, as one series per measure.
pub fn trends(
    person_id: &str,
    c: &ClinicalRecord,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Trends {
    let mut sets: Vec<&ObservationSet> = c
        .observations
        .iter()
        .filter(|o| !c.is_entered_in_error(&o.id))
        .filter(|o| from.is_none_or(|f| o.taken_at >= f) && to.is_none_or(|t| o.taken_at < t))
        .collect();
    sets.sort_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)));
    let series = TrendMeasure::ALL
        .into_iter()
        .map(|m| series_of(m, &sets))
        .collect();
    let first_scale = sets.first().map(|s| s.news2.scale);
    Trends {
        person_id: person_id.to_string(),
        series,
        mixed_spo2_scales: sets.iter().any(|s| Some(s.news2.scale) != first_scale),
    }
}

fn series_of(m: TrendMeasure, sets: &[&ObservationSet]) -> TrendSeries {
    let mut points = Vec::new();
    let mut gaps = Vec::new();
    for s in sets {
        let value = match m {
            TrendMeasure::News2 => s.news2.total.map(f64::from),
            _ => m.value(&s.observations),
        };
        let Some(value) = value else {
            gaps.push(s.id.clone());
            continue;
        };
        let sub_score = m.parameter().and_then(|p| {
            s.news2
                .sub_scores
                .iter()
                .find(|x| x.parameter == p)
                .map(|x| x.score)
        });
        points.push(TrendPoint {
            observations_id: s.id.clone(),
            taken_at: s.taken_at,
            value,
            sub_score,
            risk: if m == TrendMeasure::News2 {
                s.news2.risk
            } else {
                None
            },
            assumed: rests_on_assumption(m, s),
        });
    }
    TrendSeries {
        measure: m,
        unit: m.unit().to_string(),
        points,
        gaps,
    }
}

/// The assumption a point of `m` rests on: NEWS2's whenever anything was assumed, a parameter's
/// when that parameter was.
fn rests_on_assumption(m: TrendMeasure, s: &ObservationSet) -> Option<String> {
    let affected =
        m == TrendMeasure::News2 || m.parameter().is_some_and(|p| s.assumed.contains(&p));
    affected.then(|| s.assumed_words()).flatten()
}

/// One person on the ward, as the census lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CensusEntry {
    pub person_id: String,
    pub display_name: String,
    pub episode_id: String,
    pub pathway: VirtualWardPathway,
    /// None for a virtual-ward episode recorded before admissions had details.
    pub route: Option<AdmissionRoute>,
    pub responsible_clinician: Option<String>,
    pub admitted_on: NaiveDate,
    /// Whole days since admission (0 on the day of admission), London days.
    pub length_of_stay_days: u32,
    pub expected_length_of_stay_days: Option<u32>,
    /// Longer on the ward than expected at admission.
    pub beyond_expected_stay: bool,
    pub latest_news2: Option<u8>,
    pub latest_news2_risk: Option<ClinicalRisk>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "latest_news2_at_ms"))]
    pub latest_news2_at: Option<DateTime<Utc>>,
    /// "assumed on air, alert" when the latest NEWS2 assumed what no reading gave.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub latest_news2_assumed: Option<String>,
    pub open_escalations: u32,
    /// The highest band among the open escalations.
    pub highest_open_band: Option<EscalationBand>,
}

/// A person's census row on `day`, worked out from their record (the server's hub screen; the
/// phone reads the same from its projections, `FieldStore::ward_census`). `None` when they are
/// not on the ward that day.
pub fn census_entry(
    person_id: &str,
    display_name: &str,
    c: &ClinicalRecord,
    day: NaiveDate,
) -> Option<CensusEntry> {
    let stay = stay_on(c, day)?;
    let Service::VirtualWard(pathway) = stay.service else {
        return None;
    };
    let a = stay.admission.as_ref();
    let los = length_of_stay(stay.accepted_on, day);
    let expected = a.map(|a| a.expected_length_of_stay_days);
    let latest = c
        .observations
        .iter()
        .filter(|o| !c.is_entered_in_error(&o.id))
        .max_by(|x, y| (x.taken_at, &x.id).cmp(&(y.taken_at, &y.id)));
    let open: Vec<&super::escalation::Escalation> = c
        .escalations
        .iter()
        .filter(|e| e.status.is_open())
        .collect();
    Some(CensusEntry {
        person_id: person_id.to_string(),
        display_name: display_name.to_string(),
        episode_id: stay.id.clone(),
        pathway,
        route: a.map(|a| a.route),
        responsible_clinician: a.map(|a| a.responsible_clinician.clone()),
        admitted_on: stay.accepted_on,
        length_of_stay_days: los,
        expected_length_of_stay_days: expected,
        beyond_expected_stay: expected.is_some_and(|x| los > x),
        latest_news2: latest.and_then(|o| o.news2.total),
        latest_news2_risk: latest.and_then(|o| o.news2.risk),
        latest_news2_at: latest.map(|o| o.taken_at),
        latest_news2_assumed: latest.and_then(|o| o.assumed_words()),
        open_escalations: open.len() as u32,
        highest_open_band: open.iter().map(|e| e.band).min(),
    })
}

/// The London day an instant falls on (days on the ward are local days: decision 0007).
pub fn ward_day(t: DateTime<Utc>) -> NaiveDate {
    local_date(t)
}

#[cfg(test)]
pub(crate) mod tests;
