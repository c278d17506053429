//! A nurse's morning with no network: open the encrypted store, register two people, read the
//! alerts, record a visit with observations (NEWS2 scored on the spot), and print the caseload
//! and a person's history.
//!
//!     cargo run -p doorstep-core --example offline_visit [-- <store path>]

use chrono::{Duration, Utc};
use doorstep_core::record::*;
use doorstep_core::{testing, Consciousness, FieldStore, StoreConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("doorstep-example-{}.db", std::process::id()))
        });
    // A real app takes this key from the Android Keystore / iOS Keychain.
    let key = [42u8; 32];
    let nurse = User {
        id: "sam.patel".into(),
        display_name: "Sam Patel".into(),
        role: Role::DistrictNurse,
        team: "Calder Valley DN".into(),
    };
    let store = FieldStore::open(StoreConfig::new(&path, &key, "phone-0001", nurse))?;
    println!("Opened encrypted store {}", path.display());

    let edith = store.register_patient(testing::demographics(
        "Edith",
        "Crawley",
        Some("943 476 5919"),
        "HX7 8AB",
    ))?;
    let arthur =
        store.register_patient(testing::demographics("Arthur", "Holroyd", None, "HX7 5QP"))?;
    store.set_alert(
        &edith,
        AlertInput {
            kind: AlertKind::Allergies,
            text: "Penicillin: anaphylaxis".into(),
            active: true,
        },
    )?;
    store.set_alert(
        &edith,
        AlertInput {
            kind: AlertKind::Resuscitation,
            text: "DNACPR in place (form in blue folder)".into(),
            active: true,
        },
    )?;
    store.set_alert(
        &arthur,
        AlertInput {
            kind: AlertKind::RiskToStaff,
            text: "Visit in pairs after 6 pm".into(),
            active: true,
        },
    )?;
    store.schedule_visit(
        &arthur,
        PlannedVisitInput {
            planned_start: Utc::now() + Duration::hours(2),
            planned_end: None,
            clinician: Some("sam.patel".into()),
            contact_type: ContactType::HomeVisit,
            purpose: Some("Insulin".into()),
        },
    )?;

    // Edith's visit: she is unwell.
    let mut visit = testing::full_visit(0);
    let obs = visit.observations.as_mut().ok_or("no observations")?;
    obs.respiration_rate = Some(24);
    obs.spo2_percent = Some(93);
    obs.pulse = Some(112);
    obs.temperature_c = Some(38.4);
    obs.consciousness = Some(Consciousness::Alert);
    let recorded = store.record_visit(&edith, visit)?;
    if let Some(n) = &recorded.news2 {
        println!(
            "\nNEWS2 for Edith Crawley: {} ({} risk)\n  {}",
            n.total
                .map(|t| t.to_string())
                .unwrap_or_else(|| "incomplete".into()),
            n.risk.map(|r| r.label()).unwrap_or("-"),
            n.response
        );
        for s in &n.sub_scores {
            println!("  {:<28} {}", s.parameter.label(), s.score);
        }
    }
    store.add_note(
        &edith,
        Some(recorded.visit.id.clone()),
        "GP informed by phone; daughter staying tonight.",
    )?;

    println!("\nCaseload ({} people):", store.caseload()?.len());
    for p in store.caseload()? {
        let alerts: Vec<String> = p
            .alerts
            .iter()
            .map(|a| format!("{}: {}", a.kind.label(), a.summary))
            .collect();
        println!(
            "  {:<20} NHS {:<12} {:<9} NEWS2 {:<3} next visit {:<17} alerts: {}",
            p.display_name,
            p.nhs_number.as_deref().unwrap_or("-"),
            p.postcode.as_deref().unwrap_or("-"),
            p.latest_news2
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            p.next_visit
                .map(|t| t.format("%d %b %H:%M").to_string())
                .unwrap_or_else(|| "-".into()),
            if alerts.is_empty() {
                "none".to_string()
            } else {
                alerts.join("; ")
            }
        );
    }
    println!("\nHistory of Edith Crawley:");
    for h in store.history(&edith)? {
        println!("  {}", h.sentence);
    }
    println!(
        "\n{} changes waiting to sync.",
        store.pending_changes()?.len()
    );
    Ok(())
}
