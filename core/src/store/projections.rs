//! Projections: plain tables that serve the lists a nurse opens (caseload, today's visits,
//! alerts, search). They are derived from the documents and can always be rebuilt from them;
//! the same row-writing functions serve the incremental path (one write) and the rebuild.
//!
//! The caseload summary of a person (last visit, earliest outstanding planned visit, latest
//! NEWS2) lives in their `people` row, so the caseload is one scan of one small table and a
//! recorded visit touches one projection row.

use rusqlite::{params, Transaction};

use chrono::{DateTime, Utc};

use crate::clinical::news2::ClinicalRisk;
use crate::error::Result;
use crate::record::edit::Delta;
use crate::record::{Alert, ClinicalRecord, Demographics, PlannedVisit};

/// Apply an edit's projection deltas (`record::edit`) to the rows of `person_id`.
pub fn apply(tx: &Transaction<'_>, person_id: &str, deltas: &[Delta]) -> Result<()> {
    for d in deltas {
        match d {
            Delta::Person(d) => upsert_person(tx, person_id, d)?,
            Delta::Planned(p) => insert_planned(tx, person_id, p, false, false)?,
            Delta::Visit {
                started_at,
                fulfils,
            } => {
                note_visit(tx, person_id, *started_at)?;
                if let Some(p) = fulfils {
                    mark_planned_completed(tx, person_id, p)?;
                }
            }
            Delta::News2 {
                observations_id,
                taken_at,
                total,
                risk,
            } => note_news2(
                tx,
                person_id,
                &News2Row {
                    observations_id,
                    taken_at: *taken_at,
                    total: *total,
                    risk: *risk,
                    assumed: None,
                },
            )?,
            Delta::Alerts(alerts) => replace_alerts(tx, person_id, alerts)?,
            Delta::Clinical(c) => replace_clinical(tx, person_id, c)?,
            Delta::ScheduledVisitDone {
                visit_ref,
                origin_date,
                done,
            } => super::day::insert_done(tx, person_id, visit_ref, *origin_date, done)?,
            Delta::Advice(r) => super::day::advice::replace_rows(tx, person_id, r)?,
            Delta::Referrals(v) => super::referrals::replace_rows(tx, person_id, v)?,
            Delta::Duplicates(v) => super::duplicates::replace_rows(tx, person_id, v)?,
        }
    }
    Ok(())
}

pub fn upsert_person(tx: &Transaction<'_>, person_id: &str, d: &Demographics) -> Result<()> {
    let name_key = format!(
        " {} {} {}",
        d.family_name.to_lowercase(),
        d.given_name.to_lowercase(),
        d.preferred_name.as_deref().unwrap_or("").to_lowercase()
    );
    let postcode = d
        .address
        .as_ref()
        .map(|a| a.postcode.clone())
        .filter(|p| !p.is_empty());
    let postcode_key = postcode.as_ref().map(|p| p.replace(' ', ""));
    let address = d.address.as_ref().map(|a| {
        let mut parts = a.lines.clone();
        if !a.postcode.is_empty() {
            parts.push(a.postcode.clone());
        }
        parts.join(", ")
    });
    tx.prepare_cached(
        "INSERT INTO people (person_id, nhs_number, given_name, family_name, display_name, name_key,
                             date_of_birth, postcode, postcode_key, address, phone, access_notes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (person_id) DO UPDATE SET
           nhs_number = excluded.nhs_number, given_name = excluded.given_name,
           family_name = excluded.family_name, display_name = excluded.display_name,
           name_key = excluded.name_key, date_of_birth = excluded.date_of_birth,
           postcode = excluded.postcode, postcode_key = excluded.postcode_key,
           address = excluded.address, phone = excluded.phone, access_notes = excluded.access_notes",
    )?
    .execute(params![
        person_id,
        d.nhs_number,
        d.given_name,
        d.family_name,
        d.display_name(),
        name_key,
        d.date_of_birth.map(|d| d.to_string()),
        postcode,
        postcode_key,
        address,
        d.phone,
        d.access_notes,
    ])?;
    Ok(())
}

pub fn replace_alerts(tx: &Transaction<'_>, person_id: &str, alerts: &[Alert]) -> Result<()> {
    tx.prepare_cached("DELETE FROM alerts WHERE person_id = ?1")?
        .execute([person_id])?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO alerts (person_id, kind, summary, active, in_conflict) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for a in alerts {
        let summary = a
            .values
            .iter()
            .map(|v| v.text.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        let active = a.values.iter().any(|v| v.active);
        ins.execute(params![
            person_id,
            a.kind.as_str(),
            summary,
            active,
            a.in_conflict
        ])?;
    }
    Ok(())
}

pub fn insert_planned(
    tx: &Transaction<'_>,
    person_id: &str,
    p: &PlannedVisit,
    completed: bool,
    entered_in_error: bool,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO planned_visits (visit_id, person_id, starts_at, clinician, contact_type,
                                                completed, entered_in_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        p.id,
        person_id,
        p.planned_start.timestamp_millis(),
        p.clinician,
        serde_plain(&p.contact_type),
        completed,
        entered_in_error
    ])?;
    refresh_next_visit(tx, person_id)
}

