//! One sync, server side: check every uploaded change with the record's rules, store the ones that
//! pass and say why each other one was refused, then answer with what the device lacks within its
//! scope, a new cursor and any instructions. Written once against [`Tx`].
//!
//! Every change goes through the same checks the phone runs (`doorstep_core::record::validate`),
//! then the ones only the server can make: the audit stamp matches the device's enrolment exactly,
//! the actor is this device's, the access policy allows the write, the person is in scope, the
//! dependencies are held, the actor's sequence number is the next one, and the change applies to
//! the server's copy of the document inside panic isolation. Refusal is per change: one bad change
//! never stops the others (docs/decisions/0001).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use automerge::{Change, ChangeHash};
use doorstep_core::record::layout::{self, AuditStamp};
use doorstep_core::record::policy::{self, Action, Consent, Context, Principal};
use doorstep_core::record::{consent_note, validate, Compartment, ConsentToShare, Role};
use doorstep_core::sync::protocol::{
    self, Bounds, ClockNote, Cursor, Instruction, Refused, Snapshot, SyncResponse, Verdicts,
    PROTOCOL_VERSION, SNAPSHOT_PHASE,
};

use crate::docs::{DocsGuard, SeqFit};
use crate::error::{Result, ServerError};
use crate::storage::{ChangeMeta, DeviceRow, NewChange, SnapshotInfo, Tx};

/// Bounds on what one request may carry, beyond the body-size limit.
pub const MAX_CHANGES_PER_REQUEST: usize = 50_000;
pub const MIN_PAGE_BYTES: u32 = 64 * 1024;
pub const MAX_PAGE_BYTES: u32 = 8 * 1024 * 1024;
/// A change stamped more than this far ahead of the server's clock gets a clock note.
pub const CLOCK_AHEAD_MS: i64 = 24 * 3600 * 1000;
/// A change stamped before the device was enrolled (with this leeway, for work recorded offline
/// on a store that existed before enrolment) gets a clock note.
pub const CLOCK_BEFORE_ENROLMENT_MS: i64 = 24 * 3600 * 1000;

/// A change that decoded and passed the record's rules, waiting for the server's own checks.
pub struct Upload {
    pub index: u32,
    pub person_id: String,
    pub compartment: Compartment,
    pub change: Change,
    pub stamp: AuditStamp,
}

/// A request's changes, sorted into those to check further and those already refused.
#[derive(Default)]
pub struct Parsed {
    pub uploads: Vec<Upload>,
    pub refused: Vec<Refused>,
}

/// What the server did with a request's changes.
#[derive(Default)]
pub struct Outcome {
    pub verdicts: Verdicts,
    pub reset_actor: bool,
    pub clock_notes: Vec<ClockNote>,
}

fn refused(index: u32, hash: Option<&ChangeHash>, code: &str, message: String) -> Refused {
    Refused {
        index,
        hash: hash.map(|h| h.to_string()),
        code: code.to_string(),
        message,
    }
}

/// Decode and check every change (CPU work: run it on the blocking pool). Too many changes
/// refuse the request; a bad change refuses only itself.
pub fn parse_upload(changes: &[protocol::Change]) -> Result<Parsed> {
    if changes.len() > MAX_CHANGES_PER_REQUEST {
        return Err(ServerError::BadRequest(format!(
            "{} changes in one request; at most {MAX_CHANGES_PER_REQUEST}",
            changes.len()
        )));
    }
    let mut parsed = Parsed::default();
    for (i, w) in changes.iter().enumerate() {
        let index = i as u32;
        if let Err(m) = check_person_id(&w.person_id) {
            parsed.refused.push(refused(index, None, "malformed", m));
            continue;
        }
        let change = match validate::parse_change(&w.bytes) {
            Ok(c) => c,
            Err(e) => {
                parsed
                    .refused
                    .push(refused(index, None, e.code(), e.to_string()));
                continue;
            }
        };
        match validate::check_change(w.compartment, &change) {
            Ok(checked) => parsed.uploads.push(Upload {
                index,
                person_id: w.person_id.clone(),
                compartment: w.compartment,
                stamp: checked.stamp,
                change,
            }),
            Err(e) => parsed.refused.push(refused(
                index,
                Some(&change.hash()),
                e.code(),
                e.to_string(),
            )),
        }
    }
    Ok(parsed)
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

/// The principal a device acts as.
pub fn principal(device: &DeviceRow) -> Principal {
    Principal::Device {
        device_id: device.device_id.clone(),
        user: device.user.clone(),
    }
}

/// Per-request state of the checks.
struct Checks<'a> {
    device: &'a DeviceRow,
    principal: Principal,
    /// People already placed: in scope (true) or not (false).
    scope: HashMap<String, bool>,
    new_people: BTreeSet<String>,
    joined: BTreeSet<String>,
    /// Hashes accepted (or held) so far in this request, per document.
    accepted: HashSet<(String, Compartment, ChangeHash)>,
    refused: HashSet<(String, Compartment, ChangeHash)>,
    advice_touched: BTreeSet<String>,
    /// People whose demographics changed (possible duplicates), and decisions on duplicates to
    /// copy into the other record.
    demographics_touched: BTreeSet<String>,
    links: Vec<(String, doorstep_core::record::RecordLink)>,
}

