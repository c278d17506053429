//! What this server process writes into a person's clinical document on its own authority
//! (docs/decisions/0011): home-monitoring sets (`ingest::sets`) and the ward watch's re-alerts
//! and missing-readings escalations (`watch`). One way in for all of it: the document is written
//! under this process's actor, committed with a server stamp, checked with the same
//! `validate::check_change` every phone runs, and stored in the log like any other change, in
//! the caller's write transaction. The team's phones receive it on their next sync.

use automerge::AutoCommit;
use chrono::{DateTime, Utc};
use doorstep_core::record::layout::{AuditStamp, PRINCIPAL_HUB, PRINCIPAL_INTEGRATION};
use doorstep_core::record::policy::{self, Action, Context, Principal};
use doorstep_core::record::{home, validate, Author, Compartment, User};

use crate::docs::DocsGuard;
use crate::error::{Result, ServerError};
use crate::identity::ServerIdentity;
use crate::storage::{NewChange, Tx};

/// On whose authority the process writes.
#[derive(Debug, Clone, Copy)]
pub enum Writer<'a> {
    /// Its own (home-monitoring sets, the ward watch).
    Server,
    /// A member of hub staff signed in to the hub's screen (their acknowledgements).
    Hub(&'a User),
    /// A system integration with its own credential (a GP summary it imports).
    Integration(&'a crate::storage::IntegrationRow),
}

impl Writer<'_> {
    fn principal(&self, me: &ServerIdentity) -> Principal {
        match self {
            Writer::Server => Principal::Server {
                instance: me.instance.clone(),
            },
            Writer::Hub(user) => Principal::HubUser {
                user: (*user).clone(),
            },
            Writer::Integration(i) => Principal::Integration {
                id: i.integration_id.clone(),
                kind: i.kind.clone(),
            },
        }
    }

    fn author(&self, me: &ServerIdentity, now: DateTime<Utc>) -> Author {
        match self {
            Writer::Server => me.author(now),
            Writer::Hub(user) => Author {
                user_id: user.id.clone(),
                display_name: user.display_name.clone(),
                role: user.role,
                device_id: format!("hub:{}", me.instance),
                at: now,
            },
            // An integration is not a person: it is named by its id and name, with the role
            // the server's own entries carry.
            Writer::Integration(i) => Author {
                user_id: format!("integration:{}", i.integration_id),
                display_name: i.name.clone(),
                role: home::SERVER_ROLE,
                device_id: format!("integration:{}", i.integration_id),
                at: now,
            },
        }
    }

    fn stamp(&self, author: &Author, summary: String) -> AuditStamp {
        match self {
            Writer::Server => home::server_stamp(author, summary),
            Writer::Hub(_) => AuditStamp {
                principal: PRINCIPAL_HUB.into(),
                ..AuditStamp::new(author, summary)
            },
            Writer::Integration(_) => AuditStamp {
                principal: PRINCIPAL_INTEGRATION.into(),
                ..AuditStamp::new(author, summary)
            },
        }
    }
}

/// What a server-authored edit wrote: its value and the summary its change is stamped with;
/// `None` when there was nothing to write.
pub type Wrote<T> = Option<(T, String)>;

/// Write `edit`'s entries into the person's clinical document as this process and store them as
/// one change. `fail` words an error for the person it was about. Returns what was written, or
/// `None` when the edit had nothing to write (no change is made).
#[allow(clippy::too_many_arguments)]
pub fn write_clinical<T>(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    who: Writer<'_>,
    person_id: &str,
    now: DateTime<Utc>,
    fail: &dyn Fn(&str, String) -> ServerError,
    edit: impl FnOnce(&mut AutoCommit, &Author) -> doorstep_core::Result<Wrote<T>>,
) -> Result<Option<T>> {
    let target = (person_id, Compartment::Clinical);
    write_record(tx, docs, me, who, target, now, fail, edit)
}

/// As [`write_clinical`], into any compartment the policy lets the writer write (the server:
/// clinical and demographics, and `validate` holds it to its own entries there).
#[allow(clippy::too_many_arguments)]
pub fn write_record<T>(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &ServerIdentity,
    who: Writer<'_>,
    (person_id, compartment): (&str, Compartment),
    now: DateTime<Utc>,
    fail: &dyn Fn(&str, String) -> ServerError,
    edit: impl FnOnce(&mut AutoCommit, &Author) -> doorstep_core::Result<Wrote<T>>,
) -> Result<Option<T>> {
    policy::allows(
        &who.principal(me),
        Action::Write(compartment),
        &Context::default(),
    )
    .map_err(|d| fail(person_id, d.to_string()))?;
    let author = who.author(me, now);
    let doc = docs.get(tx, person_id, compartment)?;
    doc.act_as(&me.actor);
    let (value, summary) = match edit(&mut doc.doc, &author) {
        Ok(Some(w)) => w,
        Ok(None) => return Ok(None),
        Err(e) => {
            doc.doc.rollback();
            docs.drop_doc(person_id, compartment);
            return Err(fail(person_id, e.to_string()));
        }
    };
    let stamp = who.stamp(&author, summary);
    let message = serde_json::to_string(&stamp).map_err(|e| fail(person_id, e.to_string()))?;
    let seq = tx.next_seq()?;
    let change = doc
        .commit_local(message, now.timestamp_millis(), seq)
        .ok_or_else(|| fail(person_id, "the edit made no change".into()))?;
    // The rules every phone applies to it: nothing is stored that a phone would refuse.
    if let Err(refusal) = validate::check_change(compartment, &change) {
        docs.drop_doc(person_id, compartment);
        return Err(fail(person_id, refusal.to_string()));
    }
    bind_actor(tx, me)?;
    let actor = change.actor_id().to_hex_string();
    let device_id = me.device_id();
    let hash = change.hash();
    let inserted = tx.insert_change(&NewChange {
        seq,
        person_id,
        compartment,
        hash: hash.as_ref(),
        bytes: change.raw_bytes(),
        origin_device: &device_id,
        received_ms: now.timestamp_millis(),
        actor: Some(&actor),
        actor_seq: Some(change.seq()),
        clock_note_ms: None,
    })?;
    if !inserted {
        docs.drop_doc(person_id, compartment);
        return Err(fail(
            person_id,
            "the log already holds this server's change number".into(),
        ));
    }
    Ok(Some(value))
}

/// The process's actor is bound to it on its first write, so no device may use it.
fn bind_actor(tx: &mut dyn Tx, me: &ServerIdentity) -> Result<()> {
    let actor = me.actor.to_hex_string();
    match tx.actor_owner(&actor)? {
        None => tx.bind_actor(&actor, &me.device_id()),
        Some(owner) if owner == me.device_id() => Ok(()),
        Some(owner) => Err(ServerError::Storage(format!(
            "this server's actor {actor} is bound to {owner}; restart the server to take a new one"
        ))),
    }
}
