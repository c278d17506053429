//! The lists a nurse opens, read from the projections on the reader connection.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::clinical::nhs_number;
use crate::error::Result;
use crate::record::AlertKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AlertSummary {
    pub kind: AlertKind,
    pub summary: String,
    pub active: bool,
    /// True while concurrent values wait for a clinician to resolve them.
    pub in_conflict: bool,
}

/// One line of the caseload or of search results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CaseloadEntry {
    pub person_id: String,
    pub display_name: String,
    pub nhs_number: Option<String>,
    pub date_of_birth: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub access_notes: Option<String>,
    pub alerts: Vec<AlertSummary>,
    pub open_conflicts: u32,
    /// The earliest planned visit not yet done; in the past, it is overdue.
    #[cfg_attr(feature = "uniffi", uniffi(name = "next_visit_ms"))]
    pub next_visit: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "last_visit_ms"))]
    pub last_visit: Option<DateTime<Utc>>,
    pub latest_news2: Option<u8>,
    pub latest_news2_risk: Option<String>,
    /// "assumed on air, alert" when the latest NEWS2 is a home-monitoring set's that assumed
    /// air or oxygen and consciousness: shown beside the score.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub latest_news2_assumed: Option<String>,
}

/// A planned visit on a day's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PlannedVisitSummary {
    pub visit_id: String,
    pub person_id: String,
    pub display_name: String,
    pub address: Option<String>,
    #[cfg_attr(feature = "uniffi", uniffi(name = "planned_start_ms"))]
    pub planned_start: DateTime<Utc>,
    pub clinician: Option<String>,
    pub contact_type: String,
    pub completed: bool,
    pub alerts: Vec<AlertSummary>,
}

/// The caseload's order, for the whole list and its pages alike (`people_order` serves it).
const CASELOAD_ORDER: &str =
    "ORDER BY p.family_name COLLATE NOCASE, p.given_name COLLATE NOCASE, p.person_id";
/// Everyone but those held only because they are referred to the team (?1) and not yet accepted.
const ON_CASELOAD: &str = "p.person_id NOT IN (SELECT person_id FROM referrals WHERE to_team = ?1 AND status = 'pending')";

const ENTRY_SQL: &str = "
SELECT p.person_id, p.display_name, p.nhs_number, p.date_of_birth, p.address, p.postcode, p.access_notes,
       p.next_visit_at, p.last_visit_at, p.news2_total, p.news2_risk, p.news2_assumed
FROM people p";

fn ms(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| Utc.timestamp_millis_opt(t).single())
}

