//! The virtual ward on the device (issue 13, docs/virtual-ward.md): admissions, discharges and
//! escalation events (each one `record::ward` / `record::escalation` edit run by
//! [`FieldStore::write`]), their projection rows (`ward_stays`, `escalations`, derived from the
//! clinical documents with the others), the ward census, open escalations and a person's trends.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, Transaction};
use serde::{Deserialize, Serialize};

use super::projections::serde_plain;
use super::{now, FieldStore, Writer};
use crate::clinical::escalation::EscalationBand;
use crate::clinical::news2::ClinicalRisk;
use crate::error::{Error, Result};
use crate::record::escalation::{self, Escalation, EscalationEvent, EscalationEventKind};
use crate::record::ward::{self, AdmissionInput, DischargeDestination, Trends};
use crate::record::{read, Service};
use crate::record::{ClinicalRecord, Compartment, Discharge, Episode};

pub use crate::record::ward::CensusEntry;

/// Who is on the virtual ward on a day: everyone this device holds (its team's caseload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WardCensus {
    pub day: NaiveDate,
    pub team: String,
    /// By family name.
    pub people: Vec<CensusEntry>,
    pub open_escalations: u32,
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Admit a person on this device to the virtual ward (step-up or step-down), with their
    /// personal parameters. An SpO2 target of 92 % or lower prescribes NEWS2 SpO2 scale 2.
    pub fn admit_to_ward(&self, person_id: &str, input: AdmissionInput) -> Result<Episode> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            ward::admit(doc, person_id, a, input)
        })
    }

    /// Discharge a person from their virtual-ward episode, to a destination.
    pub fn discharge_from_ward(
        &self,
        person_id: &str,
        episode_id: &str,
        on: NaiveDate,
        destination: DischargeDestination,
        reason: &str,
    ) -> Result<Discharge> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            ward::discharge(doc, person_id, a, episode_id, on, destination, reason)
        })
    }

    /// Everyone on the virtual ward today, with length of stay, latest NEWS2 and open
    /// escalations.
    pub fn ward_census(&self) -> Result<WardCensus> {
        self.ward_census_at(now())
    }

    /// The escalations of one person or (with `None`) the open ones of everyone on this
    /// device, highest band first, then newest.
    pub fn escalations(&self, person_id: Option<String>) -> Result<Vec<Escalation>> {
        let conn = self.reader()?;
        match person_id {
            Some(p) => {
                self.require_person(&conn, &p)?;
                let mut all = rows(&conn, "WHERE person_id = ?1", &p)?;
                all.sort_by(escalation::by_urgency);
                Ok(all)
            }
            None => open_escalations(&conn),
        }
    }

    /// Acknowledge an escalation: one acknowledgement counts (the earliest) even when two
    /// devices acknowledge at once; both are kept in its history.
    pub fn acknowledge_escalation(
        &self,
        person_id: &str,
        escalation_id: &str,
        note: Option<String>,
    ) -> Result<EscalationEvent> {
        self.escalation_event(
            person_id,
            escalation_id,
            EscalationEventKind::Acknowledged,
            note,
        )
    }

    /// Record an action taken on, or the outcome of (which closes), an acknowledged escalation.
    pub fn escalation_event(
        &self,
        person_id: &str,
        escalation_id: &str,
        kind: EscalationEventKind,
        note: Option<String>,
    ) -> Result<EscalationEvent> {
        self.write(person_id, Compartment::Clinical, |doc, a| {
            escalation::record_event(doc, person_id, a, escalation_id, kind, note)
        })
    }

    /// NEWS2 and each parameter over time, for a chart: sets taken in `[from, to)` (either
    /// open), entries marked entered in error left out.
    pub fn trends(
        &self,
        person_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Trends> {
        self.writing(|w| {
            self.require_person(&w.conn, person_id)?;
            let Writer { conn, docs } = w;
            let doc = &docs
                .get(conn, &(person_id.to_string(), Compartment::Clinical))?
                .doc;
            let record = read::clinical(person_id, doc)?;
            Ok(ward::trends(person_id, &record, from, to))
        })
    }
}

impl FieldStore {
    /// [`FieldStore::ward_census`] as it stands at `at` (tests and benchmarks).
    pub fn ward_census_at(&self, at: DateTime<Utc>) -> Result<WardCensus> {
        let day = ward::ward_day(at);
        let conn = self.reader()?;
        let people = census_rows(&conn, day)?;
        Ok(WardCensus {
            day,
            team: self.config.user.team.clone(),
            open_escalations: people.iter().map(|p| p.open_escalations).sum(),
            people,
        })
    }
}

// ---------------------------------------------------------------- projection rows

/// The tables of the ward's projections (for purge, wipe and rebuild).
pub(super) const TABLES: [&str; 2] = ["ward_stays", "escalations"];

pub(super) fn delete_rows(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    for t in TABLES {
        tx.prepare_cached(&format!("DELETE FROM {t} WHERE person_id = ?1"))?
            .execute([person_id])?;
    }
    Ok(())
}

