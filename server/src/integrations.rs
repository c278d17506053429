//! Integration credentials, registered home monitors (issue 13, item 2) and FHIR scopes (issue
//! 15): what `doorstep admin create-integration`, `revoke-integration`, `register-monitor`,
//! `unregister-monitor` and `set-integration-scope` do. An integration acts with its own bearer
//! token (shown once, stored only as its hash, as a device's is). A monitoring integration posts
//! readings, accepted only from a monitor whose serial is registered, for that integration, to
//! the person it is about. A FHIR integration reads records of the teams in its scope, each team
//! with the compartments it names (`crate::fhir`).

use doorstep_core::record::Compartment;

use crate::admin::{check_id, now_ms};
use crate::auth;
use crate::error::{Result, ServerError};
use crate::storage::{IntegrationRow, Storage};

/// The kinds of integration this server knows.
pub const KINDS: &[&str] = &["monitoring", FHIR];

/// The kind of an integration that reads records as FHIR (an EPR, a shared care record).
pub const FHIR: &str = "fhir";

/// What a new FHIR integration may read of its own team until the operator says otherwise: the
/// Patient and the clinical record, never the advice record (which also needs consent).
pub const DEFAULT_FHIR_SCOPE: &[Compartment] = &[Compartment::Demographics, Compartment::Clinical];

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
        tx.add_integration(&integration, &auth::hash(&token))?;
        if kind == FHIR {
            let scope = compartments_text(DEFAULT_FHIR_SCOPE);
            tx.set_integration_scope(&integration.integration_id, team_id, &scope, now_ms())?;
        }
        Ok(())
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
        if i.kind != "monitoring" {
            return Err(ServerError::BadRequest(format!(
                "integration {integration_id} is a {} integration: register monitors to a monitoring one",
                i.kind
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

fn compartments_text(cs: &[Compartment]) -> String {
    cs.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

/// Compartments from their names, comma-separated (`demographics,clinical`).
pub fn parse_compartments(text: &str) -> Result<Vec<Compartment>> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(c) = Compartment::parse(name) else {
            return Err(ServerError::BadRequest(format!(
                "unknown compartment '{}': use demographics, clinical, advice",
                name.chars().take(40).collect::<String>()
            )));
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Let a FHIR integration read these compartments of a team's caseload (replacing what it had
/// for that team); none takes the team out of its scope. The demographics are always among
/// them (every export holds the Patient); the advice record is still read only with the
/// person's consent to share.
pub fn set_scope(
    storage: &Storage,
    integration_id: &str,
    team_id: &str,
    compartments: &[Compartment],
) -> Result<()> {
    if !compartments.is_empty() && !compartments.contains(&Compartment::Demographics) {
        return Err(ServerError::BadRequest(
            "a FHIR scope always holds the demographics (every export holds the Patient): add demographics, or give no compartments to take the team out of the scope".into(),
        ));
    }
    storage.write(|tx| {
        let Some(i) = tx.integration(integration_id)? else {
            return Err(ServerError::NotFound(format!(
                "no integration {integration_id}"
            )));
        };
        if i.kind != FHIR {
            return Err(ServerError::BadRequest(format!(
                "integration {integration_id} is a {} integration: only a fhir integration has a scope of teams",
                i.kind
            )));
        }
        if i.revoked_ms.is_some() {
            return Err(ServerError::Forbidden(format!(
                "integration {integration_id} is revoked: create a new one"
            )));
        }
        if !tx.team_exists(team_id)? {
            return Err(ServerError::NotFound(format!(
                "no team {team_id}: create it first"
            )));
        }
        if compartments.is_empty() {
            if !tx.remove_integration_scope(integration_id, team_id)? {
                return Err(ServerError::NotFound(format!(
                    "team {team_id} is not in the scope of integration {integration_id}"
                )));
            }
            return Ok(());
        }
        tx.set_integration_scope(
            integration_id,
            team_id,
            &compartments_text(compartments),
            now_ms(),
        )
    })
}

/// An integration's scope: (team, the compartments it may read there).
pub fn scopes(storage: &Storage, integration_id: &str) -> Result<Vec<(String, Vec<Compartment>)>> {
    storage.read(|tx| scopes_in(tx, integration_id))
}

pub(crate) fn scopes_in(
    tx: &mut dyn crate::storage::Tx,
    integration_id: &str,
) -> Result<Vec<(String, Vec<Compartment>)>> {
    tx.integration_scopes(integration_id)?
        .into_iter()
        .map(|(team, text)| Ok((team, parse_compartments(&text)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compartment_list_is_read_or_refused_briefly_whatever_it_holds() {
        assert_eq!(
            parse_compartments(" clinical, demographics,clinical ,").unwrap(),
            vec![Compartment::Clinical, Compartment::Demographics]
        );
        assert!(parse_compartments("").unwrap().is_empty());
        let words = [
            "clinical",
            "advice",
            "demographics",
            "Clinical",
            ",",
            " ",
            "é",
            "x",
        ];
        let mut state = 7u64;
        for _ in 0..2_000 {
            let mut text = String::new();
            for _ in 0..(state % 12) {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                text.push_str(words[(state >> 33) as usize % words.len()]);
            }
            state = state.wrapping_add(3);
            match parse_compartments(&text) {
                Ok(cs) => {
                    let unique: std::collections::BTreeSet<_> = cs.iter().collect();
                    assert_eq!(unique.len(), cs.len(), "{text}");
                }
                Err(e) => assert!(e.to_string().len() < 200, "{text}"),
            }
        }
        let long = "x".repeat(10_000);
        assert!(parse_compartments(&long).unwrap_err().to_string().len() < 200);
    }
}
