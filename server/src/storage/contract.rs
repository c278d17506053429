//! The storage contract: every [`Tx`] method against fixed expectations, run for each backend so
//! that they cannot drift apart. Backend-specific behaviour (PostgreSQL's ordering under
//! concurrency, several processes on one database) is tested next to that backend.

use doorstep_core::record::{Compartment, Role, User};

use super::postgres::PgStorage;
use super::sqlite::SqliteStorage;
use super::{
    DeviceInfo, DeviceRow, EscalationRoutes, FhirReadRow, HubSession, IngestRefusal,
    IntegrationRow, NewChange, NewReading, ReadingInsert, ReferralRow, SnapshotInfo, Storage,
    StoredChange, TeamProfile,
};
use crate::error::{Result, ServerError};

pub(crate) fn user(id: &str, name: &str, role: Role, team: &str) -> User {
    User {
        id: id.into(),
        display_name: name.into(),
        role,
        team: team.into(),
    }
}

pub(crate) fn is_storage_err<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(ServerError::Storage(_)))
}

pub(crate) fn change<'a>(
    seq: u64,
    person: &'a str,
    c: Compartment,
    hash: &'a [u8],
    bytes: &'a [u8],
    origin: &'a str,
) -> NewChange<'a> {
    NewChange {
        seq,
        person_id: person,
        compartment: c,
        hash,
        bytes,
        origin_device: origin,
        received_ms: 10,
        actor: None,
        actor_seq: None,
        clock_note_ms: None,
    }
}

pub(crate) fn seqs(changes: &[StoredChange]) -> Vec<u64> {
    changes.iter().map(|c| c.seq).collect()
}

