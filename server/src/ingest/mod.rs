//! Remote-monitoring ingest (issue 13, item 2; docs/virtual-ward.md, "Posting readings"):
//! readings a monitoring integration posts to `POST /v1/readings`, each line checked and given a
//! verdict — stored, duplicate, or refused with a reason the integration's engineer can act on.
//!
//! A line is stored only if it reads (its format), passes the record's reading rules
//! (`clinical::readings::check`: unit, a finite value, whole where counted, physiological
//! limits), is not in the future, names a monitor registered to that person for this
//! integration, and the person is on the virtual ward now (an open admission in the server's
//! copy of their clinical document, read with the same `record::ward` code the phone uses).
//! Stored readings go in `readings`, whose UNIQUE (integration, person, kind, time) makes a
//! second copy a duplicate however many processes receive it. Refused lines are kept in
//! `ingest_refusals` for operators, logged (`doorstep::security`, event `reading_refused`)
//! and counted in the metrics.
//!
//! Raw readings stay on the server. What the phones receive is the observation sets the
//! stored readings make, written in the same transaction by [`sets`] as the server's own
//! principal (docs/decisions/0011).

pub mod formats;
pub mod http;
pub mod sets;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use doorstep_core::clinical::readings::{self, Reading, ReadingKind};
use doorstep_core::record::{read, ward, Compartment};
use serde::Serialize;

use crate::docs::DocsGuard;
use crate::error::{Result, ServerError};
use crate::identity::ServerIdentity;
use crate::storage::{IngestRefusal, IntegrationRow, NewReading, ReadingInsert, Tx};

/// The most lines one request may carry (413 above: send smaller batches).
pub const MAX_LINES: usize = 10_000;
/// A reading stamped further ahead of the server's clock than this is refused.
pub const FUTURE_LEEWAY_MS: i64 = 5 * 60 * 1000;

/// One reading as a line of an upload says it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub serial: String,
    pub person_id: String,
    pub reading: Reading,
}

/// Why a line was refused: a stable code and words an integration engineer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
}

impl Refusal {
    pub fn malformed(reason: String) -> Refusal {
        Refusal {
            code: "malformed",
            reason,
        }
    }
}

/// A numbered line of an upload: the reading it holds, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub line: u64,
    pub parsed: Result<Incoming, Refusal>,
}

/// What happened to one line, as the answer lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineVerdict {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ReadingKind>,
    /// `stored`, `duplicate` or `refused`.
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to an upload: the counts and a verdict per line, in line order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Answer {
    pub stored: u64,
    pub duplicate: u64,
    pub refused: u64,
    /// Observation sets written or rewritten from the stored readings (what phones receive).
    pub sets_written: u64,
    pub lines: Vec<LineVerdict>,
}

impl Answer {
    fn push(&mut self, line: u64, kind: Option<ReadingKind>, v: Result<Option<String>, Refusal>) {
        let (verdict, code, reason) = match v {
            Ok(None) => {
                self.stored += 1;
                ("stored", None, None)
            }
            Ok(Some(note)) => {
                self.duplicate += 1;
                ("duplicate", None, Some(note))
            }
            Err(r) => {
                self.refused += 1;
                ("refused", Some(r.code), Some(r.reason))
            }
        };
        self.lines.push(LineVerdict {
            line,
            kind,
            verdict,
            code,
            reason,
        });
    }

