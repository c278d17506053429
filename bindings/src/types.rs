//! What crosses the boundary.
//!
//! Types whose fields UniFFI can carry as they are (plain enums, and records of strings, numbers,
//! options and lists) are declared *remote*: the definition below mirrors the core's and UniFFI
//! generates the conversion; if the core's type changes, this crate stops compiling.
//!
//! Types that hold times or dates are mirrored with `From` conversions, because UniFFI has no
//! `chrono` types:
//!
//! * **An instant is `i64` milliseconds since 1970-01-01T00:00:00Z (UTC)**, in a field whose name
//!   ends in `_ms` (`started_at_ms`). Kotlin: `Instant.ofEpochMilli(x)`; Swift:
//!   `Date(timeIntervalSince1970: Double(x) / 1000)`. Automerge stamps changes to the millisecond,
//!   so nothing is lost.
//! * **A calendar date is a `String` `"YYYY-MM-DD"`** (ISO 8601), e.g. a date of birth: a date has
//!   no time zone and must not move when the device's zone changes. A malformed date is a
//!   `DoorstepError.Validation`.

use chrono::{DateTime, NaiveDate, Utc};
use doorstep_core as dc;

use dc::{
    Address, AdviceCategory, AlertInput, AlertKind, AlertSummary, ChangeBatch, ClinicalRisk,
    Compartment, Consciousness, Contact, ContactType, ExportedChange, Intervention, News2Result,
    Observations, Parameter, PendingChange, Role, Service, SpO2Scale, SubScore, User,
    VirtualWardPathway, VisitOutcome,
};

// ------------------------------------------------------------------ times and dates

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ms)
}

pub(crate) fn instant(what: &'static str, v: i64) -> Result<DateTime<Utc>, dc::Error> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| {
        dc::ValidationError::Inconsistent(format!(
            "{what} {v} is not a valid time (milliseconds since 1970-01-01 UTC): check the clock value passed in"
        ))
        .into()
    })
}

pub(crate) fn opt_instant(
    what: &'static str,
    v: Option<i64>,
) -> Result<Option<DateTime<Utc>>, dc::Error> {
    v.map(|v| instant(what, v)).transpose()
}

pub(crate) fn date(what: &'static str, v: &str) -> Result<NaiveDate, dc::Error> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
        dc::ValidationError::InvalidDate {
            what,
            value: v.to_string(),
        }
        .into()
    })
}

pub(crate) fn opt_date(
    what: &'static str,
    v: Option<&str>,
) -> Result<Option<NaiveDate>, dc::Error> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| date(what, s))
        .transpose()
}

pub(crate) fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn len(n: usize) -> u64 {
    n as u64
}

// ------------------------------------------------------------------ remote enums

/// What a user does: decides which compartments they may read.
#[uniffi::remote(Enum)]
pub enum Role {
    DistrictNurse,
    VirtualWardClinician,
    AdviceWorker,
}

/// The documents that make up one person's record.
#[uniffi::remote(Enum)]
pub enum Compartment {
    Demographics,
    Clinical,
    Advice,
}

/// Alerts a visitor must see before they knock. All are safety-critical: concurrent values are
/// kept as a clinical conflict until a clinician resolves them.
#[uniffi::remote(Enum)]
pub enum AlertKind {
    Allergies,
    Resuscitation,
    Safeguarding,
    RiskToStaff,
    InfectionStatus,
    Spo2Scale2,
}

#[uniffi::remote(Enum)]
pub enum VirtualWardPathway {
    Frailty,
    Copd,
    HeartFailure,
    Other,
}

/// The service an episode of care belongs to.
#[uniffi::remote(Enum)]
pub enum Service {
    DistrictNursing,
    VirtualWard(VirtualWardPathway),
}

#[uniffi::remote(Enum)]
pub enum ContactType {
    HomeVisit,
    Telephone,
    Video,
}

#[uniffi::remote(Enum)]
pub enum VisitOutcome {
    Completed,
    NoAccess,
    Declined,
    Rescheduled,
}

/// What was done at a visit; `Other` names it in words.
#[uniffi::remote(Enum)]
pub enum Intervention {
    WoundCare,
    Insulin,
    CatheterCare,
    MedicationPrompt,
    Venepuncture,
    PalliativeCare,
    Other(String),
}