fn entries(
    conn: &Connection,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<CaseloadEntry>> {
    let sql = format!("{ENTRY_SQL} {where_sql} {CASELOAD_ORDER}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(args, |r| {
            Ok(CaseloadEntry {
                person_id: r.get(0)?,
                display_name: r.get(1)?,
                nhs_number: r.get(2)?,
                date_of_birth: r.get(3)?,
                address: r.get(4)?,
                postcode: r.get(5)?,
                access_notes: r.get(6)?,
                alerts: Vec::new(),
                open_conflicts: 0,
                next_visit: ms(r.get(7)?),
                last_visit: ms(r.get(8)?),
                latest_news2: r
                    .get::<_, Option<i64>>(9)?
                    .and_then(|n| u8::try_from(n).ok()),
                latest_news2_risk: r.get(10)?,
                latest_news2_assumed: r.get(11)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut rows = rows;
    attach_alerts(conn, &mut rows)?;
    Ok(rows)
}

fn all_alerts(conn: &Connection) -> Result<HashMap<String, Vec<AlertSummary>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person_id, kind, summary, active, in_conflict FROM alerts ORDER BY person_id, kind",
    )?;
    let mut map: HashMap<String, Vec<AlertSummary>> = HashMap::new();
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    for row in rows {
        let (person, kind, summary, active, in_conflict) = row?;
        if let Some(kind) = AlertKind::parse(&kind) {
            map.entry(person).or_default().push(AlertSummary {
                kind,
                summary,
                active,
                in_conflict,
            });
        }
    }
    Ok(map)
}

/// Every person's alerts (for the day lists).
pub(super) fn alerts_by_person(conn: &Connection) -> Result<HashMap<String, Vec<AlertSummary>>> {
    all_alerts(conn)
}

fn attach_alerts(conn: &Connection, rows: &mut [CaseloadEntry]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut alerts = all_alerts(conn)?;
    for row in rows {
        let a = alerts.remove(&row.person_id).unwrap_or_default();
        row.open_conflicts = a.iter().filter(|a| a.in_conflict).count() as u32;
        row.alerts = a;
    }
    Ok(())
}

/// Everyone on this device's caseload, by family name: not those held only because they are
/// referred to `team` and not yet accepted (`FieldStore::referrals` lists them).
pub fn caseload(conn: &Connection, team: &str) -> Result<Vec<CaseloadEntry>> {
    entries(conn, &format!("WHERE {ON_CASELOAD}"), &[&team])
}

/// People whose name starts with each word of `query`, whose NHS number starts with its digits,
/// or whose postcode starts with it (spaces and case ignored).
pub fn search(conn: &Connection, query: &str) -> Result<Vec<CaseloadEntry>> {
    let q = query.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(born) = date_of_birth(q) {
        return entries(conn, "WHERE p.date_of_birth = ?1", &[&born.to_string()]);
    }
    if let Some(phone) = phone_digits(q) {
        // A phone number (issue 14: advice clients often have no NHS number), whatever spaces,
        // dashes or brackets it was typed with, or the start of an NHS number.
        let nhs = format!("{}%", escape_like(&nhs_number::normalise(q)));
        if phone.len() < 7 {
            return entries(conn, "WHERE p.nhs_number LIKE ?1 ESCAPE '\\'", &[&nhs]);
        }
        let tel = format!("{}%", escape_like(&phone));
        let clause =
            format!("WHERE p.nhs_number LIKE ?1 ESCAPE '\\' OR {PHONE_KEY} LIKE ?2 ESCAPE '\\'");
        return entries(conn, &clause, &[&nhs, &tel]);
    }
    let postcode = format!("{}%", escape_like(&q.replace(' ', "").to_uppercase()));
    // Each word must begin some part of the name (name_key is " family given preferred").
    let words: Vec<String> = q
        .split_whitespace()
        .take(4)
        .map(|w| format!("% {}%", escape_like(&w.to_lowercase())))
        .collect();
    let mut clause = String::from("WHERE (p.postcode_key LIKE ?1 ESCAPE '\\') OR (");
    for i in 0..words.len() {
        if i > 0 {
            clause.push_str(" AND ");
        }
        clause.push_str(&format!("p.name_key LIKE ?{} ESCAPE '\\'", i + 2));
    }
    clause.push(')');
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![&postcode];
    for w in &words {
        args.push(w);
    }
    entries(conn, &clause, &args)
}

/// The person's phone as digits, a leading +44 read as 0.
const PHONE_KEY: &str = "replace(replace(replace(replace(replace(coalesce(p.phone, ''), ' ', ''), '-', ''), '(', ''), ')', ''), '+44', '0')";

/// A query that is a date of birth: 1941-03-02, 02/03/1941, 2-3-1941 or 02.03.1941.
fn date_of_birth(q: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(q, f).ok())
}

/// A query of at least three digits (spaces, dashes, brackets and a leading +44 aside), as the
/// digits of a UK number.
fn phone_digits(q: &str) -> Option<String> {
    let (prefix, rest) = match q.strip_prefix("+44") {
        Some(rest) => ("0", rest),
        None => ("", q),
    };
    let body: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let ok = body.len() >= 3 && body.chars().all(|c| c.is_ascii_digit());
    ok.then(|| format!("{prefix}{body}"))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The planned visits of one day (UTC), in time order, with the person's alerts.
pub fn planned_visits(conn: &Connection, day: NaiveDate) -> Result<Vec<PlannedVisitSummary>> {
    let start = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0);
    let end = start + 24 * 3600 * 1000;
    let mut stmt = conn.prepare_cached(
        "SELECT v.visit_id, v.person_id, coalesce(p.display_name, '(details not yet synced)'), p.address,
                v.starts_at, v.clinician, v.contact_type, v.completed
         FROM planned_visits v LEFT JOIN people p ON p.person_id = v.person_id
         WHERE v.entered_in_error = 0 AND v.starts_at >= ?1 AND v.starts_at < ?2
         ORDER BY v.starts_at, v.visit_id",
    )?;
    let mut rows = stmt
        .query_map(params![start, end], |r| {
            Ok(PlannedVisitSummary {
                visit_id: r.get(0)?,
                person_id: r.get(1)?,
                display_name: r.get(2)?,
                address: r.get(3)?,
                planned_start: ms(Some(r.get(4)?)).unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
                clinician: r.get(5)?,
                contact_type: r.get(6)?,
                completed: r.get(7)?,
                alerts: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if !rows.is_empty() {
        let alerts = all_alerts(conn)?;
        for row in &mut rows {
            row.alerts = alerts.get(&row.person_id).cloned().unwrap_or_default();
        }
    }
    Ok(rows)
}

/// A stable dump of every projection table, for checking that projections equal a rebuild.
pub fn dump(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (table, order) in [
        ("people", "person_id"),
        ("alerts", "person_id, kind"),
        ("planned_visits", "visit_id"),
        ("plan_interventions", "person_id, intervention_id"),
        ("visit_exceptions", "person_id, visit_ref, kind, entry_id"),
        ("field_conflicts", "person_id, conflict_id"),
        ("plan_reviews", "person_id"),
        ("tasks", "person_id, task_id"),
        ("ward_stays", "person_id, episode_id"),
        ("escalations", "person_id, escalation_id"),
        ("advice_appointments", "person_id, appointment_id"),
        ("advice_tasks", "person_id, task_id"),
        ("referrals", "person_id, referral_id"),
        ("duplicates", "person_id, duplicate_id"),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
        let cols = stmt.column_count();
        let rows = stmt.query_map([], |r| {
            let mut s = format!("{table}:");
            for i in 0..cols {
                let v: rusqlite::types::Value = r.get(i)?;
                s.push_str(&format!("{v:?}|"));
            }
            Ok(s)
        })?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

/// Changes of `person_id` that the server noted were written by a phone with a wrong clock:
/// hash (hex) → when the server received them.
pub fn clock_notes(conn: &Connection, person_id: &str) -> Result<HashMap<String, DateTime<Utc>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT hash, server_received_ms FROM changes
         WHERE person_id = ?1 AND server_received_ms IS NOT NULL",
    )?;
    let rows = stmt.query_map([person_id], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (hash, received) = row?;
        if let Some(at) = ms(Some(received)) {
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            out.insert(hex, at);
        }
    }
    Ok(out)
}

/// Where a caseload page starts: the sort key of the last row already shown (family name,
/// given name, person id, as the list is ordered). A key, not an offset: people added, removed
/// or renamed before it while the list is on screen do not shift the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CaseloadCursor {
    pub family_name: String,
    pub given_name: String,
    pub person_id: String,
}

/// One line of the caseload screen, and only what the line shows; the person's full entry is
/// `FieldStore::patient`. Alerts are never left off: every alert that is active or in conflict
/// is named by its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CaseloadRow {
    pub person_id: String,
    pub display_name: String,
    pub postcode: Option<String>,
    /// The earliest planned visit not yet done; in the past, it is overdue.
    #[cfg_attr(feature = "uniffi", uniffi(name = "next_visit_ms"))]
    pub next_visit: Option<DateTime<Utc>>,
    pub latest_news2: Option<u8>,
    pub latest_news2_risk: Option<String>,
    /// "assumed on air, alert" when the latest NEWS2 assumed them: shown beside the score.
    pub latest_news2_assumed: Option<String>,
    /// Kinds of the alerts that are active or in conflict, in a fixed order.
    pub alerts: Vec<AlertKind>,
    pub open_conflicts: u32,
}

/// A screenful of the caseload and where the next one starts (none: this was the last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CaseloadPage {
    pub rows: Vec<CaseloadRow>,
    pub next: Option<CaseloadCursor>,
}

/// The most rows one caseload page holds.
pub const MAX_CASELOAD_PAGE: u32 = 500;
/// The longest name or id a cursor may carry (longer ones were never written by the store).
const MAX_CURSOR_PART: usize = 1_000;

const ROW_SQL: &str = "
SELECT p.person_id, p.display_name, p.postcode, p.next_visit_at, p.news2_total, p.news2_risk,
       p.news2_assumed, p.family_name, p.given_name,
       (SELECT group_concat(a.kind, ' ') FROM alerts a
         WHERE a.person_id = p.person_id AND (a.active = 1 OR a.in_conflict = 1)),
       (SELECT count(*) FROM alerts a WHERE a.person_id = p.person_id AND a.in_conflict = 1)
FROM people p";
/// Rows after the cursor: the first term starts the index range at the cursor's family name
/// (SQLite does not seek on the row value by itself), the row value draws the line within it.
const AFTER_CURSOR: &str = "p.family_name COLLATE NOCASE >= ?3
    AND (p.family_name COLLATE NOCASE, p.given_name COLLATE NOCASE, p.person_id) > (?3, ?4, ?5)";

/// Up to `limit` caseload rows after `after` (from the start when none), in caseload order.
pub fn caseload_page(
    conn: &Connection,
    team: &str,
    after: Option<&CaseloadCursor>,
    limit: u32,
) -> Result<CaseloadPage> {
    check_page(after, limit)?;
    // One row more than asked for tells whether another page follows.
    let fetch = i64::from(limit) + 1;
    let mut rows = match after {
        None => {
            let sql = format!("{ROW_SQL} WHERE {ON_CASELOAD} {CASELOAD_ORDER} LIMIT ?2");
            page_rows(conn, &sql, params![team, fetch])?
        }
        Some(c) => {
            let sql = format!(
                "{ROW_SQL} WHERE {ON_CASELOAD} AND {AFTER_CURSOR} {CASELOAD_ORDER} LIMIT ?2"
            );
            page_rows(
                conn,
                &sql,
                params![team, fetch, c.family_name, c.given_name, c.person_id],
            )?
        }
    };
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|(_, c)| c.clone())
    } else {
        None
    };
    Ok(CaseloadPage {
        rows: rows.into_iter().map(|(r, _)| r).collect(),
        next,
    })
}

