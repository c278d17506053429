//! Scored assessments (MUST, Waterlow): a UKCore-QuestionnaireResponse of the answers, naming
//! the definition as a Questionnaire canonical (`<base>/Questionnaire/<id>|<version>`), and a
//! UKCore-Observation of the score (total, band, each item's points as a component) derived
//! from it.

use serde_json::Value;

use super::obj::obj;

use super::bundle::{annotation, coding_concept, instant, meta, quantity, reference, Builder};
use super::encounters::encounter_of;
use super::{codes, text};
use crate::clinical::assessments::{self, AnswerValue, Definition, ItemKind};
use crate::record::{Assessment, ClinicalRecord};

/// The canonical URL of an assessment definition published as a Questionnaire.
pub fn questionnaire(definition_id: &str, version: u32) -> String {
    format!(
        "{}/Questionnaire/{definition_id}|{version}",
        codes::DOORSTEP_BASE
    )
}

/// The code system of a definition's answer options (codes `<item>.<option>`).
pub fn answer_system(definition_id: &str, version: u32) -> String {
    format!(
        "{}/CodeSystem/{definition_id}-{version}-answers",
        codes::DOORSTEP_BASE
    )
}

pub(crate) fn assessments(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut all: Vec<&Assessment> = c.assessments.iter().collect();
    all.sort_by(|x, y| (x.assessed_at, &x.id).cmp(&(y.assessed_at, &y.id)));
    for a in all {
        assessment(b, c, a);
    }
}

fn item_label(def: Option<&Definition>, item: &str) -> String {
    def.and_then(|d| d.item(item))
        .map(|i| i.label.to_string())
        .unwrap_or_else(|| item.to_string())
}

fn option_label(def: Option<&Definition>, item: &str, option: &str) -> String {
    def.and_then(|d| d.item(item))
        .and_then(|i| i.option(option))
        .map(|o| o.label.to_string())
        .unwrap_or_else(|| option.to_string())
}

/// A measurement's UCUM code, when its unit has a UCUM form.
pub(crate) fn ucum(unit: &str) -> Option<&'static str> {
    match unit {
        "cm" => Some("cm"),
        "kg" => Some("kg"),
        "kg/m²" | "kg/m2" => Some("kg/m2"),
        "%" => Some("%"),
        _ => None,
    }
}

