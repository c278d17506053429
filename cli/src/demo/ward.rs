//! The demo's virtual-ward section (issue 13): Priya admits a man stepped up from his GP with a
//! prescribed SpO2 target, Sam's offline set escalates on Sam's phone at once, and after sync
//! Priya sees the same escalation on the census and acknowledges it; Sam sees who did.

use chrono::{Duration, Utc};
use doorstep_core::clinical::escalation::{PersonalParameters, ReadingRange};
use doorstep_core::record::ward::ward_day;
use doorstep_core::record::*;

use super::{err, obs, person, register, sync_phone, Phone, R};

/// Returns Walter's id (remote monitoring follows).
pub(super) fn run(rt: &tokio::runtime::Runtime, phones: &[Phone]) -> R<String> {
    let (Some(sam), Some(priya)) = (phones.first(), phones.get(1)) else {
        return Err("the demo needs Sam's and Priya's phones".into());
    };
    let walter = register(
        priya,
        person(
            "Walter",
            "Ackroyd",
            "9434765870",
            (1944, 6, 2),
            "3 Birchcliffe Road, Hebden Bridge",
            "HX7 8DE",
            "Front door on the latch in the day; wife Jean at home.",
        ),
    )?;
    let stay = priya
        .store
        .admit_to_ward(
            &walter,
            AdmissionInput {
                pathway: VirtualWardPathway::Copd,
                route: AdmissionRoute::StepUpGp,
                referral_source: "Calder Community Practice".into(),
                referral_reason:
                    "COPD exacerbation: admission avoided, oral steroids and antibiotics".into(),
                admitted_on: ward_day(Utc::now()) - Duration::days(1),
                expected_length_of_stay_days: 7,
                responsible_clinician: "Dr Priya Shah".into(),
                parameters: PersonalParameters {
                    spo2_target: Some(ReadingRange { low: 88, high: 92 }),
                    pulse: Some(ReadingRange { low: 50, high: 105 }),
                    ..Default::default()
                },
            },
        )
        .map_err(err("admit to the virtual ward"))?;
    let a = stay.admission.as_ref();
    println!(
        "  Priya admits Walter Ackroyd to the virtual ward: COPD, {}, expected stay {} days,",
        a.map(|a| a.route.label()).unwrap_or("?"),
        a.map(|a| a.expected_length_of_stay_days).unwrap_or(0)
    );
    println!("  SpO2 target 88–92 % (so NEWS2 uses SpO2 scale 2) and a personal pulse range of 50–105/min.");
    sync_phone(rt, priya)?;
    sync_phone(rt, sam)?;

    // Sam, offline at Walter's door: RR 23, SpO2 90 % on air, BP 104/68, pulse 112, 38.3 °C.
    let set = sam
        .store
        .record_observations(&walter, Utc::now(), obs(23, 90, 104, 68, 112, 38.3), None)
        .map_err(err("observations"))?;
    let scale = match set.news2.scale {
        doorstep_core::SpO2Scale::Scale1 => "SpO2 scale 1",
        doorstep_core::SpO2Scale::Scale2 => "SpO2 scale 2",
    };
    println!(
        "  Sam, offline, records Walter's observations: NEWS2 {} on {scale} (90 % scores 0 on scale 2, 3 on scale 1)",
        set.news2.total.map(|t| t.to_string()).unwrap_or("—".into()),
    );
    let on_sam = sam
        .store
        .escalations(Some(walter.clone()))
        .map_err(err("escalations"))?;
    let Some(e) = on_sam.first() else {
        return Err("Walter's set should have escalated".into());
    };
    println!(
        "    escalation {} at once on Sam's phone, band {}: {}",
        e.id,
        e.band.label(),
        e.reasons
    );
    sync_phone(rt, sam)?;
    sync_phone(rt, priya)?;
    let census = priya.store.ward_census().map_err(err("census"))?;
    println!(
        "  Priya's ward census ({} on the ward):",
        census.people.len()
    );
    for c in &census.people {
        let expected = c
            .expected_length_of_stay_days
            .map(|d| format!(" of {d} expected"))
            .unwrap_or_default();
        println!(
            "    {:<20} day {}{expected}, latest NEWS2 {}, open escalations {}",
            c.display_name,
            c.length_of_stay_days,
            c.latest_news2.map(|t| t.to_string()).unwrap_or("—".into()),
            c.open_escalations
        );
    }
    let same = priya
        .store
        .escalations(None)
        .map_err(err("escalations"))?
        .iter()
        .any(|x| x.id == e.id);
    println!("    the same escalation (one id) after one sync: {same}");
    priya
        .store
        .acknowledge_escalation(
            &walter,
            &e.id,
            Some("Calling Walter now; video review".into()),
        )
        .map_err(err("acknowledge"))?;
    sync_phone(rt, priya)?;
    sync_phone(rt, sam)?;
    let seen = sam
        .store
        .escalations(Some(walter.clone()))
        .map_err(err("escalations"))?;
    if let Some(x) = seen.first() {
        println!(
            "  Priya acknowledges; after sync Sam's phone shows it {:?} by {}",
            x.status,
            x.acknowledged_by
                .as_ref()
                .map(|a| a.display_name.as_str())
                .unwrap_or("nobody")
        );
    }
    Ok(walter)
}