pub(crate) fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every `Tx` method against fixed expectations, on an empty store. Run for each backend so
/// that they cannot drift apart.
pub(crate) fn conformance(s: &Storage) {
    use Compartment::*;
    let conflict = || ServerError::Conflict("stop".into());
    assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 0);

    // Teams. A failed statement fails the whole write, and nothing of it is kept.
    s.write(|tx| tx.create_team("t1", "Team one")).unwrap();
    s.write(|tx| tx.create_team("t2", "Team two")).unwrap();
    assert!(is_storage_err(s.write(|tx| {
        tx.create_team("t3", "Team three")?;
        tx.create_team("t1", "again")
    })));
    assert_eq!(
        s.read(|tx| Ok((
            tx.team_exists("t1")?,
            tx.team_exists("t2")?,
            tx.team_exists("t3")?,
            tx.team_exists("x")?
        )))
        .unwrap(),
        (true, true, false, false)
    );

    // Users.
    let nurse = user("u1", "Ann Nurse", Role::DistrictNurse, "t1");
    let adviser = user("u2", "Bob Adviser", Role::AdviceWorker, "t1");
    s.write(|tx| {
        tx.create_user(&nurse)?;
        tx.create_user(&adviser)
    })
    .unwrap();
    assert!(is_storage_err(s.write(|tx| tx.create_user(&user(
        "u3",
        "No Team",
        Role::AdviceWorker,
        "nope"
    )))));
    assert!(is_storage_err(s.write(|tx| tx.create_user(&nurse))));
    assert_eq!(
        s.read(|tx| Ok((tx.user("u1")?, tx.user("u2")?, tx.user("u3")?)))
            .unwrap(),
        (Some(nurse.clone()), Some(adviser.clone()), None)
    );

    // Enrolment codes: one use each, only before they expire.
    s.write(|tx| {
        tx.add_code("h1", "u1", 1000)?;
        tx.add_code("h2", "u2", 1000)?;
        tx.add_code("h4", "u1", 1000)
    })
    .unwrap();
    assert!(is_storage_err(
        s.write(|tx| tx.add_code("h3", "nobody", 1000))
    ));
    assert!(is_storage_err(s.write(|tx| tx.add_code("h1", "u2", 1000))));
    assert_eq!(
        s.write(|tx| tx.take_code("h1", 999)).unwrap(),
        Some("u1".into())
    );
    assert_eq!(s.write(|tx| tx.take_code("h1", 999)).unwrap(), None);
    assert_eq!(s.write(|tx| tx.take_code("h1", 0)).unwrap(), None);
    assert_eq!(
        s.write(|tx| tx.take_code("h2", 1000)).unwrap(),
        None,
        "expired at 1000"
    );
    assert_eq!(
        s.write(|tx| tx.take_code("h2", 999)).unwrap(),
        Some("u2".into())
    );
    assert_eq!(s.write(|tx| tx.take_code("missing", 0)).unwrap(), None);
    let r = s.write(|tx| {
        assert_eq!(tx.take_code("h4", 0)?, Some("u1".into()));
        Err::<(), _>(conflict())
    });
    assert!(
        matches!(r, Err(ServerError::Conflict(_))),
        "the closure's own error comes back: {r:?}"
    );
    assert_eq!(
        s.write(|tx| tx.take_code("h4", 0)).unwrap(),
        Some("u1".into()),
        "a rolled-back take"
    );

    // Devices.
    s.write(|tx| {
        tx.add_device("d1", "u1", "tok1", 100)?;
        tx.add_device("d2", "u2", "tok2", 200)
    })
    .unwrap();
    assert!(
        is_storage_err(s.write(|tx| tx.add_device("d3", "u1", "tok1", 300))),
        "token reused"
    );
    assert!(
        is_storage_err(s.write(|tx| tx.add_device("d1", "u1", "tokX", 300))),
        "device id reused"
    );
    assert!(
        is_storage_err(s.write(|tx| tx.add_device("d4", "nobody", "tok4", 300))),
        "no such user"
    );
    assert_eq!(
        s.read(|tx| Ok((tx.device_by_token("tok1")?, tx.device_by_token("tokX")?)))
            .unwrap(),
        (
            Some(DeviceRow {
                device_id: "d1".into(),
                user: nurse.clone(),
                revoked: false,
                retired: false,
                pending_token: false,
                enrolled_ms: 100,
            }),
            None
        )
    );
    assert_eq!(
        s.write(|tx| Ok((
            tx.revoke_device("d2", 300)?,
            tx.revoke_device("d2", 301)?,
            tx.revoke_device("x", 1)?
        )))
        .unwrap(),
        (true, false, false)
    );
    assert_eq!(
        s.read(|tx| tx.device_by_token("tok2")).unwrap(),
        Some(DeviceRow {
            device_id: "d2".into(),
            user: adviser.clone(),
            revoked: true,
            retired: false,
            pending_token: false,
            enrolled_ms: 200,
        })
    );
    s.write(|tx| {
        tx.touch_device("d1", 400)?;
        tx.touch_device("nope", 400)
    })
    .unwrap();
    assert_eq!(
        s.read(|tx| tx.devices()).unwrap(),
        vec![
            DeviceInfo {
                device_id: "d1".into(),
                user_id: "u1".into(),
                enrolled_ms: 100,
                revoked_ms: None,
                last_sync_ms: Some(400),
                retired_ms: None,
            },
            DeviceInfo {
                device_id: "d2".into(),
                user_id: "u2".into(),
                enrolled_ms: 200,
                revoked_ms: Some(300),
                last_sync_ms: None,
                retired_ms: None,
            },
        ]
    );

    // Actors.
    assert_eq!(s.read(|tx| tx.actor_owner("a1")).unwrap(), None);
    s.write(|tx| tx.bind_actor("a1", "d1")).unwrap();
    assert_eq!(
        s.read(|tx| tx.actor_owner("a1")).unwrap(),
        Some("d1".into())
    );
    assert!(is_storage_err(s.write(|tx| tx.bind_actor("a1", "d2"))));

    // The sequence: a rolled-back transaction gives its numbers back.
    assert_eq!(
        s.write(|tx| Ok((tx.next_seq()?, tx.next_seq()?, tx.max_seq()?)))
            .unwrap(),
        (1, 2, 2)
    );
    assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 2);
    let r = s.write(|tx| {
        tx.next_seq()?;
        tx.next_seq()?;
        Err::<(), _>(conflict())
    });
    assert!(matches!(r, Err(ServerError::Conflict(_))));
    assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 2);

    // The log. Person ids whose byte order differs from a natural-language collation.
    let (h1, h2, h3, h4, h9) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32], [9u8; 32]);
    s.write(|tx| {
        assert_eq!(tx.next_seq()?, 3);
        tx.join("t1", "a-1", 3)?;
        assert_eq!(tx.next_seq()?, 4);
        tx.join("t1", "B-2", 4)?;
        assert_eq!(tx.next_seq()?, 5);
        assert!(tx.insert_change(&change(5, "a-1", Demographics, &h1, &[0, 255, 1], "d1"))?);
        assert_eq!(tx.next_seq()?, 6);
        assert!(tx.insert_change(&change(6, "B-2", Clinical, &h2, b"b2", "d1"))?);
        assert_eq!(tx.next_seq()?, 7);
        assert!(tx.insert_change(&NewChange {
            clock_note_ms: Some(10),
            ..change(7, "a-1", Demographics, &h3, &[3], "d1")
        })?);
        assert_eq!(tx.next_seq()?, 8);
        assert!(
            !tx.insert_change(&change(8, "a-1", Demographics, &h1, b"dup", "d2"))?,
            "same hash"
        );
        assert!(
            !tx.insert_change(&change(5, "zz", Advice, &h9, b"dup", "d2"))?,
            "same seq"
        );
        assert_eq!(tx.next_seq()?, 9);
        assert!(tx.insert_change(&change(9, "loner", Advice, &h4, b"l", "d2"))?);
        Ok(())
    })
    .unwrap();
    s.read(|tx| {
        assert_eq!(tx.max_seq()?, 9);
        assert!(tx.has_change("a-1", Demographics, &h1)?);
        assert!(!tx.has_change("a-1", Clinical, &h1)?);
        assert!(!tx.has_change("B-2", Demographics, &h1)?);
        assert!(!tx.has_change("zz", Advice, &h9)?);
        assert!(tx.person_known("a-1")?);
        assert!(tx.person_known("loner")?, "changes only");
        assert!(!tx.person_known("zz")?);
        let all = tx.doc_changes("a-1", Demographics, u64::MAX)?;
        assert_eq!(
            all,
            vec![
                StoredChange {
                    seq: 5,
                    person_id: "a-1".into(),
                    compartment: Demographics,
                    bytes: vec![0, 255, 1],
                    origin_device: "d1".into(),
                    hash: h1.to_vec(),
                    clock_note_ms: None,
                },
                StoredChange {
                    seq: 7,
                    person_id: "a-1".into(),
                    compartment: Demographics,
                    bytes: vec![3],
                    origin_device: "d1".into(),
                    hash: h3.to_vec(),
                    clock_note_ms: Some(10),
                },
            ]
        );
        assert_eq!(seqs(&tx.doc_changes("a-1", Demographics, 6)?), vec![5]);
        assert_eq!(
            seqs(&tx.doc_changes("a-1", Demographics, 4)?),
            Vec::<u64>::new()
        );
        assert_eq!(
            seqs(&tx.doc_changes("a-1", Clinical, 9)?),
            Vec::<u64>::new()
        );
        assert_eq!(seqs(&tx.doc_changes("loner", Advice, 9)?), vec![9]);
        let team = tx.team_changes("t1", 0, 9)?;
        assert_eq!(seqs(&team), vec![5, 6, 7], "the loner is on no caseload");
        assert_eq!(team[1].compartment, Clinical);
        assert_eq!(team[1].bytes, b"b2");
        assert_eq!(seqs(&tx.team_changes("t1", 5, 6)?), vec![6]);
        assert_eq!(seqs(&tx.team_changes("t1", 0, u64::MAX)?), vec![5, 6, 7]);
        assert_eq!(seqs(&tx.team_changes("t1", 7, 9)?), Vec::<u64>::new());
        assert_eq!(seqs(&tx.team_changes("t2", 0, 9)?), Vec::<u64>::new());
        // The same without bytes, their lengths instead; then the bytes of the chosen ones.
        let meta = tx.team_change_meta("t1", 0, 9)?;
        let m: Vec<(u64, u64, Option<i64>)> = meta
            .iter()
            .map(|c| (c.seq, c.len, c.clock_note_ms))
            .collect();
        assert_eq!(m, vec![(5, 3, None), (6, 2, None), (7, 1, Some(10))]);
        assert_eq!(meta[0].hash, h1.to_vec());
        assert_eq!(meta[1].person_id, "B-2");
        assert_eq!(meta[1].origin_device, "d1");
        assert_eq!(tx.team_change_meta("t1", 5, 6)?.len(), 1);
        let doc: Vec<u64> = tx
            .doc_change_meta("a-1", Demographics, 6)?
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(doc, vec![5]);
        let mut got = tx.change_bytes(&[7, 5, 42])?;
        got.sort();
        assert_eq!(
            got,
            vec![(5, vec![0, 255, 1]), (7, vec![3])],
            "unknown seqs left out"
        );
        assert_eq!(tx.count_team_changes("t1", 0, 9)?, 3);
        assert_eq!(tx.count_team_changes("t1", 5, 9)?, 2);
        assert_eq!(tx.count_team_changes("t2", 0, 9)?, 0);
        assert_eq!(
            tx.members("t1")?,
            vec![("B-2".into(), 4), ("a-1".into(), 3)],
            "byte order"
        );
        assert!(tx.was_member("t1", "a-1")?);
        assert!(!tx.was_member("t2", "a-1")?);
        assert_eq!(tx.teams_of("a-1")?, vec!["t1".to_string()]);
        assert!(tx.teams_of("loner")?.is_empty());
        Ok(())
    })
    .unwrap();

    // Caseload moves.
    s.write(|tx| {
        assert_eq!(tx.next_seq()?, 10);
        assert!(tx.leave("t1", "a-1", 10)?);
        assert!(!tx.leave("t1", "a-1", 10)?);
        assert!(!tx.leave("t2", "a-1", 10)?);
        assert_eq!(tx.next_seq()?, 11);
        tx.join("t2", "a-1", 11)?;
        assert_eq!(tx.next_seq()?, 12);
        tx.join("t1", "a_3", 12)
    })
    .unwrap();
    s.read(|tx| {
        assert_eq!(
            tx.members("t1")?,
            vec![("B-2".into(), 4), ("a_3".into(), 12)]
        );
        assert_eq!(tx.members("t2")?, vec![("a-1".into(), 11)]);
        assert!(tx.was_member("t1", "a-1")?, "history counts");
        assert_eq!(
            tx.ever_members("t1")?,
            strs(&["B-2", "a-1", "a_3"]),
            "reports count those who left"
        );
        assert_eq!(tx.teams_of("a-1")?, vec!["t2".to_string()]);
        assert_eq!(
            tx.current_people()?,
            strs(&["B-2", "a-1", "a_3"]),
            "everyone on a caseload now, once, in byte order"
        );
        assert_eq!(seqs(&tx.team_changes("t1", 0, 12)?), vec![6]);
        assert_eq!(seqs(&tx.team_changes("t2", 0, 12)?), vec![5, 7]);
        assert_eq!(tx.left_between("t1", 0, 12)?, strs(&["a-1"]));
        assert_eq!(tx.left_between("t1", 9, 10)?, strs(&["a-1"]));
        assert_eq!(tx.left_between("t1", 10, 12)?, Vec::<String>::new());
        assert_eq!(tx.left_between("t2", 0, 12)?, Vec::<String>::new());
        assert!(tx.person_known("a_3")?, "caseload only");
        Ok(())
    })
    .unwrap();
    s.write(|tx| {
        assert_eq!(tx.next_seq()?, 13);
        assert!(tx.leave("t2", "a-1", 13)?);
        assert_eq!(tx.next_seq()?, 14);
        tx.join("t1", "a-1", 14)?;
        assert_eq!(tx.next_seq()?, 15);
        assert!(tx.leave("t1", "a-1", 15)?);
        assert_eq!(tx.next_seq()?, 16);
        assert!(tx.leave("t1", "B-2", 16)?);
        Ok(())
    })
    .unwrap();
    s.read(|tx| {
        assert_eq!(
            sorted(tx.left_between("t1", 0, 16)?),
            strs(&["B-2", "a-1"]),
            "each person once"
        );
        assert_eq!(tx.left_between("t1", 15, 16)?, strs(&["B-2"]));
        assert_eq!(tx.members("t1")?, vec![("a_3".into(), 12)]);
        assert!(tx.teams_of("a-1")?.is_empty());
        Ok(())
    })
    .unwrap();

    // Consent.
    assert_eq!(
        s.read(|tx| Ok((tx.consent("a_3")?, tx.consents("t1")?)))
            .unwrap(),
        (None, vec![])
    );
    s.write(|tx| {
        assert_eq!(tx.next_seq()?, 17);
        tx.set_consent("a_3", true, 17)?;
        tx.set_consent("a-1", true, 17)
    })
    .unwrap();
    s.read(|tx| {
        assert_eq!(tx.consent("a_3")?, Some((true, 17)));
        assert_eq!(tx.consent("a-1")?, Some((true, 17)));
        assert_eq!(
            tx.consents("t1")?,
            vec![("a_3".into(), true, 17)],
            "current members only"
        );
        assert_eq!(tx.consents("t2")?, vec![]);
        Ok(())
    })
    .unwrap();
    s.write(|tx| {
        assert_eq!(tx.next_seq()?, 18);
        tx.set_consent("a_3", false, 18)
    })
    .unwrap();
    assert_eq!(
        s.read(|tx| Ok((tx.consent("a_3")?, tx.consents("t1")?)))
            .unwrap(),
        (Some((false, 18)), vec![("a_3".into(), false, 18)])
    );

    // Purge reports.
    s.write(|tx| {
        tx.record_purges("d1", &strs(&["a-1", "B-2"]), 500)?;
        tx.record_purges("d1", &[], 500)
    })
    .unwrap();

    // A read keeps nothing, and returns the closure's own error unchanged.
    let _ = s.read(|tx| tx.create_team("t9", "in a read"));
    assert!(!s.read(|tx| tx.team_exists("t9")).unwrap());
    let r = s.read(|_| Err::<(), _>(ServerError::NotFound("x".into())));
    assert!(matches!(r, Err(ServerError::NotFound(_))));
    assert_eq!(s.read(|tx| tx.max_seq()).unwrap(), 18);
}

