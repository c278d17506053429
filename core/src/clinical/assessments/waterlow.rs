//! The Waterlow pressure-ulcer risk assessment (© J Waterlow 1985, revised 2005; the card
//! incorporates the Malnutrition Screening Tool, MST, Ferguson et al., Nutrition 15(6), 1999).
//!
//! Every section of the card is an item. Where the card allows more than one score in a section
//! (skin type, tissue malnutrition, medication), every ticked answer is added; medication is
//! capped at 4. The neurological deficit is entered as 4–6 ("none" otherwise). Major surgery or
//! trauma is two items, so that "on table > 2 h" and "> 6 h" cannot both be added: orthopaedic
//! / spinal (5), and time on table (> 2 h 5, > 6 h 8). The MST is its two questions: weight lost
//! recently (no 0; unsure 2; yes, by 0.5–5 kg 1, 5–10 kg 2, 10–15 kg 3, > 15 kg 4, amount unsure
//! 2) and eating poorly or lack of appetite (no 0, yes 1).
//!
//! Build from a measured BMI: < 20.0 below average (3); 20.0–24.9 average (0); 25.0–29.9 above
//! average (1); 30.0 or more obese (2) — the card prints "> 30", and 30.0 is counted as obese
//! (the WHO definition, BMI ≥ 30), so no BMI falls between the card's rows.
//!
//! Total: 10+ at risk, 15+ high risk, 20+ very high risk.

use super::must::{HEIGHT, WEIGHT};
use super::{Band, Choice, Definition, Derive, Formula, Item, ItemKind};

const fn pts(id: &'static str, label: &'static str, points: u32) -> Choice {
    Choice {
        id,
        label,
        points: Some(points),
        alone: false,
        group: 0,
    }
}

/// An answer that must be ticked alone ("none of these").
const fn alone(id: &'static str, label: &'static str) -> Choice {
    Choice {
        id,
        label,
        points: Some(0),
        alone: true,
        group: 0,
    }
}

const fn one(id: &'static str, label: &'static str, options: &'static [Choice]) -> Item {
    Item {
        id,
        label,
        kind: ItemKind::One,
        options,
        derive: None,
        cap: None,
    }
}

const fn many(
    id: &'static str,
    label: &'static str,
    options: &'static [Choice],
    cap: Option<u32>,
) -> Item {
    Item {
        id,
        label,
        kind: ItemKind::Many,
        options,
        derive: None,
        cap,
    }
}

