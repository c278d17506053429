//! The outreach report's clients from the server's database (issue 14): everyone who is or was
//! on a team's caseload, each advice document loaded by `docs::replay` (its stored snapshot and
//! the changes after it) and read with the same `core::record::read` functions the phone uses.
//! The report itself is `doorstep_core::record::outreach_report`.

use doorstep_core::record::outreach_report::OutreachClient;
use doorstep_core::record::{read, Compartment};

use crate::docs::replay;
use crate::error::{Result, ServerError};
use crate::storage::{Storage, Tx};

/// The advice records of everyone who is or was on `team`'s caseload (those with none left out).
pub fn outreach_clients(storage: &Storage, team: &str) -> Result<Vec<OutreachClient>> {
    storage.read(|tx| {
        if !tx.team_exists(team)? {
            return Err(ServerError::NotFound(format!(
                "there is no team '{team}' (create it with `doorstep admin create-team`)"
            )));
        }
        let mut out = Vec::new();
        for person_id in tx.ever_members(team)? {
            if let Some(c) = client(tx, team, person_id)? {
                out.push(c);
            }
        }
        Ok(out)
    })
}

fn client(tx: &mut dyn Tx, team: &str, person_id: String) -> Result<Option<OutreachClient>> {
    let (advice, _) = replay(tx, &person_id, Compartment::Advice)?;
    if advice.is_empty() {
        return Ok(None);
    }
    let unreadable = |e: doorstep_core::Error| {
        ServerError::Storage(format!("the record of {person_id} cannot be read: {e}"))
    };
    let advice = read::advice(&advice).map_err(unreadable)?;
    let (demographics, _) = replay(tx, &person_id, Compartment::Demographics)?;
    let name = read::demographics(&demographics)
        .map_err(unreadable)?
        .map(|d| format!("{} {}", d.given_name, d.family_name));
    Ok(Some(OutreachClient {
        person_id,
        name,
        team: team.to_string(),
        advice,
    }))
}
