//! `POST /fhir/Bundle`: a GP summary imported by a `fhir` integration (issue 15 item 3, the
//! server half). The same reading and planning as the phone's `FieldStore::import_fhir`
//! (`doorstep_core::fhir::import`), the same record rules (`record::imported`, checked again
//! by `validate::check_change` in `authored::write_record`), written as the integration's own
//! changes, which the team's phones receive on their next sync.
//!
//! * **Whose record**: the person with the summary's NHS number on the caseload of a team in
//!   the integration's scope whose compartments include the clinical record. Two such records
//!   (an unresolved duplicate) refuse the import: which one is meant is a clinician's call.
//! * **A new person** is registered on the caseload of the team the request names (`?team=`),
//!   or of the only team in scope that may hold both the demographics and the clinical record;
//!   their identity keys are kept and possible duplicates on other teams flagged, as after any
//!   registration.

use chrono::{DateTime, Utc};
use doorstep_core::fhir::import::{self, FhirImportReport, GpSummary};
use doorstep_core::record::imported::{self, ImportedEntry};
use doorstep_core::record::{edit, read, Compartment};

use crate::authored::{self, Writer};
use crate::docs::DocsGuard;
use crate::error::{Result, ServerError};
use crate::http::App;
use crate::integrations::scopes_in;
use crate::storage::{IntegrationRow, Tx};

/// What an import did, and for the audit whose record it touched.
#[derive(Debug, Clone)]
pub struct Imported {
    pub report: FhirImportReport,
    pub compartments: Vec<Compartment>,
}

fn fail(person_id: &str, why: String) -> ServerError {
    ServerError::Unprocessable(format!(
        "the GP summary could not be written into the record of {person_id}: {why}"
    ))
}

/// Import `body` as integration `i`, into `team` when a new person is registered.
pub fn import(app: &App, i: &IntegrationRow, team: Option<&str>, body: &str) -> Result<Imported> {
    super::check_reader(i)?;
    let now = Utc::now();
    let summary = import::read(body, now.date_naive())
        .map_err(|e| ServerError::Unprocessable(format!("the GP summary was not imported: {e}")))?;
    let nhs = summary.demographics.nhs_number.clone().unwrap_or_default();
    let mut docs = app.docs.lock();
    let imported = app.storage.write(|tx| {
        let scopes = scopes_in(tx, &i.integration_id)?;
        let mut found: Vec<String> = Vec::new();
        for p in super::people_with_nhs_number(tx, &scopes, &nhs)? {
            // A failure to read the scope fails the import: never taken for "not held", which
            // would register the person a second time.
            if writable(tx, &scopes, &p)? {
                found.push(p);
            }
        }
        match found.as_slice() {
            [] => {
                let team = team_for(&scopes, team)?;
                register(tx, &mut docs, app, i, &team, summary, now)
            }
            [one] => {
                let may_mark = super::person_scope(tx, &scopes, one)?.contains(&Compartment::Demographics);
                add_to(tx, &mut docs, app, i, (one, may_mark), summary, now)
            }
            _ => Err(ServerError::Conflict(format!(
                "{} records on this integration's caseloads hold NHS number {nhs} (a possible duplicate not yet resolved): nothing was imported; a clinician decides which record is the person's, then import again",
                found.len()
            ))),
        }
    })?;
    docs.committed();
    Ok(imported)
}

/// Whether the integration may write the person's clinical record: a team in its scope holds
/// them and its compartments include the clinical record.
fn writable(tx: &mut dyn Tx, scopes: &[(String, Vec<Compartment>)], p: &str) -> Result<bool> {
    Ok(super::person_scope(tx, scopes, p)?.contains(&Compartment::Clinical))
}

/// The team a new person joins: the one named, if in scope with both compartments, or the only
/// such team.
fn team_for(scopes: &[(String, Vec<Compartment>)], named: Option<&str>) -> Result<String> {
    let fits = |c: &[Compartment]| {
        c.contains(&Compartment::Demographics) && c.contains(&Compartment::Clinical)
    };
    let teams: Vec<&String> = scopes
        .iter()
        .filter(|(_, c)| fits(c))
        .map(|(t, _)| t)
        .collect();
    match (named, teams.as_slice()) {
        (Some(n), _) if teams.iter().any(|t| t.as_str() == n) => Ok(n.to_string()),
        (Some(n), _) => Err(ServerError::Forbidden(format!(
            "team {n} is not in this integration's scope with the demographics and clinical record: a new person is registered only on such a team (`doorstep admin set-integration-scope`)"
        ))),
        (None, [one]) => Ok(one.to_string()),
        (None, []) => Err(ServerError::NotFound(
            "nobody on this integration's caseloads has this NHS number, and no team in its scope may hold a new person's demographics and clinical record: nothing was imported".into(),
        )),
        (None, _) => Err(ServerError::BadRequest(
            "nobody on this integration's caseloads has this NHS number: name the team to register the person on, as `?team=<team id>`".into(),
        )),
    }
}

/// Add to a person already held (`may_mark`: the integration's scope holds their demographics,
/// so a verified NHS number may be recorded).
fn add_to(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    app: &App,
    i: &IntegrationRow,
    (person_id, may_mark): (&str, bool),
    summary: GpSummary,
    now: DateTime<Utc>,
) -> Result<Imported> {
    let held_demographics = {
        let doc = docs.get(tx, person_id, Compartment::Demographics)?;
        read::demographics(&doc.doc).map_err(|e| fail(person_id, e.to_string()))?
    };
    let held = {
        let doc = docs.get(tx, person_id, Compartment::Clinical)?;
        imported::still_held(&doc.doc).map_err(|e| fail(person_id, e.to_string()))?
    };
    let patient = import::patient_item(&summary, held_demographics.as_ref());
    let mut items = Vec::new();
    let mut marked = false;
    if let Some(number) = import::verified_number_news(&summary, held_demographics.as_ref()) {
        let recorded = if may_mark {
            mark_verified(tx, docs, app, i, person_id, now, &number)?;
            marked = true;
            Ok(())
        } else {
            Err("the integration's scope does not hold this person's demographics".to_string())
        };
        items.push(import::verification_item(&summary, recorded));
    }
    let plan = import::plan(summary.verdicts, &held);
    let wrote_clinical = !plan.add.is_empty();
    write_imports(tx, docs, app, i, person_id, now, plan.add, summary.bundle)?;
    items.extend(plan.items);
    let written = written(marked, wrote_clinical);
    report(tx, docs, person_id, false, patient, items, written)
}

