//! Checking a change before it is stored or applied, by the same code on the phone and on the
//! server (issue 8, docs/decisions/0002).
//!
//! A change is foreign bytes. [`parse_change`] decodes it with bounded memory (a size cap, and
//! Automerge's deflate-compressed chunks refused: Doorstep never writes them and Automerge
//! inflates them without a bound) inside panic isolation. [`check_change`] then reads its audit
//! stamp and every operation, and checks each key and value against the record layout: known
//! entry kinds for the compartment, values that parse into the typed entry, immutable entries never
//! overwritten, sizes bounded, a NEWS2 that matches its observations. A change written with a newer
//! layout than this code knows is checked only for what every layout shares, and is accepted.

use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Change, ScalarValue};
use serde::de::DeserializeOwned;

use super::layout::{self, AuditStamp, LAYOUT_VERSION};
use super::model::*;
use super::read::Discharge;
use crate::clinical::news2;

/// The largest change accepted (a visit is ~1–2 KB; a 20,000-character note ~80 KB).
pub const MAX_CHANGE_BYTES: usize = 1 << 20;
/// The most operations one change may hold (registering a person writes ~15).
pub const MAX_OPS: usize = 1_000;
/// The longest key.
pub const MAX_KEY_BYTES: usize = 200;
/// The longest value of one key, in bytes of JSON.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// The longest audit stamp.
pub const MAX_STAMP_BYTES: usize = 8 * 1024;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;

/// Why a change was refused. Machine-readable through [`Refusal::code`]; the message says what a
/// person can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the change is {len} bytes; at most {MAX_CHANGE_BYTES} are accepted")]
    TooLarge { len: usize },
    #[error("the change is compressed; Doorstep apps never send compressed changes")]
    Compressed,
    #[error("the change cannot be read: {0}")]
    Malformed(String),
    #[error("the change has no readable audit stamp (who, role, device): {0}")]
    NoStamp(String),
    #[error("the change's author does not match this device's enrolment: {0}")]
    ForgedAuthor(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the change's structure is not Doorstep's record layout: {0}")]
    Structure(String),
    #[error("entry {key} is not valid: {reason}")]
    Content { key: String, reason: String },
    #[error("entry {key} was recorded once and may not be changed (corrections are new entries)")]
    Overwrite { key: String },
}

impl Refusal {
    /// A stable short code, for counting and for the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLarge { .. } => "too_large",
            Refusal::Compressed => "compressed",
            Refusal::Malformed(_) => "malformed",
            Refusal::NoStamp(_) => "no_stamp",
            Refusal::ForgedAuthor(_) => "forged_author",
            Refusal::Forbidden(_) => "forbidden",
            Refusal::Structure(_) => "structure",
            Refusal::Content { .. } => "invalid_content",
            Refusal::Overwrite { .. } => "overwrite",
        }
    }
}

/// A change that passed [`check_change`].
#[derive(Debug, Clone)]
pub struct Checked {
    pub stamp: AuditStamp,
    /// The change was written with a newer layout than this code knows: only the shared
    /// structure was checked.
    pub newer_layout: bool,
}

/// Decode one change from foreign bytes, bounded in memory, never panicking.
pub fn parse_change(bytes: &[u8]) -> Result<Change, Refusal> {
    if bytes.len() > MAX_CHANGE_BYTES {
        return Err(Refusal::TooLarge { len: bytes.len() });
    }
    if bytes.get(..4) != Some(&MAGIC[..]) {
        return Err(Refusal::Malformed(
            "it does not start as an Automerge change".into(),
        ));
    }
    match bytes.get(8) {
        Some(&CHUNK_CHANGE) => {}
        Some(&CHUNK_COMPRESSED) => return Err(Refusal::Compressed),
        Some(other) => {
            return Err(Refusal::Malformed(format!(
                "chunk type {other} is not a change"
            )))
        }
        None => return Err(Refusal::Malformed("it is cut short".into())),
    }
    let owned = bytes.to_vec();
    match catch_unwind(AssertUnwindSafe(|| Change::from_bytes(owned))) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(Refusal::Malformed(e.to_string())),
        Err(_) => Err(Refusal::Malformed(
            "decoding it failed inside Automerge".into(),
        )),
    }
}

/// Read a change's audit stamp.
pub fn stamp_of(change: &Change) -> Result<AuditStamp, Refusal> {
    let message = change
        .message()
        .ok_or_else(|| Refusal::NoStamp("it has no message".into()))?;
    if message.len() > MAX_STAMP_BYTES {
        return Err(Refusal::NoStamp(format!(
            "the stamp is {} bytes; at most {MAX_STAMP_BYTES}",
            message.len()
        )));
    }
    serde_json::from_str(message).map_err(|e| Refusal::NoStamp(e.to_string()))
}

/// Check every operation of a change to `compartment` against the record layout.
pub fn check_change(compartment: Compartment, change: &Change) -> Result<Checked, Refusal> {
    let stamp = stamp_of(change)?;
    for (what, v) in [
        ("user id", &stamp.user_id),
        ("display name", &stamp.display_name),
        ("device id", &stamp.device_id),
    ] {
        if v.trim().is_empty() || v.len() > MAX_SHORT * 4 {
            return Err(Refusal::NoStamp(format!(
                "the stamp's {what} is empty or too long"
            )));
        }
    }
    let newer_layout = stamp.layout > LAYOUT_VERSION;
    let expanded = catch_unwind(AssertUnwindSafe(|| change.decode()))
        .map_err(|_| Refusal::Malformed("its operations could not be decoded".into()))?;
    if expanded.operations.len() > MAX_OPS {
        return Err(Refusal::Structure(format!(
            "{} operations in one change; at most {MAX_OPS}",
            expanded.operations.len()
        )));
    }
    for op in &expanded.operations {
        let (key, json) = root_put(op)?;
        if newer_layout {
            continue;
        }
        check_entry(compartment, &stamp, key, json, !op.pred.is_empty())?;
    }
    Ok(Checked {
        stamp,
        newer_layout,
    })
}

