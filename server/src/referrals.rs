//! Referrals between teams on the server (issue 14 item 5, docs/outreach.md): the one way a
//! person crosses teams besides the operator's `move-person`. A referral and its answer are
//! entries of the person's demographics document (`core::record::referral`), checked there by
//! the same rules as on the phone; here the server checks what only it knows (the teams, the
//! caseloads, whether a referral was answered already) and changes the caseloads in the same
//! transaction as it stores the change:
//!
//! - a referral: the person joins the receiving team **pending** (its devices hold the
//!   demographics and the referral only; `sync::visible_documents`);
//! - accepted: the membership becomes the team's own from that change, sharing the compartments
//!   the referral names (within consent and the roles' access); the referring team keeps them;
//! - declined: the pending membership ends, and the receiving team's devices purge the person.
//!
//! The first answer the server receives counts; a later one is refused with who answered first.

use automerge::Change;
use doorstep_core::record::referral::{Referral, ReferralAnswer, ReferralDecision};
use doorstep_core::record::{validate, Compartment};

use crate::error::Result;
use crate::storage::{DeviceRow, ReferralRow, Tx};

/// A refusal: its stable code and a message a person can act on.
pub type Refusal = (&'static str, String);

/// What a change writes about referrals.
pub struct Entries {
    referrals: Vec<Referral>,
    answers: Vec<ReferralAnswer>,
}

impl Entries {
    pub fn of(compartment: Compartment, change: &Change) -> Entries {
        let (referrals, answers) = validate::referral_entries(compartment, change);
        Entries { referrals, answers }
    }

    pub fn is_empty(&self) -> bool {
        self.referrals.is_empty() && self.answers.is_empty()
    }
}

/// Whether a change is an answer from a team the person is referred to (the only thing such a
/// team may send about them before it accepts).
pub fn is_pending_answer(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    person_id: &str,
    compartment: Compartment,
    change: &Change,
) -> Result<bool> {
    Ok(validate::only_referral_answers(compartment, change)
        && tx.is_pending_member(&device.user.team, person_id)?)
}

fn shares_text(r: &Referral) -> String {
    r.shares
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The checks only the server can make, before anything is stored.
pub fn check(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    person_id: &str,
    e: &Entries,
) -> Result<Option<Refusal>> {
    let team = &device.user.team;
    for r in &e.referrals {
        if &r.from_team != team {
            return Ok(Some((
                "forged_author",
                format!(
                    "the referral says it comes from team {} but this device is on team {team}; it was not sent",
                    r.from_team
                ),
            )));
        }
        if !tx.team_exists(&r.to_team)? {
            return Ok(Some((
                "invalid_content",
                format!(
                    "there is no team '{}' on this server: check the receiving team's id with your coordinator; the referral was not sent",
                    r.to_team
                ),
            )));
        }
        if tx.is_member(&r.to_team, person_id)? {
            return Ok(Some((
                "invalid_content",
                format!(
                    "the person is already on the caseload of {}; the referral was not sent",
                    r.to_team
                ),
            )));
        }
        if tx.is_pending_member(&r.to_team, person_id)? {
            return Ok(Some((
                "invalid_content",
                format!(
                    "the person is already referred to {} and waiting for an answer; the referral was not sent",
                    r.to_team
                ),
            )));
        }
    }
    for a in &e.answers {
        if let Some(refusal) = check_answer(tx, team, person_id, a)? {
            return Ok(Some(refusal));
        }
    }
    Ok(None)
}

fn check_answer(
    tx: &mut dyn Tx,
    team: &str,
    person_id: &str,
    a: &ReferralAnswer,
) -> Result<Option<Refusal>> {
    let Some(row) = tx.referral(&a.referral_id)? else {
        return Ok(Some((
            "invalid_content",
            format!(
                "the server knows no referral {} (was it refused when sent?); the answer was not stored",
                a.referral_id
            ),
        )));
    };
    if row.person_id != person_id || row.to_team != team || a.team != team {
        return Ok(Some((
            "forbidden",
            format!(
                "the referral was made to {}, not to your team ({team}): only that team may answer it; the answer was not stored",
                row.to_team
            ),
        )));
    }
    if row.status != "pending" {
        let by = row.answered_by.unwrap_or_else(|| "a colleague".into());
        let on = row
            .answered_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| doorstep_core::record::schedule::local_date(t).to_string())
            .unwrap_or_default();
        return Ok(Some((
            "referral_answered",
            format!(
                "this referral was already {} by {by} on {on}; your answer was not stored",
                row.status
            ),
        )));
    }
    Ok(None)
}

/// The caseload changes of a stored change (`seq`), in its transaction.
pub fn apply(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    person_id: &str,
    e: &Entries,
    seq: u64,
    now_ms: i64,
) -> Result<()> {
    for r in &e.referrals {
        tx.insert_referral(&ReferralRow {
            referral_id: r.id.clone(),
            person_id: person_id.to_string(),
            from_team: r.from_team.clone(),
            to_team: r.to_team.clone(),
            shares: shares_text(r),
            status: "pending".into(),
            raised_seq: seq,
            answered_seq: None,
            answered_by: None,
            answered_ms: None,
        })?;
        tx.join_pending(&r.to_team, person_id, seq)?;
    }
    let by = format!(
        "{} ({})",
        device.user.display_name,
        device.user.role.label()
    );
    for a in &e.answers {
        let Some(row) = tx.referral(&a.referral_id)? else {
            continue;
        };
        match a.decision {
            ReferralDecision::Accepted => {
                tx.answer_referral(&row.referral_id, "accepted", seq, &by, now_ms)?;
                tx.accept_pending(&row.to_team, person_id, seq, &row.shares)?;
            }
            ReferralDecision::Declined => {
                tx.answer_referral(&row.referral_id, "declined", seq, &by, now_ms)?;
                tx.leave(&row.to_team, person_id, seq)?;
            }
        }
    }
    Ok(())
}