#[uniffi::remote(Enum)]
pub enum AdviceCategory {
    Benefits,
    Debt,
    Housing,
    Employment,
    Family,
    Immigration,
    Energy,
    Consumer,
    Legal,
    Other,
}

/// Level of consciousness on the ACVPU scale used by NEWS2.
#[uniffi::remote(Enum)]
pub enum Consciousness {
    Alert,
    NewConfusion,
    Voice,
    Pain,
    Unresponsive,
}

/// Which SpO2 scale NEWS2 scored oxygen saturation on (scale 2 only when prescribed).
#[uniffi::remote(Enum)]
pub enum SpO2Scale {
    Scale1,
    Scale2,
}

/// One NEWS2 parameter, in the order of the RCP chart.
#[uniffi::remote(Enum)]
pub enum Parameter {
    RespirationRate,
    OxygenSaturation,
    AirOrOxygen,
    SystolicBp,
    Pulse,
    Consciousness,
    Temperature,
}

/// The RCP clinical-risk band of a complete NEWS2 score.
#[uniffi::remote(Enum)]
pub enum ClinicalRisk {
    Low,
    LowMedium,
    Medium,
    High,
}

// ------------------------------------------------------------------ remote records

/// The person using this device.
#[uniffi::remote(Record)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub role: Role,
    pub team: String,
}

#[uniffi::remote(Record)]
pub struct Contact {
    pub name: String,
    #[uniffi(default)]
    pub relationship: Option<String>,
    #[uniffi(default)]
    pub phone: Option<String>,
}

#[uniffi::remote(Record)]
pub struct Address {
    pub lines: Vec<String>,
    pub postcode: String,
}

/// What a clinician sets for one alert kind. `active = false` records that it no longer applies.
#[uniffi::remote(Record)]
pub struct AlertInput {
    pub kind: AlertKind,
    pub text: String,
    pub active: bool,
}

/// One set of vital-sign observations. Every value is optional; NEWS2 reports a partial set as
/// incomplete instead of scoring missing values as normal.
#[uniffi::remote(Record)]
pub struct Observations {
    /// Breaths per minute.
    #[uniffi(default)]
    pub respiration_rate: Option<u32>,
    /// Peripheral oxygen saturation, percent.
    #[uniffi(default)]
    pub spo2_percent: Option<u32>,
    /// True on supplemental oxygen, false on room air.
    #[uniffi(default)]
    pub on_oxygen: Option<bool>,
    /// mmHg.
    #[uniffi(default)]
    pub systolic_bp: Option<u32>,
    /// mmHg (recorded, not scored).
    #[uniffi(default)]
    pub diastolic_bp: Option<u32>,
    /// Beats per minute.
    #[uniffi(default)]
    pub pulse: Option<u32>,
    #[uniffi(default)]
    pub consciousness: Option<Consciousness>,
    /// Degrees Celsius.
    #[uniffi(default)]
    pub temperature_c: Option<f64>,
}

/// The score (0–3) one parameter contributes.
#[uniffi::remote(Record)]
pub struct SubScore {
    pub parameter: Parameter,
    pub score: u8,
}

/// NEWS2 for one set of observations. `total` and `risk` are absent when any parameter is
/// missing; `response` is then what to record before a score can be given.
#[uniffi::remote(Record)]
pub struct News2Result {
    pub scale: SpO2Scale,
    pub sub_scores: Vec<SubScore>,
    pub missing: Vec<Parameter>,
    pub total: Option<u8>,
    pub risk: Option<ClinicalRisk>,
    /// The RCP recommended clinical response.
    pub response: String,
}

#[uniffi::remote(Record)]
pub struct AlertSummary {
    pub kind: AlertKind,
    pub summary: String,
    pub active: bool,
    pub in_conflict: bool,
}

/// One Automerge change of one compartment document, as opaque bytes.
#[uniffi::remote(Record)]
pub struct ExportedChange {
    pub person_id: String,
    pub compartment: Compartment,
    pub bytes: Vec<u8>,
}

/// Changes to hand to another store, and the point (`up_to`) to export from next time.
#[uniffi::remote(Record)]
pub struct ChangeBatch {
    pub changes: Vec<ExportedChange>,
    pub up_to: i64,
}