    /// The refused lines, for the operators' table.
    pub fn refusals(&self, integration_id: &str, at_ms: i64) -> Vec<IngestRefusal> {
        self.lines
            .iter()
            .filter_map(|l| {
                Some(IngestRefusal {
                    integration_id: integration_id.to_string(),
                    at_ms,
                    line: l.line,
                    code: l.code?.to_string(),
                    reason: l.reason.clone().unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// The checks a line needs no storage for: the record's reading rules and the clock.
pub fn check_reading(i: &Incoming, now: DateTime<Utc>) -> Result<(), Refusal> {
    readings::check(&i.reading).map_err(|e| Refusal {
        code: match e {
            readings::ReadingError::WrongUnit { .. } => "wrong_unit",
            readings::ReadingError::NotANumber { .. } => "not_a_number",
            readings::ReadingError::NotWhole { .. } => "not_whole",
            readings::ReadingError::OutOfRange { .. } => "out_of_range",
        },
        reason: e.to_string(),
    })?;
    if i.reading.taken_at.timestamp_millis() > now.timestamp_millis() + FUTURE_LEEWAY_MS {
        return Err(Refusal {
            code: "future",
            reason: format!(
                "taken at {}, which is later than the server's clock ({}): check the monitor's clock and time zone",
                i.reading.taken_at.to_rfc3339(),
                now.to_rfc3339()
            ),
        });
    }
    Ok(())
}

/// Whether a person is on the ward, and since when (the server's view of their document).
type WardState = Option<NaiveDate>;

/// Check and store every line in the caller's write transaction. A bad line refuses itself only.
pub fn store(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    integration: &IntegrationRow,
    lines: Vec<Line>,
    now: DateTime<Utc>,
) -> Result<Answer> {
    let mut seen = Seen::default();
    // Every line checked first; those that pass are inserted in one batch (one statement on
    // PostgreSQL), then every line gets its verdict in order.
    let mut verdicts: Vec<PendingVerdict> = Vec::with_capacity(lines.len());
    let mut passed: Vec<(usize, Incoming)> = Vec::new();
    for l in lines {
        let kind = l.parsed.as_ref().ok().map(|i| i.reading.kind);
        let verdict = match l.parsed {
            Err(r) => Some(Err(r)),
            Ok(i) => match check_one(tx, docs, integration, &mut seen, &i, now)? {
                Err(r) => Some(Err(r)),
                Ok(()) => {
                    passed.push((verdicts.len(), i));
                    None
                }
            },
        };
        verdicts.push((l.line, kind, verdict));
    }
    let rows: Vec<NewReading<'_>> = passed
        .iter()
        .map(|(_, i)| new_reading(integration, i, now))
        .collect();
    let inserted = tx.insert_readings(&rows)?;
    let mut touched = sets::Touched::default();
    for ((at, i), result) in passed.iter().zip(inserted) {
        if result == ReadingInsert::Stored {
            touched.note(&i.person_id, i.reading.taken_at.timestamp_millis());
        }
        if let Some(v) = verdicts.get_mut(*at) {
            v.2 = Some(Ok(duplicate_note(i, result)));
        }
    }
    let mut answer = Answer::default();
    for (line, kind, verdict) in verdicts {
        let verdict = verdict.unwrap_or_else(|| {
            Err(Refusal {
                code: "not_stored",
                reason: "the server lost track of this line; send the upload again".into(),
            })
        });
        answer.push(line, kind, verdict);
    }
    answer.sets_written = sets::write_all(tx, docs, me, &touched, now)?;
    docs.compact_touched(tx)?;
    Ok(answer)
}

/// A line's number, kind and verdict (`None` until its batch insert says).
type PendingVerdict = (
    u64,
    Option<ReadingKind>,
    Option<Result<Option<String>, Refusal>>,
);

/// What one upload has looked up already: each serial's registration, each person's admission.
#[derive(Default)]
struct Seen {
    monitors: HashMap<String, Option<String>>,
    wards: HashMap<String, WardState>,
}

/// A line's checks before it is stored: the reading's rules, the monitor, the admission.
fn check_one(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    integration: &IntegrationRow,
    seen: &mut Seen,
    i: &Incoming,
    now: DateTime<Utc>,
) -> Result<Result<(), Refusal>> {
    if let Err(r) = check_reading(i, now) {
        return Ok(Err(r));
    }
    let owner = match seen.monitors.get(&i.serial) {
        Some(o) => o.clone(),
        None => {
            let o = tx.monitor_person(&integration.integration_id, &i.serial)?;
            seen.monitors.insert(i.serial.clone(), o.clone());
            o
        }
    };
    if let Err(r) = check_monitor(integration, i, owner) {
        return Ok(Err(r));
    }
    let state = match seen.wards.get(&i.person_id) {
        Some(s) => *s,
        None => {
            let s = ward_state(tx, docs, &i.person_id, now)?;
            seen.wards.insert(i.person_id.clone(), s);
            s
        }
    };
    let Some(admitted_on) = state else {
        return Ok(Err(Refusal {
            code: "not_on_ward",
            reason: format!(
                "person {} is not on the virtual ward now (no open admission): readings are taken only during an admission",
                i.person_id
            ),
        }));
    };
    if ward::ward_day(i.reading.taken_at) < admitted_on {
        return Ok(Err(Refusal {
            code: "before_admission",
            reason: format!(
                "taken at {}, before this admission began ({admitted_on})",
                i.reading.taken_at.to_rfc3339()
            ),
        }));
    }
    Ok(Ok(()))
}

fn new_reading<'a>(
    integration: &'a IntegrationRow,
    i: &'a Incoming,
    now: DateTime<Utc>,
) -> NewReading<'a> {
    NewReading {
        integration_id: &integration.integration_id,
        person_id: &i.person_id,
        kind: kind_str(i.reading.kind),
        taken_ms: i.reading.taken_at.timestamp_millis(),
        value: i.reading.value,
        unit: &i.reading.unit,
        serial: &i.serial,
        received_ms: now.timestamp_millis(),
    }
}

/// `None` stored; `Some(note)` a duplicate, saying whether the held value differs.
fn duplicate_note(i: &Incoming, inserted: ReadingInsert) -> Option<String> {
    match inserted {
        ReadingInsert::Stored => None,
        ReadingInsert::Duplicate { stored_value } if stored_value == i.reading.value => {
            Some("already held (same source, person, kind and time); not stored again".into())
        }
        ReadingInsert::Duplicate { stored_value } => Some(format!(
            "a {} reading for this person at this time is already held with the value {stored_value}; the first one stands and {} was not stored",
            kind_str(i.reading.kind),
            i.reading.value
        )),
    }
}

fn check_monitor(
    integration: &IntegrationRow,
    i: &Incoming,
    owner: Option<String>,
) -> Result<(), Refusal> {
    match owner {
            None => Err(Refusal {
                code: "unknown_device",
                reason: format!(
                    "monitor {} is not registered for this integration: ask the ward's operator to run `doorstep admin register-monitor --integration {} --person {} --serial {}`",
                    i.serial, integration.integration_id, i.person_id, i.serial
                ),
            }),
            Some(p) if p != i.person_id => Err(Refusal {
                code: "device_of_another_person",
                reason: format!(
                    "monitor {} is registered to another person, not {}: check which person the device was given to",
                    i.serial, i.person_id
                ),
            }),
            Some(_) => Ok(()),
    }
}

/// The person's open admission today, as the server's copy of their clinical document says.
fn ward_state(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    person_id: &str,
    now: DateTime<Utc>,
) -> Result<WardState> {
    let doc = docs.get(tx, person_id, Compartment::Clinical)?;
    let record = read::ward_stays(&doc.doc).map_err(|e| {
        ServerError::Storage(format!(
            "the clinical record of {person_id} cannot be read: {e}"
        ))
    })?;
    Ok(ward::stay_on(&record, ward::ward_day(now))
        .filter(|e| e.discharged_on.is_none())
        .map(|e| e.accepted_on))
}

/// The stored name of a kind (its JSON name).
pub fn kind_str(k: ReadingKind) -> &'static str {
    match k {
        ReadingKind::Spo2 => "spo2",
        ReadingKind::Pulse => "pulse",
        ReadingKind::SystolicBp => "systolic_bp",
        ReadingKind::DiastolicBp => "diastolic_bp",
        ReadingKind::RespirationRate => "respiration_rate",
        ReadingKind::Temperature => "temperature",
        ReadingKind::Consciousness => "consciousness",
    }
}

#[cfg(test)]
pub(crate) mod tests;
