//! Tell it once (issue 14 item 6, layout 6): a person registered separately by two teams (or
//! twice by one) is flagged as a possible duplicate in **both** records, and a clinician or case
//! worker decides: the same person (the two records are kept and linked) or not the same (the
//! flag is settled). Both are entries of the demographics document, so every team holding either
//! record sees them.
//!
//! | entry | key | written by |
//! |---|---|---|
//! | [`PossibleDuplicate`]: the other record's id and team, and what matched | `duplicate:<id>` | the server only (it alone sees both teams' registrations) |
//! | [`RecordLink`]: same person, or not the same, with a note | `record_link:<id>` | a clinician or case worker; the server copies it into the other record (`mirrored_from`) |
//!
//! A flag's id is worked out from the two person ids and what matched, so both records carry
//! the same id and a second server round writes nothing new.

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

use super::edit::{Delta, Edit};
use super::layout::{self, key, DUPLICATE, RECORD_LINK};
use super::model::*;
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

/// What two registrations had in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DuplicateMatch {
    NhsNumber,
    /// The same name, date of birth and postcode (advice clients often have no NHS number).
    NameDateOfBirthPostcode,
}

impl DuplicateMatch {
    pub fn label(&self) -> &'static str {
        match self {
            DuplicateMatch::NhsNumber => "the same NHS number",
            DuplicateMatch::NameDateOfBirthPostcode => "the same name, date of birth and postcode",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            DuplicateMatch::NhsNumber => "nhs",
            DuplicateMatch::NameDateOfBirthPostcode => "name_dob_postcode",
        }
    }
}

/// The keys a registration is matched on: the NHS number (digits only), and the family name,
/// given name, date of birth and postcode together (case, spaces and punctuation aside). A
/// registration without a date of birth or postcode has only its NHS number, if any.
pub fn identity_keys(d: &Demographics) -> Vec<(DuplicateMatch, String)> {
    let mut out = Vec::new();
    if let Some(n) = &d.nhs_number {
        let digits: String = n.chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() == 10 {
            out.push((DuplicateMatch::NhsNumber, digits));
        }
    }
    let letters = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let postcode = d.address.as_ref().map(|a| letters(&a.postcode));
    if let (Some(born), Some(pc)) = (d.date_of_birth, postcode.filter(|p| !p.is_empty())) {
        let (family, given) = (letters(&d.family_name), letters(&d.given_name));
        if !family.is_empty() && !given.is_empty() {
            out.push((
                DuplicateMatch::NameDateOfBirthPostcode,
                format!("{family}|{given}|{born}|{pc}"),
            ));
        }
    }
    out
}

/// A possible duplicate of this record (server-written, immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PossibleDuplicate {
    pub id: String,
    /// The other record.
    pub other_person_id: String,
    /// The teams whose caseload the other record is on when flagged (none: on no caseload).
    #[serde(default)]
    pub other_teams: Vec<String>,
    pub matched_on: DuplicateMatch,
    pub author: Author,
}

/// The decision on a possible duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum LinkDecision {
    /// The same person: both records are kept and linked.
    SamePerson,
    /// Two people: the flag is settled.
    NotTheSame,
}

impl LinkDecision {
    pub fn label(&self) -> &'static str {
        match self {
            LinkDecision::SamePerson => "the same person",
            LinkDecision::NotTheSame => "not the same person",
        }
    }
}

/// A clinician's or case worker's decision on a flag (immutable; the latest counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RecordLink {
    pub id: String,
    pub duplicate_id: String,
    pub other_person_id: String,
    pub decision: LinkDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set on the server's copy in the other record: the id of the decision it copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrored_from: Option<String>,
    /// Who decided (on the server's copy too: the clinician, as recorded).
    pub decided_by: String,
    pub author: Author,
}

/// A flag with the decision that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DuplicateView {
    pub person_id: String,
    pub flag: PossibleDuplicate,
    pub decision: Option<RecordLink>,
}

impl DuplicateView {
    /// Flagged and not yet decided.
    pub fn open(&self) -> bool {
        self.decision.is_none()
    }

    /// "Possibly the same person as one registered by team ca-hyde (the same NHS number)".
    pub fn words(&self) -> String {
        let teams = if self.flag.other_teams.is_empty() {
            "on no caseload".to_string()
        } else {
            format!("on the caseload of {}", self.flag.other_teams.join(", "))
        };
        match &self.decision {
            None => format!(
                "Possibly the same person as another record {teams} ({}): decide whether they are the same",
                self.flag.matched_on.label()
            ),
            Some(d) => format!(
                "Linked to another record {teams}: {} (decided by {})",
                d.decision.label(),
                d.decided_by
            ),
        }
    }
}

