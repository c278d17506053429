//! Reading a person's record out of their compartment documents (sans-IO).

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::layout::{self, key, ALERT, CARE_PLAN, CONSENT, DEMOGRAPHICS};
use super::model::*;
use crate::clinical::news2::SpO2Scale;
use crate::error::{Error, Result};

/// Everything a device holds about one person, as the app shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PersonRecord {
    pub person_id: String,
    pub demographics: Option<Demographics>,
    /// Only compartments this device holds are filled in.
    pub clinical: Option<ClinicalRecord>,
    pub advice: Option<AdviceRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ClinicalRecord {
    /// One per alert kind that has a value; several values while a conflict is open.
    pub alerts: Vec<Alert>,
    pub conflicts: Vec<ClinicalConflict>,
    pub episodes: Vec<Episode>,
    pub planned_visits: Vec<PlannedVisit>,
    pub visits: Vec<Visit>,
    pub observations: Vec<ObservationSet>,
    pub notes: Vec<Note>,
    pub care_plan: Option<CarePlan>,
    /// Entries marked as entered in error. The entries themselves are still listed above.
    pub entered_in_error: Vec<EnteredInError>,
    /// Entries recorded with a newer version of the app, which this version cannot show: the
    /// record above is not complete while this is above 0 (update the app). Counted by
    /// [`clinical_for_display`] (the projections, which only need what this version reads, skip
    /// the count).
    #[cfg_attr(feature = "uniffi", uniffi(default = 0))]
    pub newer_entries: u32,
    /// Scored assessments (MUST, Waterlow), oldest first, each with its score as recorded.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub assessments: Vec<super::assessments::Assessment>,
    /// Wound assessments, oldest first.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub wound_assessments: Vec<super::assessments::WoundAssessment>,
    /// Each wound's area over the visits (entries marked entered in error left out).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub wound_trends: Vec<super::assessments::WoundTrend>,
    // ---- the district nurse's day (issue 12)
    /// The care plan's problems, goals and interventions (the first release's `care_plan`
    /// above is its first version: `FieldStore::care_plan` shows both together).
    pub plan: super::plan::CarePlanView,
    /// Moves, hand-overs, cancellations and priorities of scheduled visits.
    pub visit_exceptions: super::day::VisitExceptions,
    /// Every open conflict on a single-value field (alerts, care plan, visit exceptions).
    pub field_conflicts: Vec<super::conflict::FieldConflict>,
    /// Tasks and every change of their status (`record::task::TaskView::of` works out status).
    pub tasks: Vec<super::task::CareTask>,
    pub task_status_changes: Vec<super::task::TaskStatusChange>,
    /// Medications given or not given (immutable; corrections are entered in error).
    pub medications: Vec<super::medication::MedicationAdministration>,
    // ---- the virtual ward (issue 13)
    /// Acknowledgements, actions and outcomes of escalations (immutable).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub escalation_events: Vec<super::escalation::EscalationEvent>,
    /// The escalations the observation sets raise, worked out when read
    /// (`record::escalation::escalations`), oldest first.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub escalations: Vec<super::escalation::Escalation>,
    /// The server's re-alerts of unacknowledged escalations (layout 5, `record::watch`).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub escalation_realerts: Vec<super::watch::EscalationRealert>,
    /// Times a monitored person's devices went quiet for too long (layout 5, `record::watch`).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub readings_gaps: Vec<super::watch::ReadingsGap>,
    /// The person's consent to share their advice record, as the server noted it for the health
    /// team (layout 5, `record::consent_note`): shown even after the advice record has left.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub advice_consent: Option<super::consent_note::AdviceConsentNote>,
    // ---- import of a GP summary (issue 15 item 3, layout 8)
    /// Allergies, problems and flags imported from a GP summary, oldest first.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub imported: Vec<super::imported::ImportedEntry>,
    /// Where an imported allergy and the allergies alert disagree, worked out when read: the
    /// clinician updates the alert (or marks the import entered in error) to settle each.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub allergy_disagreements: Vec<super::imported::AllergyDisagreement>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdviceRecord {
    pub needs: Vec<AdviceNeed>,
    pub actions: Vec<AdviceAction>,
    pub outcomes: Vec<AdviceOutcome>,
    pub consent_to_share: Option<ConsentToShare>,
    pub entered_in_error: Vec<EnteredInError>,
    /// As [`ClinicalRecord::newer_entries`].
    #[cfg_attr(feature = "uniffi", uniffi(default = 0))]
    pub newer_entries: u32,
    /// Changes of a need's status, oldest first (`record::outreach::need_status` works out
    /// the current one). Layout 3.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub need_status_changes: Vec<super::outreach::NeedStatusChange>,
    /// Needs referred out to other organisations. Layout 3.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub referrals_out: Vec<super::outreach::ReferralOut>,
    /// Outreach appointments, oldest booking first (layout 6; `record::appointments` works
    /// out each one's outcome).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub appointments: Vec<super::appointments::OutreachAppointment>,
    /// What happened at them (attended, did not attend, cancelled). Layout 6.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub appointment_outcomes: Vec<super::appointments::AppointmentOutcome>,
    /// The case workers' follow-ups and their status changes. Layout 6.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub tasks: Vec<super::task::CareTask>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub task_status_changes: Vec<super::task::TaskStatusChange>,
}

