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
        scheduled_visit: None,
        outcome_reason: None,
        interventions_done: Vec::new(),
    }
}

/// Pass every change `from` holds to `to`.
pub fn exchange(from: &FieldStore, to: &FieldStore) -> crate::store::ImportReport {
    let batch = from.export_changes(0).expect("export");
    to.import_changes(&batch).expect("import")
}

/// Mutations of Automerge changes for fuzzing (the bounded runs in the tests, the long runs in
/// `scripts/fuzz.sh`). A mutation flips, inserts or removes bytes of the change's body, or cuts
/// it short, and then (most of the time) seals the chunk again with a correct length and checksum,
/// so that the mutation reaches the decoder's and Automerge's inner layers rather than stopping at
/// the checksum.
pub mod fuzz {
    use sha2::{Digest, Sha256};

    /// A small deterministic generator (xorshift64*), so a failing run can be replayed by seed.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed.max(1))
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next_u64() % n as u64) as usize
            }
        }
    }

    fn uleb(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// The chunk type and body of a change (after magic, checksum, type and length).
    fn split(bytes: &[u8]) -> Option<(u8, Vec<u8>)> {
        let kind = *bytes.get(8)?;
        let mut i = 9;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = *bytes.get(i)?;
            i += 1;
            len |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift > 28 {
                break;
            }
        }
        Some((kind, bytes.get(i..)?.get(..len)?.to_vec()))
    }

    /// A chunk with a correct length and checksum around `body`.
    pub fn seal(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut hashed = vec![kind];
        uleb(body.len(), &mut hashed);
        hashed.extend_from_slice(body);
        let digest = Sha256::digest(&hashed);
        let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
        out.extend_from_slice(&digest[..4]);
        out.extend_from_slice(&hashed);
        out
    }

    /// One mutation of `change`.
    pub fn mutate(change: &[u8], rng: &mut Rng) -> Vec<u8> {
        let Some((kind, mut body)) = split(change) else {
            return change.to_vec();
        };
        for _ in 0..1 + rng.below(3) {
            let pos = rng.below(body.len().max(1));
            match rng.below(6) {
                0 if !body.is_empty() => body[pos] = rng.next_u64() as u8,
                1 if !body.is_empty() => body[pos] ^= 1 << rng.below(8),
                2 => body.insert(pos.min(body.len()), rng.next_u64() as u8),
                3 if !body.is_empty() => {
                    body.remove(pos);
                }
                4 => body.truncate(pos),
                _ if !body.is_empty() => body[pos] = [0, 0x7f, 0x80, 0xff][rng.below(4)],
                _ => {}
            }
        }
        if rng.below(8) == 0 {
            // Unsealed: the checksum no longer matches.
            let mut out = change.get(..9).unwrap_or_default().to_vec();
            uleb(body.len(), &mut out);
            out.extend_from_slice(&body);
            out
        } else {
            seal(kind, &body)
        }
    }
}

// ---------------------------------------------------------------- scored assessments

/// The first half of a Waterlow card (what a nurse fills before being called away): six of its
/// thirteen sections.
pub fn waterlow_first_half() -> Vec<crate::clinical::assessments::AssessmentAnswer> {
    use crate::clinical::assessments::AssessmentAnswer as A;
    vec![
        A::measured("build", &[("height_cm", 162.0), ("weight_kg", 49.5)]),
        A::choices("skin", &["tissue_paper", "dry"]),
        A::choice("sex", "female"),
        A::choice("age", "81_plus"),
        A::choice("mst_weight_loss", "yes_0_5_to_5_kg"),
        A::choice("mst_eating_poorly", "yes"),
    ]
}

/// The rest of that card. With the first half: build 3 (BMI 18.9), skin 2, female 2, 81+ 5,
/// MST 1 + 1, continence 1, mobility 3, anaemia 2, neurological 4, no surgery, steroids 4:
/// total 28, very high risk.
pub fn waterlow_second_half() -> Vec<crate::clinical::assessments::AssessmentAnswer> {
    use crate::clinical::assessments::AssessmentAnswer as A;
    vec![
        A::choice("continence", "urinary"),
        A::choice("mobility", "restricted"),
        A::choices("tissue_malnutrition", &["anaemia"]),
        A::points("neurological_deficit", 4),
        A::choice("surgery_orthopaedic_spinal", "no"),
        A::choice("surgery_time_on_table", "none"),
        A::choices("medication", &["steroids"]),
    ]
}

/// A complete MUST from measurements: BMI 19.1 (1), weight loss 10.3 % (2), not acutely ill:
/// total 3, high risk.
pub fn must_measured() -> Vec<crate::clinical::assessments::AssessmentAnswer> {
    use crate::clinical::assessments::AssessmentAnswer as A;
    vec![
        A::measured("bmi", &[("height_cm", 165.0), ("weight_kg", 52.0)]),
        A::measured(
            "weight_loss",
            &[("earlier_weight_kg", 58.0), ("current_weight_kg", 52.0)],
        ),
        A::choice("acute_disease", "no"),
    ]
}

/// A wound assessment of the left heel, `length` × `width` × 3 mm, assessed `days_ago`.
pub fn wound(
    wound_id: Option<String>,
    length: f64,
    width: f64,
    days_ago: i64,
) -> WoundAssessmentInput {
    use crate::clinical::wound::*;
    WoundAssessmentInput {
        wound_id,
        site: "left heel".into(),
        size: WoundSize {
            length_mm: length,
            width_mm: width,
            depth_mm: 3.0,
        },
        tissue: vec![
            TissueShare {
                tissue: TissueType::Granulating,
                percent: 60,
            },
            TissueShare {
                tissue: TissueType::Slough,
                percent: 40,
            },
        ],
        exudate: ExudateLevel::Low,
        odour: Odour::None,
        pain: 2,
        photo_ref: Some("IMG_0042".into()),
        visit_id: None,
        assessed_at: Utc::now() - Duration::days(days_ago),
    }
}
