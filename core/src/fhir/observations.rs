//! Observation sets as UK Core vital-sign Observations (one per vital, with their LOINC and
//! SNOMED CT codes and fixed units), the NEWS2 total (UKCore-Observation-EarlyWarningTotalScore:
//! sub-scores as components, `derivedFrom` the vitals), and wound assessments.
//!
//! The vital-sign and early-warning profiles fix `status` to `final`; an entry marked entered in
//! error keeps its Observations with status `entered-in-error` under the general
//! UKCore-Observation profile (which allows every status) instead, never dropped.

use serde_json::Value;

use super::obj::obj;

use super::bundle::{
    annotation, coding, coding_concept, instant, meta, quantity, reference, snomed, Builder,
};
use super::codes::{self, Vital};
use super::encounters::encounter_of;
use super::text;
use crate::clinical::news2::{Parameter, SpO2Scale};
use crate::clinical::observations::Consciousness;
use crate::clinical::wound::{ExudateLevel, Odour};
use crate::record::{ClinicalRecord, ObservationSet, WoundAssessment};

/// What every Observation of one entry shares.
struct Common {
    entered_in_error: bool,
    effective: String,
    performer: Value,
    encounter: Option<Value>,
}

impl Common {
    fn status(&self) -> &'static str {
        if self.entered_in_error {
            "entered-in-error"
        } else {
            "final"
        }
    }

    /// The specific profile, or the general one for an entry entered in error.
    fn meta(&self, profile: &str) -> Value {
        meta(if self.entered_in_error {
            "UKCore-Observation"
        } else {
            profile
        })
    }
}

fn category(code: &str, display: &str) -> Value {
    obj!([coding_concept(codes::OBSERVATION_CATEGORY, code, display)])
}

fn base(b: &Builder<'_>, common: &Common, id: &str, profile: &str) -> Value {
    obj!({
        "resourceType": "Observation",
        "id": id,
        "meta": common.meta(profile),
        "status": common.status(),
        "subject": b.patient.clone(),
        "encounter": common.encounter.clone(),
        "effectiveDateTime": common.effective.as_str(),
        "performer": [common.performer.clone()],
    })
}

fn vital_code(v: &Vital) -> Value {
    obj!({
        "coding": [coding(codes::LOINC, v.loinc.0, v.loinc.1), snomed(v.snomed)],
        "text": v.snomed.1,
    })
}

fn vital(b: &Builder<'_>, common: &Common, id: String, v: &Vital, value: f64) -> Option<Value> {
    let mut o = base(b, common, &id, v.profile);
    o["category"] = category("vital-signs", "Vital Signs");
    o["code"] = vital_code(v);
    o["valueQuantity"] = quantity(value, v.unit.0, v.unit.1)?;
    Some(o)
}

pub(crate) fn observation_sets(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut sets: Vec<&ObservationSet> = c.observations.iter().collect();
    sets.sort_by(|x, y| (x.taken_at, &x.id).cmp(&(y.taken_at, &y.id)));
    for s in sets {
        observation_set(b, c, s);
    }
}

fn observation_set(b: &mut Builder<'_>, c: &ClinicalRecord, s: &ObservationSet) {
    let common = Common {
        entered_in_error: b.entered_in_error(&s.id).is_some(),
        effective: instant(s.taken_at),
        performer: b.practitioner(&s.author),
        encounter: encounter_of(b, c, s.visit_id.as_deref()),
    };
    let o = &s.observations;
    let id = |part: &str| b.id("Observation", &[&s.id, part]);
    let mut vitals: Vec<(Parameter, Value)> = Vec::new();
    let mut push = |p: Parameter, v: Option<Value>| {
        if let Some(v) = v {
            vitals.push((p, v));
        }
    };
    push(
        Parameter::RespirationRate,
        o.respiration_rate.and_then(|x| {
            vital(
                b,
                &common,
                id("respiration-rate"),
                &codes::RESPIRATION_RATE,
                f64::from(x),
            )
        }),
    );
    push(
        Parameter::OxygenSaturation,
        o.spo2_percent.and_then(|x| {
            vital(
                b,
                &common,
                id("spo2"),
                &codes::OXYGEN_SATURATION,
                f64::from(x),
            )
        }),
    );
    push(
        Parameter::AirOrOxygen,
        o.on_oxygen.map(|on| {
            let mut r = base(b, &common, &id("air-or-oxygen"), "UKCore-Observation");
            let code = if on {
                codes::ON_OXYGEN
            } else {
                codes::ROOM_AIR
            };
            r["code"] = obj!({"coding": [snomed(code)], "text": code.1});
            r
        }),
    );
    push(
        Parameter::SystolicBp,
        blood_pressure(b, &common, id("blood-pressure"), s),
    );
    push(
        Parameter::Pulse,
        o.pulse
            .and_then(|x| vital(b, &common, id("pulse"), &codes::HEART_RATE, f64::from(x))),
    );
    push(
        Parameter::Consciousness,
        o.consciousness.map(|x| {
            let mut r = base(b, &common, &id("acvpu"), codes::ACVPU_PROFILE);
            r["category"] = category("survey", "Survey");
            r["code"] = obj!({"coding": [snomed(codes::ACVPU)], "text": "ACVPU"});
            let value = match x {
                Consciousness::Alert => codes::ACVPU_ALERT,
                Consciousness::NewConfusion => codes::ACVPU_CONFUSION,
                Consciousness::Voice => codes::ACVPU_VOICE,
                Consciousness::Pain => codes::ACVPU_PAIN,
                Consciousness::Unresponsive => codes::ACVPU_UNRESPONSIVE,
            };
            r["valueCodeableConcept"] = obj!({"coding": [snomed(value)]});
            r
        }),
    );
    push(
        Parameter::Temperature,
        o.temperature_c
            .and_then(|x| vital(b, &common, id("temperature"), &codes::BODY_TEMPERATURE, x)),
    );
    let news2 = news2(b, &common, id("news2"), s, &vitals);
    let mut resources: Vec<Value> = vitals.into_iter().map(|(_, v)| v).collect();
    resources.extend(news2);
    b.add_entry(&s.id, &s.author, resources);
}

