//! The Bundle: its entries in a fixed order, the Practitioner and Device of every author, and a
//! Provenance for every entry (its author, role and device; and the entered-in-error marker's).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::obj::obj;
use super::typed::{
    AuthorAgent, Coding, Concept, DeviceAgent, MarkedInError, Meta, Provenance, Reference, Text,
};

use super::{codes, ids, text, Source};
use crate::error::Result;
use crate::record::{Author, CarePlanView, EnteredInError};

/// What the sections add resources to.
pub(crate) struct Builder<'a> {
    pub person_id: &'a str,
    /// The Patient's reference (`urn:uuid:…`).
    pub patient: Value,
    resources: Entries,
    provenance: Entries,
    entered_in_error: HashMap<&'a str, &'a EnteredInError>,
    /// user id → display name (the first seen, in export order).
    practitioners: BTreeMap<String, String>,
    devices: BTreeMap<String, ()>,
    plan: Option<&'a CarePlanView>,
}

impl<'a> Builder<'a> {
    fn new(source: &Source<'a>) -> Self {
        let mut entered_in_error = HashMap::new();
        for m in source
            .clinical
            .map(|c| c.entered_in_error.as_slice())
            .unwrap_or_default()
            .iter()
            .chain(
                source
                    .advice
                    .map(|a| a.entered_in_error.as_slice())
                    .unwrap_or_default(),
            )
        {
            // The first marker of an entry counts (one per entry is all the record allows).
            entered_in_error.entry(m.entry_id.as_str()).or_insert(m);
        }
        let patient_id = ids::uuid(source.person_id, "Patient", &[]);
        Builder {
            person_id: source.person_id,
            patient: reference(&patient_id),
            resources: Entries::default(),
            provenance: Entries::default(),
            entered_in_error,
            practitioners: BTreeMap::new(),
            devices: BTreeMap::new(),
            plan: source.plan.filter(|p| has_plan(p)),
        }
    }

    /// The CarePlan's reference, when the record has a care plan.
    pub fn care_plan_reference(&self) -> Option<Value> {
        self.plan.map(|_| reference(&self.id("CarePlan", &[])))
    }

    /// A care-plan intervention's description, by its id.
    pub fn plan_intervention(&self, id: &str) -> Option<String> {
        let i = self.plan?.interventions.iter().find(|i| i.id == id)?;
        text::string(&i.description)
    }

    /// The stable id of a resource of `kind` made from `parts`.
    pub fn id(&self, kind: &str, parts: &[&str]) -> String {
        ids::uuid(self.person_id, kind, parts)
    }

