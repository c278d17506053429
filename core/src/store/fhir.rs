//! `FieldStore::export_fhir`: one person's record as a FHIR R4 UK Core Bundle (`crate::fhir`,
//! docs/interop.md). The record is read under the writer lock taken once (one consistent
//! snapshot); `fhir::export_for` applies the access policy (the same call the server's FHIR
//! endpoints make) and builds the Bundle after the lock is released.

use super::{day, FieldStore};
use crate::error::Result;
use crate::fhir;
use crate::record::{read, Compartment};

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// The person's record as a FHIR R4 Bundle (type `collection`) of UK Core 2.0.0 resources,
    /// JSON text. Read like any record: only the compartments the signed-in user's role may read
    /// for this person are exported (an advice worker's export holds no clinical resources
    /// unless the person consents to share; a clinician's holds the advice record only with that
    /// consent, and consent in conflict counts as not given). The same record always exports
    /// the same text (ids are derived from the entries' ids).
    pub fn export_fhir(&self, person_id: &str) -> Result<String> {
        fhir::allowed(&self.principal, None, Default::default())?;
        let readable = self.writing(|w| {
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
            Ok(fhir::Readable {
                record,
                plan,
                consent: read::consent(advice)?,
            })
        })?;
        Ok(fhir::export_for(&self.principal, None, &readable)?.bundle)
    }
}

#[cfg(test)]
impl FieldStore {
    /// A copy of one of the person's documents, as the store holds it (tests of readers that
    /// take documents, as the server's do).
    pub(crate) fn document_copy(
        &self,
        person_id: &str,
        c: Compartment,
    ) -> Result<automerge::AutoCommit> {
        self.writing(|w| {
            let super::Writer { conn, docs } = w;
            Ok(docs.get(conn, &(person_id.to_string(), c))?.doc.clone())
        })
    }
}