/// Schema 2: codes cancelled and expired, users disabled, devices retired, tokens rotated,
/// rate counters, batched last-sync times.
pub(crate) fn hardening(s: &Storage) {
    s.write(|tx| {
        tx.create_team("t1", "Team one")?;
        tx.create_user(&user("u1", "Ann Nurse", Role::DistrictNurse, "t1"))?;
        tx.create_user(&user("u2", "Bob Nurse", Role::DistrictNurse, "t1"))?;
        tx.add_code("aaaa0001ffff", "u1", 1000)?;
        tx.add_code("aaaa0002ffff", "u1", 1000)?;
        tx.add_code("bbbb0003ffff", "u2", 1000)?;
        tx.add_code("bbbb0004ffff", "u2", 2000)?;
        tx.add_device("d1", "u1", "tok1", 100)?;
        tx.add_device("d2", "u2", "tok2", 100)
    })
    .unwrap();
    assert_eq!(s.read(|tx| tx.codes()).unwrap().len(), 4);
    // Cancel by id prefix, or all of a user's; never with neither.
    assert_eq!(
        s.write(|tx| tx.cancel_codes(Some("AAAA0001"), None, 5))
            .unwrap(),
        1
    );
    assert_eq!(s.write(|tx| tx.cancel_codes(None, None, 5)).unwrap(), 0);
    assert_eq!(
        s.write(|tx| tx.take_code("aaaa0001ffff", 10)).unwrap(),
        None
    );
    assert_eq!(
        s.write(|tx| tx.take_code("aaaa0002ffff", 10)).unwrap(),
        Some("u1".into())
    );
    assert_eq!(
        s.write(|tx| tx.cancel_codes(None, Some("u1"), 6)).unwrap(),
        0,
        "used codes are not cancelled"
    );
    let codes = s.read(|tx| tx.codes()).unwrap();
    let a1 = codes.iter().find(|c| c.id == "aaaa0001ffff").unwrap();
    assert_eq!((a1.cancelled_ms, a1.used_ms), (Some(5), None));
    // Expire a user's unused codes now.
    assert_eq!(s.write(|tx| tx.expire_codes(Some("u2"), 50)).unwrap(), 2);
    assert_eq!(
        s.write(|tx| tx.take_code("bbbb0004ffff", 60)).unwrap(),
        None
    );
    // A disabled user's codes no longer enrol.
    s.write(|tx| tx.add_code("cccc0005ffff", "u2", 9000))
        .unwrap();
    assert!(!s.read(|tx| tx.user_disabled("u2")).unwrap());
    assert!(s.write(|tx| tx.disable_user("u2", 70)).unwrap());
    assert!(!s.write(|tx| tx.disable_user("u2", 71)).unwrap());
    assert!(s.read(|tx| tx.user_disabled("u2")).unwrap());
    assert_eq!(
        s.write(|tx| tx.take_code("cccc0005ffff", 80)).unwrap(),
        None
    );
    assert_eq!(
        s.read(|tx| tx.user_devices("u2")).unwrap(),
        vec!["d2".to_string()]
    );

    // Retire, then lost.
    assert!(s.write(|tx| tx.retire_device("d2", 90)).unwrap());
    assert!(!s.write(|tx| tx.retire_device("d2", 91)).unwrap());
    let d2 = s.read(|tx| tx.device_by_id("d2")).unwrap().unwrap();
    assert!(d2.retired && !d2.revoked);
    assert!(s.write(|tx| tx.revoke_device("d2", 95)).unwrap());
    assert!(!s.write(|tx| tx.retire_device("d2", 96)).unwrap());
    assert!(s.read(|tx| tx.device_by_id("nope")).unwrap().is_none());

    // Token rotation: requested, then a pending token set (the request stands until the phone
    // uses it); both work until the new one is used; then only the new one, request cleared.
    assert!(!s.read(|tx| tx.rotation_requested("d1")).unwrap());
    assert!(s.write(|tx| tx.request_rotation("d1", 99)).unwrap());
    assert!(
        !s.write(|tx| tx.request_rotation("d2", 99)).unwrap(),
        "revoked"
    );
    assert!(s.read(|tx| tx.rotation_requested("d1")).unwrap());
    assert!(s.write(|tx| tx.set_pending_token("d1", "tok1b")).unwrap());
    assert!(s.read(|tx| tx.rotation_requested("d1")).unwrap());
    assert!(
        !s.write(|tx| tx.set_pending_token("d2", "x")).unwrap(),
        "revoked"
    );
    let old = s.read(|tx| tx.device_by_token("tok1")).unwrap().unwrap();
    let new = s.read(|tx| tx.device_by_token("tok1b")).unwrap().unwrap();
    assert_eq!((old.device_id.as_str(), old.pending_token), ("d1", false));
    assert_eq!((new.device_id.as_str(), new.pending_token), ("d1", true));
    s.write(|tx| tx.promote_pending_token("d1")).unwrap();
    assert!(!s.read(|tx| tx.rotation_requested("d1")).unwrap());
    assert!(s.read(|tx| tx.device_by_token("tok1")).unwrap().is_none());
    assert!(
        !s.read(|tx| tx.device_by_token("tok1b"))
            .unwrap()
            .unwrap()
            .pending_token
    );

    // Counters: one upsert adds; windows are separate; old ones pruned.
    assert_eq!(s.write(|tx| tx.bump_counter("ip:a", 60, 3)).unwrap(), 3);
    assert_eq!(s.write(|tx| tx.bump_counter("ip:a", 60, 2)).unwrap(), 5);
    assert_eq!(s.write(|tx| tx.bump_counter("ip:a", 120, 1)).unwrap(), 1);
    assert_eq!(s.read(|tx| tx.counter("ip:a", 60)).unwrap(), 5);
    assert_eq!(s.read(|tx| tx.counter("ip:b", 60)).unwrap(), 0);
    s.write(|tx| tx.prune_counters(120)).unwrap();
    assert_eq!(s.read(|tx| tx.counter("ip:a", 60)).unwrap(), 0);
    assert_eq!(s.read(|tx| tx.counter("ip:a", 120)).unwrap(), 1);

    // Last-sync times in a batch never go back.
    s.write(|tx| {
        tx.touch_devices(&[("d1".into(), 500), ("d2".into(), 400), ("zz".into(), 1)])?;
        tx.touch_devices(&[("d1".into(), 450)])
    })
    .unwrap();
    let devices = s.read(|tx| tx.devices()).unwrap();
    assert_eq!(devices[0].last_sync_ms, Some(500));
    assert_eq!(devices[1].last_sync_ms, Some(400));
    assert_eq!(devices[1].retired_ms, Some(90));
}

