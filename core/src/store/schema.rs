//! Every schema change, in order, in one place. The database's `user_version` is the number of
//! migrations applied. Migrations only add: a device may hold unsynced records, so nothing here
//! may drop data.

use rusqlite::{Connection, Transaction};

use crate::error::{Error, Result};

/// (version, SQL). Append new migrations; never edit a released one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    -- One compacted Automerge document per person and compartment.
    CREATE TABLE documents (
        person_id   TEXT NOT NULL,
        compartment TEXT NOT NULL,
        snapshot    BLOB NOT NULL,
        PRIMARY KEY (person_id, compartment)
    ) WITHOUT ROWID;

    -- Every change this device holds, in the order it came to hold it: the record of what was
    -- sent and received, and what is still to send (local = 1 AND acked = 0). Rows are small and
    -- stay; AUTOINCREMENT so that a sequence number is never reused after a purge (an
    -- acknowledgement "up to seq N" must never cover a change made later).
    CREATE TABLE changes (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id   TEXT NOT NULL,
        compartment TEXT NOT NULL,
        hash        BLOB NOT NULL,
        local       INTEGER NOT NULL,
        acked       INTEGER NOT NULL DEFAULT 0,
        at_ms       INTEGER NOT NULL,
        summary     TEXT NOT NULL,
        UNIQUE (person_id, compartment, hash)
    );
    CREATE INDEX changes_pending ON changes (seq) WHERE local = 1 AND acked = 0;

    -- The bytes of changes not yet folded into their document's snapshot. Rows are deleted when
    -- folded, so their pages are reused (and returned by incremental vacuum).
    CREATE TABLE change_bytes (
        seq         INTEGER PRIMARY KEY,
        person_id   TEXT NOT NULL,
        compartment TEXT NOT NULL,
        bytes       BLOB NOT NULL
    );
    CREATE INDEX change_bytes_doc ON change_bytes (person_id, compartment, seq);

    -- Projections: derived from the documents, rebuilt by FieldStore::rebuild_projections.
    -- `people` carries each person's caseload summary (last visit, earliest outstanding planned
    -- visit, latest NEWS2) so that the caseload is one scan of one small table.
    CREATE TABLE people (
        person_id     TEXT PRIMARY KEY,
        nhs_number    TEXT,
        given_name    TEXT NOT NULL,
        family_name   TEXT NOT NULL,
        display_name  TEXT NOT NULL,
        name_key      TEXT NOT NULL,
        date_of_birth TEXT,
        postcode      TEXT,
        postcode_key  TEXT,
        address       TEXT,
        phone         TEXT,
        access_notes  TEXT,
        last_visit_at INTEGER,
        next_visit_at INTEGER,
        news2_total   INTEGER,
        news2_risk    TEXT,
        news2_at      INTEGER,
        news2_obs_id  TEXT
    ) WITHOUT ROWID;
    CREATE INDEX people_order ON people (family_name COLLATE NOCASE, given_name COLLATE NOCASE, person_id);
    CREATE INDEX people_nhs ON people (nhs_number);
    CREATE INDEX people_postcode ON people (postcode_key);

    CREATE TABLE alerts (
        person_id   TEXT NOT NULL,
        kind        TEXT NOT NULL,
        summary     TEXT NOT NULL,
        active      INTEGER NOT NULL,
        in_conflict INTEGER NOT NULL,
        PRIMARY KEY (person_id, kind)
    ) WITHOUT ROWID;

    CREATE TABLE planned_visits (
        visit_id         TEXT PRIMARY KEY,
        person_id        TEXT NOT NULL,
        starts_at        INTEGER NOT NULL, -- ms since epoch, UTC
        clinician        TEXT,
        contact_type     TEXT NOT NULL,
        completed        INTEGER NOT NULL,
        entered_in_error INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX planned_visits_person ON planned_visits (person_id, completed, entered_in_error, starts_at);
    CREATE INDEX planned_visits_day ON planned_visits (starts_at);
    "#,
    ),
    (
        2,
        r#"
    -- Changes stopped on their way in or out (issue 8): refused by the server, or received but
    -- not valid by this app's rules. Kept for the clinician to see and re-apply, and reported
    -- to the server's quarantine (reported = 1 once the server has acknowledged the report).
    CREATE TABLE quarantine (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id   TEXT NOT NULL,
        compartment TEXT NOT NULL,
        direction   TEXT NOT NULL,
        hash        TEXT,
        code        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        summary     TEXT NOT NULL,
        author      TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        quarantined_ms INTEGER NOT NULL,
        layout      INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        reported    INTEGER NOT NULL DEFAULT 0,
        resolved    INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX quarantine_unreported ON quarantine (id) WHERE reported = 0;
    -- When the server said the phone's clock was implausible for a change: its receive time.
    ALTER TABLE changes ADD COLUMN server_received_ms INTEGER;
    "#,
    ),
    (
        3,
        r#"
    -- Half-filled scored assessments (issue 12): kept on this phone only, never in a document,
    -- never in the outbox. Finishing one writes the assessment entry (whose id is the draft's)
    -- and deletes the row; answers are the JSON of Vec<AssessmentAnswer>.
    CREATE TABLE assessment_drafts (
        draft_id           TEXT PRIMARY KEY,
        person_id          TEXT NOT NULL,
        user_id            TEXT NOT NULL,
        definition_id      TEXT NOT NULL,
        definition_version INTEGER NOT NULL,
        visit_id           TEXT,
        answers            TEXT NOT NULL,
        started_ms         INTEGER NOT NULL,
        updated_ms         INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX assessment_drafts_person ON assessment_drafts (person_id, user_id, updated_ms);
    "#,
    ),
    (
        4,
        r#"
    -- The district nurse's day (issue 12). Projections, derived from the clinical documents and
    -- rebuilt with the others: the live care-plan interventions the day's visits are worked out
    -- from when read, the stored exceptions of scheduled visits, open conflicts on single-value
    -- fields other than alerts, and care-plan review dates.
    CREATE TABLE plan_interventions (
        person_id       TEXT NOT NULL,
        intervention_id TEXT NOT NULL,
        body            TEXT NOT NULL, -- JSON of record::plan::PlanIntervention
        PRIMARY KEY (person_id, intervention_id)
    ) WITHOUT ROWID;
    CREATE TABLE visit_exceptions (
        person_id   TEXT NOT NULL,
        visit_ref   TEXT NOT NULL,
        kind        TEXT NOT NULL, -- move | handover | cancel | priority | visit
        entry_id    TEXT NOT NULL, -- the recorded visit's id for 'visit', else ''
        origin_day  TEXT NOT NULL, -- YYYY-MM-DD, Europe/London: the day the visit was first due
        target_day  TEXT,          -- for 'move': the day it moved to
        body        TEXT NOT NULL,
        in_conflict INTEGER NOT NULL,
        PRIMARY KEY (person_id, visit_ref, kind, entry_id)
    ) WITHOUT ROWID;
    CREATE INDEX visit_exceptions_origin ON visit_exceptions (origin_day);
    CREATE INDEX visit_exceptions_target ON visit_exceptions (target_day) WHERE target_day IS NOT NULL;
    CREATE TABLE field_conflicts (
        person_id   TEXT NOT NULL,
        conflict_id TEXT NOT NULL,
        key         TEXT NOT NULL,
        PRIMARY KEY (person_id, conflict_id)
    ) WITHOUT ROWID;
    CREATE TABLE plan_reviews (
        person_id   TEXT PRIMARY KEY,
        review_date TEXT NOT NULL
    ) WITHOUT ROWID;
    -- Tasks (issue 12 item 4): each task with every change of its status (JSON), for the lists.
    CREATE TABLE tasks (
        person_id TEXT NOT NULL,
        task_id   TEXT NOT NULL,
        due       TEXT NOT NULL,
        body      TEXT NOT NULL, -- JSON of record::task::Task
        history   TEXT NOT NULL, -- JSON array of record::task::TaskStatusChange
        PRIMARY KEY (person_id, task_id)
    ) WITHOUT ROWID;
    -- Not a projection: the order a nurse gave her day list by hand, on this phone.
    CREATE TABLE day_order (
        user_id   TEXT NOT NULL,
        day       TEXT NOT NULL,
        position  INTEGER NOT NULL,
        person_id TEXT NOT NULL,
        visit_ref TEXT NOT NULL,
        PRIMARY KEY (user_id, day, position)
    ) WITHOUT ROWID;
"#,
    ),
    (
        5,
        r#"
    -- Half-filled wound assessments (issue 12 item 5), like assessment_drafts: on this phone
    -- only, never in a document or the outbox.
    CREATE TABLE wound_drafts (
        draft_id   TEXT PRIMARY KEY,
        person_id  TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        body       TEXT NOT NULL, -- JSON of record::WoundDraftInput
        started_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX wound_drafts_person ON wound_drafts (person_id, user_id, updated_ms);
"#,
    ),
    (
        6,
        r#"
    -- The virtual ward (issue 13). Projections, derived from the clinical documents and rebuilt
    -- with the others: virtual-ward episodes (the census) and the escalations the observation
    -- sets raise, worked out when the record is read (record::escalation).
    CREATE TABLE ward_stays (
        person_id     TEXT NOT NULL,
        episode_id    TEXT NOT NULL,
        admitted_on   TEXT NOT NULL, -- YYYY-MM-DD
        discharged_on TEXT,
        pathway       TEXT NOT NULL, -- record::VirtualWardPathway, serde name
        route         TEXT,          -- record::ward::AdmissionRoute, serde name; none before admissions had details
        clinician     TEXT,
        expected_days INTEGER,
        PRIMARY KEY (person_id, episode_id)
    ) WITHOUT ROWID;
    CREATE INDEX ward_stays_open ON ward_stays (admitted_on) WHERE discharged_on IS NULL;
    CREATE TABLE escalations (
        person_id     TEXT NOT NULL,
        escalation_id TEXT NOT NULL,
        band          INTEGER NOT NULL, -- EscalationBand, 0 = high
        taken_at_ms   INTEGER NOT NULL,
        open          INTEGER NOT NULL,
        body          TEXT NOT NULL, -- JSON of record::escalation::Escalation
        PRIMARY KEY (person_id, escalation_id)
    ) WITHOUT ROWID;
    CREATE INDEX escalations_open ON escalations (open, band, taken_at_ms);
    CREATE INDEX escalations_person_open ON escalations (person_id, open, band);
"#,
    ),
    (
        7,
        r#"
    -- Home-monitoring sets (issue 13, layout 5): a latest NEWS2 scored with assumed air or
    -- oxygen and consciousness says so ("assumed on air, alert") wherever it is shown.
    ALTER TABLE people ADD COLUMN news2_assumed TEXT;
"#,
    ),
    (
        8,
        r#"
    -- Outreach appointments and case workers' follow-ups (issue 14 item 4, layout 6):
    -- projections of the advice documents, rebuilt with the others.
    CREATE TABLE advice_appointments (
        person_id      TEXT NOT NULL,
        appointment_id TEXT NOT NULL,
        day            TEXT NOT NULL, -- YYYY-MM-DD, Europe/London
        starts_at      INTEGER NOT NULL, -- ms
        case_worker    TEXT NOT NULL,
        body           TEXT NOT NULL, -- JSON of record::appointments::AppointmentView
        PRIMARY KEY (person_id, appointment_id)
    ) WITHOUT ROWID;
    CREATE INDEX advice_appointments_day ON advice_appointments (day, starts_at);
    CREATE TABLE advice_tasks (
        person_id TEXT NOT NULL,
        task_id   TEXT NOT NULL,
        due       TEXT NOT NULL, -- YYYY-MM-DD
        body      TEXT NOT NULL, -- JSON of record::task::CareTask
        history   TEXT NOT NULL, -- JSON of its status changes
        PRIMARY KEY (person_id, task_id)
    ) WITHOUT ROWID;
    CREATE INDEX advice_tasks_due ON advice_tasks (due);
    -- Referrals between teams (issue 14 item 5, layout 6): a projection of the demographics
    -- documents.
    CREATE TABLE referrals (
        person_id   TEXT NOT NULL,
        referral_id TEXT NOT NULL,
        from_team   TEXT NOT NULL,
        to_team     TEXT NOT NULL,
        status      TEXT NOT NULL, -- pending, accepted, declined
        body        TEXT NOT NULL, -- JSON of record::referral::ReferralView
        PRIMARY KEY (person_id, referral_id)
    ) WITHOUT ROWID;
    CREATE INDEX referrals_to ON referrals (to_team, status);
    -- Possible duplicates the server flagged, and the decisions (issue 14 item 6).
    CREATE TABLE duplicates (
        person_id    TEXT NOT NULL,
        duplicate_id TEXT NOT NULL,
        open         INTEGER NOT NULL, -- flagged and not yet decided
        body         TEXT NOT NULL,    -- JSON of record::duplicates::DuplicateView
        PRIMARY KEY (person_id, duplicate_id)
    ) WITHOUT ROWID;
"#,
    ),
];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0)
}

/// Bring the schema up to date in one transaction, or refuse a database from a newer app.
pub fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let latest = latest_version();
    if current > latest {
        return Err(Error::TooNew {
            path: path.to_path_buf(),
            found: current,
            supported: latest,
        });
    }
    if current == latest {
        return Ok(());
    }
    let tx = conn.transaction()?;
    apply(&tx, current)?;
    tx.commit()?;
    Ok(())
}

fn apply(tx: &Transaction<'_>, from: i64) -> Result<()> {
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > from) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, (v, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
    }

    #[test]
    fn migrate_is_idempotent_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        let err = migrate(&mut conn, &path).unwrap_err();
        assert!(
            err.to_string().contains("newer version of Doorstep"),
            "{err}"
        );
    }
}
