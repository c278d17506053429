//! Drafts of scored assessments: a half-filled MUST or Waterlow kept on this phone, in its own
//! table (migration 3), resumed later and finished into the record. A draft is never in a
//! document or the outbox, so it is never synced; it is removed when finished or discarded, and
//! with the person's clinical record (purge) or the whole store (wipe).

use chrono::DateTime;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{now, FieldStore};
use crate::clinical::assessments::{self, AssessmentAnswer};
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;
use crate::record::policy::Action;
use crate::record::{AssessmentDraft, AssessmentDraftInput, Compartment};

/// A draft's row.
pub(crate) struct DraftRow {
    pub id: String,
    pub person_id: String,
    pub definition_id: String,
    pub definition_version: u32,
    pub visit_id: Option<String>,
    pub answers: Vec<AssessmentAnswer>,
    pub started_ms: i64,
    pub updated_ms: i64,
}

impl DraftRow {
    /// The draft with its score so far. A draft of a definition version this app no longer
    /// knows is an error naming it (versions are never removed, so this means a downgrade).
    pub fn scored(self) -> Result<AssessmentDraft> {
        let def = assessments::definition(&self.definition_id, self.definition_version)?;
        let score = assessments::score(def, &self.answers);
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        Ok(AssessmentDraft {
            score,
            started_at: at(self.started_ms),
            updated_at: at(self.updated_ms),
            id: self.id,
            person_id: self.person_id,
            definition_id: self.definition_id,
            definition_version: self.definition_version,
            visit_id: self.visit_id,
            answers: self.answers,
        })
    }
}

const COLUMNS: &str = "draft_id, person_id, definition_id, definition_version, visit_id, answers, started_ms, updated_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(DraftRow, String)> {
    Ok((
        DraftRow {
            id: r.get(0)?,
            person_id: r.get(1)?,
            definition_id: r.get(2)?,
            definition_version: r.get(3)?,
            visit_id: r.get(4)?,
            answers: Vec::new(),
            started_ms: r.get(6)?,
            updated_ms: r.get(7)?,
        },
        r.get(5)?,
    ))
}

fn with_answers((mut d, json): (DraftRow, String)) -> Result<DraftRow> {
    d.answers = serde_json::from_str(&json)
        .map_err(|e| Error::Storage(format!("draft {} cannot be read back: {e}", d.id)))?;
    Ok(d)
}

/// The draft `draft_id` of `user_id`.
pub(crate) fn load(conn: &Connection, draft_id: &str, user_id: &str) -> Result<DraftRow> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM assessment_drafts WHERE draft_id = ?1 AND user_id = ?2"
        ))?
        .query_row(params![draft_id, user_id], row)
        .optional()?;
    match found {
        Some(r) => with_answers(r),
        None => Err(Error::NotFound {
            what: "assessment draft",
            id: draft_id.to_string(),
        }),
    }
}

pub(crate) fn remove(conn: &Connection, draft_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM assessment_drafts WHERE draft_id = ?1")?
        .execute([draft_id])?;
    Ok(())
}

