//! The write half of the `FieldStore` API. Each call validates its input completely before it
//! touches a document, then makes exactly one change to one compartment document.

use automerge::AutoCommit;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{projections, FieldStore};
use crate::clinical::news2::{self, News2Result, SpO2Scale};
use crate::clinical::observations::Observations;
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;
use crate::record::layout::{self, key, *};
use crate::record::model::{required_short, required_text, text};
use crate::record::{self, *};

/// How far ahead of this device's clock a recorded time may be (clock drift between devices).
const CLOCK_SKEW: Duration = Duration::minutes(10);

/// What `record_visit` returns: the visit as stored and, if observations were taken, their NEWS2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedVisit {
    pub visit: Visit,
    pub observations: Option<ObservationSet>,
    pub news2: Option<News2Result>,
}

fn not_future(what: &'static str, t: DateTime<Utc>) -> Result<(), ValidationError> {
    if t > Utc::now() + CLOCK_SKEW {
        return Err(ValidationError::DateInFuture {
            what,
            value: t.format("%Y-%m-%d %H:%M UTC").to_string(),
        });
    }
    Ok(())
}

fn not_found(what: &'static str, id: &str) -> Error {
    Error::NotFound {
        what,
        id: id.to_string(),
    }
}

/// The NEWS2 SpO2 scale the record prescribes: scale 2 only while exactly one active
/// "SpO2 scale 2" value stands. While that field is in conflict, scale 1 (the RCP default) is used.
fn prescribed_scale(doc: &AutoCommit) -> Result<SpO2Scale> {
    let values =
        layout::get_all_json::<AlertValue>(doc, &key(ALERT, AlertKind::Spo2Scale2.as_str()))?;
    Ok(match values.as_slice() {
        [(v, _)] if v.active => SpO2Scale::Scale2,
        _ => SpO2Scale::Scale1,
    })
}

fn visit_summary(v: &Visit, news2: Option<&News2Result>) -> String {
    let mut s = format!(
        "recorded a {} ({})",
        v.contact_type.label(),
        v.outcome.label()
    );
    if !v.interventions.is_empty() {
        let list: Vec<String> = v.interventions.iter().map(|i| i.label()).collect();
        s.push_str(&format!(": {}", list.join(", ")));
    }
    if let Some(n) = news2 {
        s.push_str(&format!("; {}", news2_words(n)));
    }
    s
}

fn news2_words(n: &News2Result) -> String {
    match (n.total, n.risk) {
        (Some(t), Some(r)) => format!("NEWS2 {t} ({} risk)", r.label()),
        _ => "observations (incomplete set, no NEWS2 total)".to_string(),
    }
}

impl FieldStore {
    /// Add a person to this device's caseload. Returns their new id.
    pub fn register_patient(&self, demographics: Demographics) -> Result<String> {
        let d = demographics.validated(Utc::now().date_naive())?;
        if let Some(nhs) = &d.nhs_number {
            let existing = self.search_patients(nhs)?;
            if let Some(other) = existing
                .iter()
                .find(|e| e.nhs_number.as_deref() == Some(nhs))
            {
                return Err(ValidationError::Inconsistent(format!(
                    "{} is already registered on this device with NHS number {}: open their record instead of registering them again",
                    other.display_name,
                    crate::clinical::nhs_number::format(nhs)
                ))
                .into());
            }
        }
        let person_id = new_id();
        let author = self.author();
        let summary = format!("registered {}", d.display_name());
        let pid = person_id.clone();
        self.write(
            &person_id,
            Compartment::Demographics,
            &author,
            &summary,
            |doc| {
                put_demographics(doc, None, &d)?;
                Ok(d.clone())
            },
            |tx, d| projections::upsert_person(tx, &pid, d),
        )?;
        Ok(person_id)
    }