/// Every Doorstep operation puts a JSON text under a flat key of the root map.
fn root_put(op: &automerge::legacy::Op) -> Result<(&str, &str), Refusal> {
    if op.obj != ObjectId::Root || op.insert {
        return Err(Refusal::Structure(
            "it writes inside a nested object; Doorstep records have only flat keys".into(),
        ));
    }
    let Key::Map(key) = &op.key else {
        return Err(Refusal::Structure("it writes to a list position".into()));
    };
    if key.len() > MAX_KEY_BYTES {
        return Err(Refusal::Structure(format!(
            "a key is {} bytes long; at most {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    match &op.action {
        OpType::Put(ScalarValue::Str(s)) => {
            if s.len() > MAX_VALUE_BYTES {
                return Err(Refusal::Content {
                    key: key.to_string(),
                    reason: format!("{} bytes; at most {MAX_VALUE_BYTES}", s.len()),
                });
            }
            Ok((key.as_str(), s.as_str()))
        }
        OpType::Put(_) => Err(Refusal::Content {
            key: key.to_string(),
            reason: "the value is not text".into(),
        }),
        _ => Err(Refusal::Structure(format!(
            "it deletes, increments, marks or makes an object at {key}; Doorstep only writes values"
        ))),
    }
}

/// The kinds of entry, by key prefix, in each compartment. Single-value fields may be written
/// again (the merge keeps concurrent values); entries may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Demographic,
    Alert,
    Episode,
    Discharge,
    Planned,
    Visit,
    Observations,
    Note,
    CarePlan,
    EnteredInError,
    AdviceNeed,
    AdviceAction,
    AdviceOutcome,
    Consent,
    // layout 2
    Assessment,
    Wound,
    // ---- the district nurse's day (issue 12, layout 2): single-value registers
    PlanProblem,
    PlanGoal,
    PlanIntervention,
    PlanReview,
    VisitMove,
    VisitHandover,
    VisitCancel,
    VisitPriority,
    Task,
    TaskStatus,
    Medication,
    // ---- the virtual ward (issue 13, layout 3)
    EscalationEvent,
    // ---- Citizens Advice outreach (issue 14, layout 4): immutable entries
    NeedStatus,
    ReferralOut,
    // ---- home monitoring (issue 13, layout 5): written by the server only
    HomeObservations,
    EscalationRealert,
    ReadingsGap,
    AdviceConsent,
    // ---- outreach appointments (issue 14 item 4, layout 6): immutable entries
    Appointment,
    AppointmentOutcome,
    AdviceTask,
    AdviceTaskStatus,
    // ---- referrals between teams (issue 14 item 5, layout 6): immutable entries
    Referral,
    ReferralAnswer,
    // ---- tell it once (issue 14 item 6, layout 6)
    PossibleDuplicate,
    RecordLink,
    // ---- import of a GP summary (issue 15 item 3, layout 8): immutable
    Imported,
}

impl Kind {
    /// The first layout version that has this kind (`layout::LAYOUT_VERSION`'s table).
    fn since_layout(self) -> u32 {
        match self {
            Kind::Assessment | Kind::Wound => 2,
            Kind::EscalationEvent => layout::LAYOUT_WARD,
            Kind::NeedStatus | Kind::ReferralOut => layout::LAYOUT_OUTREACH,
            Kind::HomeObservations
            | Kind::EscalationRealert
            | Kind::ReadingsGap
            | Kind::AdviceConsent => layout::LAYOUT_HOME,
            Kind::Appointment
            | Kind::AppointmentOutcome
            | Kind::AdviceTask
            | Kind::AdviceTaskStatus
            | Kind::Referral
            | Kind::ReferralAnswer
            | Kind::PossibleDuplicate
            | Kind::RecordLink => layout::LAYOUT_APPOINTMENTS,
            Kind::Imported => layout::LAYOUT_IMPORT,
            _ => 1,
        }
    }

    /// Written again in place: a field's new value, or an entry marked in error a second time
    /// (the marker is keyed by the entry, so a second marking replaces the first's reason).
    fn single_value(self) -> bool {
        matches!(
            self,
            Kind::Demographic
                | Kind::Alert
                | Kind::CarePlan
                | Kind::Consent
                | Kind::EnteredInError
                | Kind::HomeObservations
                | Kind::AdviceConsent
        ) || (self.day_layout()
            && !matches!(self, Kind::Task | Kind::TaskStatus | Kind::Medication))
    }

    /// Added with layout 2 (issue 12): refused in a change stamped with an older layout.
    fn day_layout(self) -> bool {
        matches!(
            self,
            Kind::PlanProblem
                | Kind::PlanGoal
                | Kind::PlanIntervention
                | Kind::PlanReview
                | Kind::VisitMove
                | Kind::VisitHandover
                | Kind::VisitCancel
                | Kind::VisitPriority
                | Kind::Task
                | Kind::TaskStatus
                | Kind::Medication
        )
    }
}

/// Which kind a key is, in a compartment, and the id part of the key.
fn kind_of(compartment: Compartment, entry_key: &str) -> Option<(Kind, &str)> {
    use layout::{
        ADVICE_ACTION, ADVICE_NEED, ADVICE_OUTCOME, ALERT, CARE_PLAN, CONSENT, DISCHARGE,
        ENTERED_IN_ERROR, EPISODE, NOTE, OBSERVATIONS, PLANNED, VISIT,
    };
    let table: &[(&str, Kind)] = match compartment {
        Compartment::Demographics => &[
            ("demographics.", Kind::Demographic),
            (layout::REFERRAL_ANSWER, Kind::ReferralAnswer),
            (layout::REFERRAL, Kind::Referral),
            (layout::DUPLICATE, Kind::PossibleDuplicate),
            (layout::RECORD_LINK, Kind::RecordLink),
        ],
        Compartment::Clinical => &[
            (ALERT, Kind::Alert),
            (EPISODE, Kind::Episode),
            (DISCHARGE, Kind::Discharge),
            (PLANNED, Kind::Planned),
            (VISIT, Kind::Visit),
            (OBSERVATIONS, Kind::Observations),
            (NOTE, Kind::Note),
            (CARE_PLAN, Kind::CarePlan),
            (ENTERED_IN_ERROR, Kind::EnteredInError),
            (layout::ASSESSMENT, Kind::Assessment),
            (layout::WOUND, Kind::Wound),
            (layout::CP_PROBLEM, Kind::PlanProblem),
            (layout::CP_GOAL, Kind::PlanGoal),
            (layout::CP_INTERVENTION, Kind::PlanIntervention),
            (layout::CP_REVIEW, Kind::PlanReview),
            (layout::DV_MOVE, Kind::VisitMove),
            (layout::DV_HANDOVER, Kind::VisitHandover),
            (layout::DV_CANCEL, Kind::VisitCancel),
            (layout::DV_PRIORITY, Kind::VisitPriority),
            (layout::TASK, Kind::Task),
            (layout::TASK_STATUS, Kind::TaskStatus),
            (layout::MEDICATION, Kind::Medication),
            (layout::ESCALATION_EVENT, Kind::EscalationEvent),
            (layout::HOME_OBSERVATIONS, Kind::HomeObservations),
            (layout::ESCALATION_REALERT, Kind::EscalationRealert),
            (layout::READINGS_GAP, Kind::ReadingsGap),
            (layout::ADVICE_CONSENT, Kind::AdviceConsent),
            (layout::IMPORTED, Kind::Imported),
        ],
        Compartment::Advice => &[
            (ADVICE_NEED, Kind::AdviceNeed),
            (ADVICE_ACTION, Kind::AdviceAction),
            (ADVICE_OUTCOME, Kind::AdviceOutcome),
            (CONSENT, Kind::Consent),
            (ENTERED_IN_ERROR, Kind::EnteredInError),
            (layout::NEED_STATUS, Kind::NeedStatus),
            (layout::REFERRAL_OUT, Kind::ReferralOut),
            (layout::APPOINTMENT_OUTCOME, Kind::AppointmentOutcome),
            (layout::APPOINTMENT, Kind::Appointment),
            (layout::ADVICE_TASK_STATUS, Kind::AdviceTaskStatus),
            (layout::ADVICE_TASK, Kind::AdviceTask),
        ],
    };
    table.iter().find_map(|(prefix, kind)| {
        let rest = entry_key.strip_prefix(prefix)?;
        let exact = matches!(
            kind,
            Kind::CarePlan | Kind::Consent | Kind::PlanReview | Kind::AdviceConsent
        );
        match (exact, rest.is_empty()) {
            (true, true) => Some((*kind, rest)),
            (false, false) => Some((*kind, rest)),
            _ => None,
        }
    })
}

/// How many values in `doc` this version of the app cannot read: keys of a kind it does not
/// know, or values that do not parse into their entry (both written by a newer version of the
/// app, whose changes are kept and synced). Readers leave them out; the screen says "recorded
/// with a newer version of the app" so nobody takes the record for complete.
pub fn unreadable(compartment: Compartment, doc: &automerge::AutoCommit) -> u32 {
    use automerge::ReadDoc;
    let mut n = 0u32;
    for key in doc.keys(automerge::ROOT) {
        let values = doc.get_all(automerge::ROOT, &key).unwrap_or_default();
        for (value, _) in values {
            let readable = match (&value, kind_of(compartment, &key)) {
                (automerge::Value::Scalar(s), Some((kind, _))) => match s.as_ref() {
                    ScalarValue::Str(json) => decodes(kind, &key, json),
                    _ => false,
                },
                _ => false,
            };
            if !readable {
                n = n.saturating_add(1);
            }
        }
    }
    n
}

/// Whether `json` parses into the entry type of `kind` (content rules aside).
fn decodes(kind: Kind, key: &str, json: &str) -> bool {
    fn is<T: DeserializeOwned>(json: &str) -> bool {
        serde_json::from_str::<T>(json).is_ok()
    }
    match kind {
        Kind::Demographic => key
            .strip_prefix("demographics.")
            .is_some_and(|field| check_demographic(key, field, json).is_ok()),
        Kind::Alert => is::<AlertValue>(json),
        Kind::Episode => is::<Episode>(json),
        Kind::Discharge => is::<Discharge>(json),
        Kind::Planned => is::<PlannedVisit>(json),
        Kind::Visit => is::<Visit>(json),
        Kind::Observations | Kind::HomeObservations => is::<ObservationSet>(json),
        Kind::Note => is::<Note>(json),
        Kind::CarePlan => is::<CarePlan>(json),
        Kind::EnteredInError => is::<EnteredInError>(json),
        Kind::AdviceNeed => is::<AdviceNeed>(json),
        Kind::AdviceAction => is::<AdviceAction>(json),
        Kind::AdviceOutcome => is::<AdviceOutcome>(json),
        Kind::Consent => is::<ConsentToShare>(json),
        Kind::Assessment => is::<super::assessments::Assessment>(json),
        Kind::Wound => is::<super::assessments::WoundAssessment>(json),
        Kind::PlanProblem => is::<super::plan::PlanProblem>(json),
        Kind::PlanGoal => is::<super::plan::PlanGoal>(json),
        Kind::PlanIntervention => is::<super::plan::PlanIntervention>(json),
        Kind::PlanReview => is::<super::plan::PlanReview>(json),
        Kind::VisitMove => is::<super::day::VisitMove>(json),
        Kind::VisitHandover => is::<super::day::VisitHandover>(json),
        Kind::VisitCancel => is::<super::day::VisitCancellation>(json),
        Kind::VisitPriority => is::<super::day::VisitPriorityOverride>(json),
        Kind::Task => is::<super::task::CareTask>(json),
        Kind::TaskStatus => is::<super::task::TaskStatusChange>(json),
        Kind::Medication => is::<super::medication::MedicationAdministration>(json),
        Kind::EscalationEvent => is::<super::escalation::EscalationEvent>(json),
        Kind::EscalationRealert => is::<super::watch::EscalationRealert>(json),
        Kind::ReadingsGap => is::<super::watch::ReadingsGap>(json),
        Kind::AdviceConsent => is::<super::consent_note::AdviceConsentNote>(json),
        Kind::NeedStatus => is::<super::outreach::NeedStatusChange>(json),
        Kind::ReferralOut => is::<super::outreach::ReferralOut>(json),
        Kind::Appointment => is::<super::appointments::OutreachAppointment>(json),
        Kind::AppointmentOutcome => is::<super::appointments::AppointmentOutcome>(json),
        Kind::AdviceTask => is::<super::task::CareTask>(json),
        Kind::AdviceTaskStatus => is::<super::task::TaskStatusChange>(json),
        Kind::Referral => is::<super::referral::Referral>(json),
        Kind::ReferralAnswer => is::<super::referral::ReferralAnswer>(json),
        Kind::PossibleDuplicate => is::<super::duplicates::PossibleDuplicate>(json),
        Kind::RecordLink => is::<super::duplicates::RecordLink>(json),
        Kind::Imported => is::<super::imported::ImportedEntry>(json),
    }
}

/// Whether `key` is an immutable entry of `compartment` (written once, never edited), as opposed
/// to a single-value field or a key this layout does not know.
pub fn is_immutable_entry(compartment: Compartment, key: &str) -> bool {
    kind_of(compartment, key).is_some_and(|(kind, _)| !kind.single_value())
}

fn content(key: &str, reason: impl Into<String>) -> Refusal {
    Refusal::Content {
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn parse<T: DeserializeOwned>(key: &str, json: &str) -> Result<T, Refusal> {
    serde_json::from_str(json).map_err(|e| content(key, e.to_string()))
}

fn check_entry(
    compartment: Compartment,
    stamp: &AuditStamp,
    key: &str,
    json: &str,
    overwrites: bool,
) -> Result<(), Refusal> {
    let (kind, id) = kind_of(compartment, key).ok_or_else(|| {
        Refusal::Structure(format!(
            "{key} is not an entry of the {} record",
            compartment.as_str()
        ))
    })?;
    if kind.since_layout() > stamp.layout {
        return Err(Refusal::Structure(format!(
            "{key} is not an entry of the {} record in layout {} (it was added in layout {})",
            compartment.as_str(),
            stamp.layout,
            kind.since_layout()
        )));
    }
    if overwrites && !kind.single_value() {
        return Err(Refusal::Overwrite {
            key: key.to_string(),
        });
    }
    if kind.day_layout() && stamp.layout < layout::LAYOUT_DAY {
        return Err(Refusal::Structure(format!(
            "{key} is an entry of layout {} but the change is stamped with layout {}",
            layout::LAYOUT_DAY,
            stamp.layout
        )));
    }
    check_principal(kind, key, stamp)?;
    match kind {
        Kind::Demographic => {
            field_layout(key, id, stamp)?;
            check_demographic(key, id, json)
        }
        Kind::Alert => {
            let v: AlertValue = parse(key, json)?;
            same_id(key, v.kind.as_str(), id)?;
            short_text(key, &v.text)?;
            authored(key, &v.author, stamp)
        }
        Kind::Episode => {
            let v: Episode = parse(key, json)?;
            same_id(key, &v.id, id)?;
            check_admission(key, &v, stamp)?;
            authored(key, &v.author, stamp)
        }
        Kind::Discharge => {
            let v: Discharge = parse(key, json)?;
            if v.destination.is_some() {
                ward_layout(key, "a discharge destination", stamp)?;
            }
            authored(key, &v.author, stamp)
        }
        Kind::EscalationEvent => {
            let v: super::escalation::EscalationEvent = parse(key, json)?;
            same_id(key, &v.id, id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            authored(key, &v.author, stamp)
        }
        Kind::Planned => {
            let v: PlannedVisit = parse(key, json)?;
            same_id(key, &v.id, id)?;
            authored(key, &v.author, stamp)
        }
        Kind::Visit => {
            let v: Visit = parse(key, json)?;
            same_id(key, &v.id, id)?;
            if let Some(n) = &v.note {
                long_text(key, n)?;
            }
            if let Some(r) = &v.outcome_reason {
                short_text(key, r)?;
            }
            authored(key, &v.author, stamp)
        }
        Kind::Observations => check_observations(key, id, json, stamp),
        Kind::HomeObservations => check_home_observations(key, id, json, stamp),
        Kind::EscalationRealert => {
            let v: super::watch::EscalationRealert = parse(key, json)?;
            same_id(key, &v.id, id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            authored(key, &v.author, stamp)
        }
        Kind::AdviceConsent => {
            let v: super::consent_note::AdviceConsentNote = parse(key, json)?;
            short_text(key, &v.recorded_by)?;
            if v.consented && v.in_conflict {
                return Err(content(key, "consent in conflict counts as not given"));
            }
            authored(key, &v.author, stamp)
        }
        Kind::ReadingsGap => {
            let v: super::watch::ReadingsGap = parse(key, json)?;
            same_id(key, &v.id, id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            authored(key, &v.author, stamp)
        }
        Kind::Note => {
            let v: Note = parse(key, json)?;
            same_id(key, &v.id, id)?;
            long_text(key, &v.text)?;
            authored(key, &v.author, stamp)
        }
        Kind::CarePlan => parse::<CarePlan>(key, json).map(|_| ()),
        Kind::EnteredInError => {
            let v: EnteredInError = parse(key, json)?;
            same_id(key, &v.entry_id, id)?;
            authored(key, &v.author, stamp)
        }
        Kind::AdviceNeed
        | Kind::AdviceAction
        | Kind::AdviceOutcome
        | Kind::NeedStatus
        | Kind::ReferralOut => check_advice_entry(kind, key, id, json, stamp),
        Kind::Appointment => {
            let v: super::appointments::OutreachAppointment = parse(key, json)?;
            same_id(key, &v.id, id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            authored(key, &v.author, stamp)
        }
        Kind::AppointmentOutcome => {
            let v: super::appointments::AppointmentOutcome = parse(key, json)?;
            same_id(key, &v.id, id)?;
            short_text(key, &v.appointment_id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            authored(key, &v.author, stamp)
        }
        Kind::Referral => {
            let v: super::referral::Referral = parse(key, json)?;
            same_id(key, &v.id, id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            authored(key, &v.author, stamp)
        }
        Kind::ReferralAnswer => {
            let v: super::referral::ReferralAnswer = parse(key, json)?;
            same_id(key, &v.id, id)?;
            short_text(key, &v.referral_id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            authored(key, &v.author, stamp)
        }
        Kind::PossibleDuplicate => {
            let v: super::duplicates::PossibleDuplicate = parse(key, json)?;
            same_id(key, &v.id, id)?;
            short_text(key, &v.other_person_id)?;
            for t in &v.other_teams {
                short_text(key, t)?;
            }
            authored(key, &v.author, stamp)
        }
        Kind::RecordLink => {
            let v: super::duplicates::RecordLink = parse(key, json)?;
            same_id(key, &v.id, id)?;
            v.check().map_err(|e| content(key, e.to_string()))?;
            if v.mirrored_from.is_some() != stamp.by_server() {
                return Err(Refusal::Forbidden(format!(
                    "{key}: only the server copies a decision on a possible duplicate into the other record; record the decision on your own record"
                )));
            }
            authored(key, &v.author, stamp)
        }
        Kind::Imported => check_imported(key, id, json, stamp),
        Kind::AdviceTask => check_day_entry(Kind::Task, key, id, json, stamp),
        Kind::AdviceTaskStatus => check_day_entry(Kind::TaskStatus, key, id, json, stamp),
        Kind::Consent => {
            let v: ConsentToShare = parse(key, json)?;
            authored(key, &v.author, stamp)
        }
        Kind::Assessment => check_assessment(key, id, json, stamp),
        Kind::Wound => check_wound(key, id, json, stamp),
        Kind::PlanProblem
        | Kind::PlanGoal
        | Kind::PlanIntervention
        | Kind::PlanReview
        | Kind::VisitMove
        | Kind::VisitHandover
        | Kind::VisitCancel
        | Kind::VisitPriority
        | Kind::Task
        | Kind::TaskStatus
        | Kind::Medication => check_day_entry(kind, key, id, json, stamp),
    }
}

/// An entry imported from a GP summary (layout 8): the record's rules for it, with the day the
/// change was stamped (and a day's grace for clocks and time zones) as "today".
fn check_imported(key: &str, id: &str, json: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    let v: super::imported::ImportedEntry = parse(key, json)?;
    same_id(key, &v.id, id)?;
    let today = v.author.at.date_naive() + chrono::Days::new(1);
    v.check(today).map_err(|e| content(key, e.to_string()))?;
    authored(key, &v.author, stamp)
}

/// A virtual-ward admission (issue 13): only on a virtual-ward episode, only from layout 3,
/// and holding what `record::ward::admit` accepts.
fn check_admission(key: &str, v: &Episode, stamp: &AuditStamp) -> Result<(), Refusal> {
    let Some(a) = &v.admission else {
        return Ok(());
    };
    ward_layout(key, "a virtual-ward admission", stamp)?;
    if !super::ward::is_ward(v) {
        return Err(content(
            key,
            "an admission's details belong only on a virtual-ward episode",
        ));
    }
    a.validate().map_err(|e| content(key, e.to_string()))
}

/// A demographics field added in a later layout (7: what national returns need; 9: a verified
/// NHS number) in a change stamped with an older layout is refused.
fn field_layout(key: &str, field: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    match layout::demographics_field_layout(field) {
        Some(added) if stamp.layout < added => Err(Refusal::Structure(format!(
            "{key} is a demographics field added in layout {added}, but the change is stamped \
             with layout {}",
            stamp.layout
        ))),
        _ => Ok(()),
    }
}

fn ward_layout(key: &str, what: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    if stamp.layout < layout::LAYOUT_WARD {
        return Err(Refusal::Structure(format!(
            "{key} holds {what}, added in layout {}, but the change is stamped with layout {}",
            layout::LAYOUT_WARD,
            stamp.layout
        )));
    }
    Ok(())
}

/// An advice entry (issue 14 for outcomes' effects, statuses and referrals): its id, a category
/// and an effect the change's layout has, amounts the edit functions would accept, and an
/// outcome's stored gain the one its effect gives.
fn check_advice_entry(
    kind: Kind,
    key: &str,
    id: &str,
    json: &str,
    stamp: &AuditStamp,
) -> Result<(), Refusal> {
    use super::outreach::{FinancialEffect, NeedStatusChange, ReferralOut};
    let newer = |what: &str| {
        Refusal::Structure(format!(
            "entry {key} uses {what}, added in layout {} but the change is stamped with layout {}",
            layout::LAYOUT_OUTREACH,
            stamp.layout
        ))
    };
    let (entry_id, author) = match kind {
        Kind::AdviceNeed => {
            let v: AdviceNeed = parse(key, json)?;
            if v.category.since_layout() > stamp.layout {
                return Err(newer(&format!("the category {}", v.category.code())));
            }
            long_text(key, &v.description)?;
            (v.id, v.author)
        }
        Kind::AdviceAction => {
            let v: AdviceAction = parse(key, json)?;
            long_text(key, &v.description)?;
            (v.id, v.author)
        }
        Kind::AdviceOutcome => {
            let v: AdviceOutcome = parse(key, json)?;
            long_text(key, &v.description)?;
            if v.effect.is_some() && stamp.layout < layout::LAYOUT_OUTREACH {
                return Err(newer("a typed financial effect"));
            }
            let effect = v.financial_effect();
            effect.check().map_err(|e| content(key, e.to_string()))?;
            let expected = match &v.effect {
                Some(e) => e.total_gain_pence(),
                None => FinancialEffect::legacy(v.financial_gain_pence).total_gain_pence(),
            };
            if v.financial_gain_pence != expected {
                return Err(content(
                    key,
                    format!(
                        "its financial gain ({} pence) is not the one its effect gives ({expected} pence); the app that wrote it worked it out wrongly",
                        v.financial_gain_pence
                    ),
                ));
            }
            (v.id, v.author)
        }
        Kind::NeedStatus => {
            let v: NeedStatusChange = parse(key, json)?;
            if let Some(n) = &v.note {
                long_text(key, n)?;
            }
            (v.id, v.author)
        }
        _ => {
            let v: ReferralOut = parse(key, json)?;
            short_text(key, &v.organisation)?;
            long_text(key, &v.reason)?;
            (v.id, v.author)
        }
    };
    same_id(key, &entry_id, id)?;
    authored(key, &author, stamp)
}

/// A recorded assessment: a definition and version this app knows, answers within it, complete,
/// and the stored score exactly the definition's score of the answers (scored again here, as
/// NEWS2 is). Recorded only by a role that may record assessments.
fn check_assessment(key: &str, id: &str, json: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    use crate::clinical::assessments;
    let v: super::assessments::Assessment = parse(key, json)?;
    same_id(key, &v.id, id)?;
    may_assess(key, stamp)?;
    let def = assessments::definition(&v.definition_id, v.definition_version)
        .map_err(|e| content(key, e.to_string()))?;
    assessments::validate_answers(def, &v.answers).map_err(|e| content(key, e.to_string()))?;
    let rescored = assessments::score(def, &v.answers);
    if !rescored.is_complete() {
        return Err(content(
            key,
            format!(
                "it is not complete (missing {})",
                rescored.missing.join(", ")
            ),
        ));
    }
    if !rescored.same_as(&v.score) {
        return Err(content(
            key,
            format!(
                "its score ({:?}, {:?}) does not match its answers ({:?}, {:?}); the app that wrote it scored wrongly",
                v.score.total, v.score.band, rescored.total, rescored.band
            ),
        ));
    }
    authored(key, &v.author, stamp)
}

/// A recorded wound assessment: possible measurements, tissue shares summing to 100, pain 0–10,
/// and the area stored the one its measurements give.
fn check_wound(key: &str, id: &str, json: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    let v: super::assessments::WoundAssessment = parse(key, json)?;
    same_id(key, &v.id, id)?;
    may_assess(key, stamp)?;
    let far_future = chrono::DateTime::<chrono::Utc>::MAX_UTC;
    let input = super::assessments::WoundAssessmentInput {
        wound_id: Some(v.wound_id.clone()),
        site: v.site.clone(),
        size: v.size,
        tissue: v.tissue.clone(),
        exudate: v.exudate,
        odour: v.odour,
        pain: v.pain,
        photo_ref: v.photo_ref.clone(),
        visit_id: v.visit_id.clone(),
        assessed_at: v.assessed_at,
    };
    super::edit::validate_wound(&input, far_future - chrono::Duration::days(1))
        .map_err(|e| content(key, e.to_string()))?;
    if (v.area_mm2 - v.size.area_mm2()).abs() > 0.05 {
        return Err(content(
            key,
            format!(
                "its area ({} mm²) is not length × width ({} mm²)",
                v.area_mm2,
                v.size.area_mm2()
            ),
        ));
    }
    authored(key, &v.author, stamp)
}

fn may_assess(key: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    if super::policy::role_may(stamp.role, super::policy::Action::RecordAssessment) {
        Ok(())
    } else {
        Err(Refusal::Forbidden(format!(
            "entry {key}: {} may not record a clinical assessment",
            stamp.role.label()
        )))
    }
}

/// The district nurse's day (issue 12): each register parses as its type, names the id of its
/// key, holds values the edit functions would accept, and is authored by the change's author.
fn check_day_entry(
    kind: Kind,
    key: &str,
    id: &str,
    json: &str,
    stamp: &AuditStamp,
) -> Result<(), Refusal> {
    use super::day::{VisitCancellation, VisitHandover, VisitMove, VisitPriorityOverride};
    use super::plan::{
        self, PlanGoal, PlanIntervention, PlanInterventionInput, PlanProblem, PlanReview,
    };
    let invalid = |e: crate::error::ValidationError| content(key, e.to_string());
    match kind {
        Kind::PlanProblem => {
            let v: PlanProblem = parse(key, json)?;
            same_id(key, &v.id, id)?;
            long_text(key, &v.text)?;
            authored(key, &v.author, stamp)
        }
        Kind::PlanGoal => {
            let v: PlanGoal = parse(key, json)?;
            same_id(key, &v.id, id)?;
            long_text(key, &v.text)?;
            authored(key, &v.author, stamp)
        }
        Kind::PlanIntervention => {
            let v: PlanIntervention = parse(key, json)?;
            same_id(key, &v.id, id)?;
            PlanInterventionInput {
                goal_id: v.goal_id.clone(),
                kind: v.kind.clone(),
                description: v.description.clone(),
                frequency: v.frequency.clone(),
                window_start: v.window_start.clone(),
                window_end: v.window_end.clone(),
                tolerance_minutes: v.tolerance_minutes,
                priority: v.priority,
                clinician: v.clinician.clone(),
                starts_on: v.starts_on,
                ends_on: v.ends_on,
                contact_type: v.contact_type,
            }
            .validated()
            .map_err(invalid)?;
            authored(key, &v.author, stamp)
        }
        Kind::PlanReview => {
            let v: PlanReview = parse(key, json)?;
            authored(key, &v.author, stamp)
        }
        Kind::VisitMove => {
            let v: VisitMove = parse(key, json)?;
            same_id(key, &v.visit_ref, id)?;
            let s = plan::parse_hhmm("new window start", &v.window_start).map_err(invalid)?;
            let e = plan::parse_hhmm("new window end", &v.window_end).map_err(invalid)?;
            if e <= s {
                return Err(content(key, "the window ends before it starts"));
            }
            authored(key, &v.author, stamp)
        }
        Kind::VisitHandover => {
            let v: VisitHandover = parse(key, json)?;
            same_id(key, &v.visit_ref, id)?;
            short_text(key, &v.to_user_id)?;
            short_text(key, &v.to_name)?;
            long_text(key, &v.note)?;
            authored(key, &v.author, stamp)
        }
        Kind::VisitCancel => {
            let v: VisitCancellation = parse(key, json)?;
            same_id(key, &v.visit_ref, id)?;
            short_text(key, &v.reason)?;
            authored(key, &v.author, stamp)
        }
        Kind::VisitPriority => {
            let v: VisitPriorityOverride = parse(key, json)?;
            same_id(key, &v.visit_ref, id)?;
            authored(key, &v.author, stamp)
        }
        Kind::Task => {
            let v: crate::record::task::CareTask = parse(key, json)?;
            same_id(key, &v.id, id)?;
            long_text(key, &v.description)?;
            authored(key, &v.author, stamp)
        }
        Kind::Medication => {
            let v: crate::record::medication::MedicationAdministration = parse(key, json)?;
            same_id(key, &v.id, id)?;
            crate::record::medication::check(&v, &stamp.user_id).map_err(invalid)?;
            authored(key, &v.author, stamp)
        }
        Kind::TaskStatus => {
            let v: crate::record::task::TaskStatusChange = parse(key, json)?;
            same_id(key, &v.id, id)?;
            if let Some(n) = &v.note {
                long_text(key, n)?;
            }
            authored(key, &v.author, stamp)
        }
        _ => Ok(()),
    }
}

/// Home-monitoring sets, re-alerts and readings gaps are the server's, and the server writes
/// nothing else (decision 0011).
fn check_principal(kind: Kind, key: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    if stamp.by_integration() {
        // An integration imports GP summaries: a registration (demographics fields, of which
        // a person held gets only the mark of a verified NHS number) and imported entries,
        // nothing a clinician records.
        return match kind {
            Kind::Demographic | Kind::Imported => Ok(()),
            _ => Err(Refusal::Forbidden(format!(
                "{key} was written by an integration, which writes only a person's registration and entries imported from a GP summary"
            ))),
        };
    }
    if kind == Kind::RecordLink {
        // A clinician's decision, or the server's copy of one (checked in `check_entry`).
        return Ok(());
    }
    let servers = matches!(
        kind,
        Kind::HomeObservations
            | Kind::EscalationRealert
            | Kind::ReadingsGap
            | Kind::AdviceConsent
            | Kind::PossibleDuplicate
    );
    match (servers, stamp.by_server()) {
        (true, false) if kind == Kind::HomeObservations => Err(Refusal::Forbidden(format!(
            "{key} is a set of home-monitoring readings, which only the Doorstep server assembles; record observations taken on a visit as an observation set"
        ))),
        (true, false) => Err(Refusal::Forbidden(format!(
            "{key} is written only by the Doorstep server (re-alerts, missing readings, the consent to share as the health team sees it, possible duplicates); acknowledge the escalation, record consent in the advice record, or decide on the duplicate, instead"
        ))),
        (false, true) => Err(Refusal::Forbidden(format!(
            "{key} was written by the server, which writes only home-monitoring sets, re-alerts, missing-readings escalations, the consent note, possible duplicates and copies of decisions on them"
        ))),
        _ => Ok(()),
    }
}

fn check_observations(key: &str, id: &str, json: &str, stamp: &AuditStamp) -> Result<(), Refusal> {
    let v: ObservationSet = parse(key, json)?;
    if !v.assumed.is_empty() || v.home.is_some() {
        return Err(content(
            key,
            "a set recorded by a clinician is measured: it assumes nothing and holds no home-monitoring readings",
        ));
    }
    check_scored(key, id, &v, stamp)
}

/// A set of home-monitoring readings (layout 5): its window and count, what it assumed, and a
/// NEWS2 that matches.
fn check_home_observations(
    key: &str,
    id: &str,
    json: &str,
    stamp: &AuditStamp,
) -> Result<(), Refusal> {
    let v: ObservationSet = parse(key, json)?;
    let Some(home) = &v.home else {
        return Err(content(
            key,
            "a home-monitoring set must say when it opened and how many readings it holds",
        ));
    };
    let window = crate::clinical::readings::SET_WINDOW;
    if home.readings == 0 || v.taken_at < home.opened_at || v.taken_at >= home.opened_at + window {
        return Err(content(
            key,
            format!(
                "{} readings from {} to {}: a set holds at least one reading, taken within 60 minutes of its first",
                home.readings, home.opened_at, v.taken_at
            ),
        ));
    }
    if v.visit_id.is_some() {
        return Err(content(key, "a home-monitoring set belongs to no visit"));
    }
    crate::clinical::readings::check_assumed(&v.assumed, &v.observations)
        .map_err(|e| content(key, e))?;
    check_scored(key, id, &v, stamp)
}

fn check_scored(
    key: &str,
    id: &str,
    v: &ObservationSet,
    stamp: &AuditStamp,
) -> Result<(), Refusal> {
    same_id(key, &v.id, id)?;
    v.observations
        .validate()
        .map_err(|e| content(key, e.to_string()))?;
    let rescored = news2::score(&v.observations, v.news2.scale);
    if rescored != v.news2 {
        return Err(content(
            key,
            format!(
                "its NEWS2 ({:?}) does not match its observations ({:?}); the app that wrote it scored wrongly",
                v.news2.total, rescored.total
            ),
        ));
    }
    authored(key, &v.author, stamp)
}

/// One demographics field: a known field whose value reads as that field of [`Demographics`].
fn check_demographic(key: &str, field: &str, json: &str) -> Result<(), Refusal> {
    let value: serde_json::Value = parse(key, json)?;
    let mut probe = serde_json::to_value(Demographics {
        given_name: "x".into(),
        family_name: "x".into(),
        ..Default::default()
    })
    .map_err(|e| content(key, e.to_string()))?;
    let serde_json::Value::Object(fields) = &mut probe else {
        return Err(content(key, "demographics are not an object"));
    };
    if !fields.contains_key(field) {
        return Err(Refusal::Structure(format!(
            "{field} is not a demographics field"
        )));
    }
    fields.insert(field.to_string(), value);
    let d: Demographics = serde_json::from_value(probe).map_err(|e| content(key, e.to_string()))?;
    let far_future = chrono::NaiveDate::MAX;
    let named = match field {
        "given_name" | "family_name" => d,
        _ => Demographics {
            given_name: "x".into(),
            family_name: "x".into(),
            ..d
        },
    };
    named
        .validated(far_future)
        .map(|_| ())
        .map_err(|e| content(key, e.to_string()))
}

fn same_id(key: &str, inside: &str, in_key: &str) -> Result<(), Refusal> {
    if inside == in_key {
        Ok(())
    } else {
        Err(content(key, format!("it says its id is {inside}")))
    }
}

fn short_text(key: &str, v: &str) -> Result<(), Refusal> {
    short("text", v).map_err(|e| content(key, e.to_string()))
}

fn long_text(key: &str, v: &str) -> Result<(), Refusal> {
    text("text", v).map_err(|e| content(key, e.to_string()))
}

/// An entry names the same person and device as the change that carries it.
fn authored(key: &str, author: &Author, stamp: &AuditStamp) -> Result<(), Refusal> {
    if author.user_id == stamp.user_id
        && author.device_id == stamp.device_id
        && author.role == stamp.role
    {
        Ok(())
    } else {
        Err(Refusal::ForgedAuthor(format!(
            "entry {key} names {} on device {} but the change is stamped by {} on device {}",
            author.user_id, author.device_id, stamp.user_id, stamp.device_id
        )))
    }
}

/// The named acts of the access policy a change performs, beyond writing its compartment
/// (docs/decisions/0005): completing a task. The server asks the policy for each, as the phone
/// does before it writes.
pub fn named_actions(compartment: Compartment, change: &Change) -> Vec<super::policy::Action> {
    let mut out = Vec::new();
    if compartment != Compartment::Clinical {
        return out;
    }
    let Ok(expanded) = catch_unwind(AssertUnwindSafe(|| change.decode())) else {
        return out;
    };
    for op in &expanded.operations {
        let (Key::Map(k), OpType::Put(ScalarValue::Str(s))) = (&op.key, &op.action) else {
            continue;
        };
        if k.starts_with(layout::TASK_STATUS) {
            let completes = serde_json::from_str::<crate::record::task::TaskStatusChange>(s)
                .is_ok_and(|c| c.status == crate::record::task::TaskStatus::Completed);
            if completes && !out.contains(&super::policy::Action::CompleteTask) {
                out.push(super::policy::Action::CompleteTask);
            }
        }
    }
    out
}

/// The referrals and referral answers a demographics change writes (issue 14 item 5): the
/// server acts on them (a pending membership, an accepted one, a purge) in the same transaction
/// as it stores the change. Call after [`check_change`] accepted the change.
pub fn referral_entries(
    compartment: Compartment,
    change: &Change,
) -> (
    Vec<super::referral::Referral>,
    Vec<super::referral::ReferralAnswer>,
) {
    let (mut referrals, mut answers) = (Vec::new(), Vec::new());
    if compartment != Compartment::Demographics {
        return (referrals, answers);
    }
    let Ok(expanded) = catch_unwind(AssertUnwindSafe(|| change.decode())) else {
        return (referrals, answers);
    };
    for op in &expanded.operations {
        let (Key::Map(k), OpType::Put(ScalarValue::Str(s))) = (&op.key, &op.action) else {
            continue;
        };
        if k.starts_with(layout::REFERRAL_ANSWER) {
            if let Ok(a) = serde_json::from_str(s) {
                answers.push(a);
            }
        } else if k.starts_with(layout::REFERRAL) {
            if let Ok(r) = serde_json::from_str(s) {
                referrals.push(r);
            }
        }
    }
    (referrals, answers)
}

/// The decisions on possible duplicates a demographics change writes from a device (not the
/// server's copies): the server copies each into the other record.
pub fn record_links(
    compartment: Compartment,
    change: &Change,
) -> Vec<super::duplicates::RecordLink> {
    let mut out = Vec::new();
    if compartment != Compartment::Demographics {
        return out;
    }
    let Ok(expanded) = catch_unwind(AssertUnwindSafe(|| change.decode())) else {
        return out;
    };
    for op in &expanded.operations {
        let (Key::Map(k), OpType::Put(ScalarValue::Str(s))) = (&op.key, &op.action) else {
            continue;
        };
        if k.starts_with(layout::RECORD_LINK) {
            if let Ok(l) = serde_json::from_str::<super::duplicates::RecordLink>(s) {
                if l.mirrored_from.is_none() {
                    out.push(l);
                }
            }
        }
    }
    out
}

/// Whether a demographics change writes nothing but referral answers (what a team with a
/// referral pending to it may send about the person).
pub fn only_referral_answers(compartment: Compartment, change: &Change) -> bool {
    if compartment != Compartment::Demographics {
        return false;
    }
    let Ok(expanded) = catch_unwind(AssertUnwindSafe(|| change.decode())) else {
        return false;
    };
    !expanded.operations.is_empty()
        && expanded.operations.iter().all(|op| {
            matches!(&op.key, Key::Map(k) if k.starts_with(layout::REFERRAL_ANSWER))
                && matches!(op.action, OpType::Put(_))
        })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod outreach_tests;
