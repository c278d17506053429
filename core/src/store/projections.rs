//! Projections: plain tables that serve the lists a nurse opens (caseload, today's visits,
//! alerts, search). They are derived from the documents and can always be rebuilt from them;
//! the same row-writing functions serve the incremental path (one write) and the rebuild.

use rusqlite::{params, Transaction};

use crate::error::Result;
use crate::record::{Alert, ClinicalRecord, Demographics, ObservationSet, PlannedVisit, Visit};

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
            a.in_conflict()
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
        "INSERT OR REPLACE INTO visits (visit_id, person_id, kind, planned_visit_id, starts_at, clinician,
                                        contact_type, outcome, completed, entered_in_error)
         VALUES (?1, ?2, 'planned', NULL, ?3, ?4, ?5, NULL, ?6, ?7)",
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
    Ok(())
}

pub fn insert_visit(
    tx: &Transaction<'_>,
    person_id: &str,
    v: &Visit,
    entered_in_error: bool,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO visits (visit_id, person_id, kind, planned_visit_id, starts_at, clinician,
                                        contact_type, outcome, completed, entered_in_error)
         VALUES (?1, ?2, 'recorded', ?3, ?4, ?5, ?6, ?7, 1, ?8)",
    )?
    .execute(params![
        v.id,
        person_id,
        v.planned_visit_id,
        v.started_at.timestamp_millis(),
        v.author.user_id,
        serde_plain(&v.contact_type),
        serde_plain(&v.outcome),
        entered_in_error
    ])?;
    Ok(())
}

/// A recorded visit fulfils its planned visit.
pub fn mark_planned_completed(tx: &Transaction<'_>, planned_visit_id: &str) -> Result<()> {
    tx.prepare_cached("UPDATE visits SET completed = 1 WHERE visit_id = ?1 AND kind = 'planned'")?
        .execute([planned_visit_id])?;
    Ok(())
}

pub fn insert_observations(
    tx: &Transaction<'_>,
    person_id: &str,
    o: &ObservationSet,
    entered_in_error: bool,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO observations (obs_id, person_id, taken_at, news2_total, news2_risk, entered_in_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        o.id,
        person_id,
        o.taken_at.timestamp_millis(),
        o.news2.total,
        o.news2.risk.map(|r| r.label()),
        entered_in_error
    ])?;
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
            for table in ["alerts", "visits", "observations"] {
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE person_id = ?1"))?
                    .execute([person_id])?;
            }
            Ok(())
        }
    }
}

/// Re-derive the alert, visit and observation rows of one person from their clinical record.
pub fn replace_clinical(tx: &Transaction<'_>, person_id: &str, c: &ClinicalRecord) -> Result<()> {
    for table in ["visits", "observations"] {
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE person_id = ?1"))?
            .execute([person_id])?;
    }
    replace_alerts(tx, person_id, &c.alerts)?;
    for p in &c.planned_visits {
        let completed = c.visits.iter().any(|v| {
            v.planned_visit_id.as_deref() == Some(p.id.as_str()) && !c.is_entered_in_error(&v.id)
        });
        insert_planned(tx, person_id, p, completed, c.is_entered_in_error(&p.id))?;
    }
    for v in &c.visits {
        insert_visit(tx, person_id, v, c.is_entered_in_error(&v.id))?;
    }
    for o in &c.observations {
        insert_observations(tx, person_id, o, c.is_entered_in_error(&o.id))?;
    }
    Ok(())
}

/// The serde name of a unit enum variant ("home_visit").
pub fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
