//! `doorstep admin …`

use clap::Subcommand;
use doorstep_core::record::Role;
use doorstep_server::{admin, Storage};

#[derive(Subcommand)]
pub enum AdminAction {
    /// Create a team (a caseload).
    CreateTeam { team_id: String, name: String },
    /// Create a user in a team.
    CreateUser {
        user_id: String,
        #[arg(long)]
        name: String,
        /// district-nurse, virtual-ward-clinician or advice-worker
        #[arg(long)]
        role: String,
        #[arg(long)]
        team: String,
    },
    /// Issue a one-time enrolment code for a user's device (valid 7 days; shown once).
    IssueCode {
        user_id: String,
        /// How many codes (one a line), e.g. for a ward enrolling many phones.
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Revoke a device as lost: nothing it sends is stored, it erases itself at its next sync
    /// (unsent work included); the user's unused codes are cancelled.
    #[command(visible_alias = "lost")]
    Revoke { device_id: String },
    /// Retire a device (a leaver, a replaced phone): its pending upload is accepted, then it
    /// erases itself; the user's unused codes are cancelled.
    Retire { device_id: String },
    /// Disable a user: retire all their devices, cancel their codes, refuse new ones.
    DisableUser { user_id: String },
    /// Rotate a device's token: the phone gets a new one at its next sync (protocol v2); the old
    /// one works until the phone has used the new one.
    RotateToken { device_id: String },
    /// List enrolment codes (by id: the start of the code's hash; codes are never shown again).
    Codes,
    /// Cancel one unused code by its id, or every unused code of a user (--user).
    CancelCode {
        /// The id `doorstep admin codes` shows (at least 8 hex digits).
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        user: Option<String>,
    },
    /// Make unused codes expire now: all of them, or a user's (--user).
    ExpireCodes {
        #[arg(long)]
        user: Option<String>,
    },
    /// Move a person to another team's caseload.
    MovePerson { person_id: String, team_id: String },
    /// Take a person off their caseload.
    RemovePerson { person_id: String },
    /// List enrolled devices.
    Devices,
    /// Changes devices put in quarantine (refused by the server, or by a phone).
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
}

#[derive(Subcommand)]
pub enum QuarantineAction {
    /// Counts per reason (a buggy app release shows up at once), then the newest entries.
    List {
        #[arg(long, default_value_t = 20)]
        newest: u32,
    },
}

pub fn parse_role(s: &str) -> Result<Role, String> {
    match s.replace('_', "-").as_str() {
        "district-nurse" => Ok(Role::DistrictNurse),
        "virtual-ward-clinician" => Ok(Role::VirtualWardClinician),
        "advice-worker" => Ok(Role::AdviceWorker),
        other => Err(format!(
            "unknown role '{other}': use district-nurse, virtual-ward-clinician or advice-worker"
        )),
    }
}

pub fn run(storage: &Storage, action: AdminAction) -> Result<(), String> {
    let e = |e: doorstep_server::ServerError| e.to_string();
    match action {
        AdminAction::CreateTeam { team_id, name } => {
            admin::create_team(storage, &team_id, &name).map_err(e)?;
            println!("created team {team_id}");
        }
        AdminAction::CreateUser {
            user_id,
            name,
            role,
            team,
        } => {
            let role = parse_role(&role)?;
            admin::create_user(storage, &user_id, &name, role, &team).map_err(e)?;
            println!("created user {user_id} ({}) in team {team}", role.label());
        }
        AdminAction::IssueCode { user_id, count } => {
            for _ in 0..count.max(1) {
                let code = admin::issue_code(storage, &user_id).map_err(e)?;
                println!("{code}");
            }
        }
        AdminAction::Revoke { device_id } => {
            let codes = admin::revoke_device(storage, &device_id).map_err(e)?;
            println!(
                "revoked {device_id} as lost: nothing it sends is stored; it will erase its records at its next sync ({codes} unused code(s) of its user cancelled)"
            );
        }
        AdminAction::Retire { device_id } => {
            let codes = admin::retire_device(storage, &device_id).map_err(e)?;
            println!(
                "retired {device_id}: its pending upload is accepted, then it erases its records ({codes} unused code(s) of its user cancelled)"
            );
        }
        AdminAction::DisableUser { user_id } => {
            let retired = admin::disable_user(storage, &user_id).map_err(e)?;
            println!(
                "disabled {user_id}: {} device(s) retired, codes cancelled",
                retired.len()
            );
        }
        AdminAction::RotateToken { device_id } => {
            admin::rotate_token(storage, &device_id).map_err(e)?;
            println!(
                "token rotation asked for {device_id}: it receives its new token at its next sync"
            );
        }
        AdminAction::Codes => {
            let now = admin::now_ms();
            for c in admin::codes(storage).map_err(e)? {
                let state = if let Some(t) = c.used_ms {
                    format!("used {}", ms(Some(t)))
                } else if let Some(t) = c.cancelled_ms {
                    format!("cancelled {}", ms(Some(t)))
                } else if c.expires_ms <= now {
                    format!("expired {}", ms(Some(c.expires_ms)))
                } else {
                    format!("unused, expires {}", ms(Some(c.expires_ms)))
                };
                println!("{}  user {}  {state}", c.id, c.user_id);
            }
        }
        AdminAction::CancelCode { id, user } => match (id, user) {
            (Some(id), None) => {
                admin::cancel_code(storage, &id).map_err(e)?;
                println!("cancelled code {id}");
            }
            (None, Some(user)) => {
                let n = admin::cancel_user_codes(storage, &user).map_err(e)?;
                println!("cancelled {n} unused code(s) of {user}");
            }
            _ => return Err("name a code id, or --user USER".into()),
        },
        AdminAction::ExpireCodes { user } => {
            let n = admin::expire_codes(storage, user.as_deref()).map_err(e)?;
            println!("{n} unused code(s) expired");
        }
        AdminAction::MovePerson { person_id, team_id } => {
            let from = admin::move_person(storage, &person_id, &team_id).map_err(e)?;
            println!(
                "moved {person_id} from {} to {team_id}",
                from.as_deref().unwrap_or("no caseload")
            );
        }
        AdminAction::RemovePerson { person_id } => {
            let team = admin::remove_person(storage, &person_id).map_err(e)?;
            println!("removed {person_id} from the caseload of {team}");
        }
        AdminAction::Devices => {
            for d in admin::devices(storage).map_err(e)? {
                println!(
                    "{}  user {}  enrolled {}  last sync {}  {}",
                    d.device_id,
                    d.user_id,
                    ms(Some(d.enrolled_ms)),
                    ms(d.last_sync_ms),
                    if d.revoked_ms.is_some() {
                        "REVOKED"
                    } else if d.retired_ms.is_some() {
                        "RETIRED"
                    } else {
                        "active"
                    }
                );
            }
        }
        AdminAction::Quarantine {
            action: QuarantineAction::List { newest },
        } => {
            let q = admin::quarantine(storage, newest).map_err(e)?;
            let total: u64 = q.by_reason.iter().map(|(_, n)| n).sum();
            println!("{total} quarantined changes");
            for (code, n) in &q.by_reason {
                println!("  {n:>7}  {code}");
            }
            if !q.newest.is_empty() {
                println!("newest:");
            }
            for r in &q.newest {
                println!(
                    "  {}  {} {} of person {}  device {} (user {})  {}: {}  [{}]",
                    ms(Some(r.reported_ms)),
                    r.direction,
                    r.compartment.as_str(),
                    r.person_id,
                    r.device_id,
                    r.user_id,
                    r.code,
                    r.reason,
                    r.summary
                );
            }
        }
    }
    Ok(())
}

fn ms(t: Option<i64>) -> String {
    t.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "never".into())
}