/// Derive the ward's rows of one person again from their clinical record.
pub(super) fn replace_rows(
    tx: &Transaction<'_>,
    person_id: &str,
    c: &ClinicalRecord,
) -> Result<()> {
    delete_rows(tx, person_id)?;
    let mut stay = tx.prepare_cached(
        "INSERT INTO ward_stays (person_id, episode_id, admitted_on, discharged_on, pathway, route,
                                 clinician, expected_days)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for e in c.episodes.iter().filter(|e| !c.is_entered_in_error(&e.id)) {
        let Service::VirtualWard(pathway) = e.service else {
            continue;
        };
        let a = e.admission.as_ref();
        stay.execute(params![
            person_id,
            e.id,
            e.accepted_on.to_string(),
            e.discharged_on.map(|d| d.to_string()),
            serde_plain(&pathway),
            a.map(|a| serde_plain(&a.route)),
            a.map(|a| a.responsible_clinician.as_str()),
            a.map(|a| a.expected_length_of_stay_days),
        ])?;
    }
    let mut esc = tx.prepare_cached(
        "INSERT INTO escalations (person_id, escalation_id, band, taken_at_ms, open, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in &c.escalations {
        esc.execute(params![
            person_id,
            e.id,
            e.band as i64,
            e.taken_at.timestamp_millis(),
            e.status.is_open(),
            serde_json::to_string(e)?,
        ])?;
    }
    Ok(())
}

fn rows(conn: &Connection, filter: &str, arg: &str) -> Result<Vec<Escalation>> {
    let sql = format!("SELECT body FROM escalations {filter}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let bodies = stmt
        .query_map([arg], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    bodies.iter().map(|b| decode(b)).collect()
}

/// A unit enum variant from its serde name, as `serde_plain` wrote it.
fn plain<T: serde::de::DeserializeOwned>(name: &str) -> Result<T> {
    decode(&serde_json::to_string(name)?)
}

fn decode<T: serde::de::DeserializeOwned>(body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| {
        Error::Storage(format!(
            "a ward projection row cannot be read ({e}): rebuild the projections"
        ))
    })
}

/// Every open escalation on the device, highest band first, then newest (the today list's).
pub(super) fn open_escalations(conn: &Connection) -> Result<Vec<Escalation>> {
    let mut stmt = conn.prepare_cached(
        "SELECT body FROM escalations WHERE open = 1 ORDER BY band, taken_at_ms DESC, escalation_id",
    )?;
    let bodies = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    bodies.iter().map(|b| decode(b)).collect()
}

fn census_rows(conn: &Connection, day: NaiveDate) -> Result<Vec<CensusEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT w.person_id, w.episode_id, w.admitted_on, w.pathway, w.route, w.clinician,
                w.expected_days, p.display_name, p.news2_total, p.news2_risk, p.news2_at,
                coalesce(e.n, 0), e.band, p.news2_assumed
         FROM ward_stays w
         JOIN people p ON p.person_id = w.person_id
         LEFT JOIN (SELECT person_id, count(*) AS n, min(band) AS band FROM escalations
                    WHERE open = 1 GROUP BY person_id) e ON e.person_id = w.person_id
         WHERE w.discharged_on IS NULL AND w.admitted_on <= ?1
         ORDER BY p.family_name COLLATE NOCASE, p.given_name COLLATE NOCASE, w.person_id",
    )?;
    let raw = stmt
        .query_map([day.to_string()], |r| {
            Ok(RawCensus {
                person_id: r.get(0)?,
                episode_id: r.get(1)?,
                admitted_on: r.get(2)?,
                pathway: r.get(3)?,
                route: r.get(4)?,
                clinician: r.get(5)?,
                expected: r.get(6)?,
                display_name: r.get(7)?,
                news2: r.get(8)?,
                risk: r.get(9)?,
                news2_at: r.get(10)?,
                open: r.get(11)?,
                band: r.get(12)?,
                assumed: r.get(13)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raw.into_iter().map(|r| r.entry(day)).collect()
}

struct RawCensus {
    person_id: String,
    episode_id: String,
    admitted_on: String,
    pathway: String,
    route: Option<String>,
    clinician: Option<String>,
    expected: Option<u32>,
    display_name: String,
    news2: Option<u8>,
    risk: Option<String>,
    news2_at: Option<i64>,
    assumed: Option<String>,
    open: u32,
    band: Option<i64>,
}

impl RawCensus {
    fn entry(self, day: NaiveDate) -> Result<CensusEntry> {
        let admitted_on: NaiveDate = self.admitted_on.parse().map_err(|e| {
            Error::Storage(format!(
                "a ward projection row has an unreadable date ({e}): rebuild the projections"
            ))
        })?;
        let los = ward::length_of_stay(admitted_on, day);
        let expected = self.expected;
        Ok(CensusEntry {
            person_id: self.person_id,
            display_name: self.display_name,
            episode_id: self.episode_id,
            pathway: plain(&self.pathway)?,
            route: self.route.as_deref().map(plain).transpose()?,
            responsible_clinician: self.clinician,
            admitted_on,
            length_of_stay_days: los,
            expected_length_of_stay_days: expected,
            beyond_expected_stay: expected.is_some_and(|x| los > x),
            latest_news2: self.news2,
            latest_news2_risk: self.risk.as_deref().and_then(risk_of_label),
            latest_news2_at: self.news2_at.and_then(DateTime::from_timestamp_millis),
            latest_news2_assumed: self.assumed,
            open_escalations: self.open,
            highest_open_band: self.band.and_then(band_of),
        })
    }
}

fn risk_of_label(label: &str) -> Option<ClinicalRisk> {
    [
        ClinicalRisk::Low,
        ClinicalRisk::LowMedium,
        ClinicalRisk::Medium,
        ClinicalRisk::High,
    ]
    .into_iter()
    .find(|r| r.label() == label)
}

fn band_of(n: i64) -> Option<EscalationBand> {
    [
        EscalationBand::High,
        EscalationBand::Medium,
        EscalationBand::LowMedium,
        EscalationBand::PersonalParameter,
        EscalationBand::NoReadings,
    ]
    .into_iter()
    .find(|b| *b as i64 == n)
}

#[cfg(test)]
mod tests;
