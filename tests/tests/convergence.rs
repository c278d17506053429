//! Property: 3–5 stores make random edits, exchange changes in random orders and subsets, and
//! after a final full exchange hold identical documents, identical projections and the same set
//! of clinical conflicts — with every visit, note and observation any of them recorded.

use std::collections::BTreeSet;

use doorstep_core::record::*;
use doorstep_core::{testing, ChangeBatch, Error, FieldStore};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Visit {
        store: usize,
        person: usize,
    },
    Note {
        store: usize,
        person: usize,
    },
    Alert {
        store: usize,
        person: usize,
        kind: usize,
        text: usize,
    },
    Phone {
        store: usize,
        person: usize,
        n: u16,
    },
    EnterInError {
        store: usize,
        person: usize,
    },
    Register {
        store: usize,
    },
    /// Pass a subset of `from`'s changes to `to`, in an order given by `order`.
    Exchange {
        from: usize,
        to: usize,
        subset: u64,
        order: u64,
    },
}

const KINDS: [AlertKind; 3] = [
    AlertKind::Allergies,
    AlertKind::Resuscitation,
    AlertKind::RiskToStaff,
];
const TEXTS: [&str; 3] = [
    "Penicillin: anaphylaxis",
    "DNACPR in place",
    "Two staff at all times",
];

fn op(stores: usize) -> impl Strategy<Value = Op> {
    let s = 0..stores;
    let p = 0..4usize;
    prop_oneof![
        3 => (s.clone(), p.clone()).prop_map(|(store, person)| Op::Visit { store, person }),
        2 => (s.clone(), p.clone()).prop_map(|(store, person)| Op::Note { store, person }),
        3 => (s.clone(), p.clone(), 0..3usize, 0..3usize)
            .prop_map(|(store, person, kind, text)| Op::Alert { store, person, kind, text }),
        1 => (s.clone(), p.clone(), any::<u16>()).prop_map(|(store, person, n)| Op::Phone { store, person, n }),
        1 => (s.clone(), p.clone()).prop_map(|(store, person)| Op::EnterInError { store, person }),
        1 => s.clone().prop_map(|store| Op::Register { store }),
        4 => (s.clone(), s, any::<u64>(), any::<u64>())
            .prop_map(|(from, to, subset, order)| Op::Exchange { from, to, subset, order }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (3usize..=5).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 10..40)))
}

