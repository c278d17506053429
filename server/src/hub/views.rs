//! What the hub's pages show, worked out from the server's copy of each record with the same
//! core code the phones run (`record::ward::census_entry`, `record::escalation`,
//! `record::ward::trends`): the team's ward census, its open escalations (highest band, then
//! newest), and one person's escalations and trend charts. Every person a page shows is
//! audited as viewed by the signed-in hub user.

use chrono::{DateTime, Duration, Utc};
use doorstep_core::record::escalation::{self, Escalation, EscalationStatus};
use doorstep_core::record::policy::{self, Action, Context, Principal};
use doorstep_core::record::schedule::{local_date, local_hhmm};
use doorstep_core::record::ward::{self, CensusEntry, TrendMeasure, TrendSeries};
use doorstep_core::record::{read, ClinicalRecord, Compartment, User};

use crate::error::{Result, ServerError};
use crate::http::App;

/// A person's record as the hub reads it.
pub struct Person {
    pub id: String,
    pub name: String,
    pub record: ClinicalRecord,
}

/// One open escalation as the list shows it.
pub struct EscalationRow {
    pub person_id: String,
    pub person_name: String,
    pub id: String,
    pub band: String,
    /// CSS class of the band (`high`, `medium`, …).
    pub band_class: &'static str,
    pub reasons: String,
    pub response: String,
    pub news2: String,
    pub taken: String,
    pub status: &'static str,
    pub acknowledged_by: Option<String>,
    pub realerts: u32,
    pub can_acknowledge: bool,
    /// Acknowledged and not closed: an action or the outcome may be recorded.
    pub can_follow_up: bool,
}

/// A census row with its words.
pub struct CensusRow {
    pub entry: CensusEntry,
    pub news2: String,
    pub admitted: String,
    pub stay: String,
}

/// The team's escalation routes, the one in force now first.
pub struct RoutesView {
    pub now_label: String,
    pub now_route: String,
    pub other_label: String,
    pub other_route: String,
}

/// The routes of a team at `now` (`None`: the team has none set).
pub fn routes(app: &App, team: &str, now: DateTime<Utc>) -> Result<Option<RoutesView>> {
    use doorstep_core::clinical::routes::RouteInForce;
    let Some(r) = app.storage.read(|tx| tx.escalation_routes(team))? else {
        return Ok(None);
    };
    let hours = r.hours_words();
    let in_label = format!("In hours ({hours})");
    let out_label = "Out of hours".to_string();
    Ok(Some(match r.in_force(now) {
        RouteInForce::InHours => RoutesView {
            now_label: in_label,
            now_route: r.in_hours,
            other_label: out_label,
            other_route: r.out_of_hours,
        },
        RouteInForce::OutOfHours => RoutesView {
            now_label: out_label,
            now_route: r.out_of_hours,
            other_label: in_label,
            other_route: r.in_hours,
        },
    }))
}

pub struct WardView {
    pub routes: Option<RoutesView>,
    pub team: String,
    pub census: Vec<CensusRow>,
    pub escalations: Vec<EscalationRow>,
}

/// The hub user may read clinical records (the one access policy).
pub fn may_read(user: &User) -> Result<()> {
    policy::allows(
        &Principal::HubUser { user: user.clone() },
        Action::Read(Compartment::Clinical),
        &Context::default(),
    )
    .map(|_| ())
    .map_err(|d| ServerError::Forbidden(d.to_string()))
}

/// The team's ward today, and everyone on it audited as viewed.
pub fn ward(app: &App, user: &User, now: DateTime<Utc>) -> Result<WardView> {
    may_read(user)?;
    let members = app.storage.read(|tx| tx.members(&user.team))?;
    let day = ward::ward_day(now);
    let mut census = Vec::new();
    let mut escalations: Vec<(Escalation, String)> = Vec::new();
    for (person_id, _) in members {
        let Some(p) = person(app, &person_id)? else {
            continue;
        };
        let Some(entry) = ward::census_entry(&p.id, &p.name, &p.record, day) else {
            continue;
        };
        census.push(census_row(entry));
        escalations.extend(
            p.record
                .escalations
                .into_iter()
                .filter(|e| e.status.is_open())
                .map(|e| (e, p.name.clone())),
        );
    }
    census.sort_by(|a, b| a.entry.display_name.cmp(&b.entry.display_name));
    escalations.sort_by(|a, b| escalation::by_urgency(&a.0, &b.0));
    let listed: Vec<String> = census.iter().map(|c| c.entry.person_id.clone()).collect();
    audit(app, user, &listed, now, "listed on the hub's ward census")?;
    Ok(WardView {
        routes: routes(app, &user.team, now)?,
        team: user.team.clone(),
        census,
        escalations: escalations
            .into_iter()
            .map(|(e, name)| escalation_row(e, name))
            .collect(),
    })
}

