//! The ward watch (issue 13, item 3; docs/virtual-ward.md, "Re-alerts and no readings"): a
//! round every [`WatchConfig::every`] in which this server process writes, as its own
//! principal, what the record's rules (`doorstep_core::record::watch`) say is due: re-alerts of
//! escalations nobody has acknowledged, and a "no readings" escalation for a monitored person
//! whose devices have gone quiet.
//!
//! Everything a round decides comes from the database: who is on a caseload and who has a
//! registered monitor (with their latest reading), and each person's clinical document as the
//! log holds it. A round first reads, person by person, without the write lock; only someone
//! with something due is written, in a write transaction of their own that works out what is
//! due again from the document as the lock sees it. Write transactions are serialised across
//! every process (SQLite's one writer, PostgreSQL's counter row lock taken first), and ids come
//! from the data, so two server processes never re-alert the same escalation twice.
//!
//! One person's failure is logged and counted and does not stop the round; a failed round is
//! tried again at the next.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use doorstep_core::record::watch::{self, WatchRules, Watched};
use doorstep_core::record::{read, ward, Compartment};

use crate::authored;
use crate::error::{Result, ServerError};
use crate::http::App;

/// How often the watch runs and what it looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchConfig {
    /// Time between rounds; zero turns the watch off (then nothing re-alerts: say so to teams).
    pub every: std::time::Duration,
    pub rules: WatchRules,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            every: std::time::Duration::from_secs(60),
            rules: WatchRules::default(),
        }
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    /// People looked at: everyone on a caseload or with a registered monitor.
    pub people: usize,
    pub realerts: u64,
    pub gaps: u64,
    /// People whose write failed this round (logged; tried again next round).
    pub failed: Vec<String>,
}

/// One round at `now`.
pub fn round(app: &App, now: DateTime<Utc>) -> Result<Round> {
    let (people, monitored) = app
        .storage
        .read(|tx| Ok((tx.current_people()?, tx.monitored_people()?)))?;
    let monitored: BTreeMap<String, Option<DateTime<Utc>>> = monitored
        .into_iter()
        .map(|(p, ms)| (p, ms.and_then(DateTime::from_timestamp_millis)))
        .collect();
    let everyone: BTreeSet<String> = people
        .into_iter()
        .chain(monitored.keys().cloned())
        .collect();
    let mut round = Round {
        people: everyone.len(),
        ..Round::default()
    };
    for person in &everyone {
        let last = monitored.get(person).copied();
        let outcome = is_due(app, person, now, last).and_then(|due| match due {
            true => write_due(app, person, now, last),
            false => Ok(None),
        });
        match outcome {
            Ok(Some(w)) => round.count(app, person, &w),
            Ok(None) => {}
            Err(e) => {
                app.metrics.watched("failed", 1);
                tracing::warn!(target: "doorstep::ward", person = %person, error = %e, "the ward watch could not look at or write for this person; it tries again next round");
                round.failed.push(person.clone());
            }
        }
    }
    Ok(round)
}

impl Round {
    fn count(&mut self, app: &App, person: &str, w: &Watched) {
        for r in &w.realerts {
            tracing::warn!(
                target: "doorstep::ward",
                event = "escalation_realerted",
                person = %person,
                escalation = %r.escalation_id,
                number = r.number,
                unacknowledged_minutes = r.unacknowledged_minutes,
                "an escalation has not been acknowledged: re-alerted"
            );
        }
        if let Some(g) = &w.gap {
            tracing::warn!(
                target: "doorstep::ward",
                event = "no_readings",
                person = %person,
                silent_minutes = g.silent_minutes(),
                "a monitored person's devices have sent no readings: escalated"
            );
        }
        let gaps = u64::from(w.gap.is_some());
        self.realerts += w.realerts.len() as u64;
        self.gaps += gaps;
        app.metrics.watched("realert", w.realerts.len() as u64);
        app.metrics.watched("no_readings", gaps);
    }
}