/// Systolic (and diastolic) as UKCore-Observation-VitalSigns-BloodPressure; a diastolic
/// reading alone (the profile needs the systolic) as a vital sign of its own.
fn blood_pressure(
    b: &Builder<'_>,
    common: &Common,
    id: String,
    s: &ObservationSet,
) -> Option<Value> {
    let o = &s.observations;
    let mm = |v: u32| quantity(f64::from(v), codes::MM_HG.0, codes::MM_HG.1);
    let component = |loinc: (&str, &str), sct: (&str, &str), v: u32| {
        obj!({
            "code": {"coding": [coding(codes::LOINC, loinc.0, loinc.1), snomed(sct)], "text": loinc.1},
            "valueQuantity": mm(v),
        })
    };
    match (o.systolic_bp, o.diastolic_bp) {
        (None, None) => None,
        (None, Some(dia)) => {
            let mut r = base(b, common, &id, "UKCore-Observation-VitalSigns");
            r["category"] = category("vital-signs", "Vital Signs");
            r["code"] = obj!({
                "coding": [coding(codes::LOINC, codes::DIASTOLIC_LOINC.0, codes::DIASTOLIC_LOINC.1), snomed(codes::DIASTOLIC_SNOMED)],
                "text": codes::DIASTOLIC_LOINC.1,
            });
            r["valueQuantity"] = mm(dia)?;
            Some(r)
        }
        (Some(sys), dia) => {
            // UKCore-Observation-VitalSigns-BloodPressure cannot be evaluated by HAPI FHIR 8.8.0:
            // its component slices' coding slices have no discriminator in the generated
            // snapshot ("Slicing cannot be evaluated"), which fails NHS England's own example
            // once it names the profile. The parent vital-signs profile is claimed instead; the
            // codes, texts and units are the BP profile's (docs/interop.md).
            let mut r = base(b, common, &id, codes::BLOOD_PRESSURE_CLAIMED);
            r["category"] = category("vital-signs", "Vital Signs");
            r["code"] = obj!({
                "coding": [coding(codes::LOINC, codes::BLOOD_PRESSURE_LOINC.0, codes::BLOOD_PRESSURE_LOINC.1), snomed(codes::BLOOD_PRESSURE_SNOMED)],
                "text": codes::BLOOD_PRESSURE_SNOMED.1,
            });
            let mut comps = vec![component(
                codes::SYSTOLIC_LOINC,
                codes::SYSTOLIC_SNOMED,
                sys,
            )];
            if let Some(d) = dia {
                comps.push(component(
                    codes::DIASTOLIC_LOINC,
                    codes::DIASTOLIC_SNOMED,
                    d,
                ));
            }
            r["component"] = Value::Array(comps);
            Some(r)
        }
    }
}

fn sub_score_code(p: Parameter, scale: SpO2Scale) -> (&'static str, &'static str) {
    match p {
        Parameter::RespirationRate => codes::NEWS2_RESPIRATION,
        Parameter::OxygenSaturation => match scale {
            SpO2Scale::Scale1 => codes::NEWS2_SPO2_SCALE1,
            SpO2Scale::Scale2 => codes::NEWS2_SPO2_SCALE2,
        },
        Parameter::AirOrOxygen => codes::NEWS2_AIR_OR_OXYGEN,
        Parameter::SystolicBp => codes::NEWS2_SYSTOLIC,
        Parameter::Pulse => codes::NEWS2_PULSE,
        Parameter::Consciousness => codes::NEWS2_CONSCIOUSNESS,
        Parameter::Temperature => codes::NEWS2_TEMPERATURE,
    }
}