/// A change recorded here that no server has acknowledged yet (`at_ms`: epoch milliseconds).
#[uniffi::remote(Record)]
pub struct PendingChange {
    pub seq: i64,
    pub person_id: String,
    pub compartment: Compartment,
    pub at_ms: i64,
    pub summary: String,
}

// ------------------------------------------------------------------ mirrored records

/// What `FieldStore.open` needs.
#[derive(Debug, Clone, uniffi::Record)]
pub struct StoreConfig {
    /// The database file; created if absent.
    pub path: String,
    /// 32 random bytes held by the Android Keystore / iOS Keychain. Never typed, never logged.
    pub key: Vec<u8>,
    /// This device's id, as enrolled.
    pub device_id: String,
    pub user: User,
    /// How many person-compartment documents to keep warm in memory.
    #[uniffi(default = 128)]
    pub doc_cache_size: u32,
    /// Compact documents on a background thread as changes accumulate.
    #[uniffi(default = true)]
    pub background_compaction: bool,
}

impl From<StoreConfig> for dc::StoreConfig {
    fn from(c: StoreConfig) -> Self {
        let mut out = dc::StoreConfig::new(c.path, &c.key, c.device_id, c.user);
        out.doc_cache_size = c.doc_cache_size.max(1) as usize;
        out.background_compaction = c.background_compaction;
        out
    }
}

/// Who made a change; `at_ms` is epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Author {
    pub user_id: String,
    pub display_name: String,
    pub role: Role,
    pub device_id: String,
    pub at_ms: i64,
}

impl From<dc::Author> for Author {
    fn from(a: dc::Author) -> Self {
        Author {
            user_id: a.user_id,
            display_name: a.display_name,
            role: a.role,
            device_id: a.device_id,
            at_ms: ms(a.at),
        }
    }
}

/// Who the person is and how to reach them. `date_of_birth` is `"YYYY-MM-DD"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct Demographics {
    #[uniffi(default)]
    pub nhs_number: Option<String>,
    pub given_name: String,
    pub family_name: String,
    #[uniffi(default)]
    pub preferred_name: Option<String>,
    #[uniffi(default)]
    pub date_of_birth: Option<String>,
    #[uniffi(default)]
    pub address: Option<Address>,
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Key safe, parking, dog, which door.
    #[uniffi(default)]
    pub access_notes: Option<String>,
    #[uniffi(default)]
    pub gp_practice: Option<String>,
    #[uniffi(default)]
    pub next_of_kin: Option<Contact>,
    #[uniffi(default)]
    pub carer: Option<Contact>,
    #[uniffi(default)]
    pub preferred_language: Option<String>,
    #[uniffi(default)]
    pub communication_needs: Option<String>,
}

impl TryFrom<Demographics> for dc::Demographics {
    type Error = dc::Error;
    fn try_from(d: Demographics) -> Result<Self, dc::Error> {
        Ok(dc::Demographics {
            date_of_birth: opt_date("date of birth", d.date_of_birth.as_deref())?,
            nhs_number: d.nhs_number,
            given_name: d.given_name,
            family_name: d.family_name,
            preferred_name: d.preferred_name,
            address: d.address,
            phone: d.phone,
            access_notes: d.access_notes,
            gp_practice: d.gp_practice,
            next_of_kin: d.next_of_kin,
            carer: d.carer,
            preferred_language: d.preferred_language,
            communication_needs: d.communication_needs,
        })
    }
}

impl From<dc::Demographics> for Demographics {
    fn from(d: dc::Demographics) -> Self {
        Demographics {
            date_of_birth: d.date_of_birth.map(day),
            nhs_number: d.nhs_number,
            given_name: d.given_name,
            family_name: d.family_name,
            preferred_name: d.preferred_name,
            address: d.address,
            phone: d.phone,
            access_notes: d.access_notes,
            gp_practice: d.gp_practice,
            next_of_kin: d.next_of_kin,
            carer: d.carer,
            preferred_language: d.preferred_language,
            communication_needs: d.communication_needs,
        }
    }
}

/// One value of an alert, with who set it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AlertValue {
    pub kind: AlertKind,
    pub text: String,
    pub active: bool,
    pub author: Author,
}

