//! The shapes of what a person's record holds. These are plain data: how they are laid out in
//! Automerge documents is in [`super::layout`], how they are checked is in their `validate` methods.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::dictionary::{EthnicCategory, StatedGender};
use crate::clinical::news2::News2Result;
use crate::clinical::observations::Observations;
use crate::error::ValidationError;

/// Longest free text accepted in one field (a visit note is typically a few hundred characters).
pub const MAX_TEXT: usize = 20_000;
/// Longest short field (a name, a phone number, an alert summary).
pub const MAX_SHORT: usize = 500;

/// What a user does: this decides which compartments they may read (see docs/access.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    DistrictNurse,
    VirtualWardClinician,
    AdviceWorker,
}

impl Role {
    pub fn label(&self) -> &'static str {
        match self {
            Role::DistrictNurse => "district nurse",
            Role::VirtualWardClinician => "virtual-ward clinician",
            Role::AdviceWorker => "advice worker",
        }
    }
}

/// The person using this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub role: Role,
    pub team: String,
}

/// Who made a change, stamped on every entry and every Automerge change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Author {
    pub user_id: String,
    pub display_name: String,
    pub role: Role,
    pub device_id: String,
    #[cfg_attr(feature = "uniffi", uniffi(name = "at_ms"))]
    pub at: DateTime<Utc>,
}

/// The three documents that make up one person's record; each is synced and access-controlled
/// as a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Compartment {
    Demographics,
    Clinical,
    Advice,
}

impl Compartment {
    pub const ALL: [Compartment; 3] = [
        Compartment::Demographics,
        Compartment::Clinical,
        Compartment::Advice,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Compartment::Demographics => "demographics",
            Compartment::Clinical => "clinical",
            Compartment::Advice => "advice",
        }
    }

    pub fn parse(s: &str) -> Option<Compartment> {
        Compartment::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

// ---------------------------------------------------------------- demographics

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Contact {
    pub name: String,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub relationship: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Address {
    pub lines: Vec<String>,
    pub postcode: String,
}

/// Who the person is and how to reach them. Every field but the names is optional: a Citizens
/// Advice client may have no NHS number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Demographics {
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub nhs_number: Option<String>,
    pub given_name: String,
    pub family_name: String,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub preferred_name: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub date_of_birth: Option<NaiveDate>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub address: Option<Address>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub phone: Option<String>,
    /// Key safe, parking, dog, which door: what the visitor needs to get in.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub access_notes: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub gp_practice: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub next_of_kin: Option<Contact>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub carer: Option<Contact>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub preferred_language: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub communication_needs: Option<String>,
    // ---- what national returns need (issue 15 item 4, layout 7): absent in older records
    /// The gender the person states (PERSON STATED GENDER CODE); empty if never asked.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub stated_gender: Option<StatedGender>,
    /// The ethnic category the person states (ETHNIC CATEGORY); empty if never asked.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub ethnic_category: Option<EthnicCategory>,
    /// The GP practice's ODS code, e.g. "B82033", beside the practice's name in `gp_practice`.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub gp_practice_ods: Option<String>,
    // ---- layout 9 (issue 15 item 3): a verified NHS number, from a summary that says so
    /// The NHS number as a system that traced it against PDS (the Personal Demographics Service)
    /// gave it: set by the import of a GP summary whose NHS number is "Number present and
    /// verified". The number counts as verified only while it equals `nhs_number`
    /// ([`Demographics::nhs_number_verified_now`]), so a number corrected by hand, or merged
    /// from another device, goes back to "present but not traced" by itself. Keep what
    /// `patient()` returned when editing other fields; Doorstep itself never traces a number.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub nhs_number_verified: Option<String>,
}

impl Demographics {
    /// Whether the NHS number held is one a tracing system verified (NHS NUMBER STATUS
    /// INDICATOR CODE `01`, else `02` for a number present but not traced).
    pub fn nhs_number_verified_now(&self) -> bool {
        matches!(
            (&self.nhs_number, &self.nhs_number_verified),
            (Some(n), Some(v)) if n == v
        )
    }

    /// Check and normalise (NHS number without spaces, postcode upper-case).
    pub fn validated(mut self, today: NaiveDate) -> Result<Self, ValidationError> {
        self.given_name = required_short(
            "given name",
            &self.given_name,
            "enter the person's first name",
        )?;
        self.family_name = required_short(
            "family name",
            &self.family_name,
            "enter the person's surname",
        )?;
        if let Some(n) = self
            .nhs_number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            self.nhs_number = Some(crate::clinical::nhs_number::validate(n)?);
        } else {
            self.nhs_number = None;
        }
        self.nhs_number_verified = match self.nhs_number_verified.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => Some(crate::clinical::nhs_number::validate(n)?),
            _ => None,
        };
        if let Some(dob) = self.date_of_birth {
            if dob > today {
                return Err(ValidationError::DateInFuture {
                    what: "date of birth",
                    value: dob.to_string(),
                });
            }
        }
        if let Some(a) = self.address.as_mut() {
            a.postcode = normalise_postcode(&a.postcode);
            for l in &a.lines {
                short("address line", l)?;
            }
        }
        for (field, v) in [
            ("phone", &self.phone),
            ("GP practice", &self.gp_practice),
            ("preferred name", &self.preferred_name),
            ("preferred language", &self.preferred_language),
        ] {
            if let Some(v) = v {
                short(field, v)?;
            }
        }
        self.gp_practice_ods = match self.gp_practice_ods.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => Some(super::dictionary::gp_practice_code(code)?),
            _ => None,
        };
        for (field, v) in [
            ("access notes", &self.access_notes),
            ("communication needs", &self.communication_needs),
        ] {
            if let Some(v) = v {
                text(field, v)?;
            }
        }
        Ok(self)
    }

    pub fn display_name(&self) -> String {
        match &self.preferred_name {
            Some(p) if !p.is_empty() => format!("{} ({}) {}", self.given_name, p, self.family_name),
            _ => format!("{} {}", self.given_name, self.family_name),
        }
    }
}