/// The read model (schema 5): one snapshot per document with the seq it covers; a write never
/// moves that seq backwards; a rolled-back write leaves nothing; the team's listing holds only
/// current members' documents.
pub(crate) fn read_model(s: &Storage) {
    use Compartment::*;
    s.write(|tx| {
        tx.create_team("t1", "Team one")?;
        tx.join("t1", "p1", 1)?;
        tx.join("t1", "p2", 2)?;
        tx.join("t1", "gone", 3)?;
        tx.leave("t1", "gone", 4)?;
        Ok(())
    })
    .unwrap();
    assert_eq!(s.read(|tx| tx.doc_snapshot("p1", Clinical)).unwrap(), None);
    assert!(s
        .write(|tx| tx.put_doc_snapshot("p1", Clinical, b"at ten", 10))
        .unwrap());
    assert_eq!(
        s.read(|tx| tx.doc_snapshot("p1", Clinical)).unwrap(),
        Some((b"at ten".to_vec(), 10))
    );
    // Older or equal: kept as it is (another process stored a newer one first).
    assert!(!s
        .write(|tx| tx.put_doc_snapshot("p1", Clinical, b"at five", 5))
        .unwrap());
    assert!(!s
        .write(|tx| tx.put_doc_snapshot("p1", Clinical, b"again ten", 10))
        .unwrap());
    assert_eq!(
        s.read(|tx| tx.doc_snapshot("p1", Clinical)).unwrap(),
        Some((b"at ten".to_vec(), 10))
    );
    assert!(s
        .write(|tx| tx.put_doc_snapshot("p1", Clinical, b"at twenty", 20))
        .unwrap());
    assert_eq!(
        s.read(|tx| tx.doc_snapshot("p1", Clinical)).unwrap(),
        Some((b"at twenty".to_vec(), 20))
    );
    // A write that fails keeps none of its snapshots.
    assert!(s
        .write(|tx| {
            tx.put_doc_snapshot("p2", Demographics, b"never", 7)?;
            Err::<(), _>(ServerError::Conflict("stop".into()))
        })
        .is_err());
    assert_eq!(
        s.read(|tx| tx.doc_snapshot("p2", Demographics)).unwrap(),
        None
    );
    s.write(|tx| {
        tx.put_doc_snapshot("p2", Advice, b"p2 advice", 8)?;
        tx.put_doc_snapshot("gone", Clinical, b"left", 9)?;
        tx.put_doc_snapshot("stranger", Clinical, b"other team", 9)
    })
    .unwrap();
    let mut info = s.read(|tx| tx.team_snapshot_info("t1")).unwrap();
    info.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    assert_eq!(
        info,
        vec![
            SnapshotInfo {
                person_id: "p1".into(),
                compartment: Clinical,
                up_to_seq: 20,
                len: 9,
            },
            SnapshotInfo {
                person_id: "p2".into(),
                compartment: Advice,
                up_to_seq: 8,
                len: 9,
            },
        ]
    );
}