impl From<dc::AlertValue> for AlertValue {
    fn from(v: dc::AlertValue) -> Self {
        AlertValue {
            kind: v.kind,
            text: v.text,
            active: v.active,
            author: v.author.into(),
        }
    }
}

/// An alert: one value, or every concurrent value while a clinical conflict is open.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Alert {
    pub kind: AlertKind,
    pub values: Vec<AlertValue>,
    /// True while more than one value stands (a clinician must resolve it).
    pub in_conflict: bool,
}

impl From<dc::Alert> for Alert {
    fn from(a: dc::Alert) -> Self {
        Alert {
            in_conflict: a.in_conflict(),
            kind: a.kind,
            values: conv(a.values),
        }
    }
}

/// Concurrent values of a safety-critical field, shown together until a clinician resolves them
/// with `resolve_conflict`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClinicalConflict {
    pub id: String,
    pub person_id: String,
    pub kind: AlertKind,
    /// Every concurrent value, oldest first.
    pub values: Vec<AlertValue>,
}

impl From<dc::ClinicalConflict> for ClinicalConflict {
    fn from(c: dc::ClinicalConflict) -> Self {
        ClinicalConflict {
            id: c.id,
            person_id: c.person_id,
            kind: c.kind,
            values: conv(c.values),
        }
    }
}

/// A referral accepted. `accepted_on` is `"YYYY-MM-DD"`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EpisodeInput {
    pub service: Service,
    pub referral_source: String,
    pub referral_reason: String,
    pub accepted_on: String,
}

