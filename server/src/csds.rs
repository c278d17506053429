//! The CSDS extract's input from the server's database (issue 15 item 4): the team with its
//! profile and staff, and everyone who is or was on its caseload with their demographics and
//! clinical documents loaded by `docs::replay` and read with the phone's `core::record::read`.
//! The extract itself is `doorstep_core::csds::extract`, sans-IO.

use doorstep_core::csds::{CsdsPerson, CsdsTeam};
use doorstep_core::record::{read, Compartment};

use crate::docs::replay;
use crate::error::{Result, ServerError};
use crate::storage::{Storage, Tx};

/// The team and the records of everyone who is or was on its caseload (those with no clinical
/// record left out: an advice-only client is not in a health return).
pub fn csds_input(storage: &Storage, team: &str) -> Result<(CsdsTeam, Vec<CsdsPerson>)> {
    storage.read(|tx| {
        if !tx.team_exists(team)? {
            return Err(ServerError::NotFound(format!(
                "there is no team '{team}' (create it with `doorstep admin create-team`)"
            )));
        }
        let profile = tx.team_profile(team)?;
        let csds_team = CsdsTeam {
            team_id: team.to_string(),
            ods_code: profile.as_ref().map(|p| p.ods_code.clone()),
            service_type: profile.map(|p| p.service_type),
            staff: tx.team_users(team)?.into_iter().collect(),
        };
        let mut people = Vec::new();
        for person_id in tx.ever_members(team)? {
            if let Some(p) = person(tx, person_id)? {
                people.push(p);
            }
        }
        Ok((csds_team, people))
    })
}

fn person(tx: &mut dyn Tx, person_id: String) -> Result<Option<CsdsPerson>> {
    let (clinical, _) = replay(tx, &person_id, Compartment::Clinical)?;
    if clinical.is_empty() {
        return Ok(None);
    }
    let unreadable = |e: doorstep_core::Error| {
        ServerError::Storage(format!("the record of {person_id} cannot be read: {e}"))
    };
    let clinical = read::clinical(&person_id, &clinical).map_err(unreadable)?;
    let (demographics, _) = replay(tx, &person_id, Compartment::Demographics)?;
    let demographics = read::demographics(&demographics).map_err(unreadable)?;
    Ok(Some(CsdsPerson {
        person_id,
        demographics,
        clinical,
    }))
}
