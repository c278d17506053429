//! Observation sets made from home-monitoring readings (issue 13, item 2; docs/virtual-ward.md,
//! "Home-monitoring sets"; docs/decisions/0011), sans-IO: the server calls these, and the phone
//! reads what they wrote with the rest of the clinical record.
//!
//! Raw readings stay on the server. What reaches the phones is one entry per set, under
//! `home_obs:<id>`, written by the server as its own principal: readings taken within 60 minutes
//! of a set's first, scored with NEWS2 on the record's SpO2 scale, with air/oxygen and
//! consciousness assumed (and said) where no reading gives them
//! (`clinical::readings::assemble_anchored`). Escalations follow from the sets as from any other
//! (`record::escalation`, id `esc-<set id>`).
//!
//! Invariants:
//! * A set's id is derived from the person and the time it opened ([`set_id`]), so two server
//!   processes assembling the same readings write the same key.
//! * A set once written keeps its opening: readings that arrive late join the written set whose
//!   window holds them, and never re-cut later sets (no set is orphaned).
//! * Only the sets that hold a new reading are written, each from all of its readings
//!   ([`write_sets_for`], [`readings_span`]): a set is never rewritten from part of them.
//! * The entry is a register, rewritten while readings join the set; of concurrent values (two
//!   processes at once) every reader takes the one with the most readings, then the latest.
//! * Only the server writes `home_obs:`, and the server writes nothing else
//!   (`validate::check_principal`).

use automerge::AutoCommit;
use chrono::{DateTime, Utc};

use super::edit::{edit, Edit};
use super::layout::{self, key, AuditStamp, HOME_OBSERVATIONS, LAYOUT_VERSION, PRINCIPAL_SERVER};
use super::model::*;
use super::read::{self, ClinicalRecord};
use super::ward;
use crate::clinical::readings::{self, AssembledSet, Reading};
use crate::error::Result;

/// The role a server-written set is stamped with: the sets are the virtual ward's record. The
/// stamp's principal (`"p": "server"`) is what says a server wrote it.
pub const SERVER_ROLE: Role = Role::VirtualWardClinician;

/// The id of the set a person's readings opened at `opened_at`, the same on every server
/// process.
pub fn set_id(person_id: &str, opened_at: DateTime<Utc>) -> String {
    derived_id("home-set", person_id, opened_at)
}

/// An id the server derives from what it is about rather than draws at random, so two server
/// processes writing about the same thing write the same key: a UUIDv7 whose time is `at` (so
/// it sorts like every other entry) and whose other bits come from a hash of `tag`, `subject`
/// and `at`.
pub fn derived_id(tag: &str, subject: &str, at: DateTime<Utc>) -> String {
    use sha2::{Digest, Sha256};
    let ms = at.timestamp_millis();
    let digest = Sha256::digest(format!("{tag}\u{0}{subject}\u{0}{ms}"));
    let mut bits = [0u8; 10];
    for (b, d) in bits.iter_mut().zip(digest.iter()) {
        *b = *d;
    }
    uuid::Builder::from_unix_timestamp_millis(u64::try_from(ms).unwrap_or(0), &bits)
        .into_uuid()
        .to_string()
}

/// Who a server process is, as the author of what it writes.
pub fn server_author(instance: &str, at: DateTime<Utc>) -> Author {
    Author {
        user_id: format!("server:{instance}"),
        display_name: "Doorstep server (remote monitoring)".into(),
        role: SERVER_ROLE,
        device_id: format!("server:{instance}"),
        at,
    }
}

/// The audit stamp of a change a server process writes.
pub fn server_stamp(author: &Author, summary: impl Into<String>) -> AuditStamp {
    AuditStamp {
        principal: PRINCIPAL_SERVER.into(),
        layout: LAYOUT_VERSION,
        ..AuditStamp::new(author, summary)
    }
}

