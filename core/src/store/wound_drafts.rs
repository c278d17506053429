//! Drafts of wound assessments: a half-measured wound kept on this phone, in its own table
//! (migration 5), resumed later and finished into the record, as `drafts` does for the scored
//! assessments. A draft is never in a document or the outbox, so it is never synced; it is
//! removed when finished or discarded, and with the person's clinical record (purge) or the
//! whole store (wipe).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{now, FieldStore, Writer};
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::record::policy::Action;
use crate::record::{edit, layout, Compartment, WoundAssessment, WoundDraft, WoundDraftInput};

struct Row {
    id: String,
    person_id: String,
    body: String,
    started_ms: i64,
    updated_ms: i64,
}

impl Row {
    fn draft(self) -> Result<WoundDraft> {
        let input: WoundDraftInput = serde_json::from_str(&self.body).map_err(|e| {
            Error::Storage(format!("wound draft {} cannot be read back: {e}", self.id))
        })?;
        Ok(of(
            self.id,
            self.person_id,
            input,
            self.started_ms,
            self.updated_ms,
        ))
    }
}

fn of(
    id: String,
    person_id: String,
    input: WoundDraftInput,
    started_ms: i64,
    updated_ms: i64,
) -> WoundDraft {
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
    WoundDraft {
        id,
        person_id,
        missing: input.missing(),
        area_mm2: input.size.map(|s| s.area_mm2()),
        input,
        started_at: at(started_ms),
        updated_at: at(updated_ms),
    }
}

const COLUMNS: &str = "draft_id, person_id, body, started_ms, updated_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        person_id: r.get(1)?,
        body: r.get(2)?,
        started_ms: r.get(3)?,
        updated_ms: r.get(4)?,
    })
}

fn load(conn: &Connection, draft_id: &str, user_id: &str) -> Result<Row> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM wound_drafts WHERE draft_id = ?1 AND user_id = ?2"
    ))?
    .query_row(params![draft_id, user_id], row)
    .optional()?
    .ok_or_else(|| Error::NotFound {
        what: "wound draft",
        id: draft_id.to_string(),
    })
}

fn remove(conn: &Connection, draft_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM wound_drafts WHERE draft_id = ?1")?
        .execute([draft_id])?;
    Ok(())
}

