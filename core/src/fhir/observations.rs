//! Observation sets as UK Core vital-sign Observations (one per vital, with their LOINC and
//! SNOMED CT codes and fixed units), the NEWS2 total (UKCore-Observation-EarlyWarningTotalScore:
//! sub-scores as components, `derivedFrom` the vitals), and wound assessments.
//!
//! The vital-sign and early-warning profiles fix `status` to `final`; an entry marked entered in
//! error keeps its Observations with status `entered-in-error` under the general
//! UKCore-Observation profile (which allows every status) instead, never dropped.

use serde_json::Value;

use super::obj::obj;

use super::bundle::{instant, meta, quantity, reference, Builder};
use super::codes::{self, Vital};
use super::encounters::encounter_of;
use super::text;
use super::typed::{Coding, Component, Concept, Meta, Note, Observation, Quantity, Reference};
use crate::clinical::news2::{Parameter, SpO2Scale};
use crate::clinical::observations::Consciousness;
use crate::clinical::wound::{ExudateLevel, Odour};
use crate::record::{ClinicalRecord, ObservationSet, WoundAssessment};

/// What every Observation of one entry shares.
struct Common {
    entered_in_error: bool,
    /// The Patient's reference.
    subject: Value,
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
    fn profile(&self, profile: &'static str) -> &'static str {
        if self.entered_in_error {
            "UKCore-Observation"
        } else {
            profile
        }
    }

    fn meta(&self, profile: &'static str) -> Value {
        meta(self.profile(profile))
    }
}

/// An Observation of an observation set, with what every one of them has; the caller fills in
/// its category, value, components and links.
fn base<'a>(
    common: &'a Common,
    id: String,
    profile: &'static str,
    code: Concept<'a>,
) -> Observation<'a> {
    Observation {
        resource_type: "Observation",
        id,
        meta: Meta(common.profile(profile)),
        status: common.status(),
        category: None,
        code,
        subject: &common.subject,
        encounter: common.encounter.as_ref(),
        effective_date_time: &common.effective,
        performer: [&common.performer],
        value_quantity: None,
        value_codeable_concept: None,
        note: Vec::new(),
        derived_from: Vec::new(),
        component: Vec::new(),
    }
}

fn vital_code(v: &Vital) -> Concept<'static> {
    Concept::of(
        vec![Coding::loinc(v.loinc), Coding::snomed(v.snomed)],
        Some(v.snomed.1),
    )
}

fn vital<'a>(common: &'a Common, id: String, v: &Vital, value: f64) -> Option<Observation<'a>> {
    let mut o = base(common, id, v.profile, vital_code(v));
    o.category = Some(Concept::category("vital-signs", "Vital Signs"));
    o.value_quantity = Some(Quantity::of(value, v.unit)?);
    Some(o)
}

pub(crate) fn observation_sets(b: &mut Builder<'_>, c: &ClinicalRecord) {
    let mut sets: Vec<&ObservationSet> = c.observations.iter().collect();
    sets.sort_by(|x, y| (x.taken_at, &x.id).cmp(&(y.taken_at, &y.id)));
    for s in sets {
        observation_set(b, c, s);
    }
}

/// One set: its vitals and NEWS2 total written into the Bundle, then the set's Provenance.
fn observation_set(b: &mut Builder<'_>, c: &ClinicalRecord, s: &ObservationSet) {
    let common = Common {
        entered_in_error: b.entered_in_error(&s.id).is_some(),
        subject: b.patient.clone(),
        effective: instant(s.taken_at),
        performer: b.practitioner(&s.author),
        encounter: encounter_of(b, c, s.visit_id.as_deref()),
    };
    let resources = set_resources(b, &common, s);
    let ids: Vec<String> = resources.iter().map(|o| o.id.clone()).collect();
    for o in &resources {
        b.push_typed(&o.id, o);
    }
    b.entry_provenance(&s.id, &s.author, ids);
}
/// The set's Observations: each vital it holds, then the NEWS2 total when it was scored.
fn set_resources<'a>(
    b: &Builder<'_>,
    common: &'a Common,
    s: &ObservationSet,
) -> Vec<Observation<'a>> {
    let o = &s.observations;
    let id = |part: &str| b.id("Observation", &[&s.id, part]);
    let mut vitals: Vec<Observation<'a>> = Vec::with_capacity(8);
    let rr = o.respiration_rate.and_then(|x| {
        let id = id("respiration-rate");
        vital(common, id, &codes::RESPIRATION_RATE, f64::from(x))
    });
    vitals.extend(rr);
    let spo2 = o
        .spo2_percent
        .and_then(|x| vital(common, id("spo2"), &codes::OXYGEN_SATURATION, f64::from(x)));
    vitals.extend(spo2);
    // What a home-monitoring set assumed was not measured: it is no Observation of its own,
    // and the NEWS2's note says what was assumed.
    let measured = |p: Parameter| !s.assumed.contains(&p);
    let on_oxygen = o.on_oxygen.filter(|_| measured(Parameter::AirOrOxygen));
    vitals.extend(on_oxygen.map(|on| {
        let code = if on {
            codes::ON_OXYGEN
        } else {
            codes::ROOM_AIR
        };
        let concept = Concept::of(vec![Coding::snomed(code)], Some(code.1));
        base(common, id("air-or-oxygen"), "UKCore-Observation", concept)
    }));
    vitals.extend(blood_pressure(common, id("blood-pressure"), s));
    let pulse = o
        .pulse
        .and_then(|x| vital(common, id("pulse"), &codes::HEART_RATE, f64::from(x)));
    vitals.extend(pulse);
    let consciousness = o
        .consciousness
        .filter(|_| measured(Parameter::Consciousness));
    vitals.extend(consciousness.map(|x| acvpu(common, id("acvpu"), x)));
    let temperature = o
        .temperature_c
        .and_then(|x| vital(common, id("temperature"), &codes::BODY_TEMPERATURE, x));
    vitals.extend(temperature);
    let news2 = news2(common, id("news2"), s, &vitals);
    vitals.extend(news2);
    vitals
}

