//! One sync, server side: check and store what the device sent, then answer with what it lacks
//! within its scope, a new cursor and any instructions. Written once against [`Tx`].
//!
//! Scope (docs/access.md): a device sees the people on its team's current caseload, and of them
//! the compartments its role may read — demographics plus clinical for clinicians, demographics
//! plus advice for advice workers — and the other role's compartment only where the person's
//! recorded consent to share says so.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use automerge::{AutoCommit, Change};
use doorstep_core::record::layout::{self, AuditStamp};
use doorstep_core::record::{Compartment, ConsentToShare, Role};
use doorstep_core::sync::protocol::{
    Instruction, SyncRequest, SyncResponse, WireChange, PROTOCOL_VERSION,
};

use crate::error::{Result, ServerError};
use crate::storage::{DeviceRow, NewChange, StoredChange, Tx};

/// Bounds on what one request may carry, beyond the body-size limit.
pub const MAX_CHANGES_PER_REQUEST: usize = 50_000;
pub const MIN_PAGE_BYTES: u32 = 64 * 1024;
pub const MAX_PAGE_BYTES: u32 = 8 * 1024 * 1024;

/// The compartments a role reads and writes on its own authority.
pub fn own_compartments(role: Role) -> [Compartment; 2] {
    match role {
        Role::DistrictNurse | Role::VirtualWardClinician => {
            [Compartment::Demographics, Compartment::Clinical]
        }
        Role::AdviceWorker => [Compartment::Demographics, Compartment::Advice],
    }
}

/// The compartment a role reads only with the person's consent to share.
pub fn consent_compartment(role: Role) -> Compartment {
    match role {
        Role::DistrictNurse | Role::VirtualWardClinician => Compartment::Advice,
        Role::AdviceWorker => Compartment::Clinical,
    }
}

/// A parsed upload.
pub struct Upload {
    pub person_id: String,
    pub compartment: Compartment,
    pub change: Change,
}

/// Decode every change of a request; any malformed one refuses the whole request.
pub fn parse_upload(req: &SyncRequest) -> Result<Vec<Upload>> {
    if req.changes.len() > MAX_CHANGES_PER_REQUEST {
        return Err(ServerError::BadRequest(format!(
            "{} changes in one request; at most {MAX_CHANGES_PER_REQUEST}",
            req.changes.len()
        )));
    }
    req.changes
        .iter()
        .enumerate()
        .map(|(i, w)| {
            check_person_id(&w.person_id)
                .map_err(|m| ServerError::BadRequest(format!("change {i}: {m}")))?;
            let change = Change::from_bytes(w.bytes.clone()).map_err(|e| {
                ServerError::BadRequest(format!("change {i} is not a valid Automerge change: {e}"))
            })?;
            Ok(Upload {
                person_id: w.person_id.clone(),
                compartment: w.compartment,
                change,
            })
        })
        .collect()
}

fn check_person_id(id: &str) -> std::result::Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a valid person id",
            id.chars().take(70).collect::<String>()
        ))
    }
}

