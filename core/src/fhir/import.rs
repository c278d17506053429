//! Import of a UK Core Bundle (a GP summary: Patient, AllergyIntolerance, Condition, Flag), sans-IO
//! (issue 15 item 3, docs/interop.md "Import"). [`read`] turns foreign JSON into demographics and
//! one verdict per resource; [`plan`] compares the verdicts with what the record already holds.
//! `FieldStore::import_fhir` (store/import.rs) and the server's `POST /fhir/Bundle` write the
//! result through `record::imported`, whose rules both apply.
//!
//! * **Matched by NHS number**: a Bundle must hold exactly one Patient, with a valid NHS number
//!   under `https://fhir.nhs.uk/Id/nhs-number`; without one nothing is imported (a person is
//!   never matched by name).
//! * **Refusals are per resource**: a resource about another person, of a kind Doorstep does not
//!   import, entered in error or refuted at the source, or with no code and no words refuses only
//!   itself, with the reason, in the report.
//! * **Nothing overwritten**: the person's demographics on the device are kept (differences are
//!   reported); coded allergies sit beside the free-text allergies alert.

use chrono::NaiveDate;
use serde_json::Value;

use super::codes;
use crate::clinical::nhs_number;
use crate::ids::new_id;
use crate::record::imported::{
    ImportSource, ImportedCode, ImportedEntry, ImportedKind, ImportedStatus,
};
use crate::record::{Address, Author, Demographics};

/// The largest Bundle read (a GP summary is a few tens of KB).
pub const MAX_BUNDLE_BYTES: usize = 4 << 20;
/// The most entries read from one Bundle.
pub const MAX_ENTRIES: usize = 1_000;
/// The most lines of the Patient's address taken (street lines and the town): a register value
/// far past this would be refused later, by every server, as too large.
pub const MAX_ADDRESS_LINES: usize = 8;

/// Why a whole Bundle was refused: nothing of it was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleRefused {
    #[error("the file is {0} bytes; a GP summary of at most {MAX_BUNDLE_BYTES} bytes is imported")]
    TooLarge(usize),
    #[error("the file is not JSON ({0}): export the GP summary as FHIR JSON")]
    NotJson(String),
    #[error("the file is not a FHIR Bundle (its resourceType is {0}): export the GP summary as a Bundle")]
    NotBundle(String),
    #[error("the Bundle has {0} entries; at most {MAX_ENTRIES} are imported")]
    TooManyEntries(usize),
    #[error("the Bundle holds no Patient: a GP summary names the person it is about")]
    NoPatient,
    #[error("the Bundle holds {0} Patients: import one person's summary at a time")]
    SeveralPatients(usize),
    #[error("the Patient has no NHS number (system https://fhir.nhs.uk/Id/nhs-number); Doorstep matches imports by NHS number only: register the person by hand")]
    NoNhsNumber,
    #[error("the Patient cannot be imported: {0}")]
    Patient(String),
}

/// A GP summary as read: the person, and a verdict on every other resource.
#[derive(Debug, Clone, PartialEq)]
pub struct GpSummary {
    pub demographics: Demographics,
    /// "Patient/<id>" as the source named it.
    pub patient_resource: String,
    pub bundle: Option<String>,
    pub verdicts: Vec<Verdict>,
}

/// One resource of the Bundle: what it is, and either an entry to import or why not.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub resource: String,
    pub what: String,
    pub result: Result<Draft, String>,
}

/// An entry read from a resource, not yet written (no id, no author).
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub kind: ImportedKind,
    pub code: ImportedCode,
    pub status: ImportedStatus,
    pub reactions: Vec<ImportedCode>,
    pub recorded_on: Option<NaiveDate>,
    pub note: Option<String>,
    pub resource: String,
}

impl Draft {
    /// The entry to write, by `author`.
    pub fn into_entry(self, bundle: Option<String>, author: &Author) -> ImportedEntry {
        ImportedEntry {
            id: new_id(),
            kind: self.kind,
            code: self.code,
            status: self.status,
            reactions: self.reactions,
            recorded_on: self.recorded_on,
            note: self.note,
            source: ImportSource {
                resource: self.resource,
                bundle,
            },
            author: author.clone(),
        }
    }
}

/// What happened to one resource of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum FhirImportOutcome {
    Added,
    AlreadyThere,
    Refused,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FhirImportItem {
    /// "AllergyIntolerance/<id>" as the source named it.
    pub resource: String,
    /// "allergy: Amoxicillin".
    pub what: String,
    pub outcome: FhirImportOutcome,
    /// Why it was refused, or what differs from what was there.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub reason: Option<String>,
}