    /// The entered-in-error marker of an entry, if it has one.
    pub fn entered_in_error(&self, entry_id: &str) -> Option<&'a EnteredInError> {
        self.entered_in_error.get(entry_id).copied()
    }

    /// A reference to the author as a Practitioner (added to the Bundle once).
    pub fn practitioner(&mut self, author: &Author) -> Value {
        self.person_reference(&author.user_id, &author.display_name)
    }

    /// A reference to a user (a witness, an assignee) as a Practitioner.
    pub fn person_reference(&mut self, user_id: &str, display_name: &str) -> Value {
        let name = text::string_or(display_name, user_id);
        self.practitioners
            .entry(user_id.to_string())
            .or_insert_with(|| name.clone());
        let id = ids::uuid(self.person_id, "Practitioner", &[user_id]);
        let mut r = reference(&id);
        r["display"] = obj!(name);
        r
    }

    fn device(&mut self, device_id: &str) -> Value {
        self.devices.insert(device_id.to_string(), ());
        reference(&ids::uuid(self.person_id, "Device", &[device_id]))
    }

    /// Add a resource that stands for no entry of its own (the Patient, a CarePlan).
    pub fn add(&mut self, resource: Value) {
        self.resources.push(resource);
    }

    /// Add the resources made from one entry, with the entry's Provenance (and the
    /// entered-in-error marker's, if the entry has one).
    pub fn add_entry(&mut self, entry_id: &str, author: &Author, resources: Vec<Value>) {
        let targets: Vec<String> = resources
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        for r in resources {
            self.resources.push(r);
        }
        self.entry_provenance(entry_id, author, targets);
    }

    /// Add a typed resource ([`super::typed`]), written into the Bundle's text at once. The
    /// caller then adds its entry's Provenance with [`Builder::entry_provenance`].
    pub fn push_typed<T: Serialize>(&mut self, id: &str, resource: &T) {
        self.resources.push_typed(id, resource);
    }

    /// The Provenance of an entry whose resources (ids `targets`) were added (and the
    /// entered-in-error marker's, if the entry has one). Nothing for an entry with no resource.
    pub fn entry_provenance(&mut self, entry_id: &str, author: &Author, targets: Vec<String>) {
        if targets.is_empty() {
            return;
        }
        let marker = self.entered_in_error(entry_id);
        let refs = |ids: &[String]| ids.iter().cloned().map(Reference).collect::<Vec<_>>();
        self.provenance_of(entry_id, &[], author, refs(&targets), None);
        if let Some(m) = marker {
            self.provenance_of(
                entry_id,
                &["entered-in-error"],
                &m.author,
                refs(&targets),
                Some(&m.reason),
            );
        }
    }

    /// A Provenance for an entry that is part of a resource made from other entries too (a
    /// care-plan intervention in the CarePlan, a task's status change in the Task).
    pub fn attribute(&mut self, entry_id: &str, author: &Author, target_id: &str) {
        let target = vec![Reference(target_id.to_string())];
        self.provenance_of(entry_id, &[], author, target, None);
    }

    fn provenance_of(
        &mut self,
        entry_id: &str,
        part: &[&str],
        author: &Author,
        target: Vec<Reference>,
        entered_in_error: Option<&str>,
    ) {
        let mut parts = vec![entry_id];
        parts.extend_from_slice(part);
        let id = self.id("Provenance", &parts);
        let who = self.practitioner(author);
        let device = self.device(&author.device_id);
        let reason = entered_in_error.map(|r| text::string_or(r, "entered in error"));
        let p = Provenance {
            resource_type: "Provenance",
            id,
            meta: Meta("UKCore-Provenance"),
            target,
            recorded: instant(author.at),
            activity: entered_in_error.map(|_| MarkedInError),
            reason: reason.as_deref().map(|text| [Text { text }]),
            agent: (
                AuthorAgent {
                    kind: Concept::of(
                        vec![Coding {
                            system: codes::PROVENANCE_PARTICIPANT,
                            code: "author",
                            display: "Author",
                        }],
                        None,
                    ),
                    role: [Text {
                        text: author.role.label(),
                    }],
                    who: &who,
                },
                DeviceAgent {
                    who: &device,
                    on_behalf_of: &who,
                },
            ),
        };
        self.provenance.push_typed(&p.id, &p);
    }

    /// The Bundle's `entry` array as JSON text: the resources, their Provenance, then the
    /// Practitioners and Devices they name.
    fn finish(mut self) -> Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.resources);
        out.append(std::mem::take(&mut self.provenance));
        for (user_id, name) in &self.practitioners {
            out.push(obj!({
                "resourceType": "Practitioner",
                "id": ids::uuid(self.person_id, "Practitioner", &[user_id]),
                "meta": {"profile": [codes::profile("UKCore-Practitioner")]},
                "identifier": [{"system": codes::DOORSTEP_USER_ID, "value": text::string_or(user_id, "unknown")}],
                "name": [{"text": name.as_str()}],
            }));
        }
        for device_id in self.devices.keys() {
            out.push(obj!({
                "resourceType": "Device",
                "id": ids::uuid(self.person_id, "Device", &[device_id]),
                "meta": {"profile": [codes::profile("UKCore-Device")]},
                "identifier": [{"system": codes::DOORSTEP_DEVICE_ID, "value": text::string_or(device_id, "unknown")}],
                "type": {"text": "Doorstep phone"},
            }));
        }
        out.finish()
    }
}