/// Check and store uploads in the caller's write transaction. Any refusal aborts the whole
/// transaction, so nothing of a bad request is stored. Returns how many changes were new.
pub fn store_uploads(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    uploads: &[Upload],
    now_ms: i64,
) -> Result<u32> {
    let team = &device.user.team;
    let own = own_compartments(device.user.role);
    let mut in_request: HashSet<(String, Compartment, [u8; 32])> = HashSet::new();
    let mut new_people: BTreeSet<String> = BTreeSet::new();
    let mut joined: BTreeSet<String> = BTreeSet::new();
    let mut advice_touched: BTreeSet<String> = BTreeSet::new();
    let mut stored = 0;
    let mut checked_people: BTreeSet<String> = BTreeSet::new();
    for (i, u) in uploads.iter().enumerate() {
        check_author(tx, device, i, &u.change)?;
        if !own.contains(&u.compartment) {
            return Err(ServerError::Forbidden(format!(
                "change {i}: a {} may not write the {} record",
                device.user.role.label(),
                u.compartment.as_str()
            )));
        }
        if checked_people.insert(u.person_id.clone()) {
            if tx.was_member(team, &u.person_id)? {
                // On the caseload now, or was when the visit was recorded: accepted.
            } else if !tx.person_known(&u.person_id)? {
                new_people.insert(u.person_id.clone());
            } else {
                return Err(ServerError::Forbidden(format!(
                    "change {i}: person {} is not on your team's caseload; nothing from this sync was stored",
                    u.person_id
                )));
            }
        }
        for dep in u.change.deps() {
            let key = (u.person_id.clone(), u.compartment, dep.0);
            if !in_request.contains(&key)
                && !tx.has_change(&u.person_id, u.compartment, dep.as_ref())?
            {
                return Err(ServerError::Unprocessable(format!(
                    "change {i} depends on change {dep}, which the server does not have and the request does not carry"
                )));
            }
        }
        let hash = u.change.hash();
        in_request.insert((u.person_id.clone(), u.compartment, hash.0));
        if tx.has_change(&u.person_id, u.compartment, hash.as_ref())? {
            continue;
        }
        let seq = tx.next_seq()?;
        if new_people.contains(&u.person_id) && joined.insert(u.person_id.clone()) {
            tx.join(team, &u.person_id, seq)?;
        }
        let inserted = tx.insert_change(&NewChange {
            seq,
            person_id: &u.person_id,
            compartment: u.compartment,
            hash: hash.as_ref(),
            bytes: u.change.raw_bytes(),
            origin_device: &device.device_id,
            received_ms: now_ms,
        })?;
        if !inserted {
            continue;
        }
        stored += 1;
        if u.compartment == Compartment::Advice {
            advice_touched.insert(u.person_id.clone());
        }
    }
    for p in advice_touched {
        update_consent(tx, &p)?;
    }
    Ok(stored)
}

/// The change must be made by this device's store and stamped with this device and its user.
fn check_author(tx: &mut dyn Tx, device: &DeviceRow, i: usize, change: &Change) -> Result<()> {
    let actor = change.actor_id().to_hex_string();
    match tx.actor_owner(&actor)? {
        None => tx.bind_actor(&actor, &device.device_id)?,
        Some(owner) if owner == device.device_id => {}
        Some(_) => {
            return Err(ServerError::Forbidden(format!(
                "change {i} was written by another device; a device may only send its own changes"
            )))
        }
    }
    let stamp: Option<AuditStamp> = change.message().and_then(|m| serde_json::from_str(m).ok());
    match stamp {
        Some(s) if s.device_id == device.device_id && s.user_id == device.user.id => Ok(()),
        Some(s) => Err(ServerError::Forbidden(format!(
            "change {i} claims to be by user {} on device {}, but this device is enrolled as {} for {}",
            s.user_id, s.device_id, device.device_id, device.user.id
        ))),
        None => Err(ServerError::Forbidden(format!("change {i} carries no audit stamp (who, role, device)"))),
    }
}

