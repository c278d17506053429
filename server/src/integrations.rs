//! Integration credentials and registered home monitors (issue 13, item 2): what
//! `doorstep admin create-integration`, `revoke-integration`, `register-monitor` and
//! `unregister-monitor` do. A monitoring integration posts readings with its own bearer token
//! (shown once, stored only as its hash, as a device's is); a reading is accepted only from a
//! monitor whose serial is registered, for that integration, to the person it is about.

use crate::admin::{check_id, now_ms};
use crate::auth;
use crate::error::{Result, ServerError};
use crate::storage::{IntegrationRow, Storage};

/// The kinds of integration this server knows.
pub const KINDS: &[&str] = &["monitoring"];

/// A new integration and its token (print it once; it is never shown again).
#[derive(Debug, Clone)]
pub struct Created {
    pub integration: IntegrationRow,
    pub token: String,
}

/// Create an integration credential for a team.
pub fn create(storage: &Storage, kind: &str, name: &str, team_id: &str) -> Result<Created> {
    if !KINDS.contains(&kind) {
        return Err(ServerError::BadRequest(format!(
            "unknown integration kind '{kind}': use {}",
            KINDS.join(", ")
        )));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServerError::BadRequest(
            "give the integration a name of 1–100 characters (the supplier and service)".into(),
        ));
    }
    let token = auth::new_token();
    let integration = IntegrationRow {
        // "int-" and the first 12 hex digits of a random token: names it without revealing it.
        integration_id: format!("int-{}", &auth::hash(&auth::new_token())[..12]),
        kind: kind.to_string(),
        name: name.to_string(),
        team_id: team_id.to_string(),
        created_ms: now_ms(),
        revoked_ms: None,
    };
    storage.write(|tx| {
        if !tx.team_exists(team_id)? {
            return Err(ServerError::NotFound(format!(
                "no team {team_id}: create it first"
            )));
        }
        tx.add_integration(&integration, &auth::hash(&token))
    })?;
    Ok(Created { integration, token })
}

/// Revoke an integration: its token stops working at once; what it stored stays.
pub fn revoke(storage: &Storage, integration_id: &str) -> Result<()> {
    storage.write(|tx| {
        if tx.integration(integration_id)?.is_none() {
            return Err(ServerError::NotFound(format!(
                "no integration {integration_id}"
            )));
        }
        if !tx.revoke_integration(integration_id, now_ms())? {
            return Err(ServerError::Conflict(format!(
                "integration {integration_id} is already revoked"
            )));
        }
        Ok(())
    })
}

pub fn list(storage: &Storage) -> Result<Vec<IntegrationRow>> {
    storage.read(|tx| tx.integrations())
}

/// Register a home monitor's serial to a person, for an integration. The person must be on the
/// integration's team's caseload; the serial may be registered to one person at a time.
pub fn register_monitor(
    storage: &Storage,
    integration_id: &str,
    person_id: &str,
    serial: &str,
) -> Result<()> {
    check_id("serial", serial)?;
    storage.write(|tx| {
        let Some(i) = tx.integration(integration_id)? else {
            return Err(ServerError::NotFound(format!(
                "no integration {integration_id}"
            )));
        };
        if i.revoked_ms.is_some() {
            return Err(ServerError::Forbidden(format!(
                "integration {integration_id} is revoked: register monitors to a current one"
            )));
        }
        if !tx.is_member(&i.team_id, person_id)? {
            return Err(ServerError::NotFound(format!(
                "person {person_id} is not on the caseload of team {}, which integration {integration_id} serves",
                i.team_id
            )));
        }
        if let Some(p) = tx.monitor_person(integration_id, serial)? {
            return Err(ServerError::Conflict(if p == person_id {
                format!("monitor {serial} is already registered to {person_id}")
            } else {
                format!(
                    "monitor {serial} is registered to another person ({p}): unregister it first"
                )
            }));
        }
        tx.register_monitor(integration_id, serial, person_id, now_ms())
    })
}

/// End a monitor's registration: later readings from it are refused.
pub fn unregister_monitor(storage: &Storage, integration_id: &str, serial: &str) -> Result<()> {
    if storage.write(|tx| tx.unregister_monitor(integration_id, serial, now_ms()))? {
        Ok(())
    } else {
        Err(ServerError::NotFound(format!(
            "monitor {serial} is not registered for integration {integration_id}"
        )))
    }
}

/// Refused ingest lines per reason, most frequent first (for operators).
pub fn refusal_counts(storage: &Storage) -> Result<Vec<(String, u64)>> {
    storage.read(|tx| tx.ingest_refusal_counts())
}
