//! How a compartment is laid out in its Automerge document.
//!
//! Every value lives directly in the document's root map under a flat key, e.g.
//! `visit:<id>` → JSON of a [`super::model::Visit`]. There are no nested objects: two devices
//! that both create a nested map at the same key would each make their own, and Automerge would
//! show only one of them (the other's contents silently hidden). Flat keys avoid that whole class
//! of loss, and `map_range` over a key prefix lists a kind of entry in key order.
//!
//! Entries (visits, notes, observation sets, advice needs…) are immutable: written once under a
//! fresh UUIDv7, never edited, so they cost one Automerge op each and never conflict. Fields that
//! are edited in place (demographics fields, alerts, care plan, consent) are single registers;
//! for alerts, concurrent writes are kept by Automerge as conflicting values and surfaced.
//!
//! Every change carries an [`AuditStamp`] as its commit message and the wall-clock time as its
//! timestamp, so who changed what travels with the change itself.

use automerge::{AutoCommit, ObjId, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef, ROOT};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::model::{Author, Compartment, Role};
use crate::error::{Error, Result};

pub const DEMOGRAPHICS: &str = "demographics";
pub const ALERT: &str = "alert:";
pub const EPISODE: &str = "episode:";
pub const DISCHARGE: &str = "discharge:";
pub const PLANNED: &str = "planned:";
pub const VISIT: &str = "visit:";
pub const OBSERVATIONS: &str = "obs:";
pub const NOTE: &str = "note:";
pub const CARE_PLAN: &str = "care_plan";
pub const ENTERED_IN_ERROR: &str = "eie:";
pub const ADVICE_NEED: &str = "need:";
pub const ADVICE_ACTION: &str = "action:";
pub const ADVICE_OUTCOME: &str = "outcome:";
pub const CONSENT: &str = "consent";

// Scored assessments and wound assessments (layout 2).
pub const ASSESSMENT: &str = "assessment:";
pub const WOUND: &str = "wound:";
// ---- the district nurse's day (issue 12, layout 2): single-value registers
/// A care-plan problem (`record::plan::PlanProblem`).
pub const CP_PROBLEM: &str = "cp_problem:";
/// A care-plan goal (`PlanGoal`).
pub const CP_GOAL: &str = "cp_goal:";
/// A care-plan intervention with its frequency (`PlanIntervention`).
pub const CP_INTERVENTION: &str = "cp_int:";
/// The care plan's review date (`PlanReview`).
pub const CP_REVIEW: &str = "cp_review";
/// A scheduled visit moved (`record::day::VisitMove`), by visit ref.
pub const DV_MOVE: &str = "dv_move:";
/// A scheduled visit handed to a colleague (`VisitHandover`).
pub const DV_HANDOVER: &str = "dv_handover:";
/// A scheduled visit cancelled by the service (`VisitCancellation`).
pub const DV_CANCEL: &str = "dv_cancel:";
/// A visit's priority set by hand (`VisitPriorityOverride`).
pub const DV_PRIORITY: &str = "dv_priority:";
/// A task (`record::task::Task`): an immutable entry.
pub const TASK: &str = "task:";
/// A change of a task's status (`TaskStatusChange`): an immutable entry.
pub const TASK_STATUS: &str = "task_status:";
/// A medication administration (`record::medication::MedicationAdministration`): immutable.
pub const MEDICATION: &str = "med:";
// ---- the virtual ward (issue 13, layout 3)
/// An acknowledgement, action or outcome of an escalation (`record::escalation`): immutable.
pub const ESCALATION_EVENT: &str = "esc_event:";
// ---- Citizens Advice outreach (issue 14, layout 4): immutable entries
/// A change of an advice need's status (`record::outreach::NeedStatusChange`).
pub const NEED_STATUS: &str = "need_status:";
/// A referral of an advice need to an outside organisation (`record::outreach::ReferralOut`).
pub const REFERRAL_OUT: &str = "referral_out:";
// ---- home monitoring on the virtual ward (issue 13, layout 5)
/// A set of home-monitoring readings the server assembled and scored (`record::home`): a
/// register, rewritten while readings join the set, and written only by the server.
pub const HOME_OBSERVATIONS: &str = "home_obs:";
/// The server's re-alert of an escalation nobody acknowledged (`record::watch`): immutable,
/// written only by the server.
pub const ESCALATION_REALERT: &str = "esc_realert:";
/// A monitored person's devices sent nothing for the team's time (`record::watch`): immutable,
/// written only by the server; it raises a "no readings" escalation.
pub const READINGS_GAP: &str = "home_gap:";
/// The person's consent to share their advice record, as the health team sees it
/// (`record::consent_note`): a register in the clinical record, written only by the server.
pub const ADVICE_CONSENT: &str = "advice_consent";
// ---- outreach appointments (issue 14 item 4, layout 6): immutable entries of the advice record
/// An outreach appointment (`record::appointments::OutreachAppointment`).
pub const APPOINTMENT: &str = "appt:";
/// What happened at an appointment (`AppointmentOutcome`).
pub const APPOINTMENT_OUTCOME: &str = "appt_outcome:";
/// A case worker's follow-up (`record::task::CareTask`), e.g. after a missed appointment.
pub const ADVICE_TASK: &str = "advice_task:";
/// A change of a follow-up's status (`TaskStatusChange`).
pub const ADVICE_TASK_STATUS: &str = "advice_task_status:";
// ---- referrals between teams (issue 14 item 5, layout 6): immutable entries of the
// demographics record
/// A referral to another team (`record::referral::Referral`).
pub const REFERRAL: &str = "referral:";
/// The receiving team's answer (`ReferralAnswer`).
pub const REFERRAL_ANSWER: &str = "referral_answer:";
// ---- tell it once (issue 14 item 6, layout 6): immutable entries of the demographics record
/// A possible duplicate the server found (`record::duplicates::PossibleDuplicate`).
pub const DUPLICATE: &str = "duplicate:";
/// A decision on it, or the server's copy of one (`RecordLink`).
pub const RECORD_LINK: &str = "record_link:";
// ---- import of a GP summary (issue 15 item 3, layout 8): immutable entries of the clinical
// record
/// An allergy, problem or flag imported from a FHIR Bundle (`record::imported::ImportedEntry`).
pub const IMPORTED: &str = "imported:";