    /// Change a person's details; only the fields that differ are written, so a colleague's
    /// concurrent edit of another field survives.
    pub fn update_demographics(
        &self,
        person_id: &str,
        demographics: Demographics,
    ) -> Result<Demographics> {
        let d = demographics.validated(Utc::now().date_naive())?;
        self.require_person(person_id)?;
        let author = self.author();
        let summary = format!("updated the details of {}", d.display_name());
        self.write(
            person_id,
            Compartment::Demographics,
            &author,
            &summary,
            |doc| {
                let before = record::read::demographics(doc)?;
                put_demographics(doc, before.as_ref(), &d)?;
                record::read::demographics(doc)?.ok_or_else(|| not_found("person", person_id))
            },
            |tx, d| projections::upsert_person(tx, person_id, d),
        )
    }

    /// Book a visit.
    pub fn schedule_visit(
        &self,
        person_id: &str,
        input: PlannedVisitInput,
    ) -> Result<PlannedVisit> {
        if let Some(end) = input.planned_end {
            if end < input.planned_start {
                return Err(ValidationError::Inconsistent(
                    "the planned end is before the planned start: check the times".into(),
                )
                .into());
            }
        }
        if let Some(p) = &input.purpose {
            text("purpose", p)?;
        }
        self.require_person(person_id)?;
        let author = self.author();
        let planned = PlannedVisit {
            id: new_id(),
            planned_start: input.planned_start,
            planned_end: input.planned_end,
            clinician: input.clinician,
            contact_type: input.contact_type,
            purpose: input.purpose,
            author: author.clone(),
        };
        let summary = format!(
            "booked a {} for {}",
            planned.contact_type.label(),
            planned.planned_start.format("%-d %b %Y %H:%M UTC")
        );
        self.write(
            person_id,
            Compartment::Clinical,
            &author,
            &summary,
            |doc| {
                layout::put_json(doc, &key(PLANNED, &planned.id), &planned)?;
                Ok(planned.clone())
            },
            |tx, p| projections::insert_planned(tx, person_id, p, false, false),
        )
    }

    /// Record a contact as it happened, with its observations (scored with NEWS2) if any.
    pub fn record_visit(&self, person_id: &str, input: VisitInput) -> Result<RecordedVisit> {
        validate_visit(&input)?;
        self.require_person(person_id)?;
        let author = self.author();
        let visit_id = new_id();
        let obs_id = input.observations.as_ref().map(|_| new_id());
        let mut visit = Visit {
            id: visit_id,
            planned_visit_id: input.planned_visit_id.clone(),
            contact_type: input.contact_type,
            started_at: input.started_at,
            ended_at: input.ended_at,
            outcome: input.outcome,
            interventions: input.interventions.clone(),
            note: input
                .note
                .as_ref()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            observations_id: obs_id.clone(),
            author: author.clone(),
        };
        // The summary names the NEWS2, which needs the record's SpO2 scale: work it out first.
        let scale = match &input.observations {
            Some(_) => self.with_doc(person_id, Compartment::Clinical, |d| prescribed_scale(d))?,
            None => SpO2Scale::Scale1,
        };
        let obs_set = match (&input.observations, obs_id) {
            (Some(o), Some(id)) => Some(ObservationSet {
                id,
                visit_id: Some(visit.id.clone()),
                taken_at: input.started_at,
                observations: o.clone(),
                news2: news2::score(o, scale),
                author: author.clone(),
            }),
            _ => None,
        };
        let summary = visit_summary(&visit, obs_set.as_ref().map(|o| &o.news2));
        visit.observations_id = obs_set.as_ref().map(|o| o.id.clone());
        self.write(
            person_id,
            Compartment::Clinical,
            &author,
            &summary,
            |doc| {
                if let Some(p) = &visit.planned_visit_id {
                    if !layout::has_key(doc, &key(PLANNED, p))? {
                        return Err(not_found("planned visit", p));
                    }
                }
                if let Some(o) = &obs_set {
                    if prescribed_scale(doc)? != o.news2.scale {
                        return Err(Error::Document(
                            "the SpO2 scale changed while recording; record the observations again"
                                .into(),
                        ));
                    }
                    layout::put_json(doc, &key(OBSERVATIONS, &o.id), o)?;
                }
                layout::put_json(doc, &key(VISIT, &visit.id), &visit)?;
                Ok(())
            },
            |tx, _| {
                projections::note_visit(tx, person_id, &visit)?;
                if let Some(p) = &visit.planned_visit_id {
                    projections::mark_planned_completed(tx, person_id, p)?;
                }
                if let Some(o) = &obs_set {
                    projections::note_observations(tx, person_id, o)?;
                }
                Ok(())
            },
        )?;
        let news2 = obs_set.as_ref().map(|o| o.news2.clone());
        Ok(RecordedVisit {
            visit,
            observations: obs_set,
            news2,
        })
    }

