//! Referrals between Doorstep teams (issue 14 item 5, layout 6): district nursing, the virtual
//! ward, Citizens Advice and allied-health therapy teams refer a person to one another without
//! re-typing them. Both entries live in the person's **demographics** document, the one every
//! team holding the person shares, so the referrer sees the answer and the receiving team sees
//! the referral with the demographics before it has accepted.
//!
//! | entry | key |
//! |---|---|
//! | [`Referral`]: to which team, why, how urgent, what the receiving team may see | `referral:<id>` |
//! | [`ReferralAnswer`]: accepted, or declined with the reason | `referral_answer:<id>` |
//!
//! What a referral does to the caseloads is the server's (`doorstep_server::sync`): until it is
//! accepted the receiving team's devices hold the demographics and the referral only; accepted,
//! the person is on both caseloads with the compartments the referral shares (within consent
//! and the roles' access); declined, the receiving team's devices purge them. The first answer
//! the server receives counts; a second is refused with who answered first.

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

use super::edit::{Delta, Edit};
use super::layout::{self, key, REFERRAL, REFERRAL_ANSWER};
use super::model::*;
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

/// How soon the receiving team should act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ReferralUrgency {
    Routine,
    Urgent,
    /// To be seen today.
    SameDay,
}

impl ReferralUrgency {
    pub fn label(&self) -> &'static str {
        match self {
            ReferralUrgency::Routine => "routine",
            ReferralUrgency::Urgent => "urgent",
            ReferralUrgency::SameDay => "same day",
        }
    }
}

/// What the referring clinician or case worker enters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReferralInput {
    /// The receiving team's id ("ca-hyde").
    pub to_team: String,
    pub reason: String,
    pub urgency: ReferralUrgency,
    /// The compartments the receiving team may see once it accepts, besides the demographics
    /// (always shared), and only as far as consent and its roles allow.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub shares: Vec<Compartment>,
}

/// A referral as recorded (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Referral {
    pub id: String,
    pub from_team: String,
    pub to_team: String,
    pub reason: String,
    pub urgency: ReferralUrgency,
    #[serde(default)]
    pub shares: Vec<Compartment>,
    pub author: Author,
}

/// Accepted, or declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ReferralDecision {
    Accepted,
    Declined,
}

impl ReferralDecision {
    pub fn label(&self) -> &'static str {
        match self {
            ReferralDecision::Accepted => "accepted",
            ReferralDecision::Declined => "declined",
        }
    }
}

/// The receiving team's answer (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReferralAnswer {
    pub id: String,
    pub referral_id: String,
    pub decision: ReferralDecision,
    /// Required to decline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The answering team (the referral's `to_team`).
    pub team: String,
    pub author: Author,
}

/// Where a referral stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    Pending,
    Accepted,
    Declined,
}

/// A referral with its answer, as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReferralView {
    pub person_id: String,
    pub referral: Referral,
    pub status: ReferralStatus,
    /// The answer that counts: the earliest (the server refuses later ones, so a second shows
    /// only on the phone that wrote it until its next sync).
    pub answer: Option<ReferralAnswer>,
}

/// A team id as the server's admin accepts it: 1–64 letters, digits, '-', '_' or '.'.
fn check_team(field: &'static str, id: &str) -> std::result::Result<(), ValidationError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Invalid {
            field,
            reason: format!(
                "'{id}' is not a team id (1–64 letters, digits, '-', '_' or '.'): choose the team from the list"
            ),
        })
    }
}

impl Referral {
    /// The rules the edit function and the server's validator both apply.
    pub fn check(&self) -> std::result::Result<(), ValidationError> {
        check_team("receiving team", &self.to_team)?;
        check_team("referring team", &self.from_team)?;
        if self.to_team == self.from_team {
            return Err(ValidationError::Invalid {
                field: "receiving team",
                reason: format!(
                    "{} is the person's own team: a referral goes to another team",
                    self.to_team
                ),
            });
        }
        required_text("reason", &self.reason, "say why the person is referred")?;
        if self.shares.contains(&Compartment::Demographics) {
            return Err(ValidationError::Invalid {
                field: "shares",
                reason:
                    "the demographics are always shared: list only the clinical or advice record"
                        .into(),
            });
        }
        Ok(())
    }
}