impl RecordLink {
    pub fn check(&self) -> std::result::Result<(), ValidationError> {
        if let Some(n) = &self.note {
            text("note", n)?;
        }
        short("decided by", &self.decided_by)?;
        short("duplicate", &self.duplicate_id)?;
        short("other record", &self.other_person_id)
    }
}

/// The flag id both records carry: from the two person ids (in order), what matched and when
/// the server flagged them (it writes both flags in one round).
pub fn flag_id(
    a: &str,
    b: &str,
    matched_on: DuplicateMatch,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    super::home::derived_id(
        "duplicate",
        &format!("{lo}\u{0}{hi}\u{0}{}", matched_on.code()),
        at,
    )
}

/// Every flag of the record with its latest decision.
pub fn duplicates(person_id: &str, doc: &AutoCommit) -> Result<Vec<DuplicateView>> {
    let flags: Vec<PossibleDuplicate> = layout::entries(doc, DUPLICATE)?;
    let mut links: Vec<RecordLink> = layout::entries(doc, RECORD_LINK)?;
    links.sort_by(|a, b| (a.author.at, &a.id).cmp(&(b.author.at, &b.id)));
    Ok(flags
        .into_iter()
        .map(|flag| DuplicateView {
            person_id: person_id.to_string(),
            decision: links
                .iter()
                .rev()
                .find(|l| l.duplicate_id == flag.id)
                .cloned(),
            flag,
        })
        .collect())
}

/// Whether the record already flags `other` on `matched_on` (the server writes a flag once).
pub fn flagged(doc: &AutoCommit, other: &str, matched_on: DuplicateMatch) -> Result<bool> {
    let flags: Vec<PossibleDuplicate> = layout::entries(doc, DUPLICATE)?;
    Ok(flags
        .iter()
        .any(|f| f.other_person_id == other && f.matched_on == matched_on))
}

/// The server's flag (called by the server only; its stamp makes it the server's).
pub fn note_duplicate(doc: &mut AutoCommit, flag: &PossibleDuplicate) -> Result<String> {
    layout::put_json(doc, &key(DUPLICATE, &flag.id), flag)?;
    Ok(format!(
        "flagged a possible duplicate: another record has {}",
        flag.matched_on.label()
    ))
}

/// The server's copy into the other record of a decision taken on `from_person`'s record.
pub fn mirror_link(
    doc: &mut AutoCommit,
    link: &RecordLink,
    from_person: &str,
    author: &Author,
) -> Result<String> {
    let copy = RecordLink {
        id: super::home::derived_id("record_link", &link.id, link.author.at),
        other_person_id: from_person.to_string(),
        mirrored_from: Some(link.id.clone()),
        author: author.clone(),
        ..link.clone()
    };
    layout::put_json(doc, &key(RECORD_LINK, &copy.id), &copy)?;
    Ok(format!(
        "copied a decision on a possible duplicate: {}",
        link.decision.label()
    ))
}

/// Decide on a flag of this record: the same person (linked) or not the same.
pub fn link_records(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    duplicate_id: &str,
    decision: LinkDecision,
    note: Option<String>,
) -> Result<Edit<RecordLink>> {
    let Some(view) = duplicates(person_id, doc)?
        .into_iter()
        .find(|v| v.flag.id == duplicate_id)
    else {
        return Err(Error::NotFound {
            what: "possible duplicate",
            id: duplicate_id.to_string(),
        });
    };
    let l = RecordLink {
        id: new_id(),
        duplicate_id: duplicate_id.to_string(),
        other_person_id: view.flag.other_person_id.clone(),
        decision,
        note: note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()),
        mirrored_from: None,
        decided_by: format!("{} ({})", author.display_name, author.role.label()),
        author: author.clone(),
    };
    l.check()?;
    layout::put_json(doc, &key(RECORD_LINK, &l.id), &l)?;
    let summary = format!("decided a possible duplicate is {}", decision.label());
    Ok(Edit {
        value: l,
        summary,
        deltas: vec![Delta::Duplicates(duplicates(person_id, doc)?)],
    })
}

#[cfg(test)]
mod tests;
