//! The Community Services Data Set activity extract (issue 15 item 4, CSDS v1.6; mapping in
//! docs/interop.md, decisions in docs/decisions/0014), sans-IO: over the clinical records of a
//! team's people, the rows of one UK local month: people (CYP001/CYP002-like), referrals
//! (CYP101-like), care contacts (CYP201-like) and care activities (CYP202-like). The server
//! reads the records (`doorstep_server::csds`), the CLI writes the CSV files ([`csv`]).
//!
//! - A team's return is what its staff recorded: episodes and visits authored by the team's
//!   users. A person on two caseloads (an accepted referral) is in each team's return with that
//!   team's own activity.
//! - The month is a Europe/London calendar month (docs/decisions/0007); a contact is in it by
//!   its local start time.
//! - Entries marked entered in error are left out (the month is extracted whole each time, so a
//!   resubmission drops them).
//! - What the record does not hold is left blank, never guessed: a referral's source and reason
//!   are free text (their code columns are blank), a care activity has no SNOMED CT procedure
//!   code, a contact's time of arrival against the professional's readiness is not recorded.

pub mod csv;
mod month;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::record::{ClinicalRecord, Demographics};

pub use month::ReportMonth;
pub use rows::{ActivityRow, ContactRow, PersonRow, ReferralRow};

/// The team the extract is made for, as the server knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsdsTeam {
    pub team_id: String,
    /// ORGANISATION IDENTIFIER (CODE OF PROVIDER), e.g. "RX101"; blank until an operator sets it.
    pub ods_code: Option<String>,
    /// SERVICE OR TEAM TYPE REFERRED TO (COMMUNITY CARE), as the operator set it.
    pub service_type: Option<String>,
    /// The user ids of the team's staff: their episodes and visits are the team's activity.
    pub staff: BTreeSet<String>,
}

/// One person's record as the extract reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CsdsPerson {
    pub person_id: String,
    pub demographics: Option<Demographics>,
    pub clinical: ClinicalRecord,
}

/// The rows of one month, each table sorted by person then date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsdsExtract {
    pub month: String,
    pub people: Vec<PersonRow>,
    pub referrals: Vec<ReferralRow>,
    pub contacts: Vec<ContactRow>,
    pub activities: Vec<ActivityRow>,
    /// What an operator should know before submitting (a team without an ODS code, people
    /// without an NHS number): one sentence each.
    pub warnings: Vec<String>,
}

/// The month's rows for `team` over `people`.
pub fn extract(team: &CsdsTeam, people: &[CsdsPerson], month: ReportMonth) -> CsdsExtract {
    let mut out = CsdsExtract {
        month: month.to_string(),
        ..Default::default()
    };
    let mut seen = BTreeSet::new();
    for p in people {
        if !seen.insert(p.person_id.as_str()) {
            continue;
        }
        let referrals = rows::referrals(team, p, month);
        let (contacts, activities) = rows::contacts(team, p, month);
        if referrals.is_empty() && contacts.is_empty() {
            continue;
        }
        out.people.push(rows::person(p));
        out.referrals.extend(referrals);
        out.contacts.extend(contacts);
        out.activities.extend(activities);
    }
    out.warnings = warnings(team, &out);
    out
}

fn warnings(team: &CsdsTeam, x: &CsdsExtract) -> Vec<String> {
    let mut w = Vec::new();
    if team.ods_code.is_none() {
        w.push(format!(
            "Team {} has no ODS code: the provider column is blank. Set it with `doorstep admin \
             set-team-profile {} --ods-code … --service-type …` before submitting.",
            team.team_id, team.team_id
        ));
    }
    if team.service_type.is_none() {
        w.push(format!(
            "Team {} has no service type: the referrals' service-type column is blank.",
            team.team_id
        ));
    }
    let no_nhs = x.people.iter().filter(|p| p.nhs_number.is_empty()).count();
    if no_nhs > 0 {
        w.push(format!(
            "{no_nhs} of {} people have no NHS number on record: trace them before submitting.",
            x.people.len()
        ));
    }
    w
}
