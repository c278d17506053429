//! Scored assessments as versioned, declarative definitions (docs/assessments.md).
//!
//! A [`Definition`] is data: its items, each item's answer options with their points, how a
//! measured answer (height and weight, two weights) picks an option, caps, and the bands of the
//! total with the action for each. One engine, [`score`], scores every definition; there is no
//! code per form. The definitions shipped are in [`must`] (BAPEN's Malnutrition Universal
//! Screening Tool) and [`waterlow`] (the Waterlow card, revised 2005); [`ALL`] lists them and
//! [`definition`] finds one by id and version.
//!
//! Conventions (the same for every definition):
//! * An item without an answer is **missing**: it is listed, never scored 0, and the assessment
//!   has no total and no band until it is answered. [`AssessmentScore::points_so_far`] adds up
//!   what is answered, for a draft.
//! * A measured value is given to at most one decimal (0.1 cm, 0.1 kg) and rounded on the
//!   decimal as entered; a derived value (BMI in kg/m², a weight loss in %) is worked out in
//!   exact integer arithmetic and rounded to one decimal, half away from zero, before banding.
//! * An option with no points is a *subjective* answer (MUST's alternative criteria when weight
//!   cannot be measured): the assessment then has no total, and its band is the clinician's
//!   overall judgement, recorded in the definition's judgement item.
//! * Answers outside the definition are a [`ValidationError`] naming the item; nothing is
//!   scored from them.

pub mod must;
pub mod view;
pub mod waterlow;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

// ------------------------------------------------------------------ definitions (static data)

/// A scored assessment, as published, at one version.
#[derive(Debug)]
pub struct Definition {
    /// Stable id, e.g. `"must"`.
    pub id: &'static str,
    /// Bumped whenever any item, option, point value, band or action changes.
    pub version: u32,
    pub title: &'static str,
    /// Where the table comes from.
    pub source: &'static str,
    /// The scored items, in the order of the published form.
    pub items: &'static [Item],
    /// The item that holds the clinician's overall judgement when an answer is subjective; its
    /// option ids are band ids. Asked only on the subjective route.
    pub judgement: Option<Item>,
    /// The bands of the total, lowest first; a total falls in the last band whose `min_total`
    /// it reaches.
    pub bands: &'static [Band],
}

/// One question of a form.
#[derive(Debug)]
pub struct Item {
    pub id: &'static str,
    pub label: &'static str,
    pub kind: ItemKind,
    pub options: &'static [Choice],
    /// How a measured answer picks one of the options, if the item can be measured.
    pub derive: Option<Derive>,
    /// The most this item may add to the total (Waterlow: medication, at most 4).
    pub cap: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// Exactly one option.
    One,
    /// Every option that applies is ticked and their points are added (up to the cap).
    Many,
    /// A number of points entered by the clinician within `min..=max`, or one of the options
    /// (e.g. "none").
    Points { min: u32, max: u32 },
}

/// One answer option.
#[derive(Debug)]
pub struct Choice {
    pub id: &'static str,
    pub label: &'static str,
    /// `None`: a subjective answer, which gives no points (see the module notes).
    pub points: Option<u32>,
    /// Must be the only option ticked ("none of these", "healthy").
    pub alone: bool,
    /// Options with the same non-zero group exclude each other (on table > 2 h / > 6 h).
    pub group: u8,
}

/// How measurements become an option.
#[derive(Debug)]
pub struct Derive {
    pub formula: Formula,
    /// The measurements, in the formula's order.
    pub inputs: &'static [Input],
    /// `(lowest value in tenths, option id)`, ascending: the value picks the last entry it
    /// reaches.
    pub bands: &'static [(i64, &'static str)],
    /// What the derived value is, e.g. "BMI".
    pub label: &'static str,
    pub unit: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formula {
    /// inputs: height (cm), weight (kg) → kg/m².
    Bmi,
    /// inputs: earlier weight, current weight → loss as % of the earlier weight (a gain is a
    /// negative loss).
    PercentLoss,
}

