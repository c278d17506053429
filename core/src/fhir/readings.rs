//! FHIR R4 input for remote monitoring (issue 13, item 2): a `Bundle` of vital-sign
//! `Observation`s, as a monitoring integration posts it, read into [`Reading`]s with the same
//! codes and units the export writes ([`super::codes`]; no second code table). Sans-IO.
//!
//! Each entry is an `Observation` with
//! * `code`: a LOINC coding of a vital sign (respiratory rate 9279-1, SpO2 2708-6, heart rate
//!   8867-4, body temperature 8310-5, the blood-pressure panel 85354-9 with systolic 8480-6 and
//!   diastolic 8462-4 components), or the SNOMED CT ACVPU score with a `valueCodeableConcept`;
//! * `valueQuantity` with a UCUM `code` (`mm[Hg]` is the UCUM spelling of `mmHg`);
//! * `effectiveDateTime` with a time zone;
//! * `subject.reference` `Patient/<person id>` and `device.identifier.value` (or
//!   `device.reference` `Device/<serial>`) naming the registered monitor.
//!
//! One entry may hold two readings (a blood pressure); a bad entry refuses only itself.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::codes::{self, Vital};
use crate::clinical::readings::{Reading, ReadingKind};

/// A reading read from one entry, with whom and which monitor it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct FhirReading {
    pub person_id: String,
    pub serial: String,
    pub reading: Reading,
}

/// One reading (or a refusal) of entry `entry` (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct BundleLine {
    pub entry: usize,
    pub result: Result<FhirReading, String>,
}

/// The readings of a Bundle of Observations, entry by entry. Refused as a whole only when it is
/// not a Bundle.
pub fn readings_from_bundle(bundle: &Value) -> Result<Vec<BundleLine>, String> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("the body is not a FHIR Bundle (resourceType must be \"Bundle\")".into());
    }
    let entries = match bundle.get("entry") {
        None => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("the Bundle's entry is not a list".into()),
    };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let entry = i + 1;
        match entry_readings(e) {
            Ok(rs) => out.extend(rs.into_iter().map(|r| BundleLine {
                entry,
                result: Ok(r),
            })),
            Err(why) => out.push(BundleLine {
                entry,
                result: Err(why),
            }),
        }
    }
    Ok(out)
}

const VITALS: [(Vital, ReadingKind); 4] = [
    (codes::RESPIRATION_RATE, ReadingKind::RespirationRate),
    (codes::OXYGEN_SATURATION, ReadingKind::Spo2),
    (codes::HEART_RATE, ReadingKind::Pulse),
    (codes::BODY_TEMPERATURE, ReadingKind::Temperature),
];

const ACVPU_LEVELS: [(&str, &str); 5] = [
    codes::ACVPU_ALERT,
    codes::ACVPU_CONFUSION,
    codes::ACVPU_VOICE,
    codes::ACVPU_PAIN,
    codes::ACVPU_UNRESPONSIVE,
];

fn entry_readings(e: &Value) -> Result<Vec<FhirReading>, String> {
    let o = e.get("resource").ok_or("the entry has no resource")?;
    if o.get("resourceType").and_then(Value::as_str) != Some("Observation") {
        return Err("the entry is not an Observation".into());
    }
    if let Some(s) = o.get("status").and_then(Value::as_str) {
        if !matches!(s, "final" | "amended" | "corrected" | "preliminary") {
            return Err(format!(
                "an Observation with status '{s}' is not a reading: send final ones"
            ));
        }
    }
    let person_id = o
        .pointer("/subject/reference")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("Patient/"))
        .filter(|p| !p.is_empty())
        .ok_or("subject.reference must be Patient/<person id>")?
        .to_string();
    let serial = o
        .pointer("/device/identifier/value")
        .and_then(Value::as_str)
        .or_else(|| {
            o.pointer("/device/reference")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("Device/"))
        })
        .filter(|s| !s.is_empty())
        .ok_or("name the monitor: device.identifier.value (or device.reference Device/<serial>)")?
        .to_string();
    let taken_at = o
        .get("effectiveDateTime")
        .and_then(Value::as_str)
        .ok_or("effectiveDateTime is missing")
        .and_then(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| "effectiveDateTime must be a date and time with its time zone")
        })?;
    let code = o.get("code").ok_or("the Observation has no code")?;
    let make = |kind, value, unit: String| FhirReading {
        person_id: person_id.clone(),
        serial: serial.clone(),
        reading: Reading {
            kind,
            value,
            unit,
            taken_at,
        },
    };
    if let Some((_, kind)) = VITALS
        .iter()
        .find(|(v, _)| has_coding(code, codes::LOINC, v.loinc.0))
    {
        let (value, unit) = quantity(o.get("valueQuantity"))?;
        return Ok(vec![make(*kind, value, unit)]);
    }
    if has_coding(code, codes::LOINC, codes::BLOOD_PRESSURE_LOINC.0) {
        return blood_pressure(o).map(|parts| {
            parts
                .into_iter()
                .map(|(kind, value, unit)| make(kind, value, unit))
                .collect()
        });
    }
    if has_coding(code, codes::SNOMED, codes::ACVPU.0) {
        let concept = o
            .get("valueCodeableConcept")
            .ok_or("an ACVPU Observation needs valueCodeableConcept")?;
        let level = ACVPU_LEVELS
            .iter()
            .position(|(c, _)| has_coding(concept, codes::SNOMED, c))
            .ok_or("the ACVPU value is not one of the SNOMED CT ACVPU levels")?;
        return Ok(vec![make(
            ReadingKind::Consciousness,
            level as f64,
            "acvpu".into(),
        )]);
    }
    Err("the Observation's code is not a vital sign this server takes (LOINC 9279-1, 2708-6, 8867-4, 8310-5, 85354-9, or SNOMED CT ACVPU)".into())
}