/// Consciousness on the ACVPU scale, as UKCore-Observation-ACVPU.
fn acvpu(common: &Common, id: String, x: Consciousness) -> Observation<'_> {
    let code = Concept::of(vec![Coding::snomed(codes::ACVPU)], Some("ACVPU"));
    let mut r = base(common, id, codes::ACVPU_PROFILE, code);
    r.category = Some(Concept::category("survey", "Survey"));
    let value = match x {
        Consciousness::Alert => codes::ACVPU_ALERT,
        Consciousness::NewConfusion => codes::ACVPU_CONFUSION,
        Consciousness::Voice => codes::ACVPU_VOICE,
        Consciousness::Pain => codes::ACVPU_PAIN,
        Consciousness::Unresponsive => codes::ACVPU_UNRESPONSIVE,
    };
    r.value_codeable_concept = Some(Concept::of(vec![Coding::snomed(value)], None));
    r
}

/// Systolic (and diastolic) as UKCore-Observation-VitalSigns-BloodPressure; a diastolic
/// reading alone (the profile needs the systolic) as a vital sign of its own.
fn blood_pressure<'a>(
    common: &'a Common,
    id: String,
    s: &ObservationSet,
) -> Option<Observation<'a>> {
    let o = &s.observations;
    let mm = |v: u32| Quantity::of(f64::from(v), codes::MM_HG);
    let code = |loinc: (&'static str, &'static str), sct: (&'static str, &'static str), text| {
        Concept::of(vec![Coding::loinc(loinc), Coding::snomed(sct)], Some(text))
    };
    match (o.systolic_bp, o.diastolic_bp) {
        (None, None) => None,
        (None, Some(dia)) => {
            let concept = code(
                codes::DIASTOLIC_LOINC,
                codes::DIASTOLIC_SNOMED,
                codes::DIASTOLIC_LOINC.1,
            );
            let mut r = base(common, id, "UKCore-Observation-VitalSigns", concept);
            r.category = Some(Concept::category("vital-signs", "Vital Signs"));
            r.value_quantity = Some(mm(dia)?);
            Some(r)
        }
        (Some(sys), dia) => {
            // UKCore-Observation-VitalSigns-BloodPressure cannot be evaluated by HAPI FHIR 8.8.0:
            // its component slices' coding slices have no discriminator in the generated
            // snapshot ("Slicing cannot be evaluated"), which fails NHS England's own example
            // once it names the profile. The parent vital-signs profile is claimed instead; the
            // codes, texts and units are the BP profile's (docs/interop.md).
            let concept = code(
                codes::BLOOD_PRESSURE_LOINC,
                codes::BLOOD_PRESSURE_SNOMED,
                codes::BLOOD_PRESSURE_SNOMED.1,
            );
            let mut r = base(common, id, codes::BLOOD_PRESSURE_CLAIMED, concept);
            r.category = Some(Concept::category("vital-signs", "Vital Signs"));
            let systolic = Component {
                code: code(
                    codes::SYSTOLIC_LOINC,
                    codes::SYSTOLIC_SNOMED,
                    codes::SYSTOLIC_LOINC.1,
                ),
                value_quantity: mm(sys)?,
            };
            r.component.push(systolic);
            if let Some(d) = dia {
                r.component.push(Component {
                    code: code(
                        codes::DIASTOLIC_LOINC,
                        codes::DIASTOLIC_SNOMED,
                        codes::DIASTOLIC_LOINC.1,
                    ),
                    value_quantity: mm(d)?,
                });
            }
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
fn news2<'a>(
    common: &'a Common,
    id: String,
    s: &ObservationSet,
    vitals: &[Observation<'_>],
) -> Option<Observation<'a>> {
    let n = &s.news2;
    let total = n.total?;
    let score = |v: u8| Quantity::of(f64::from(v), codes::SCORE_OF);
    let mut component = Vec::with_capacity(n.sub_scores.len());
    for sub in &n.sub_scores {
        let code = sub_score_code(sub.parameter, n.scale);
        component.push(Component {
            code: Concept::of(vec![Coding::snomed(code)], None),
            value_quantity: score(sub.score)?,
        });
    }
    let code = Concept::of(
        vec![Coding::snomed(codes::NEWS2_TOTAL)],
        Some("NEWS2 total score"),
    );
    let mut r = base(common, id, codes::NEWS2_PROFILE, code);
    r.category = Some(Concept::category("survey", "Survey"));
    r.value_quantity = Some(score(total)?);
    r.derived_from = vitals.iter().map(|v| Reference(v.id.clone())).collect();
    r.component = component;
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
    let assumed = s
        .assumed_words()
        .map(|a| format!("Scored from home-monitoring readings, {a}. "))
        .unwrap_or_default();
    r.note
        .extend(text::string(&format!("{risk}{assumed}{}", n.response)).map(|text| Note { text }));
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
        subject: b.patient.clone(),
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
    let id = b.id("Observation", &[&w.id, "wound"]);
    let mut o = obj!({
        "resourceType": "Observation",
        "id": id,
        "meta": common.meta("UKCore-Observation"),
        "status": common.status(),
        "subject": common.subject.clone(),
        "encounter": common.encounter.clone(),
        "effectiveDateTime": common.effective.as_str(),
        "performer": [common.performer.clone()],
    });
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
