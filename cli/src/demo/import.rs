//! The demo's GP-summary section (issue 15 item 3): Sam imports Richard Smith's GP summary on
//! her phone, offline: he is registered with his coded allergy, problem and flag; the allergy
//! disagrees with the allergies alert until Sam sets it; a second import adds nothing; Priya's
//! phone has it all after one sync each.

use doorstep_core::fhir::import::FhirImportOutcome;
use doorstep_core::record::{AlertInput, AlertKind};

use super::{err, sync_phone, wrap, Phone, R};

/// NHS England's example patient with the codes of UK Core's example resources
/// (core/src/fhir/import/gp-summary.json; HAPI validates it in the tests).
const GP_SUMMARY: &str = include_str!("../../../core/src/fhir/import/gp-summary.json");

pub(super) fn run(rt: &tokio::runtime::Runtime, sam: &Phone, priya: &Phone) -> R<()> {
    let report = sam
        .store
        .import_fhir(GP_SUMMARY)
        .map_err(err("import the GP summary"))?;
    println!(
        "  Sam imports Richard Smith's GP summary offline: {} ({} added, {} already there, {} refused).",
        if report.registered { "registered" } else { "added to his record" },
        report.added,
        report.already_there,
        report.refused
    );
    for item in &report.items {
        let verb = match item.outcome {
            FhirImportOutcome::Added => "added",
            FhirImportOutcome::AlreadyThere => "already there",
            FhirImportOutcome::Refused => "refused",
        };
        println!("    {:<14} {}", verb, item.what);
    }
    for d in &report.allergy_disagreements {
        println!("  ! {}", wrap(&d.message, 92, "    ").trim_start());
    }
    let person = report.person_id.clone();
    sam.store
        .set_alert(
            &person,
            AlertInput {
                kind: AlertKind::Allergies,
                text: "Amoxicillin: urticarial rash (GP record)".into(),
                active: true,
            },
        )
        .map_err(err("set the allergies alert"))?;
    let left = sam
        .store
        .patient(&person)
        .map_err(err("read"))?
        .clinical
        .map(|c| c.allergy_disagreements.len())
        .unwrap_or_default();
    println!("  Sam sets the allergies alert to name amoxicillin: {left} disagreements left.");
    let again = sam
        .store
        .import_fhir(GP_SUMMARY)
        .map_err(err("import the GP summary again"))?;
    println!(
        "  The same summary imported again: {} added, {} already there.",
        again.added, again.already_there
    );
    sync_phone(rt, sam)?;
    sync_phone(rt, priya)?;
    let theirs = priya
        .store
        .patient(&person)
        .map_err(err("read on Priya's phone"))?
        .clinical
        .map(|c| c.imported.len())
        .unwrap_or_default();
    println!(
        "  After one sync each, Priya's phone holds Richard with his {theirs} imported entries."
    );
    Ok(())
}
