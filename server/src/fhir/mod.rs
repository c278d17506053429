//! FHIR reads by an integration (issue 15 item 1, the server half; docs/interop.md): the search
//! `GET /fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|N` and
//! `GET /fhir/Patient/{id}/$everything`, answered from the server's read model (`docs::replay`)
//! with the phone's export (`doorstep_core::fhir::export_for`), so a record reads the same from
//! either.
//!
//! * **Who**: a `fhir` integration's bearer token (`doorstep admin create-integration --kind
//!   fhir`). A monitoring integration's token reads nothing.
//! * **Whose**: people on the caseload now of a team in the integration's scope; of each, the
//!   compartments that team's scope names, narrowed to what a referral shares with the team, and
//!   the policy's rule that the advice record goes only with the person's consent to share.
//! * **Audited**: every request that names an integration is a `fhir_reads` row (what was asked,
//!   whose record, which compartments went, the outcome, the address). An export is sent only
//!   once its row is stored.

pub mod http;
pub mod import;

use std::collections::{BTreeMap, BTreeSet};

use doorstep_core::clinical::nhs_number;
use doorstep_core::fhir::{self as core_fhir, Export, Readable};
use doorstep_core::record::duplicates::DuplicateMatch;
use doorstep_core::record::policy::Principal;
use doorstep_core::record::{read, Compartment, PersonRecord};

use crate::docs::replay;
use crate::error::{Result, ServerError};
use crate::integrations::{scopes_in, FHIR};
use crate::storage::{IntegrationRow, Storage, Tx};

/// The identifier system a Patient search takes.
pub const NHS_NUMBER_SYSTEM: &str = doorstep_core::fhir::codes::NHS_NUMBER;

/// What a read found: the FHIR text, and for the audit whose record and what of it went.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer made something new (a person registered from a GP summary): 201.
    pub created: bool,
    pub body: String,
    pub person_id: Option<String>,
    pub compartments: Vec<Compartment>,
    pub outcome: String,
}

/// The integration as the record's access policy knows it.
fn principal(i: &IntegrationRow) -> Principal {
    Principal::Integration {
        id: i.integration_id.clone(),
        kind: i.kind.clone(),
    }
}

/// Only a current `fhir` integration reads (and imports GP summaries).
pub fn check_reader(i: &IntegrationRow) -> Result<()> {
    if i.revoked_ms.is_some() {
        return Err(ServerError::Forbidden(format!(
            "integration {} was revoked: it reads and imports nothing. Ask the operator for a new credential (`doorstep admin create-integration --kind fhir`)",
            i.integration_id
        )));
    }
    if i.kind != FHIR {
        return Err(ServerError::Forbidden(format!(
            "integration {} is a {} integration: FHIR reads and imports need a fhir integration's credential (`doorstep admin create-integration --kind fhir`)",
            i.integration_id, i.kind
        )));
    }
    Ok(())
}

/// The compartments the integration may read of this person, by its scope: for each team in
/// it whose caseload the person is on now, that team's compartments (a member who came by a
/// referral: only what it shares). Empty: the person is out of scope.
fn person_scope(
    tx: &mut dyn Tx,
    scopes: &[(String, Vec<Compartment>)],
    person_id: &str,
) -> Result<Vec<Compartment>> {
    let mut out = BTreeSet::new();
    for (team, compartments) in scopes {
        if !tx.is_member(team, person_id)? {
            continue;
        }
        let shares: BTreeMap<String, String> = tx.member_shares(team)?.into_iter().collect();
        let shared = |c: Compartment| match shares.get(person_id) {
            None => true,
            Some(s) => c == Compartment::Demographics || s.split(',').any(|x| x == c.as_str()),
        };
        out.extend(compartments.iter().copied().filter(|c| shared(*c)));
    }
    Ok(Compartment::ALL
        .into_iter()
        .filter(|c| out.contains(c))
        .collect())
}

fn unreadable(person_id: &str) -> impl Fn(doorstep_core::Error) -> ServerError + '_ {
    move |e| ServerError::Storage(format!("the record of {person_id} cannot be read: {e}"))
}

fn demographics_of(tx: &mut dyn Tx, person_id: &str) -> Result<PersonRecord> {
    let (doc, _) = replay(tx, person_id, Compartment::Demographics)?;
    Ok(PersonRecord {
        person_id: person_id.to_string(),
        demographics: read::demographics(&doc).map_err(unreadable(person_id))?,
        clinical: None,
        advice: None,
    })
}

/// The NHS number of a search's `identifier` (`system|value`; the system must be the NHS
/// number's), checked as the phone checks one.
pub fn nhs_number_of(identifier: &str) -> Result<String> {
    let Some((system, value)) = identifier.split_once('|') else {
        return Err(ServerError::BadRequest(format!(
            "search by identifier as `{NHS_NUMBER_SYSTEM}|<NHS number>` (the system, a bar, the number)"
        )));
    };
    if system != NHS_NUMBER_SYSTEM {
        return Err(ServerError::BadRequest(format!(
            "this server finds Patients by NHS number only: the identifier's system must be {NHS_NUMBER_SYSTEM} (it was '{system}')"
        )));
    }
    nhs_number::validate(value).map_err(|e| ServerError::BadRequest(e.to_string()))
}

