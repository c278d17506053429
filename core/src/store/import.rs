//! `FieldStore::import_fhir`: a GP summary (a UK Core Bundle) into the caseload without re-typing
//! (issue 15 item 3). `fhir::import` reads the Bundle and plans what is new; this file finds the
//! person by NHS number and writes, under the writer lock taken once: for a person already on
//! the device one change to their clinical record, for a new person their demographics and
//! clinical record in one SQLite transaction (both or neither).

use automerge::AutoCommit;
use rusqlite::{Connection, OptionalExtension};

use super::{FieldStore, Writer};
use crate::error::{Error, Result, ValidationError};
use crate::fhir::import::{self, FhirImportItem, FhirImportReport, GpSummary};
use crate::ids::new_id;
use crate::record::edit::{self as record_edit, Edit};
use crate::record::imported::{self, ImportedEntry};
use crate::record::policy::Action;
use crate::record::{read, Author, Compartment, Demographics};

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Import a GP summary: a FHIR R4 Bundle (UK Core) holding one Patient, with NHS number, and
    /// their AllergyIntolerance, Condition and Flag resources, as JSON text. The person is
    /// matched by NHS number: registered when not on this device, otherwise added to (their
    /// demographics here are kept; differences are reported). Allergies, problems and flags
    /// already held are not added twice; coded allergies sit beside the free-text allergies
    /// alert, never overwrite it, and the report lists where the two disagree. A Bundle that
    /// cannot be matched (no Patient, no valid NHS number, not a Bundle) is refused whole; a
    /// resource that cannot be imported refuses only itself, with the reason.
    pub fn import_fhir(&self, bundle_json: &str) -> Result<FhirImportReport> {
        self.allow(Action::Write(Compartment::Clinical))?;
        let author = self.author();
        let today = author.at.date_naive();
        let summary = import::read(bundle_json, today).map_err(|e| {
            Error::from(ValidationError::Invalid {
                field: "GP summary",
                reason: e.to_string(),
            })
        })?;
        let nhs = summary.demographics.nhs_number.clone().unwrap_or_default();
        let may_register = self.allow(Action::Write(Compartment::Demographics));
        self.writing(|w| match person_with_nhs_number(&w.conn, &nhs)? {
            Some(person_id) => self.import_into(w, &person_id, summary, &author),
            None => {
                may_register?;
                self.import_new(w, summary, &author)
            }
        })
    }
}

impl FieldStore {
    fn import_into(
        &self,
        w: &mut Writer,
        person_id: &str,
        summary: GpSummary,
        author: &Author,
    ) -> Result<FhirImportReport> {
        let key = (person_id.to_string(), Compartment::Clinical);
        self.refuse_if_only_referred(&w.conn, person_id)?;
        let held_demographics = {
            let Writer { conn, docs } = &mut *w;
            let doc = &docs
                .get(conn, &(person_id.to_string(), Compartment::Demographics))?
                .doc;
            read::demographics(doc)?
        };
        let held = {
            let Writer { conn, docs } = &mut *w;
            imported::still_held(&docs.get(conn, &key)?.doc)?
        };
        let patient = import::patient_item(&summary, held_demographics.as_ref());
        let (mark, mark_item) = self.verification(&summary, held_demographics.as_ref());
        let plan = import::plan(summary.verdicts, &held);
        let entries = entries(plan.add, summary.bundle, author);
        let entries_empty = entries.is_empty();
        let today = author.at.date_naive();
        let demographics_key = (person_id.to_string(), Compartment::Demographics);
        let add = |doc: &mut AutoCommit| imported::add(doc, entries, today);
        let mark_edit = |number: String| {
            move |doc: &mut AutoCommit| record_edit::mark_nhs_number_verified(doc, &number)
        };
        match (mark, entries_empty) {
            (None, true) => {}
            (None, false) => {
                self.commit_edit(w, &key, author, add)?;
            }
            (Some(number), true) => {
                self.commit_edit(w, &demographics_key, author, mark_edit(number))?;
            }
            // Both or neither: one SQLite transaction.
            (Some(number), false) => {
                self.commit_both(
                    w,
                    author,
                    (&demographics_key, mark_edit(number)),
                    (&key, add),
                )?;
            }
        }
        let items: Vec<FhirImportItem> = mark_item.into_iter().chain(plan.items).collect();
        self.report(w, person_id, false, patient, items)
    }

    /// The NHS number to mark verified for the person held, if the summary gives it as news and
    /// this user may record it (a demographics write), and the report's line about it.
    fn verification(
        &self,
        summary: &GpSummary,
        held: Option<&Demographics>,
    ) -> (Option<String>, Option<FhirImportItem>) {
        let Some(number) = import::verified_number_news(summary, held) else {
            return (None, None);
        };
        match self.allow(Action::Write(Compartment::Demographics)) {
            Ok(()) => (
                Some(number),
                Some(import::verification_item(summary, Ok(()))),
            ),
            Err(e) => (
                None,
                Some(import::verification_item(summary, Err(e.to_string()))),
            ),
        }
    }

    fn import_new(
        &self,
        w: &mut Writer,
        summary: GpSummary,
        author: &Author,
    ) -> Result<FhirImportReport> {
        let person_id = new_id();
        let demographics_key = (person_id.clone(), Compartment::Demographics);
        let clinical_key = (person_id.clone(), Compartment::Clinical);
        let patient = import::patient_item(&summary, None);
        let plan = import::plan(summary.verdicts, &[]);
        let entries = entries(plan.add, summary.bundle, author);
        let demographics: Demographics = summary.demographics;
        {
            let today = author.at.date_naive();
            self.commit_both(
                w,
                author,
                (&demographics_key, |doc: &mut AutoCommit| {
                    let mut e = record_edit::register(doc, author, demographics)?;
                    e.summary = format!("{} from a GP summary", e.summary);
                    Ok(e)
                }),
                (&clinical_key, |doc: &mut AutoCommit| -> Result<Edit<_>> {
                    imported::add(doc, entries, today)
                }),
            )?;
            self.report(w, &person_id, true, patient, plan.items)
        }
    }

    /// The report, with the disagreements the record now shows.
    fn report(
        &self,
        w: &mut Writer,
        person_id: &str,
        registered: bool,
        patient: FhirImportItem,
        items: Vec<FhirImportItem>,
    ) -> Result<FhirImportReport> {
        let Writer { conn, docs } = w;
        let doc = &docs
            .get(conn, &(person_id.to_string(), Compartment::Clinical))?
            .doc;
        let record = read::clinical(person_id, doc)?;
        let mut all = vec![patient];
        all.extend(items);
        let mut report = FhirImportReport::new(person_id.to_string(), registered, all);
        report.allergy_disagreements = record.allergy_disagreements;
        Ok(report)
    }
}

fn entries(
    drafts: Vec<import::Draft>,
    bundle: Option<String>,
    author: &Author,
) -> Vec<ImportedEntry> {
    drafts
        .into_iter()
        .map(|d| d.into_entry(bundle.clone(), author))
        .collect()
}

/// The person on this device with this NHS number (normalised, 10 digits).
fn person_with_nhs_number(conn: &Connection, nhs: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT person_id FROM people WHERE nhs_number = ?1 LIMIT 1")?
        .query_row([nhs], |r| r.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests;