/// What an import did, resource by resource.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FhirImportReport {
    pub person_id: String,
    /// The person was not on the caseload and was registered from the summary.
    pub registered: bool,
    pub items: Vec<FhirImportItem>,
    pub added: u32,
    pub already_there: u32,
    pub refused: u32,
    /// Where the imported allergies and the allergies alert now disagree.
    pub allergy_disagreements: Vec<crate::record::imported::AllergyDisagreement>,
}

impl FhirImportReport {
    /// The report of `items`, counted.
    pub fn new(person_id: String, registered: bool, items: Vec<FhirImportItem>) -> Self {
        let count = |o: FhirImportOutcome| items.iter().filter(|i| i.outcome == o).count() as u32;
        FhirImportReport {
            person_id,
            registered,
            added: count(FhirImportOutcome::Added),
            already_there: count(FhirImportOutcome::AlreadyThere),
            refused: count(FhirImportOutcome::Refused),
            items,
            allergy_disagreements: Vec::new(),
        }
    }
}

/// Read a Bundle's text, bounded in size and never panicking on what it holds.
pub fn read(text: &str, today: NaiveDate) -> Result<GpSummary, BundleRefused> {
    if text.len() > MAX_BUNDLE_BYTES {
        return Err(BundleRefused::TooLarge(text.len()));
    }
    let bundle: Value =
        serde_json::from_str(text).map_err(|e| BundleRefused::NotJson(e.to_string()))?;
    let kind = str_at(&bundle, "resourceType").unwrap_or("absent");
    if kind != "Bundle" {
        return Err(BundleRefused::NotBundle(kind.chars().take(40).collect()));
    }
    let entries = match bundle.get("entry") {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    };
    if entries.len() > MAX_ENTRIES {
        return Err(BundleRefused::TooManyEntries(entries.len()));
    }
    let (patient, refs) = the_patient(entries)?;
    let demographics = demographics(patient, today)?;
    let patient_resource = resource_name(patient);
    let verdicts = entries
        .iter()
        .filter_map(|e| e.get("resource").map(|r| (e, r)))
        .filter(|(_, r)| str_at(r, "resourceType") != Some("Patient"))
        .map(|(_, r)| verdict(r, &refs, today))
        .collect();
    let bundle_id = bundle
        .get("identifier")
        .and_then(|i| str_at(i, "value"))
        .or_else(|| str_at(&bundle, "id"))
        .map(|s| s.chars().take(200).collect());
    Ok(GpSummary {
        demographics,
        patient_resource,
        bundle: bundle_id,
        verdicts,
    })
}

fn str_at<'v>(v: &'v Value, field: &str) -> Option<&'v str> {
    v.get(field).and_then(Value::as_str)
}

fn array<'v>(v: &'v Value, field: &str) -> &'v [Value] {
    match v.get(field) {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    }
}

/// "Kind/id", as the source named the resource (its id cut to 64 characters).
fn resource_name(r: &Value) -> String {
    let kind: String = str_at(r, "resourceType")
        .unwrap_or("resource")
        .chars()
        .take(40)
        .collect();
    match str_at(r, "id") {
        Some(id) => format!("{kind}/{}", id.chars().take(64).collect::<String>()),
        None => format!("{kind} (no id)"),
    }
}

/// The one Patient, and the references that name it ("Patient/<id>" and its fullUrl).
fn the_patient(entries: &[Value]) -> Result<(&Value, Vec<String>), BundleRefused> {
    let patients: Vec<&Value> = entries
        .iter()
        .filter(|e| e.get("resource").and_then(|r| str_at(r, "resourceType")) == Some("Patient"))
        .collect();
    let entry = match patients.as_slice() {
        [] => return Err(BundleRefused::NoPatient),
        [one] => *one,
        many => return Err(BundleRefused::SeveralPatients(many.len())),
    };
    let patient = entry.get("resource").ok_or(BundleRefused::NoPatient)?;
    let mut refs = Vec::new();
    if let Some(id) = str_at(patient, "id") {
        refs.push(format!("Patient/{id}"));
    }
    if let Some(url) = str_at(entry, "fullUrl") {
        refs.push(url.to_string());
    }
    Ok((patient, refs))
}

