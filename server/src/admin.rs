//! Operator actions (`doorstep admin …`): teams, users, enrolment codes, revocation, moving a
//! person between caseloads. They act on the storage directly, from the server machine.

use doorstep_core::record::{Role, User};

use crate::auth;
use crate::error::{Result, ServerError};
use crate::storage::{CodeInfo, DeviceInfo, Storage};

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
        if tx.user_disabled(user_id)? {
            return Err(ServerError::Forbidden(format!(
                "user {user_id} is disabled: no codes can be issued for them"
            )));
        }
        tx.add_code(
            &auth::hash(&auth::normalise_code(&code)),
            user_id,
            now_ms() + CODE_TTL_MS,
        )
    })?;
    Ok(code)
}

/// Revoke a device as **lost**: nothing it sends is stored any more, and at its next sync it is
/// told to erase itself (unsent work included). The user's unused enrolment codes are cancelled
/// too (a stolen phone's owner may have a code lying about). Returns how many codes.
pub fn revoke_device(storage: &Storage, device_id: &str) -> Result<u64> {
    storage.write(|tx| {
        let Some(device) = tx.device_by_id(device_id)? else {
            return Err(ServerError::NotFound(format!("no device {device_id}")));
        };
        if !tx.revoke_device(device_id, now_ms())? {
            return Err(ServerError::NotFound(format!(
                "device {device_id} is already revoked"
            )));
        }
        tx.cancel_codes(None, Some(&device.user.id), now_ms())
    })
}

/// Retire a device (a leaver, a replaced phone): its next sync's upload is still accepted, and
/// once it has nothing left to send it is told to erase itself. The user's unused codes are
/// cancelled. Returns how many codes.
pub fn retire_device(storage: &Storage, device_id: &str) -> Result<u64> {
    storage.write(|tx| {
        let Some(device) = tx.device_by_id(device_id)? else {
            return Err(ServerError::NotFound(format!("no device {device_id}")));
        };
        if !tx.retire_device(device_id, now_ms())? {
            return Err(ServerError::NotFound(format!(
                "device {device_id} is already retired or revoked"
            )));
        }
        tx.cancel_codes(None, Some(&device.user.id), now_ms())
    })
}

/// Disable a user: every active device of theirs is retired, their unused codes cancelled, and
/// no new code can be issued or used for them. Returns the devices retired.
pub fn disable_user(storage: &Storage, user_id: &str) -> Result<Vec<String>> {
    storage.write(|tx| {
        if tx.user(user_id)?.is_none() {
            return Err(ServerError::NotFound(format!("no user {user_id}")));
        }
        if !tx.disable_user(user_id, now_ms())? {
            return Err(ServerError::Conflict(format!(
                "user {user_id} is already disabled"
            )));
        }
        tx.cancel_codes(None, Some(user_id), now_ms())?;
        let mut retired = Vec::new();
        for d in tx.user_devices(user_id)? {
            if tx.retire_device(&d, now_ms())? {
                retired.push(d);
            }
        }
        Ok(retired)
    })
}

/// Ask for a device's token to be rotated: at its next sync the server hands it a new token
/// (protocol v2's `new_token`); the old one keeps working until the phone has used the new one.
pub fn rotate_token(storage: &Storage, device_id: &str) -> Result<()> {
    if storage.write(|tx| tx.request_rotation(device_id, now_ms()))? {
        Ok(())
    } else {
        Err(ServerError::NotFound(format!(
            "no active device {device_id}"
        )))
    }
}

/// For the sync response: while a rotation is asked for and the phone has not yet used a token
/// handed to it, make a new token, keep its hash as the device's pending token (replacing one
/// handed over earlier, whose answer may never have arrived), and return it to be sent to the
/// phone. The first request with the pending token makes it the device's only token.
pub fn take_rotation(
    tx: &mut dyn crate::storage::Tx,
    device: &crate::storage::DeviceRow,
) -> Result<Option<String>> {
    if device.pending_token || !tx.rotation_requested(&device.device_id)? {
        return Ok(None);
    }
    let token = auth::new_token();
    tx.set_pending_token(&device.device_id, &auth::hash(&token))?;
    Ok(Some(token))
}

pub fn codes(storage: &Storage) -> Result<Vec<CodeInfo>> {
    storage.read(|tx| tx.codes())
}