fn check_page(after: Option<&CaseloadCursor>, limit: u32) -> Result<()> {
    use crate::error::ValidationError;
    if limit == 0 || limit > MAX_CASELOAD_PAGE {
        return Err(ValidationError::Invalid {
            field: "limit",
            reason: format!("{limit} rows: ask for 1 to {MAX_CASELOAD_PAGE}"),
        }
        .into());
    }
    if let Some(c) = after {
        let longest = [&c.family_name, &c.given_name, &c.person_id]
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0);
        if longest > MAX_CURSOR_PART {
            return Err(ValidationError::Invalid {
                field: "after",
                reason: format!(
                    "a cursor part of {longest} characters; pass the `next` of the page before"
                ),
            }
            .into());
        }
    }
    Ok(())
}

fn page_rows(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<(CaseloadRow, CaseloadCursor)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(args, |r| {
            let person_id: String = r.get(0)?;
            let kinds: Option<String> = r.get(9)?;
            let row = CaseloadRow {
                person_id: person_id.clone(),
                display_name: r.get(1)?,
                postcode: r.get(2)?,
                next_visit: ms(r.get(3)?),
                latest_news2: r
                    .get::<_, Option<i64>>(4)?
                    .and_then(|n| u8::try_from(n).ok()),
                latest_news2_risk: r.get(5)?,
                latest_news2_assumed: r.get(6)?,
                alerts: alert_kinds(kinds.as_deref()),
                open_conflicts: u32::try_from(r.get::<_, i64>(10)?).unwrap_or(u32::MAX),
            };
            let cursor = CaseloadCursor {
                family_name: r.get(7)?,
                given_name: r.get(8)?,
                person_id,
            };
            Ok((row, cursor))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The alert kinds of a `group_concat`, in the order `AlertKind` declares them.
fn alert_kinds(joined: Option<&str>) -> Vec<AlertKind> {
    let mut kinds: Vec<AlertKind> = joined
        .unwrap_or("")
        .split(' ')
        .filter_map(AlertKind::parse)
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    /// A page after a cursor seeks to it through `people_order`, rather than walking the list
    /// from the top (a page from the end of a long caseload would cost the whole list).
    #[test]
    fn a_caseload_page_seeks_to_its_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        crate::store::schema::migrate(&mut conn, &path).unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN {} WHERE {} AND {} {} LIMIT ?2",
            super::ROW_SQL,
            super::ON_CASELOAD,
            super::AFTER_CURSOR,
            super::CASELOAD_ORDER
        );
        let mut st = conn.prepare(&sql).unwrap();
        let plan: Vec<String> = st
            .query_map(rusqlite::params!["t", 21, "a", "b", "c"], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH p USING INDEX people_order (family_name>?)")),
            "{plan:?}"
        );
    }
}
