//! The outreach report (issue 14, docs/outreach.md), sans-IO: over the advice records of some
//! clients, rows per client, per case worker, per team, per category and per month, and a total.
//!
//! - A client is *seen* in a period when any advice entry (need, action, outcome, status change,
//!   referral out, an attended appointment) of theirs is dated in it: clients are counted by
//!   contact date. A missed or cancelled appointment is not a contact.
//! - Money is counted by outcome date, under the worker who recorded the outcome, the client's
//!   team and the category of the outcome's need (`other` when the need is not on record).
//! - Dates are Europe/London days of the entry's author time (docs/decisions/0007); the period is
//!   inclusive at both ends.
//! - Every entry counts once however often it is seen: the same client given twice (two copies
//!   of a document, a merge seen from two phones) is one client, an outcome one outcome, by id.
//!   Entries marked entered in error are left out.
//! - Columns: income gained is recurring income annualised; debt written off; one-off gains are
//!   grants and one-off income (arrears, the first release's untyped gains); the total is those
//!   three. Costs avoided (annualised) and debt rescheduled are shown apart, never in the total.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::outreach::{FinancialEffect, FinancialEffectKind, OutreachError, CATEGORY_LIST_VERSION};
use super::read::AdviceRecord;
use super::schedule::local_date;
use super::AdviceCategory;
use super::Author;

/// One client's advice record, as the report reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OutreachClient {
    pub person_id: String,
    /// How the client's row is labelled (a name where the reader may see it); the id otherwise.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub name: Option<String>,
    /// The team whose caseload the client is (or was) on.
    pub team: String,
    pub advice: AdviceRecord,
}

/// What a row is a row of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ReportGrouping {
    Total,
    Team,
    CaseWorker,
    Category,
    Month,
    Client,
}

impl ReportGrouping {
    pub const ALL: [ReportGrouping; 6] = [
        ReportGrouping::Total,
        ReportGrouping::Team,
        ReportGrouping::CaseWorker,
        ReportGrouping::Category,
        ReportGrouping::Month,
        ReportGrouping::Client,
    ];

    pub fn label(&self) -> &'static str {
        match self {
            ReportGrouping::Total => "total",
            ReportGrouping::Team => "team",
            ReportGrouping::CaseWorker => "case worker",
            ReportGrouping::Category => "category",
            ReportGrouping::Month => "month",
            ReportGrouping::Client => "client",
        }
    }
}

/// One row of the report. Money is in pence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OutreachRow {
    pub grouping: Option<ReportGrouping>,
    /// The team id, worker's user id, category code, month ("2026-11") or person id.
    pub key: String,
    pub label: String,
    pub clients_seen: u32,
    pub needs_recorded: u32,
    /// Needs recorded per client seen (0 with no client seen).
    pub needs_per_client: f64,
    pub outcomes: u32,
    pub income_gained_annual_pence: i64,
    pub debt_written_off_pence: i64,
    pub one_off_gains_pence: i64,
    /// Income annualised + debt written off + one-off gains.
    pub total_gain_pence: i64,
    /// Shown apart: not in the total.
    pub costs_avoided_pence: i64,
    /// Shown apart: not in the total.
    pub debt_rescheduled_pence: i64,
}

/// The report over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OutreachReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub category_list_version: u32,
    /// The total first, then teams, case workers, categories, months and clients, each sorted
    /// by key.
    pub rows: Vec<OutreachRow>,
}

impl OutreachReport {
    pub fn total(&self) -> Option<&OutreachRow> {
        self.rows_of(ReportGrouping::Total).next()
    }

    pub fn rows_of(&self, g: ReportGrouping) -> impl Iterator<Item = &OutreachRow> {
        self.rows.iter().filter(move |r| r.grouping == Some(g))
    }

    pub fn row(&self, g: ReportGrouping, key: &str) -> Option<&OutreachRow> {
        self.rows_of(g).find(|r| r.key == key)
    }
}

/// Something dated that a client did with the service.
struct Fact<'a> {
    client: usize,
    author: &'a Author,
    category: AdviceCategory,
    date: NaiveDate,
    what: What,
}

enum What {
    Contact,
    Need,
    Outcome(FinancialEffect),
}

/// One client after merging every copy of them given.
#[derive(Default)]
struct Client<'a> {
    person_id: &'a str,
    name: Option<&'a str>,
    team: &'a str,
}