/// Bundle entries written out as JSON as they are added: each resource's tree is pruned,
/// written and dropped at once, so the export never holds the whole Bundle as a tree (building
/// and then dropping one tree of ~2,400 resources was most of the export's time).
#[derive(Default)]
struct Entries {
    json: Vec<u8>,
    count: usize,
    error: Option<serde_json::Error>,
}

impl Entries {
    /// Append `{"fullUrl": "urn:uuid:<id>", "resource": …}` for a resource tree, pruned first.
    fn push(&mut self, mut resource: Value) {
        prune(&mut resource);
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        self.push_typed(&id, &resource);
    }

    /// Append an entry for a resource that is already valid FHIR JSON as it serialises (a typed
    /// resource, or a pruned tree).
    fn push_typed<T: Serialize + ?Sized>(&mut self, id: &str, resource: &T) {
        if self.count > 0 {
            self.json.push(b',');
        }
        self.count += 1;
        self.json.extend_from_slice(b"{\"fullUrl\":\"urn:uuid:");
        self.json.extend_from_slice(id.as_bytes());
        self.json.extend_from_slice(b"\",\"resource\":");
        if let Err(e) = serde_json::to_writer(&mut self.json, resource) {
            self.error.get_or_insert(e);
        }
        self.json.push(b'}');
    }

    fn append(&mut self, other: Entries) {
        if other.count > 0 && self.count > 0 {
            self.json.push(b',');
        }
        self.json.extend_from_slice(&other.json);
        self.count += other.count;
        self.error = self.error.take().or(other.error);
    }

    fn finish(self) -> Result<Vec<u8>> {
        match self.error {
            Some(e) => Err(e.into()),
            None => Ok(self.json),
        }
    }
}

/// The Patient of `source` alone, pruned as in a Bundle (a search's answer).
pub(crate) fn patient_resource(source: &Source<'_>) -> Value {
    let mut b = Builder::new(source);
    let mut p = super::patient::resource(&mut b, source);
    prune(&mut p);
    p
}

/// The whole Bundle, as JSON text.
pub(crate) fn build(source: &Source<'_>) -> Result<String> {
    let mut b = Builder::new(source);
    super::patient::patient(&mut b, source);
    if let Some(c) = source.clinical {
        super::alerts::alerts(&mut b, c);
        super::encounters::episodes(&mut b, c);
        super::encounters::planned_visits(&mut b, c);
        super::encounters::visits(&mut b, c);
        super::observations::observation_sets(&mut b, c);
        super::encounters::notes(&mut b, c);
        if let Some(plan) = source.plan.filter(|p| has_plan(p)) {
            super::care::care_plan(&mut b, plan);
        }
        super::care::tasks(&mut b, c);
        super::care::medications(&mut b, c);
        super::assessments::assessments(&mut b, c);
        super::observations::wounds(&mut b, c);
        super::imported::imported(&mut b, c);
    }
    if let Some(a) = source.advice {
        super::advice::advice(&mut b, a);
    }
    let mut head = serde_json::to_vec(&obj!({
        "resourceType": "Bundle",
        "id": ids::uuid(source.person_id, "Bundle", &[]),
        "meta": {"profile": [codes::profile("UKCore-Bundle")]},
        "type": "collection",
    }))?;
    // `{…}` becomes `{…,"entry":[…]}`.
    head.pop();
    head.extend_from_slice(b",\"entry\":[");
    head.extend_from_slice(&b.finish()?);
    head.extend_from_slice(b"]}");
    String::from_utf8(head).map_err(|e| crate::error::Error::Document(e.to_string()))
}

