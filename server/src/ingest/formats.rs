//! The three upload formats of `POST /v1/readings` (docs/virtual-ward.md, "Posting readings"):
//! a JSON batch, CSV, and a FHIR R4 Bundle of Observations. Each is read into numbered lines;
//! a line that cannot be read refuses only itself. Sans-IO.

use chrono::{DateTime, Utc};
use doorstep_core::clinical::readings::{Reading, ReadingKind};
use doorstep_core::fhir::readings::readings_from_bundle;
use serde::Deserialize;
use serde_json::Value;

use super::{Incoming, Line, Refusal};
use crate::error::{Result, ServerError};

/// The CSV header, exactly (column order fixed).
pub const CSV_HEADER: &str = "serial,person_id,kind,value,unit,taken_at";

/// Which format a `Content-Type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Fhir,
}

impl Format {
    pub fn of(content_type: Option<&str>) -> Result<Format> {
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        match media.as_deref() {
            Some("application/json") => Ok(Format::Json),
            Some("text/csv") => Ok(Format::Csv),
            Some("application/fhir+json") => Ok(Format::Fhir),
            other => Err(ServerError::UnsupportedMedia(format!(
                "Content-Type {} is not taken here: send application/json, text/csv or application/fhir+json",
                other.unwrap_or("(none)")
            ))),
        }
    }
}

/// Read a body into numbered lines.
pub fn lines(format: Format, body: &[u8]) -> Result<Vec<Line>> {
    match format {
        Format::Json => json_lines(body),
        Format::Csv => csv_lines(body),
        Format::Fhir => fhir_lines(body),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonReading {
    serial: String,
    person_id: String,
    kind: ReadingKind,
    value: f64,
    unit: String,
    taken_at: DateTime<Utc>,
}

fn whole_body(why: impl std::fmt::Display) -> ServerError {
    ServerError::BadRequest(format!(
        "the body cannot be read, so nothing was stored: {why}"
    ))
}

/// `{"readings": [ {…}, … ]}`: line n is the n-th reading (from 1).
fn json_lines(body: &[u8]) -> Result<Vec<Line>> {
    let v: Value = serde_json::from_slice(body).map_err(whole_body)?;
    let list = v
        .get("readings")
        .and_then(Value::as_array)
        .ok_or_else(|| whole_body("it must be an object with a \"readings\" list"))?;
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, r)| Line {
            line: i as u64 + 1,
            parsed: serde_json::from_value::<JsonReading>(r.clone())
                .map(|j| Incoming {
                    serial: j.serial,
                    person_id: j.person_id,
                    reading: Reading {
                        kind: j.kind,
                        value: j.value,
                        unit: j.unit,
                        taken_at: j.taken_at,
                    },
                })
                .map_err(|e| Refusal::malformed(format!("this reading cannot be read: {e}"))),
        })
        .collect())
}

/// CSV (RFC 4180 without quoted fields: none of the columns needs one) with the header
/// [`CSV_HEADER`]; line n is the file's line n (the header is line 1). Blank lines are skipped.
fn csv_lines(body: &[u8]) -> Result<Vec<Line>> {
    let text = std::str::from_utf8(body).map_err(|_| whole_body("it is not UTF-8 text"))?;
    let mut rows = text.lines().enumerate();
    let header = rows
        .next()
        .map(|(_, h)| h.trim().trim_start_matches('\u{feff}'));
    if header != Some(CSV_HEADER) {
        return Err(whole_body(format!(
            "the first line must be the header {CSV_HEADER}"
        )));
    }
    Ok(rows
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Line {
            line: i as u64 + 1,
            parsed: csv_row(l),
        })
        .collect())
}