fn demographics(p: &Value, today: NaiveDate) -> Result<Demographics, BundleRefused> {
    let identifier = array(p, "identifier")
        .iter()
        .find(|i| str_at(i, "system") == Some(codes::NHS_NUMBER));
    let nhs = identifier
        .and_then(|i| str_at(i, "value"))
        .ok_or(BundleRefused::NoNhsNumber)?;
    let nhs = nhs_number::validate(nhs).map_err(|e| BundleRefused::Patient(e.to_string()))?;
    let verified = identifier.is_some_and(says_verified).then(|| nhs.clone());
    let names = array(p, "name");
    let name = names
        .iter()
        .find(|n| str_at(n, "use") == Some("official"))
        .or_else(|| names.first())
        .ok_or_else(|| BundleRefused::Patient("it has no name".into()))?;
    let given = array(name, "given")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let date_of_birth = match str_at(p, "birthDate") {
        None => None,
        Some(s) => Some(date(s).ok_or_else(|| {
            BundleRefused::Patient(format!("its birth date '{s}' is not a full date"))
        })?),
    };
    let gp = array(p, "generalPractitioner").first();
    let d = Demographics {
        nhs_number: Some(nhs),
        nhs_number_verified: verified,
        given_name: given,
        family_name: str_at(name, "family").unwrap_or_default().to_string(),
        date_of_birth,
        address: address(p),
        phone: array(p, "telecom")
            .iter()
            .find(|t| str_at(t, "system") == Some("phone"))
            .and_then(|t| str_at(t, "value"))
            .map(str::to_string),
        gp_practice: gp.and_then(|g| str_at(g, "display")).map(str::to_string),
        gp_practice_ods: gp
            .and_then(|g| g.get("identifier"))
            .filter(|i| str_at(i, "system") == Some(codes::ODS_ORGANISATION))
            .and_then(|i| str_at(i, "value"))
            .map(str::to_string),
        ..Demographics::default()
    };
    let lines = d.address.as_ref().map_or(0, |a| a.lines.len());
    if lines > MAX_ADDRESS_LINES {
        return Err(BundleRefused::Patient(format!(
            "its address has {lines} lines; at most {MAX_ADDRESS_LINES} are taken: check the summary's address"
        )));
    }
    d.validated(today)
        .map_err(|e| BundleRefused::Patient(e.to_string()))
}

/// Whether an NHS-number identifier carries UK Core's verification status "01" (Number present
/// and verified): the sending system traced it against PDS. Any other status, or none, is not.
fn says_verified(identifier: &Value) -> bool {
    array(identifier, "extension")
        .iter()
        .filter(|e| str_at(e, "url") == Some(codes::NHS_NUMBER_VERIFICATION_EXT))
        .filter_map(|e| e.get("valueCodeableConcept"))
        .flat_map(|c| array(c, "coding"))
        .any(|c| {
            str_at(c, "system") == Some(codes::NHS_NUMBER_VERIFICATION)
                && str_at(c, "code") == Some("01")
        })
}

fn address(p: &Value) -> Option<Address> {
    let all = array(p, "address");
    let a = all
        .iter()
        .find(|a| str_at(a, "use") == Some("home"))
        .or_else(|| all.first())?;
    // The town after the street lines, as an envelope reads.
    let town = ["city", "district"]
        .into_iter()
        .filter_map(|f| str_at(a, f));
    Some(Address {
        lines: array(a, "line")
            .iter()
            .filter_map(Value::as_str)
            .chain(town)
            .map(str::to_string)
            .collect(),
        postcode: str_at(a, "postalCode").unwrap_or_default().to_string(),
    })
}

/// A FHIR date or dateTime's day ("2019-12-10" or "2019-12-10T13:00:00+00:00").
fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

fn verdict(r: &Value, patient_refs: &[String], today: NaiveDate) -> Verdict {
    let resource = resource_name(r);
    let kind = match str_at(r, "resourceType") {
        Some("AllergyIntolerance") => Some(ImportedKind::Allergy),
        Some("Condition") => Some(ImportedKind::Condition),
        Some("Flag") => Some(ImportedKind::Flag),
        _ => None,
    };
    let Some(kind) = kind else {
        return Verdict {
            what: resource.clone(),
            resource,
            result: Err("Doorstep imports a GP summary's Patient, AllergyIntolerance, Condition and Flag; this kind of resource is not imported".into()),
        };
    };
    let code = concept(r.get("code"));
    let what = match &code {
        Some(c) => format!("{}: {}", kind.label(), c.text),
        None => format!("{} without a code", kind.label()),
    };
    let result = draft(r, kind, code, &resource, patient_refs, today);
    Verdict {
        resource,
        what,
        result,
    }
}

