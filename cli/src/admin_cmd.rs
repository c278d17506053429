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
    IssueCode { user_id: String },
    /// Revoke a device: it erases itself at its next sync.
    Revoke { device_id: String },
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
        AdminAction::IssueCode { user_id } => {
            let code = admin::issue_code(storage, &user_id).map_err(e)?;
            println!("{code}");
        }
        AdminAction::Revoke { device_id } => {
            admin::revoke_device(storage, &device_id).map_err(e)?;
            println!("revoked {device_id}: it will erase its records at its next sync");
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