/// The key prefixes of entries (as opposed to single-value fields); which compartment holds
/// which kind is `validate`'s table, the one map from key to compartment.
const ENTRY_PREFIXES: &[&str] = &[
    EPISODE,
    DISCHARGE,
    PLANNED,
    VISIT,
    OBSERVATIONS,
    NOTE,
    ADVICE_NEED,
    ADVICE_ACTION,
    ADVICE_OUTCOME,
    ASSESSMENT,
    WOUND,
    // issue 12
    MEDICATION,
    TASK,
    // issue 13
    ESCALATION_EVENT,
    // issue 14
    NEED_STATUS,
    REFERRAL_OUT,
    // issue 13, layout 5
    ESCALATION_REALERT,
    READINGS_GAP,
    // issue 14, layout 6
    APPOINTMENT,
    APPOINTMENT_OUTCOME,
    ADVICE_TASK,
    ADVICE_TASK_STATUS,
    REFERRAL,
    REFERRAL_ANSWER,
    DUPLICATE,
    RECORD_LINK,
    // issue 15, layout 8
    IMPORTED,
];

/// True when `doc`, a document of `compartment`, holds an entry (of a kind that can be marked
/// entered in error) with this id.
pub fn holds_entry(doc: &AutoCommit, compartment: Compartment, entry_id: &str) -> Result<bool> {
    for prefix in ENTRY_PREFIXES {
        let k = key(prefix, entry_id);
        if super::validate::is_immutable_entry(compartment, &k) && has_key(doc, &k)? {
            return Ok(true);
        }
    }
    // A home-monitoring set is a register (the server rewrites it while it is open), and a
    // clinician may still mark it entered in error (a device artefact).
    Ok(compartment == Compartment::Clinical && has_key(doc, &key(HOME_OBSERVATIONS, entry_id))?)
}

/// The version of this layout (docs/decisions/0002). Every change carries the version it was
/// written with in its audit stamp; a change from a newer version is stored and synced, and its
/// entries this app cannot read are shown as "recorded with a newer version of the app".
///
/// | version | added |
/// |---|---|
/// | 1 | the first release |
/// | 2 | `assessment:` (MUST, Waterlow), `wound:` (wound assessments); the district nurse's day: care-plan items, visit exceptions, tasks, medication administration |
/// | 3 | the virtual ward: `esc_event:` (escalation acknowledgements, actions, outcomes), an episode's `admission`, a discharge's `destination` |
/// | 4 | Citizens Advice outreach (issue 14): the 18 advice categories, an outcome's typed `effect`, `need_status:`, `referral_out:` |
/// | 5 | home monitoring (issue 13): `home_obs:` (sets the server assembles from readings, with what was assumed), `esc_realert:` (re-alerts of unacknowledged escalations), `home_gap:` (no readings for the team's time), `advice_consent` (the consent to share as the health team sees it), all written by the server as its own principal |
/// | 6 | outreach appointments (issue 14 item 4): `appt:`, `appt_outcome:`, `advice_task:`, `advice_task_status:` in the advice record; referrals between teams (item 5): `referral:`, `referral_answer:` in the demographics record; tell it once (item 6): `duplicate:` (server-written), `record_link:` in the demographics record |
/// | 7 | what national returns need (issue 15 item 4): the demographics fields `stated_gender`, `ethnic_category` and `gp_practice_ods` |
/// | 8 | import of a GP summary (issue 15 item 3): `imported:` (coded allergies, problems and flags from a FHIR Bundle) in the clinical record |
/// | 9 | a verified NHS number (issue 15 item 3): the demographics field `nhs_number_verified`, set from a GP summary that says its number was traced |
pub const LAYOUT_VERSION: u32 = 9;

