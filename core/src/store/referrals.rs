//! Referrals between teams on the phone (issue 14 item 5, docs/outreach.md): refer a person,
//! answer a referral made to this user's team, and list both ways. The rules are
//! `record::referral`; what a referral does to the caseloads is the server's. A person this
//! phone holds only because they are referred to its team (not yet accepted) is shown in
//! [`FieldStore::referrals`], not in the caseload, and nothing but the answer may be written.

use rusqlite::{params, Connection, Transaction};

use super::FieldStore;
use crate::error::{Result, ValidationError};
use crate::record::policy::Action;
use crate::record::referral::{self, ReferralStatus};
use crate::record::{
    Compartment, Referral, ReferralAnswer, ReferralDecision, ReferralInput, ReferralView,
};

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Refer a person on this team's caseload to another team: the reason, how urgent, and
    /// which of the clinical and advice records it may see once it accepts (within consent).
    pub fn refer_person(&self, person_id: &str, input: ReferralInput) -> Result<Referral> {
        let team = self.config.user.team.clone();
        self.write(person_id, Compartment::Demographics, |doc, a| {
            referral::refer(doc, person_id, a, &team, input)
        })
    }

    /// Accept a referral made to this user's team (the person joins its caseload at the next
    /// sync), or decline it with the reason (the referrer sees it; this phone lets the person go).
    pub fn answer_referral(
        &self,
        person_id: &str,
        referral_id: &str,
        decision: ReferralDecision,
        reason: Option<String>,
    ) -> Result<ReferralAnswer> {
        self.allow(Action::Write(Compartment::Demographics))?;
        let team = self.config.user.team.clone();
        let author = self.author();
        let key = (person_id.to_string(), Compartment::Demographics);
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            self.commit_edit(w, &key, &author, |doc| {
                referral::answer(
                    doc,
                    person_id,
                    &author,
                    &team,
                    referral_id,
                    decision,
                    reason,
                )
            })
        })
    }

    /// Referrals on this phone: made to this user's team (`incoming`) or made by it; pending
    /// first, then newest.
    pub fn referrals(&self, incoming: bool) -> Result<Vec<ReferralView>> {
        self.allow(Action::Read(Compartment::Demographics))?;
        let conn = self.reader()?;
        let team = &self.config.user.team;
        let column = if incoming { "to_team" } else { "from_team" };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT body FROM referrals WHERE {column} = ?1
             ORDER BY status = 'pending' DESC, referral_id DESC"
        ))?;
        let rows = stmt
            .query_map([team], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|b| Ok(serde_json::from_str(b)?)).collect()
    }
}

impl FieldStore {
    /// Refuse a write about a person this phone holds only through a referral to its team.
    pub(super) fn refuse_if_only_referred(&self, conn: &Connection, person_id: &str) -> Result<()> {
        if pending_to(conn, person_id, &self.config.user.team)? {
            return Err(ValidationError::Invalid {
                field: "person",
                reason: "they are referred to your team and not yet accepted: accept the referral first, then record".into(),
            }
            .into());
        }
        Ok(())
    }
}

/// Whether `person_id` has a referral to `team` waiting for an answer.
pub(super) fn pending_to(conn: &Connection, person_id: &str, team: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM referrals WHERE person_id = ?1 AND to_team = ?2 AND status = 'pending')",
        )?
        .query_row(params![person_id, team], |r| r.get(0))?)
}

fn status_str(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Pending => "pending",
        ReferralStatus::Accepted => "accepted",
        ReferralStatus::Declined => "declined",
    }
}

/// Re-derive the person's referral rows.
pub(super) fn replace_rows(
    tx: &Transaction<'_>,
    person_id: &str,
    views: &[ReferralView],
) -> Result<()> {
    delete_rows(tx, person_id)?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO referrals (person_id, referral_id, from_team, to_team, status, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for v in views {
        ins.execute(params![
            person_id,
            v.referral.id,
            v.referral.from_team,
            v.referral.to_team,
            status_str(v.status),
            serde_json::to_string(v)?
        ])?;
    }
    Ok(())
}

pub(super) fn delete_rows(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM referrals WHERE person_id = ?1")?
        .execute([person_id])?;
    Ok(())
}

#[cfg(test)]
mod tests;
