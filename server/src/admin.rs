//! Operator actions (`doorstep admin …`): teams, users, enrolment codes, revocation, moving a
//! person between caseloads. They act on the storage directly, from the server machine.

use doorstep_core::record::{Role, User};

use crate::auth;
use crate::error::{Result, ServerError};
use crate::storage::{DeviceInfo, Storage};

/// How long an enrolment code stays valid.
pub const CODE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn create_team(storage: &Storage, team_id: &str, name: &str) -> Result<()> {
    check_id("team id", team_id)?;
    storage.write(|tx| {
        if tx.team_exists(team_id)? {
            return Err(ServerError::Conflict(format!(
                "team {team_id} already exists"
            )));
        }
        tx.create_team(team_id, name)
    })
}

pub fn create_user(
    storage: &Storage,
    user_id: &str,
    display_name: &str,
    role: Role,
    team_id: &str,
) -> Result<User> {
    check_id("user id", user_id)?;
    let user = User {
        id: user_id.to_string(),
        display_name: display_name.to_string(),
        role,
        team: team_id.to_string(),
    };
    storage.write(|tx| {
        if !tx.team_exists(team_id)? {
            return Err(ServerError::NotFound(format!(
                "no team {team_id}: create it first"
            )));
        }
        if tx.user(user_id)?.is_some() {
            return Err(ServerError::Conflict(format!(
                "user {user_id} already exists"
            )));
        }
        tx.create_user(&user)
    })?;
    Ok(user)
}

/// A one-time enrolment code for a user's new device. Shown once; stored hashed.
pub fn issue_code(storage: &Storage, user_id: &str) -> Result<String> {
    let code = auth::new_code();
    storage.write(|tx| {
        if tx.user(user_id)?.is_none() {
            return Err(ServerError::NotFound(format!("no user {user_id}")));
        }
        tx.add_code(
            &auth::hash(&auth::normalise_code(&code)),
            user_id,
            now_ms() + CODE_TTL_MS,
        )
    })?;
    Ok(code)
}

/// Revoke a device: at its next sync it is told to erase itself.
pub fn revoke_device(storage: &Storage, device_id: &str) -> Result<()> {
    let changed = storage.write(|tx| tx.revoke_device(device_id, now_ms()))?;
    if changed {
        Ok(())
    } else {
        Err(ServerError::NotFound(format!(
            "no active device {device_id}"
        )))
    }
}

/// Move a person to another team's caseload (or onto one, if on none). The old team's devices
/// purge the person at their next sync; the new team's devices receive the whole record.
pub fn move_person(storage: &Storage, person_id: &str, to_team: &str) -> Result<Option<String>> {
    storage.write(|tx| {
        if !tx.team_exists(to_team)? {
            return Err(ServerError::NotFound(format!("no team {to_team}")));
        }
        if !tx.person_known(person_id)? {
            return Err(ServerError::NotFound(format!(
                "the server holds nothing of person {person_id}"
            )));
        }
        let from = tx.current_team(person_id)?;
        if from.as_deref() == Some(to_team) {
            return Ok(from);
        }
        if let Some(old) = &from {
            let seq = tx.next_seq()?;
            tx.leave(old, person_id, seq)?;
        }
        let seq = tx.next_seq()?;
        tx.join(to_team, person_id, seq)?;
        Ok(from)
    })
}

/// Take a person off their team's caseload (discharged, moved away).
pub fn remove_person(storage: &Storage, person_id: &str) -> Result<String> {
    storage.write(|tx| {
        let Some(team) = tx.current_team(person_id)? else {
            return Err(ServerError::NotFound(format!(
                "person {person_id} is on no caseload"
            )));
        };
        let seq = tx.next_seq()?;
        tx.leave(&team, person_id, seq)?;
        Ok(team)
    })
}

pub fn devices(storage: &Storage) -> Result<Vec<DeviceInfo>> {
    storage.read(|tx| tx.devices())
}

fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ServerError::BadRequest(format!(
            "{what} '{id}' must be 1–64 letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

/// The server's quarantine: counts per reason and the newest `newest` entries.
pub fn quarantine(storage: &Storage, newest: u32) -> Result<crate::quarantine::Summary> {
    storage.read(|tx| crate::quarantine::summary(tx, newest))
}