/// The compartments an import wrote, in their order.
fn written(demographics: bool, clinical: bool) -> Vec<Compartment> {
    [
        (demographics, Compartment::Demographics),
        (clinical, Compartment::Clinical),
    ]
    .into_iter()
    .filter_map(|(w, c)| w.then_some(c))
    .collect()
}

/// The person's NHS number marked verified, written as the integration in one change.
fn mark_verified(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    app: &App,
    i: &IntegrationRow,
    person_id: &str,
    now: DateTime<Utc>,
    number: &str,
) -> Result<()> {
    authored::write_record(
        tx,
        docs,
        &app.identity,
        Writer::Integration(i),
        (person_id, Compartment::Demographics),
        now,
        &fail,
        |doc, _author| {
            let e = edit::mark_nhs_number_verified(doc, number)?;
            Ok(Some(((), e.summary)))
        },
    )
    .map(drop)
}

fn register(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    app: &App,
    i: &IntegrationRow,
    team: &str,
    summary: GpSummary,
    now: DateTime<Utc>,
) -> Result<Imported> {
    let person_id = doorstep_core::ids::new_id();
    let patient = import::patient_item(&summary, None);
    let plan = import::plan(summary.verdicts, &[]);
    let demographics = summary.demographics;
    let written = written(true, !plan.add.is_empty());
    authored::write_record(
        tx,
        docs,
        &app.identity,
        Writer::Integration(i),
        (&person_id, Compartment::Demographics),
        now,
        &fail,
        |doc, author| {
            let e = edit::register(doc, author, demographics)?;
            Ok(Some(((), format!("{} from a GP summary", e.summary))))
        },
    )?;
    write_imports(tx, docs, app, i, &person_id, now, plan.add, summary.bundle)?;
    let seq = tx.next_seq()?;
    tx.join(team, &person_id, seq)?;
    crate::duplicates::after_demographics(tx, docs, &app.identity, &person_id, now)?;
    report(tx, docs, &person_id, true, patient, plan.items, written)
}

/// The plan's imported entries written as the integration, in one change (none: no change).
#[allow(clippy::too_many_arguments)]
fn write_imports(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    app: &App,
    i: &IntegrationRow,
    person_id: &str,
    now: DateTime<Utc>,
    drafts: Vec<import::Draft>,
    bundle: Option<String>,
) -> Result<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    authored::write_clinical(
        tx,
        docs,
        &app.identity,
        Writer::Integration(i),
        person_id,
        now,
        &fail,
        |doc, author| {
            let entries: Vec<ImportedEntry> = drafts
                .into_iter()
                .map(|d| d.into_entry(bundle.clone(), author))
                .collect();
            let e = imported::add(doc, entries, author.at.date_naive())?;
            Ok(Some(((), e.summary)))
        },
    )?;
    Ok(())
}

/// The report, with the disagreements the record now shows, and the compartments written.
fn report(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    person_id: &str,
    registered: bool,
    patient: import::FhirImportItem,
    items: Vec<import::FhirImportItem>,
    compartments: Vec<Compartment>,
) -> Result<Imported> {
    let doc = docs.get(tx, person_id, Compartment::Clinical)?;
    let record = read::clinical(person_id, &doc.doc).map_err(|e| fail(person_id, e.to_string()))?;
    let mut all = vec![patient];
    all.extend(items);
    let mut report = FhirImportReport::new(person_id.to_string(), registered, all);
    report.allergy_disagreements = record.allergy_disagreements;
    Ok(Imported {
        report,
        compartments,
    })
}

/// The report as a FHIR OperationOutcome: one issue per resource (information when added or
/// already there, a warning when refused, with the reason) and one warning per disagreement
/// between an imported allergy and the allergies alert.
pub fn outcome(r: &FhirImportReport) -> serde_json::Value {
    use doorstep_core::fhir::import::FhirImportOutcome::*;
    let mut issues: Vec<serde_json::Value> = r
        .items
        .iter()
        .map(|item| {
            let (severity, code, verb) = match item.outcome {
                Added => ("information", "informational", "added"),
                AlreadyThere => ("information", "duplicate", "already there"),
                Refused => ("warning", "not-supported", "refused"),
            };
            let why = item
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            serde_json::json!({
                "severity": severity,
                "code": code,
                "diagnostics": format!("{} ({}): {verb}{why}", item.resource, item.what),
            })
        })
        .collect();
    for d in &r.allergy_disagreements {
        issues.push(serde_json::json!({
            "severity": "warning",
            "code": "business-rule",
            "diagnostics": d.message,
        }));
    }
    let counts = format!(
        "{}: {} added, {} already there, {} refused",
        if r.registered {
            "registered from the GP summary"
        } else {
            "imported into the record held"
        },
        r.added,
        r.already_there,
        r.refused
    );
    issues.insert(
        0,
        serde_json::json!({"severity": "information", "code": "informational", "diagnostics": counts}),
    );
    serde_json::json!({"resourceType": "OperationOutcome", "issue": issues})
}