/// The NEWS2 total, as scored when the set was recorded. A partial set has no total (a missing
/// value is never scored 0), so it has no NEWS2 Observation: its vitals are exported alone.
fn news2(
    b: &Builder<'_>,
    common: &Common,
    id: String,
    s: &ObservationSet,
    vitals: &[(Parameter, Value)],
) -> Option<Value> {
    let n = &s.news2;
    let total = n.total?;
    let score = |v: u8| quantity(f64::from(v), codes::SCORE_OF.0, codes::SCORE_OF.1);
    let components: Vec<Value> = n
        .sub_scores
        .iter()
        .map(|sub| {
            let code = sub_score_code(sub.parameter, n.scale);
            obj!({"code": {"coding": [snomed(code)]}, "valueQuantity": score(sub.score)})
        })
        .collect();
    let derived: Vec<Value> = vitals
        .iter()
        .filter_map(|(_, v)| v["id"].as_str().map(reference))
        .collect();
    let mut r = base(b, common, &id, codes::NEWS2_PROFILE);
    r["category"] = category("survey", "Survey");
    r["code"] = obj!({"coding": [snomed(codes::NEWS2_TOTAL)], "text": "NEWS2 total score"});
    r["valueQuantity"] = score(total)?;
    r["derivedFrom"] = Value::Array(derived);
    r["component"] = Value::Array(components);
    let risk = n
        .risk
        .map(|r| {
            format!(
                "{} clinical risk (SpO2 scale {}). ",
                super::alerts::capitalise(r.label()),
                match n.scale {
                    SpO2Scale::Scale1 => 1,
                    SpO2Scale::Scale2 => 2,
                }
            )
        })
        .unwrap_or_default();
    r["note"] = obj!([annotation(&format!("{risk}{}", n.response), None, None)]);
    Some(r)
}

// ---------------------------------------------------------------- wounds

pub(crate) fn wounds(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut wounds: Vec<&WoundAssessment> = c.wound_assessments.iter().collect();
    wounds.sort_by(|x, y| (x.assessed_at, &x.id).cmp(&(y.assessed_at, &y.id)));
    for w in wounds {
        wound(b, c, w);
    }
}

/// A wound assessment: a UKCore-Observation whose components are the measurements, area, tissue
/// shares, exudate, odour and pain; its focus a UKCore-BodyStructure for the wound (one per
/// wound, named by the wound's first assessment), so a wound's assessments can be followed.
fn wound(b: &mut Builder<'_>, c: &ClinicalRecord, w: &WoundAssessment) {
    let common = Common {
        entered_in_error: b.entered_in_error(&w.id).is_some(),
        effective: instant(w.assessed_at),
        performer: b.practitioner(&w.author),
        encounter: encounter_of(b, c, w.visit_id.as_deref()),
    };
    let site = text::string_or(&w.site, "site not given");
    let structure_id = b.id("BodyStructure", &[&w.wound_id]);
    let mm = |v: f64| quantity(v, "mm", "mm");
    let comp = |label: &str, value: Option<Value>| {
        value.map(|v| obj!({"code": {"text": label}, "valueQuantity": v}))
    };
    let concept = |label: &str, words: &str| obj!({"code": {"text": label}, "valueCodeableConcept": {"text": words}});
    let mut components = vec![
        comp("Wound length", mm(w.size.length_mm)),
        comp("Wound width", mm(w.size.width_mm)),
        comp("Wound depth", mm(w.size.depth_mm)),
        comp(
            "Wound area (length × width)",
            quantity(w.area_mm2, "mm²", "mm2"),
        ),
    ];
    for t in &w.tissue {
        components.push(comp(
            &format!("Wound bed: {}", t.tissue.label()),
            quantity(f64::from(t.percent), "percent", "%"),
        ));
    }
    components.push(Some(concept(
        "Exudate",
        match w.exudate {
            ExudateLevel::None => "none",
            ExudateLevel::Low => "low",
            ExudateLevel::Moderate => "moderate",
            ExudateLevel::High => "high",
        },
    )));
    components.push(Some(concept(
        "Odour",
        match w.odour {
            Odour::None => "none",
            Odour::OnRemoval => "on removal of the dressing",
            Odour::Offensive => "offensive",
        },
    )));
    components.push(comp(
        "Pain (0–10 numeric rating scale)",
        quantity(f64::from(w.pain), "score", "{score}"),
    ));
    let mut o = base(
        b,
        &common,
        &b.id("Observation", &[&w.id, "wound"]),
        "UKCore-Observation",
    );
    o["code"] = obj!({"text": "Wound assessment"});
    o["bodySite"] = obj!({"text": site.as_str()});
    o["focus"] = obj!([reference(&structure_id)]);
    o["component"] = Value::Array(components.into_iter().flatten().collect());
    let mut resources = vec![o];
    // The wound itself, added with the earliest of its assessments this record holds.
    let first = c
        .wound_assessments
        .iter()
        .filter(|x| x.wound_id == w.wound_id)
        .min_by(|x, y| (x.assessed_at, &x.id).cmp(&(y.assessed_at, &y.id)));
    if first.is_some_and(|f| f.id == w.id) {
        resources.push(obj!({
            "resourceType": "BodyStructure",
            "id": structure_id,
            "meta": meta("UKCore-BodyStructure"),
            "morphology": {"text": "wound"},
            "location": {"text": site.as_str()},
            "description": format!("Wound, {site}"),
            "patient": b.patient.clone(),
        }));
    }
    b.add_entry(&w.id, &w.author, resources);
}