/// Remote-monitoring ingest (schema 6): integrations, monitors, readings and their uniqueness,
/// refused lines.
pub(crate) fn monitoring(s: &Storage) {
    s.write(|tx| tx.create_team("t1", "Team one")).unwrap();
    let row = |id: &str| IntegrationRow {
        integration_id: id.into(),
        kind: "monitoring".into(),
        name: format!("{id} service"),
        team_id: "t1".into(),
        created_ms: 5,
        revoked_ms: None,
    };
    s.write(|tx| {
        tx.add_integration(&row("i1"), "h1")?;
        tx.add_integration(&row("i2"), "h2")
    })
    .unwrap();
    assert!(is_storage_err(
        s.write(|tx| tx.add_integration(&row("i3"), "h1"))
    ));
    assert_eq!(
        s.read(|tx| tx.integration_by_token("h2")).unwrap(),
        Some(row("i2"))
    );
    assert_eq!(s.read(|tx| tx.integration_by_token("hx")).unwrap(), None);
    assert!(s.write(|tx| tx.revoke_integration("i2", 9)).unwrap());
    assert!(!s.write(|tx| tx.revoke_integration("i2", 10)).unwrap());
    assert!(!s.write(|tx| tx.revoke_integration("nope", 10)).unwrap());
    let all = s.read(|tx| tx.integrations()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].revoked_ms, Some(9));
    assert_eq!(s.read(|tx| tx.integration("i1")).unwrap(), Some(row("i1")));

    // One active registration per serial and integration; unregistered, it may be registered
    // again (to someone else).
    s.write(|tx| tx.register_monitor("i1", "OX-1", "p1", 1))
        .unwrap();
    s.write(|tx| tx.register_monitor("i2", "OX-1", "p2", 1))
        .unwrap();
    assert!(is_storage_err(
        s.write(|tx| tx.register_monitor("i1", "OX-1", "p3", 2))
    ));
    assert_eq!(
        s.read(|tx| tx.monitor_person("i1", "OX-1")).unwrap(),
        Some("p1".into())
    );
    assert!(s
        .write(|tx| tx.unregister_monitor("i1", "OX-1", 3))
        .unwrap());
    assert!(!s
        .write(|tx| tx.unregister_monitor("i1", "OX-1", 3))
        .unwrap());
    assert_eq!(s.read(|tx| tx.monitor_person("i1", "OX-1")).unwrap(), None);
    s.write(|tx| tx.register_monitor("i1", "OX-1", "p3", 4))
        .unwrap();
    assert_eq!(
        s.read(|tx| tx.monitor_person("i1", "OX-1")).unwrap(),
        Some("p3".into())
    );

    // (integration, person, kind, time) is unique: a repeat reports the value held.
    let reading = |integration: &'static str, kind: &'static str, t: i64, value: f64| NewReading {
        integration_id: integration,
        person_id: "p1",
        kind,
        taken_ms: t,
        value,
        unit: "%",
        serial: "OX-1",
        received_ms: 50,
    };
    let put = |r: NewReading<'static>| s.write(move |tx| tx.insert_reading(&r)).unwrap();
    assert_eq!(put(reading("i1", "spo2", 100, 93.0)), ReadingInsert::Stored);
    assert_eq!(
        put(reading("i1", "spo2", 100, 91.0)),
        ReadingInsert::Duplicate { stored_value: 93.0 }
    );
    assert_eq!(put(reading("i2", "spo2", 100, 91.0)), ReadingInsert::Stored);
    assert_eq!(
        put(reading("i1", "pulse", 100, 80.0)),
        ReadingInsert::Stored
    );
    assert_eq!(put(reading("i1", "spo2", 200, 36.6)), ReadingInsert::Stored);
    // A batch: new, held already (another value), new, and a repeat within the batch.
    let batch = vec![
        reading("i1", "pulse", 300, 81.0),
        reading("i1", "spo2", 100, 90.0),
        reading("i2", "pulse", 300, 82.0),
        reading("i1", "pulse", 300, 99.0),
    ];
    assert_eq!(
        s.write(move |tx| tx.insert_readings(&batch)).unwrap(),
        vec![
            ReadingInsert::Stored,
            ReadingInsert::Duplicate { stored_value: 93.0 },
            ReadingInsert::Stored,
            ReadingInsert::Duplicate { stored_value: 81.0 },
        ]
    );
    assert_eq!(s.write(|tx| tx.insert_readings(&[])).unwrap(), vec![]);
    let held = s.read(|tx| tx.readings_of("p1", 100, 200)).unwrap();
    let got: Vec<(&str, &str, f64)> = held
        .iter()
        .map(|r| (r.integration_id.as_str(), r.kind.as_str(), r.value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("i1", "pulse", 80.0),
            ("i1", "spo2", 93.0),
            ("i2", "spo2", 91.0)
        ]
    );
    assert_eq!(
        s.read(|tx| tx.readings_of("p1", 0, i64::MAX))
            .unwrap()
            .len(),
        6
    );
    assert!(s
        .read(|tx| tx.readings_of("p2", 0, i64::MAX))
        .unwrap()
        .is_empty());
    // Who has a monitor now (p1's was unregistered and given to p3), with their latest reading.
    assert_eq!(
        s.read(|tx| tx.monitored_people()).unwrap(),
        vec![("p2".into(), None), ("p3".into(), None)]
    );
    s.write(|tx| tx.register_monitor("i2", "OX-2", "p1", 5))
        .unwrap();
    assert_eq!(
        s.read(|tx| tx.monitored_people()).unwrap(),
        vec![
            ("p1".into(), Some(300)),
            ("p2".into(), None),
            ("p3".into(), None)
        ]
    );

    let refusal = |code: &str| IngestRefusal {
        integration_id: "i1".into(),
        at_ms: 7,
        line: 3,
        code: code.into(),
        reason: "why".into(),
    };
    s.write(|tx| {
        tx.add_ingest_refusals(&[
            refusal("wrong_unit"),
            refusal("unknown_device"),
            refusal("wrong_unit"),
        ])
    })
    .unwrap();
    assert_eq!(
        s.read(|tx| tx.ingest_refusal_counts()).unwrap(),
        vec![("wrong_unit".into(), 2), ("unknown_device".into(), 1)]
    );

    // FHIR integrations (schema 10): scopes per team, replaced and removed; the read audit.
    s.write(|tx| {
        tx.create_team("t2", "T2")?;
        tx.set_integration_scope("i1", "t2", "demographics", 1)?;
        tx.set_integration_scope("i1", "t1", "demographics", 1)?;
        tx.set_integration_scope("i1", "t1", "demographics,clinical", 2)
    })
    .unwrap();
    assert_eq!(
        s.read(|tx| tx.integration_scopes("i1")).unwrap(),
        vec![
            ("t1".into(), "demographics,clinical".into()),
            ("t2".into(), "demographics".into())
        ]
    );
    assert!(s
        .write(|tx| tx.remove_integration_scope("i1", "t2"))
        .unwrap());
    assert!(!s
        .write(|tx| tx.remove_integration_scope("i1", "t2"))
        .unwrap());
    assert_eq!(s.read(|tx| tx.integration_scopes("i1")).unwrap().len(), 1);
    assert!(s.read(|tx| tx.integration_scopes("i2")).unwrap().is_empty());
    s.write(|tx| {
        tx.join("t2", "k1", 1)?;
        tx.join("t2", "k2", 2)?;
        tx.set_identity_keys("k2", &[("nhs".into(), "9434765919".into())])
    })
    .unwrap();
    assert_eq!(
        s.read(|tx| tx.members_without_identity_keys("t2")).unwrap(),
        vec!["k1".to_string()]
    );
    let read = |at_ms: i64, person: Option<&str>, outcome: &str| FhirReadRow {
        integration_id: "i1".into(),
        at_ms,
        request: "GET /fhir/Patient".into(),
        person_id: person.map(String::from),
        compartments: String::new(),
        outcome: outcome.into(),
        peer: "127.0.0.1".into(),
    };
    s.write(|tx| {
        tx.add_fhir_read(&read(9, Some("p1"), "exported"))?;
        tx.add_fhir_read(&read(8, None, "no match"))?;
        tx.add_fhir_read(&read(10, Some("p2"), "exported"))
    })
    .unwrap();
    assert_eq!(
        s.read(|tx| tx.fhir_reads(Some("p1"))).unwrap(),
        vec![read(9, Some("p1"), "exported")]
    );
    assert_eq!(
        s.read(|tx| tx.fhir_reads(None))
            .unwrap()
            .iter()
            .map(|r| r.at_ms)
            .collect::<Vec<_>>(),
        vec![8, 9, 10]
    );
}

