//! The demo's virtual-ward section (issue 13): Priya admits a man stepped up from his GP with a
//! prescribed SpO2 target, Sam's offline set escalates on Sam's phone at once, and after sync
//! Priya sees the same escalation on the census and acknowledges it; Sam sees who did.

use chrono::{Duration, Utc};
use doorstep_core::clinical::escalation::{PersonalParameters, ReadingRange};
use doorstep_core::record::ward::ward_day;
use doorstep_core::record::*;

use super::{err, obs, person, register, sync_phone, Phone, R};

pub(super) fn run(rt: &tokio::runtime::Runtime, phones: &[Phone]) -> R<()> {
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
    Ok(())
}