/// Cancel one unused code, named by the id `doorstep admin codes` shows (or a prefix of it, at
/// least 8 hex digits, naming exactly one code).
pub fn cancel_code(storage: &Storage, id: &str) -> Result<()> {
    if id.len() < 8 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ServerError::BadRequest(format!(
            "code id '{id}' must be at least 8 hex digits, as `doorstep admin codes` shows it"
        )));
    }
    storage.write(|tx| {
        let matching = tx
            .codes()?
            .into_iter()
            .filter(|c| c.id.starts_with(&id.to_ascii_lowercase()))
            .count();
        if matching > 1 {
            return Err(ServerError::Conflict(format!(
                "{matching} codes start with {id}: give more digits"
            )));
        }
        match tx.cancel_codes(Some(id), None, now_ms())? {
            1 => Ok(()),
            _ => Err(ServerError::NotFound(format!(
                "no unused code {id} (it may be used or cancelled already)"
            ))),
        }
    })
}

/// Cancel every unused code of a user. Returns how many.
pub fn cancel_user_codes(storage: &Storage, user_id: &str) -> Result<u64> {
    storage.write(|tx| tx.cancel_codes(None, Some(user_id), now_ms()))
}

/// Make unused codes (of one user, or all) expire now. Returns how many.
pub fn expire_codes(storage: &Storage, user_id: Option<&str>) -> Result<u64> {
    storage.write(|tx| tx.expire_codes(user_id, now_ms()))
}

/// Move a person to another team's caseload (or onto one, if on none), off every caseload they
/// are on (after accepted referrals a person may be on several). The old teams' devices purge
/// the person at their next sync; the new team's devices receive the whole record. Returns the
/// teams the person left.
pub fn move_person(storage: &Storage, person_id: &str, to_team: &str) -> Result<Vec<String>> {
    storage.write(|tx| {
        if !tx.team_exists(to_team)? {
            return Err(ServerError::NotFound(format!("no team {to_team}")));
        }
        if !tx.person_known(person_id)? {
            return Err(ServerError::NotFound(format!(
                "the server holds nothing of person {person_id}"
            )));
        }
        let from = tx.teams_of(person_id)?;
        let mut left = Vec::new();
        for old in from.iter().filter(|t| t.as_str() != to_team) {
            let seq = tx.next_seq()?;
            tx.leave(old, person_id, seq)?;
            left.push(old.clone());
        }
        if !from.iter().any(|t| t == to_team) {
            if tx.is_pending_member(to_team, person_id)? {
                let seq = tx.next_seq()?;
                tx.leave(to_team, person_id, seq)?;
            }
            let seq = tx.next_seq()?;
            tx.join(to_team, person_id, seq)?;
        }
        Ok(left)
    })
}

/// Take a person off every caseload they are on (discharged, moved away). Returns the teams.
pub fn remove_person(storage: &Storage, person_id: &str) -> Result<Vec<String>> {
    storage.write(|tx| {
        let teams = tx.teams_of(person_id)?;
        if teams.is_empty() {
            return Err(ServerError::NotFound(format!(
                "person {person_id} is on no caseload"
            )));
        }
        for team in &teams {
            let seq = tx.next_seq()?;
            tx.leave(team, person_id, seq)?;
        }
        Ok(teams)
    })
}

pub fn devices(storage: &Storage) -> Result<Vec<DeviceInfo>> {
    storage.read(|tx| tx.devices())
}