/// The home-monitoring sets a clinical document holds, one per id: of concurrent values, the
/// one holding the most readings, then the latest. A value this app cannot read is left out
/// (and counted by `validate::unreadable`).
pub fn stored(doc: &AutoCommit) -> Result<Vec<ObservationSet>> {
    best_of(doc, layout::prefix_keys(doc, HOME_OBSERVATIONS))
}

/// As [`stored`], only the sets that opened from `from` to `to` (inclusive, to the
/// millisecond): a key range, since a set's id is a UUIDv7 of its opening ([`set_id`]), so an
/// upload's sets are found without reading the admission's every set.
pub fn stored_within(
    doc: &AutoCommit,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ObservationSet>> {
    use automerge::ReadDoc;
    // A UUIDv7's text starts with its 48-bit millisecond time as 12 hex digits (8, a dash, 4):
    // in key order, every id of a millisecond in [from, to] lies in [lo, hi).
    let hex = |ms: i64| {
        let ms = u64::try_from(ms.max(0)).unwrap_or(0) & 0xffff_ffff_ffff;
        format!("{HOME_OBSERVATIONS}{:08x}-{:04x}", ms >> 16, ms & 0xffff)
    };
    let lo = hex(from.timestamp_millis());
    let hi = hex(to.timestamp_millis().saturating_add(1));
    let keys: Vec<String> = doc
        .map_range(automerge::ROOT, lo..hi)
        .map(|item| item.key.to_string())
        .collect();
    Ok(best_of(doc, keys)?
        .into_iter()
        .filter(|s| {
            s.home
                .as_ref()
                .is_some_and(|h| h.opened_at >= from && h.opened_at <= to)
        })
        .collect())
}

/// The span of stored readings that new readings taken from `first` to `last` need beside them
/// for [`write_sets`]: from the opening of the written set whose window holds `first` (else
/// `first`) to an hour after `last`. A reading before that belongs to an earlier set, which the
/// new readings cannot change (a reading joins the latest set opened at or before it), so it
/// need not be read again on every upload.
pub fn readings_span(
    doc: &AutoCommit,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let holding_first = stored_within(doc, first - readings::SET_WINDOW, first)?
        .iter()
        .filter_map(|s| s.home.as_ref().map(|h| h.opened_at))
        .max()
        .filter(|opened| first < *opened + readings::SET_WINDOW);
    Ok((holding_first.unwrap_or(first), last + readings::SET_WINDOW))
}

/// Of each key's concurrent values, the one holding the most readings, then the latest.
fn best_of(doc: &AutoCommit, keys: Vec<String>) -> Result<Vec<ObservationSet>> {
    let mut out = Vec::new();
    for k in keys {
        let values = match layout::get_all_json::<ObservationSet>(doc, &k) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "a home-monitoring set this app cannot read was left out");
                continue;
            }
        };
        let best = values.into_iter().map(|(v, _)| v).max_by(|a, b| {
            let n = |s: &ObservationSet| s.home.as_ref().map_or(0, |h| h.readings);
            (n(a), a.taken_at).cmp(&(n(b), b.taken_at))
        });
        out.extend(best);
    }
    Ok(out)
}

/// Write the sets `readings` make for this person, all of them new, around the sets already
/// written: [`write_sets_for`] with the new readings' own span.
pub fn write_sets(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    readings: &[Reading],
) -> Result<Edit<Vec<ObservationSet>>> {
    let span = (
        readings.iter().map(|r| r.taken_at).min(),
        readings.iter().map(|r| r.taken_at).max(),
    );
    match span {
        (Some(first), Some(last)) => {
            write_sets_for(doc, person_id, author, readings, (first, last))
        }
        _ => edit(Vec::new(), summary(&[]), Vec::new()),
    }
}