/// A plan with anything in it is exported as a CarePlan.
fn has_plan(p: &CarePlanView) -> bool {
    !(p.problems.is_empty() && p.goals.is_empty() && p.interventions.is_empty())
        || p.review_date.is_some()
}

// ---------------------------------------------------------------- helpers for the sections

/// `{"reference": "urn:uuid:<id>"}`.
pub(crate) fn reference(id: &str) -> Value {
    obj!({ "reference": format!("urn:uuid:{id}") })
}

/// A FHIR instant / dateTime, UTC, to the millisecond.
pub(crate) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn coding(system: &str, code: &str, display: &str) -> Value {
    obj!({"system": system, "code": code, "display": display})
}

/// A CodeableConcept of one coding.
pub(crate) fn coding_concept(system: &str, code: &str, display: &str) -> Value {
    obj!({"coding": [coding(system, code, display)]})
}

pub(crate) fn snomed(c: (&str, &str)) -> Value {
    coding(codes::SNOMED, c.0, c.1)
}

/// A CodeableConcept of free text only.
pub(crate) fn text_concept(s: &str, fallback: &str) -> Value {
    obj!({"text": text::string_or(s, fallback)})
}

/// A UCUM quantity; `None` for a value that is not a finite number.
pub(crate) fn quantity(value: f64, unit: &str, code: &str) -> Option<Value> {
    let v = number(value)?;
    Some(obj!({"value": v, "unit": unit, "system": codes::UCUM, "code": code}))
}

/// A decimal as JSON: whole numbers without a fraction (`15`, not `15.0`); `None` when not finite.
pub(crate) fn number(value: f64) -> Option<Value> {
    if !value.is_finite() {
        return None;
    }
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        Some(obj!(value as i64))
    } else {
        Some(obj!(value))
    }
}

/// `meta` with one UK Core profile.
pub(crate) fn meta(profile: &str) -> Value {
    obj!({"profile": [codes::profile(profile)]})
}

/// `meta` with a profile and, for one of several concurrent values, the conflict tag.
pub(crate) fn meta_tagged(profile: &str, in_conflict: bool) -> Value {
    let mut m = meta(profile);
    if in_conflict {
        m["tag"] = obj!([{
            "system": codes::DOORSTEP_TAG,
            "code": codes::TAG_IN_CONFLICT,
            "display": "One of several concurrent values of this field: an open clinical conflict, not yet resolved",
        }]);
    }
    m
}

/// `meta` with only the conflict tag, for a resource UK Core has no profile for.
pub(crate) fn conflict_tag(in_conflict: bool) -> Option<Value> {
    in_conflict.then(|| {
        let mut m = meta_tagged("", true);
        m["profile"] = Value::Null;
        m
    })
}

/// A narrative of one paragraph, for what a resource has no element for.
pub(crate) fn narrative(s: &str) -> Value {
    obj!({
        "status": "additional",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>{}</p></div>", text::xhtml(s)),
    })
}

/// An Annotation (`note`): its text, with who wrote it and when.
pub(crate) fn annotation(s: &str, by: Option<Value>, at: Option<DateTime<Utc>>) -> Option<Value> {
    let t = text::string(s)?;
    Some(obj!({"authorReference": by, "time": at.map(instant), "text": t}))
}

/// Remove `null`s, empty arrays and empty objects (FHIR JSON allows none of them), deepest
/// first; and make every string a FHIR string (the sections already pass free text through
/// [`text::string`]; this also covers text they put together from several parts).
fn prune(v: &mut Value) {
    match v {
        Value::String(s) if !text::is_string(s) => match text::string(s) {
            Some(t) => *s = t,
            None => *v = Value::Null,
        },
        Value::Object(m) => {
            for x in m.values_mut() {
                prune(x);
            }
            if m.values().any(is_empty) {
                m.retain(|_, x| !is_empty(x));
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                prune(x);
            }
            if a.iter().any(is_empty) {
                a.retain(|x| !is_empty(x));
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}