fn draft(
    r: &Value,
    kind: ImportedKind,
    code: Option<ImportedCode>,
    resource: &str,
    patient_refs: &[String],
    today: NaiveDate,
) -> Result<Draft, String> {
    let subject = if kind == ImportedKind::Allergy {
        "patient"
    } else {
        "subject"
    };
    let about = r.get(subject).and_then(|s| str_at(s, "reference"));
    if !about.is_some_and(|a| patient_refs.iter().any(|p| p == a)) {
        return Err(format!(
            "it is not about the Bundle's Patient ({subject} is {}): nothing about another person is imported",
            about.unwrap_or("absent")
        ));
    }
    let code = code.ok_or("it has no code and no words: there is nothing to record")?;
    let status = status(r, kind)?;
    let recorded_on = ["recordedDate", "onsetDateTime"]
        .iter()
        .find_map(|f| str_at(r, f))
        .or_else(|| r.get("period").and_then(|p| str_at(p, "start")))
        .and_then(date);
    let note = match kind {
        // A Flag's words beside its code ("Patient has a severe peanut allergy.").
        ImportedKind::Flag => r
            .get("code")
            .and_then(|c| str_at(c, "text"))
            .filter(|t| *t != code.text)
            .map(str::to_string),
        _ => {
            let notes: Vec<&str> = array(r, "note")
                .iter()
                .filter_map(|n| str_at(n, "text"))
                .collect();
            (!notes.is_empty()).then(|| notes.join("\n"))
        }
    };
    let reactions = array(r, "reaction")
        .iter()
        .flat_map(|re| array(re, "manifestation"))
        .filter_map(|m| concept(Some(m)))
        .collect();
    let d = Draft {
        kind,
        code,
        status,
        reactions,
        recorded_on,
        note,
        resource: resource.to_string(),
    };
    // The record's rules, now, so the report says why rather than the write failing.
    d.clone()
        .into_entry(None, &probe_author())
        .check(today)
        .map_err(|e| e.to_string())?;
    Ok(d)
}

/// An author for checking a draft before anyone writes it (the check does not read it).
fn probe_author() -> Author {
    Author {
        user_id: "import".into(),
        display_name: "import".into(),
        role: crate::record::Role::DistrictNurse,
        device_id: "import".into(),
        at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    }
}

/// A CodeableConcept's SNOMED CT coding and words (the coding's display, else the text).
fn concept(c: Option<&Value>) -> Option<ImportedCode> {
    let c = c?;
    let snomed = array(c, "coding")
        .iter()
        .find(|k| str_at(k, "system") == Some(codes::SNOMED));
    let words = snomed
        .and_then(|k| str_at(k, "display"))
        .or_else(|| str_at(c, "text"))
        .map(super::text::string)?;
    Some(ImportedCode {
        snomed: snomed.and_then(|k| str_at(k, "code")).map(str::to_string),
        text: words?,
    })
}

/// The first coding's code of a CodeableConcept field.
fn status_code<'v>(r: &'v Value, field: &str) -> Option<&'v str> {
    r.get(field)
        .map(|c| array(c, "coding"))
        .and_then(|k| k.first())
        .and_then(|k| str_at(k, "code"))
}

fn status(r: &Value, kind: ImportedKind) -> Result<ImportedStatus, String> {
    match status_code(r, "verificationStatus") {
        Some("entered-in-error") => {
            return Err("the GP record marks it entered in error: it is not imported".into())
        }
        Some("refuted") => {
            return Err("the GP record says it was refuted (ruled out): it is not imported".into())
        }
        _ => {}
    }
    let code = if kind == ImportedKind::Flag {
        str_at(r, "status")
    } else {
        status_code(r, "clinicalStatus")
    };
    match code {
        // No clinical status: the source holds it without saying; it is shown as active.
        None | Some("active" | "recurrence" | "relapse") => Ok(ImportedStatus::Active),
        Some("inactive" | "remission") => Ok(ImportedStatus::Inactive),
        Some("resolved") => Ok(ImportedStatus::Resolved),
        Some("entered-in-error") => {
            Err("the GP record marks it entered in error: it is not imported".into())
        }
        Some(other) => Err(format!(
            "its status '{}' is not one FHIR R4 defines",
            other.chars().take(40).collect::<String>()
        )),
    }
}

/// What to add, and a report line for every resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub add: Vec<Draft>,
    pub items: Vec<FhirImportItem>,
}

