//! Tell it once on the phone (issue 14 item 6, docs/outreach.md): the possible duplicates the
//! server flagged in the records this phone holds, and a clinician's decision on one. The rules
//! are `record::duplicates`.

use rusqlite::{params, Transaction};

use super::FieldStore;
use crate::error::Result;
use crate::record::duplicates;
use crate::record::policy::Action;
use crate::record::{Compartment, DuplicateView, LinkDecision, RecordLink};

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Possible duplicates of one person, or of everyone on this phone; undecided ones first.
    pub fn possible_duplicates(&self, person_id: Option<String>) -> Result<Vec<DuplicateView>> {
        self.allow(Action::Read(Compartment::Demographics))?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT body FROM duplicates WHERE ?1 IS NULL OR person_id = ?1
             ORDER BY open DESC, person_id, duplicate_id",
        )?;
        let rows = stmt
            .query_map([person_id], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|b| Ok(serde_json::from_str(b)?)).collect()
    }

    /// Decide on a possible duplicate of this person: the same person (both records kept and
    /// linked; the server copies the decision into the other record) or not the same.
    pub fn link_records(
        &self,
        person_id: &str,
        duplicate_id: &str,
        decision: LinkDecision,
        note: Option<String>,
    ) -> Result<RecordLink> {
        self.write(person_id, Compartment::Demographics, |doc, a| {
            duplicates::link_records(doc, person_id, a, duplicate_id, decision, note)
        })
    }
}

/// Re-derive the person's duplicate rows.
pub(super) fn replace_rows(
    tx: &Transaction<'_>,
    person_id: &str,
    views: &[DuplicateView],
) -> Result<()> {
    delete_rows(tx, person_id)?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO duplicates (person_id, duplicate_id, open, body) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for v in views {
        ins.execute(params![
            person_id,
            v.flag.id,
            v.open(),
            serde_json::to_string(v)?
        ])?;
    }
    Ok(())
}

pub(super) fn delete_rows(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM duplicates WHERE person_id = ?1")?
        .execute([person_id])?;
    Ok(())
}