/// A person of the user's team, audited as viewed; `NotFound` for anyone else.
pub fn person_page(app: &App, user: &User, person_id: &str, now: DateTime<Utc>) -> Result<Person> {
    may_read(user)?;
    let on_team = app.storage.read(|tx| tx.is_member(&user.team, person_id))?;
    let not_found = || {
        ServerError::NotFound(
            "No one with that id is on your team's virtual ward. Go back to the ward list.".into(),
        )
    };
    if !on_team {
        return Err(not_found());
    }
    let p = person(app, person_id)?.ok_or_else(not_found)?;
    audit(
        app,
        user,
        std::slice::from_ref(&p.id),
        now,
        "viewed the record on the hub (escalations and trends)",
    )?;
    Ok(p)
}

fn audit(app: &App, user: &User, people: &[String], now: DateTime<Utc>, what: &str) -> Result<()> {
    if people.is_empty() {
        return Ok(());
    }
    let at = now.timestamp_millis();
    app.storage.write(|tx| {
        for p in people {
            tx.add_hub_view(&user.id, p, at, what)?;
        }
        Ok(())
    })
}

/// A person with a virtual-ward episode, read from the server's documents (`None` otherwise).
fn person(app: &App, person_id: &str) -> Result<Option<Person>> {
    let mut docs = app.docs.lock();
    let read = app.storage.read(|tx| {
        let clinical = docs.get(tx, person_id, Compartment::Clinical)?;
        if !ward::has_ward_episode(&clinical.doc).map_err(core)? {
            return Ok(None);
        }
        let record = read::clinical(person_id, &clinical.doc).map_err(core)?;
        let name = display_name(tx, &mut docs, person_id)?;
        Ok(Some(Person {
            id: person_id.to_string(),
            name,
            record,
        }))
    })?;
    // Read only: the documents it brought up to date are what the log says.
    docs.committed();
    Ok(read)
}

/// "Edith Crawley", from the server's copy of the demographics.
pub fn display_name(
    tx: &mut dyn crate::storage::Tx,
    docs: &mut crate::docs::DocsGuard<'_>,
    person_id: &str,
) -> Result<String> {
    let demographics = docs.get(tx, person_id, Compartment::Demographics)?;
    Ok(read::demographics(&demographics.doc)
        .map_err(core)?
        .map(|d| format!("{} {}", d.given_name, d.family_name))
        .unwrap_or_else(|| "(no name recorded)".into()))
}

fn core(e: doorstep_core::Error) -> ServerError {
    ServerError::Storage(format!("a record could not be read: {e}"))
}

/// "2 Dec 13:40" in London time.
pub fn when(t: DateTime<Utc>) -> String {
    format!("{} {}", local_date(t).format("%-d %b"), local_hhmm(t))
}

fn census_row(entry: CensusEntry) -> CensusRow {
    let news2 = match (entry.latest_news2, &entry.latest_news2_assumed) {
        (Some(t), Some(a)) => format!("{t} ({a})"),
        (Some(t), None) => t.to_string(),
        (None, _) if entry.latest_news2_at.is_some() => "incomplete set".into(),
        (None, _) => "no observations yet".into(),
    };
    let stay = match entry.expected_length_of_stay_days {
        Some(x) if entry.beyond_expected_stay => {
            format!("day {} of {x} expected (beyond)", entry.length_of_stay_days)
        }
        Some(x) => format!("day {} of {x} expected", entry.length_of_stay_days),
        None => format!("day {}", entry.length_of_stay_days),
    };
    CensusRow {
        admitted: entry.admitted_on.format("%-d %b %Y").to_string(),
        news2,
        stay,
        entry,
    }
}

pub fn escalation_row(e: Escalation, person_name: String) -> EscalationRow {
    let news2 = match (e.news2_total, &e.news2_assumed) {
        (Some(t), Some(a)) => format!("NEWS2 {t} ({a})"),
        (Some(t), None) => format!("NEWS2 {t}"),
        (None, _) => String::new(),
    };
    let status = match e.status {
        EscalationStatus::Open => "open, not acknowledged",
        EscalationStatus::Acknowledged => "acknowledged",
        EscalationStatus::Actioned => "actioned",
        EscalationStatus::Closed => "closed",
    };
    EscalationRow {
        person_id: e.person_id.clone(),
        person_name,
        band: e.band.label().to_string(),
        band_class: band_class(e.band),
        reasons: e.reasons.clone(),
        response: e.response.clone(),
        news2,
        taken: when(e.taken_at),
        status,
        acknowledged_by: e
            .acknowledged_by
            .as_ref()
            .map(|a| format!("{} at {}", a.display_name, when(a.at))),
        realerts: e.realerts,
        can_acknowledge: e.status == EscalationStatus::Open,
        can_follow_up: matches!(
            e.status,
            EscalationStatus::Acknowledged | EscalationStatus::Actioned
        ),
        id: e.id,
    }
}