fn assessment(b: &mut Builder<'_>, c: &ClinicalRecord, a: &Assessment) {
    let def = assessments::definition(&a.definition_id, a.definition_version).ok();
    let eie = b.entered_in_error(&a.id).is_some();
    let system = answer_system(&a.definition_id, a.definition_version);
    let title = def.map(|d| d.title).unwrap_or(a.definition_id.as_str());
    // Answers in the order of the form (the judgement item last).
    let order = |item: &str| {
        def.and_then(|d| d.items.iter().position(|i| i.id == item))
            .unwrap_or(usize::MAX)
    };
    let mut answers: Vec<_> = a.answers.iter().collect();
    answers.sort_by(|x, y| (order(&x.item), &x.item).cmp(&(order(&y.item), &y.item)));
    let items: Vec<Value> = answers
        .iter()
        .map(|ans| {
            let coded = |option: &str| {
                obj!({"valueCoding": {
                    "system": system.as_str(),
                    "code": format!("{}.{option}", ans.item),
                    "display": option_label(def, &ans.item, option),
                }})
            };
            let item_def = def.and_then(|d| d.item(&ans.item));
            let is_points = item_def.is_some_and(|i| matches!(i.kind, ItemKind::Points { .. }));
            let values: Vec<Value> = match &ans.value {
                // A points item is an integer in the Questionnaire: an option such as "none"
                // is its points.
                AnswerValue::Choice { option } if is_points => {
                    match item_def
                        .and_then(|i| i.option(option))
                        .and_then(|o| o.points)
                    {
                        Some(p) => vec![obj!({"valueInteger": p})],
                        None => vec![coded(option)],
                    }
                }
                AnswerValue::Choice { option } => vec![coded(option)],
                AnswerValue::Choices { options } => options.iter().map(|o| coded(o)).collect(),
                AnswerValue::Points { points } => vec![obj!({"valueInteger": *points})],
                AnswerValue::Measured { values } => {
                    // The option the measurements picked, with each measurement under it.
                    let children: Vec<Value> = values
                        .iter()
                        .filter_map(|m| {
                            let unit = item_def
                                .and_then(|i| i.derive.as_ref())
                                .and_then(|d| d.inputs.iter().find(|i| i.id == m.input))
                                .map(|i| i.unit)
                                .unwrap_or("");
                            let q = match ucum(unit) {
                                Some(code) => quantity(m.value, unit, code),
                                None => super::bundle::number(m.value)
                                    .map(|v| obj!({"value": v, "unit": text::string(unit)})),
                            }?;
                            Some(obj!({
                                "linkId": super::questionnaires::input_link_id(&ans.item, &m.input),
                                "answer": [{"valueQuantity": q}],
                            }))
                        })
                        .collect();
                    let picked = a
                        .score
                        .items
                        .iter()
                        .find(|i| i.item == ans.item)
                        .and_then(|i| i.options.first());
                    match picked {
                        Some(option) => {
                            let mut answer = coded(option);
                            answer["item"] = obj!(children);
                            vec![answer]
                        }
                        None => Vec::new(),
                    }
                }
            };
            obj!({
                "linkId": ans.item.as_str(),
                "text": item_label(def, &ans.item),
                "answer": values,
            })
        })
        .collect();
    let author = b.practitioner(&a.author);
    let encounter = encounter_of(b, c, a.visit_id.as_deref());
    let qr_id = b.id("QuestionnaireResponse", &[&a.id]);
    let qr = obj!({
        "resourceType": "QuestionnaireResponse",
        "id": qr_id.as_str(),
        "meta": meta("UKCore-QuestionnaireResponse"),
        "identifier": super::ids::is_uuid(&a.id).then(|| obj!({"system": codes::URI, "value": format!("urn:uuid:{}", a.id)})),
        "questionnaire": questionnaire(&a.definition_id, a.definition_version),
        "status": if eie { "entered-in-error" } else { "completed" },
        "subject": b.patient.clone(),
        "encounter": encounter.clone(),
        "authored": instant(a.assessed_at),
        "author": author.clone(),
        "item": items,
    });
    let s = &a.score;
    let score = |points: u32| quantity(f64::from(points), "score", "{score}");
    let components: Vec<Value> = s
        .items
        .iter()
        .flat_map(|i| {
            let label = item_label(def, &i.item);
            let mut out = Vec::new();
            if let Some(d) = i.derived {
                let unit = def
                    .and_then(|x| x.item(&i.item))
                    .and_then(|x| x.derive.as_ref())
                    .map(|x| (x.label, x.unit));
                if let Some((what, unit)) = unit {
                    let q = match ucum(unit) {
                        Some(code) => quantity(d, unit, code),
                        None => super::bundle::number(d).map(|v| obj!({"value": v, "unit": unit})),
                    };
                    out.push(obj!({"code": {"text": format!("{label}: {what}")}, "valueQuantity": q}));
                }
            }
            let chosen: Vec<String> = i.options.iter().map(|o| option_label(def, &i.item, o)).collect();
            let what = if chosen.is_empty() {
                label.clone()
            } else {
                format!("{label}: {}", chosen.join(", "))
            };
            match i.points {
                Some(p) => out.push(obj!({"code": {"text": what}, "valueQuantity": score(p)})),
                None => out.push(obj!({"code": {"text": label}, "valueCodeableConcept": {"text": text::string_or(&chosen.join(", "), "answered")}})),
            }
            out
        })
        .collect();
    let band = s.band_label.as_deref().and_then(text::string);
    let mut obs = obj!({
        "resourceType": "Observation",
        "id": b.id("Observation", &[&a.id, "score"]),
        "meta": meta("UKCore-Observation"),
        "status": if eie { "entered-in-error" } else { "final" },
        "category": [coding_concept(codes::OBSERVATION_CATEGORY, "survey", "Survey")],
        "code": {"text": format!("{title} score")},
        "subject": b.patient.clone(),
        "encounter": encounter,
        "effectiveDateTime": instant(a.assessed_at),
        "performer": [author],
        "interpretation": band.clone().map(|t| obj!([{"text": t}])),
        "note": s.action.as_deref().and_then(|t| annotation(t, None, None)).map(|n| obj!([n])),
        "derivedFrom": [reference(&qr_id)],
        "component": components,
    });
    match s.total {
        Some(t) => obs["valueQuantity"] = obj!(score(t)),
        // The subjective route: no total, the band is the clinician's judgement.
        None => {
            obs["valueCodeableConcept"] = obj!({"text": band.unwrap_or_else(|| "no total".into())})
        }
    }
    b.add_entry(&a.id, &a.author, vec![qr, obs]);
}