/// Compare the summary's verdicts with what the record holds (`held`, entries marked entered in
/// error left out by the caller): the same kind and concept (or words) already there is not
/// added again, nor twice from one Bundle.
pub fn plan(verdicts: Vec<Verdict>, held: &[ImportedEntry]) -> Plan {
    let mut add: Vec<Draft> = Vec::new();
    let mut items = Vec::new();
    for v in verdicts {
        let (outcome, reason) = match v.result {
            Err(why) => (FhirImportOutcome::Refused, Some(why)),
            Ok(d) => {
                let there = held.iter().any(|h| h.same_as(d.kind, &d.code));
                let twice = add
                    .iter()
                    .any(|a| a.kind == d.kind && same_code(&a.code, &d.code));
                if there {
                    (FhirImportOutcome::AlreadyThere, None)
                } else if twice {
                    (
                        FhirImportOutcome::AlreadyThere,
                        Some("the Bundle lists it twice; it was added once".into()),
                    )
                } else {
                    add.push(d);
                    (FhirImportOutcome::Added, None)
                }
            }
        };
        items.push(FhirImportItem {
            resource: v.resource,
            what: v.what,
            outcome,
            reason,
        });
    }
    Plan { add, items }
}

fn same_code(a: &ImportedCode, b: &ImportedCode) -> bool {
    match (&a.snomed, &b.snomed) {
        (Some(x), Some(y)) => x == y,
        _ => a.text.trim().eq_ignore_ascii_case(b.text.trim()),
    }
}

/// The report line of the Patient: registered, or already on the caseload with what differs.
pub fn patient_item(summary: &GpSummary, held: Option<&Demographics>) -> FhirImportItem {
    let d = &summary.demographics;
    let what = format!(
        "{}, NHS number {}",
        d.display_name(),
        nhs_number::format(d.nhs_number.as_deref().unwrap_or_default())
    );
    let Some(held) = held else {
        return FhirImportItem {
            resource: summary.patient_resource.clone(),
            what,
            outcome: FhirImportOutcome::Added,
            reason: Some("registered from the GP summary".into()),
        };
    };
    let mut differs = Vec::new();
    if !held.family_name.eq_ignore_ascii_case(&d.family_name)
        || !held.given_name.eq_ignore_ascii_case(&d.given_name)
    {
        differs.push(format!(
            "the name ({} in the GP summary, {} here)",
            d.display_name(),
            held.display_name()
        ));
    }
    if d.date_of_birth.is_some() && held.date_of_birth != d.date_of_birth {
        differs.push(format!(
            "the date of birth ({} in the GP summary, {} here)",
            d.date_of_birth.map(|x| x.to_string()).unwrap_or_default(),
            held.date_of_birth
                .map(|x| x.to_string())
                .unwrap_or_else(|| "none".into())
        ));
    }
    let reason = (!differs.is_empty()).then(|| {
        format!(
            "the record here was kept; check {} and correct the demographics by hand if needed",
            differs.join(" and ")
        )
    });
    FhirImportItem {
        resource: summary.patient_resource.clone(),
        what,
        outcome: FhirImportOutcome::AlreadyThere,
        reason,
    }
}

/// The NHS number to mark verified for a person already held: the summary gives it as traced
/// and verified, it is the number held (the person was matched by it), and the mark is not
/// there yet. `None`: nothing to record.
pub fn verified_number_news(summary: &GpSummary, held: Option<&Demographics>) -> Option<String> {
    let number = summary.demographics.nhs_number_verified.as_ref()?;
    let held = held?;
    (!held.nhs_number_verified_now() && held.nhs_number.as_ref() == Some(number))
        .then(|| number.clone())
}

/// The report's line for a verified NHS number: recorded, or why not (`Err`: the reason).
pub fn verification_item(summary: &GpSummary, recorded: Result<(), String>) -> FhirImportItem {
    let (outcome, reason) = match recorded {
        Ok(()) => (
            FhirImportOutcome::Added,
            "the GP summary gives the NHS number as traced and verified; it is marked so here"
                .to_string(),
        ),
        Err(why) => (
            FhirImportOutcome::Refused,
            format!(
                "the GP summary gives the NHS number as verified, but that was not recorded: {why}"
            ),
        ),
    };
    FhirImportItem {
        resource: summary.patient_resource.clone(),
        what: "the NHS number's verification status".into(),
        outcome,
        reason: Some(reason),
    }
}

#[cfg(test)]
mod tests;