/// One measurement of a measured answer, with the possible range.
#[derive(Debug)]
pub struct Input {
    pub id: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub min: f64,
    pub max: f64,
}

/// A band of the total, with what to do.
#[derive(Debug)]
pub struct Band {
    pub id: &'static str,
    pub label: &'static str,
    pub min_total: u32,
    pub action: &'static str,
}

/// Every definition this app can score, every version.
pub const ALL: &[&Definition] = &[&must::MUST_V1, &waterlow::WATERLOW_2005_V1];

/// The definition `id` at `version`; unknown ids and versions are a validation error.
pub fn definition(id: &str, version: u32) -> Result<&'static Definition, ValidationError> {
    if let Some(d) = ALL.iter().find(|d| d.id == id && d.version == version) {
        return Ok(d);
    }
    let known: Vec<String> = ALL
        .iter()
        .filter(|d| d.id == id)
        .map(|d| d.version.to_string())
        .collect();
    Err(ValidationError::UnknownAssessment {
        definition: id.to_string(),
        version,
        known: if known.is_empty() {
            format!(
                "the assessments this app knows are {}",
                ALL.iter().map(|d| d.id).collect::<Vec<_>>().join(", ")
            )
        } else {
            format!("this app knows version {} of it", known.join(", "))
        },
    })
}

/// The newest version of the definition `id`.
pub fn latest(id: &str) -> Option<&'static Definition> {
    ALL.iter()
        .filter(|d| d.id == id)
        .max_by_key(|d| d.version)
        .copied()
}

impl Definition {
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items
            .iter()
            .chain(self.judgement.as_ref())
            .find(|i| i.id == id)
    }

    pub fn band(&self, id: &str) -> Option<&Band> {
        self.bands.iter().find(|b| b.id == id)
    }

    /// The band a complete total falls in.
    pub fn band_of(&self, total: u32) -> Option<&Band> {
        self.bands.iter().rev().find(|b| total >= b.min_total)
    }
}

impl Item {
    pub fn option(&self, id: &str) -> Option<&Choice> {
        self.options.iter().find(|o| o.id == id)
    }
}

// ------------------------------------------------------------------ answers (what the app sends)

/// The answer to one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentAnswer {
    /// The item's id in the definition (docs/assessments.md).
    pub item: String,
    pub value: AnswerValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnswerValue {
    /// One option of a single-choice item (or the "none" option of a points item).
    Choice { option: String },
    /// The ticked options of a many-choice item (at least one; "none" where the item has it).
    Choices { options: Vec<String> },
    /// Points entered within the item's range (Waterlow neurological deficit: 4–6).
    Points { points: u32 },
    /// Measurements from which the option is worked out (height and weight; two weights).
    Measured { values: Vec<Measurement> },
}

/// One measurement, by the input id of the item (`height_cm`, `weight_kg`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Measurement {
    pub input: String,
    pub value: f64,
}

impl AssessmentAnswer {
    pub fn choice(item: &str, option: &str) -> Self {
        AssessmentAnswer {
            item: item.into(),
            value: AnswerValue::Choice {
                option: option.into(),
            },
        }
    }

    pub fn choices(item: &str, options: &[&str]) -> Self {
        AssessmentAnswer {
            item: item.into(),
            value: AnswerValue::Choices {
                options: options.iter().map(|o| o.to_string()).collect(),
            },
        }
    }

    pub fn points(item: &str, points: u32) -> Self {
        AssessmentAnswer {
            item: item.into(),
            value: AnswerValue::Points { points },
        }
    }

    pub fn measured(item: &str, values: &[(&str, f64)]) -> Self {
        AssessmentAnswer {
            item: item.into(),
            value: AnswerValue::Measured {
                values: values
                    .iter()
                    .map(|(input, value)| Measurement {
                        input: input.to_string(),
                        value: *value,
                    })
                    .collect(),
            },
        }
    }
}

// ------------------------------------------------------------------ the score

