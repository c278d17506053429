//! What the health team sees of a person's consent to share their advice record (issue 14,
//! items 1 and 6): the server writes it into the clinical record, as its own principal
//! (docs/decisions/0011), whenever the consent the advice record holds changes — so a withdrawal
//! stays visible to the health team as "consent withdrawn on D" after the advice record has
//! left their phones, and the advice worker (who holds the advice record) sees the same consent
//! there. Sans-IO: the server calls [`write`]; phones read `ClinicalRecord::advice_consent`.

use automerge::AutoCommit;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::edit::{edit, Edit};
use super::layout::{self, ADVICE_CONSENT};
use super::model::*;
use crate::error::Result;

/// The consent to share as the health team sees it (a register: the latest the server wrote).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdviceConsentNote {
    /// Given (the health team may read the advice record) or not.
    pub consented: bool,
    /// Two advice workers recorded different answers at once: counted as not given until one
    /// of them resolves it.
    pub in_conflict: bool,
    /// When the advice worker recorded the consent that counts (the latest).
    #[cfg_attr(feature = "uniffi", uniffi(name = "recorded_at_ms"))]
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it ("Joe Brennan, advice worker").
    pub recorded_by: String,
    /// The server process that wrote this note, and when.
    pub author: Author,
}

impl AdviceConsentNote {
    /// "Consent to share the advice record withdrawn on 2 Dec 2026 (recorded by Joe Brennan)".
    pub fn words(&self) -> String {
        let what = match (self.consented, self.in_conflict) {
            (_, true) => "in conflict (two answers recorded at once; counted as not given)",
            (true, false) => "given",
            (false, false) => "withdrawn or not given",
        };
        format!(
            "Consent to share the advice record {what} on {} (recorded by {})",
            self.recorded_at.format("%-d %b %Y"),
            self.recorded_by
        )
    }
}

/// The note for the consent values an advice document holds (`None` when it holds none).
pub fn note_of(values: &[ConsentToShare], author: &Author) -> Option<AdviceConsentNote> {
    let latest = values.iter().max_by_key(|v| v.author.at)?;
    let in_conflict = values.iter().any(|v| v.consented != latest.consented);
    Some(AdviceConsentNote {
        consented: latest.consented && !in_conflict,
        in_conflict,
        recorded_at: latest.author.at,
        recorded_by: format!(
            "{}, {}",
            latest.author.display_name,
            latest.author.role.label()
        ),
        author: author.clone(),
    })
}

/// Write the note into a clinical document unless it already says the same; the edit's value is
/// the note written (`None`: nothing to commit).
pub fn write(
    doc: &mut AutoCommit,
    note: AdviceConsentNote,
) -> Result<Edit<Option<AdviceConsentNote>>> {
    let held: Option<AdviceConsentNote> = layout::get_json(doc, ADVICE_CONSENT).unwrap_or(None);
    let same = held.as_ref().is_some_and(|h| {
        (h.consented, h.in_conflict, h.recorded_at)
            == (note.consented, note.in_conflict, note.recorded_at)
    });
    if same {
        return edit(None, String::new(), Vec::new());
    }
    layout::put_json(doc, ADVICE_CONSENT, &note)?;
    let summary = format!("noted for the health team: {}", note.words());
    edit(Some(note), summary, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::home;
    use crate::record::layout::AuditStamp;
    use crate::record::validate;
    use crate::record::ward::tests::clinician;

    fn consent(consented: bool, minutes: i64) -> ConsentToShare {
        let mut a = clinician("phone-adviser", minutes);
        a.role = Role::AdviceWorker;
        a.display_name = "Joe Brennan".into();
        ConsentToShare {
            consented,
            author: a,
        }
    }

    fn commit(doc: &mut AutoCommit, stamp: &AuditStamp) -> automerge::Change {
        crate::testing::commit_stamped(doc, stamp)
    }

    #[test]
    fn a_withdrawal_is_noted_once_with_who_and_when_and_a_conflict_counts_as_not_given() {
        let server = home::server_author("test-1", Utc::now());
        let mut doc = AutoCommit::new();
        let given = note_of(&[consent(true, -60)], &server).unwrap();
        assert!(given.consented && !given.in_conflict);
        assert!(write(&mut doc, given.clone()).unwrap().value.is_some());
        let change = commit(&mut doc, &home::server_stamp(&server, "consent"));
        validate::check_change(Compartment::Clinical, &change).unwrap();
        assert!(
            write(&mut doc, given).unwrap().value.is_none(),
            "the same: nothing"
        );
        let withdrawn = note_of(&[consent(false, -5)], &server).unwrap();
        assert!(withdrawn
            .words()
            .starts_with("Consent to share the advice record withdrawn or not given on"));
        assert!(withdrawn
            .words()
            .ends_with("(recorded by Joe Brennan, advice worker)"));
        write(&mut doc, withdrawn).unwrap();
        commit(&mut doc, &home::server_stamp(&server, "consent"));
        let record = crate::record::read::clinical("p", &doc).unwrap();
        assert_eq!(record.advice_consent.map(|n| n.consented), Some(false));
        let both = note_of(&[consent(true, -1), consent(false, -2)], &server).unwrap();
        assert!(both.in_conflict && !both.consented);
        assert_eq!(note_of(&[], &server), None);
    }

    #[test]
    fn only_the_server_writes_the_note() {
        let nurse = clinician("phone-1", 0);
        let mut doc = AutoCommit::new();
        let forged = note_of(&[consent(true, -1)], &nurse).unwrap();
        write(&mut doc, forged).unwrap();
        let change = commit(&mut doc, &AuditStamp::new(&nurse, "forged"));
        let err = validate::check_change(Compartment::Clinical, &change).unwrap_err();
        assert_eq!(err.code(), "forbidden", "{err}");
    }
}
