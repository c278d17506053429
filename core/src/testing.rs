//! Builders shared by this crate's tests, the cross-crate tests in `tests/` and the benchmarks.
//! Real stores in real files: nothing here is a mock.

use std::path::Path;

use chrono::{Duration, Utc};

use crate::clinical::observations::{Consciousness, Observations};
use crate::record::*;
use crate::store::{FieldStore, StoreConfig};

/// A fixed test key (a real app takes 32 random bytes from the Keystore/Keychain).
pub const TEST_KEY: [u8; 32] = [7u8; 32];

pub fn user(id: &str, role: Role) -> User {
    User {
        id: id.to_string(),
        display_name: format!("{} {id}", role.label()),
        role,
        team: "team-a".to_string(),
    }
}

pub fn config(path: &Path, device: &str, role: Role) -> StoreConfig {
    StoreConfig::new(
        path,
        &TEST_KEY,
        device,
        user(&format!("user-{device}"), role),
    )
}

pub fn open(path: &Path, device: &str, role: Role) -> FieldStore {
    FieldStore::open(config(path, device, role)).expect("open store")
}

pub fn demographics(given: &str, family: &str, nhs: Option<&str>, postcode: &str) -> Demographics {
    Demographics {
        nhs_number: nhs.map(str::to_string),
        given_name: given.to_string(),
        family_name: family.to_string(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1941, 3, 9),
        address: Some(Address {
            lines: vec!["12 Mill Lane".into(), "Hebden Bridge".into()],
            postcode: postcode.to_string(),
        }),
        access_notes: Some("Key safe by back door, code with coordinator. Friendly dog.".into()),
        ..Default::default()
    }
}

/// A full set of observations (8 values) that scores NEWS2 0.
pub fn normal_observations() -> Observations {
    Observations {
        respiration_rate: Some(16),
        spo2_percent: Some(97),
        on_oxygen: Some(false),
        systolic_bp: Some(128),
        diastolic_bp: Some(78),
        pulse: Some(72),
        consciousness: Some(Consciousness::Alert),
        temperature_c: Some(36.8),
    }
}

/// A 500-character visit note.
pub fn note_500() -> String {
    let base = "Wound on left lower leg reviewed; dressing changed with aseptic technique. Exudate moderate, no odour, edges healthy. Patient reports pain 3/10, taking paracetamol as prescribed. Carer present throughout. ";
    base.repeat(3).chars().take(500).collect()
}

/// The benchmark's visit: a completed home visit with 8 observations, 3 interventions and a
/// 500-character note.
pub fn full_visit(minutes_ago: i64) -> VisitInput {
    let start = Utc::now() - Duration::minutes(minutes_ago + 30);
    VisitInput {
        planned_visit_id: None,
        contact_type: ContactType::HomeVisit,
        started_at: start,
        ended_at: Some(start + Duration::minutes(25)),
        outcome: VisitOutcome::Completed,
        interventions: vec![
            Intervention::WoundCare,
            Intervention::Insulin,
            Intervention::MedicationPrompt,
        ],
        note: Some(note_500()),
        observations: Some(normal_observations()),
    }
}

/// Pass every change `from` holds to `to`.
pub fn exchange(from: &FieldStore, to: &FieldStore) -> crate::store::ImportReport {
    let batch = from.export_changes(0).expect("export");
    to.import_changes(&batch).expect("import")
}