/// How one answered item scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ItemScore {
    pub item: String,
    /// The option(s) the answer stands for: chosen, ticked, or picked by the measurements.
    pub options: Vec<String>,
    /// The value worked out from measurements (BMI, % weight loss), to one decimal.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub derived: Option<f64>,
    /// `None` for a subjective answer.
    pub points: Option<u32>,
}

/// An assessment scored against its definition: complete (a total and a band) or partial
/// (what is answered so far and which items are missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentScore {
    pub definition_id: String,
    pub definition_version: u32,
    /// One per answered item, in the order of the form.
    pub items: Vec<ItemScore>,
    /// The ids of the items still to answer, in the order of the form. Never scored 0.
    pub missing: Vec<String>,
    /// The points of the items answered so far.
    pub points_so_far: u32,
    /// `None` while any item is missing, or on the subjective route.
    pub total: Option<u32>,
    /// The band id (`"high"`, `"very_high_risk"`, …): from the total, or on the subjective
    /// route from the clinician's overall judgement. `None` while incomplete.
    pub band: Option<String>,
    pub band_label: Option<String>,
    /// What to do, for the band.
    pub action: Option<String>,
    /// True when an answer was subjective (no total; the band is the clinician's judgement).
    pub subjective: bool,
}

impl AssessmentScore {
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.band.is_some()
    }

    /// Equal as stored: derived values compared to one decimal (a JSON round trip may move an
    /// `f64` by its last bit).
    pub fn same_as(&self, other: &AssessmentScore) -> bool {
        let tenths = |d: Option<f64>| d.map(|v| (v * 10.0).round() as i64);
        self.definition_id == other.definition_id
            && self.definition_version == other.definition_version
            && self.missing == other.missing
            && self.points_so_far == other.points_so_far
            && self.total == other.total
            && self.band == other.band
            && self.band_label == other.band_label
            && self.action == other.action
            && self.subjective == other.subjective
            && self.items.len() == other.items.len()
            && self.items.iter().zip(&other.items).all(|(a, b)| {
                a.item == b.item
                    && a.options == b.options
                    && a.points == b.points
                    && tenths(a.derived) == tenths(b.derived)
            })
    }

    /// In words, e.g. "MUST 2 (high risk)" or "Waterlow (partial: 3 items missing)".
    pub fn words(&self, title: &str) -> String {
        match (&self.total, &self.band_label) {
            (Some(t), Some(b)) => format!("{title} {t} ({b})"),
            (None, Some(b)) => format!("{title} {b} (clinical judgement, not scored)"),
            _ => format!(
                "{title} (partial: {} of the items missing)",
                self.missing.len()
            ),
        }
    }
}

fn bad(item: &str, reason: impl Into<String>) -> ValidationError {
    ValidationError::InvalidAnswer {
        field: item.to_string(),
        reason: reason.into(),
    }
}