fn blood_pressure(o: &Value) -> Result<Vec<(ReadingKind, f64, String)>, String> {
    let components = o
        .get("component")
        .and_then(Value::as_array)
        .ok_or("a blood-pressure panel needs its systolic and diastolic components")?;
    let mut out = Vec::new();
    for (loinc, kind) in [
        (codes::SYSTOLIC_LOINC.0, ReadingKind::SystolicBp),
        (codes::DIASTOLIC_LOINC.0, ReadingKind::DiastolicBp),
    ] {
        if let Some(c) = components.iter().find(|c| {
            c.get("code")
                .is_some_and(|k| has_coding(k, codes::LOINC, loinc))
        }) {
            let (value, unit) = quantity(c.get("valueQuantity"))?;
            out.push((kind, value, unit));
        }
    }
    if out.is_empty() {
        return Err("the blood-pressure panel has neither a systolic (8480-6) nor a diastolic (8462-4) component".into());
    }
    Ok(out)
}

fn has_coding(concept: &Value, system: &str, code: &str) -> bool {
    concept
        .get("coding")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("system").and_then(Value::as_str) == Some(system)
                    && c.get("code").and_then(Value::as_str) == Some(code)
            })
        })
}

/// The value and unit of a `Quantity`; the UCUM code is preferred, `mm[Hg]` read as `mmHg`.
fn quantity(q: Option<&Value>) -> Result<(f64, String), String> {
    let q = q.ok_or("valueQuantity is missing")?;
    let value = q
        .get("value")
        .and_then(Value::as_f64)
        .ok_or("valueQuantity.value is not a number")?;
    let unit = q
        .get("code")
        .or_else(|| q.get("unit"))
        .and_then(Value::as_str)
        .ok_or("valueQuantity has no unit (give its UCUM code)")?;
    let unit = if unit == codes::MM_HG.1 { "mmHg" } else { unit };
    Ok((value, unit.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obs(code: Value, value: Value) -> Value {
        json!({"resource": {
            "resourceType": "Observation", "status": "final",
            "subject": {"reference": "Patient/p1"},
            "device": {"identifier": {"value": "OX-1"}},
            "effectiveDateTime": "2026-12-02T09:00:00Z",
            "code": code, "valueQuantity": value,
        }})
    }

    #[test]
    fn vitals_and_blood_pressure_are_read_with_the_export_codes() {
        let spo2 = obs(
            json!({"coding": [{"system": "http://loinc.org", "code": "2708-6"}]}),
            json!({"value": 93, "code": "%"}),
        );
        let mut bp = obs(
            json!({"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}),
            Value::Null,
        );
        bp["resource"]["component"] = json!([
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 88, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 60, "code": "mm[Hg]"}},
        ]);
        let unknown = obs(
            json!({"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}),
            json!({"value": 70, "code": "kg"}),
        );
        let lines =
            readings_from_bundle(&json!({"resourceType": "Bundle", "entry": [spo2, bp, unknown]}))
                .unwrap();
        assert_eq!(lines.len(), 4);
        let r = lines[0].result.as_ref().unwrap();
        assert_eq!((r.reading.kind, r.reading.value), (ReadingKind::Spo2, 93.0));
        assert_eq!((r.person_id.as_str(), r.serial.as_str()), ("p1", "OX-1"));
        let sys = lines[1].result.as_ref().unwrap();
        assert_eq!(
            (sys.reading.kind, sys.reading.unit.as_str(), lines[1].entry),
            (ReadingKind::SystolicBp, "mmHg", 2)
        );
        assert_eq!(
            lines[2].result.as_ref().unwrap().reading.kind,
            ReadingKind::DiastolicBp
        );
        assert_eq!(lines[3].entry, 3);
        assert!(lines[3]
            .result
            .as_ref()
            .unwrap_err()
            .contains("not a vital sign"));
    }

    #[test]
    fn acvpu_and_refusals() {
        let mut e = obs(
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "1104441000000107"}]}),
            Value::Null,
        );
        e["resource"]["valueCodeableConcept"] =
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "300202002"}]});
        let mut no_subject = e.clone();
        no_subject["resource"]["subject"] = json!({"reference": "Group/x"});
        let mut no_tz = e.clone();
        no_tz["resource"]["effectiveDateTime"] = json!("2026-12-02T09:00:00");
        let lines = readings_from_bundle(
            &json!({"resourceType": "Bundle", "entry": [e, no_subject, no_tz]}),
        )
        .unwrap();
        let r = lines[0].result.as_ref().unwrap();
        assert_eq!(
            (r.reading.kind, r.reading.value),
            (ReadingKind::Consciousness, 2.0)
        );
        assert!(lines[1].result.as_ref().unwrap_err().contains("Patient/"));
        assert!(lines[2].result.as_ref().unwrap_err().contains("time zone"));
        assert!(readings_from_bundle(&json!({"resourceType": "Patient"})).is_err());
    }
}