impl TryFrom<EpisodeInput> for dc::EpisodeInput {
    type Error = dc::Error;
    fn try_from(e: EpisodeInput) -> Result<Self, dc::Error> {
        Ok(dc::EpisodeInput {
            accepted_on: date("accepted date", &e.accepted_on)?,
            service: e.service,
            referral_source: e.referral_source,
            referral_reason: e.referral_reason,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Episode {
    pub id: String,
    pub service: Service,
    pub referral_source: String,
    pub referral_reason: String,
    pub accepted_on: String,
    pub discharged_on: Option<String>,
    pub author: Author,
}

impl From<dc::Episode> for Episode {
    fn from(e: dc::Episode) -> Self {
        Episode {
            id: e.id,
            service: e.service,
            referral_source: e.referral_source,
            referral_reason: e.referral_reason,
            accepted_on: day(e.accepted_on),
            discharged_on: e.discharged_on.map(day),
            author: e.author.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Discharge {
    pub episode_id: String,
    pub discharged_on: String,
    pub reason: String,
    pub author: Author,
}

impl From<dc::Discharge> for Discharge {
    fn from(d: dc::Discharge) -> Self {
        Discharge {
            episode_id: d.episode_id,
            discharged_on: day(d.discharged_on),
            reason: d.reason,
            author: d.author.into(),
        }
    }
}

/// A visit booked ahead (times in epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlannedVisitInput {
    pub planned_start_ms: i64,
    #[uniffi(default)]
    pub planned_end_ms: Option<i64>,
    /// User id of the clinician it is booked for.
    #[uniffi(default)]
    pub clinician: Option<String>,
    pub contact_type: ContactType,
    #[uniffi(default)]
    pub purpose: Option<String>,
}

impl TryFrom<PlannedVisitInput> for dc::PlannedVisitInput {
    type Error = dc::Error;
    fn try_from(p: PlannedVisitInput) -> Result<Self, dc::Error> {
        Ok(dc::PlannedVisitInput {
            planned_start: instant("planned start", p.planned_start_ms)?,
            planned_end: opt_instant("planned end", p.planned_end_ms)?,
            clinician: p.clinician,
            contact_type: p.contact_type,
            purpose: p.purpose,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlannedVisit {
    pub id: String,
    pub planned_start_ms: i64,
    pub planned_end_ms: Option<i64>,
    pub clinician: Option<String>,
    pub contact_type: ContactType,
    pub purpose: Option<String>,
    pub author: Author,
}

impl From<dc::PlannedVisit> for PlannedVisit {
    fn from(p: dc::PlannedVisit) -> Self {
        PlannedVisit {
            id: p.id,
            planned_start_ms: ms(p.planned_start),
            planned_end_ms: opt_ms(p.planned_end),
            clinician: p.clinician,
            contact_type: p.contact_type,
            purpose: p.purpose,
            author: p.author.into(),
        }
    }
}

/// A contact as it happened (times in epoch milliseconds). Observations, if taken, are scored
/// with NEWS2 and the result comes back in `RecordedVisit.news2`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitInput {
    /// The planned visit this fulfils, if it was booked.
    #[uniffi(default)]
    pub planned_visit_id: Option<String>,
    pub contact_type: ContactType,
    pub started_at_ms: i64,
    #[uniffi(default)]
    pub ended_at_ms: Option<i64>,
    pub outcome: VisitOutcome,
    #[uniffi(default)]
    pub interventions: Vec<Intervention>,
    #[uniffi(default)]
    pub note: Option<String>,
    #[uniffi(default)]
    pub observations: Option<Observations>,
}

impl TryFrom<VisitInput> for dc::VisitInput {
    type Error = dc::Error;
    fn try_from(v: VisitInput) -> Result<Self, dc::Error> {
        Ok(dc::VisitInput {
            planned_visit_id: v.planned_visit_id,
            contact_type: v.contact_type,
            started_at: instant("visit start", v.started_at_ms)?,
            ended_at: opt_instant("visit end", v.ended_at_ms)?,
            outcome: v.outcome,
            interventions: v.interventions,
            note: v.note,
            observations: v.observations,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Visit {
    pub id: String,
    pub planned_visit_id: Option<String>,
    pub contact_type: ContactType,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub outcome: VisitOutcome,
    pub interventions: Vec<Intervention>,
    pub note: Option<String>,
    /// Id of the observation set taken at this visit.
    pub observations_id: Option<String>,
    pub author: Author,
}

impl From<dc::Visit> for Visit {
    fn from(v: dc::Visit) -> Self {
        Visit {
            id: v.id,
            planned_visit_id: v.planned_visit_id,
            contact_type: v.contact_type,
            started_at_ms: ms(v.started_at),
            ended_at_ms: opt_ms(v.ended_at),
            outcome: v.outcome,
            interventions: v.interventions,
            note: v.note,
            observations_id: v.observations_id,
            author: v.author.into(),
        }
    }
}

/// A stored observation set with the NEWS2 it scored when it was recorded.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ObservationSet {
    pub id: String,
    pub visit_id: Option<String>,
    pub taken_at_ms: i64,
    pub observations: Observations,
    pub news2: News2Result,
    pub author: Author,
}

impl From<dc::ObservationSet> for ObservationSet {
    fn from(o: dc::ObservationSet) -> Self {
        ObservationSet {
            id: o.id,
            visit_id: o.visit_id,
            taken_at_ms: ms(o.taken_at),
            observations: o.observations,
            news2: o.news2,
            author: o.author.into(),
        }
    }
}

/// What `record_visit` returns: the visit as stored and, if observations were taken, the stored
/// set and its NEWS2.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordedVisit {
    pub visit: Visit,
    pub observations: Option<ObservationSet>,
    pub news2: Option<News2Result>,
}

impl From<dc::RecordedVisit> for RecordedVisit {
    fn from(r: dc::RecordedVisit) -> Self {
        RecordedVisit {
            visit: r.visit.into(),
            observations: r.observations.map(Into::into),
            news2: r.news2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Note {
    pub id: String,
    pub visit_id: Option<String>,
    pub text: String,
    pub author: Author,
}

impl From<dc::Note> for Note {
    fn from(n: dc::Note) -> Self {
        Note {
            id: n.id,
            visit_id: n.visit_id,
            text: n.text,
            author: n.author.into(),
        }
    }
}

/// `review_date` is `"YYYY-MM-DD"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CarePlan {
    pub goals: Vec<String>,
    pub interventions: Vec<String>,
    #[uniffi(default)]
    pub review_date: Option<String>,
}

impl TryFrom<CarePlan> for dc::CarePlan {
    type Error = dc::Error;
    fn try_from(p: CarePlan) -> Result<Self, dc::Error> {
        Ok(dc::CarePlan {
            review_date: opt_date("review date", p.review_date.as_deref())?,
            goals: p.goals,
            interventions: p.interventions,
        })
    }
}

impl From<dc::CarePlan> for CarePlan {
    fn from(p: dc::CarePlan) -> Self {
        CarePlan {
            review_date: p.review_date.map(day),
            goals: p.goals,
            interventions: p.interventions,
        }
    }
}

/// The marker that an entry was a mistake; the entry itself stays.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnteredInError {
    pub entry_id: String,
    pub reason: String,
    pub author: Author,
}

impl From<dc::EnteredInError> for EnteredInError {
    fn from(m: dc::EnteredInError) -> Self {
        EnteredInError {
            entry_id: m.entry_id,
            reason: m.reason,
            author: m.author.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdviceNeed {
    pub id: String,
    pub category: AdviceCategory,
    pub description: String,
    pub author: Author,
}

impl From<dc::AdviceNeed> for AdviceNeed {
    fn from(n: dc::AdviceNeed) -> Self {
        AdviceNeed {
            id: n.id,
            category: n.category,
            description: n.description,
            author: n.author.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdviceAction {
    pub id: String,
    pub need_id: String,
    pub description: String,
    pub author: Author,
}

impl From<dc::AdviceAction> for AdviceAction {
    fn from(a: dc::AdviceAction) -> Self {
        AdviceAction {
            id: a.id,
            need_id: a.need_id,
            description: a.description,
            author: a.author.into(),
        }
    }
}

/// `financial_gain_pence`: whole pence, never negative.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdviceOutcome {
    pub id: String,
    pub need_id: String,
    pub description: String,
    pub financial_gain_pence: i64,
    pub author: Author,
}

impl From<dc::AdviceOutcome> for AdviceOutcome {
    fn from(o: dc::AdviceOutcome) -> Self {
        AdviceOutcome {
            id: o.id,
            need_id: o.need_id,
            description: o.description,
            financial_gain_pence: o.financial_gain_pence,
            author: o.author.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentToShare {
    pub consented: bool,
    pub author: Author,
}

impl From<dc::ConsentToShare> for ConsentToShare {
    fn from(c: dc::ConsentToShare) -> Self {
        ConsentToShare {
            consented: c.consented,
            author: c.author.into(),
        }
    }
}

/// The clinical compartment of a person's record.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ClinicalRecord {
    pub alerts: Vec<Alert>,
    pub conflicts: Vec<ClinicalConflict>,
    pub episodes: Vec<Episode>,
    pub planned_visits: Vec<PlannedVisit>,
    pub visits: Vec<Visit>,
    pub observations: Vec<ObservationSet>,
    pub notes: Vec<Note>,
    pub care_plan: Option<CarePlan>,
    /// Entries marked entered in error; the entries themselves are still listed above.
    pub entered_in_error: Vec<EnteredInError>,
}

impl From<dc::ClinicalRecord> for ClinicalRecord {
    fn from(c: dc::ClinicalRecord) -> Self {
        ClinicalRecord {
            alerts: conv(c.alerts),
            conflicts: conv(c.conflicts),
            episodes: conv(c.episodes),
            planned_visits: conv(c.planned_visits),
            visits: conv(c.visits),
            observations: conv(c.observations),
            notes: conv(c.notes),
            care_plan: c.care_plan.map(Into::into),
            entered_in_error: conv(c.entered_in_error),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdviceRecord {
    pub needs: Vec<AdviceNeed>,
    pub actions: Vec<AdviceAction>,
    pub outcomes: Vec<AdviceOutcome>,
    pub consent_to_share: Option<ConsentToShare>,
    pub entered_in_error: Vec<EnteredInError>,
}

impl From<dc::AdviceRecord> for AdviceRecord {
    fn from(a: dc::AdviceRecord) -> Self {
        AdviceRecord {
            needs: conv(a.needs),
            actions: conv(a.actions),
            outcomes: conv(a.outcomes),
            consent_to_share: a.consent_to_share.map(Into::into),
            entered_in_error: conv(a.entered_in_error),
        }
    }
}

/// Everything this device holds about a person. Compartments the device does not hold are absent.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PersonRecord {
    pub person_id: String,
    pub demographics: Option<Demographics>,
    pub clinical: Option<ClinicalRecord>,
    pub advice: Option<AdviceRecord>,
}

impl From<dc::PersonRecord> for PersonRecord {
    fn from(p: dc::PersonRecord) -> Self {
        PersonRecord {
            person_id: p.person_id,
            demographics: p.demographics.map(Into::into),
            clinical: p.clinical.map(Into::into),
            advice: p.advice.map(Into::into),
        }
    }
}

/// One line of the caseload or of search results (visit times in epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseloadEntry {
    pub person_id: String,
    pub display_name: String,
    pub nhs_number: Option<String>,
    /// `"YYYY-MM-DD"`.
    pub date_of_birth: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub access_notes: Option<String>,
    pub alerts: Vec<AlertSummary>,
    pub open_conflicts: u32,
    pub next_visit_ms: Option<i64>,
    pub last_visit_ms: Option<i64>,
    pub latest_news2: Option<u8>,
    pub latest_news2_risk: Option<String>,
}

impl From<dc::CaseloadEntry> for CaseloadEntry {
    fn from(e: dc::CaseloadEntry) -> Self {
        CaseloadEntry {
            person_id: e.person_id,
            display_name: e.display_name,
            nhs_number: e.nhs_number,
            date_of_birth: e.date_of_birth,
            address: e.address,
            postcode: e.postcode,
            access_notes: e.access_notes,
            alerts: e.alerts,
            open_conflicts: e.open_conflicts,
            next_visit_ms: opt_ms(e.next_visit),
            last_visit_ms: opt_ms(e.last_visit),
            latest_news2: e.latest_news2,
            latest_news2_risk: e.latest_news2_risk,
        }
    }
}

/// A planned visit on a day's list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlannedVisitSummary {
    pub visit_id: String,
    pub person_id: String,
    pub display_name: String,
    pub address: Option<String>,
    pub planned_start_ms: i64,
    pub clinician: Option<String>,
    pub contact_type: String,
    pub completed: bool,
    pub alerts: Vec<AlertSummary>,
}

impl From<dc::PlannedVisitSummary> for PlannedVisitSummary {
    fn from(p: dc::PlannedVisitSummary) -> Self {
        PlannedVisitSummary {
            visit_id: p.visit_id,
            person_id: p.person_id,
            display_name: p.display_name,
            address: p.address,
            planned_start_ms: ms(p.planned_start),
            clinician: p.clinician,
            contact_type: p.contact_type,
            completed: p.completed,
            alerts: p.alerts,
        }
    }
}

/// One change to a person's record, in words a person can read.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntry {
    pub at_ms: i64,
    pub compartment: Compartment,
    pub user_id: String,
    pub display_name: String,
    pub role: Option<Role>,
    pub device_id: String,
    /// What was done, e.g. "recorded a home visit (completed): wound care".
    pub summary: String,
    /// The whole line: "23 Nov 2026 10:15 UTC — Sam Patel (district nurse, device …): …".
    pub sentence: String,
    /// Id of the underlying change (hex), for support staff.
    pub change: String,
}

impl From<dc::HistoryEntry> for HistoryEntry {
    fn from(h: dc::HistoryEntry) -> Self {
        HistoryEntry {
            sentence: h.sentence(),
            at_ms: ms(h.at),
            compartment: h.compartment,
            user_id: h.user_id,
            display_name: h.display_name,
            role: h.role,
            device_id: h.device_id,
            summary: h.summary,
            change: h.change,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    pub received: u64,
    /// Changes this store did not hold before.
    pub new_changes: u64,
    /// Changes held until earlier changes they depend on arrive.
    pub waiting: u64,
    pub people_added: Vec<String>,
    /// Clinical conflicts the import opened: show them to the clinician.
    pub new_conflicts: Vec<ClinicalConflict>,
}

impl From<dc::ImportReport> for ImportReport {
    fn from(r: dc::ImportReport) -> Self {
        ImportReport {
            received: len(r.received),
            new_changes: len(r.new_changes),
            waiting: len(r.waiting),
            people_added: r.people_added,
            new_conflicts: conv(r.new_conflicts),
        }
    }
}

pub(crate) fn conv<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
    v.into_iter().map(Into::into).collect()
}