pub(crate) fn check_id(what: &str, id: &str) -> Result<()> {
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

/// Set a team's escalation routes (shown on the hub beside every escalation), checked first:
/// both written and short, hours as HH:MM-HH:MM that open before they close.
/// Set a team's ODS code and service type for national returns (the CSDS extract), checked.
pub fn set_team_profile(
    storage: &Storage,
    team_id: &str,
    ods_code: &str,
    service_type: &str,
) -> Result<crate::storage::TeamProfile> {
    use doorstep_core::record::dictionary::{provider_code, service_type_code};
    let bad = |e: doorstep_core::ValidationError| ServerError::BadRequest(e.to_string());
    let profile = crate::storage::TeamProfile {
        ods_code: provider_code(ods_code).map_err(bad)?,
        service_type: service_type_code(service_type).map_err(bad)?,
    };
    storage.write(|tx| {
        if !tx.team_exists(team_id)? {
            return Err(ServerError::NotFound(format!(
                "no team {team_id}: create it first"
            )));
        }
        tx.set_team_profile(team_id, &profile, now_ms())
    })?;
    Ok(profile)
}

pub fn set_escalation_routes(
    storage: &Storage,
    team_id: &str,
    in_hours: &str,
    out_of_hours: &str,
    hours: &str,
    weekends: bool,
) -> Result<doorstep_core::clinical::routes::EscalationRoutes> {
    use doorstep_core::clinical::routes::{parse_hours, EscalationRoutes};
    let bad = |e: doorstep_core::ValidationError| ServerError::BadRequest(e.to_string());
    let (opens, closes) = parse_hours(hours).map_err(bad)?;
    let routes = EscalationRoutes {
        in_hours: in_hours.trim().to_string(),
        out_of_hours: out_of_hours.trim().to_string(),
        opens,
        closes,
        weekends,
    };
    routes.check().map_err(bad)?;
    storage.write(|tx| {
        if !tx.team_exists(team_id)? {
            return Err(ServerError::NotFound(format!(
                "no team {team_id}: create it first"
            )));
        }
        tx.set_escalation_routes(team_id, &routes, now_ms())
    })?;
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStorage;

    fn setup() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap());
        create_team(&s, "t", "Team").unwrap();
        create_user(&s, "u", "Ann", Role::DistrictNurse, "t").unwrap();
        s.write(|tx| {
            tx.add_device("d1", "u", &auth::hash("old"), 1)?;
            tx.add_device("d2", "u", &auth::hash("two"), 1)
        })
        .unwrap();
        (dir, s)
    }

    /// rotate-token: nothing happens until the sync asks; then one new token, pending until
    /// the phone uses it; the old one works meanwhile.
    #[test]
    fn token_rotation_hands_over_one_pending_token() {
        let (_d, s) = setup();
        let device = s
            .read(|tx| tx.device_by_token(&auth::hash("old")))
            .unwrap()
            .unwrap();
        assert_eq!(s.write(|tx| take_rotation(tx, &device)).unwrap(), None);
        rotate_token(&s, "d1").unwrap();
        assert!(matches!(
            rotate_token(&s, "nope"),
            Err(ServerError::NotFound(_))
        ));
        let lost = s.write(|tx| take_rotation(tx, &device)).unwrap().unwrap();
        // The answer carrying it never arrived: the next sync (with the old token) gets another,
        // and the first no longer works.
        let token = s.write(|tx| take_rotation(tx, &device)).unwrap().unwrap();
        assert_ne!(lost, token);
        assert!(s
            .read(|tx| tx.device_by_token(&auth::hash(&lost)))
            .unwrap()
            .is_none());
        let via_new = s
            .read(|tx| tx.device_by_token(&auth::hash(&token)))
            .unwrap()
            .unwrap();
        assert!(via_new.pending_token);
        assert!(s
            .read(|tx| tx.device_by_token(&auth::hash("old")))
            .unwrap()
            .is_some());
        // Used once: it is the only token, and nothing more is handed over.
        s.write(|tx| tx.promote_pending_token("d1")).unwrap();
        assert!(s
            .read(|tx| tx.device_by_token(&auth::hash("old")))
            .unwrap()
            .is_none());
        assert_eq!(s.write(|tx| take_rotation(tx, &device)).unwrap(), None);
    }

    /// Revoking (lost) or retiring a device cancels its user's unused codes; disabling a user
    /// retires every device and no code can be issued for them.
    #[test]
    fn revoke_retire_and_disable_cancel_codes() {
        let (_d, s) = setup();
        let code = issue_code(&s, "u").unwrap();
        issue_code(&s, "u").unwrap();
        assert_eq!(revoke_device(&s, "d1").unwrap(), 2);
        assert!(matches!(
            revoke_device(&s, "d1"),
            Err(ServerError::NotFound(_))
        ));
        let h = auth::hash(&auth::normalise_code(&code));
        assert_eq!(s.write(|tx| tx.take_code(&h, now_ms())).unwrap(), None);
        issue_code(&s, "u").unwrap();
        assert_eq!(retire_device(&s, "d2").unwrap(), 1);
        assert!(matches!(
            retire_device(&s, "d2"),
            Err(ServerError::NotFound(_))
        ));
        create_user(&s, "v", "Bob", Role::DistrictNurse, "t").unwrap();
        s.write(|tx| tx.add_device("d3", "v", "h3", 1)).unwrap();
        issue_code(&s, "v").unwrap();
        assert_eq!(disable_user(&s, "v").unwrap(), vec!["d3".to_string()]);
        assert!(matches!(
            issue_code(&s, "v"),
            Err(ServerError::Forbidden(_))
        ));
        assert!(codes(&s)
            .unwrap()
            .iter()
            .filter(|c| c.user_id == "v")
            .all(|c| c.cancelled_ms.is_some()));
        assert!(matches!(
            cancel_code(&s, "xyz"),
            Err(ServerError::BadRequest(_))
        ));
        issue_code(&s, "u").unwrap();
        let id = codes(&s)
            .unwrap()
            .into_iter()
            .find(|c| c.user_id == "u" && c.used_ms.is_none() && c.cancelled_ms.is_none())
            .unwrap()
            .id;
        cancel_code(&s, &id).unwrap();
        assert!(matches!(
            cancel_code(&s, &id),
            Err(ServerError::NotFound(_))
        ));
        issue_code(&s, "u").unwrap();
        assert_eq!(expire_codes(&s, Some("u")).unwrap(), 1);
    }
}
