//! `FieldStore` across the boundary: the core's API under the same names, taking and returning
//! the types of [`crate::types`]. Every method blocks until the write is on disk (or the read is
//! done); foreign layers run them off the UI thread (Kotlin `Dispatchers.IO`, Swift a
//! dispatch queue). The object is `Send + Sync`: calls from several threads are safe, and the
//! core serialises writes.

use std::sync::Arc;

use doorstep_core as dc;

use crate::error::Result;
use crate::types::*;
use dc::{AdviceCategory, AlertInput, ChangeBatch, Observations, PendingChange, User};

/// The offline record store of one device, in an encrypted SQLite file.
#[derive(uniffi::Object)]
pub struct FieldStore {
    inner: dc::FieldStore,
}

impl FieldStore {
    /// The core store, for Rust code in this crate (sync, benches).
    pub fn core(&self) -> &dc::FieldStore {
        &self.inner
    }
}

#[uniffi::export]
impl FieldStore {
    /// Open (or create) the store. A wrong key (`WrongKey`), a damaged file (`Damaged`) or a store
    /// from a newer app (`TooNew`) is an error and nothing on disk is changed.
    #[uniffi::constructor]
    pub fn open(config: StoreConfig) -> Result<Arc<FieldStore>> {
        Ok(Arc::new(FieldStore {
            inner: dc::FieldStore::open(config.into())?,
        }))
    }

    /// The person using this device.
    pub fn user(&self) -> User {
        self.inner.user().clone()
    }

    pub fn device_id(&self) -> String {
        self.inner.device_id().to_string()
    }

    /// Add a person to this device's caseload; returns their new id.
    pub fn register_patient(&self, demographics: Demographics) -> Result<String> {
        Ok(self.inner.register_patient(demographics.try_into()?)?)
    }

    /// Change a person's details (only fields that differ are written).
    pub fn update_demographics(
        &self,
        person_id: String,
        demographics: Demographics,
    ) -> Result<Demographics> {
        Ok(self
            .inner
            .update_demographics(&person_id, demographics.try_into()?)?
            .into())
    }

    /// Everything this device holds about a person.
    pub fn patient(&self, person_id: String) -> Result<PersonRecord> {
        Ok(self.inner.patient(&person_id)?.into())
    }

    /// Everyone on this device's caseload, by family name.
    pub fn caseload(&self) -> Result<Vec<CaseloadEntry>> {
        Ok(conv(self.inner.caseload()?))
    }

    /// Search by name (each word a prefix), NHS number (digits) or postcode.
    pub fn search_patients(&self, query: String) -> Result<Vec<CaseloadEntry>> {
        Ok(conv(self.inner.search_patients(&query)?))
    }

    /// The planned visits of a day (`"YYYY-MM-DD"`, UTC), in time order.
    pub fn planned_visits(&self, day: String) -> Result<Vec<PlannedVisitSummary>> {
        let d = date("day", &day)?;
        Ok(conv(self.inner.planned_visits(d)?))
    }

    /// Book a visit.
    pub fn schedule_visit(
        &self,
        person_id: String,
        input: PlannedVisitInput,
    ) -> Result<PlannedVisit> {
        Ok(self
            .inner
            .schedule_visit(&person_id, input.try_into()?)?
            .into())
    }

    /// Record a contact as it happened; observations, if any, come back scored with NEWS2.
    pub fn record_visit(&self, person_id: String, input: VisitInput) -> Result<RecordedVisit> {
        Ok(self
            .inner
            .record_visit(&person_id, input.try_into()?)?
            .into())
    }

    /// Record observations outside (or against) a visit; the returned set carries its NEWS2.
    pub fn record_observations(
        &self,
        person_id: String,
        taken_at_ms: i64,
        observations: Observations,
        visit_id: Option<String>,
    ) -> Result<ObservationSet> {
        let taken_at = instant("observation time", taken_at_ms)?;
        Ok(self
            .inner
            .record_observations(&person_id, taken_at, observations, visit_id)?
            .into())
    }

    /// Add a free-text note, optionally about a visit.
    pub fn add_note(
        &self,
        person_id: String,
        visit_id: Option<String>,
        note: String,
    ) -> Result<Note> {
        Ok(self.inner.add_note(&person_id, visit_id, &note)?.into())
    }

    /// Set an alert. Refused while that alert has an open conflict: resolve it first.
    pub fn set_alert(&self, person_id: String, alert: AlertInput) -> Result<Alert> {
        Ok(self.inner.set_alert(&person_id, alert)?.into())
    }