impl ReferralAnswer {
    pub fn check(&self) -> std::result::Result<(), ValidationError> {
        check_team("answering team", &self.team)?;
        match (self.decision, self.reason.as_deref()) {
            (ReferralDecision::Declined, None) => Err(ValidationError::MissingField {
                field: "reason",
                hint: "say why the referral is declined, so the referrer can act on it",
            }),
            (_, Some(r)) => text("reason", r),
            (ReferralDecision::Accepted, None) => Ok(()),
        }
    }
}

/// Every referral of the person with its answer.
pub fn referrals(person_id: &str, doc: &AutoCommit) -> Result<Vec<ReferralView>> {
    let all: Vec<Referral> = layout::entries(doc, REFERRAL)?;
    let mut answers: Vec<ReferralAnswer> = layout::entries(doc, REFERRAL_ANSWER)?;
    answers.sort_by(|a, b| (a.author.at, &a.id).cmp(&(b.author.at, &b.id)));
    Ok(all
        .into_iter()
        .map(|r| {
            let answer = answers.iter().find(|a| a.referral_id == r.id).cloned();
            let status = match answer.as_ref().map(|a| a.decision) {
                None => ReferralStatus::Pending,
                Some(ReferralDecision::Accepted) => ReferralStatus::Accepted,
                Some(ReferralDecision::Declined) => ReferralStatus::Declined,
            };
            ReferralView {
                person_id: person_id.to_string(),
                referral: r,
                status,
                answer,
            }
        })
        .collect())
}

fn projected<T>(person_id: &str, doc: &AutoCommit, value: T, summary: String) -> Result<Edit<T>> {
    Ok(Edit {
        value,
        summary,
        deltas: vec![Delta::Referrals(referrals(person_id, doc)?)],
    })
}

/// Refer the person from `from_team` (the author's) to another team.
pub fn refer(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    from_team: &str,
    input: ReferralInput,
) -> Result<Edit<Referral>> {
    let mut shares = input.shares;
    shares.sort();
    shares.dedup();
    let r = Referral {
        id: new_id(),
        from_team: from_team.to_string(),
        to_team: input.to_team.trim().to_string(),
        reason: input.reason.trim().to_string(),
        urgency: input.urgency,
        shares,
        author: author.clone(),
    };
    r.check()?;
    let open = referrals(person_id, doc)?
        .into_iter()
        .any(|v| v.status == ReferralStatus::Pending && v.referral.to_team == r.to_team);
    if open {
        return Err(ValidationError::Invalid {
            field: "receiving team",
            reason: format!(
                "the person is already referred to {} and waiting for an answer",
                r.to_team
            ),
        }
        .into());
    }
    layout::put_json(doc, &key(REFERRAL, &r.id), &r)?;
    let shared: Vec<&str> = r.shares.iter().map(|c| c.as_str()).collect();
    let summary = format!(
        "referred the person to {} ({}; sharing the demographics{}{})",
        r.to_team,
        r.urgency.label(),
        if shared.is_empty() { "" } else { " and the " },
        shared.join(" and ")
    );
    projected(person_id, doc, r, summary)
}

/// Accept or decline a referral made to `team` (the author's).
pub fn answer(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    team: &str,
    referral_id: &str,
    decision: ReferralDecision,
    reason: Option<String>,
) -> Result<Edit<ReferralAnswer>> {
    let Some(view) = referrals(person_id, doc)?
        .into_iter()
        .find(|v| v.referral.id == referral_id)
    else {
        return Err(Error::NotFound {
            what: "referral",
            id: referral_id.to_string(),
        });
    };
    if view.referral.to_team != team {
        return Err(ValidationError::Invalid {
            field: "referral",
            reason: format!(
                "it was made to {}, not to your team ({team}): only that team may answer it",
                view.referral.to_team
            ),
        }
        .into());
    }
    if let Some(a) = &view.answer {
        return Err(ValidationError::Invalid {
            field: "referral",
            reason: format!(
                "it was already {} by {} on {}",
                a.decision.label(),
                a.author.display_name,
                super::schedule::local_date(a.author.at)
            ),
        }
        .into());
    }
    let a = ReferralAnswer {
        id: new_id(),
        referral_id: referral_id.to_string(),
        decision,
        reason: reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        team: team.to_string(),
        author: author.clone(),
    };
    a.check()?;
    layout::put_json(doc, &key(REFERRAL_ANSWER, &a.id), &a)?;
    let summary = format!(
        "{} the referral from {}",
        decision.label(),
        view.referral.from_team
    );
    projected(person_id, doc, a, summary)
}

#[cfg(test)]
mod tests;