/// The hub's screen (schema 7): passwords, sessions that expire, record views.
pub(crate) fn hub(s: &Storage) {
    s.write(|tx| {
        tx.create_team("t1", "T1")?;
        tx.create_user(&user("h1", "Hana", Role::VirtualWardClinician, "t1"))
    })
    .unwrap();
    assert_eq!(s.read(|tx| tx.hub_password("h1")).unwrap(), None);
    s.write(|tx| tx.set_hub_password("h1", "$argon2id$one", 1))
        .unwrap();
    s.write(|tx| tx.set_hub_password("h1", "$argon2id$two", 2))
        .unwrap();
    assert_eq!(
        s.read(|tx| tx.hub_password("h1")).unwrap().as_deref(),
        Some("$argon2id$two")
    );
    let session = |token: &str, expires_ms| HubSession {
        token_hash: token.into(),
        user_id: "h1".into(),
        csrf: format!("csrf-{token}"),
        created_ms: 10,
        expires_ms,
    };
    s.write(|tx| tx.add_hub_session(&session("a", 100)))
        .unwrap();
    s.write(|tx| tx.add_hub_session(&session("b", 200)))
        .unwrap();
    assert_eq!(
        s.read(|tx| tx.hub_session("a", 99)).unwrap(),
        Some(session("a", 100))
    );
    assert_eq!(
        s.read(|tx| tx.hub_session("a", 100)).unwrap(),
        None,
        "expired"
    );
    s.write(|tx| tx.end_hub_session("a")).unwrap();
    assert_eq!(s.read(|tx| tx.hub_session("a", 50)).unwrap(), None);
    assert_eq!(s.write(|tx| tx.end_hub_sessions_of("h1")).unwrap(), 1);
    assert_eq!(s.read(|tx| tx.hub_session("b", 50)).unwrap(), None);
    s.write(|tx| {
        tx.add_hub_view("h1", "p1", 5, "listed")?;
        tx.add_hub_view("h1", "p1", 3, "viewed")?;
        tx.add_hub_view("h1", "p2", 4, "viewed")
    })
    .unwrap();
    let routes = |in_hours: &str| EscalationRoutes {
        in_hours: in_hours.into(),
        out_of_hours: "111 option 3".into(),
        opens: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        closes: chrono::NaiveTime::from_hms_opt(20, 30, 0).unwrap(),
        weekends: true,
    };
    let profile = |ods: &str| TeamProfile {
        ods_code: ods.into(),
        service_type: "05".into(),
    };
    assert_eq!(s.read(|tx| tx.team_profile("t1")).unwrap(), None);
    s.write(|tx| tx.set_team_profile("t1", &profile("RX1"), 1))
        .unwrap();
    s.write(|tx| tx.set_team_profile("t1", &profile("RX101"), 2))
        .unwrap();
    assert_eq!(
        s.read(|tx| tx.team_profile("t1")).unwrap(),
        Some(profile("RX101"))
    );
    assert_eq!(s.read(|tx| tx.team_users("t1")).unwrap(), ["h1"]);
    assert!(s
        .read(|tx| tx.team_users("no-such-team"))
        .unwrap()
        .is_empty());
    assert_eq!(s.read(|tx| tx.escalation_routes("t1")).unwrap(), None);
    s.write(|tx| tx.set_escalation_routes("t1", &routes("hub 1"), 1))
        .unwrap();
    s.write(|tx| tx.set_escalation_routes("t1", &routes("hub 2"), 2))
        .unwrap();
    assert_eq!(
        s.read(|tx| tx.escalation_routes("t1")).unwrap(),
        Some(routes("hub 2"))
    );
    assert_eq!(
        s.read(|tx| tx.hub_views("p1")).unwrap(),
        vec![
            ("h1".into(), 3, "viewed".into()),
            ("h1".into(), 5, "listed".into())
        ]
    );
}