pub(crate) fn purge(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM wound_drafts WHERE person_id = ?1")?
        .execute([person_id])?;
    Ok(())
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Keep a half-filled wound assessment on this phone (never synced): a new draft
    /// (`draft_id` `None`) or the next state of one. What is given so far is checked as it
    /// would be when recorded (impossible dimensions, tissue over 100 %, pain over 10, a visit
    /// or wound not in the record are refused and nothing is kept); the draft comes back with
    /// what is still missing and the area once the size is given.
    pub fn save_wound_draft(
        &self,
        person_id: &str,
        draft_id: Option<String>,
        input: WoundDraftInput,
    ) -> Result<WoundDraft> {
        self.allow(Action::Write(Compartment::Clinical))?;
        self.allow(Action::RecordAssessment)?;
        let user_id = self.config.user.id.clone();
        let body = serde_json::to_string(&input)?;
        let now_ms = now().timestamp_millis();
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            {
                let Writer { conn, docs } = &mut *w;
                let key = (person_id.to_string(), Compartment::Clinical);
                edit::validate_wound_draft(&docs.get(conn, &key)?.doc, &input)?;
            }
            let (id, started_ms) = match &draft_id {
                Some(id) => {
                    let old = load(&w.conn, id, &user_id)?;
                    if old.person_id != person_id {
                        return Err(crate::error::ValidationError::Inconsistent(format!(
                            "wound draft {id} is of another person's record: start a new draft instead"
                        ))
                        .into());
                    }
                    (id.clone(), old.started_ms)
                }
                None => (new_id(), now_ms),
            };
            w.conn
                .prepare_cached(
                    "INSERT INTO wound_drafts (draft_id, person_id, user_id, body, started_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (draft_id) DO UPDATE SET body = excluded.body,
                        updated_ms = excluded.updated_ms",
                )?
                .execute(params![id, person_id, user_id, body, started_ms, now_ms])?;
            Ok(of(id, person_id.to_string(), input, started_ms, now_ms))
        })
    }

    /// Open a wound draft of this user's to resume it.
    pub fn wound_draft(&self, draft_id: &str) -> Result<WoundDraft> {
        let conn = self.reader()?;
        load(&conn, draft_id, &self.config.user.id)?.draft()
    }

    /// This user's wound drafts on this phone, of one person or (with `None`) of everyone, most
    /// recently changed first.
    pub fn wound_drafts(&self, person_id: Option<String>) -> Result<Vec<WoundDraft>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM wound_drafts
             WHERE user_id = ?1 AND (?2 IS NULL OR person_id = ?2)
             ORDER BY updated_ms DESC, draft_id"
        ))?;
        let rows = stmt
            .query_map(params![self.config.user.id, person_id], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(Row::draft).collect()
    }

    /// Throw a wound draft away (nothing of it was ever in the record).
    pub fn discard_wound_draft(&self, draft_id: &str) -> Result<()> {
        let user_id = self.config.user.id.clone();
        self.writing(|w| {
            load(&w.conn, draft_id, &user_id)?;
            remove(&w.conn, draft_id)
        })
    }

    /// Finish a wound draft: recorded as a wound assessment (refused, naming every field still
    /// missing, while any is; the draft is then kept) and the draft removed. The assessment
    /// takes the draft's id, so finishing it a second time (the app killed between the two
    /// steps) returns the assessment already recorded.
    pub fn finish_wound_draft(
        &self,
        draft_id: &str,
        assessed_at: DateTime<Utc>,
    ) -> Result<WoundAssessment> {
        self.allow(Action::Write(Compartment::Clinical))?;
        self.allow(Action::RecordAssessment)?;
        let author = self.author();
        self.writing(|w| {
            let draft = load(&w.conn, draft_id, &author.user_id)?;
            self.require_person(&w.conn, &draft.person_id)?;
            let key = (draft.person_id.clone(), Compartment::Clinical);
            let entry_key = layout::key(layout::WOUND, &draft.id);
            let recorded: Option<WoundAssessment> = {
                let Writer { conn, docs } = &mut *w;
                layout::get_json(&docs.get(conn, &key)?.doc, &entry_key)?
            };
            let assessment = match recorded {
                Some(a) => a,
                None => {
                    let id = draft.id.clone();
                    let input = draft.draft()?.input.completed(assessed_at)?;
                    self.commit_edit(w, &key, &author, |doc| {
                        edit::record_wound_assessment_as(doc, &author, id, input)
                    })?
                }
            };
            remove(&w.conn, draft_id)?;
            Ok(assessment)
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::clinical::wound::*;
    use crate::error::Error;
    use crate::record::*;
    use crate::testing::{self, demographics, exchange, open};

    fn half() -> WoundDraftInput {
        WoundDraftInput {
            site: Some("sacrum".into()),
            size: Some(WoundSize {
                length_mm: 30.0,
                width_mm: 20.0,
                depth_mm: 4.0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_wound_draft_is_kept_resumed_finished_once_and_never_synced() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let p = s
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        let outbox = s.export_changes(0).unwrap().changes.len();
        let d = s.save_wound_draft(&p, None, half()).unwrap();
        assert_eq!(d.missing, ["tissue", "exudate", "odour", "pain"]);
        assert_eq!(d.area_mm2, Some(600.0));
        assert_eq!(s.export_changes(0).unwrap().changes.len(), outbox);

        // Finishing while fields are missing names them all; the draft stays.
        let e = s.finish_wound_draft(&d.id, Utc::now()).unwrap_err();
        assert!(
            e.to_string().contains("tissue, exudate, odour, pain"),
            "{e}"
        );
        assert_eq!(s.wound_drafts(Some(p.clone())).unwrap().len(), 1);

        // Resumed after the store is opened again, then completed.
        drop(s);
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let mut input = s.wound_draft(&d.id).unwrap().input;
        assert_eq!(input, half());
        input.tissue = vec![TissueShare {
            tissue: TissueType::Granulating,
            percent: 100,
        }];
        input.exudate = Some(ExudateLevel::Low);
        input.odour = Some(Odour::None);
        input.pain = Some(1);
        let d2 = s.save_wound_draft(&p, Some(d.id.clone()), input).unwrap();
        assert!(d2.missing.is_empty());
        assert_eq!(d2.started_at, d.started_at);
        let w = s.finish_wound_draft(&d.id, Utc::now()).unwrap();
        assert_eq!((w.id.as_str(), w.area_mm2), (d.id.as_str(), 600.0));
        assert!(s.wound_drafts(None).unwrap().is_empty());
        assert!(matches!(
            s.finish_wound_draft(&d.id, Utc::now()),
            Err(Error::NotFound {
                what: "wound draft",
                ..
            })
        ));
        assert_eq!(s.export_changes(0).unwrap().changes.len(), outbox + 1);

        // The finished assessment syncs; the draft never did.
        let b = open(&dir.path().join("b.db"), "dev-b", Role::DistrictNurse);
        let r = exchange(&s, &b);
        assert_eq!(r.quarantined, 0, "{r:?}");
        let theirs = b.patient(&p).unwrap().clinical.unwrap();
        assert_eq!(theirs.wound_assessments[0].site, "sacrum");
        assert!(b.wound_drafts(None).unwrap().is_empty());
    }

    #[test]
    fn bad_wound_drafts_keep_nothing_and_drafts_go_with_a_purge() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let p = s
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        let mut bad = half();
        bad.size = Some(WoundSize {
            length_mm: 0.0,
            width_mm: 20.0,
            depth_mm: 1.0,
        });
        let e = s.save_wound_draft(&p, None, bad).unwrap_err();
        assert!(e.to_string().contains("wound length"), "{e}");
        let mut bad = half();
        bad.pain = Some(11);
        assert!(s.save_wound_draft(&p, None, bad).is_err());
        let mut bad = half();
        bad.wound_id = Some("no-such-wound".into());
        assert!(matches!(
            s.save_wound_draft(&p, None, bad),
            Err(Error::NotFound { what: "wound", .. })
        ));
        assert!(s.wound_drafts(None).unwrap().is_empty());

        // A later assessment of a known wound may be drafted.
        let first = s
            .record_wound_assessment(&p, testing::wound(None, 50.0, 40.0, 3))
            .unwrap();
        let mut later = half();
        later.wound_id = Some(first.wound_id.clone());
        let d = s.save_wound_draft(&p, None, later).unwrap();
        // Another person's draft cannot be continued on this record.
        let q = s
            .register_patient(demographics("Joan", "Hirst", None, "hx7 8ab"))
            .unwrap();
        assert!(s.save_wound_draft(&q, Some(d.id.clone()), half()).is_err());
        {
            let mut w = s.writer().unwrap();
            let tx = w.conn.transaction().unwrap();
            super::purge(&tx, &p).unwrap();
            tx.commit().unwrap();
        }
        assert!(s.wound_drafts(None).unwrap().is_empty());

        // An advice worker may not draft one.
        let adv = open(&dir.path().join("c.db"), "dev-c", Role::AdviceWorker);
        let q = adv
            .register_patient(demographics("Ann", "Lee", None, "hx7 8ab"))
            .unwrap();
        let e = adv.save_wound_draft(&q, None, half()).unwrap_err();
        assert!(matches!(e, Error::NotAllowed(_)), "{e}");
    }
}