/// The layout version that added `nhs_number_verified` to the demographics.
pub const LAYOUT_VERIFIED_NUMBER: u32 = 9;

/// The first layout of a demographics field, for the fields added after the first release
/// (`None`: a field of layout 1).
pub fn demographics_field_layout(field: &str) -> Option<u32> {
    if DICTIONARY_FIELDS.contains(&field) {
        Some(LAYOUT_DICTIONARY)
    } else if field == "nhs_number_verified" {
        Some(LAYOUT_VERIFIED_NUMBER)
    } else {
        None
    }
}

/// The layout version that added entries imported from a GP summary (`imported:`). A phone of
/// layout 7 counts them as "recorded with a newer version of the app".
pub const LAYOUT_IMPORT: u32 = 8;

/// The layout version that added the demographics fields the CSDS extract needs (the stated
/// gender, the ethnic category, the GP practice's ODS code). A phone of layout 6 ignores them
/// when it reads the record; the server refuses them in a change stamped with an older layout.
pub const LAYOUT_DICTIONARY: u32 = 7;

/// The demographics fields added with [`LAYOUT_DICTIONARY`].
pub const DICTIONARY_FIELDS: [&str; 3] = ["stated_gender", "ethnic_category", "gp_practice_ods"];

/// The layout version that added outreach appointments and case workers' follow-ups.
pub const LAYOUT_APPOINTMENTS: u32 = 6;

/// The layout version that added sets of home-monitoring readings written by the server
/// (`home_obs:`, decision 0011). A phone of layout 4 counts them as "recorded with a newer
/// version of the app" rather than showing a score without saying what was assumed.
pub const LAYOUT_HOME: u32 = 5;

/// The layout version that added Citizens Advice outreach (issue 14, docs/outreach.md).
pub const LAYOUT_OUTREACH: u32 = 4;

/// The layout version that added the district nurse's day (care-plan items, visit exceptions,
/// the scheduled-visit fields of a visit): issue 12.
pub const LAYOUT_DAY: u32 = 2;

/// The layout version that added the virtual ward (escalation events, an episode's admission,
/// a discharge's destination): issue 13. Layout 2 was released with the day (stop 16), so a
/// phone of that release reads these entries as "recorded with a newer version of the app"
/// instead of refusing them as unknown kinds.
pub const LAYOUT_WARD: u32 = 3;

fn layout_one() -> u32 {
    1
}

fn is_layout_one(v: &u32) -> bool {
    *v == 1
}

/// The principal kind of a server process writing on its own authority (`AuditStamp::principal`).
pub const PRINCIPAL_SERVER: &str = "server";
/// The principal kind of a member of hub staff signed in to the server's pages (the hub's
/// screen, issue 13): their changes are written by a server process on their behalf.
pub const PRINCIPAL_HUB: &str = "hub";
/// The principal kind of a system integration's writes (a GP summary imported through the
/// server's FHIR endpoint, issue 15 item 3), written by a server process on its behalf.
pub const PRINCIPAL_INTEGRATION: &str = "integration";

fn is_device(kind: &str) -> bool {
    kind.is_empty() || kind == "device"
}

/// The commit message of every change: who, in which role, on which device, and what in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStamp {
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "n")]
    pub display_name: String,
    #[serde(rename = "r")]
    pub role: Role,
    #[serde(rename = "d")]
    pub device_id: String,
    #[serde(rename = "s")]
    pub summary: String,
    /// The record layout version the change was written with (absent: 1).
    #[serde(
        rename = "l",
        default = "layout_one",
        skip_serializing_if = "is_layout_one"
    )]
    pub layout: u32,
    /// The kind of principal (docs/decisions/0004): absent or "device" for a phone; "server",
    /// "integration" or "hub" otherwise.
    #[serde(rename = "p", default, skip_serializing_if = "is_device")]
    pub principal: String,
}

impl AuditStamp {
    pub fn new(author: &Author, summary: impl Into<String>) -> Self {
        AuditStamp {
            user_id: author.user_id.clone(),
            display_name: author.display_name.clone(),
            role: author.role,
            device_id: author.device_id.clone(),
            summary: summary.into(),
            layout: LAYOUT_VERSION,
            principal: String::new(),
        }
    }