/// Postcodes are compared upper-case with one space before the inward code ("LS1 4AP").
pub fn normalise_postcode(p: &str) -> String {
    let compact: String = p
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if compact.len() > 3 {
        let (out, inw) = compact.split_at(compact.len() - 3);
        format!("{out} {inw}")
    } else {
        compact
    }
}

// ---------------------------------------------------------------- alerts

/// The kinds of alert a visitor must see before they knock. All are safety-critical: concurrent
/// edits are surfaced as [`ClinicalConflict`]s, never resolved by the merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Allergies,
    /// DNACPR or ReSPECT status.
    Resuscitation,
    Safeguarding,
    /// Risk to staff / lone-worker warning.
    RiskToStaff,
    InfectionStatus,
    /// Whether SpO2 scale 2 is prescribed (hypercapnic respiratory failure): it changes the NEWS2
    /// score, so it is handled like an alert.
    Spo2Scale2,
}

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::Allergies,
        AlertKind::Resuscitation,
        AlertKind::Safeguarding,
        AlertKind::RiskToStaff,
        AlertKind::InfectionStatus,
        AlertKind::Spo2Scale2,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            AlertKind::Allergies => "allergies",
            AlertKind::Resuscitation => "resuscitation",
            AlertKind::Safeguarding => "safeguarding",
            AlertKind::RiskToStaff => "risk_to_staff",
            AlertKind::InfectionStatus => "infection_status",
            AlertKind::Spo2Scale2 => "spo2_scale2",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            AlertKind::Allergies => "allergies",
            AlertKind::Resuscitation => "DNACPR / ReSPECT status",
            AlertKind::Safeguarding => "safeguarding",
            AlertKind::RiskToStaff => "risk to staff",
            AlertKind::InfectionStatus => "infection status",
            AlertKind::Spo2Scale2 => "SpO2 scale 2 prescription",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a clinician sets for one alert kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AlertInput {
    pub kind: AlertKind,
    /// What the visitor must know, e.g. "Penicillin: anaphylaxis", "DNACPR in place (form in blue folder)",
    /// or for SpO2 scale 2 "prescribed, target 88–92 %".
    pub text: String,
    /// False records that the alert no longer applies (e.g. "No known drug allergies" stays a value).
    pub active: bool,
}

/// One value of an alert, with who set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AlertValue {
    pub kind: AlertKind,
    pub text: String,
    pub active: bool,
    pub author: Author,
}

/// An alert as the record shows it: one value, or — while a clinical conflict is open — every
/// concurrent value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Alert {
    pub kind: AlertKind,
    pub values: Vec<AlertValue>,
    /// True while more than one value stands (a clinician must resolve it).
    pub in_conflict: bool,
}

impl Alert {
    /// The alert of `kind` with these values (in conflict when there is more than one).
    pub fn new(kind: AlertKind, values: Vec<AlertValue>) -> Self {
        Alert {
            kind,
            in_conflict: values.len() > 1,
            values,
        }
    }
}

/// Concurrent values of a safety-critical field, shown together until a clinician resolves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ClinicalConflict {
    /// Stable across devices: person, field and the values' ids.
    pub id: String,
    pub person_id: String,
    pub kind: AlertKind,
    /// Every concurrent value, each with its author, device and time (oldest first).
    pub values: Vec<AlertValue>,
}