/// A recorded visit fulfils its planned visit.
fn mark_planned_completed(
    tx: &Transaction<'_>,
    person_id: &str,
    planned_visit_id: &str,
) -> Result<()> {
    let n = tx
        .prepare_cached(
            "UPDATE planned_visits SET completed = 1 WHERE visit_id = ?1 AND completed = 0",
        )?
        .execute([planned_visit_id])?;
    if n > 0 {
        refresh_next_visit(tx, person_id)?;
    }
    Ok(())
}

/// The person's earliest planned visit not yet done (in the past: overdue).
fn refresh_next_visit(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE people SET next_visit_at =
           (SELECT min(starts_at) FROM planned_visits
             WHERE person_id = ?1 AND completed = 0 AND entered_in_error = 0)
         WHERE person_id = ?1",
    )?
    .execute([person_id])?;
    Ok(())
}

/// A new visit (not entered in error) may be the person's latest.
fn note_visit(tx: &Transaction<'_>, person_id: &str, started_at: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached(
        "UPDATE people SET last_visit_at = ?2
         WHERE person_id = ?1 AND (last_visit_at IS NULL OR last_visit_at < ?2)",
    )?
    .execute(params![person_id, started_at.timestamp_millis()])?;
    Ok(())
}

/// A scored set, as the person's row keeps their latest.
struct News2Row<'a> {
    observations_id: &'a str,
    taken_at: DateTime<Utc>,
    total: Option<u8>,
    risk: Option<ClinicalRisk>,
    /// "assumed on air, alert" for a home-monitoring set.
    assumed: Option<String>,
}

/// A new observation set (not entered in error) may be the person's latest NEWS2; the latest is
/// the greatest (time taken, id).
fn note_news2(tx: &Transaction<'_>, person_id: &str, n: &News2Row<'_>) -> Result<()> {
    tx.prepare_cached(
        "UPDATE people SET news2_total = ?2, news2_risk = ?3, news2_at = ?4, news2_obs_id = ?5,
                           news2_assumed = ?6
         WHERE person_id = ?1
           AND (news2_at IS NULL OR news2_at < ?4 OR (news2_at = ?4 AND news2_obs_id <= ?5))",
    )?
    .execute(params![
        person_id,
        n.total,
        n.risk.map(|r| r.label()),
        n.taken_at.timestamp_millis(),
        n.observations_id,
        n.assumed,
    ])?;
    Ok(())
}

pub fn clear_clinical_summary(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE people SET last_visit_at = NULL, next_visit_at = NULL, news2_total = NULL,
                           news2_risk = NULL, news2_at = NULL, news2_obs_id = NULL,
                           news2_assumed = NULL
         WHERE person_id = ?1",
    )?
    .execute([person_id])?;
    Ok(())
}

/// Throw away and re-derive every projection row of one person from their documents.
pub fn replace_person(
    tx: &Transaction<'_>,
    person_id: &str,
    demographics: Option<&Demographics>,
    clinical: Option<&ClinicalRecord>,
) -> Result<()> {
    tx.prepare_cached("DELETE FROM people WHERE person_id = ?1")?
        .execute([person_id])?;
    if let Some(d) = demographics {
        upsert_person(tx, person_id, d)?;
    }
    match clinical {
        Some(c) => replace_clinical(tx, person_id, c),
        None => {
            for table in ["alerts", "planned_visits"] {
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE person_id = ?1"))?
                    .execute([person_id])?;
            }
            super::ward::delete_rows(tx, person_id)?;
            super::day::delete_rows(tx, person_id)
        }
    }
}

/// Re-derive the alert and planned-visit rows and the caseload summary of one person from their
/// clinical record.
pub fn replace_clinical(tx: &Transaction<'_>, person_id: &str, c: &ClinicalRecord) -> Result<()> {
    tx.prepare_cached("DELETE FROM planned_visits WHERE person_id = ?1")?
        .execute([person_id])?;
    clear_clinical_summary(tx, person_id)?;
    replace_alerts(tx, person_id, &c.alerts)?;
    for p in &c.planned_visits {
        let completed = c.visits.iter().any(|v| {
            v.planned_visit_id.as_deref() == Some(p.id.as_str()) && !c.is_entered_in_error(&v.id)
        });
        insert_planned(tx, person_id, p, completed, c.is_entered_in_error(&p.id))?;
    }
    // The summary's latest visit and NEWS2, worked out here: one update each, not one per entry.
    let last_visit = c
        .visits
        .iter()
        .filter(|v| !c.is_entered_in_error(&v.id))
        .map(|v| v.started_at)
        .max();
    if let Some(at) = last_visit {
        note_visit(tx, person_id, at)?;
    }
    let latest = c
        .observations
        .iter()
        .filter(|o| !c.is_entered_in_error(&o.id))
        .max_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)));
    if let Some(o) = latest {
        note_news2(
            tx,
            person_id,
            &News2Row {
                observations_id: &o.id,
                taken_at: o.taken_at,
                total: o.news2.total,
                risk: o.news2.risk,
                assumed: o.assumed_words(),
            },
        )?;
    }
    super::day::replace_rows(tx, person_id, c)?;
    super::ward::replace_rows(tx, person_id, c)?;
    refresh_next_visit(tx, person_id)
}

/// The serde name of a unit enum variant ("home_visit").
pub fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