/// Re-read a person's consent to share from their advice document; record a change of it as a
/// scope event at a new sequence number.
fn update_consent(tx: &mut dyn Tx, person_id: &str) -> Result<()> {
    let changes = tx.doc_changes(person_id, Compartment::Advice, u64::MAX)?;
    let mut doc = AutoCommit::new();
    let parsed = changes
        .into_iter()
        .map(|c| {
            Change::from_bytes(c.bytes)
                .map_err(|e| ServerError::Storage(format!("stored change unreadable: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    doc.apply_changes(parsed).map_err(|e| {
        ServerError::Unprocessable(format!(
            "the advice record of {person_id} cannot be applied: {e}"
        ))
    })?;
    // Concurrent values: consent counts only if every value says yes.
    let values = layout::get_all_json::<ConsentToShare>(&doc, layout::CONSENT).map_err(|e| {
        ServerError::Unprocessable(format!("consent of {person_id} cannot be read: {e}"))
    })?;
    let consented = !values.is_empty() && values.iter().all(|(v, _)| v.consented);
    let current = tx.consent(person_id)?.map(|(c, _)| c).unwrap_or(false);
    if consented != current || tx.consent(person_id)?.is_none() {
        let seq = tx.next_seq()?;
        tx.set_consent(person_id, consented, seq)?;
    }
    Ok(())
}

/// The answer: in-scope changes after `cursor` (plus the whole history of documents that came
/// into scope after it), paged at about `page_bytes`, and instructions.
pub fn build_response(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    cursor: u64,
    page_bytes: u32,
    stored: u32,
    lock_after_days: u32,
) -> Result<SyncResponse> {
    let now = tx.max_seq()?;
    if cursor > now {
        return Err(ServerError::Conflict(format!(
            "this device has seen changes up to {cursor} but the server holds only up to {now}: the server's data was restored from an older copy. Ask your administrator."
        )));
    }
    let team = device.user.team.clone();
    let role = device.user.role;
    let visible = visible_documents(tx, &team, role)?;
    let mut items: Vec<(u64, StoredChange)> = Vec::new();
    for c in tx.team_changes(&team, cursor, now)? {
        if let Some(&vis) = visible.get(&(c.person_id.clone(), c.compartment)) {
            if !(vis > cursor && c.seq <= vis) {
                items.push((c.seq, c));
            }
        }
    }
    for ((person, comp), &vis) in &visible {
        if vis > cursor {
            for c in tx.doc_changes(person, *comp, vis)? {
                items.push((vis, c));
            }
        }
    }
    items.sort_by_key(|(eff, c)| (*eff, c.seq));
    let (page, new_cursor, more, remaining) = cut_page(items, page_bytes, now, &device.device_id);
    let instructions = instructions(tx, &team, role, cursor, now, &visible)?;
    Ok(SyncResponse {
        protocol: PROTOCOL_VERSION,
        stored,
        changes: page,
        cursor: new_cursor,
        more,
        remaining,
        instructions,
        lock_after_days,
    })
}

/// Every document the device may read now, with the sequence number from which it became
/// readable (when the person joined the caseload, or consent was given).
fn visible_documents(
    tx: &mut dyn Tx,
    team: &str,
    role: Role,
) -> Result<BTreeMap<(String, Compartment), u64>> {
    let consents: BTreeMap<String, (bool, u64)> = tx
        .consents(team)?
        .into_iter()
        .map(|(p, c, s)| (p, (c, s)))
        .collect();
    let mut visible = BTreeMap::new();
    for (person, joined) in tx.members(team)? {
        for c in own_compartments(role) {
            visible.insert((person.clone(), c), joined);
        }
        if let Some((true, since)) = consents.get(&person) {
            visible.insert(
                (person.clone(), consent_compartment(role)),
                joined.max(*since),
            );
        }
    }
    Ok(visible)
}

/// Cut at a whole group of equal effective sequence numbers once `page_bytes` is reached.
/// Changes the device sent itself are not echoed back, but count as delivered.
fn cut_page(
    items: Vec<(u64, StoredChange)>,
    page_bytes: u32,
    now: u64,
    device_id: &str,
) -> (Vec<WireChange>, u64, bool, u64) {
    let limit = page_bytes.clamp(MIN_PAGE_BYTES, MAX_PAGE_BYTES) as usize;
    let total = items.len();
    let mut page = Vec::new();
    let mut bytes = 0usize;
    let mut taken = 0usize;
    let mut last_eff = None;
    let mut cut_at = None;
    for (eff, c) in items {
        if last_eff != Some(eff) {
            if bytes >= limit {
                cut_at = last_eff;
                break;
            }
            last_eff = Some(eff);
        }
        taken += 1;
        if c.origin_device != device_id {
            bytes += c.bytes.len();
            page.push(WireChange {
                person_id: c.person_id,
                compartment: c.compartment,
                bytes: c.bytes,
            });
        }
    }
    match cut_at {
        Some(eff) => (page, eff, true, (total - taken) as u64),
        None => (page, now, false, 0),
    }
}

fn instructions(
    tx: &mut dyn Tx,
    team: &str,
    role: Role,
    cursor: u64,
    now: u64,
    visible: &BTreeMap<(String, Compartment), u64>,
) -> Result<Vec<Instruction>> {
    let members: BTreeSet<&String> = visible.keys().map(|(p, _)| p).collect();
    let mut out = Vec::new();
    for person_id in tx.left_between(team, cursor, now)? {
        if !members.contains(&person_id) {
            out.push(Instruction::Purge { person_id });
        }
    }
    let cross = consent_compartment(role);
    for (person_id, consented, seq) in tx.consents(team)? {
        if !consented && seq > cursor && seq <= now {
            out.push(Instruction::PurgeCompartment {
                person_id,
                compartment: cross,
            });
        }
    }
    Ok(out)
}

/// The answer to a revoked device: erase everything; nothing it sent is stored.
pub fn wipe_response(lock_after_days: u32) -> SyncResponse {
    SyncResponse {
        protocol: PROTOCOL_VERSION,
        stored: 0,
        changes: Vec::new(),
        cursor: 0,
        more: false,
        remaining: 0,
        instructions: vec![Instruction::Wipe],
        lock_after_days,
    }
}