fn csv_row(l: &str) -> Result<Incoming, Refusal> {
    if l.contains('"') {
        return Err(Refusal::malformed(
            "quoted fields are not taken: no column needs quotes".into(),
        ));
    }
    let f: Vec<&str> = l.trim_end_matches('\r').split(',').map(str::trim).collect();
    let [serial, person_id, kind, value, unit, taken_at] = f[..] else {
        return Err(Refusal::malformed(format!(
            "{} columns; the header has 6 ({CSV_HEADER})",
            f.len()
        )));
    };
    let kind: ReadingKind = serde_json::from_value(Value::String(kind.to_string()))
        .map_err(|_| Refusal::malformed(format!(
            "kind '{kind}' is not one of spo2, pulse, systolic_bp, diastolic_bp, respiration_rate, temperature, consciousness"
        )))?;
    let value: f64 = value
        .parse()
        .map_err(|_| Refusal::malformed(format!("value '{value}' is not a number")))?;
    let taken_at = DateTime::parse_from_rfc3339(taken_at)
        .map_err(|_| {
            Refusal::malformed(format!(
                "taken_at '{taken_at}' is not an RFC 3339 time with its zone (2026-12-02T09:00:00Z)"
            ))
        })?
        .with_timezone(&Utc);
    Ok(Incoming {
        serial: serial.to_string(),
        person_id: person_id.to_string(),
        reading: Reading {
            kind,
            value,
            unit: unit.to_string(),
            taken_at,
        },
    })
}

/// A FHIR Bundle: line n is entry n (from 1); a blood pressure gives two lines with its number.
fn fhir_lines(body: &[u8]) -> Result<Vec<Line>> {
    let v: Value = serde_json::from_slice(body).map_err(whole_body)?;
    let lines = readings_from_bundle(&v).map_err(whole_body)?;
    Ok(lines
        .into_iter()
        .map(|l| Line {
            line: l.entry as u64,
            parsed: l
                .result
                .map(|r| Incoming {
                    serial: r.serial,
                    person_id: r.person_id,
                    reading: r.reading,
                })
                .map_err(Refusal::malformed),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_are_numbered_as_in_the_file_and_bad_ones_refuse_themselves() {
        let body = format!(
            "{CSV_HEADER}\nOX-1,p1,spo2,93,%,2026-12-02T09:00:00Z\n\nOX-1,p1,pulse,\"90\",/min,2026-12-02T09:00:00Z\nOX-1,p1,weight,70,kg,2026-12-02T09:00:00Z\nOX-1,p1,pulse,90,/min\n"
        );
        let lines = lines(Format::Csv, body.as_bytes()).unwrap();
        let numbers: Vec<u64> = lines.iter().map(|l| l.line).collect();
        assert_eq!(numbers, vec![2, 4, 5, 6]);
        assert_eq!(
            lines[0].parsed.as_ref().unwrap().reading.kind,
            ReadingKind::Spo2
        );
        let why = |i: usize| lines[i].parsed.as_ref().unwrap_err().reason.clone();
        assert!(why(1).contains("quoted"), "{}", why(1));
        assert!(why(2).contains("weight"), "{}", why(2));
        assert!(why(3).contains("5 columns"), "{}", why(3));
        assert!(matches!(
            super::lines(Format::Csv, b"kind,value\n"),
            Err(ServerError::BadRequest(_))
        ));
    }

    #[test]
    fn json_lines_refuse_themselves_and_a_broken_body_refuses_all() {
        let body = br#"{"readings": [
            {"serial": "OX-1", "person_id": "p1", "kind": "pulse", "value": 90, "unit": "/min", "taken_at": "2026-12-02T09:00:00Z"},
            {"serial": "OX-1", "person_id": "p1", "kind": "pulse", "value": "ninety", "unit": "/min", "taken_at": "2026-12-02T09:00:00Z"}
        ]}"#;
        let lines = lines(Format::Json, body).unwrap();
        assert!(lines[0].parsed.is_ok());
        assert_eq!(lines[1].line, 2);
        assert_eq!(lines[1].parsed.as_ref().unwrap_err().code, "malformed");
        assert!(super::lines(Format::Json, b"{\"readings\": [").is_err());
        assert!(Format::of(Some("text/plain")).is_err());
        assert_eq!(
            Format::of(Some("application/fhir+json; charset=utf-8")).unwrap(),
            Format::Fhir
        );
    }
}