pub(crate) fn purge(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM assessment_drafts WHERE person_id = ?1")?
        .execute([person_id])?;
    Ok(())
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Keep a half-filled assessment on this phone (never synced): a new draft (`draft_id`
    /// `None`) or the next state of one. The answers given so far are checked against the
    /// definition (answers outside it, an unknown version, impossible measurements are refused
    /// and nothing is kept); the draft comes back with its partial score and the items missing.
    pub fn save_assessment_draft(
        &self,
        person_id: &str,
        draft_id: Option<String>,
        input: AssessmentDraftInput,
    ) -> Result<AssessmentDraft> {
        self.allow(Action::Write(Compartment::Clinical))?;
        self.allow(Action::RecordAssessment)?;
        let def = assessments::definition(&input.definition_id, input.definition_version)?;
        assessments::validate_answers(def, &input.answers)?;
        let user_id = self.config.user.id.clone();
        let answers = serde_json::to_string(&input.answers)?;
        let now_ms = now().timestamp_millis();
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            if let Some(v) = &input.visit_id {
                let doc = &w
                    .docs
                    .get(&w.conn, &(person_id.to_string(), Compartment::Clinical))?
                    .doc;
                let k = crate::record::layout::key(crate::record::layout::VISIT, v);
                if !crate::record::layout::has_key(doc, &k)? {
                    return Err(Error::NotFound {
                        what: "visit",
                        id: v.clone(),
                    });
                }
            }
            let (id, started_ms) = match &draft_id {
                Some(id) => {
                    let old = load(&w.conn, id, &user_id)?;
                    if old.person_id != person_id
                        || old.definition_id != input.definition_id
                        || old.definition_version != input.definition_version
                    {
                        return Err(ValidationError::Inconsistent(format!(
                            "draft {id} is a {} (version {}) of another record or form: start a new draft instead",
                            old.definition_id, old.definition_version
                        ))
                        .into());
                    }
                    (id.clone(), old.started_ms)
                }
                None => (new_id(), now_ms),
            };
            w.conn
                .prepare_cached(
                    "INSERT INTO assessment_drafts (draft_id, person_id, user_id, definition_id,
                        definition_version, visit_id, answers, started_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (draft_id) DO UPDATE SET visit_id = excluded.visit_id,
                        answers = excluded.answers, updated_ms = excluded.updated_ms",
                )?
                .execute(params![
                    id,
                    person_id,
                    user_id,
                    input.definition_id,
                    input.definition_version,
                    input.visit_id,
                    answers,
                    started_ms,
                    now_ms
                ])?;
            DraftRow {
                id,
                person_id: person_id.to_string(),
                definition_id: input.definition_id,
                definition_version: input.definition_version,
                visit_id: input.visit_id,
                answers: input.answers,
                started_ms,
                updated_ms: now_ms,
            }
            .scored()
        })
    }

    /// Open a draft of this user's to resume it, scored as far as it goes.
    pub fn assessment_draft(&self, draft_id: &str) -> Result<AssessmentDraft> {
        let conn = self.reader()?;
        load(&conn, draft_id, &self.config.user.id)?.scored()
    }

    /// This user's drafts on this phone, of one person or (with `None`) of everyone, most
    /// recently changed first.
    pub fn assessment_drafts(&self, person_id: Option<String>) -> Result<Vec<AssessmentDraft>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM assessment_drafts
             WHERE user_id = ?1 AND (?2 IS NULL OR person_id = ?2)
             ORDER BY updated_ms DESC, draft_id"
        ))?;
        let rows = stmt
            .query_map(params![self.config.user.id, person_id], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|r| with_answers(r)?.scored())
            .collect()
    }

    /// Throw a draft away (nothing of it was ever in the record).
    pub fn discard_assessment_draft(&self, draft_id: &str) -> Result<()> {
        let user_id = self.config.user.id.clone();
        self.writing(|w| {
            load(&w.conn, draft_id, &user_id)?;
            remove(&w.conn, draft_id)
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::clinical::assessments::AssessmentAnswer as A;
    use crate::clinical::wound::*;
    use crate::error::{Error, ValidationError};
    use crate::record::*;
    use crate::testing::{self, demographics, exchange, open};

    fn waterlow(answers: Vec<A>) -> AssessmentDraftInput {
        AssessmentDraftInput {
            definition_id: "waterlow".into(),
            definition_version: 1,
            answers,
            visit_id: None,
        }
    }

    #[test]
    fn draft_resume_finish_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let p = s
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        let outbox = s.export_changes(0).unwrap().changes.len();

        let d = s
            .save_assessment_draft(&p, None, waterlow(testing::waterlow_first_half()))
            .unwrap();
        assert_eq!(d.score.points_so_far, 14);
        assert_eq!(d.score.missing.len(), 7);
        assert_eq!((d.score.total, d.score.band.as_ref()), (None, None));
        // A draft is never a change: nothing new to send, nothing in the record.
        assert_eq!(s.export_changes(0).unwrap().changes.len(), outbox);
        assert!(s.patient(&p).unwrap().clinical.is_none());

        // Resumed later (a store opened again on the same file).
        drop(s);
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let listed = s.assessment_drafts(Some(p.clone())).unwrap();
        assert_eq!(listed.len(), 1);
        let resumed = s.assessment_draft(&d.id).unwrap();
        assert_eq!(resumed.answers, d.answers);
        assert_eq!(resumed.score, d.score);

        // Finishing while items are missing is refused, naming them; the draft stays.
        let err = s.finish_assessment_draft(&d.id, Utc::now()).unwrap_err();
        assert!(
            matches!(&err, Error::Validation(ValidationError::InvalidAnswer { field, .. }) if field.contains("medication")),
            "{err}"
        );
        assert_eq!(s.export_changes(0).unwrap().changes.len(), outbox);

        let mut all = resumed.answers.clone();
        all.extend(testing::waterlow_second_half());
        let d2 = s
            .save_assessment_draft(&p, Some(d.id.clone()), waterlow(all))
            .unwrap();
        assert_eq!(
            (d2.id.as_str(), d2.started_at),
            (d.id.as_str(), d.started_at)
        );
        assert_eq!(d2.score.total, Some(28));
        let a = s.finish_assessment_draft(&d.id, Utc::now()).unwrap();
        assert_eq!(a.id, d.id);
        assert_eq!(a.score.total, Some(28));
        assert_eq!(a.score.band.as_deref(), Some("very_high_risk"));
        assert!(s.assessment_drafts(None).unwrap().is_empty());
        assert!(matches!(
            s.assessment_draft(&d.id),
            Err(Error::NotFound {
                what: "assessment draft",
                ..
            })
        ));
        assert_eq!(s.export_changes(0).unwrap().changes.len(), outbox + 1);

        let rec = s.patient(&p).unwrap().clinical.unwrap();
        assert_eq!(rec.assessments, vec![a.clone()]);
        let h = s.history(&p).unwrap();
        let last = h.last().unwrap();
        assert_eq!(last.summary, "recorded Waterlow 28 (very high risk)");
        assert!(
            last.sentence
                .ends_with("(district nurse, device dev-a): recorded Waterlow 28 (very high risk)"),
            "{}",
            last.sentence
        );

        // It syncs like any entry (and is checked, re-scored, on the way in).
        let b = open(&dir.path().join("b.db"), "dev-b", Role::DistrictNurse);
        let r = exchange(&s, &b);
        assert_eq!(r.quarantined, 0, "{r:?}");
        let theirs = b.patient(&p).unwrap().clinical.unwrap();
        assert_eq!(theirs.assessments[0].score.total, Some(28));
        assert!(b.assessment_drafts(None).unwrap().is_empty());
    }

    #[test]
    fn finishing_again_after_a_crash_returns_the_recorded_assessment() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let p = s
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        let input = AssessmentDraftInput {
            definition_id: "must".into(),
            definition_version: 1,
            answers: testing::must_measured(),
            visit_id: None,
        };
        let d = s.save_assessment_draft(&p, None, input.clone()).unwrap();
        let a = s.finish_assessment_draft(&d.id, Utc::now()).unwrap();
        // The app was killed after the entry was written but before the draft was removed.
        {
            let w = s.writer().unwrap();
            w.conn
                .execute(
                    "INSERT INTO assessment_drafts VALUES (?1, ?2, ?3, 'must', 1, NULL, ?4, 0, 0)",
                    rusqlite::params![
                        d.id,
                        p,
                        s.user().id,
                        serde_json::to_string(&input.answers).unwrap()
                    ],
                )
                .unwrap();
        }
        let n = s.export_changes(0).unwrap().changes.len();
        let again = s.finish_assessment_draft(&d.id, Utc::now()).unwrap();
        assert_eq!(again, a);
        assert_eq!(s.export_changes(0).unwrap().changes.len(), n);
        assert!(s.assessment_drafts(None).unwrap().is_empty());
        assert_eq!(
            s.patient(&p).unwrap().clinical.unwrap().assessments.len(),
            1
        );
    }

    #[test]
    fn bad_drafts_keep_nothing_and_advice_workers_may_not_assess() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let p = s
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        let bad = |answers: Vec<A>, version: u32| {
            let mut i = waterlow(answers);
            i.definition_version = version;
            s.save_assessment_draft(&p, None, i).unwrap_err()
        };
        assert!(matches!(
            bad(vec![A::points("neurological_deficit", 3)], 1),
            Error::Validation(ValidationError::InvalidAnswer { field, .. }) if field == "neurological_deficit"
        ));
        assert!(matches!(
            bad(vec![], 2005),
            Error::Validation(ValidationError::UnknownAssessment { .. })
        ));
        assert!(matches!(
            bad(
                vec![A::measured(
                    "build",
                    &[("height_cm", 170.0), ("weight_kg", 0.5)]
                )],
                1
            ),
            Error::Validation(ValidationError::OutOfRange { what: "weight", .. })
        ));
        assert!(s.assessment_drafts(None).unwrap().is_empty());
        // A draft of one form cannot become another.
        let d = s.save_assessment_draft(&p, None, waterlow(vec![])).unwrap();
        let mut must = waterlow(vec![]);
        must.definition_id = "must".into();
        assert!(s
            .save_assessment_draft(&p, Some(d.id.clone()), must)
            .is_err());
        s.discard_assessment_draft(&d.id).unwrap();
        assert!(s.assessment_drafts(None).unwrap().is_empty());

        let adv = open(&dir.path().join("w.db"), "dev-w", Role::AdviceWorker);
        let q = adv
            .register_patient(demographics("Mary", "Seacole", None, "m1 1aa"))
            .unwrap();
        let e = adv
            .save_assessment_draft(&q, None, waterlow(vec![]))
            .unwrap_err();
        assert!(matches!(e, Error::NotAllowed(_)), "{e}");
        let e = adv
            .record_assessment(
                &q,
                AssessmentInput {
                    definition_id: "must".into(),
                    definition_version: 1,
                    answers: testing::must_measured(),
                    visit_id: None,
                    assessed_at: Utc::now(),
                },
            )
            .unwrap_err();
        assert!(matches!(e, Error::NotAllowed(_)), "{e}");
        assert!(adv.export_changes(0).unwrap().changes.len() == 1);
    }

    #[test]
    fn wound_area_trend_over_visits() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let p = s
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        let input = testing::wound;
        let first = s
            .record_wound_assessment(&p, input(None, 50.0, 40.0, 14))
            .unwrap();
        let w = Some(first.wound_id.clone());
        s.record_wound_assessment(&p, input(w.clone(), 45.0, 40.0, 7))
            .unwrap();
        let third = s
            .record_wound_assessment(&p, input(w.clone(), 40.0, 30.0, 0))
            .unwrap();
        let other = s
            .record_wound_assessment(&p, input(None, 10.0, 10.0, 0))
            .unwrap();
        let rec = s.patient(&p).unwrap().clinical.unwrap();
        assert_eq!(rec.wound_assessments.len(), 4);
        assert_eq!(rec.wound_trends.len(), 2);
        let t = &rec.wound_trends[0];
        assert_eq!(
            t.points.iter().map(|p| p.area_mm2).collect::<Vec<_>>(),
            [2000.0, 1800.0, 1200.0]
        );
        assert_eq!(
            (t.change_percent, t.trend),
            (Some(-40.0), AreaTrend::Reducing)
        );
        assert_eq!(rec.wound_trends[1].trend, AreaTrend::FirstMeasurement);
        assert_eq!(rec.wound_trends[1].wound_id, other.id);
        // A measurement entered in error leaves the trend.
        s.mark_entered_in_error(&p, &third.id, "measured the wrong wound")
            .unwrap();
        let t = s.patient(&p).unwrap().clinical.unwrap().wound_trends[0].clone();
        assert_eq!(
            (t.points.len(), t.change_percent, t.trend),
            (2, Some(-10.0), AreaTrend::Static)
        );
        // Impossible dimensions: a clear error naming the field, nothing stored.
        let n = s.export_changes(0).unwrap().changes.len();
        let e = s
            .record_wound_assessment(&p, input(w, 0.0, 0.0, 0))
            .unwrap_err();
        assert!(e.to_string().contains("wound length"), "{e}");
        assert_eq!(s.export_changes(0).unwrap().changes.len(), n);
    }

    #[test]
    fn drafts_go_with_a_purge_of_the_person() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let p = s
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        s.save_assessment_draft(&p, None, waterlow(vec![])).unwrap();
        {
            let mut w = s.writer().unwrap();
            let tx = w.conn.transaction().unwrap();
            super::purge(&tx, &p).unwrap();
            tx.commit().unwrap();
        }
        assert!(s.assessment_drafts(None).unwrap().is_empty());
    }

    /// An assessment from another phone whose stored score does not match its answers is
    /// quarantined on the way in, never shown as the person's score.
    #[test]
    fn a_received_assessment_with_a_wrong_score_is_quarantined() {
        use automerge::transaction::{CommitOptions, Transactable};
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir.path().join("a.db"), "dev-a", Role::DistrictNurse);
        let b = open(&dir.path().join("b.db"), "dev-b", Role::DistrictNurse);
        let p = a
            .register_patient(demographics("Edith", "Crawley", None, "hx7 8ab"))
            .unwrap();
        exchange(&a, &b);
        let author = Author {
            user_id: "user-dev-a".into(),
            display_name: "Nurse".into(),
            role: Role::DistrictNurse,
            device_id: "dev-a".into(),
            at: Utc::now(),
        };
        let mut scratch = automerge::AutoCommit::new();
        let mut wrong = crate::record::edit::record_assessment(
            &mut scratch,
            &author,
            "a1".into(),
            AssessmentInput {
                definition_id: "must".into(),
                definition_version: 1,
                answers: testing::must_measured(),
                visit_id: None,
                assessed_at: author.at,
            },
        )
        .unwrap()
        .value;
        wrong.score.band = Some("low".into());
        wrong.score.band_label = Some("low risk".into());
        let mut doc = automerge::AutoCommit::new();
        doc.put(
            automerge::ROOT,
            "assessment:a1",
            serde_json::to_string(&wrong).unwrap(),
        )
        .unwrap();
        let stamp = crate::record::layout::AuditStamp::new(&author, "recorded MUST 3 (low risk)");
        let hash = doc
            .commit_with(
                CommitOptions::default().with_message(serde_json::to_string(&stamp).unwrap()),
            )
            .unwrap();
        let bytes = doc.get_change_by_hash(&hash).unwrap().raw_bytes().to_vec();
        let r = b
            .import_changes(&crate::store::ChangeBatch {
                changes: vec![crate::store::ExportedChange {
                    person_id: p.clone(),
                    compartment: Compartment::Clinical,
                    bytes,
                }],
                up_to: 1,
            })
            .unwrap();
        assert_eq!((r.new_changes, r.quarantined), (0, 1));
        let q = b.quarantine().unwrap();
        assert_eq!(q[0].code, "invalid_content");
        assert!(
            q[0].reason.contains("does not match its answers"),
            "{}",
            q[0].reason
        );
        let rec = b.patient(&p).unwrap();
        assert!(rec.clinical.is_none_or(|c| c.assessments.is_empty()));
    }
}
