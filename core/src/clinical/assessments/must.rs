//! MUST, the Malnutrition Universal Screening Tool (BAPEN, 2003; "MUST" flowchart and
//! explanatory booklet, revised 2011): steps 1–3 scored, step 4 the overall risk, step 5 the
//! management guidelines.
//!
//! * Step 1, BMI score: BMI > 20.0 (> 30 obese) → 0; 18.5–20.0 → 1; < 18.5 → 2. BMI from the
//!   measured (or, if reliable and realistic, recalled) height and weight, kg/m², one decimal.
//! * Step 2, weight-loss score: unplanned loss in the past 3–6 months, as a percentage of the
//!   earlier weight, one decimal: < 5 % → 0; 5–10 % → 1; > 10 % → 2.
//! * Step 3, acute disease effect: acutely ill and there has been, or is likely to be, no
//!   nutritional intake for more than 5 days → 2.
//! * Step 4: 0 low, 1 medium, 2 or more high risk.
//! * Where height and weight cannot be obtained, BAPEN's subjective criteria (clinical
//!   impression of thinness; loose clothes or jewellery, decreased intake) are the alternative
//!   answers to steps 1 and 2. BAPEN says they are "not designed to assign a score": they give no
//!   points, and the clinician records the overall risk category (`overall_risk`).

use super::{Band, Choice, Definition, Derive, Formula, Input, Item, ItemKind};

const fn scored(id: &'static str, label: &'static str, points: u32) -> Choice {
    Choice {
        id,
        label,
        points: Some(points),
        alone: false,
        group: 0,
    }
}

const fn subjective(id: &'static str, label: &'static str) -> Choice {
    Choice {
        id,
        label,
        points: None,
        alone: false,
        group: 0,
    }
}

pub const HEIGHT: Input = Input {
    id: "height_cm",
    label: "height",
    unit: "cm",
    min: 50.0,
    max: 250.0,
};

pub const WEIGHT: Input = Input {
    id: "weight_kg",
    label: "weight",
    unit: "kg",
    min: 10.0,
    max: 400.0,
};