/// Everyone the server holds with this NHS number (normalised), in scope or not: by their
/// identity keys, and for members of the scope's teams whose demographics have not changed
/// since identity keys were kept (schema 8), by reading theirs.
fn people_with_nhs_number(
    tx: &mut dyn Tx,
    scopes: &[(String, Vec<Compartment>)],
    nhs: &str,
) -> Result<BTreeSet<String>> {
    let mut candidates: BTreeSet<String> = tx
        .people_with_identity(DuplicateMatch::NhsNumber.code(), nhs)?
        .into_iter()
        .collect();
    for (team, _) in scopes {
        for p in tx.members_without_identity_keys(team)? {
            let d = demographics_of(tx, &p)?;
            let digits = d
                .demographics
                .as_ref()
                .and_then(|d| d.nhs_number.as_deref())
                .map(|n| n.chars().filter(char::is_ascii_digit).collect::<String>());
            if digits.as_deref() == Some(nhs) {
                candidates.insert(p);
            }
        }
    }
    Ok(candidates)
}

/// `GET /fhir/Patient?identifier=…|N`: a searchset of the Patients in scope with this NHS
/// number (normally one; two when a duplicate registration is not yet resolved).
pub fn search(
    storage: &Storage,
    i: &IntegrationRow,
    identifier: &str,
    base: &str,
) -> Result<Answer> {
    check_reader(i)?;
    let nhs = nhs_number_of(identifier)?;
    let people = storage.read(|tx| {
        let scopes = scopes_in(tx, &i.integration_id)?;
        let candidates = people_with_nhs_number(tx, &scopes, &nhs)?;
        let mut found = Vec::new();
        for p in candidates {
            if !person_scope(tx, &scopes, &p)?.is_empty() {
                found.push(demographics_of(tx, &p)?);
            }
        }
        Ok(found)
    })?;
    let body = core_fhir::searchset(base, &people.iter().collect::<Vec<_>>())
        .map_err(|e| ServerError::Storage(format!("the search answer could not be built: {e}")))?;
    Ok(Answer {
        created: false,
        body,
        person_id: match people.as_slice() {
            [one] => Some(one.person_id.clone()),
            _ => None,
        },
        compartments: if people.is_empty() {
            Vec::new()
        } else {
            vec![Compartment::Demographics]
        },
        outcome: match people.len() {
            0 => "no match".into(),
            n => format!("matched {n}"),
        },
    })
}

/// `GET /fhir/Patient/{id}/$everything`: the person's record as a Bundle, the compartments the
/// integration's scope and the policy allow.
pub fn everything(storage: &Storage, i: &IntegrationRow, patient_id: &str) -> Result<Answer> {
    check_reader(i)?;
    if !core_fhir::ids::is_uuid(patient_id) {
        return Err(ServerError::BadRequest(format!(
            "'{patient_id}' is not a Patient id of this server: ids are UUIDs, as the Patient search returns them"
        )));
    }
    let not_found = || {
        ServerError::NotFound(format!(
            "no Patient {patient_id} on the caseloads this integration may read (search by NHS number first; the person may have left the caseload)"
        ))
    };
    let (person_id, scope, mut docs) = storage.read(|tx| {
        let scopes = scopes_in(tx, &i.integration_id)?;
        let mut found = None;
        for (team, _) in &scopes {
            if let Some((p, _)) = tx
                .members(team)?
                .into_iter()
                .find(|(p, _)| core_fhir::patient_id(p) == patient_id)
            {
                found = Some(p);
                break;
            }
        }
        let person_id = found.ok_or_else(not_found)?;
        let scope = person_scope(tx, &scopes, &person_id)?;
        let mut read_doc = |c| replay(tx, &person_id, c).map(|(d, _)| d);
        let docs = [
            read_doc(Compartment::Demographics)?,
            read_doc(Compartment::Clinical)?,
            read_doc(Compartment::Advice)?,
        ];
        Ok((person_id, scope, docs))
    })?;
    if scope.is_empty() {
        return Err(not_found());
    }
    let [demographics, clinical, advice] = &mut docs;
    let readable = Readable::from_documents(&person_id, demographics, clinical, advice)
        .map_err(unreadable(&person_id))?;
    let Export {
        bundle,
        compartments,
    } = core_fhir::export_for(&principal(i), Some(&scope), &readable)
        .map_err(|e| ServerError::Forbidden(e.to_string()))?;
    Ok(Answer {
        created: false,
        body: bundle,
        person_id: Some(person_id),
        compartments,
        outcome: "exported".into(),
    })
}

/// The audit of FHIR reads: of one person's record, or every one; oldest first.
pub fn audit(
    storage: &Storage,
    person_id: Option<&str>,
) -> Result<Vec<crate::storage::FhirReadRow>> {
    storage.read(|tx| tx.fhir_reads(person_id))
}

#[cfg(test)]
mod tests;