    /// Record a set of observations outside a visit record (or against one) and score it.
    pub fn record_observations(
        &self,
        person_id: &str,
        taken_at: DateTime<Utc>,
        observations: Observations,
        visit_id: Option<String>,
    ) -> Result<ObservationSet> {
        observations.validate()?;
        not_future("observation time", taken_at)?;
        self.require_person(person_id)?;
        let author = self.author();
        let scale = self.with_doc(person_id, Compartment::Clinical, |d| prescribed_scale(d))?;
        let set = ObservationSet {
            id: new_id(),
            visit_id,
            taken_at,
            news2: news2::score(&observations, scale),
            observations,
            author: author.clone(),
        };
        let summary = format!("recorded observations: {}", news2_words(&set.news2));
        self.write(
            person_id,
            Compartment::Clinical,
            &author,
            &summary,
            |doc| {
                if let Some(v) = &set.visit_id {
                    if !layout::has_key(doc, &key(VISIT, v))? {
                        return Err(not_found("visit", v));
                    }
                }
                if prescribed_scale(doc)? != set.news2.scale {
                    return Err(Error::Document(
                        "the SpO2 scale changed while recording; record the observations again"
                            .into(),
                    ));
                }
                layout::put_json(doc, &key(OBSERVATIONS, &set.id), &set)?;
                Ok(())
            },
            |tx, _| projections::note_observations(tx, person_id, &set),
        )?;
        Ok(set)
    }

    /// Add a free-text note, optionally about a visit.
    pub fn add_note(&self, person_id: &str, visit_id: Option<String>, note: &str) -> Result<Note> {
        let text = required_text("note", note, "write the note before saving")?;
        self.require_person(person_id)?;
        let author = self.author();
        let n = Note {
            id: new_id(),
            visit_id,
            text,
            author: author.clone(),
        };
        self.write(
            person_id,
            Compartment::Clinical,
            &author,
            "added a note",
            |doc| {
                if let Some(v) = &n.visit_id {
                    if !layout::has_key(doc, &key(VISIT, v))? {
                        return Err(not_found("visit", v));
                    }
                }
                layout::put_json(doc, &key(NOTE, &n.id), &n)?;
                Ok(())
            },
            |_, _| Ok(()),
        )?;
        Ok(n)
    }

    /// Set an alert. Refused while that alert has an open conflict: resolve it first, so that no
    /// colleague's value is overwritten unseen.
    pub fn set_alert(&self, person_id: &str, input: AlertInput) -> Result<Alert> {
        let text = required_short("alert text", &input.text, "say what the visitor must know")?;
        self.require_person(person_id)?;
        let author = self.author();
        let value = AlertValue {
            kind: input.kind,
            text,
            active: input.active,
            author: author.clone(),
        };
        let summary = format!("set {} to \"{}\"", input.kind.label(), value.text);
        self.put_alert(person_id, &author, &summary, value, None)
    }

