//! The outreach report as a terminal table, a CSV and a standalone HTML page (no network: the
//! chart is inline SVG, with the same figures in a table beside it).

use std::fmt::Write;

// The one CSV quoting rule (quoted when needed, a formula in a text cell defused).
use doorstep_core::csds::csv::field;
use doorstep_core::record::outreach_edit::pounds;
use doorstep_core::record::{OutreachReport, OutreachRow, ReportGrouping};

const COLUMNS: [&str; 10] = [
    "clients seen",
    "needs recorded",
    "needs per client",
    "outcomes",
    "income gained (annualised)",
    "debt written off",
    "one-off gains",
    "total financial gain",
    "costs avoided (not in total)",
    "debt rescheduled (not in total)",
];

fn cells(r: &OutreachRow, money: fn(i64) -> String) -> [String; 10] {
    [
        r.clients_seen.to_string(),
        r.needs_recorded.to_string(),
        format!("{:.1}", r.needs_per_client),
        r.outcomes.to_string(),
        money(r.income_gained_annual_pence),
        money(r.debt_written_off_pence),
        money(r.one_off_gains_pence),
        money(r.total_gain_pence),
        money(r.costs_avoided_pence),
        money(r.debt_rescheduled_pence),
    ]
}

fn grouping(r: &OutreachRow) -> &'static str {
    r.grouping.map_or("", |g| g.label())
}

/// The table printed to the terminal.
pub fn table(report: &OutreachReport, team: &str) -> String {
    let mut s = format!(
        "Outreach report, team {team}, {} to {} (categories v{})\n",
        report.from, report.to, report.category_list_version
    );
    let head: Vec<&str> = COLUMNS.to_vec();
    let _ = writeln!(s, "{:<12} {:<34} {}", "by", "row", head.join(" | "));
    for r in &report.rows {
        let _ = writeln!(
            s,
            "{:<12} {:<34} {}",
            grouping(r),
            r.label,
            cells(r, pounds).join(" | ")
        );
    }
    if report.rows.is_empty() {
        s.push_str("nothing was recorded in this period\n");
    }
    s
}

fn plain_pence(p: i64) -> String {
    format!("{}.{:02}", p / 100, (p % 100).abs())
}

/// One line per row; money in pounds with two decimals, no currency sign.
pub fn csv(report: &OutreachReport) -> String {
    let mut s = String::from("grouping,key,label");
    for c in &COLUMNS {
        s.push(',');
        s.push_str(&field(&format!("{c}{}", money_suffix(c))));
    }
    s.push('\n');
    for r in &report.rows {
        let mut line = vec![field(grouping(r)), field(&r.key), field(&r.label)];
        // Numbers as they are: a negative amount is a number, not a formula to defuse.
        line.extend(cells(r, plain_pence));
        s.push_str(&line.join(","));
        s.push('\n');
    }
    s
}

fn money_suffix(column: &str) -> &'static str {
    match column {
        "clients seen" | "needs recorded" | "needs per client" | "outcomes" => "",
        _ => " (GBP)",
    }
}