/// Errors a random edit may legitimately meet: the person has not reached that store yet, or a
/// conflict is open on the alert.
fn tolerate(r: Result<(), Error>) {
    match r {
        Ok(())
        | Err(Error::NotFound { .. })
        | Err(Error::Validation(_))
        | Err(Error::ConflictNotOpen { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn apply(stores: &[FieldStore], people: &mut Vec<String>, op: &Op) {
    let person = |i: usize| people.get(i % people.len()).cloned().unwrap_or_default();
    match *op {
        Op::Visit { store, person: p } => tolerate(
            stores[store]
                .record_visit(&person(p), testing::full_visit(1))
                .map(|_| ()),
        ),
        Op::Note { store, person: p } => tolerate(
            stores[store]
                .add_note(&person(p), None, "Spoke with carer")
                .map(|_| ()),
        ),
        Op::Alert {
            store,
            person: p,
            kind,
            text,
        } => {
            let s = &stores[store];
            let input = AlertInput {
                kind: KINDS[kind],
                text: TEXTS[text].into(),
                active: true,
            };
            let open = s
                .conflicts(Some(person(p)))
                .ok()
                .and_then(|c| c.into_iter().find(|c| c.kind == KINDS[kind]));
            match open {
                Some(c) => tolerate(s.resolve_conflict(&c.id, input).map(|_| ())),
                None => tolerate(s.set_alert(&person(p), input).map(|_| ())),
            }
        }
        Op::Phone {
            store,
            person: p,
            n,
        } => {
            let s = &stores[store];
            if let Ok(rec) = s.patient(&person(p)) {
                if let Some(mut d) = rec.demographics {
                    d.phone = Some(format!("01422 {n:06}"));
                    tolerate(s.update_demographics(&person(p), d).map(|_| ()));
                }
            }
        }
        Op::EnterInError { store, person: p } => {
            let s = &stores[store];
            let first = s
                .patient(&person(p))
                .ok()
                .and_then(|r| r.clinical)
                .and_then(|c| c.visits.first().map(|v| v.id.clone()));
            if let Some(v) = first {
                tolerate(
                    s.mark_entered_in_error(&person(p), &v, "Wrong person")
                        .map(|_| ()),
                );
            }
        }
        Op::Register { store } => {
            let n = people.len();
            let id = stores[store]
                .register_patient(testing::demographics(
                    &format!("Person{n}"),
                    "Doe",
                    None,
                    "HX7 8AB",
                ))
                .unwrap();
            people.push(id);
        }
        Op::Exchange {
            from,
            to,
            subset,
            order,
        } => {
            if from == to {
                return;
            }
            let all = stores[from].export_changes(0).unwrap();
            let mut picked: Vec<_> = all
                .changes
                .into_iter()
                .enumerate()
                .filter(|(i, _)| subset & (1u64 << (i % 64)) != 0)
                .map(|(_, c)| c)
                .collect();
            // A deterministic shuffle from `order`.
            let mut x = order | 1;
            for i in (1..picked.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                picked.swap(i, (x % (i as u64 + 1)) as usize);
            }
            stores[to]
                .import_changes(&ChangeBatch {
                    changes: picked,
                    up_to: 0,
                })
                .unwrap();
        }
    }
}

fn check_converged(stores: &[FieldStore], people: &[String]) {
    let heads = stores[0].document_heads().unwrap();
    let dump = stores[0].projection_dump().unwrap();
    let conflicts = stores[0].conflicts(None).unwrap();
    let records: Vec<_> = people
        .iter()
        .map(|p| stores[0].patient(p).unwrap())
        .collect();
    for (i, s) in stores.iter().enumerate() {
        // Every change a store writes passes the record's rules on every other store.
        assert_eq!(
            s.quarantine().unwrap(),
            vec![],
            "store {i}: nothing quarantined"
        );
    }
    for (i, s) in stores.iter().enumerate().skip(1) {
        assert_eq!(
            s.document_heads().unwrap(),
            heads,
            "store {i}: documents differ"
        );
        assert_eq!(
            s.projection_dump().unwrap(),
            dump,
            "store {i}: projections differ"
        );
        assert_eq!(
            s.conflicts(None).unwrap(),
            conflicts,
            "store {i}: conflicts differ"
        );
        for (p, r) in people.iter().zip(&records) {
            assert_eq!(
                &s.patient(p).unwrap(),
                r,
                "store {i}: record of {p} differs"
            );
        }
    }
    // Projections are derived: rebuilding them from the documents changes nothing.
    stores[0].rebuild_projections().unwrap();
    assert_eq!(
        stores[0].projection_dump().unwrap(),
        dump,
        "rebuild differs from incremental"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn stores_converge((n, ops) in scenario()) {
        let dir = tempfile::tempdir().unwrap();
        let stores: Vec<FieldStore> = (0..n)
            .map(|i| testing::open(&dir.path().join(format!("s{i}.db")), &format!("dev{i}"), Role::DistrictNurse))
            .collect();
        let mut people: Vec<String> = (0..2)
            .map(|i| stores[0].register_patient(testing::demographics(&format!("Seed{i}"), "Doe", None, "HX7 8AB")).unwrap())
            .collect();
        for s in &stores[1..] {
            testing::exchange(&stores[0], s);
        }
        for op in &ops {
            apply(&stores, &mut people, op);
        }
        // Each store's incrementally maintained projections equal a rebuild from its documents.
        for (i, s) in stores.iter().enumerate() {
            let before = s.projection_dump().unwrap();
            s.rebuild_projections().unwrap();
            prop_assert_eq!(s.projection_dump().unwrap(), before, "store {}: incremental projections differ from a rebuild", i);
        }
        // Every visit recorded anywhere, before the final exchange.
        let mut recorded: BTreeSet<String> = BTreeSet::new();
        for s in &stores {
            for p in &people {
                if let Ok(r) = s.patient(p) {
                    recorded.extend(r.clinical.into_iter().flat_map(|c| c.visits.into_iter().map(|v| v.id)));
                }
            }
        }
        // Final full exchange: everyone to everyone, twice round.
        for _ in 0..2 {
            for a in 0..n {
                for b in 0..n {
                    if a != b {
                        testing::exchange(&stores[a], &stores[b]);
                    }
                }
            }
        }
        check_converged(&stores, &people);
        let held: BTreeSet<String> = people
            .iter()
            .flat_map(|p| stores[0].patient(p).unwrap().clinical.into_iter().flat_map(|c| c.visits.into_iter().map(|v| v.id)))
            .collect();
        prop_assert_eq!(held, recorded, "every visit recorded anywhere survives");
    }
}