// ---------------------------------------------------------------- care

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum VirtualWardPathway {
    Frailty,
    Copd,
    HeartFailure,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case", tag = "service", content = "pathway")]
pub enum Service {
    DistrictNursing,
    VirtualWard(VirtualWardPathway),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EpisodeInput {
    pub service: Service,
    pub referral_source: String,
    pub referral_reason: String,
    pub accepted_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Episode {
    pub id: String,
    pub service: Service,
    pub referral_source: String,
    pub referral_reason: String,
    pub accepted_on: NaiveDate,
    pub discharged_on: Option<NaiveDate>,
    pub author: Author,
    /// A virtual-ward admission's route, expected stay, responsible clinician and personal
    /// parameters (issue 13, `record::ward`); absent for district nursing and older episodes.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<super::ward::WardAdmission>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ContactType {
    HomeVisit,
    Telephone,
    Video,
}

impl ContactType {
    pub fn label(&self) -> &'static str {
        match self {
            ContactType::HomeVisit => "home visit",
            ContactType::Telephone => "telephone contact",
            ContactType::Video => "video contact",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum VisitOutcome {
    Completed,
    NoAccess,
    Declined,
    Rescheduled,
}

impl VisitOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            VisitOutcome::Completed => "completed",
            VisitOutcome::NoAccess => "no access",
            VisitOutcome::Declined => "declined",
            VisitOutcome::Rescheduled => "rescheduled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Intervention {
    WoundCare,
    Insulin,
    CatheterCare,
    MedicationPrompt,
    Venepuncture,
    PalliativeCare,
    Other(String),
}

impl Intervention {
    pub fn label(&self) -> String {
        match self {
            Intervention::WoundCare => "wound care".into(),
            Intervention::Insulin => "insulin".into(),
            Intervention::CatheterCare => "catheter care".into(),
            Intervention::MedicationPrompt => "medication prompt".into(),
            Intervention::Venepuncture => "venepuncture".into(),
            Intervention::PalliativeCare => "palliative care".into(),
            Intervention::Other(s) => s.clone(),
        }
    }
}

/// A visit booked ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlannedVisitInput {
    #[cfg_attr(feature = "uniffi", uniffi(name = "planned_start_ms"))]
    pub planned_start: DateTime<Utc>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "planned_end_ms", default))]
    pub planned_end: Option<DateTime<Utc>>,
    /// User id of the clinician it is booked for, if any.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub clinician: Option<String>,
    pub contact_type: ContactType,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlannedVisit {
    pub id: String,
    #[cfg_attr(feature = "uniffi", uniffi(name = "planned_start_ms"))]
    pub planned_start: DateTime<Utc>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "planned_end_ms"))]
    pub planned_end: Option<DateTime<Utc>>,
    pub clinician: Option<String>,
    pub contact_type: ContactType,
    pub purpose: Option<String>,
    pub author: Author,
}

/// A contact as it happened. Once recorded it is never edited: a correction is a new entry, and a
/// mistake is marked entered-in-error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitInput {
    /// The planned visit this fulfils, if it was booked.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub planned_visit_id: Option<String>,
    pub contact_type: ContactType,
    #[cfg_attr(feature = "uniffi", uniffi(name = "started_at_ms"))]
    pub started_at: DateTime<Utc>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "ended_at_ms", default))]
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: VisitOutcome,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub interventions: Vec<Intervention>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub note: Option<String>,
    /// Observations taken at the visit, if any; they are scored with NEWS2.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub observations: Option<Observations>,
    // ---- the district nurse's day (issue 12)
    /// The scheduled visit this is the outcome of: a care-plan visit's ref (`2026-12-01T0800`)
    /// or a booked visit's id (see `record::schedule`).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub scheduled_visit: Option<String>,
    /// Why the visit did not go ahead (required for no access and declined on a scheduled visit).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub outcome_reason: Option<String>,
    /// Ids of the care-plan interventions done at this visit.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub interventions_done: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Visit {
    pub id: String,
    pub planned_visit_id: Option<String>,
    pub contact_type: ContactType,
    #[cfg_attr(feature = "uniffi", uniffi(name = "started_at_ms"))]
    pub started_at: DateTime<Utc>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "ended_at_ms"))]
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: VisitOutcome,
    pub interventions: Vec<Intervention>,
    pub note: Option<String>,
    /// Id of the observation set taken at this visit.
    pub observations_id: Option<String>,
    pub author: Author,
    // ---- the district nurse's day (issue 12); absent in visits from the first release
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_visit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interventions_done: Vec<String>,
}

