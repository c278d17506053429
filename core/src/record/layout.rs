//! How a compartment is laid out in its Automerge document.
//!
//! Every value lives directly in the document's root map under a flat key, e.g.
//! `visit:<id>` → JSON of a [`super::model::Visit`]. There are no nested objects: two devices
//! that both create a nested map at the same key would each make their own, and Automerge would
//! show only one of them (the other's contents silently hidden). Flat keys avoid that whole class
//! of loss, and `map_range` over a key prefix lists a kind of entry in key order.
//!
//! Entries (visits, notes, observation sets, advice needs…) are immutable: written once under a
//! fresh UUIDv7, never edited, so they cost one Automerge op each and never conflict. Fields that
//! are edited in place (demographics fields, alerts, care plan, consent) are single registers;
//! for alerts, concurrent writes are kept by Automerge as conflicting values and surfaced.
//!
//! Every change carries an [`AuditStamp`] as its commit message and the wall-clock time as its
//! timestamp, so who changed what travels with the change itself.

use automerge::{AutoCommit, ObjId, ReadDoc, ScalarValue, Value, ROOT};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::model::{Author, Compartment, Role};
use crate::error::{Error, Result};

pub const DEMOGRAPHICS: &str = "demographics";
pub const ALERT: &str = "alert:";
pub const EPISODE: &str = "episode:";
pub const DISCHARGE: &str = "discharge:";
pub const PLANNED: &str = "planned:";
pub const VISIT: &str = "visit:";
pub const OBSERVATIONS: &str = "obs:";
pub const NOTE: &str = "note:";
pub const CARE_PLAN: &str = "care_plan";
pub const ENTERED_IN_ERROR: &str = "eie:";
pub const ADVICE_NEED: &str = "need:";
pub const ADVICE_ACTION: &str = "action:";
pub const ADVICE_OUTCOME: &str = "outcome:";
pub const CONSENT: &str = "consent";

/// Which compartment document each kind of key lives in: the one map from key to compartment.
/// `eie:` markers live beside the entry they mark, so they are in both entry compartments.
pub const KEYS: &[(&str, Compartment)] = &[
    (DEMOGRAPHICS, Compartment::Demographics),
    (ALERT, Compartment::Clinical),
    (EPISODE, Compartment::Clinical),
    (DISCHARGE, Compartment::Clinical),
    (PLANNED, Compartment::Clinical),
    (VISIT, Compartment::Clinical),
    (OBSERVATIONS, Compartment::Clinical),
    (NOTE, Compartment::Clinical),
    (CARE_PLAN, Compartment::Clinical),
    (ENTERED_IN_ERROR, Compartment::Clinical),
    (ADVICE_NEED, Compartment::Advice),
    (ADVICE_ACTION, Compartment::Advice),
    (ADVICE_OUTCOME, Compartment::Advice),
    (CONSENT, Compartment::Advice),
    (ENTERED_IN_ERROR, Compartment::Advice),
];

/// Prefixes of the immutable entries that can be marked entered in error, with their compartment.
pub const ENTRY_KINDS: &[(&str, Compartment)] = &[
    (EPISODE, Compartment::Clinical),
    (PLANNED, Compartment::Clinical),
    (VISIT, Compartment::Clinical),
    (OBSERVATIONS, Compartment::Clinical),
    (NOTE, Compartment::Clinical),
    (ADVICE_NEED, Compartment::Advice),
    (ADVICE_ACTION, Compartment::Advice),
    (ADVICE_OUTCOME, Compartment::Advice),
];

/// True when `key` is one that a document of `compartment` may hold.
pub fn key_belongs_to(key: &str, compartment: Compartment) -> bool {
    KEYS.iter().any(|(prefix, c)| {
        *c == compartment
            && match prefix.as_bytes().last() {
                Some(b':') => key.starts_with(prefix),
                _ if *prefix == DEMOGRAPHICS => key.starts_with(&format!("{DEMOGRAPHICS}.")),
                _ => key == *prefix,
            }
    })
}

/// True when `doc`, a document of `compartment`, holds an entry (of a kind that can be marked
/// entered in error) with this id.
pub fn holds_entry(doc: &AutoCommit, compartment: Compartment, entry_id: &str) -> Result<bool> {
    for (prefix, c) in ENTRY_KINDS {
        if *c == compartment && has_key(doc, &key(prefix, entry_id))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The commit message of every change: who, in which role, on which device, and what in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStamp {
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "n")]
    pub display_name: String,
    #[serde(rename = "r")]
    pub role: Role,
    #[serde(rename = "d")]
    pub device_id: String,
    #[serde(rename = "s")]
    pub summary: String,
}