/// Check and store uploads in the caller's write transaction. Every change gets a verdict.
pub fn store_uploads(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &crate::identity::ServerIdentity,
    device: &DeviceRow,
    parsed: Parsed,
    now_ms: i64,
) -> Result<Outcome> {
    let mut out = Outcome {
        verdicts: Verdicts {
            refused: parsed.refused,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut checks = Checks {
        device,
        principal: principal(device),
        scope: HashMap::new(),
        new_people: BTreeSet::new(),
        joined: BTreeSet::new(),
        accepted: HashSet::new(),
        refused: HashSet::new(),
        advice_touched: BTreeSet::new(),
        demographics_touched: BTreeSet::new(),
        links: Vec::new(),
    };
    for u in parsed.uploads {
        let hash = u.change.hash();
        let key = (u.person_id.clone(), u.compartment, hash);
        match check_and_store(tx, docs, &mut checks, &u, now_ms, &mut out)? {
            Verdict::Stored => {
                out.verdicts.stored += 1;
                checks.accepted.insert(key);
            }
            Verdict::Held => {
                out.verdicts.already_held += 1;
                checks.accepted.insert(key);
            }
            Verdict::Refused(code, message) => {
                if code == "actor_seq_reused" {
                    out.reset_actor = true;
                }
                checks.refused.insert(key);
                out.verdicts
                    .refused
                    .push(refused(u.index, Some(&hash), code, message));
            }
        }
    }
    out.verdicts.refused.sort_by_key(|r| r.index);
    for p in std::mem::take(&mut checks.advice_touched) {
        update_consent(tx, docs, me, &p, now_ms)?;
    }
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_else(chrono::Utc::now);
    for p in std::mem::take(&mut checks.demographics_touched) {
        crate::duplicates::after_demographics(tx, docs, me, &p, now)?;
    }
    for (p, link) in std::mem::take(&mut checks.links) {
        crate::duplicates::mirror(tx, docs, me, &p, &link, now)?;
    }
    docs.compact_touched(tx)?;
    Ok(out)
}

enum Verdict {
    Stored,
    Held,
    Refused(&'static str, String),
}

fn check_and_store(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    checks: &mut Checks<'_>,
    u: &Upload,
    now_ms: i64,
    out: &mut Outcome,
) -> Result<Verdict> {
    if let Some(v) = check_stamp(checks.device, &u.stamp) {
        return Ok(v);
    }
    if let Some(v) = check_actor(tx, checks.device, &u.change)? {
        return Ok(v);
    }
    let context = Context {
        consent: consent_of(tx, &u.person_id)?,
    };
    if let Err(denied) = policy::allows(&checks.principal, Action::Write(u.compartment), &context) {
        return Ok(Verdict::Refused(
            "forbidden",
            format!("{denied}; this entry was not stored"),
        ));
    }
    // Named acts the change performs (completing a task): the same policy as the phone's.
    for action in doorstep_core::record::validate::named_actions(u.compartment, &u.change) {
        if let Err(denied) = policy::allows(&checks.principal, action, &context) {
            return Ok(Verdict::Refused(
                "forbidden",
                format!("{denied}; this entry was not stored"),
            ));
        }
    }
    // A team the person is referred to may send only its answer until it accepts.
    let answering = crate::referrals::is_pending_answer(
        tx,
        checks.device,
        &u.person_id,
        u.compartment,
        &u.change,
    )?;
    if !answering {
        if let Some(v) = check_scope(tx, checks, &u.person_id)? {
            return Ok(v);
        }
    }
    let referrals = crate::referrals::Entries::of(u.compartment, &u.change);
    if !referrals.is_empty() {
        if let Some((code, message)) =
            crate::referrals::check(tx, checks.device, &u.person_id, &referrals)?
        {
            return Ok(Verdict::Refused(code, message));
        }
    }
    if let Some(v) = check_deps(tx, checks, u)? {
        return Ok(v);
    }
    let hash = u.change.hash();
    if tx.has_change(&u.person_id, u.compartment, hash.as_ref())? {
        return Ok(Verdict::Held);
    }
    let doc = docs.get(tx, &u.person_id, u.compartment)?;
    match doc.seq_fit(&u.change) {
        SeqFit::Next => {}
        SeqFit::Reused { held } => {
            return Ok(Verdict::Refused(
                "actor_seq_reused",
                format!(
                    "this device's store reused change number {} (the server holds up to {held} from it): was the phone restored from a backup? The app switches to a new identity and sends its unsent work again",
                    u.change.seq()
                ),
            ))
        }
        SeqFit::OpsOverlap => {
            return Ok(Verdict::Refused(
                "malformed",
                "its operation numbers overlap those of earlier changes; no Doorstep app writes such a change".into(),
            ))
        }
        SeqFit::Gap { held } => {
            return Ok(Verdict::Refused(
                "missing_dependency",
                format!(
                    "change number {} of this device's store follows number {held}, and the ones between are missing",
                    u.change.seq()
                ),
            ))
        }
    }
    let seq = tx.next_seq()?;
    if let Err(e) = doc.apply(u.change.clone(), seq) {
        docs.drop_doc(&u.person_id, u.compartment);
        return Ok(Verdict::Refused("unappliable", e.to_string()));
    }
    if checks.new_people.contains(&u.person_id) && checks.joined.insert(u.person_id.clone()) {
        tx.join(&checks.device.user.team, &u.person_id, seq)?;
    }
    let actor = u.change.actor_id().to_hex_string();
    let t = u.change.timestamp();
    let clock_wrong =
        t > now_ms + CLOCK_AHEAD_MS || t < checks.device.enrolled_ms - CLOCK_BEFORE_ENROLMENT_MS;
    let inserted = tx.insert_change(&NewChange {
        seq,
        person_id: &u.person_id,
        compartment: u.compartment,
        hash: hash.as_ref(),
        bytes: u.change.raw_bytes(),
        origin_device: &checks.device.device_id,
        received_ms: now_ms,
        actor: Some(&actor),
        actor_seq: Some(u.change.seq()),
        clock_note_ms: clock_wrong.then_some(now_ms),
    })?;
    if !inserted {
        // The database's own constraint caught what the document did not: the copy in memory
        // is not what the log says.
        docs.drop_doc(&u.person_id, u.compartment);
        return Ok(Verdict::Refused(
            "actor_seq_reused",
            "another change with this device's change number reached the server first; the app sends its entry again".into(),
        ));
    }
    if !referrals.is_empty() {
        crate::referrals::apply(tx, checks.device, &u.person_id, &referrals, seq, now_ms)?;
    }
    if u.compartment == Compartment::Advice {
        checks.advice_touched.insert(u.person_id.clone());
    }
    if u.compartment == Compartment::Demographics {
        checks.demographics_touched.insert(u.person_id.clone());
        for l in validate::record_links(u.compartment, &u.change) {
            checks.links.push((u.person_id.clone(), l));
        }
    }
    if clock_wrong {
        out.clock_notes.push(ClockNote {
            person_id: u.person_id.clone(),
            compartment: u.compartment,
            hash: hash.to_string(),
            received_ms: now_ms,
        });
    }
    Ok(Verdict::Stored)
}

/// The stamp must name this device and its user exactly as enrolled.
fn check_stamp(device: &DeviceRow, s: &AuditStamp) -> Option<Verdict> {
    let u = &device.user;
    let same = s.by_device()
        && s.device_id == device.device_id
        && s.user_id == u.id
        && s.display_name == u.display_name
        && s.role == u.role;
    (!same).then(|| {
        Verdict::Refused(
            "forged_author",
            format!(
                "the change says it was written by {} ({}, {}) on device {}, but this device is enrolled as {} for {} ({}, {})",
                s.user_id, s.display_name, s.role.label(), s.device_id,
                device.device_id, u.id, u.display_name, u.role.label()
            ),
        )
    })
}

/// The change's Automerge actor belongs to this device (bound on first use).
fn check_actor(tx: &mut dyn Tx, device: &DeviceRow, change: &Change) -> Result<Option<Verdict>> {
    let actor = change.actor_id().to_hex_string();
    match tx.actor_owner(&actor)? {
        None => {
            tx.bind_actor(&actor, &device.device_id)?;
            Ok(None)
        }
        Some(owner) if owner == device.device_id => Ok(None),
        Some(_) => Ok(Some(Verdict::Refused(
            "actor_of_another_device",
            "the change was written by another device's store; a device may only send its own changes".into(),
        ))),
    }
}

fn check_scope(
    tx: &mut dyn Tx,
    checks: &mut Checks<'_>,
    person_id: &str,
) -> Result<Option<Verdict>> {
    let in_scope = match checks.scope.get(person_id) {
        Some(s) => *s,
        None => {
            let team = &checks.device.user.team;
            let s = if tx.was_member(team, person_id)? {
                // On the caseload now, or was when the entry was recorded: accepted.
                true
            } else if !tx.person_known(person_id)? {
                checks.new_people.insert(person_id.to_string());
                true
            } else {
                false
            };
            checks.scope.insert(person_id.to_string(), s);
            s
        }
    };
    Ok((!in_scope).then(|| {
        Verdict::Refused(
            "out_of_scope",
            format!("person {person_id} is not on your team's caseload, so this entry was not stored; if they should be, ask your coordinator to refer them to your team"),
        )
    }))
}

fn check_deps(tx: &mut dyn Tx, checks: &Checks<'_>, u: &Upload) -> Result<Option<Verdict>> {
    for dep in u.change.deps() {
        let key = (u.person_id.clone(), u.compartment, *dep);
        if checks.refused.contains(&key) {
            return Ok(Some(Verdict::Refused(
                "depends_on_refused",
                format!("it follows change {dep}, which was refused"),
            )));
        }
        if !checks.accepted.contains(&key)
            && !tx.has_change(&u.person_id, u.compartment, dep.as_ref())?
        {
            return Ok(Some(Verdict::Refused(
                "missing_dependency",
                format!("it depends on change {dep}, which the server does not have and the request does not carry"),
            )));
        }
    }
    Ok(None)
}

fn consent_of(tx: &mut dyn Tx, person_id: &str) -> Result<Consent> {
    Ok(match tx.consent(person_id)? {
        Some((true, _)) => Consent::Given,
        Some((false, _)) => Consent::Refused,
        None => Consent::NotRecorded,
    })
}

/// Re-read a person's consent to share from the server's copy of their advice document; record
/// a change of it as a scope event at a new sequence number. Concurrent values that disagree are
/// a conflict and count as not given (docs/decisions/0005). The health team is told in the
/// clinical record, by the server (`record::consent_note`), in the same transaction.
fn update_consent(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &crate::identity::ServerIdentity,
    person_id: &str,
    now_ms: i64,
) -> Result<()> {
    let doc = docs.get(tx, person_id, Compartment::Advice)?;
    let values =
        layout::get_all_json::<ConsentToShare>(&doc.doc, layout::CONSENT).map_err(|e| {
            ServerError::Unprocessable(format!("consent of {person_id} cannot be read: {e}"))
        })?;
    let flags: Vec<bool> = values.iter().map(|(v, _)| v.consented).collect();
    let consented = Consent::from_values(&flags).is_given();
    let current = tx.consent(person_id)?;
    if current.map(|(c, _)| c) != Some(consented) {
        let seq = tx.next_seq()?;
        tx.set_consent(person_id, consented, seq)?;
    }
    let values: Vec<ConsentToShare> = values.into_iter().map(|(v, _)| v).collect();
    note_consent(tx, docs, me, person_id, &values, now_ms)
}

/// Write the consent as the health team sees it into the clinical record, unless it says so
/// already.
fn note_consent(
    tx: &mut dyn Tx,
    docs: &mut DocsGuard<'_>,
    me: &crate::identity::ServerIdentity,
    person_id: &str,
    values: &[ConsentToShare],
    now_ms: i64,
) -> Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_else(chrono::Utc::now);
    crate::authored::write_clinical(
        tx,
        docs,
        me,
        crate::authored::Writer::Server,
        person_id,
        now,
        &|p, why| {
            ServerError::Storage(format!(
                "the consent of {p} could not be noted for the health team ({why}); the upload was not stored, sync again"
            ))
        },
        |doc, author| {
            let Some(note) = consent_note::note_of(values, author) else {
                return Ok(None);
            };
            let e = consent_note::write(doc, note)?;
            Ok(e.value.map(|n| (n, e.summary)))
        },
    )?;
    Ok(())
}

/// A page of the answer, before it is put into a message of either protocol version.
pub struct Page {
    pub changes: Vec<protocol::Change>,
    /// Documents sent whole as snapshots (a first sync by snapshots; each one's later changes
    /// are in `changes`).
    pub snapshots: Vec<Snapshot>,
    pub cursor: Cursor,
    pub more: bool,
    pub remaining: u64,
    pub instructions: Vec<Instruction>,
    /// Clock notes of the changes in this page.
    pub clock_notes: Vec<ClockNote>,
}

/// The answer: in-scope changes after `cursor` (plus the whole history of documents that came
/// into scope after it), paged at about `page_bytes`, and instructions. With `split`, a group too
/// large for one page (a large document entering scope) is split across pages.
///
/// Every item has an effective sequence number: its own, or, for a document that became readable
/// after the cursor, the number at which it did (its history up to then arrives as one group).
/// Items are delivered in effective order. The page is chosen from the changes' metadata in a
/// window of sequence numbers after the cursor that widens until it holds a page (so a page costs
/// what it carries, not the whole log after the cursor), and only the chosen changes' bytes are
/// read.
pub fn build_page(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    cursor: Cursor,
    page_bytes: u32,
    split: bool,
) -> Result<Page> {
    let now = tx.max_seq()?;
    if cursor.seq > now {
        return Err(ServerError::Conflict(format!(
            "this device has seen changes up to {} but the server holds only up to {now}: the server's data was restored from an older copy. Ask your administrator.",
            cursor.seq
        )));
    }
    let team = device.user.team.clone();
    let role = device.user.role;
    let visible = visible_documents(tx, &team, role)?;
    let limit = page_bytes.clamp(MIN_PAGE_BYTES, MAX_PAGE_BYTES) as u64;
    if split && cursor.in_snapshot_phase() {
        return snapshot_page(tx, device, cursor, limit, now, &visible);
    }
    let mut entering: BTreeMap<u64, Vec<(String, Compartment)>> = BTreeMap::new();
    for ((person, comp), &vis) in &visible {
        if vis > cursor.seq {
            entering
                .entry(vis)
                .or_default()
                .push((person.clone(), *comp));
        }
    }
    let mut items: Vec<(u64, ChangeMeta)> = Vec::new();
    let mut bytes = 0u64;
    let mut lo = cursor.seq;
    let mut width = 1024u64;
    let horizon = loop {
        let hi = lo.saturating_add(width).min(now);
        for m in tx.team_change_meta(&team, lo, hi)? {
            if let Some(&vis) = visible.get(&(m.person_id.clone(), m.compartment)) {
                if !(vis > cursor.seq && m.seq <= vis) {
                    bytes += m.len;
                    items.push((m.seq, m));
                }
            }
        }
        for (&vis, docs) in entering.range(lo + 1..=hi) {
            for (person, comp) in docs {
                for m in tx.doc_change_meta(person, *comp, vis)? {
                    bytes += m.len;
                    items.push((vis, m));
                }
            }
        }
        // `skip` items of the first group were delivered already; a margin keeps a split page full.
        if hi >= now || bytes >= limit.saturating_mul(2) {
            break hi;
        }
        lo = hi;
        width = width.saturating_mul(2);
    };
    items.sort_by_key(|(eff, c)| (*eff, c.seq));
    let cut = cut_page(items, cursor, limit, horizon, now, &device.device_id, split);
    let mut by_seq: HashMap<u64, Vec<u8>> = tx.change_bytes(&cut.seqs)?.into_iter().collect();
    let mut changes = Vec::with_capacity(cut.chosen.len());
    for m in cut.chosen {
        let bytes = by_seq.remove(&m.seq).ok_or_else(|| {
            ServerError::Storage(format!(
                "change {} vanished while its page was built",
                m.seq
            ))
        })?;
        changes.push(protocol::Change {
            person_id: m.person_id,
            compartment: m.compartment,
            bytes,
        });
    }
    let remaining = if cut.more {
        cut.remaining_known + tx.count_team_changes(&team, horizon, now)?
    } else {
        0
    };
    let instructions = instructions(tx, &team, role, cursor.seq, now, &visible)?;
    Ok(Page {
        changes,
        snapshots: Vec::new(),
        cursor: cut.cursor,
        more: cut.more,
        remaining,
        instructions,
        clock_notes: cut.clock_notes,
    })
}

/// Where a document stands in a first sync by snapshots: documents go in order of the seq from
/// which they became readable, then compartment, so the position survives people joining or
/// leaving between pages (docs/decisions/0010).
fn phase_position(vis: u64, comp: Compartment) -> u64 {
    let idx = Compartment::ALL
        .iter()
        .position(|c| *c == comp)
        .unwrap_or(0) as u64;
    (vis.min(SNAPSHOT_PHASE >> 3) << 2) | idx
}

/// One document's part of a first sync by snapshots.
struct Unit {
    person_id: String,
    compartment: Compartment,
    pos: u64,
    /// The stored snapshot it starts from, if any.
    snapshot: Option<SnapshotInfo>,
    /// The changes after the snapshot up to the phase's end (all of them without one).
    tail: Vec<ChangeMeta>,
    clock_notes: Vec<ClockNote>,
    bytes: u64,
}

/// A page of a first sync by snapshots (docs/decisions/0010). The phase covers the log up to
/// `upto`: the server's last seq when the device asked `{0, SNAPSHOT_PHASE}`, and after that the
/// cursor's seq. Every document readable at `upto` is sent once, in [`phase_position`] order, as
/// its stored snapshot plus its changes after the snapshot up to `upto` (or all its changes up to
/// `upto` when no snapshot is stored); a document is never split across pages. When all are sent
/// the cursor is `{upto, 0}`: the device holds every readable change up to `upto`, and the log
/// after it follows as in any sync.
fn snapshot_page(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    cursor: Cursor,
    limit: u64,
    now: u64,
    visible: &BTreeMap<(String, Compartment), u64>,
) -> Result<Page> {
    let after = cursor.skip & !SNAPSHOT_PHASE;
    // A phase starts at position 0 and covers the log as it is now.
    let upto = if after == 0 { now } else { cursor.seq };
    let team = device.user.team.clone();
    let mut snaps: HashMap<(String, Compartment), SnapshotInfo> = tx
        .team_snapshot_info(&team)?
        .into_iter()
        .map(|s| ((s.person_id.clone(), s.compartment), s))
        .collect();
    let mut todo: Vec<(u64, &(String, Compartment))> = visible
        .iter()
        .filter(|(_, &vis)| vis <= upto)
        .map(|(k, &vis)| (phase_position(vis, k.1), k))
        .filter(|(pos, _)| *pos > after)
        .collect();
    todo.sort();
    let total = todo.len() as u64;
    let mut units: Vec<Unit> = Vec::new();
    let mut bytes = 0u64;
    for (pos, (person, comp)) in todo {
        if bytes >= limit {
            break;
        }
        let unit = phase_unit(
            tx,
            device,
            person,
            *comp,
            pos,
            upto,
            snaps.remove(&(person.clone(), *comp)),
        )?;
        bytes += unit.bytes;
        units.push(unit);
    }
    let done = units.len() as u64;
    let last = units.last().map(|u| u.pos);
    let finished = done == total;
    let mut page = Page {
        changes: Vec::new(),
        snapshots: Vec::new(),
        cursor: Cursor {
            seq: upto,
            skip: match (finished, last) {
                (false, Some(pos)) => SNAPSHOT_PHASE | pos,
                _ => 0,
            },
        },
        more: !finished || upto < now,
        remaining: (total - done) + tx.count_team_changes(&team, upto, now)?,
        instructions: instructions(tx, &team, device.user.role, cursor.seq, now, visible)?,
        clock_notes: Vec::new(),
    };
    for unit in units {
        phase_unit_bytes(tx, unit, &mut page)?;
    }
    Ok(page)
}

fn phase_unit(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    person: &str,
    comp: Compartment,
    pos: u64,
    upto: u64,
    snapshot: Option<SnapshotInfo>,
) -> Result<Unit> {
    let covered = snapshot.as_ref().map(|s| s.up_to_seq).unwrap_or(0);
    let mut unit = Unit {
        person_id: person.to_string(),
        compartment: comp,
        pos,
        bytes: snapshot.as_ref().map(|s| s.len).unwrap_or(0),
        snapshot,
        tail: Vec::new(),
        clock_notes: Vec::new(),
    };
    for m in tx.doc_change_meta(person, comp, upto)? {
        if let Some(received_ms) = m.clock_note_ms {
            unit.clock_notes.push(ClockNote {
                person_id: m.person_id.clone(),
                compartment: m.compartment,
                hash: hex(&m.hash),
                received_ms,
            });
        }
        if m.seq > covered && m.origin_device != device.device_id {
            unit.bytes += m.len;
            unit.tail.push(m);
        }
    }
    Ok(unit)
}

/// Read a unit's bytes into the page: its snapshot, then its changes in log order.
fn phase_unit_bytes(tx: &mut dyn Tx, unit: Unit, page: &mut Page) -> Result<()> {
    if unit.snapshot.is_some() {
        let (bytes, _) = tx
            .doc_snapshot(&unit.person_id, unit.compartment)?
            .ok_or_else(|| {
                ServerError::Storage(format!(
                    "the snapshot of {} vanished while its page was built",
                    unit.person_id
                ))
            })?;
        page.snapshots.push(Snapshot {
            person_id: unit.person_id.clone(),
            compartment: unit.compartment,
            bytes,
        });
    }
    let seqs: Vec<u64> = unit.tail.iter().map(|m| m.seq).collect();
    let mut by_seq: HashMap<u64, Vec<u8>> = tx.change_bytes(&seqs)?.into_iter().collect();
    for m in unit.tail {
        let bytes = by_seq.remove(&m.seq).ok_or_else(|| {
            ServerError::Storage(format!(
                "change {} vanished while its page was built",
                m.seq
            ))
        })?;
        page.changes.push(protocol::Change {
            person_id: m.person_id,
            compartment: m.compartment,
            bytes,
        });
    }
    page.clock_notes.extend(unit.clock_notes);
    Ok(())
}

/// The version-2 answer.
pub fn response(
    page: Page,
    outcome: Outcome,
    lock_after_days: u32,
    bounds: Bounds,
) -> SyncResponse {
    SyncResponse {
        protocol: PROTOCOL_VERSION,
        verdicts: outcome.verdicts,
        changes: page.changes,
        snapshots: page.snapshots,
        cursor: page.cursor,
        more: page.more,
        remaining: page.remaining,
        instructions: {
            let mut i = page.instructions;
            if outcome.reset_actor {
                i.push(Instruction::ResetActor);
            }
            i
        },
        lock_after_days,
        bounds,
        new_token: None,
        clock_notes: {
            let mut notes = outcome.clock_notes;
            notes.extend(page.clock_notes);
            notes
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    // Members who came by a referral see what it shares (issue 14 item 5).
    let shares: BTreeMap<String, String> = tx.member_shares(team)?.into_iter().collect();
    let shared = |person: &str, c: Compartment| match shares.get(person) {
        None => true,
        Some(s) => c == Compartment::Demographics || s.split(',').any(|x| x == c.as_str()),
    };
    let mut visible = BTreeMap::new();
    for (person, joined) in tx.members(team)? {
        let (consent, since) = match consents.get(&person) {
            Some((true, since)) => (Consent::Given, *since),
            _ => (Consent::NotRecorded, 0),
        };
        let always = policy::readable(role, &Context::default());
        for c in policy::readable(role, &Context { consent }) {
            if !shared(&person, c) {
                continue;
            }
            let from = if always.contains(&c) {
                joined
            } else {
                joined.max(since)
            };
            visible.insert((person.clone(), c), from);
        }
    }
    // Referred and not yet accepted: the demographics (with the referral) only.
    for (person, raised) in tx.pending_members(team)? {
        visible.insert((person, Compartment::Demographics), raised);
    }
    Ok(visible)
}

struct Cut {
    /// The changes to send (bytes still to be read), in order.
    chosen: Vec<ChangeMeta>,
    /// Their sequence numbers (to read the bytes).
    seqs: Vec<u64>,
    clock_notes: Vec<ClockNote>,
    cursor: Cursor,
    more: bool,
    /// Items known (inside the window) and not delivered.
    remaining_known: u64,
}

/// Cut the items after `cursor` into a page of about `limit` bytes. Items are known up to the
/// effective sequence number `horizon`; nothing after it has been looked at. Without `split`,
/// pages end at a whole group of equal effective sequence numbers; with it, a group larger than a
/// page is split and the cursor says how many of its items were delivered. Changes the device
/// sent itself are not echoed back, but count as delivered.
fn cut_page(
    items: Vec<(u64, ChangeMeta)>,
    cursor: Cursor,
    limit: u64,
    horizon: u64,
    now: u64,
    device_id: &str,
    split: bool,
) -> Cut {
    // Skip what the device already has of the first group.
    let first_eff = items.first().map(|(e, _)| *e);
    let skip = if split { cursor.skip as usize } else { 0 };
    let mut rest = items
        .into_iter()
        .enumerate()
        .filter(|(i, (e, _))| !(Some(*e) == first_eff && *i < skip));
    let mut out = Cut {
        chosen: Vec::new(),
        seqs: Vec::new(),
        clock_notes: Vec::new(),
        cursor: Cursor { seq: now, skip: 0 },
        more: false,
        remaining_known: 0,
    };
    let mut bytes = 0u64;
    let mut last_eff: Option<u64> = None;
    let mut in_group = if split { cursor.skip } else { 0 };
    let mut group_start = cursor.seq;
    let mut cut: Option<Cursor> = None;
    for (_, (eff, c)) in rest.by_ref() {
        if last_eff != Some(eff) {
            if bytes >= limit {
                cut = Some(Cursor {
                    seq: last_eff.unwrap_or(cursor.seq),
                    skip: 0,
                });
                out.remaining_known = 1;
                break;
            }
            if let Some(prev) = last_eff {
                group_start = prev;
                in_group = 0;
            }
            last_eff = Some(eff);
        } else if split && bytes >= limit {
            cut = Some(Cursor {
                seq: group_start,
                skip: in_group,
            });
            out.remaining_known = 1;
            break;
        }
        in_group += 1;
        if c.origin_device != device_id {
            bytes += c.len;
            if let Some(received_ms) = c.clock_note_ms {
                out.clock_notes.push(ClockNote {
                    person_id: c.person_id.clone(),
                    compartment: c.compartment,
                    hash: hex(&c.hash),
                    received_ms,
                });
            }
            out.seqs.push(c.seq);
            out.chosen.push(c);
        }
    }
    out.remaining_known += rest.count() as u64;
    match cut {
        Some(cursor) => {
            out.cursor = cursor;
            out.more = true;
        }
        // Everything known was delivered, but the window ended before the log did.
        None if horizon < now => {
            out.cursor = Cursor {
                seq: horizon,
                skip: 0,
            };
            out.more = true;
        }
        None => {}
    }
    out
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
    let always = policy::readable(role, &Context::default());
    let with_consent: Vec<Compartment> = policy::readable(
        role,
        &Context {
            consent: Consent::Given,
        },
    )
    .into_iter()
    .filter(|c| !always.contains(c))
    .collect();
    for (person_id, consented, seq) in tx.consents(team)? {
        if !consented && seq > cursor && seq <= now {
            for compartment in &with_consent {
                out.push(Instruction::PurgeCompartment {
                    person_id: person_id.clone(),
                    compartment: *compartment,
                });
            }
        }
    }
    Ok(out)
}

/// The answer to a revoked device: erase everything; nothing it sent is stored.
pub fn wipe_response(lock_after_days: u32) -> SyncResponse {
    SyncResponse {
        protocol: PROTOCOL_VERSION,
        verdicts: Verdicts::default(),
        changes: Vec::new(),
        snapshots: Vec::new(),
        cursor: Cursor::default(),
        more: false,
        remaining: 0,
        instructions: vec![Instruction::Wipe],
        lock_after_days,
        bounds: Bounds::default(),
        new_token: None,
        clock_notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(eff: u64, seq: u64, len: u64) -> (u64, ChangeMeta) {
        (
            eff,
            ChangeMeta {
                seq,
                person_id: "p".into(),
                compartment: Compartment::Clinical,
                len,
                origin_device: "other".into(),
                hash: vec![1; 32],
                clock_note_ms: None,
            },
        )
    }

    const PAGE: u64 = MIN_PAGE_BYTES as u64;

    /// One document of 10 changes entering scope at seq 100, each 40 KB: pages of 64 KB split it,
    /// and following the cursors delivers every change exactly once.
    #[test]
    fn a_large_group_is_split_and_resumed_exactly() {
        let all: Vec<_> = (1..=10).map(|s| item(100, s, 40 * 1024)).collect();
        let mut cursor = Cursor::default();
        let mut got = 0;
        for _ in 0..20 {
            let cut = cut_page(all.clone(), cursor, PAGE, 120, 120, "me", true);
            got += cut.chosen.len();
            assert!(cut.chosen.len() <= 2, "a page stays near its size");
            cursor = cut.cursor;
            if !cut.more {
                break;
            }
        }
        assert_eq!(got, 10);
        assert_eq!(cursor, Cursor { seq: 120, skip: 0 });
    }

    #[test]
    fn without_split_a_group_is_never_cut() {
        let all: Vec<_> = (1..=10).map(|s| item(100, s, 40 * 1024)).collect();
        let cut = cut_page(all, Cursor::default(), PAGE, 120, 120, "me", false);
        assert_eq!(cut.chosen.len(), 10);
        assert!(!cut.more);
    }

    /// Everything known was sent but the window ended before the log: the cursor stops at the
    /// window, and more follows.
    #[test]
    fn a_window_short_of_the_log_says_more() {
        let all: Vec<_> = (1..=3).map(|s| item(s, s, 1024)).collect();
        let cut = cut_page(all, Cursor::default(), PAGE, 50, 900, "me", true);
        assert_eq!(cut.chosen.len(), 3);
        assert!(cut.more);
        assert_eq!(cut.cursor, Cursor { seq: 50, skip: 0 });
        let all: Vec<_> = (1..=3).map(|s| item(s, s, 1024)).collect();
        let cut = cut_page(all, Cursor::default(), PAGE, 900, 900, "me", true);
        assert!(!cut.more);
        assert_eq!(cut.cursor, Cursor { seq: 900, skip: 0 });
    }
}