fn band_class(b: doorstep_core::clinical::escalation::EscalationBand) -> &'static str {
    use doorstep_core::clinical::escalation::EscalationBand as B;
    match b {
        B::High => "high",
        B::Medium => "medium",
        B::LowMedium => "lowmedium",
        B::PersonalParameter => "personal",
        B::NoReadings => "noreadings",
    }
}

/// One chart: its title, the SVG (numbers and fixed words only) and its points as a table.
pub struct Chart {
    pub title: String,
    pub svg: String,
    pub points: Vec<(String, String)>,
    pub gaps: usize,
}

/// The last seven days of each measure that has readings.
pub fn charts(p: &Person, now: DateTime<Utc>) -> Vec<Chart> {
    let from = now - Duration::days(7);
    let trends = ward::trends(
        &p.id,
        &p.record,
        Some(from),
        Some(now + Duration::minutes(1)),
    );
    trends
        .series
        .iter()
        .filter(|s| !s.points.is_empty())
        .map(|s| chart(s, from, now))
        .collect()
}

fn label(m: TrendMeasure) -> &'static str {
    match m {
        TrendMeasure::News2 => "NEWS2",
        TrendMeasure::RespirationRate => "Respiration rate",
        TrendMeasure::Spo2 => "SpO2",
        TrendMeasure::OnOxygen => "On oxygen (1) or air (0)",
        TrendMeasure::SystolicBp => "Systolic blood pressure",
        TrendMeasure::DiastolicBp => "Diastolic blood pressure",
        TrendMeasure::Pulse => "Pulse",
        TrendMeasure::Consciousness => "Consciousness (ACVPU, 0 = alert)",
        TrendMeasure::Temperature => "Temperature",
    }
}

const W: f64 = 640.0;
const H: f64 = 160.0;
const PAD: f64 = 28.0;

fn chart(s: &TrendSeries, from: DateTime<Utc>, to: DateTime<Utc>) -> Chart {
    let unit = if s.unit.is_empty() {
        String::new()
    } else {
        format!(" ({})", s.unit)
    };
    let title = format!("{}{unit}, last 7 days", label(s.measure));
    let lo = s
        .points
        .iter()
        .map(|p| p.value)
        .fold(f64::INFINITY, f64::min);
    let hi = s
        .points
        .iter()
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if hi - lo < 1.0 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let span = (to - from).num_milliseconds().max(1) as f64;
    let x =
        |t: DateTime<Utc>| PAD + (W - 2.0 * PAD) * ((t - from).num_milliseconds() as f64 / span);
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * ((v - lo) / (hi - lo));
    let coords: Vec<(f64, f64)> = s
        .points
        .iter()
        .map(|p| (x(p.taken_at), y(p.value)))
        .collect();
    let line: Vec<String> = coords
        .iter()
        .map(|(a, b)| format!("{a:.1},{b:.1}"))
        .collect();
    let dots: String = coords
        .iter()
        .map(|(a, b)| format!("<circle cx=\"{a:.1}\" cy=\"{b:.1}\" r=\"3.5\"/>"))
        .collect();
    let svg = format!(
        "<svg viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"{title}: {n} readings from {lo} to {hi}; the table below lists them\" xmlns=\"http://www.w3.org/2000/svg\">\
<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" class=\"axis\"/>\
<text x=\"2\" y=\"{ty}\" class=\"tick\">{hi}</text><text x=\"2\" y=\"{by}\" class=\"tick\">{lo}</text>\
<text x=\"{PAD}\" y=\"{H}\" dy=\"-6\" class=\"tick\">{start}</text><text x=\"{r}\" y=\"{H}\" dy=\"-6\" text-anchor=\"end\" class=\"tick\">now</text>\
<polyline points=\"{pts}\" class=\"series\"/>{dots}</svg>",
        start = when(from),
        n = s.points.len(),
        lo = trim(lo),
        hi = trim(hi),
        b = H - PAD,
        r = W - PAD,
        ty = PAD,
        by = H - PAD,
        pts = line.join(" "),
    );
    Chart {
        title,
        svg,
        points: s
            .points
            .iter()
            .map(|p| {
                let assumed = p
                    .assumed
                    .as_ref()
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default();
                (when(p.taken_at), format!("{}{assumed}", trim(p.value)))
            })
            .collect(),
        gaps: s.gaps.len(),
    }
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
