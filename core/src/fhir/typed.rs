//! Typed resources for the export's most numerous entries: the Observations of an observation
//! set (8 vitals and the NEWS2 total a visit) and every Provenance. They are `Serialize` structs
//! written straight into the Bundle's text (`Builder::push`), with static field names, borrowed
//! text and no `Value` tree to build, prune and free: the trees were most of the export's time.
//!
//! What the tree path guarantees by pruning, these types guarantee by construction: an optional
//! element is skipped when absent (`Option`, empty `Vec`), never written as `null` or `[]`, and
//! every string in them is a constant, an id, an instant, or text that already went through
//! [`super::text::string`].

use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use super::codes;

/// `{"profile": ["<UK Core base>/<name>"]}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta(pub &'static str);

impl Serialize for Meta {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Profiles(&'static str);
        impl Serialize for Profiles {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq([Url(self.0)])
            }
        }
        struct Url(&'static str);
        impl Serialize for Url {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&format_args!("{}{}", codes::UKCORE, self.0))
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("profile", &Profiles(self.0))?;
        m.end()
    }
}

/// `{"reference": "urn:uuid:<id>"}`, for a resource in the same Bundle.
#[derive(Debug, Clone)]
pub(crate) struct Reference(pub String);

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Urn<'a>(&'a str);
        impl fmt::Display for Urn<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "urn:uuid:{}", self.0)
            }
        }
        struct Text<'a>(&'a str);
        impl Serialize for Text<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&Urn(self.0))
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("reference", &Text(&self.0))?;
        m.end()
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Coding<'a> {
    pub system: &'a str,
    pub code: &'a str,
    pub display: &'a str,
}

impl<'a> Coding<'a> {
    pub fn snomed(c: (&'a str, &'a str)) -> Self {
        Coding {
            system: codes::SNOMED,
            code: c.0,
            display: c.1,
        }
    }

    pub fn loinc(c: (&'a str, &'a str)) -> Self {
        Coding {
            system: codes::LOINC,
            code: c.0,
            display: c.1,
        }
    }
}

/// A CodeableConcept: codings and/or text.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Concept<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
}

impl<'a> Concept<'a> {
    pub fn of(coding: Vec<Coding<'a>>, text: Option<&'a str>) -> Self {
        Concept { coding, text }
    }

    /// The Observation category of this code (`vital-signs`, `survey`).
    pub fn category(code: &'a str, display: &'a str) -> [Concept<'a>; 1] {
        [Concept::of(
            vec![Coding {
                system: codes::OBSERVATION_CATEGORY,
                code,
                display,
            }],
            None,
        )]
    }
}

/// A UCUM quantity. Built only from a finite number ([`super::bundle::number`]).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Quantity<'a> {
    pub value: Value,
    pub unit: &'a str,
    pub system: &'static str,
    pub code: &'a str,
}

impl<'a> Quantity<'a> {
    /// `None` for a value that is not a finite number.
    pub fn of(value: f64, unit: (&'a str, &'a str)) -> Option<Self> {
        Some(Quantity {
            value: super::bundle::number(value)?,
            unit: unit.0,
            system: codes::UCUM,
            code: unit.1,
        })
    }
}

/// An Observation's component: a code and a quantity.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Component<'a> {
    pub code: Concept<'a>,
    pub value_quantity: Quantity<'a>,
}

/// An Annotation of text alone (already a FHIR string).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Note {
    pub text: String,
}

/// An Observation of an observation set (a vital sign, air or oxygen, ACVPU, the NEWS2 total).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Observation<'a> {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<[Concept<'a>; 1]>,
    pub code: Concept<'a>,
    pub subject: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter: Option<&'a Value>,
    pub effective_date_time: &'a str,
    pub performer: [&'a Value; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<Concept<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Note>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub derived_from: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub component: Vec<Component<'a>>,
}

/// The data operation of a Provenance that marks an entry entered in error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MarkedInError;

impl Serialize for MarkedInError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let coding = Coding {
            system: "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
            code: "UPDATE",
            display: "revise",
        };
        Concept::of(vec![coding], Some("marked as entered in error")).serialize(s)
    }
}

/// Text alone (`{"text": …}`), already a FHIR string.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Text<'a> {
    pub text: &'a str,
}

/// The author of an entry: who, in which role.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuthorAgent<'a> {
    #[serde(rename = "type")]
    pub kind: Concept<'a>,
    pub role: [Text<'a>; 1],
    pub who: &'a Value,
}

/// The device an entry was recorded on, on behalf of its author.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceAgent<'a> {
    pub who: &'a Value,
    pub on_behalf_of: &'a Value,
}

/// The author, role and device of one entry (or of its entered-in-error marker).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Provenance<'a> {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    pub target: Vec<Reference>,
    pub recorded: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<MarkedInError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<[Text<'a>; 1]>,
    /// The author and the device, in that order (serialised as a two-element array).
    pub agent: (AuthorAgent<'a>, DeviceAgent<'a>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_elements_are_left_out_and_references_are_urns() {
        let patient = serde_json::json!({"reference": "urn:uuid:p"});
        let o = Observation {
            resource_type: "Observation",
            id: "o".into(),
            meta: Meta("UKCore-Observation"),
            status: "final",
            category: None,
            code: Concept::of(vec![], Some("x")),
            subject: &patient,
            encounter: None,
            effective_date_time: "2026-01-01T00:00:00.000Z",
            performer: [&patient],
            value_quantity: Quantity::of(f64::NAN, ("a", "b")),
            value_codeable_concept: None,
            note: vec![],
            derived_from: vec![Reference("d".into())],
            component: vec![],
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "resourceType": "Observation",
                "id": "o",
                "meta": {"profile": [codes::profile("UKCore-Observation")]},
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "urn:uuid:p"},
                "effectiveDateTime": "2026-01-01T00:00:00.000Z",
                "performer": [{"reference": "urn:uuid:p"}],
                "derivedFrom": [{"reference": "urn:uuid:d"}],
            })
        );
    }
}
