//! The write API of `FieldStore`. Each call is one edit of `record::edit` (which validates the
//! input, builds the entry, its audit summary and its projection deltas) run by
//! [`FieldStore::write`] in one critical section: the access policy, then the writer lock taken
//! once, the person looked up, the edit made, and the change and projections persisted in one
//! SQLite transaction.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};

use super::{FieldStore, Writer};
use crate::clinical::nhs_number;
use crate::clinical::observations::Observations;
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;
use crate::record::edit;
use crate::record::layout;
use crate::record::policy::Action;
use crate::record::*;

pub use crate::record::RecordedVisit;

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Add a person to this device's caseload. Returns their new id.
    pub fn register_patient(&self, demographics: Demographics) -> Result<String> {
        self.allow(Action::Write(Compartment::Demographics))?;
        let person_id = new_id();
        let author = self.author();
        let key = (person_id.clone(), Compartment::Demographics);
        self.writing(|w| {
            if let Some(nhs) = demographics
                .nhs_number
                .as_deref()
                .and_then(|n| nhs_number::validate(n).ok())
            {
                refuse_duplicate_nhs_number(&w.conn, &nhs)?;
            }
            self.commit_edit(w, &key, &author, |doc| {
                edit::register(doc, &author, demographics)
            })
        })?;
        Ok(person_id)
    }

    /// Change a person's details; only the fields that differ are written, so a colleague's
    /// concurrent edit of another field survives.
    pub fn update_demographics(
        &self,
        person_id: &str,
        demographics: Demographics,
    ) -> Result<Demographics> {
        self.write(person_id, Compartment::Demographics, |doc, a| {
            edit::update_demographics(doc, a, demographics)
        })
    }

    /// Book a visit.
    pub fn schedule_visit(
        &self,
        person_id: &str,
        input: PlannedVisitInput,
    ) -> Result<PlannedVisit> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::schedule_visit(doc, a, input)
        })
    }

    /// Record a contact as it happened, with its observations (scored with NEWS2) if any.
    pub fn record_visit(&self, person_id: &str, input: VisitInput) -> Result<RecordedVisit> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::record_visit(doc, person_id, a, input)
        })
    }

    /// Record a set of observations outside a visit record (or against one) and score it.
    pub fn record_observations(
        &self,
        person_id: &str,
        taken_at: DateTime<Utc>,
        observations: Observations,
        visit_id: Option<String>,
    ) -> Result<ObservationSet> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::record_observations(doc, person_id, a, taken_at, observations, visit_id)
        })
    }

    /// Add a free-text note, optionally about a visit.
    pub fn add_note(&self, person_id: &str, visit_id: Option<String>, note: &str) -> Result<Note> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::add_note(doc, a, visit_id, note)
        })
    }

    /// Set an alert. Refused while that alert has an open conflict: resolve it first, so that no
    /// colleague's value is overwritten unseen.
    pub fn set_alert(&self, person_id: &str, alert: AlertInput) -> Result<Alert> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::set_alert(doc, person_id, a, alert)
        })
    }

    /// Resolve a clinical conflict with the value the clinician decided on (one of the values
    /// shown, or a new one that combines them).
    pub fn resolve_conflict(&self, conflict_id: &str, resolution: AlertInput) -> Result<Alert> {
        self.allow(Action::ResolveConflict(Compartment::Clinical))?;
        let person_id = edit::conflict_person(conflict_id)?;
        let not_open = || Error::ConflictNotOpen {
            id: conflict_id.to_string(),
        };
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::resolve_conflict(doc, person_id, a, conflict_id, resolution)
        })
        .map_err(|e| match e {
            Error::NotFound { .. } => not_open(),
            e => e,
        })
    }

    /// Mark an entry (visit, planned visit, observations, note, episode, advice entry) as entered
    /// in error. The entry stays in the record and its history, with this marker beside it.
    pub fn mark_entered_in_error(
        &self,
        person_id: &str,
        entry_id: &str,
        reason: &str,
    ) -> Result<EnteredInError> {
        let author = self.author();
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            let Writer { conn, docs } = &mut *w;
            let mut held_in = None;
            for c in [Compartment::Clinical, Compartment::Advice] {
                let doc = &docs.get(conn, &(person_id.to_string(), c))?.doc;
                if layout::holds_entry(doc, c, entry_id)? {
                    held_in = Some(c);
                    break;
                }
            }
            let compartment = held_in.ok_or_else(|| Error::NotFound {
                what: "entry",
                id: entry_id.to_string(),
            })?;
            self.allow(Action::Write(compartment))?;
            let key = (person_id.to_string(), compartment);
            self.commit_edit(w, &key, &author, |doc| {
                edit::mark_entered_in_error(doc, person_id, compartment, &author, entry_id, reason)
            })
        })
    }

    /// Open an episode of care (district nursing, or a virtual ward with its pathway).
    pub fn add_episode(&self, person_id: &str, input: EpisodeInput) -> Result<Episode> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::add_episode(doc, a, input)
        })
    }

    /// Discharge from an episode of care.
    pub fn discharge_episode(
        &self,
        person_id: &str,
        episode_id: &str,
        on: NaiveDate,
        reason: &str,
    ) -> Result<Discharge> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::discharge_episode(doc, a, episode_id, on, reason)
        })
    }

    /// Replace the care plan.
    pub fn set_care_plan(&self, person_id: &str, plan: CarePlan) -> Result<CarePlan> {
        self.write(person_id, Compartment::Clinical, |doc, _| {
            edit::set_care_plan(doc, plan)
        })
    }

    /// Record an advice need (Citizens Advice).
    pub fn add_advice_need(
        &self,
        person_id: &str,
        category: AdviceCategory,
        description: &str,
    ) -> Result<AdviceNeed> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            edit::add_advice_need(doc, a, category, description)
        })
    }

    /// Record an action taken on an advice need.
    pub fn add_advice_action(
        &self,
        person_id: &str,
        need_id: &str,
        description: &str,
    ) -> Result<AdviceAction> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            edit::add_advice_action(doc, a, need_id, description)
        })
    }

    /// Record the outcome of an advice need, with any financial gain in pence.
    pub fn record_advice_outcome(
        &self,
        person_id: &str,
        need_id: &str,
        description: &str,
        financial_gain_pence: i64,
    ) -> Result<AdviceOutcome> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            edit::record_advice_outcome(doc, a, need_id, description, financial_gain_pence)
        })
    }

    /// Record whether the person consents to their advice and clinical records being shared
    /// between the advice worker and the health team.
    pub fn set_consent_to_share(&self, person_id: &str, consented: bool) -> Result<ConsentToShare> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            edit::set_consent_to_share(doc, a, consented)
        })
    }

    // ---------------------------------------------------------------- assessments

    /// Record a finished scored assessment (MUST, Waterlow) in one go, without a draft.
    pub fn record_assessment(&self, person_id: &str, input: AssessmentInput) -> Result<Assessment> {
        self.allow(Action::RecordAssessment)?;
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::record_assessment(doc, a, new_id(), input)
        })
    }

    /// Finish a draft: its answers as they stand are recorded as an assessment (refused, naming
    /// the items, while any is missing; the draft is then kept) and the draft is removed. The
    /// assessment takes the draft's id, so finishing a draft a second time (e.g. after the app
    /// was killed between the two steps) returns the assessment already recorded.
    pub fn finish_assessment_draft(
        &self,
        draft_id: &str,
        assessed_at: DateTime<Utc>,
    ) -> Result<Assessment> {
        self.allow(Action::Write(Compartment::Clinical))?;
        self.allow(Action::RecordAssessment)?;
        let author = self.author();
        self.writing(|w| {
            let draft = super::drafts::load(&w.conn, draft_id, &author.user_id)?;
            self.require_person(&w.conn, &draft.person_id)?;
            let key = (draft.person_id.clone(), Compartment::Clinical);
            let entry_key = layout::key(layout::ASSESSMENT, &draft.id);
            let recorded: Option<Assessment> = {
                let Writer { conn, docs } = &mut *w;
                layout::get_json(&docs.get(conn, &key)?.doc, &entry_key)?
            };
            let assessment = match recorded {
                Some(a) => a,
                None => {
                    let input = AssessmentInput {
                        definition_id: draft.definition_id.clone(),
                        definition_version: draft.definition_version,
                        answers: draft.answers.clone(),
                        visit_id: draft.visit_id.clone(),
                        assessed_at,
                    };
                    self.commit_edit(w, &key, &author, |doc| {
                        edit::record_assessment(doc, &author, draft.id.clone(), input)
                    })?
                }
            };
            super::drafts::remove(&w.conn, draft_id)?;
            Ok(assessment)
        })
    }

    /// Record a wound assessment (a new wound, or a later assessment of `wound_id`). Its area
    /// over the visits is in the record's `wound_trends`.
    pub fn record_wound_assessment(
        &self,
        person_id: &str,
        input: WoundAssessmentInput,
    ) -> Result<WoundAssessment> {
        self.allow(Action::RecordAssessment)?;
        self.write(person_id, Compartment::Clinical, |doc, a| {
            edit::record_wound_assessment(doc, a, input)
        })
    }
}

/// A person is registered once per device: a second registration with the same NHS number is
/// refused, naming the person already held.
fn refuse_duplicate_nhs_number(conn: &Connection, nhs: &str) -> Result<()> {
    let existing: Option<String> = conn
        .prepare_cached("SELECT display_name FROM people WHERE nhs_number = ?1 LIMIT 1")?
        .query_row([nhs], |r| r.get(0))
        .optional()?;
    match existing {
        Some(name) => Err(ValidationError::Inconsistent(format!(
            "{name} is already registered on this device with NHS number {}: open their record instead of registering them again",
            nhs_number::format(nhs)
        ))
        .into()),
        None => Ok(()),
    }
}