fn esc(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A standalone page: a bar chart of the total gain by category, and the full table.
pub fn html(report: &OutreachReport, team: &str) -> String {
    let title = format!(
        "Outreach report, team {}, {} to {}",
        esc(team),
        report.from,
        report.to
    );
    let mut s = format!(
        "<!doctype html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:2rem}}\
table{{border-collapse:collapse}}th,td{{border:1px solid #505a5f;padding:.3rem .5rem;text-align:right}}\
th[scope=row],td.l{{text-align:left}}caption{{text-align:left;font-weight:bold;margin:.5rem 0}}</style>\
</head><body><h1>{title}</h1>\n"
    );
    s.push_str(&chart(report));
    s.push_str(&full_table(report));
    s.push_str(
        "<p>Income gained is recurring income annualised; the total is income gained + debt \
written off + one-off gains. Costs avoided and debt rescheduled are shown apart and are not in \
the total. Clients are counted by contact date, money by outcome date.</p></body></html>\n",
    );
    s
}

fn chart(report: &OutreachReport) -> String {
    let rows: Vec<&OutreachRow> = report.rows_of(ReportGrouping::Category).collect();
    let max = rows
        .iter()
        .map(|r| r.total_gain_pence)
        .max()
        .unwrap_or(0)
        .max(1);
    let (bar_h, label_w, bar_w) = (28, 300, 420);
    let height = bar_h * rows.len().max(1) + 20;
    let mut s = format!(
        "<figure><svg role=\"img\" aria-labelledby=\"chart-title chart-desc\" width=\"{}\" height=\"{height}\" \
viewBox=\"0 0 {} {height}\"><title id=\"chart-title\">Total financial gain by advice category</title>\
<desc id=\"chart-desc\">One bar per category; the figures are in the table below.</desc>\n",
        label_w + bar_w + 140,
        label_w + bar_w + 140
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 10 + i * bar_h;
        let w = (r.total_gain_pence.max(0) as f64 / max as f64 * bar_w as f64).round() as i64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"14\" fill=\"#1a1a1a\">{}</text>\
<rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"#1d4f91\"></rect>\
<text x=\"{}\" y=\"{}\" font-size=\"14\" fill=\"#1a1a1a\">{}</text>",
            label_w - 8,
            y + 18,
            esc(&r.label),
            bar_h - 8,
            label_w + w as usize + 6,
            y + 18,
            esc(&pounds(r.total_gain_pence))
        );
    }
    if rows.is_empty() {
        s.push_str("<text x=\"10\" y=\"20\" font-size=\"14\">No gains in this period</text>\n");
    }
    s.push_str("</svg><figcaption>Total financial gain by advice category</figcaption></figure>\n");
    s
}

fn full_table(report: &OutreachReport) -> String {
    let mut s = String::from(
        "<table><caption>Outreach figures</caption><thead><tr><th scope=\"col\">By</th><th scope=\"col\">Row</th>",
    );
    for c in &COLUMNS {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(c));
    }
    s.push_str("</tr></thead><tbody>\n");
    for r in &report.rows {
        let _ = write!(
            s,
            "<tr><td class=\"l\">{}</td><th scope=\"row\">{}</th>",
            esc(grouping(r)),
            esc(&r.label)
        );
        for c in cells(r, pounds) {
            let _ = write!(s, "<td>{}</td>", esc(&c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> OutreachReport {
        OutreachReport {
            from: "2026-11-01".parse().unwrap(),
            to: "2026-11-30".parse().unwrap(),
            category_list_version: 1,
            rows: vec![OutreachRow {
                grouping: Some(ReportGrouping::Category),
                key: "debt".into(),
                label: "Debt, \"arrears\" & <more>".into(),
                clients_seen: 2,
                needs_recorded: 3,
                needs_per_client: 1.5,
                outcomes: 1,
                debt_written_off_pence: 120_050,
                total_gain_pence: 120_050,
                costs_avoided_pence: 999,
                ..OutreachRow::default()
            }],
        }
    }

    #[test]
    fn csv_quotes_labels_and_gives_pounds() {
        let c = csv(&report());
        let mut lines = c.lines();
        let head = lines.next().unwrap();
        assert!(head.starts_with("grouping,key,label,clients seen,"));
        assert!(head.contains("total financial gain (GBP)"));
        assert_eq!(
            lines.next().unwrap(),
            "category,debt,\"Debt, \"\"arrears\"\" & <more>\",2,3,1.5,1,0.00,1200.50,0.00,1200.50,9.99,0.00"
        );
    }

    #[test]
    fn the_page_is_standalone_escaped_and_labelled() {
        let h = html(&report(), "ca-hyde");
        assert!(
            !h.contains("http://") && !h.contains("https://"),
            "no network"
        );
        assert!(h.contains("role=\"img\"") && h.contains("<title id=\"chart-title\">"));
        assert!(h.contains("Debt, &quot;arrears&quot; &amp; &lt;more&gt;"));
        assert!(h.contains("£1,200.50"));
        assert!(h.contains("<th scope=\"col\">costs avoided (not in total)</th>"));
    }
}