/// The report over `clients` for the days `from` to `to` inclusive.
pub fn outreach_report(
    clients: &[OutreachClient],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<OutreachReport, OutreachError> {
    if to < from {
        return Err(OutreachError::PeriodBackwards { from, to });
    }
    let (people, facts) = facts(clients, from, to);
    let mut rows = Vec::new();
    for g in ReportGrouping::ALL {
        rows.extend(group(g, &people, &facts));
    }
    Ok(OutreachReport {
        from,
        to,
        category_list_version: CATEGORY_LIST_VERSION,
        rows,
    })
}

/// Every entry of every client once, dated within the period.
fn facts<'a>(
    clients: &'a [OutreachClient],
    from: NaiveDate,
    to: NaiveDate,
) -> (Vec<Client<'a>>, Vec<Fact<'a>>) {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut people: Vec<Client<'a>> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for c in clients {
        let i = *index.entry(&c.person_id).or_insert_with(|| {
            people.push(Client {
                person_id: &c.person_id,
                name: c.name.as_deref(),
                team: &c.team,
            });
            people.len() - 1
        });
        let a = &c.advice;
        let void: HashSet<&str> = a.entered_in_error.iter().map(|m| &*m.entry_id).collect();
        let category: BTreeMap<&str, AdviceCategory> =
            a.needs.iter().map(|n| (&*n.id, n.category)).collect();
        let cat = |need_id: &str| {
            category
                .get(need_id)
                .copied()
                .unwrap_or(AdviceCategory::Other)
        };
        let mut add = |id: &'a str, author: &'a Author, category, what| {
            let date = local_date(author.at);
            if void.contains(id) || date < from || date > to || !seen.insert(id) {
                return;
            }
            out.push(Fact {
                client: i,
                author,
                category,
                date,
                what,
            });
        };
        for n in &a.needs {
            add(&n.id, &n.author, n.category, What::Need);
        }
        for o in &a.outcomes {
            add(
                &o.id,
                &o.author,
                cat(&o.need_id),
                What::Outcome(o.financial_effect()),
            );
        }
        for x in &a.actions {
            add(&x.id, &x.author, cat(&x.need_id), What::Contact);
        }
        for s in &a.need_status_changes {
            add(&s.id, &s.author, cat(&s.need_id), What::Contact);
        }
        for r in &a.referrals_out {
            add(&r.id, &r.author, cat(&r.need_id), What::Contact);
        }
        // An attended appointment is a contact, on the day its attendance was recorded; a
        // missed or cancelled one is not.
        for o in &a.appointment_outcomes {
            if o.attendance != super::appointments::Attendance::Attended {
                continue;
            }
            let need = a
                .appointments
                .iter()
                .find(|x| x.id == o.appointment_id)
                .and_then(|x| x.need_ids.first());
            let category = need.map_or(AdviceCategory::Other, |n| cat(n));
            add(&o.id, &o.author, category, What::Contact);
        }
    }
    (people, out)
}

/// The key and label of the row a fact falls in.
fn row_of(g: ReportGrouping, c: &Client<'_>, f: &Fact<'_>) -> (String, String) {
    match g {
        ReportGrouping::Total => ("all".into(), "All clients".into()),
        ReportGrouping::Team => (c.team.to_string(), c.team.to_string()),
        ReportGrouping::CaseWorker => (f.author.user_id.clone(), f.author.display_name.clone()),
        ReportGrouping::Category => (f.category.code().into(), f.category.label().into()),
        ReportGrouping::Month => {
            let m = f.date.format("%Y-%m").to_string();
            (m.clone(), m)
        }
        ReportGrouping::Client => (
            c.person_id.to_string(),
            c.name.unwrap_or(c.person_id).to_string(),
        ),
    }
}

fn group(g: ReportGrouping, people: &[Client<'_>], facts: &[Fact<'_>]) -> Vec<OutreachRow> {
    let mut rows: BTreeMap<String, (OutreachRow, BTreeSet<usize>)> = BTreeMap::new();
    for f in facts {
        let Some(c) = people.get(f.client) else {
            continue;
        };
        let (key, label) = row_of(g, c, f);
        let (row, seen) = rows.entry(key.clone()).or_insert_with(|| {
            let row = OutreachRow {
                grouping: Some(g),
                key,
                label,
                ..OutreachRow::default()
            };
            (row, BTreeSet::new())
        });
        seen.insert(f.client);
        match &f.what {
            What::Contact => {}
            What::Need => row.needs_recorded += 1,
            What::Outcome(e) => add_money(row, e),
        }
    }
    rows.into_values()
        .map(|(mut row, seen)| {
            row.clients_seen = u32::try_from(seen.len()).unwrap_or(u32::MAX);
            row.needs_per_client = if seen.is_empty() {
                0.0
            } else {
                f64::from(row.needs_recorded) / seen.len() as f64
            };
            row.total_gain_pence = row
                .income_gained_annual_pence
                .saturating_add(row.debt_written_off_pence)
                .saturating_add(row.one_off_gains_pence);
            row
        })
        .collect()
}

fn add_money(row: &mut OutreachRow, e: &FinancialEffect) {
    row.outcomes += 1;
    let amount = e.annual_pence();
    let column = match (e.kind, e.period) {
        (FinancialEffectKind::IncomeGained, Some(_)) => &mut row.income_gained_annual_pence,
        (FinancialEffectKind::IncomeGained, None) | (FinancialEffectKind::GrantOrOneOff, _) => {
            &mut row.one_off_gains_pence
        }
        (FinancialEffectKind::DebtWrittenOff, _) => &mut row.debt_written_off_pence,
        (FinancialEffectKind::CostsAvoided, _) => &mut row.costs_avoided_pence,
        (FinancialEffectKind::DebtRescheduled, _) => &mut row.debt_rescheduled_pence,
    };
    *column = column.saturating_add(amount);
}

#[cfg(test)]
mod tests;
