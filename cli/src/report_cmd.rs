//! `doorstep report …`: reports from the server's database.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Subcommand;
use doorstep_core::csds::ReportMonth;
use doorstep_core::record::outreach_report::outreach_report;
use doorstep_server::Storage;

use crate::report_out;

#[derive(Subcommand)]
pub enum ReportKind {
    /// Citizens Advice outreach: clients seen, needs, outcomes and money gained, per team, case
    /// worker, category, month and client (docs/outreach.md). Prints the table and writes a CSV
    /// and a standalone HTML page with a chart of gains by category.
    Outreach {
        /// The team (caseload) id; everyone who is or was on it counts.
        #[arg(long)]
        team: String,
        /// First day, YYYY-MM-DD (Europe/London), inclusive.
        #[arg(long, value_parser = parse_day)]
        from: NaiveDate,
        /// Last day, YYYY-MM-DD, inclusive.
        #[arg(long, value_parser = parse_day)]
        to: NaiveDate,
        /// Directory the CSV and HTML files are written to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// The Community Services Data Set activity extract (CSDS v1.6-shaped, docs/interop.md) of a
    /// team for one UK local month: CSV files of people, referrals, care contacts and care
    /// activities, with what an operator must fix before submitting.
    Csds {
        /// The team (caseload) id: what its staff recorded for everyone who is or was on it.
        #[arg(long)]
        team: String,
        /// The month, YYYY-MM (Europe/London).
        #[arg(long, value_parser = parse_month)]
        month: ReportMonth,
        /// Directory the CSV files are written to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

fn parse_month(s: &str) -> Result<ReportMonth, String> {
    s.parse()
        .map_err(|e: doorstep_core::ValidationError| e.to_string())
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not a date: use the form YYYY-MM-DD"))
}

pub fn run(storage: &Storage, kind: ReportKind) -> Result<(), String> {
    match kind {
        ReportKind::Outreach {
            team,
            from,
            to,
            out,
        } => outreach(storage, &team, from, to, &out),
        ReportKind::Csds { team, month, out } => csds(storage, &team, month, &out),
    }
}

fn csds(storage: &Storage, team: &str, month: ReportMonth, out: &Path) -> Result<(), String> {
    let (csds_team, people) =
        doorstep_server::csds::csds_input(storage, team).map_err(|e| e.to_string())?;
    let x = doorstep_core::csds::extract(&csds_team, &people, month);
    println!(
        "CSDS extract of team {team} for {month}: {} people, {} referrals, {} care contacts, {} care activities",
        x.people.len(),
        x.referrals.len(),
        x.contacts.len(),
        x.activities.len()
    );
    for w in &x.warnings {
        println!("warning: {w}");
    }
    for (name, text) in doorstep_core::csds::csv::files(&x) {
        let path = out.join(name);
        write(&path, &text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn outreach(
    storage: &Storage,
    team: &str,
    from: NaiveDate,
    to: NaiveDate,
    out: &Path,
) -> Result<(), String> {
    let clients =
        doorstep_server::outreach::outreach_clients(storage, team).map_err(|e| e.to_string())?;
    let report = outreach_report(&clients, from, to).map_err(|e| e.to_string())?;
    print!("{}", report_out::table(&report, team));
    let stem = format!("outreach-{team}-{from}-{to}");
    let csv = out.join(format!("{stem}.csv"));
    let html = out.join(format!("{stem}.html"));
    write(&csv, &report_out::csv(&report))?;
    write(&html, &report_out::html(&report, team))?;
    println!("wrote {} and {}", csv.display(), html.display());
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
