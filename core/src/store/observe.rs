//! Live queries: after every committed write or applied sync page the store tells registered
//! observers which people and which lists changed, so a list screen updates the rows it shows
//! instead of polling. Observers are called on the store's own notifier thread, never while the
//! writer is held; changes that arrive while the thread is busy (or while notifications are
//! held, as during one sync: [`FieldStore::hold_notifications`]) are coalesced into one.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{lock, FieldStore};
use crate::record::edit::Delta;
use crate::record::Compartment;

/// What changed in the store, for a screen to update what it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StoreChange {
    /// People whose record changed on this device (their caseload row, their record screen).
    pub people: Vec<String>,
    /// People no longer held on this device (purged, or everyone when the store was wiped).
    pub removed: Vec<String>,
    /// The caseload and search results may have changed.
    pub caseload: bool,
    /// The open clinical conflicts may have changed.
    pub conflicts: bool,
    /// Day lists may have changed: planned visits, and the today list and team schedule
    /// (issue 12), which are worked out from care plans and visit exceptions when read.
    pub planned_visits: bool,
    /// What waits to be sent (pending changes) or the quarantine changed.
    pub pending: bool,
}

impl StoreChange {
    pub fn is_empty(&self) -> bool {
        self == &StoreChange::default()
    }

    /// Fold `other` into this one (people in order of first mention, no repeats).
    pub fn merge(&mut self, other: StoreChange) {
        for (mine, theirs) in [
            (&mut self.people, other.people),
            (&mut self.removed, other.removed),
        ] {
            let seen: BTreeSet<String> = mine.iter().cloned().collect();
            let mut seen = seen;
            for p in theirs {
                if seen.insert(p.clone()) {
                    mine.push(p);
                }
            }
        }
        self.caseload |= other.caseload;
        self.conflicts |= other.conflicts;
        self.planned_visits |= other.planned_visits;
        self.pending |= other.pending;
    }

    /// A local edit of one person's compartment document, with the projection deltas it made.
    pub(crate) fn of_edit(person_id: &str, compartment: Compartment, deltas: &[Delta]) -> Self {
        let mut c = StoreChange {
            people: vec![person_id.to_string()],
            pending: true,
            caseload: compartment == Compartment::Demographics,
            ..Default::default()
        };
        for d in deltas {
            match d {
                Delta::Person(_) | Delta::News2 { .. } => c.caseload = true,
                Delta::Planned(_) => {
                    c.caseload = true;
                    c.planned_visits = true;
                }
                Delta::Visit { fulfils, .. } => {
                    c.caseload = true;
                    c.planned_visits |= fulfils.is_some();
                }
                Delta::Alerts(_) => {
                    c.caseload = true;
                    c.conflicts = true;
                    c.planned_visits = true;
                }
                Delta::Clinical(_) => {
                    c.caseload = true;
                    c.conflicts = true;
                    c.planned_visits = true;
                }
                Delta::ScheduledVisitDone { .. } | Delta::Advice(_) => c.planned_visits = true,
                Delta::Referrals(_) | Delta::Duplicates(_) => c.caseload = true,
            }
        }
        c
    }

    /// Changes received for these people (every list of theirs may have changed).
    pub(crate) fn of_people(people: impl IntoIterator<Item = String>) -> Self {
        let mut c = StoreChange::default();
        c.merge(StoreChange {
            people: people.into_iter().collect(),
            ..Default::default()
        });
        let any = !c.people.is_empty();
        c.caseload = any;
        c.conflicts = any;
        c.planned_visits = any;
        c
    }
}

/// Told what changed after each committed write or sync page (coalesced). Called on the store's
/// notifier thread: hand the change to the UI thread yourself, and keep it quick.
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait StoreObserver: Send + Sync {
    fn on_change(&self, change: StoreChange);
}

type Observers = Arc<Mutex<Vec<(u64, Arc<dyn StoreObserver>)>>>;

/// The observers, the notifier thread and what is held back.
pub(super) struct Notifier {
    observers: Observers,
    next_id: AtomicU64,
    tx: Mutex<Option<Sender<StoreChange>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// While above 0, changes are gathered in `held` instead of sent.
    holds: Mutex<(usize, StoreChange)>,
}

impl Notifier {
    pub(super) fn new() -> Self {
        Notifier {
            observers: Arc::new(Mutex::new(Vec::new())),
            next_id: AtomicU64::new(1),
            tx: Mutex::new(None),
            thread: Mutex::new(None),
            holds: Mutex::new((0, StoreChange::default())),
        }
    }

    /// Send `change` to the observers (on the notifier thread), or keep it while held.
    pub(super) fn notify(&self, change: StoreChange) {
        if change.is_empty() {
            return;
        }
        if let Ok(mut h) = self.holds.lock() {
            if h.0 > 0 {
                h.1.merge(change);
                return;
            }
        }
        self.send(change);
    }

    fn send(&self, change: StoreChange) {
        let Ok(observers) = self.observers.lock() else {
            return;
        };
        if observers.is_empty() {
            return;
        }
        drop(observers);
        let Ok(mut tx) = self.tx.lock() else {
            return;
        };
        if tx.is_none() {
            let (s, r) = mpsc::channel();
            let observers = self.observers.clone();
            let spawned = std::thread::Builder::new()
                .name("doorstep-observers".into())
                .spawn(move || run(r, observers));
            match spawned {
                Ok(handle) => {
                    *tx = Some(s);
                    if let Ok(mut t) = self.thread.lock() {
                        *t = Some(handle);
                    }
                }
                Err(e) => {
                    tracing::warn!("cannot start the observer thread: {e}");
                    return;
                }
            }
        }
        if let Some(s) = tx.as_ref() {
            let _ = s.send(change);
        }
    }