    /// Resolve a clinical conflict with the value the clinician decided on (one of the values
    /// shown, or a new one that combines them).
    pub fn resolve_conflict(&self, conflict_id: &str, resolution: AlertInput) -> Result<Alert> {
        let text = required_short(
            "alert text",
            &resolution.text,
            "say what the visitor must know",
        )?;
        let person_id = conflict_id
            .split('/')
            .next()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::ConflictNotOpen {
                id: conflict_id.to_string(),
            })?;
        let conflict = self
            .conflicts(Some(person_id))
            .map_err(|_| Error::ConflictNotOpen {
                id: conflict_id.to_string(),
            })?
            .into_iter()
            .find(|c| c.id == conflict_id)
            .ok_or_else(|| Error::ConflictNotOpen {
                id: conflict_id.to_string(),
            })?;
        if conflict.kind != resolution.kind {
            return Err(ValidationError::Inconsistent(format!(
                "this conflict is about {}, not {}",
                conflict.kind.label(),
                resolution.kind.label()
            ))
            .into());
        }
        let author = self.author();
        let value = AlertValue {
            kind: resolution.kind,
            text,
            active: resolution.active,
            author: author.clone(),
        };
        let summary = format!(
            "resolved conflicting {} ({} values) as \"{}\"",
            conflict.kind.label(),
            conflict.values.len(),
            value.text
        );
        self.put_alert(person_id, &author, &summary, value, Some(conflict_id))
    }

    fn put_alert(
        &self,
        person_id: &str,
        author: &Author,
        summary: &str,
        value: AlertValue,
        resolving: Option<&str>,
    ) -> Result<Alert> {
        let kind = value.kind;
        let alerts = self.write(
            person_id,
            Compartment::Clinical,
            author,
            summary,
            |doc| {
                let open = record::read::conflicts(person_id, doc)?;
                let open_here = open.iter().find(|c| c.kind == kind);
                match (open_here, resolving) {
                    (Some(c), None) => {
                        return Err(ValidationError::Inconsistent(format!(
                            "{} has {} conflicting values from different colleagues: resolve the conflict (id {}) instead of overwriting it",
                            kind.label(),
                            c.values.len(),
                            c.id
                        ))
                        .into())
                    }
                    (Some(c), Some(id)) if c.id != id => {
                        return Err(Error::ConflictNotOpen { id: id.to_string() })
                    }
                    (None, Some(id)) => return Err(Error::ConflictNotOpen { id: id.to_string() }),
                    _ => {}
                }
                layout::put_json(doc, &key(ALERT, kind.as_str()), &value)?;
                record::read::alerts(doc)
            },
            |tx, alerts| projections::replace_alerts(tx, person_id, alerts),
        )?;
        alerts
            .into_iter()
            .find(|a| a.kind == kind)
            .ok_or_else(|| Error::Document("the alert just set cannot be read back".into()))
    }

    /// Mark an entry (visit, planned visit, observations, note, episode, advice entry) as entered
    /// in error. The entry stays in the record and its history, with this marker beside it.
    pub fn mark_entered_in_error(
        &self,
        person_id: &str,
        entry_id: &str,
        reason: &str,
    ) -> Result<EnteredInError> {
        let reason = required_short("reason", reason, "say why the entry is wrong")?;
        self.require_person(person_id)?;
        let compartment = self.compartment_of_entry(person_id, entry_id)?;
        let author = self.author();
        let marker = EnteredInError {
            entry_id: entry_id.to_string(),
            reason,
            author: author.clone(),
        };
        let summary = format!(
            "marked entry {entry_id} as entered in error: {}",
            marker.reason
        );
        self.write(
            person_id,
            compartment,
            &author,
            &summary,
            |doc| {
                layout::put_json(doc, &key(ENTERED_IN_ERROR, entry_id), &marker)?;
                if compartment == Compartment::Clinical {
                    record::read::clinical(person_id, doc).map(Some)
                } else {
                    Ok(None)
                }
            },
            |tx, clinical| match clinical {
                Some(c) => projections::replace_clinical(tx, person_id, c),
                None => Ok(()),
            },
        )?;
        Ok(marker)
    }

    fn compartment_of_entry(&self, person_id: &str, entry_id: &str) -> Result<Compartment> {
        let clinical = [EPISODE, PLANNED, VISIT, OBSERVATIONS, NOTE];
        let advice = [ADVICE_NEED, ADVICE_ACTION, ADVICE_OUTCOME];
        let in_clinical = self.with_doc(person_id, Compartment::Clinical, |d| {
            clinical.iter().try_fold(false, |found, p| {
                Ok(found || layout::has_key(d, &key(p, entry_id))?)
            })
        })?;
        if in_clinical {
            return Ok(Compartment::Clinical);
        }
        let in_advice = self.with_doc(person_id, Compartment::Advice, |d| {
            advice.iter().try_fold(false, |found, p| {
                Ok(found || layout::has_key(d, &key(p, entry_id))?)
            })
        })?;
        if in_advice {
            return Ok(Compartment::Advice);
        }
        Err(not_found("entry", entry_id))
    }

    /// Open an episode of care (district nursing, or a virtual ward with its pathway).
    pub fn add_episode(&self, person_id: &str, input: EpisodeInput) -> Result<Episode> {
        let referral_source = required_short(
            "referral source",
            &input.referral_source,
            "say who referred the person",
        )?;
        let referral_reason = required_text(
            "referral reason",
            &input.referral_reason,
            "say why they were referred",
        )?;
        if input.accepted_on > Utc::now().date_naive() {
            return Err(ValidationError::DateInFuture {
                what: "accepted date",
                value: input.accepted_on.to_string(),
            }
            .into());
        }
        self.require_person(person_id)?;
        let author = self.author();
        let e = Episode {
            id: new_id(),
            service: input.service,
            referral_source,
            referral_reason,
            accepted_on: input.accepted_on,
            discharged_on: None,
            author: author.clone(),
        };
        self.put_entry(
            person_id,
            Compartment::Clinical,
            &author,
            "accepted a referral",
            EPISODE,
            &e.id,
            &e,
        )?;
        Ok(e)
    }

    /// Discharge from an episode of care.
    pub fn discharge_episode(
        &self,
        person_id: &str,
        episode_id: &str,
        on: NaiveDate,
        reason: &str,
    ) -> Result<Discharge> {
        let reason = required_short(
            "discharge reason",
            reason,
            "say why the person is discharged",
        )?;
        if on > Utc::now().date_naive() {
            return Err(ValidationError::DateInFuture {
                what: "discharge date",
                value: on.to_string(),
            }
            .into());
        }
        self.require_person(person_id)?;
        let episode: Option<Episode> = self.with_doc(person_id, Compartment::Clinical, |d| {
            layout::get_json(d, &key(EPISODE, episode_id))
        })?;
        let episode = episode.ok_or_else(|| not_found("episode", episode_id))?;
        if on < episode.accepted_on {
            return Err(ValidationError::Inconsistent(format!(
                "the discharge date {on} is before the episode was accepted ({}): check the date",
                episode.accepted_on
            ))
            .into());
        }
        let author = self.author();
        let d = Discharge {
            episode_id: episode_id.to_string(),
            discharged_on: on,
            reason,
            author: author.clone(),
        };
        self.put_entry(
            person_id,
            Compartment::Clinical,
            &author,
            "discharged from an episode of care",
            DISCHARGE,
            &new_id(),
            &d,
        )?;
        Ok(d)
    }

    /// Replace the care plan.
    pub fn set_care_plan(&self, person_id: &str, plan: CarePlan) -> Result<CarePlan> {
        for g in plan.goals.iter().chain(plan.interventions.iter()) {
            text("care plan item", g)?;
        }
        self.require_person(person_id)?;
        let author = self.author();
        self.write(
            person_id,
            Compartment::Clinical,
            &author,
            "updated the care plan",
            |doc| layout::put_json(doc, CARE_PLAN, &plan),
            |_, _| Ok(()),
        )?;
        Ok(plan)
    }

    /// Record an advice need (Citizens Advice).
    pub fn add_advice_need(
        &self,
        person_id: &str,
        category: AdviceCategory,
        description: &str,
    ) -> Result<AdviceNeed> {
        let description = required_text(
            "advice need",
            description,
            "describe what the person needs help with",
        )?;
        self.require_person(person_id)?;
        let author = self.author();
        let n = AdviceNeed {
            id: new_id(),
            category,
            description,
            author: author.clone(),
        };
        self.put_entry(
            person_id,
            Compartment::Advice,
            &author,
            "recorded an advice need",
            ADVICE_NEED,
            &n.id,
            &n,
        )?;
        Ok(n)
    }

    /// Record an action taken on an advice need.
    pub fn add_advice_action(
        &self,
        person_id: &str,
        need_id: &str,
        description: &str,
    ) -> Result<AdviceAction> {
        let description = required_text("action", description, "describe the action taken")?;
        self.require_advice_need(person_id, need_id)?;
        let author = self.author();
        let a = AdviceAction {
            id: new_id(),
            need_id: need_id.to_string(),
            description,
            author: author.clone(),
        };
        self.put_entry(
            person_id,
            Compartment::Advice,
            &author,
            "recorded an advice action",
            ADVICE_ACTION,
            &a.id,
            &a,
        )?;
        Ok(a)
    }

    /// Record the outcome of an advice need, with any financial gain in pence.
    pub fn record_advice_outcome(
        &self,
        person_id: &str,
        need_id: &str,
        description: &str,
        financial_gain_pence: i64,
    ) -> Result<AdviceOutcome> {
        let description = required_text("outcome", description, "describe the outcome")?;
        if financial_gain_pence < 0 {
            return Err(ValidationError::Inconsistent(
                "financial gain cannot be negative: record money the person gained, in pence"
                    .into(),
            )
            .into());
        }
        self.require_advice_need(person_id, need_id)?;
        let author = self.author();
        let o = AdviceOutcome {
            id: new_id(),
            need_id: need_id.to_string(),
            description,
            financial_gain_pence,
            author: author.clone(),
        };
        let summary = format!(
            "recorded an advice outcome (gain £{}.{:02})",
            financial_gain_pence / 100,
            financial_gain_pence % 100
        );
        self.put_entry(
            person_id,
            Compartment::Advice,
            &author,
            &summary,
            ADVICE_OUTCOME,
            &o.id,
            &o,
        )?;
        Ok(o)
    }

    /// Record whether the person consents to their advice and clinical records being shared
    /// between the advice worker and the health team.
    pub fn set_consent_to_share(&self, person_id: &str, consented: bool) -> Result<ConsentToShare> {
        self.require_person(person_id)?;
        let author = self.author();
        let c = ConsentToShare {
            consented,
            author: author.clone(),
        };
        let summary = if consented {
            "recorded consent to share with the health team"
        } else {
            "recorded that the person does not consent to share"
        };
        self.write(
            person_id,
            Compartment::Advice,
            &author,
            summary,
            |doc| layout::put_json(doc, CONSENT, &c),
            |_, _| Ok(()),
        )?;
        Ok(c)
    }

    fn require_advice_need(&self, person_id: &str, need_id: &str) -> Result<()> {
        self.require_person(person_id)?;
        let found = self.with_doc(person_id, Compartment::Advice, |d| {
            layout::has_key(d, &key(ADVICE_NEED, need_id))
        })?;
        if found {
            Ok(())
        } else {
            Err(not_found("advice need", need_id))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn put_entry<T: Serialize>(
        &self,
        person_id: &str,
        compartment: Compartment,
        author: &Author,
        summary: &str,
        prefix: &str,
        id: &str,
        value: &T,
    ) -> Result<()> {
        self.write(
            person_id,
            compartment,
            author,
            summary,
            |doc| layout::put_json(doc, &key(prefix, id), value),
            |_, _| Ok(()),
        )
    }
}

fn validate_visit(v: &VisitInput) -> Result<(), ValidationError> {
    not_future("visit start", v.started_at)?;
    if let Some(end) = v.ended_at {
        if end < v.started_at {
            return Err(ValidationError::Inconsistent(
                "the visit ends before it starts: check the times".into(),
            ));
        }
        not_future("visit end", end)?;
    }
    if let Some(n) = &v.note {
        text("visit note", n)?;
    }
    for i in &v.interventions {
        if let Intervention::Other(s) = i {
            required_short("other intervention", s, "name the intervention")?;
        }
    }
    if let Some(o) = &v.observations {
        o.validate()?;
    }
    Ok(())
}

/// Write the demographics fields that differ from `before`, one key per field.
fn put_demographics(
    doc: &mut AutoCommit,
    before: Option<&Demographics>,
    d: &Demographics,
) -> Result<()> {
    let new = serde_json::to_value(d)?;
    let old = before.map(serde_json::to_value).transpose()?;
    let serde_json::Value::Object(fields) = new else {
        return Err(Error::Document(
            "demographics did not serialise to an object".into(),
        ));
    };
    for (field, value) in fields {
        let unchanged = old.as_ref().and_then(|o| o.get(&field)) == Some(&value);
        if !unchanged {
            layout::put_json(doc, &format!("{DEMOGRAPHICS}.{field}"), &value)?;
        }
    }
    Ok(())
}