/// Write the sets that new readings taken from `new.0` to `new.1` join or open, around the sets
/// already written, scored on the record's SpO2 scale with air or oxygen assumed from the
/// admission in force when each set opened. `readings` are the new readings and the stored ones
/// of [`readings_span`], so each set the new ones touch is assembled whole; a set assembled
/// from them that lies wholly before or after the new readings may hold only part of its
/// readings and is never written. Only sets that are new or changed are written; the edit's
/// value lists them (empty: nothing to commit).
pub fn write_sets_for(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    readings: &[Reading],
    new: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Edit<Vec<ObservationSet>>> {
    let record = read::ward_stays(doc)?;
    // Only the sets a reading here can belong to: opened at most 60 minutes before the first
    // reading, and not after the last (`assemble_anchored` takes the latest anchor at or before
    // a reading, within 60 minutes; an earlier or later one is never it).
    let (Some(first), Some(last)) = (
        readings.iter().map(|r| r.taken_at).min(),
        readings.iter().map(|r| r.taken_at).max(),
    ) else {
        return edit(Vec::new(), summary(&[]), Vec::new());
    };
    let written = stored_within(doc, first - readings::SET_WINDOW, last)?;
    let anchors: Vec<DateTime<Utc>> = written
        .iter()
        .filter_map(|s| s.home.as_ref().map(|h| h.opened_at))
        .collect();
    let scale = read::spo2_scale(doc)?;
    let on_oxygen = usually_on_oxygen(&record, readings);
    let mut changed = Vec::new();
    let touched = |s: &AssembledSet| s.opened_at <= new.1 && s.taken_at >= new.0;
    for set in readings::assemble_anchored(readings, &anchors, scale, on_oxygen) {
        if !touched(&set) {
            continue;
        }
        let entry = entry_of(person_id, author, set);
        let same = written
            .iter()
            .find(|w| w.id == entry.id)
            .is_some_and(|w| same_set(w, &entry));
        if !same {
            layout::put_json(doc, &key(HOME_OBSERVATIONS, &entry.id), &entry)?;
            changed.push(entry);
        }
    }
    // Only the server writes sets: phones derive their projections when the change arrives,
    // so no projection delta is worked out here.
    let summary = summary(&changed);
    edit(changed, summary, Vec::new())
}

/// Whether the person's admission says they are usually on oxygen (at the time of the latest
/// reading: the ingest takes readings only during the admission in force).
fn usually_on_oxygen(record: &ClinicalRecord, readings: &[Reading]) -> bool {
    let Some(latest) = readings.iter().map(|r| r.taken_at).max() else {
        return false;
    };
    ward::stay_on(record, ward::ward_day(latest))
        .and_then(|e| e.admission.as_ref())
        .is_some_and(|a| a.parameters.usually_on_oxygen)
}

fn entry_of(person_id: &str, author: &Author, s: AssembledSet) -> ObservationSet {
    ObservationSet {
        id: set_id(person_id, s.opened_at),
        visit_id: None,
        taken_at: s.taken_at,
        observations: s.observations,
        news2: s.news2,
        author: author.clone(),
        assumed: s.assumed,
        home: Some(HomeReadings {
            opened_at: s.opened_at,
            readings: u32::try_from(s.readings).unwrap_or(u32::MAX),
        }),
    }
}

/// The same set, whoever wrote it and when.
fn same_set(a: &ObservationSet, b: &ObservationSet) -> bool {
    a.taken_at == b.taken_at
        && a.observations == b.observations
        && a.news2 == b.news2
        && a.assumed == b.assumed
        && a.home == b.home
}

fn summary(changed: &[ObservationSet]) -> String {
    let words: Vec<String> = changed
        .iter()
        .map(|s| {
            let score = s
                .news2
                .total
                .map_or("incomplete".to_string(), |t| format!("NEWS2 {t}"));
            match s.assumed_words() {
                Some(a) => format!("{score} ({a})"),
                None => score,
            }
        })
        .collect();
    format!("home-monitoring readings: {}", words.join("; "))
}

#[cfg(test)]
mod tests;