    fn hold(&self) {
        if let Ok(mut h) = self.holds.lock() {
            h.0 += 1;
        }
    }

    fn release(&self) {
        let held = match self.holds.lock() {
            Ok(mut h) => {
                h.0 = h.0.saturating_sub(1);
                if h.0 == 0 {
                    std::mem::take(&mut h.1)
                } else {
                    StoreChange::default()
                }
            }
            Err(_) => StoreChange::default(),
        };
        if !held.is_empty() {
            self.send(held);
        }
    }

    /// Stop the notifier thread after it has delivered what it was sent.
    pub(super) fn stop(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// The notifier thread: wait for a change, fold in whatever else is queued, tell everyone.
fn run(rx: Receiver<StoreChange>, observers: Observers) {
    while let Ok(mut change) = rx.recv() {
        while let Ok(more) = rx.try_recv() {
            change.merge(more);
        }
        let list: Vec<Arc<dyn StoreObserver>> = match observers.lock() {
            Ok(o) => o.iter().map(|(_, o)| o.clone()).collect(),
            Err(_) => return,
        };
        for o in list {
            // A foreign observer that throws must not stop the others or the thread.
            let call = std::panic::AssertUnwindSafe(|| o.on_change(change.clone()));
            if std::panic::catch_unwind(call).is_err() {
                tracing::warn!("a store observer panicked; the others are still told");
            }
        }
    }
}

/// Notifications held back until this is dropped, then sent as one (see
/// [`FieldStore::hold_notifications`]).
pub struct HeldNotifications<'a> {
    store: &'a FieldStore,
}

impl Drop for HeldNotifications<'_> {
    fn drop(&mut self) {
        self.store.notifier.release();
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Be told what changed after every committed write or sync page (see [`StoreObserver`]).
    /// Returns an id for [`FieldStore::unobserve`].
    pub fn observe(&self, observer: Arc<dyn StoreObserver>) -> u64 {
        let id = self.notifier.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut o) = lock(&self.notifier.observers) {
            o.push((id, observer));
        }
        id
    }

    /// Stop telling the observer `id`; unknown ids are ignored.
    pub fn unobserve(&self, id: u64) {
        if let Ok(mut o) = lock(&self.notifier.observers) {
            o.retain(|(i, _)| *i != id);
        }
    }
}

impl FieldStore {
    /// Gather changes instead of telling observers until the guard is dropped, then tell them
    /// once: a sync holds them so that its pages reach a list screen as one change.
    pub fn hold_notifications(&self) -> HeldNotifications<'_> {
        self.notifier.hold();
        HeldNotifications { store: self }
    }

    pub(super) fn notify(&self, change: StoreChange) {
        self.notifier.notify(change);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{channel, Sender};
    use std::time::Duration;

    use super::*;
    use crate::record::Role;
    use crate::testing::{demographics, exchange, full_visit, open};

    struct Tx(Mutex<Sender<(StoreChange, std::thread::ThreadId)>>);
    impl StoreObserver for Tx {
        fn on_change(&self, change: StoreChange) {
            let _ = self
                .0
                .lock()
                .unwrap()
                .send((change, std::thread::current().id()));
        }
    }

    fn watch(s: &FieldStore) -> Receiver<(StoreChange, std::thread::ThreadId)> {
        let (t, r) = channel();
        s.observe(Arc::new(Tx(Mutex::new(t))));
        r
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn a_write_tells_observers_what_changed_on_another_thread() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "a", Role::DistrictNurse);
        let r = watch(&s);
        let id = s
            .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
            .unwrap();
        let (c, thread) = r.recv_timeout(WAIT).unwrap();
        assert_ne!(thread, std::thread::current().id());
        assert_eq!(c.people, vec![id.clone()]);
        assert!(c.caseload && c.pending && !c.conflicts);
        s.add_note(&id, None, "seen").unwrap();
        let (c, _) = r.recv_timeout(WAIT).unwrap();
        assert_eq!((c.people, c.caseload), (vec![id.clone()], false));
        // A refused write changes nothing and tells no one.
        assert!(s.add_note(&id, None, " ").is_err());
        assert!(r.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn held_changes_arrive_as_one_and_unobserved_observers_hear_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir.path().join("a.db"), "a", Role::DistrictNurse);
        let b = open(&dir.path().join("b.db"), "b", Role::DistrictNurse);
        let p = a
            .register_patient(demographics("Edith", "Crawley", None, "HX7 8AB"))
            .unwrap();
        let q = a
            .register_patient(demographics("Arthur", "Dent", None, "HX7 8AB"))
            .unwrap();
        a.record_visit(&p, full_visit(0)).unwrap();
        let r = watch(&b);
        {
            let _held = b.hold_notifications();
            exchange(&a, &b);
            b.record_visit(&q, full_visit(0)).unwrap();
            assert!(r.recv_timeout(Duration::from_millis(200)).is_err());
        }
        let (c, _) = r.recv_timeout(WAIT).unwrap();
        let mut people = c.people.clone();
        people.sort();
        let mut want = vec![p.clone(), q.clone()];
        want.sort();
        assert_eq!(people, want);
        assert!(c.caseload && c.conflicts && c.pending);
        assert!(r.recv_timeout(Duration::from_millis(200)).is_err());

        let id = b.observe(Arc::new(Tx(Mutex::new(channel().0))));
        b.unobserve(id);
        b.unobserve(999);
    }
}
