//! `doorstep admin …`

use clap::Subcommand;
use doorstep_core::record::Role;
use doorstep_server::{admin, integrations, Storage};

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
    /// Create a hub account (the hub's screen at /hub): a user of the team with a password, read
    /// from standard input (one line, at least 12 characters), never from the command line.
    CreateHubUser {
        user_id: String,
        #[arg(long)]
        name: String,
        /// virtual-ward-clinician (or district-nurse)
        #[arg(long)]
        role: String,
        #[arg(long)]
        team: String,
    },
    /// Give a user a new hub password (read from standard input); their hub sessions end.
    SetHubPassword { user_id: String },
    /// Set a team's escalation routes, shown on the hub beside every escalation: who to call in
    /// hours and out of hours, and when in hours is (London time).
    SetEscalationRoutes {
        #[arg(long)]
        team: String,
        /// e.g. "Call the hub on 01422 555 010, then the responsible clinician"
        #[arg(long)]
        in_hours: String,
        /// e.g. "Out-of-hours GP via 111 option 3; 999 for NEWS2 7 or more"
        #[arg(long)]
        out_of_hours: String,
        /// In hours, HH:MM-HH:MM London time
        #[arg(long, default_value = "08:00-20:00")]
        hours: String,
        /// Saturdays and Sundays are in hours too (a seven-day service)
        #[arg(long)]
        weekends: bool,
    },
    /// Set what national returns name a team by: its ODS code and CSDS service type.
    SetTeamProfile {
        team_id: String,
        /// ORGANISATION IDENTIFIER (CODE OF PROVIDER): the trust's or site's ODS code, e.g. RX101
        #[arg(long)]
        ods_code: String,
        /// SERVICE OR TEAM TYPE REFERRED TO (COMMUNITY CARE), from the NHS Data Dictionary
        #[arg(long)]
        service_type: String,
    },
    /// Who viewed a person's record on the hub, and when (the hub's audit).
    HubViews { person_id: String },
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
    /// Create a credential for a system integration serving a team: a remote-monitoring
    /// service (posts readings) or a FHIR reader such as the trust's EPR (reads the team's
    /// records: the demographics and clinical record until `set-integration-scope` says
    /// otherwise). Its token is printed once and stored only as a hash.
    CreateIntegration {
        /// monitoring or fhir
        #[arg(long)]
        kind: String,
        /// The supplier and service ("Acme oximetry for the Halifax virtual ward").
        #[arg(long)]
        name: String,
        #[arg(long)]
        team: String,
    },
    /// Revoke an integration's credential: its token stops working at once.
    RevokeIntegration { integration_id: String },
    /// List integrations.
    Integrations,
    /// Register a home monitor (by serial) to a person, for an integration.
    RegisterMonitor {
        #[arg(long)]
        integration: String,
        #[arg(long)]
        person: String,
        #[arg(long)]
        serial: String,
    },
    /// End a home monitor's registration: its later readings are refused.
    UnregisterMonitor {
        #[arg(long)]
        integration: String,
        #[arg(long)]
        serial: String,
    },
    /// Set which compartments a FHIR integration may read of a team's caseload (replacing
    /// what it had for that team); `--compartments none` takes the team out of its scope. The
    /// advice record is read only where the person consents to share.
    SetIntegrationScope {
        integration_id: String,
        #[arg(long)]
        team: String,
        /// Comma-separated: demographics (always), clinical, advice; or none.
        #[arg(long)]
        compartments: String,
    },
    /// The audit of FHIR reads (every search and export, answered or refused), oldest first.
    FhirReads {
        /// Only the reads of this person's record.
        #[arg(long)]
        person: Option<String>,
    },
    /// Readings refused at ingest, counted by reason.
    IngestRefusals,
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
        AdminAction::CreateHubUser {
            user_id,
            name,
            role,
            team,
        } => {
            let role = parse_role(&role)?;
            let password = password_from_stdin()?;
            doorstep_server::hub::session::create_hub_user(
                storage, &user_id, &name, role, &team, &password,
            )
            .map_err(e)?;
            println!(
                "created hub user {user_id} ({}) in team {team}: they sign in at /hub",
                role.label()
            );
        }
        AdminAction::SetHubPassword { user_id } => {
            let password = password_from_stdin()?;
            let ended =
                doorstep_server::hub::session::set_hub_password(storage, &user_id, &password)
                    .map_err(e)?;
            println!("set a new hub password for {user_id}; {ended} hub session(s) ended");
        }
        AdminAction::SetTeamProfile {
            team_id,
            ods_code,
            service_type,
        } => {
            let p = doorstep_server::admin::set_team_profile(
                storage,
                &team_id,
                &ods_code,
                &service_type,
            )
            .map_err(e)?;
            println!(
                "team {team_id}: ODS code {}, service type {}",
                p.ods_code, p.service_type
            );
        }
        AdminAction::SetEscalationRoutes {
            team,
            in_hours,
            out_of_hours,
            hours,
            weekends,
        } => {
            let routes = doorstep_server::admin::set_escalation_routes(
                storage,
                &team,
                &in_hours,
                &out_of_hours,
                &hours,
                weekends,
            )
            .map_err(e)?;
            println!(
                "escalation routes of team {team} set: in hours ({}) and out of hours",
                routes.hours_words()
            );
        }
        AdminAction::HubViews { person_id } => {
            let views = storage.read(|tx| tx.hub_views(&person_id)).map_err(e)?;
            if views.is_empty() {
                println!("nobody has viewed {person_id} on the hub");
            }
            for (user, at_ms, what) in views {
                let at = chrono::DateTime::from_timestamp_millis(at_ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default();
                println!("{at}  {user}  {what}");
            }
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
            let from = if from.is_empty() {
                "no other caseload".to_string()
            } else {
                from.join(", ")
            };
            println!("moved {person_id} from {from} to {team_id}");
        }
        AdminAction::RemovePerson { person_id } => {
            let teams = admin::remove_person(storage, &person_id).map_err(e)?;
            println!(
                "removed {person_id} from the caseload of {}",
                teams.join(", ")
            );
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
        AdminAction::CreateIntegration { kind, name, team } => {
            let c = integrations::create(storage, &kind, &name, &team).map_err(e)?;
            println!(
                "created {} integration {} ({}) for team {team}",
                c.integration.kind, c.integration.integration_id, c.integration.name
            );
            println!(
                "token (shown once; give it to the integration): {}",
                c.token
            );
        }
        AdminAction::RevokeIntegration { integration_id } => {
            integrations::revoke(storage, &integration_id).map_err(e)?;
            println!("revoked integration {integration_id}: its token no longer works");
        }
        AdminAction::Integrations => {
            for i in integrations::list(storage).map_err(e)? {
                println!(
                    "{}  {}  team {}  created {}  {}  {}",
                    i.integration_id,
                    i.kind,
                    i.team_id,
                    ms(Some(i.created_ms)),
                    if i.revoked_ms.is_some() {
                        "REVOKED"
                    } else {
                        "active"
                    },
                    i.name
                );
                for (team, cs) in integrations::scopes(storage, &i.integration_id).map_err(e)? {
                    let names: Vec<&str> = cs.iter().map(|c| c.as_str()).collect();
                    println!("    reads team {team}: {}", names.join(", "));
                }
            }
        }
        AdminAction::SetIntegrationScope {
            integration_id,
            team,
            compartments,
        } => {
            let cs = if compartments.trim() == "none" {
                Vec::new()
            } else {
                integrations::parse_compartments(&compartments).map_err(e)?
            };
            integrations::set_scope(storage, &integration_id, &team, &cs).map_err(e)?;
            if cs.is_empty() {
                println!("integration {integration_id} no longer reads team {team}'s records");
            } else {
                println!(
                    "integration {integration_id} reads {} of team {team}'s caseload",
                    cs.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
        }
        AdminAction::FhirReads { person } => {
            let rows = doorstep_server::fhir::audit(storage, person.as_deref()).map_err(e)?;
            if rows.is_empty() {
                println!("no FHIR reads recorded");
            }
            for r in rows {
                println!(
                    "{}  {}  {}  person {}  sent [{}]  {}  from {}",
                    ms(Some(r.at_ms)),
                    r.integration_id,
                    r.request,
                    r.person_id.as_deref().unwrap_or("-"),
                    r.compartments,
                    r.outcome,
                    r.peer
                );
            }
        }
        AdminAction::RegisterMonitor {
            integration,
            person,
            serial,
        } => {
            integrations::register_monitor(storage, &integration, &person, &serial).map_err(e)?;
            println!("registered monitor {serial} to {person} for integration {integration}");
        }
        AdminAction::UnregisterMonitor {
            integration,
            serial,
        } => {
            integrations::unregister_monitor(storage, &integration, &serial).map_err(e)?;
            println!("unregistered monitor {serial} from integration {integration}");
        }
        AdminAction::IngestRefusals => {
            let counts = integrations::refusal_counts(storage).map_err(e)?;
            let total: u64 = counts.iter().map(|(_, n)| n).sum();
            println!("{total} refused readings");
            for (code, n) in counts {
                println!("  {n:>7}  {code}");
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

/// One line of standard input: a password, so it is in no process list or shell history.
fn password_from_stdin() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("could not read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err("give the password on standard input, e.g. `read -rs PW; echo \"$PW\" | doorstep admin …`".into());
    }
    Ok(password)
}