impl AuditStamp {
    pub fn new(author: &Author, summary: impl Into<String>) -> Self {
        AuditStamp {
            user_id: author.user_id.clone(),
            display_name: author.display_name.clone(),
            role: author.role,
            device_id: author.device_id.clone(),
            summary: summary.into(),
        }
    }
}

pub fn key(prefix: &str, id: &str) -> String {
    format!("{prefix}{id}")
}

/// Write `value` as JSON under `key` (one Automerge op).
pub fn put_json<T: Serialize>(doc: &mut AutoCommit, key: &str, value: &T) -> Result<()> {
    use automerge::transaction::Transactable;
    let json = serde_json::to_string(value)?;
    doc.put(ROOT, key, json)?;
    Ok(())
}

fn decode<T: DeserializeOwned>(key: &str, v: &Value<'_>) -> Result<T> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => serde_json::from_str(s)
                .map_err(|e| Error::Document(format!("entry {key} cannot be read: {e}"))),
            other => Err(Error::Document(format!(
                "entry {key} holds {other:?}, expected text"
            ))),
        },
        Value::Object(t) => Err(Error::Document(format!(
            "entry {key} holds an object ({t:?}), expected text"
        ))),
    }
}

/// The value under `key`; with concurrent values, Automerge's deterministic winner.
pub fn get_json<T: DeserializeOwned>(doc: &AutoCommit, key: &str) -> Result<Option<T>> {
    match doc.get(ROOT, key)? {
        Some((v, _)) => Ok(Some(decode(key, &v)?)),
        None => Ok(None),
    }
}

/// Every concurrent value under `key`, each with the id of the op that wrote it.
pub fn get_all_json<T: DeserializeOwned>(doc: &AutoCommit, key: &str) -> Result<Vec<(T, ObjId)>> {
    doc.get_all(ROOT, key)?
        .into_iter()
        .map(|(v, id)| Ok((decode(key, &v)?, id)))
        .collect()
}

/// Every entry whose key starts with `prefix`, in key order (UUIDv7 ids sort by creation time).
pub fn entries<T: DeserializeOwned>(doc: &AutoCommit, prefix: &str) -> Result<Vec<T>> {
    prefix_keys(doc, prefix)
        .into_iter()
        .filter_map(|k| match get_json(doc, &k) {
            Ok(Some(v)) => Some(Ok(v)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// The keys in the root map starting with `prefix`.
pub fn prefix_keys(doc: &AutoCommit, prefix: &str) -> Vec<String> {
    let mut end = prefix.to_string();
    // Prefixes end in ':'; the next character ';' bounds the range.
    end.pop();
    end.push(';');
    doc.map_range(ROOT, prefix.to_string()..end)
        .map(|item| item.key.to_string())
        .collect()
}

pub fn has_key(doc: &AutoCommit, key: &str) -> Result<bool> {
    Ok(doc.get(ROOT, key)?.is_some())
}

/// The keys in the root map starting with `prefix`, where `prefix` ends in '.'.
pub fn prefix_keys_dot(doc: &AutoCommit, prefix: &str) -> Vec<String> {
    let mut end = prefix.to_string();
    end.pop();
    end.push('/'); // '/' follows '.' in ASCII
    doc.map_range(ROOT, prefix.to_string()..end)
        .map(|item| item.key.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_kind_has_its_compartment() {
        for (k, c) in [
            ("demographics.phone", Compartment::Demographics),
            ("alert:allergies", Compartment::Clinical),
            ("visit:0193", Compartment::Clinical),
            ("care_plan", Compartment::Clinical),
            ("need:0193", Compartment::Advice),
            ("consent", Compartment::Advice),
            ("eie:0193", Compartment::Advice),
            ("eie:0193", Compartment::Clinical),
        ] {
            assert!(key_belongs_to(k, c), "{k} in {c:?}");
        }
        for (k, c) in [
            ("visit:0193", Compartment::Advice),
            ("consent", Compartment::Clinical),
            ("demographicsX", Compartment::Demographics),
            ("care_plan2", Compartment::Clinical),
            ("demographics.phone", Compartment::Clinical),
        ] {
            assert!(!key_belongs_to(k, c), "{k} not in {c:?}");
        }
    }
}