/// Whether anything is due for this person, from their document as the log holds it (no write
/// lock taken).
fn is_due(
    app: &App,
    person: &str,
    now: DateTime<Utc>,
    last: Option<Option<DateTime<Utc>>>,
) -> Result<bool> {
    let mut docs = app.docs.lock();
    let due = app.storage.read(|tx| {
        let doc = docs.get(tx, person, Compartment::Clinical)?;
        if !ward::has_ward_episode(&doc.doc).map_err(core_error)? {
            return Ok(false);
        }
        let record = read::clinical(person, &doc.doc).map_err(core_error)?;
        let author = app.identity.author(now);
        Ok(!watch::due(person, &record, &author, &app.config.watch.rules, last).is_empty())
    })?;
    // Read only: the documents it brought up to date are what the log says.
    docs.committed();
    Ok(due)
}

/// Write what is due, worked out again inside the write transaction.
fn write_due(
    app: &App,
    person: &str,
    now: DateTime<Utc>,
    last: Option<Option<DateTime<Utc>>>,
) -> Result<Option<Watched>> {
    let rules = app.config.watch.rules;
    let mut docs = app.docs.lock();
    let wrote = app.storage.write(|tx| {
        let last = match last {
            Some(before) => Some(latest_reading(tx, person, now, &rules)?.or(before)),
            None => None,
        };
        let w = authored::write_clinical(
            tx,
            &mut docs,
            &app.identity,
            authored::Writer::Server,
            person,
            now,
            &failed,
            |doc, author| {
                let e = watch::write_due(doc, person, author, &rules, last)?;
                Ok((!e.value.is_empty()).then_some((e.value, e.summary)))
            },
        )?;
        docs.compact_touched(tx)?;
        Ok(w)
    })?;
    docs.committed();
    Ok(wrote)
}

/// A reading stored since the round's first read that would end the silence.
fn latest_reading(
    tx: &mut dyn crate::storage::Tx,
    person: &str,
    now: DateTime<Utc>,
    rules: &WatchRules,
) -> Result<Option<DateTime<Utc>>> {
    let from = (now - rules.no_readings_after).timestamp_millis();
    Ok(tx
        .readings_of(person, from, i64::MAX)?
        .iter()
        .map(|r| r.taken_ms)
        .max()
        .and_then(DateTime::from_timestamp_millis))
}

fn failed(person: &str, why: String) -> ServerError {
    ServerError::Storage(format!(
        "the ward watch could not write for {person} ({why}); it tries again next round"
    ))
}

fn core_error(e: doorstep_core::Error) -> ServerError {
    ServerError::Storage(format!("a clinical record could not be read: {e}"))
}

/// Run rounds until `stop` says so (`serve` starts it when the watch is on).
pub async fn run(app: std::sync::Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = app.config.watch.every;
    if every.is_zero() {
        tracing::info!(target: "doorstep::ward", "the ward watch is off: unacknowledged escalations are not re-alerted and silent monitors raise nothing");
        return;
    }
    // The first round one period after start, not at once: a restart does not re-read every
    // record before it serves.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let a = app.clone();
        match tokio::task::spawn_blocking(move || round(&a, Utc::now())).await {
            Ok(Ok(r)) => {
                tracing::debug!(target: "doorstep::ward", people = r.people, realerts = r.realerts, gaps = r.gaps, failed = r.failed.len(), "ward watch round")
            }
            Ok(Err(e)) => {
                app.metrics.watched("failed", 1);
                tracing::warn!(target: "doorstep::ward", error = %e, "a ward watch round failed; it runs again at the next");
            }
            Err(e) => {
                app.metrics.watched("failed", 1);
                tracing::error!(target: "doorstep::ward", error = %e, "a ward watch round panicked; it runs again at the next");
            }
        }
    }
}

#[cfg(test)]
mod tests;
