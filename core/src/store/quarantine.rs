//! Quarantine: changes stopped on their way out (refused by the server) or in (not valid by this
//! app's rules), kept where the clinician can see them and reported to the server so that
//! nothing lives only on one phone (docs/data-model.md, "Quarantine").

use rusqlite::{params, Transaction};
use serde::{Deserialize, Serialize};

use super::FieldStore;
use crate::error::{Error, Result};
use crate::record::layout::AuditStamp;
use crate::record::Compartment;

/// One quarantined change, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct QuarantinedEntry {
    pub id: i64,
    pub person_id: String,
    pub compartment: Compartment,
    /// "outgoing" (written here, refused by the server) or "incoming" (received, refused here).
    pub direction: String,
    /// A short stable code for the reason (e.g. `forbidden`, `invalid_content`).
    pub code: String,
    /// Why, in words a clinician can act on.
    pub reason: String,
    /// What the change did ("recorded a home visit (completed)").
    pub summary: String,
    /// Who wrote it ("Sam Patel, district nurse, device …").
    pub author: String,
    /// When it was written (the phone's clock) and when it was quarantined.
    pub at_ms: i64,
    pub quarantined_ms: i64,
}

/// A row to add.
pub(crate) struct NewQuarantine<'a> {
    pub person_id: &'a str,
    pub compartment: Compartment,
    pub outgoing: bool,
    pub hash: Option<String>,
    pub code: &'a str,
    pub reason: &'a str,
    pub bytes: &'a [u8],
    pub stamp: Option<&'a AuditStamp>,
    pub at_ms: i64,
    pub now_ms: i64,
}

pub(crate) fn insert(tx: &Transaction<'_>, q: &NewQuarantine<'_>) -> Result<()> {
    let (summary, author, layout) = match q.stamp {
        Some(s) => (
            s.summary.clone(),
            format!(
                "{}, {}, device {}",
                s.display_name,
                s.role.label(),
                s.device_id
            ),
            s.layout,
        ),
        None => (
            "a change that could not be read".into(),
            "unknown".into(),
            0,
        ),
    };
    tx.prepare_cached(
        "INSERT INTO quarantine (person_id, compartment, direction, hash, code, reason, summary,
             author, at_ms, quarantined_ms, layout, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        q.person_id,
        q.compartment.as_str(),
        if q.outgoing { "outgoing" } else { "incoming" },
        q.hash,
        q.code,
        q.reason,
        summary,
        author,
        q.at_ms,
        q.now_ms,
        layout,
        q.bytes,
    ])?;
    Ok(())
}

/// A quarantined change not yet reported to the server, with its bytes.
#[derive(Debug, Clone)]
pub struct UnreportedQuarantine {
    pub id: i64,
    pub entry: QuarantinedEntry,
    pub hash: Option<String>,
    pub bytes: Vec<u8>,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Vec<u8>,
);

fn entry_of(row: Row) -> Option<UnreportedQuarantine> {
    let (id, person_id, comp, direction, code, reason, summary, author, at_ms, q_ms, hash, bytes) =
        row;
    Some(UnreportedQuarantine {
        id,
        entry: QuarantinedEntry {
            id,
            person_id,
            compartment: Compartment::parse(&comp)?,
            direction,
            code,
            reason,
            summary,
            author,
            at_ms,
            quarantined_ms: q_ms,
        },
        hash,
        bytes,
    })
}

const COLUMNS: &str = "id, person_id, compartment, direction, code, reason, summary, author, at_ms,
    quarantined_ms, hash, bytes";

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Every change in quarantine that the clinician has not dismissed, newest first.
    pub fn quarantine(&self) -> Result<Vec<QuarantinedEntry>> {
        let r = self.reader()?;
        let mut stmt = r.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM quarantine WHERE resolved = 0 ORDER BY id DESC"
        ))?;
        let rows = stmt
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(entry_of)
            .map(|u| u.entry)
            .collect())
    }

    /// The clinician has dealt with a quarantined change (re-entered it, or decided it is not
    /// needed). It stays on the server's quarantine for the operators.
    pub fn dismiss_quarantined(&self, id: i64) -> Result<()> {
        let w = self.writer()?;
        let n = w
            .conn
            .execute("UPDATE quarantine SET resolved = 1 WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(Error::NotFound {
                what: "quarantined change",
                id: id.to_string(),
            });
        }
        Ok(())
    }
}

impl FieldStore {
    /// Quarantined changes the server has not been told about, oldest first, at most `limit`.
    pub fn unreported_quarantine(&self, limit: usize) -> Result<Vec<UnreportedQuarantine>> {
        self.access.check_not_wiped()?;
        let w = self.lock_writer()?;
        let mut stmt = w.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM quarantine WHERE reported = 0 ORDER BY id LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map([limit as i64], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.into_iter().filter_map(entry_of).collect())
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
    ))
}

/// The server has stored the reports up to and including `id`.
pub(crate) fn mark_reported(tx: &Transaction<'_>, up_to: i64) -> Result<()> {
    tx.execute(
        "UPDATE quarantine SET reported = 1 WHERE reported = 0 AND id <= ?1",
        [up_to],
    )?;
    Ok(())
}