/// A stored observation set with the NEWS2 it scored when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ObservationSet {
    pub id: String,
    pub visit_id: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "taken_at_ms"))]
    pub taken_at: DateTime<Utc>,
    pub observations: Observations,
    pub news2: News2Result,
    pub author: Author,
    // ---- sets of home-monitoring readings (issue 13, layout 5; `record::home`)
    /// Parameters scored with the person's recorded values instead of a reading (air or oxygen,
    /// consciousness): every score shown from this set says so ("assumed on air, alert").
    /// Always empty for a set a clinician recorded.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumed: Vec<crate::clinical::news2::Parameter>,
    /// For a set the server assembled from home-monitoring readings: when it opened and how many
    /// readings it holds. None for a set a clinician recorded.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<HomeReadings>,
}

impl ObservationSet {
    /// "assumed on air, alert" when parameters were assumed: shown beside every score of it.
    pub fn assumed_words(&self) -> Option<String> {
        crate::clinical::readings::assumed_words(
            &self.assumed,
            self.observations.on_oxygen.unwrap_or(false),
        )
    }
}

/// What a home-monitoring set was made of (issue 13): the readings a monitoring integration
/// posted within its hour. The raw readings stay on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HomeReadings {
    /// The set's first reading; it takes readings for 60 minutes from then.
    #[cfg_attr(feature = "uniffi", uniffi(name = "opened_at_ms"))]
    pub opened_at: DateTime<Utc>,
    /// How many readings it holds (the latest of each kind counts).
    pub readings: u32,
}

/// What `record_visit` returns: the visit as stored and, if observations were taken, the stored
/// set and its NEWS2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RecordedVisit {
    pub visit: Visit,
    pub observations: Option<ObservationSet>,
    pub news2: Option<News2Result>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Note {
    pub id: String,
    pub visit_id: Option<String>,
    pub text: String,
    pub author: Author,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CarePlan {
    pub goals: Vec<String>,
    pub interventions: Vec<String>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub review_date: Option<NaiveDate>,
}

/// The marker that an entry was a mistake. The entry itself stays, with this beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EnteredInError {
    pub entry_id: String,
    pub reason: String,
    pub author: Author,
}

// ---------------------------------------------------------------- advice

pub use super::outreach::AdviceCategory;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdviceNeed {
    pub id: String,
    pub category: AdviceCategory,
    pub description: String,
    pub author: Author,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdviceAction {
    pub id: String,
    pub need_id: String,
    pub description: String,
    pub author: Author,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdviceOutcome {
    pub id: String,
    pub need_id: String,
    pub description: String,
    /// Financial gain for the client, in pence (whole-number money, no rounding). Since layout 3
    /// this is the outcome's contribution to the total gain (`FinancialEffect::total_gain_pence`),
    /// kept so that older apps still show a figure; [`AdviceOutcome::financial_effect`] is what
    /// reports read.
    pub financial_gain_pence: i64,
    pub author: Author,
    /// What the outcome did to the person's money (layout 3). Absent on older outcomes, which
    /// read as a one-off income gain of `financial_gain_pence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub effect: Option<super::outreach::FinancialEffect>,
}

impl AdviceOutcome {
    /// The outcome's financial effect: the typed one, or for an outcome recorded before layout 3
    /// its untyped gain read as a one-off income gain.
    pub fn financial_effect(&self) -> super::outreach::FinancialEffect {
        self.effect
            .clone()
            .unwrap_or_else(|| super::outreach::FinancialEffect::legacy(self.financial_gain_pence))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ConsentToShare {
    /// True when the person agreed that the health team may see their advice record and the
    /// advice worker their clinical record.
    pub consented: bool,
    pub author: Author,
}

// ---------------------------------------------------------------- helpers

pub(crate) fn short(field: &'static str, v: &str) -> Result<(), ValidationError> {
    let len = v.chars().count();
    if len > MAX_SHORT {
        return Err(ValidationError::TooLong {
            field,
            len,
            max: MAX_SHORT,
        });
    }
    Ok(())
}

pub(crate) fn text(field: &'static str, v: &str) -> Result<(), ValidationError> {
    let len = v.chars().count();
    if len > MAX_TEXT {
        return Err(ValidationError::TooLong {
            field,
            len,
            max: MAX_TEXT,
        });
    }
    Ok(())
}

pub(crate) fn required_short(
    field: &'static str,
    v: &str,
    hint: &'static str,
) -> Result<String, ValidationError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(ValidationError::MissingField { field, hint });
    }
    short(field, t)?;
    Ok(t.to_string())
}

pub(crate) fn required_text(
    field: &'static str,
    v: &str,
    hint: &'static str,
) -> Result<String, ValidationError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(ValidationError::MissingField { field, hint });
    }
    text(field, t)?;
    Ok(t.to_string())
}