pub const WATERLOW_2005_V1: Definition = Definition {
    id: "waterlow",
    version: 1,
    title: "Waterlow",
    source: "Waterlow score card, © J Waterlow 1985, revised 2005 (judy-waterlow.co.uk), with the Malnutrition Screening Tool (Nutrition 15(6), 1999)",
    items: &[
        Item {
            id: "build",
            label: "Build / weight for height",
            kind: ItemKind::One,
            options: &[
                pts("average", "average (BMI 20–24.9)", 0),
                pts("above_average", "above average (BMI 25–29.9)", 1),
                pts("obese", "obese (BMI 30 or more)", 2),
                pts("below_average", "below average (BMI under 20)", 3),
            ],
            derive: Some(Derive {
                formula: Formula::Bmi,
                inputs: &[HEIGHT, WEIGHT],
                bands: &[
                    (i64::MIN, "below_average"),
                    (200, "average"),
                    (250, "above_average"),
                    (300, "obese"),
                ],
                label: "BMI",
                unit: "kg/m²",
            }),
            cap: None,
        },
        many(
            "skin",
            "Skin type / visual risk areas (tick all that apply)",
            &[
                alone("healthy", "healthy"),
                pts("tissue_paper", "tissue paper", 1),
                pts("dry", "dry", 1),
                pts("oedematous", "oedematous", 1),
                pts("clammy_pyrexia", "clammy, pyrexia", 1),
                pts("discoloured_grade_1", "discoloured, grade 1", 2),
                pts("broken_spots_grade_2_4", "broken / spots, grade 2–4", 3),
            ],
            None,
        ),
        one(
            "sex",
            "Sex",
            &[pts("male", "male", 1), pts("female", "female", 2)],
        ),
        one(
            "age",
            "Age",
            &[
                pts("14_49", "14–49", 1),
                pts("50_64", "50–64", 2),
                pts("65_74", "65–74", 3),
                pts("75_80", "75–80", 4),
                pts("81_plus", "81 and over", 5),
            ],
        ),
        one(
            "mst_weight_loss",
            "MST: has the person lost weight recently? If yes, how much?",
            &[
                pts("no", "no", 0),
                pts("unsure", "unsure", 2),
                pts("yes_0_5_to_5_kg", "yes, 0.5–5 kg", 1),
                pts("yes_5_to_10_kg", "yes, 5–10 kg", 2),
                pts("yes_10_to_15_kg", "yes, 10–15 kg", 3),
                pts("yes_over_15_kg", "yes, more than 15 kg", 4),
                pts("yes_amount_unsure", "yes, amount unsure", 2),
            ],
        ),
        one(
            "mst_eating_poorly",
            "MST: is the person eating poorly or lacking appetite?",
            &[pts("no", "no", 0), pts("yes", "yes", 1)],
        ),
        one(
            "continence",
            "Continence",
            &[
                pts("complete_or_catheterised", "complete / catheterised", 0),
                pts("urinary", "urinary incontinence", 1),
                pts("faecal", "faecal incontinence", 2),
                pts("urinary_and_faecal", "urinary and faecal incontinence", 3),
            ],
        ),
        one(
            "mobility",
            "Mobility",
            &[
                pts("fully", "fully mobile", 0),
                pts("restless_fidgety", "restless / fidgety", 1),
                pts("apathetic", "apathetic", 2),
                pts("restricted", "restricted", 3),
                pts("bedbound", "bedbound (e.g. traction)", 4),
                pts("chairbound", "chairbound (e.g. wheelchair)", 5),
            ],
        ),
        many(
            "tissue_malnutrition",
            "Special risks: tissue malnutrition (tick all that apply)",
            &[
                alone("none", "none"),
                pts("terminal_cachexia", "terminal cachexia", 8),
                pts("multiple_organ_failure", "multiple organ failure", 8),
                pts(
                    "single_organ_failure",
                    "single organ failure (respiratory, renal, cardiac)",
                    5,
                ),
                pts("peripheral_vascular_disease", "peripheral vascular disease", 5),
                pts("anaemia", "anaemia (Hb < 8)", 2),
                pts("smoking", "smoking", 1),
            ],
            None,
        ),
        Item {
            id: "neurological_deficit",
            label: "Special risks: neurological deficit (diabetes, MS, CVA, motor/sensory, paraplegia): 4–6",
            kind: ItemKind::Points { min: 4, max: 6 },
            options: &[pts("none", "none", 0)],
            derive: None,
            cap: None,
        },
        one(
            "surgery_orthopaedic_spinal",
            "Special risks: major surgery or trauma — orthopaedic / spinal",
            &[pts("no", "no", 0), pts("yes", "yes", 5)],
        ),
        one(
            "surgery_time_on_table",
            "Special risks: major surgery or trauma — time on table (may be discounted after 48 h if recovering normally)",
            &[
                pts("none", "no surgery, or 2 hours or less", 0),
                pts("over_2_h", "on table more than 2 hours", 5),
                pts("over_6_h", "on table more than 6 hours", 8),
            ],
        ),
        many(
            "medication",
            "Special risks: medication — cytotoxics, long-term / high-dose steroids, anti-inflammatory (at most 4)",
            &[
                alone("none", "none"),
                pts("cytotoxics", "cytotoxics", 4),
                pts("steroids", "long-term / high-dose steroids", 4),
                pts("anti_inflammatory", "anti-inflammatory", 4),
            ],
            Some(4),
        ),
    ],
    judgement: None,
    bands: &[
        Band {
            id: "not_at_risk",
            label: "not at risk",
            min_total: 0,
            action: "Below 10: not identified as at risk. Reassess when the person's condition changes, and as local policy says.",
        },
        Band {
            id: "at_risk",
            label: "at risk",
            min_total: 10,
            action: "At risk (10+): inspect the skin at every visit, plan repositioning, consider a pressure-redistributing mattress and cushion, attend to nutrition and continence, and reassess as local policy says.",
        },
        Band {
            id: "high_risk",
            label: "high risk",
            min_total: 15,
            action: "High risk (15+): as for at risk, with a high-specification foam or alternating-pressure support surface, a written repositioning schedule, heel off-loading, and referral to tissue viability if the skin is marked.",
        },
        Band {
            id: "very_high_risk",
            label: "very high risk",
            min_total: 20,
            action: "Very high risk (20+): as for high risk, with a dynamic (alternating-pressure) mattress, frequent repositioning, and referral to tissue viability and a dietitian the same day.",
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::super::{score, validate_answers, AssessmentAnswer as A, AssessmentScore};
    use super::*;
    use crate::error::ValidationError;

    /// A complete card at its lowest (male 1, age 14–49 1: total 2), with `extra` answers
    /// replacing those items.
    fn card(extra: &[A]) -> AssessmentScore {
        let mut answers = vec![
            A::choice("build", "average"),
            A::choices("skin", &["healthy"]),
            A::choice("sex", "male"),
            A::choice("age", "14_49"),
            A::choice("mst_weight_loss", "no"),
            A::choice("mst_eating_poorly", "no"),
            A::choice("continence", "complete_or_catheterised"),
            A::choice("mobility", "fully"),
            A::choices("tissue_malnutrition", &["none"]),
            A::choice("neurological_deficit", "none"),
            A::choice("surgery_orthopaedic_spinal", "no"),
            A::choice("surgery_time_on_table", "none"),
            A::choices("medication", &["none"]),
        ];
        for e in extra {
            answers.retain(|a| a.item != e.item);
            answers.push(e.clone());
        }
        validate_answers(&WATERLOW_2005_V1, &answers).unwrap();
        score(&WATERLOW_2005_V1, &answers)
    }

    fn band(s: &AssessmentScore) -> (Option<u32>, &str) {
        (s.total, s.band.as_deref().unwrap_or("-"))
    }

    #[test]
    fn lowest_card_is_2() {
        assert_eq!(band(&card(&[])), (Some(2), "not_at_risk"));
    }

    #[test]
    fn band_edges_both_sides() {
        // male 1 + eating poorly 1 + faecal 2 + restricted 3 + age 50–64 2 = 9; age 65–74 (3): 10.
        let nine = card(&[
            A::choice("mobility", "restricted"),
            A::choice("continence", "faecal"),
            A::choice("age", "50_64"),
            A::choice("mst_eating_poorly", "yes"),
        ]);
        assert_eq!(band(&nine), (Some(9), "not_at_risk"));
        let ten = card(&[
            A::choice("mobility", "restricted"),
            A::choice("continence", "faecal"),
            A::choice("age", "65_74"),
            A::choice("mst_eating_poorly", "yes"),
        ]);
        assert_eq!(band(&ten), (Some(10), "at_risk"));
        let fourteen = card(&[
            A::choice("mobility", "chairbound"),
            A::choice("continence", "urinary_and_faecal"),
            A::choice("age", "75_80"),
            A::choice("mst_eating_poorly", "yes"),
        ]);
        assert_eq!(band(&fourteen), (Some(14), "at_risk"));
        let fifteen = card(&[
            A::choice("mobility", "chairbound"),
            A::choice("continence", "urinary_and_faecal"),
            A::choice("age", "81_plus"),
            A::choice("mst_eating_poorly", "yes"),
        ]);
        assert_eq!(band(&fifteen), (Some(15), "high_risk"));
        let nineteen = card(&[
            A::choice("mobility", "chairbound"),
            A::choice("continence", "urinary_and_faecal"),
            A::choice("age", "81_plus"),
            A::choice("sex", "female"),
            A::choice("mst_eating_poorly", "yes"),
            A::choices("skin", &["dry", "tissue_paper", "oedematous"]),
        ]);
        assert_eq!(band(&nineteen), (Some(19), "high_risk"));
        let twenty = card(&[
            A::choice("mobility", "chairbound"),
            A::choice("continence", "urinary_and_faecal"),
            A::choice("age", "81_plus"),
            A::choice("sex", "female"),
            A::choice("mst_eating_poorly", "yes"),
            A::choices(
                "skin",
                &["dry", "tissue_paper", "oedematous", "clammy_pyrexia"],
            ),
        ]);
        assert_eq!(band(&twenty), (Some(20), "very_high_risk"));
        assert!(twenty
            .action
            .as_deref()
            .unwrap()
            .starts_with("Very high risk"));
    }

    #[test]
    fn every_row_of_the_card_scores_as_printed() {
        let base = 2; // male 1 + age 14–49 1
        let cases: &[(A, u32)] = &[
            (A::choice("build", "above_average"), 1),
            (A::choice("build", "obese"), 2),
            (A::choice("build", "below_average"), 3),
            (A::choices("skin", &["tissue_paper"]), 1),
            (A::choices("skin", &["discoloured_grade_1"]), 2),
            (A::choices("skin", &["broken_spots_grade_2_4"]), 3),
            (
                A::choices(
                    "skin",
                    &["dry", "discoloured_grade_1", "broken_spots_grade_2_4"],
                ),
                6,
            ),
            (A::choice("sex", "female"), 1),
            (A::choice("age", "50_64"), 1),
            (A::choice("age", "81_plus"), 4),
            (A::choice("mst_weight_loss", "unsure"), 2),
            (A::choice("mst_weight_loss", "yes_0_5_to_5_kg"), 1),
            (A::choice("mst_weight_loss", "yes_5_to_10_kg"), 2),
            (A::choice("mst_weight_loss", "yes_10_to_15_kg"), 3),
            (A::choice("mst_weight_loss", "yes_over_15_kg"), 4),
            (A::choice("mst_weight_loss", "yes_amount_unsure"), 2),
            (A::choice("mst_eating_poorly", "yes"), 1),
            (A::choice("continence", "urinary"), 1),
            (A::choice("mobility", "restless_fidgety"), 1),
            (A::choice("mobility", "apathetic"), 2),
            (A::choice("mobility", "bedbound"), 4),
            (A::choices("tissue_malnutrition", &["terminal_cachexia"]), 8),
            (
                A::choices("tissue_malnutrition", &["multiple_organ_failure"]),
                8,
            ),
            (
                A::choices("tissue_malnutrition", &["single_organ_failure"]),
                5,
            ),
            (
                A::choices("tissue_malnutrition", &["peripheral_vascular_disease"]),
                5,
            ),
            (A::choices("tissue_malnutrition", &["anaemia"]), 2),
            (A::choices("tissue_malnutrition", &["smoking"]), 1),
            (
                A::choices(
                    "tissue_malnutrition",
                    &["single_organ_failure", "anaemia", "smoking"],
                ),
                8,
            ),
            (A::points("neurological_deficit", 4), 4),
            (A::points("neurological_deficit", 6), 6),
            (A::choice("surgery_orthopaedic_spinal", "yes"), 5),
            (A::choice("surgery_time_on_table", "over_2_h"), 5),
            (A::choice("surgery_time_on_table", "over_6_h"), 8),
            (A::choices("medication", &["steroids"]), 4),
            // Medication is capped at 4, however many are ticked.
            (
                A::choices(
                    "medication",
                    &["cytotoxics", "steroids", "anti_inflammatory"],
                ),
                4,
            ),
        ];
        for (a, extra) in cases {
            let s = card(std::slice::from_ref(a));
            assert_eq!(s.total, Some(base + extra), "{a:?}");
        }
    }

    #[test]
    fn build_from_measured_bmi_edges_both_sides() {
        // 200 cm: BMI = kg / 4.
        let build = |kg: f64| {
            let s = card(&[A::measured(
                "build",
                &[("height_cm", 200.0), ("weight_kg", kg)],
            )]);
            (s.items[0].options[0].clone(), s.items[0].points)
        };
        assert_eq!(build(79.7), ("below_average".into(), Some(3))); // 19.925 → 19.9
        assert_eq!(build(79.8), ("average".into(), Some(0))); // 19.95 → 20.0
        assert_eq!(build(80.0), ("average".into(), Some(0))); // 20.0
        assert_eq!(build(99.6), ("average".into(), Some(0))); // 24.9
        assert_eq!(build(99.8), ("above_average".into(), Some(1))); // 24.95 → 25.0
        assert_eq!(build(100.0), ("above_average".into(), Some(1)));
        assert_eq!(build(119.6), ("above_average".into(), Some(1))); // 29.9
        assert_eq!(build(119.8), ("obese".into(), Some(2))); // 29.95 → 30.0
        assert_eq!(build(120.0), ("obese".into(), Some(2)));
    }

    #[test]
    fn missing_sections_are_listed_and_the_total_withheld() {
        let answers = [A::choice("sex", "female"), A::choice("age", "81_plus")];
        let s = score(&WATERLOW_2005_V1, &answers);
        assert_eq!(s.points_so_far, 7);
        assert_eq!((s.total, s.band.as_deref()), (None, None));
        assert_eq!(s.missing.len(), 11);
        assert!(s.missing.contains(&"medication".to_string()));
        assert!(!s.missing.contains(&"sex".to_string()));
    }

    #[test]
    fn answers_outside_the_card_are_refused() {
        let refused = |a: A| match validate_answers(&WATERLOW_2005_V1, &[a]) {
            Err(ValidationError::InvalidAnswer { field, reason }) => (field, reason),
            other => panic!("{other:?}"),
        };
        let (f, r) = refused(A::points("neurological_deficit", 3));
        assert_eq!(f, "neurological_deficit");
        assert!(r.contains("4–6"), "{r}");
        assert_eq!(
            refused(A::points("neurological_deficit", 7)).0,
            "neurological_deficit"
        );
        assert!(
            validate_answers(&WATERLOW_2005_V1, &[A::points("neurological_deficit", 5)]).is_ok()
        );
        assert_eq!(refused(A::choices("skin", &["healthy", "dry"])).0, "skin");
        assert_eq!(refused(A::choices("skin", &["dry", "dry"])).0, "skin");
        assert_eq!(refused(A::choices("skin", &[])).0, "skin");
        assert_eq!(
            refused(A::choices("medication", &["aspirin"])).0,
            "medication"
        );
        assert_eq!(refused(A::choice("skin", "dry")).0, "skin");
        assert_eq!(refused(A::choice("age", "10_13")).0, "age");
        assert_eq!(refused(A::points("mobility", 2)).0, "mobility");
    }
}