pub const MUST_V1: Definition = Definition {
    id: "must",
    version: 1,
    title: "MUST",
    source: "BAPEN, 'Malnutrition Universal Screening Tool' flowchart (2003, revised 2011) and the 'MUST' explanatory booklet (alternative measurements and subjective criteria)",
    items: &[
        Item {
            id: "bmi",
            label: "Step 1 – BMI score",
            kind: ItemKind::One,
            options: &[
                scored("bmi_over_20", "BMI over 20.0 kg/m² (over 30 obese)", 0),
                scored("bmi_18_5_to_20", "BMI 18.5–20.0 kg/m²", 1),
                scored("bmi_under_18_5", "BMI under 18.5 kg/m²", 2),
                subjective("subjective_very_thin", "cannot be measured: obvious wasting (very thin)"),
                subjective("subjective_thin", "cannot be measured: thin"),
                subjective("subjective_acceptable", "cannot be measured: acceptable weight"),
                subjective("subjective_overweight", "cannot be measured: overweight"),
                subjective("subjective_obese", "cannot be measured: obese (very overweight)"),
            ],
            derive: Some(Derive {
                formula: Formula::Bmi,
                inputs: &[HEIGHT, WEIGHT],
                bands: &[
                    (i64::MIN, "bmi_under_18_5"),
                    (185, "bmi_18_5_to_20"),
                    (201, "bmi_over_20"),
                ],
                label: "BMI",
                unit: "kg/m²",
            }),
            cap: None,
        },
        Item {
            id: "weight_loss",
            label: "Step 2 – unplanned weight loss in the past 3–6 months",
            kind: ItemKind::One,
            options: &[
                scored("loss_under_5", "under 5 %", 0),
                scored("loss_5_to_10", "5–10 %", 1),
                scored("loss_over_10", "over 10 %", 2),
                subjective(
                    "subjective_signs_of_loss",
                    "cannot be measured: clothes or jewellery have become loose, or decreased intake, reduced appetite or swallowing problems over 3–6 months",
                ),
                subjective("subjective_no_signs_of_loss", "cannot be measured: no sign of weight loss"),
            ],
            derive: Some(Derive {
                formula: Formula::PercentLoss,
                inputs: &[
                    Input {
                        id: "earlier_weight_kg",
                        label: "weight 3–6 months ago",
                        unit: "kg",
                        min: 10.0,
                        max: 400.0,
                    },
                    Input {
                        id: "current_weight_kg",
                        label: "weight now",
                        unit: "kg",
                        min: 10.0,
                        max: 400.0,
                    },
                ],
                bands: &[
                    (i64::MIN, "loss_under_5"),
                    (50, "loss_5_to_10"),
                    (101, "loss_over_10"),
                ],
                label: "weight loss",
                unit: "%",
            }),
            cap: None,
        },
        Item {
            id: "acute_disease",
            label: "Step 3 – acutely ill and no nutritional intake (or likely none) for more than 5 days",
            kind: ItemKind::One,
            options: &[scored("no", "no", 0), scored("yes", "yes", 2)],
            derive: None,
            cap: None,
        },
    ],
    judgement: Some(Item {
        id: "overall_risk",
        label: "Overall risk of malnutrition, by clinical judgement (only when BMI or weight loss cannot be measured)",
        kind: ItemKind::One,
        options: &[
            subjective("low", "low risk"),
            subjective("medium", "medium risk"),
            subjective("high", "high risk"),
        ],
        derive: None,
        cap: None,
    }),
    bands: &[
        Band {
            id: "low",
            label: "low risk",
            min_total: 0,
            action: "Routine clinical care: repeat screening — hospital every week, care homes every month, community every year for special groups (e.g. those over 75).",
        },
        Band {
            id: "medium",
            label: "medium risk",
            min_total: 1,
            action: "Observe: document dietary intake for 3 days. If adequate, little concern: repeat screening (hospital weekly, care home at least monthly, community at least every 2–3 months). If inadequate, clinical concern: follow local policy, set goals, improve and increase overall nutritional intake, monitor and review the care plan regularly.",
        },
        Band {
            id: "high",
            label: "high risk",
            min_total: 2,
            action: "Treat (unless detrimental or no benefit is expected from nutritional support, e.g. imminent death): refer to a dietitian or nutritional support team, or implement local policy; set goals, improve and increase overall nutritional intake; monitor and review the care plan (hospital weekly, care home monthly, community monthly).",
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::super::{score, validate_answers, AssessmentAnswer as A, AssessmentScore};
    use super::*;

    fn run(answers: &[A]) -> AssessmentScore {
        validate_answers(&MUST_V1, answers).unwrap();
        score(&MUST_V1, answers)
    }

    /// The BMI score alone, from height and weight (the rest scoring 0).
    fn bmi_points(height_cm: f64, weight_kg: f64) -> (Option<f64>, Option<u32>) {
        let s = run(&[
            A::measured("bmi", &[("height_cm", height_cm), ("weight_kg", weight_kg)]),
            A::choice("weight_loss", "loss_under_5"),
            A::choice("acute_disease", "no"),
        ]);
        (s.items[0].derived, s.total)
    }

    #[test]
    fn bmi_band_edges_both_sides() {
        // 150 cm: BMI = kg / 2.25. 45.0 kg → 20.0 (1); 45.2 kg → 20.09 → 20.1 (0).
        assert_eq!(bmi_points(150.0, 45.0), (Some(20.0), Some(1)));
        assert_eq!(bmi_points(150.0, 45.2), (Some(20.1), Some(0)));
        // Rounding on the decimal: 200 cm, BMI = kg / 4.
        assert_eq!(bmi_points(200.0, 80.2), (Some(20.1), Some(0))); // 20.05 → 20.1
        assert_eq!(bmi_points(200.0, 80.1), (Some(20.0), Some(1))); // 20.025 → 20.0
                                                                    // 18.5 → 1; 18.4 → 2. 200 cm: BMI = kg / 4.
        assert_eq!(bmi_points(200.0, 74.0), (Some(18.5), Some(1)));
        assert_eq!(bmi_points(200.0, 73.8), (Some(18.5), Some(1))); // 18.45 → 18.5
        assert_eq!(bmi_points(200.0, 73.7), (Some(18.4), Some(2))); // 18.425 → 18.4
        assert_eq!(bmi_points(200.0, 73.6), (Some(18.4), Some(2)));
        // Obese still scores 0 for BMI.
        assert_eq!(bmi_points(160.0, 100.0), (Some(39.1), Some(0)));
    }

    fn loss_points(earlier: f64, now: f64) -> (Option<f64>, Option<u32>) {
        let s = run(&[
            A::choice("bmi", "bmi_over_20"),
            A::measured(
                "weight_loss",
                &[("earlier_weight_kg", earlier), ("current_weight_kg", now)],
            ),
            A::choice("acute_disease", "no"),
        ]);
        (s.items[1].derived, s.total)
    }

    #[test]
    fn weight_loss_band_edges_both_sides() {
        // 100 kg earlier: the loss in kg is the percentage.
        assert_eq!(loss_points(100.0, 95.1), (Some(4.9), Some(0)));
        assert_eq!(loss_points(100.0, 95.0), (Some(5.0), Some(1)));
        assert_eq!(loss_points(100.0, 90.0), (Some(10.0), Some(1)));
        assert_eq!(loss_points(100.0, 89.9), (Some(10.1), Some(2)));
        // Percentage of the earlier weight, not the current: 60 → 54 is 10.0 % (1), not 11.1 %.
        assert_eq!(loss_points(60.0, 54.0), (Some(10.0), Some(1)));
        // 80 → 76.1: 4.875 % → 4.9 (0); 80 → 76.0: 5.0 (1).
        assert_eq!(loss_points(80.0, 76.1), (Some(4.9), Some(0)));
        assert_eq!(loss_points(80.0, 76.0), (Some(5.0), Some(1)));
        // A gain scores 0.
        assert_eq!(loss_points(60.0, 63.0), (Some(-5.0), Some(0)));
    }

    #[test]
    fn total_band_edges_and_actions() {
        let with = |bmi: &str, loss: &str, acute: &str| {
            run(&[
                A::choice("bmi", bmi),
                A::choice("weight_loss", loss),
                A::choice("acute_disease", acute),
            ])
        };
        let s = with("bmi_over_20", "loss_under_5", "no");
        assert_eq!((s.total, s.band.as_deref()), (Some(0), Some("low")));
        assert!(s
            .action
            .as_deref()
            .unwrap()
            .starts_with("Routine clinical care"));
        let s = with("bmi_18_5_to_20", "loss_under_5", "no");
        assert_eq!((s.total, s.band.as_deref()), (Some(1), Some("medium")));
        assert!(s.action.as_deref().unwrap().starts_with("Observe"));
        let s = with("bmi_over_20", "loss_5_to_10", "no");
        assert_eq!((s.total, s.band.as_deref()), (Some(1), Some("medium")));
        let s = with("bmi_18_5_to_20", "loss_5_to_10", "no");
        assert_eq!((s.total, s.band.as_deref()), (Some(2), Some("high")));
        assert!(s.action.as_deref().unwrap().starts_with("Treat"));
        let s = with("bmi_over_20", "loss_under_5", "yes");
        assert_eq!((s.total, s.band.as_deref()), (Some(2), Some("high")));
        let s = with("bmi_under_18_5", "loss_over_10", "yes");
        assert_eq!((s.total, s.band.as_deref()), (Some(6), Some("high")));
    }

    #[test]
    fn a_missing_step_is_listed_never_scored_zero() {
        let s = run(&[A::choice("bmi", "bmi_18_5_to_20")]);
        assert_eq!(s.missing, vec!["weight_loss", "acute_disease"]);
        assert_eq!(
            (s.points_so_far, s.total, s.band.as_deref()),
            (1, None, None)
        );
        assert!(!s.is_complete());
        let s = run(&[]);
        assert_eq!(s.missing, vec!["bmi", "weight_loss", "acute_disease"]);
    }

    #[test]
    fn subjective_criteria_give_no_points_and_the_band_is_the_clinicians_judgement() {
        let base = [
            A::choice("bmi", "subjective_thin"),
            A::choice("weight_loss", "subjective_signs_of_loss"),
            A::choice("acute_disease", "no"),
        ];
        let s = run(&base);
        assert!(s.subjective);
        assert_eq!(s.missing, vec!["overall_risk"]);
        assert_eq!((s.total, s.band), (None, None));
        let mut judged = base.to_vec();
        judged.push(A::choice("overall_risk", "medium"));
        let s = run(&judged);
        assert_eq!((s.total, s.band.as_deref()), (None, Some("medium")));
        assert!(s.is_complete() && s.action.is_some());
        // Mixed: BMI measured, weight loss subjective.
        let s = run(&[
            A::measured("bmi", &[("height_cm", 170.0), ("weight_kg", 52.0)]),
            A::choice("weight_loss", "subjective_no_signs_of_loss"),
            A::choice("acute_disease", "yes"),
            A::choice("overall_risk", "high"),
        ]);
        assert_eq!(s.items[0].points, Some(2));
        assert_eq!((s.points_so_far, s.band.as_deref()), (4, Some("high")));
    }

    #[test]
    fn answers_outside_the_definition_are_refused_naming_the_item() {
        let field = |answers: &[A]| match validate_answers(&MUST_V1, answers) {
            Err(crate::error::ValidationError::InvalidAnswer { field, .. }) => field,
            Err(crate::error::ValidationError::OutOfRange { what, .. }) => what.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(&[A::choice("bmi", "bmi_21")]), "bmi");
        assert_eq!(field(&[A::choice("appetite", "poor")]), "appetite");
        assert_eq!(field(&[A::points("acute_disease", 2)]), "acute_disease");
        assert_eq!(
            field(&[
                A::choice("bmi", "bmi_over_20"),
                A::choice("bmi", "bmi_over_20")
            ]),
            "bmi"
        );
        // Impossible dimensions.
        assert_eq!(
            field(&[A::measured(
                "bmi",
                &[("height_cm", 17.0), ("weight_kg", 60.0)]
            )]),
            "height"
        );
        assert_eq!(
            field(&[A::measured(
                "bmi",
                &[("height_cm", 170.0), ("weight_kg", f64::NAN)]
            )]),
            "weight"
        );
        assert_eq!(
            field(&[A::measured("bmi", &[("height_cm", 170.0)])]),
            "bmi.weight_kg"
        );
        assert_eq!(
            field(&[A::measured(
                "bmi",
                &[("height_cm", 170.25), ("weight_kg", 60.0)]
            )]),
            "bmi.height_cm"
        );
        assert_eq!(
            field(&[A::measured("acute_disease", &[("height_cm", 170.0)])]),
            "acute_disease"
        );
        // The overall judgement only on the subjective route.
        assert_eq!(
            field(&[
                A::choice("bmi", "bmi_over_20"),
                A::choice("weight_loss", "loss_under_5"),
                A::choice("acute_disease", "no"),
                A::choice("overall_risk", "low"),
            ]),
            "overall_risk"
        );
    }
}