/// An operator registers Walter's home monitor; readings the home hub held for 35 minutes (no
/// signal) arrive; the server writes them as one set, which escalates; nobody acknowledges it
/// for 30 minutes, so the ward watch re-alerts it; Sam's phone gets all of it in one sync and
/// Priya acknowledges.
pub(super) fn monitoring(
    rt: &tokio::runtime::Runtime,
    phones: &[Phone],
    server_dir: &std::path::Path,
    url: &str,
    walter: &str,
) -> R<()> {
    let (Some(sam), Some(priya)) = (phones.first(), phones.get(1)) else {
        return Err("the demo needs Sam's and Priya's phones".into());
    };
    let storage = doorstep_server::Storage::Sqlite(
        doorstep_server::storage::sqlite::SqliteStorage::open(server_dir)
            .map_err(err("open the server database"))?,
    );
    let made = doorstep_server::integrations::create(
        &storage,
        "monitoring",
        "Calder home monitoring",
        super::TEAM,
    )
    .map_err(err("create the monitoring integration"))?;
    let id = made.integration.integration_id.clone();
    doorstep_server::integrations::register_monitor(&storage, &id, walter, "HUB-0042")
        .map_err(err("register Walter's monitor"))?;
    println!("  The operator creates a monitoring integration (its own credential) and registers home hub HUB-0042 to Walter.");
    let taken = (Utc::now() - Duration::minutes(35)).to_rfc3339();
    let reading = |kind: &str, value: f64, unit: &str| serde_json::json!({"serial": "HUB-0042", "person_id": walter, "kind": kind, "value": value, "unit": unit, "taken_at": taken});
    let body = serde_json::json!({"readings": [
        reading("spo2", 86.0, "%"),
        reading("pulse", 122.0, "/min"),
        reading("respiration_rate", 25.0, "/min"),
        reading("systolic_bp", 98.0, "mmHg"),
        reading("temperature", 38.6, "Cel"),
        reading("pulse", 880.0, "/min"),
    ]});
    let answer: serde_json::Value = rt
        .block_on(async {
            reqwest::Client::new()
                .post(format!("{url}/v1/readings"))
                .bearer_auth(&made.token)
                .json(&body)
                .send()
                .await?
                .json()
                .await
        })
        .map_err(err("post the readings"))?;
    println!(
        "  Walter's hub, back in signal, posts 6 readings taken 35 minutes ago: {} stored, {} refused ({}), {} set written by the server",
        answer["stored"],
        answer["refused"],
        answer["lines"][5]["reason"].as_str().unwrap_or("?"),
        answer["sets_written"]
    );
    // The watch runs every second in the demo: the set has waited 35 minutes unacknowledged.
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let report = sync_phone(rt, sam)?;
    let esc = sam
        .store
        .escalations(Some(walter.to_string()))
        .map_err(err("escalations"))?;
    let Some(e) = esc
        .iter()
        .find(|e| e.status == escalation::EscalationStatus::Open)
    else {
        return Err("the home set should have escalated".into());
    };
    println!(
        "  Sam's phone, after one sync ({} request to the server): escalation band {}, NEWS2 {} ({}): {}",
        report.round_trips,
        e.band.label(),
        e.news2_total.map(|t| t.to_string()).unwrap_or("—".into()),
        e.news2_assumed.as_deref().unwrap_or("nothing assumed"),
        e.reasons
    );
    println!(
        "    not acknowledged for 35 minutes, so the ward watch re-alerted it (re-alert {}, at {})",
        e.realerts,
        e.last_realerted_at
            .map(|t| t.format("%H:%M:%S UTC").to_string())
            .unwrap_or("—".into())
    );
    sync_phone(rt, priya)?;
    priya
        .store
        .acknowledge_escalation(walter, &e.id, Some("Video call now; GP informed".into()))
        .map_err(err("acknowledge"))?;
    sync_phone(rt, priya)?;
    sync_phone(rt, sam)?;
    let now = sam
        .store
        .escalations(Some(walter.to_string()))
        .map_err(err("escalations"))?;
    if let Some(x) = now.iter().find(|x| x.id == e.id) {
        println!(
            "  Priya acknowledges; Sam's phone shows it {:?} by {} (and the watch re-alerts it no more)",
            x.status,
            x.acknowledged_by
                .as_ref()
                .map(|a| a.display_name.as_str())
                .unwrap_or("nobody")
        );
    }
    Ok(())
}