/// Referrals between teams (schema 8): a membership pending a referral is not the team's
/// caseload until accepted; accepted, it shares what the referral named; declined, it ends.
pub(crate) fn referrals(s: &Storage) {
    let row = |id: &str, to: &str, seq| ReferralRow {
        referral_id: id.into(),
        person_id: "p1".into(),
        from_team: "t1".into(),
        to_team: to.into(),
        shares: "advice".into(),
        status: "pending".into(),
        raised_seq: seq,
        answered_seq: None,
        answered_by: None,
        answered_ms: None,
    };
    s.write(|tx| {
        tx.create_team("t1", "T1")?;
        tx.create_team("t2", "T2")?;
        tx.create_team("t3", "T3")?;
        tx.join("t1", "p1", 1)?;
        tx.insert_referral(&row("r2", "t2", 2))?;
        tx.join_pending("t2", "p1", 2)?;
        tx.insert_referral(&row("r3", "t3", 3))?;
        tx.join_pending("t3", "p1", 3)
    })
    .unwrap();
    s.read(|tx| {
        assert!(tx.members("t2")?.is_empty(), "pending is not the caseload");
        assert_eq!(tx.pending_members("t2")?, vec![("p1".into(), 2)]);
        assert!(tx.is_pending_member("t2", "p1")? && !tx.is_member("t2", "p1")?);
        assert!(!tx.was_member("t2", "p1")?);
        assert_eq!(tx.teams_of("p1")?, strs(&["t1"]));
        assert!(tx.ever_members("t2")?.is_empty());
        assert_eq!(tx.referral("r2")?, Some(row("r2", "t2", 2)));
        assert_eq!(tx.referral("nope")?, None);
        Ok(())
    })
    .unwrap();
    s.write(|tx| {
        tx.answer_referral("r2", "accepted", 4, "Joe (advice worker)", 40)?;
        assert!(tx.accept_pending("t2", "p1", 4, "advice")?);
        assert!(
            !tx.accept_pending("t2", "p1", 4, "advice")?,
            "accepted once"
        );
        tx.answer_referral("r3", "declined", 5, "Sam (district nurse)", 50)?;
        assert!(tx.leave("t3", "p1", 5)?);
        Ok(())
    })
    .unwrap();
    s.read(|tx| {
        assert_eq!(tx.members("t2")?, vec![("p1".into(), 4)]);
        assert_eq!(
            tx.member_shares("t2")?,
            vec![("p1".into(), "advice".into())]
        );
        assert!(tx.member_shares("t1")?.is_empty());
        assert_eq!(tx.teams_of("p1")?, strs(&["t1", "t2"]), "on both caseloads");
        assert!(tx.pending_members("t3")?.is_empty());
        assert_eq!(
            tx.left_between("t3", 4, 5)?,
            strs(&["p1"]),
            "declined: purged"
        );
        let r = tx.referral("r2")?.unwrap();
        assert_eq!(
            (
                r.status.as_str(),
                r.answered_seq,
                r.answered_by.as_deref(),
                r.answered_ms
            ),
            ("accepted", Some(4), Some("Joe (advice worker)"), Some(40))
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn sqlite_meets_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    hardening(&Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    read_model(&Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    monitoring(&Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    hub(&Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    referrals(&Storage::Sqlite(SqliteStorage::open(dir.path()).unwrap()));
}

#[test]
fn postgres_meets_the_storage_contract() {
    let (_server, url) = doorstep_tests::pg::fresh_database();
    let s = Storage::Postgres(PgStorage::open(&url).unwrap());
    assert!(
        s.describe().starts_with("PostgreSQL at 127.0.0.1:"),
        "{}",
        s.describe()
    );
    conformance(&s);
    let (_server, url) = doorstep_tests::pg::fresh_database();
    hardening(&Storage::Postgres(PgStorage::open(&url).unwrap()));
    let (_server, url) = doorstep_tests::pg::fresh_database();
    read_model(&Storage::Postgres(PgStorage::open(&url).unwrap()));
    let (_server, url) = doorstep_tests::pg::fresh_database();
    monitoring(&Storage::Postgres(PgStorage::open(&url).unwrap()));
    let (_server, url) = doorstep_tests::pg::fresh_database();
    hub(&Storage::Postgres(PgStorage::open(&url).unwrap()));
    let (_server, url) = doorstep_tests::pg::fresh_database();
    referrals(&Storage::Postgres(PgStorage::open(&url).unwrap()));
}