impl ClinicalRecord {
    pub fn is_entered_in_error(&self, entry_id: &str) -> bool {
        self.entered_in_error.iter().any(|m| m.entry_id == entry_id)
    }

    pub fn alert(&self, kind: AlertKind) -> Option<&Alert> {
        self.alerts.iter().find(|a| a.kind == kind)
    }
}

/// Demographics are stored one field per key (`demographics.<field>`), so that concurrent edits
/// of different fields both survive.
pub fn demographics(doc: &AutoCommit) -> Result<Option<Demographics>> {
    let prefix = format!("{DEMOGRAPHICS}.");
    let mut map = serde_json::Map::new();
    for k in layout::prefix_keys_dot(doc, &prefix) {
        if let Some(v) = layout::get_json::<serde_json::Value>(doc, &k)? {
            map.insert(k[prefix.len()..].to_string(), v);
        }
    }
    if map.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(serde_json::Value::Object(map))
        .map(Some)
        .map_err(|e| Error::Document(format!("demographics cannot be read: {e}")))
}

/// Every alert kind that has a value, each with all of its concurrent values (oldest first).
pub fn alerts(doc: &AutoCommit) -> Result<Vec<Alert>> {
    let mut out = Vec::new();
    for kind in AlertKind::ALL {
        let mut values: Vec<AlertValue> =
            layout::get_all_json::<AlertValue>(doc, &key(ALERT, kind.as_str()))?
                .into_iter()
                .map(|(v, _)| v)
                .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_by(|a, b| {
            (a.author.at, &a.author.user_id, &a.author.device_id, &a.text).cmp(&(
                b.author.at,
                &b.author.user_id,
                &b.author.device_id,
                &b.text,
            ))
        });
        out.push(Alert::new(kind, values));
    }
    Ok(out)
}

/// The NEWS2 SpO2 scale the record prescribes: scale 2 only while exactly one active
/// "SpO2 scale 2" value stands. While that field is in conflict, scale 1 (the RCP default) is
/// used.
pub fn spo2_scale(doc: &AutoCommit) -> Result<SpO2Scale> {
    let values =
        layout::get_all_json::<AlertValue>(doc, &key(ALERT, AlertKind::Spo2Scale2.as_str()))?;
    Ok(match values.as_slice() {
        [(v, _)] if v.active => SpO2Scale::Scale2,
        _ => SpO2Scale::Scale1,
    })
}

/// The open clinical conflicts: alert kinds with more than one concurrent value.
pub fn conflicts(person_id: &str, doc: &AutoCommit) -> Result<Vec<ClinicalConflict>> {
    let mut out = Vec::new();
    for kind in AlertKind::ALL {
        let mut all = layout::get_all_json::<AlertValue>(doc, &key(ALERT, kind.as_str()))?;
        if all.len() < 2 {
            continue;
        }
        let mut op_ids: Vec<String> = all.iter().map(|(_, id)| id.to_string()).collect();
        op_ids.sort();
        all.sort_by_key(|(v, id)| (v.author.at, id.to_string()));
        out.push(ClinicalConflict {
            id: conflict_id(person_id, kind, &op_ids),
            person_id: person_id.to_string(),
            kind,
            values: all.into_iter().map(|(v, _)| v).collect(),
        });
    }
    Ok(out)
}

fn conflict_id(person_id: &str, kind: AlertKind, op_ids: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(person_id.as_bytes());
    h.update(kind.as_str().as_bytes());
    for id in op_ids {
        h.update(b"|");
        h.update(id.as_bytes());
    }
    let digest = h.finalize();
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{person_id}/{}/{short}", kind.as_str())
}

/// Episodes with their discharge dates.
fn episodes(doc: &AutoCommit) -> Result<Vec<Episode>> {
    let mut episodes: Vec<Episode> = layout::entries(doc, layout::EPISODE)?;
    let discharges: Vec<Discharge> = layout::entries(doc, layout::DISCHARGE)?;
    for e in &mut episodes {
        e.discharged_on = discharges
            .iter()
            .filter(|d| d.episode_id == e.id)
            .map(|d| d.discharged_on)
            .max();
    }
    Ok(episodes)
}

/// Only what says who is on the ward when: the episodes (with discharges and admissions) and
/// the entries marked entered in error; everything else empty. For the server's hot paths
/// (`record::ward::stay_on` over it answers as over the whole record).
pub fn ward_stays(doc: &AutoCommit) -> Result<ClinicalRecord> {
    Ok(ClinicalRecord {
        episodes: episodes(doc)?,
        entered_in_error: layout::entries(doc, layout::ENTERED_IN_ERROR)?,
        ..ClinicalRecord::default()
    })
}

