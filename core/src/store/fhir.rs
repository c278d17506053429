//! `FieldStore::export_fhir`: one person's record as a FHIR R4 UK Core Bundle (`crate::fhir`,
//! docs/interop.md). The record is read under the writer lock taken once (one consistent
//! snapshot), the access policy decides which compartments the reader may export, and the
//! Bundle is built after the lock is released.

use super::{day, FieldStore};
use crate::error::Result;
use crate::fhir;
use crate::record::layout::{self, CONSENT};
use crate::record::policy::{self, Action, Consent, Context};
use crate::record::{Compartment, ConsentToShare};

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// The person's record as a FHIR R4 Bundle (type `collection`) of UK Core 2.0.0 resources,
    /// JSON text. Read like any record: only the compartments the signed-in user's role may read
    /// for this person are exported (an advice worker's export holds no clinical resources
    /// unless the person consents to share; a clinician's holds the advice record only with that
    /// consent, and consent in conflict counts as not given). The same record always exports
    /// the same text (ids are derived from the entries' ids).
    pub fn export_fhir(&self, person_id: &str) -> Result<String> {
        self.allow_read(Compartment::Demographics, Consent::NotRecorded)?;
        let (record, plan, consent) = self.writing(|w| {
            let record = self.read_person(w, person_id)?;
            let super::Writer { conn, docs } = w;
            let clinical = &mut docs
                .get(conn, &(person_id.to_string(), Compartment::Clinical))?
                .doc;
            let plan = if clinical.is_empty() {
                None
            } else {
                Some(day::plan_view(person_id, clinical)?)
            };
            let advice = &docs
                .get(conn, &(person_id.to_string(), Compartment::Advice))?
                .doc;
            let values: Vec<bool> = layout::get_all_json::<ConsentToShare>(advice, CONSENT)?
                .into_iter()
                .map(|(c, _)| c.consented)
                .collect();
            Ok((record, plan, Consent::from_values(&values)))
        })?;
        let may = |c| self.allow_read(c, consent).is_ok();
        let clinical = record
            .clinical
            .as_ref()
            .filter(|_| may(Compartment::Clinical));
        let source = fhir::Source {
            person_id,
            demographics: record.demographics.as_ref(),
            clinical,
            plan: plan.as_ref().filter(|_| clinical.is_some()),
            advice: record.advice.as_ref().filter(|_| may(Compartment::Advice)),
        };
        fhir::export(&source)
    }
}

impl FieldStore {
    /// Whether this store's user may read compartment `c` of a person whose consent is `consent`.
    fn allow_read(&self, c: Compartment, consent: Consent) -> Result<()> {
        policy::allows(&self.principal, Action::Read(c), &Context { consent })?;
        Ok(())
    }
}
