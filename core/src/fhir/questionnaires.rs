//! The assessment definitions (`clinical::assessments`) published as FHIR: a Questionnaire per
//! definition and version at the canonical URL its QuestionnaireResponses name
//! (`<base>/Questionnaire/<id>`, version `<version>`), and a CodeSystem of its answer options
//! (codes `<item>.<option>`, each with its points as an `ordinalValue`). Built from the same
//! static data the scoring engine reads, so a form and its publication cannot drift apart.
//!
//! How a definition's items become Questionnaire items (and what a response holds):
//! * one option → `choice`; every option that applies → `choice`, `repeats`;
//! * points entered within a range → `integer` between `minValue` and `maxValue` (an option
//!   such as "none" is its points, 0);
//! * an item that can be measured (BMI from height and weight, % weight loss from two
//!   weights) → `choice` (the option the measurements pick) with one `quantity` child item per
//!   measurement (`<item>.<input>`), answered under the chosen option;
//! * the clinician's overall judgement (asked only when an answer cannot be scored) → `choice`
//!   of the bands, last.
//!
//! No item is `required`: a response may be a partial assessment (a draft is never exported,
//! but an assessment on the subjective route leaves scored items unanswered).

use serde_json::Value;

use super::assessments::answer_system;
use super::bundle::number;
use super::codes;
use super::obj::obj;
use crate::clinical::assessments::{self, Definition, Item, ItemKind};

/// FHIR R4's extension for an answer's score (R5 calls it itemWeight).
const ORDINAL_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/ordinalValue";
const MIN_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/minValue";
const MAX_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/maxValue";
const UNIT_OPTION: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption";

/// The canonical URL of a definition's Questionnaire (without its version).
pub fn questionnaire_url(definition_id: &str) -> String {
    format!("{}/Questionnaire/{definition_id}", codes::DOORSTEP_BASE)
}

/// The link id of a measurement's child item.
pub fn input_link_id(item: &str, input: &str) -> String {
    format!("{item}.{input}")
}

/// Every published resource: for each definition and version, its Questionnaire and the
/// CodeSystem of its answer options, as JSON.
pub fn published() -> Vec<Value> {
    assessments::ALL
        .iter()
        .flat_map(|d| [questionnaire(d), code_system(d)])
        .collect()
}

fn resource_id(d: &Definition) -> String {
    format!("{}-{}", d.id, d.version)
}

fn all_items(d: &Definition) -> impl Iterator<Item = &Item> {
    d.items.iter().chain(d.judgement.as_ref())
}

/// The Questionnaire of one definition at its version.
pub fn questionnaire(d: &Definition) -> Value {
    let system = answer_system(d.id, d.version);
    let items: Vec<Value> = all_items(d).map(|i| item(i, &system)).collect();
    obj!({
        "resourceType": "Questionnaire",
        "id": resource_id(d),
        "url": questionnaire_url(d.id),
        "version": d.version.to_string(),
        "name": name(d.id),
        "title": d.title,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "Doorstep",
        "description": format!("{} — as scored by Doorstep. Source: {}", d.title, d.source),
        "item": items,
    })
}

/// A computer-friendly name: the id in upper camel case (`must` → `Must`).
fn name(id: &str) -> String {
    id.split(['_', '-'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn option_coding(
    system: &str,
    item: &str,
    option: &str,
    label: &str,
    points: Option<u32>,
) -> Value {
    let mut coding = obj!({"system": system, "code": format!("{item}.{option}"), "display": label});
    if let Some(p) = points {
        coding["extension"] = obj!([{"url": ORDINAL_VALUE, "valueDecimal": p}]);
    }
    coding
}

fn item(i: &Item, system: &str) -> Value {
    let mut q = obj!({"linkId": i.id, "text": i.label});
    match i.kind {
        ItemKind::Points { min, max } => {
            let low = i
                .options
                .iter()
                .filter_map(|o| o.points)
                .fold(min, u32::min);
            q["type"] = obj!("integer");
            q["extension"] = obj!([
                {"url": MIN_VALUE, "valueInteger": low},
                {"url": MAX_VALUE, "valueInteger": max},
            ]);
        }
        ItemKind::One | ItemKind::Many => {
            q["type"] = obj!("choice");
            if i.kind == ItemKind::Many {
                q["repeats"] = obj!(true);
            }
            let options: Vec<Value> = i
                .options
                .iter()
                .map(
                    |o| obj!({"valueCoding": option_coding(system, i.id, o.id, o.label, o.points)}),
                )
                .collect();
            q["answerOption"] = obj!(options);
        }
    }
    if let Some(derive) = &i.derive {
        let children: Vec<Value> = derive
            .inputs
            .iter()
            .map(|input| {
                let mut c = obj!({
                    "linkId": input_link_id(i.id, input.id),
                    "text": format!("{} ({})", input.label, input.unit),
                    "type": "quantity",
                });
                if let Some(code) = super::assessments::ucum(input.unit) {
                    c["extension"] = obj!([{"url": UNIT_OPTION, "valueCoding": {
                        "system": codes::UCUM, "code": code, "display": input.unit,
                    }}]);
                }
                c
            })
            .collect();
        q["item"] = obj!(children);
    }
    q
}

/// The CodeSystem of a definition's answer options.
pub fn code_system(d: &Definition) -> Value {
    let concepts: Vec<Value> = all_items(d)
        .flat_map(|i| {
            i.options.iter().map(move |o| {
                let mut c = obj!({"code": format!("{}.{}", i.id, o.id), "display": o.label});
                if let Some(p) = o.points.and_then(|p| number(f64::from(p))) {
                    c["property"] = obj!([{"code": "points", "valueDecimal": p}]);
                }
                c
            })
        })
        .collect();
    obj!({
        "resourceType": "CodeSystem",
        "id": format!("{}-answers", resource_id(d)),
        "url": answer_system(d.id, d.version),
        "version": d.version.to_string(),
        "name": format!("{}Answers", name(d.id)),
        "title": format!("{} answer options", d.title),
        "status": "active",
        "publisher": "Doorstep",
        "caseSensitive": true,
        "content": "complete",
        "property": [{"code": "points", "description": "The points the option adds to the total", "type": "decimal"}],
        "concept": concepts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_is_published_with_every_option() {
        let all = published();
        assert_eq!(all.len(), 2 * assessments::ALL.len());
        for d in assessments::ALL {
            let q = questionnaire(d);
            assert_eq!(q["url"], questionnaire_url(d.id));
            assert_eq!(
                format!(
                    "{}|{}",
                    q["url"].as_str().unwrap(),
                    q["version"].as_str().unwrap()
                ),
                super::super::assessments::questionnaire(d.id, d.version),
                "the canonical a response names"
            );
            let links: Vec<&str> = q["item"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["linkId"].as_str().unwrap())
                .collect();
            let ids: Vec<&str> = all_items(d).map(|i| i.id).collect();
            assert_eq!(links, ids, "{}: every item, in the form's order", d.id);
            let cs = code_system(d);
            let n: usize = all_items(d).map(|i| i.options.len()).sum();
            assert_eq!(cs["concept"].as_array().unwrap().len(), n);
        }
    }
}