/// Check every answer against the definition: known items, each answered once, known options,
/// points in range, measurements complete and possible. A partial set is valid (a draft).
pub fn validate_answers(
    def: &Definition,
    answers: &[AssessmentAnswer],
) -> Result<(), ValidationError> {
    for (i, a) in answers.iter().enumerate() {
        let item = def.item(&a.item).ok_or_else(|| {
            bad(
                &a.item,
                format!(
                    "{} has no item of this name; its items are {}",
                    def.title,
                    def.items
                        .iter()
                        .chain(def.judgement.as_ref())
                        .map(|i| i.id)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if answers[..i].iter().any(|b| b.item == a.item) {
            return Err(bad(&a.item, "it is answered twice: keep one answer"));
        }
        validate_answer(item, &a.value)?;
    }
    if let Some(j) = &def.judgement {
        let judged = answers.iter().any(|a| a.item == j.id);
        let scored_in_full = def.items.iter().all(|item| {
            answers
                .iter()
                .find(|a| a.item == item.id)
                .is_some_and(|a| !is_subjective(item, &a.value))
        });
        if judged && scored_in_full {
            return Err(bad(
                j.id,
                format!(
                    "the overall judgement is only for when an item cannot be scored (a subjective answer); every item of {} is scored, so clear it",
                    def.title
                ),
            ));
        }
    }
    Ok(())
}

fn options_list(item: &Item) -> String {
    item.options
        .iter()
        .map(|o| o.id)
        .collect::<Vec<_>>()
        .join(", ")
}

fn known_option<'a>(item: &'a Item, id: &str) -> Result<&'a Choice, ValidationError> {
    item.option(id).ok_or_else(|| {
        bad(
            item.id,
            format!("'{id}' is not one of its answers ({})", options_list(item)),
        )
    })
}

fn validate_answer(item: &Item, value: &AnswerValue) -> Result<(), ValidationError> {
    match (value, item.kind) {
        (AnswerValue::Choice { option }, ItemKind::One | ItemKind::Points { .. }) => {
            known_option(item, option).map(|_| ())
        }
        (AnswerValue::Choices { options }, ItemKind::Many) => {
            if options.is_empty() {
                return Err(bad(
                    item.id,
                    "nothing is ticked: tick what applies, or the 'none' answer",
                ));
            }
            let mut seen: Vec<&Choice> = Vec::new();
            for id in options {
                let o = known_option(item, id)?;
                if seen.iter().any(|s| s.id == o.id) {
                    return Err(bad(item.id, format!("'{id}' is ticked twice")));
                }
                if let Some(other) = seen.iter().find(|s| o.group != 0 && s.group == o.group) {
                    return Err(bad(
                        item.id,
                        format!("'{}' and '{id}' cannot both apply: tick one", other.id),
                    ));
                }
                seen.push(o);
            }
            if let Some(alone) = seen.iter().find(|o| o.alone) {
                if seen.len() > 1 {
                    return Err(bad(
                        item.id,
                        format!("'{}' cannot be ticked with other answers", alone.id),
                    ));
                }
            }
            Ok(())
        }
        (AnswerValue::Points { points }, ItemKind::Points { min, max }) => {
            if (min..=max).contains(points) {
                Ok(())
            } else {
                Err(bad(
                    item.id,
                    format!(
                        "{points} points is outside {min}–{max}: enter {min} to {max}, or choose {}",
                        options_list(item)
                    ),
                ))
            }
        }
        (AnswerValue::Measured { values }, _) => {
            let Some(d) = &item.derive else {
                return Err(bad(
                    item.id,
                    "it is not measured: choose one of its answers",
                ));
            };
            measured_tenths(item.id, d, values).map(|_| ())
        }
        (_, ItemKind::One) => Err(bad(item.id, "choose one answer")),
        (_, ItemKind::Many) => Err(bad(item.id, "tick the answers that apply")),
        (_, ItemKind::Points { min, max }) => Err(bad(
            item.id,
            format!(
                "enter points from {min} to {max}, or choose {}",
                options_list(item)
            ),
        )),
    }
}

fn is_subjective(item: &Item, value: &AnswerValue) -> bool {
    match value {
        AnswerValue::Choice { option } => item.option(option).is_some_and(|o| o.points.is_none()),
        AnswerValue::Choices { options } => options
            .iter()
            .any(|id| item.option(id).is_some_and(|o| o.points.is_none())),
        _ => false,
    }
}

/// Every input of `d`, in its order, as tenths; missing, repeated, unknown, impossible or too
/// precise values are errors naming the item and input.
fn measured_tenths(
    item: &str,
    d: &Derive,
    values: &[Measurement],
) -> Result<Vec<i64>, ValidationError> {
    for v in values {
        if !d.inputs.iter().any(|i| i.id == v.input) {
            return Err(bad(
                item,
                format!(
                    "'{}' is not one of its measurements ({})",
                    v.input,
                    d.inputs.iter().map(|i| i.id).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    d.inputs
        .iter()
        .map(|input| {
            let mut given = values.iter().filter(|v| v.input == input.id);
            let field = format!("{item}.{}", input.id);
            let v = given
                .next()
                .ok_or_else(|| bad(&field, format!("the {} is missing", input.label)))?;
            if given.next().is_some() {
                return Err(bad(&field, format!("the {} is given twice", input.label)));
            }
            if !v.value.is_finite() || v.value < input.min || v.value > input.max {
                return Err(ValidationError::OutOfRange {
                    what: input.label,
                    value: v.value.to_string(),
                    unit: input.unit,
                    min: input.min.to_string(),
                    max: input.max.to_string(),
                });
            }
            let tenths = crate::clinical::news2::round_to_tenths(v.value)
                .ok_or_else(|| bad(&field, "it is not a number"))?;
            if (tenths as f64 / 10.0 - v.value).abs() > 1e-9 {
                return Err(bad(
                    &field,
                    format!(
                        "{} {} has more than one decimal: give it to 0.1 {}",
                        input.label, v.value, input.unit
                    ),
                ));
            }
            Ok(tenths)
        })
        .collect()
}

/// `num / den` rounded to the nearest integer, half away from zero (`den > 0`).
fn div_round(num: i128, den: i128) -> i128 {
    if num >= 0 {
        (2 * num + den) / (2 * den)
    } else {
        -((-2 * num + den) / (2 * den))
    }
}

/// The derived value in tenths, from the inputs in tenths.
fn derive_tenths(formula: Formula, t: &[i64]) -> Option<i64> {
    match (formula, t) {
        // BMI = (w/10) kg / (h/1000 m)² = w·10⁵/h²; in tenths w·10⁶/h².
        (Formula::Bmi, [h, w]) if *h > 0 => {
            let (h, w) = (i128::from(*h), i128::from(*w));
            i64::try_from(div_round(w * 1_000_000, h * h)).ok()
        }
        // loss % = (e − c)/e · 100; in tenths (e − c)·1000/e.
        (Formula::PercentLoss, [e, c]) if *e > 0 => {
            let (e, c) = (i128::from(*e), i128::from(*c));
            i64::try_from(div_round((e - c) * 1000, e)).ok()
        }
        _ => None,
    }
}

/// Which option a derived value (in tenths) picks.
fn band_option(d: &Derive, tenths: i64) -> Option<&'static str> {
    d.bands
        .iter()
        .rev()
        .find(|(min, _)| tenths >= *min)
        .map(|(_, id)| *id)
}

fn item_score(item: &Item, value: &AnswerValue) -> Option<ItemScore> {
    let (options, derived, points) = match value {
        AnswerValue::Choice { option } => {
            let o = item.option(option)?;
            (vec![o.id.to_string()], None, o.points)
        }
        AnswerValue::Choices { options } => {
            let chosen: Vec<&Choice> = options.iter().filter_map(|id| item.option(id)).collect();
            if chosen.is_empty() {
                return None;
            }
            let points = chosen
                .iter()
                .map(|o| o.points)
                .sum::<Option<u32>>()
                .map(|p| item.cap.map_or(p, |cap| p.min(cap)));
            (
                chosen.iter().map(|o| o.id.to_string()).collect(),
                None,
                points,
            )
        }
        AnswerValue::Points { points } => (vec![], None, Some(*points)),
        AnswerValue::Measured { values } => {
            let d = item.derive.as_ref()?;
            let tenths = measured_tenths(item.id, d, values).ok()?;
            let value = derive_tenths(d.formula, &tenths)?;
            let o = item.option(band_option(d, value)?)?;
            (vec![o.id.to_string()], Some(value as f64 / 10.0), o.points)
        }
    };
    Some(ItemScore {
        item: item.id.to_string(),
        options,
        derived,
        points,
    })
}

/// Score `answers` against `def`. Answers are expected to have passed [`validate_answers`]; one
/// that does not fit the definition is treated as not given (its item is missing), never as 0.
pub fn score(def: &Definition, answers: &[AssessmentAnswer]) -> AssessmentScore {
    let mut items = Vec::new();
    let mut missing = Vec::new();
    for item in def.items {
        match answers
            .iter()
            .find(|a| a.item == item.id)
            .and_then(|a| item_score(item, &a.value))
        {
            Some(s) => items.push(s),
            None => missing.push(item.id.to_string()),
        }
    }
    let subjective = items.iter().any(|s| s.points.is_none());
    let points_so_far = items.iter().filter_map(|s| s.points).sum();
    let mut total = None;
    let mut band = None;
    if subjective {
        if let Some(j) = &def.judgement {
            let judged = answers
                .iter()
                .find(|a| a.item == j.id)
                .and_then(|a| item_score(j, &a.value))
                .and_then(|s| s.options.first().and_then(|o| def.band(o)));
            match judged {
                Some(b) if missing.is_empty() => band = Some(b),
                Some(_) => {}
                None => missing.push(j.id.to_string()),
            }
        }
    } else if missing.is_empty() {
        total = Some(points_so_far);
        band = def.band_of(points_so_far);
    }
    AssessmentScore {
        definition_id: def.id.to_string(),
        definition_version: def.version,
        items,
        missing,
        points_so_far,
        total,
        band: band.map(|b| b.id.to_string()),
        band_label: band.map(|b| b.label.to_string()),
        action: band.map(|b| b.action.to_string()),
        subjective,
    }
}

/// Validate and score in one step.
pub fn validate_and_score(
    definition_id: &str,
    version: u32,
    answers: &[AssessmentAnswer],
) -> Result<AssessmentScore, ValidationError> {
    let def = definition(definition_id, version)?;
    validate_answers(def, answers)?;
    Ok(score(def, answers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_are_exact_and_rounded_half_away_from_zero() {
        // 70 kg, 175 cm: 22.857… → 22.9
        assert_eq!(derive_tenths(Formula::Bmi, &[1750, 700]), Some(229));
        // 45.0 kg, 150.0 cm: exactly 20.0
        assert_eq!(derive_tenths(Formula::Bmi, &[1500, 450]), Some(200));
        // 60 → 57: exactly 5.0 %
        assert_eq!(derive_tenths(Formula::PercentLoss, &[600, 570]), Some(50));
        // a gain is a negative loss
        assert_eq!(derive_tenths(Formula::PercentLoss, &[600, 630]), Some(-50));
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(4, 10), 0);
        assert_eq!(derive_tenths(Formula::Bmi, &[0, 700]), None);
    }

    #[test]
    fn unknown_definitions_and_versions_are_named() {
        let e = definition("must", 9).unwrap_err();
        assert!(
            e.to_string().contains("must") && e.to_string().contains("version 1"),
            "{e}"
        );
        let e = definition("braden", 1).unwrap_err();
        assert!(e.to_string().contains("waterlow"), "{e}");
        assert_eq!(latest("waterlow").map(|d| d.version), Some(1));
    }

    #[test]
    fn every_definition_is_well_formed() {
        for d in ALL {
            let mut ids: Vec<&str> = d.items.iter().map(|i| i.id).collect();
            ids.extend(d.judgement.as_ref().map(|j| j.id));
            let n = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), n, "{}: item ids unique", d.id);
            for item in d.items.iter().chain(d.judgement.as_ref()) {
                assert!(!item.options.is_empty() || matches!(item.kind, ItemKind::Points { .. }));
                if let Some(der) = &item.derive {
                    for (_, o) in der.bands {
                        assert!(item.option(o).is_some(), "{}.{}: {o}", d.id, item.id);
                    }
                    assert!(der.bands.windows(2).all(|w| w[0].0 < w[1].0));
                }
            }
            if let Some(j) = &d.judgement {
                for o in j.options {
                    assert!(d.band(o.id).is_some(), "{}: judgement {}", d.id, o.id);
                }
            }
            assert!(d.bands.windows(2).all(|w| w[0].min_total < w[1].min_total));
            assert_eq!(d.bands.first().map(|b| b.min_total), Some(0));
        }
    }
}
