//! Who may export what: one person's record read from its documents ([`Readable`]), the access
//! policy and an optional scope deciding which compartments go in ([`export_for`]), and the
//! search answer of the server's `GET /fhir/Patient?identifier=…` ([`searchset`]). The phone's
//! `FieldStore::export_fhir` and the server's FHIR endpoints both call these, so a reader gets
//! the same Bundle from either.

use automerge::AutoCommit;

use super::{bundle, obj::obj, Source};
use crate::error::{Error, Result, ValidationError};
use crate::record::policy::{self, Action, Consent, Context, Principal};
use crate::record::{read, CarePlanView, Compartment, PersonRecord};

/// One person's record as an export reads it.
#[derive(Debug, Clone)]
pub struct Readable {
    pub record: PersonRecord,
    /// The care plan with the first release's plan as its first version.
    pub plan: Option<CarePlanView>,
    pub consent: Consent,
}

impl Readable {
    /// Read from the person's three documents (an empty document: a compartment not held).
    pub fn from_documents(
        person_id: &str,
        demographics: &AutoCommit,
        clinical: &mut AutoCommit,
        advice: &AutoCommit,
    ) -> Result<Readable> {
        let (clinical_record, plan) = if clinical.is_empty() {
            (None, None)
        } else {
            (
                Some(read::clinical(person_id, clinical)?),
                Some(crate::record::day::plan_view(person_id, clinical)?),
            )
        };
        let advice_record = if advice.is_empty() {
            None
        } else {
            Some(read::advice(advice)?)
        };
        Ok(Readable {
            record: PersonRecord {
                person_id: person_id.to_string(),
                demographics: read::demographics(demographics)?,
                clinical: clinical_record,
                advice: advice_record,
            },
            plan,
            consent: read::consent(advice)?,
        })
    }
}

/// An exported Bundle and the compartments it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub bundle: String,
    pub compartments: Vec<Compartment>,
}

/// The compartments `principal` may export for this person: those the policy lets it read (the
/// advice record only with consent to share), narrowed to `scope` when one is given (an
/// integration's compartments). Refused outright when the demographics may not be read.
pub fn allowed(
    principal: &Principal,
    scope: Option<&[Compartment]>,
    consent: Consent,
) -> Result<Vec<Compartment>> {
    policy::allows(
        principal,
        Action::Read(Compartment::Demographics),
        &Context {
            consent: Consent::NotRecorded,
        },
    )?;
    let in_scope = |c: &Compartment| scope.is_none_or(|s| s.contains(c));
    if !in_scope(&Compartment::Demographics) {
        return Err(Error::Validation(ValidationError::Invalid {
            field: "scope",
            reason: "an export always holds the Patient: a scope without the demographics exports nothing".into(),
        }));
    }
    let context = Context { consent };
    Ok(Compartment::ALL
        .into_iter()
        .filter(|c| in_scope(c) && policy::allows(principal, Action::Read(*c), &context).is_ok())
        .collect())
}

/// The Bundle `principal` may have of this person's record (see [`allowed`]).
pub fn export_for(
    principal: &Principal,
    scope: Option<&[Compartment]>,
    r: &Readable,
) -> Result<Export> {
    let compartments = allowed(principal, scope, r.consent)?;
    let may = |c: Compartment| compartments.contains(&c);
    let clinical = r
        .record
        .clinical
        .as_ref()
        .filter(|_| may(Compartment::Clinical));
    let source = Source {
        person_id: &r.record.person_id,
        demographics: r.record.demographics.as_ref(),
        clinical,
        plan: r.plan.as_ref().filter(|_| clinical.is_some()),
        advice: r
            .record
            .advice
            .as_ref()
            .filter(|_| may(Compartment::Advice)),
    };
    let held = |c: Compartment| match c {
        Compartment::Demographics => true,
        Compartment::Clinical => source.clinical.is_some(),
        Compartment::Advice => source.advice.is_some(),
    };
    Ok(Export {
        bundle: bundle::build(&source)?,
        compartments: compartments.into_iter().filter(|c| held(*c)).collect(),
    })
}

/// A FHIR `searchset` Bundle of the Patients of `people` (each one's demographics only), each
/// entry with `search.mode` `match`; `base` is the server's FHIR base URL for the fullUrls.
pub fn searchset(base: &str, people: &[&PersonRecord]) -> Result<String> {
    let mut entries = Vec::new();
    for p in people {
        let source = Source {
            person_id: &p.person_id,
            demographics: p.demographics.as_ref(),
            clinical: None,
            plan: None,
            advice: None,
        };
        let patient = bundle::patient_resource(&source);
        let id = patient["id"].as_str().unwrap_or_default().to_string();
        entries.push(obj!({
            "fullUrl": format!("{}/Patient/{id}", base.trim_end_matches('/')),
            "resource": patient,
            "search": {"mode": "match"},
        }));
    }
    let bundle = obj!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
        "entry": entries,
    });
    Ok(bundle.to_string())
}

/// The Patient resource id of a person (what `searchset` and `export_for` give the Patient).
pub fn patient_id(person_id: &str) -> String {
    super::ids::uuid(person_id, "Patient", &[])
}