pub fn clinical(person_id: &str, doc: &AutoCommit) -> Result<ClinicalRecord> {
    let episodes = episodes(doc)?;
    let entered_in_error: Vec<EnteredInError> = layout::entries(doc, layout::ENTERED_IN_ERROR)?;
    let wound_assessments: Vec<super::assessments::WoundAssessment> =
        layout::entries(doc, layout::WOUND)?;
    let wound_trends = super::assessments::wound_trends(&wound_assessments, &entered_in_error);
    let mut record = ClinicalRecord {
        alerts: alerts(doc)?,
        conflicts: conflicts(person_id, doc)?,
        episodes,
        planned_visits: layout::entries(doc, layout::PLANNED)?,
        visits: layout::entries(doc, layout::VISIT)?,
        observations: observation_sets(doc)?,
        notes: layout::entries(doc, layout::NOTE)?,
        care_plan: layout::get_json(doc, CARE_PLAN).unwrap_or(None),
        entered_in_error,
        assessments: layout::entries(doc, layout::ASSESSMENT)?,
        wound_assessments,
        wound_trends,
        newer_entries: 0,
        plan: super::day::plan(person_id, doc)?,
        visit_exceptions: super::day::exceptions(doc)?,
        field_conflicts: super::conflict::field_conflicts(person_id, doc)?,
        tasks: layout::entries(doc, layout::TASK)?,
        task_status_changes: layout::entries(doc, layout::TASK_STATUS)?,
        medications: layout::entries(doc, layout::MEDICATION)?,
        escalation_events: layout::entries(doc, layout::ESCALATION_EVENT)?,
        escalations: Vec::new(),
        escalation_realerts: layout::entries(doc, layout::ESCALATION_REALERT)?,
        readings_gaps: layout::entries(doc, layout::READINGS_GAP)?,
        advice_consent: layout::get_json(doc, layout::ADVICE_CONSENT).unwrap_or(None),
        imported: super::imported::stored(doc)?,
        allergy_disagreements: Vec::new(),
    };
    record.escalations = super::escalation::escalations(person_id, &record);
    record.allergy_disagreements = super::imported::allergy_disagreements(
        &record.alerts,
        &record.imported,
        &record.entered_in_error,
    );
    Ok(record)
}

/// Every observation set: those clinicians recorded, then the home-monitoring sets the server
/// assembled (`record::home`). Readers order them by time themselves.
fn observation_sets(doc: &AutoCommit) -> Result<Vec<ObservationSet>> {
    let mut sets: Vec<ObservationSet> = layout::entries(doc, layout::OBSERVATIONS)?;
    sets.extend(super::home::stored(doc)?);
    Ok(sets)
}

/// The person's consent to share, from every concurrent value in the advice document (values
/// that disagree are a conflict, which counts as not given: docs/decisions/0005).
pub fn consent(doc: &AutoCommit) -> Result<super::policy::Consent> {
    let values: Vec<bool> = layout::get_all_json::<ConsentToShare>(doc, CONSENT)?
        .into_iter()
        .map(|(c, _)| c.consented)
        .collect();
    Ok(super::policy::Consent::from_values(&values))
}

/// The clinical record as a screen shows it: with the count of entries a newer app wrote.
pub fn clinical_for_display(person_id: &str, doc: &AutoCommit) -> Result<ClinicalRecord> {
    let mut record = clinical(person_id, doc)?;
    record.newer_entries = super::validate::unreadable(Compartment::Clinical, doc);
    Ok(record)
}

/// The advice record as a screen shows it: with the count of entries a newer app wrote.
pub fn advice_for_display(doc: &AutoCommit) -> Result<AdviceRecord> {
    let mut record = advice(doc)?;
    record.newer_entries = super::validate::unreadable(Compartment::Advice, doc);
    Ok(record)
}

pub fn advice(doc: &AutoCommit) -> Result<AdviceRecord> {
    Ok(AdviceRecord {
        needs: layout::entries(doc, layout::ADVICE_NEED)?,
        actions: layout::entries(doc, layout::ADVICE_ACTION)?,
        outcomes: layout::entries(doc, layout::ADVICE_OUTCOME)?,
        consent_to_share: layout::get_json(doc, CONSENT).unwrap_or(None),
        entered_in_error: layout::entries(doc, layout::ENTERED_IN_ERROR)?,
        newer_entries: 0,
        need_status_changes: layout::entries(doc, layout::NEED_STATUS)?,
        referrals_out: layout::entries(doc, layout::REFERRAL_OUT)?,
        appointments: layout::entries(doc, layout::APPOINTMENT)?,
        appointment_outcomes: layout::entries(doc, layout::APPOINTMENT_OUTCOME)?,
        tasks: layout::entries(doc, layout::ADVICE_TASK)?,
        task_status_changes: layout::entries(doc, layout::ADVICE_TASK_STATUS)?,
    })
}

/// Discharge from an episode: a separate entry so that the episode itself stays immutable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Discharge {
    pub episode_id: String,
    pub discharged_on: chrono::NaiveDate,
    pub reason: String,
    pub author: Author,
    /// Where the person went (virtual-ward discharges, issue 13).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<super::ward::DischargeDestination>,
}