    /// Open clinical conflicts of one person, or of everyone on the device.
    pub fn conflicts(&self, person_id: Option<String>) -> Result<Vec<ClinicalConflict>> {
        Ok(conv(self.inner.conflicts(person_id.as_deref())?))
    }

    /// Resolve a clinical conflict with the value the clinician decided on.
    pub fn resolve_conflict(&self, conflict_id: String, resolution: AlertInput) -> Result<Alert> {
        Ok(self
            .inner
            .resolve_conflict(&conflict_id, resolution)?
            .into())
    }

    /// Mark an entry as entered in error; it stays in the record with the marker beside it.
    pub fn mark_entered_in_error(
        &self,
        person_id: String,
        entry_id: String,
        reason: String,
    ) -> Result<EnteredInError> {
        Ok(self
            .inner
            .mark_entered_in_error(&person_id, &entry_id, &reason)?
            .into())
    }

    /// Who changed what in a person's record and when, oldest first.
    pub fn history(&self, person_id: String) -> Result<Vec<HistoryEntry>> {
        Ok(conv(self.inner.history(&person_id)?))
    }

    /// Local changes that no server has acknowledged, oldest first.
    pub fn pending_changes(&self) -> Result<Vec<PendingChange>> {
        Ok(self.inner.pending_changes()?)
    }

    /// Mark this device's changes up to and including `seq` as safely received elsewhere.
    pub fn acknowledge(&self, seq: i64) -> Result<u64> {
        Ok(self.inner.acknowledge(seq)? as u64)
    }

    /// Every change this store holds after `since` (0 for all; else an earlier batch's `up_to`).
    pub fn export_changes(&self, since: i64) -> Result<ChangeBatch> {
        Ok(self.inner.export_changes(since)?)
    }

    /// Take in changes from another store; a batch with any unreadable change is refused whole.
    pub fn import_changes(&self, batch: ChangeBatch) -> Result<ImportReport> {
        Ok(self.inner.import_changes(&batch)?.into())
    }

    /// Open an episode of care.
    pub fn add_episode(&self, person_id: String, input: EpisodeInput) -> Result<Episode> {
        Ok(self
            .inner
            .add_episode(&person_id, input.try_into()?)?
            .into())
    }

    /// Discharge from an episode of care on `on` (`"YYYY-MM-DD"`).
    pub fn discharge_episode(
        &self,
        person_id: String,
        episode_id: String,
        on: String,
        reason: String,
    ) -> Result<Discharge> {
        let on = date("discharge date", &on)?;
        Ok(self
            .inner
            .discharge_episode(&person_id, &episode_id, on, &reason)?
            .into())
    }

    /// Replace the care plan.
    pub fn set_care_plan(&self, person_id: String, plan: CarePlan) -> Result<CarePlan> {
        Ok(self
            .inner
            .set_care_plan(&person_id, plan.try_into()?)?
            .into())
    }

    /// Record an advice need (Citizens Advice).
    pub fn add_advice_need(
        &self,
        person_id: String,
        category: AdviceCategory,
        description: String,
    ) -> Result<AdviceNeed> {
        Ok(self
            .inner
            .add_advice_need(&person_id, category, &description)?
            .into())
    }

    /// Record an action taken on an advice need.
    pub fn add_advice_action(
        &self,
        person_id: String,
        need_id: String,
        description: String,
    ) -> Result<AdviceAction> {
        Ok(self
            .inner
            .add_advice_action(&person_id, &need_id, &description)?
            .into())
    }

    /// Record the outcome of an advice need, with any financial gain in whole pence.
    pub fn record_advice_outcome(
        &self,
        person_id: String,
        need_id: String,
        description: String,
        financial_gain_pence: i64,
    ) -> Result<AdviceOutcome> {
        Ok(self
            .inner
            .record_advice_outcome(&person_id, &need_id, &description, financial_gain_pence)?
            .into())
    }

    /// Record whether the person consents to sharing between advice and health teams.
    pub fn set_consent_to_share(
        &self,
        person_id: String,
        consented: bool,
    ) -> Result<ConsentToShare> {
        Ok(self
            .inner
            .set_consent_to_share(&person_id, consented)?
            .into())
    }

    /// Fold pending changes into snapshots now (a background thread also does this).
    pub fn compact_now(&self) -> Result<()> {
        Ok(self.inner.compact_now()?)
    }

    /// Derive every projection (caseload, alerts, visit lists) again from the documents.
    pub fn rebuild_projections(&self) -> Result<()> {
        Ok(self.inner.rebuild_projections()?)
    }

    /// SQLite's own check of the file ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.inner.integrity_check()?)
    }
}
