//! The extract as CSV files (RFC 4180: comma-separated, a header row, fields quoted when they
//! hold a comma, a quote or a line break; CRLF line ends). Headers name the CSDS data element
//! each column carries, in upper case, or a lower-case Doorstep name where the column is ours.

use super::CsdsExtract;

/// `(file name, contents)` for each table: people, referrals, care contacts, care activities.
pub fn files(x: &CsdsExtract) -> Vec<(String, String)> {
    let name = |t: &str| format!("csds-{t}-{}.csv", x.month);
    vec![
        (name("people"), people(x)),
        (name("referrals"), referrals(x)),
        (name("care-contacts"), contacts(x)),
        (name("care-activities"), activities(x)),
    ]
}

fn people(x: &CsdsExtract) -> String {
    table(
        &[
            "LOCAL PATIENT IDENTIFIER (EXTENDED)",
            "NHS NUMBER",
            "NHS NUMBER STATUS INDICATOR CODE",
            "PERSON BIRTH DATE",
            "POSTCODE OF USUAL ADDRESS",
            "PERSON STATED GENDER CODE",
            "ETHNIC CATEGORY",
            "GENERAL MEDICAL PRACTICE CODE (PATIENT REGISTRATION)",
        ],
        x.people.iter().map(|p| {
            vec![
                p.local_patient_id.as_str(),
                p.nhs_number.as_str(),
                p.nhs_number_status.as_str(),
                p.birth_date.as_str(),
                p.postcode.as_str(),
                p.stated_gender.as_str(),
                p.ethnic_category.as_str(),
                p.gp_practice.as_str(),
            ]
        }),
    )
}

fn referrals(x: &CsdsExtract) -> String {
    table(
        &[
            "SERVICE REQUEST IDENTIFIER",
            "LOCAL PATIENT IDENTIFIER (EXTENDED)",
            "ORGANISATION IDENTIFIER (CODE OF PROVIDER)",
            "SERVICE OR TEAM TYPE REFERRED TO (COMMUNITY CARE)",
            "REFERRAL REQUEST RECEIVED DATE",
            "SOURCE OF REFERRAL FOR COMMUNITY",
            "source of referral (as recorded)",
            "PRIMARY REASON FOR REFERRAL (COMMUNITY CARE)",
            "reason for referral (as recorded)",
            "SERVICE DISCHARGE DATE",
        ],
        x.referrals.iter().map(|r| {
            vec![
                r.service_request_id.as_str(),
                r.local_patient_id.as_str(),
                r.provider.as_str(),
                r.service_type.as_str(),
                r.received_date.as_str(),
                "",
                r.source_text.as_str(),
                "",
                r.reason_text.as_str(),
                r.discharge_date.as_str(),
            ]
        }),
    )
}

fn contacts(x: &CsdsExtract) -> String {
    table(
        &[
            "CARE CONTACT IDENTIFIER",
            "LOCAL PATIENT IDENTIFIER (EXTENDED)",
            "SERVICE REQUEST IDENTIFIER",
            "CARE PROFESSIONAL LOCAL IDENTIFIER",
            "CARE CONTACT DATE",
            "CARE CONTACT TIME",
            "CLINICAL CONTACT DURATION OF CARE CONTACT",
            "CONSULTATION MEDIUM USED",
            "ACTIVITY LOCATION TYPE CODE",
            "ATTENDED OR DID NOT ATTEND",
            "outcome (as recorded)",
        ],
        x.contacts.iter().map(|c| {
            vec![
                c.care_contact_id.as_str(),
                c.local_patient_id.as_str(),
                c.service_request_id.as_str(),
                c.care_professional.as_str(),
                c.contact_date.as_str(),
                c.contact_time.as_str(),
                c.duration_minutes.as_str(),
                c.consultation_medium.as_str(),
                c.location_type.as_str(),
                c.attended.as_str(),
                c.outcome.as_str(),
            ]
        }),
    )
}

fn activities(x: &CsdsExtract) -> String {
    table(
        &[
            "CARE ACTIVITY IDENTIFIER",
            "CARE CONTACT IDENTIFIER",
            "LOCAL PATIENT IDENTIFIER (EXTENDED)",
            "activity code (Doorstep)",
            "activity (as recorded)",
            "CODED PROCEDURE (SNOMED CT)",
        ],
        x.activities.iter().map(|a| {
            vec![
                a.care_activity_id.as_str(),
                a.care_contact_id.as_str(),
                a.local_patient_id.as_str(),
                a.activity_code.as_str(),
                a.activity.as_str(),
                a.procedure_snomed.as_str(),
            ]
        }),
    )
}

fn table<'a>(header: &[&str], rows: impl Iterator<Item = Vec<&'a str>>) -> String {
    let mut out = line(header.iter().copied());
    for r in rows {
        out.push_str(&line(r.into_iter()));
    }
    out
}

fn line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let mut s = cells.map(field).collect::<Vec<_>>().join(",");
    s.push_str("\r\n");
    s
}

/// One field: quoted when it holds a comma, a quote or a line break; a leading `=`, `+`, `-`
/// or `@` is prefixed with `'` so a spreadsheet does not run free text as a formula.
pub fn field(v: &str) -> String {
    let v = match v.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{v}"),
        _ => v.to_string(),
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}