    /// Whether the stamp names a device (a phone) as its principal.
    pub fn by_device(&self) -> bool {
        is_device(&self.principal)
    }

    /// Whether the stamp names a system integration as its principal.
    pub fn by_integration(&self) -> bool {
        self.principal == PRINCIPAL_INTEGRATION
    }

    /// Whether the stamp names a server process as its principal (decision 0011).
    pub fn by_server(&self) -> bool {
        self.principal == PRINCIPAL_SERVER
    }
}

pub fn key(prefix: &str, id: &str) -> String {
    format!("{prefix}{id}")
}

/// Write `value` as JSON under `key` (one Automerge op).
pub fn put_json<T: Serialize>(doc: &mut AutoCommit, key: &str, value: &T) -> Result<()> {
    use automerge::transaction::Transactable;
    let json = serde_json::to_string(value)?;
    doc.put(ROOT, key, json)?;
    Ok(())
}

fn decode<T: DeserializeOwned>(key: &str, v: &Value<'_>) -> Result<T> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => serde_json::from_str(s)
                .map_err(|e| Error::Document(format!("entry {key} cannot be read: {e}"))),
            other => Err(Error::Document(format!(
                "entry {key} holds {other:?}, expected text"
            ))),
        },
        Value::Object(t) => Err(Error::Document(format!(
            "entry {key} holds an object ({t:?}), expected text"
        ))),
    }
}

/// As [`decode`], for a value borrowed from a range.
fn decode_ref<T: DeserializeOwned>(key: &str, v: &ValueRef<'_>) -> Result<T> {
    match v {
        ValueRef::Scalar(ScalarValueRef::Str(s)) => serde_json::from_str(s)
            .map_err(|e| Error::Document(format!("entry {key} cannot be read: {e}"))),
        other => Err(Error::Document(format!(
            "entry {key} holds {other:?}, expected text"
        ))),
    }
}

/// The value under `key`; with concurrent values, Automerge's deterministic winner.
pub fn get_json<T: DeserializeOwned>(doc: &AutoCommit, key: &str) -> Result<Option<T>> {
    match doc.get(ROOT, key)? {
        Some((v, _)) => Ok(Some(decode(key, &v)?)),
        None => Ok(None),
    }
}

/// Every concurrent value under `key`, each with the id of the op that wrote it.
pub fn get_all_json<T: DeserializeOwned>(doc: &AutoCommit, key: &str) -> Result<Vec<(T, ObjId)>> {
    doc.get_all(ROOT, key)?
        .into_iter()
        .map(|(v, id)| Ok((decode(key, &v)?, id)))
        .collect()
}

/// Every entry whose key starts with `prefix`, in key order (UUIDv7 ids sort by creation time).
///
/// An entry this app cannot decode (written by a newer version of the app, whose layout it does
/// not know) is left out here, never fails the whole record: [`super::validate::unreadable`]
/// counts them so the screen can say "recorded with a newer version of the app".
pub fn entries<T: DeserializeOwned>(doc: &AutoCommit, prefix: &str) -> Result<Vec<T>> {
    let mut end = prefix.to_string();
    end.pop();
    end.push(';');
    let mut out = Vec::new();
    // One pass over the range, values included (a `get` per key would seek each again).
    for item in doc.map_range(ROOT, prefix.to_string()..end) {
        match decode_ref(&item.key, &item.value) {
            Ok(entry) => out.push(entry),
            Err(e) => tracing::debug!(error = %e, "an entry this app cannot read was left out"),
        }
    }
    Ok(out)
}

/// The keys in the root map starting with `prefix`.
pub fn prefix_keys(doc: &AutoCommit, prefix: &str) -> Vec<String> {
    let mut end = prefix.to_string();
    // Prefixes end in ':'; the next character ';' bounds the range.
    end.pop();
    end.push(';');
    doc.map_range(ROOT, prefix.to_string()..end)
        .map(|item| item.key.to_string())
        .collect()
}

pub fn has_key(doc: &AutoCommit, key: &str) -> Result<bool> {
    Ok(doc.get(ROOT, key)?.is_some())
}

/// The keys in the root map starting with `prefix`, where `prefix` ends in '.'.
pub fn prefix_keys_dot(doc: &AutoCommit, prefix: &str) -> Vec<String> {
    let mut end = prefix.to_string();
    end.pop();
    end.push('/'); // '/' follows '.' in ASCII
    doc.map_range(ROOT, prefix.to_string()..end)
        .map(|item| item.key.to_string())
        .collect()
}
