//! Single readings from home monitoring devices, and how they make observation sets (issue 13
//! item 2, docs/virtual-ward.md): the sans-IO rules the server's ingest is to call. Nothing here
//! knows of HTTP, storage or documents.
//!
//! * A reading is checked for its unit (one unit per kind), a finite value, a whole number where
//!   the kind is counted, and the physiological limits of `observations`.
//! * Readings make sets: a set opens at its first reading and closes 60 minutes later; a later
//!   reading starts a new set. Within a set the latest reading of a kind counts.
//! * Home devices rarely report supplemental oxygen or consciousness: a set without them is
//!   scored with the person's recorded values (on air unless the admission says they are usually
//!   on oxygen; alert), and says so in `assumed`. A set missing anything else is incomplete (its
//!   NEWS2 has no total), never scored as 0.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::news2::{self, News2Result, Parameter, SpO2Scale};
use super::observations::{self, Consciousness, Observations};

/// How long a set stays open after its first reading.
pub const SET_WINDOW: Duration = Duration::minutes(60);

/// What a reading measures, and the one unit it is accepted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingKind {
    /// `%`
    Spo2,
    /// `/min`
    Pulse,
    /// `mmHg`
    SystolicBp,
    /// `mmHg`
    DiastolicBp,
    /// `/min`
    RespirationRate,
    /// `Cel` (UCUM) or `°C`
    Temperature,
    /// ACVPU entered by the person or a carer: `acvpu`, 0 alert … 4 unresponsive
    Consciousness,
}

impl ReadingKind {
    fn units(&self) -> &'static [&'static str] {
        match self {
            ReadingKind::Spo2 => &["%"],
            ReadingKind::Pulse | ReadingKind::RespirationRate => &["/min"],
            ReadingKind::SystolicBp | ReadingKind::DiastolicBp => &["mmHg"],
            ReadingKind::Temperature => &["Cel", "°C"],
            ReadingKind::Consciousness => &["acvpu"],
        }
    }

    fn limits(&self) -> (f64, f64) {
        let f = |(lo, hi): (u32, u32)| (f64::from(lo), f64::from(hi));
        match self {
            ReadingKind::Spo2 => f(observations::SPO2_LIMITS),
            ReadingKind::Pulse => f(observations::PULSE_LIMITS),
            ReadingKind::SystolicBp => f(observations::SYSTOLIC_LIMITS),
            ReadingKind::DiastolicBp => f(observations::DIASTOLIC_LIMITS),
            ReadingKind::RespirationRate => f(observations::RESPIRATION_LIMITS),
            ReadingKind::Temperature => observations::TEMPERATURE_LIMITS,
            ReadingKind::Consciousness => (0.0, 4.0),
        }
    }
}

/// One reading as a monitoring integration sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub kind: ReadingKind,
    pub value: f64,
    pub unit: String,
    pub taken_at: DateTime<Utc>,
}

/// Why a reading was refused: said per reading, back to the integration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadingError {
    #[error("{kind:?} in '{unit}' is not accepted: send it in {expected}")]
    WrongUnit {
        kind: ReadingKind,
        unit: String,
        expected: String,
    },
    #[error("{kind:?} of {value} is not a number that can be read: check the device's output")]
    NotANumber { kind: ReadingKind, value: String },
    #[error("{kind:?} of {value} is not a whole number: send whole {unit}")]
    NotWhole {
        kind: ReadingKind,
        value: f64,
        unit: String,
    },
    #[error("{kind:?} of {value} {unit} is outside the possible range {min}–{max}: probably a device or unit error")]
    OutOfRange {
        kind: ReadingKind,
        value: f64,
        unit: String,
        min: f64,
        max: f64,
    },
}

/// Check one reading's unit and value.
pub fn check(r: &Reading) -> Result<(), ReadingError> {
    let units = r.kind.units();
    if !units.contains(&r.unit.as_str()) {
        return Err(ReadingError::WrongUnit {
            kind: r.kind,
            unit: r.unit.clone(),
            expected: units.join(" or "),
        });
    }
    if !r.value.is_finite() {
        return Err(ReadingError::NotANumber {
            kind: r.kind,
            value: r.value.to_string(),
        });
    }
    if r.kind != ReadingKind::Temperature && r.value.fract() != 0.0 {
        return Err(ReadingError::NotWhole {
            kind: r.kind,
            value: r.value,
            unit: r.unit.clone(),
        });
    }
    let (min, max) = r.kind.limits();
    if r.value < min || r.value > max {
        return Err(ReadingError::OutOfRange {
            kind: r.kind,
            value: r.value,
            unit: r.unit.clone(),
            min,
            max,
        });
    }
    Ok(())
}

/// Readings taken together, scored.
#[derive(Debug, Clone, PartialEq)]
pub struct AssembledSet {
    pub opened_at: DateTime<Utc>,
    /// The time of its latest reading: the set's time.
    pub taken_at: DateTime<Utc>,
    pub readings: usize,
    pub observations: Observations,
    /// Parameters scored with the person's recorded values, not a reading (air or oxygen,
    /// consciousness): every score shown says so.
    pub assumed: Vec<Parameter>,
    pub news2: News2Result,
}

/// Group checked readings into sets (first reading + 60 minutes) and score each on `scale`,
/// with air/oxygen and consciousness assumed from the admission where no reading gives them.
pub fn assemble(
    readings: &[Reading],
    scale: SpO2Scale,
    usually_on_oxygen: bool,
) -> Vec<AssembledSet> {
    assemble_anchored(readings, &[], scale, usually_on_oxygen)
}

/// As [`assemble`], around sets already written (`anchors`, the times they opened): a set once
/// written keeps its opening, so readings that arrive late join the set whose window holds them
/// instead of moving every later set. A reading in the window of an anchored set (the latest
/// that opened at or before it, and less than 60 minutes before it) belongs to that set; the
/// others make new sets as `assemble` does. Sets come out in order of opening.
pub fn assemble_anchored(
    readings: &[Reading],
    anchors: &[DateTime<Utc>],
    scale: SpO2Scale,
    usually_on_oxygen: bool,
) -> Vec<AssembledSet> {
    let mut anchors = anchors.to_vec();
    anchors.sort();
    anchors.dedup();
    let mut sorted: Vec<&Reading> = readings.iter().collect();
    sorted.sort_by_key(|r| r.taken_at);
    let mut groups: BTreeMap<DateTime<Utc>, Vec<&Reading>> = BTreeMap::new();
    let mut open: Option<DateTime<Utc>> = None;
    for r in sorted {
        let opened_at = match window_of(&anchors, r.taken_at) {
            Some(a) => a,
            None => {
                let fits = open.is_some_and(|o| r.taken_at < o + SET_WINDOW);
                if !fits {
                    open = Some(r.taken_at);
                }
                open.unwrap_or(r.taken_at)
            }
        };
        groups.entry(opened_at).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(opened_at, rs)| score_set(opened_at, &rs, scale, usually_on_oxygen))
        .collect()
}

/// The anchored set whose window holds `t`: the latest opened at or before it, if it opened
/// less than [`SET_WINDOW`] before.
fn window_of(anchors: &[DateTime<Utc>], t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let i = anchors.partition_point(|a| *a <= t);
    let a = *anchors.get(i.checked_sub(1)?)?;
    (t < a + SET_WINDOW).then_some(a)
}

fn score_set(
    opened_at: DateTime<Utc>,
    readings: &[&Reading],
    scale: SpO2Scale,
    usually_on_oxygen: bool,
) -> AssembledSet {
    let mut o = Observations::default();
    // Sorted by time: a later reading of a kind replaces an earlier one.
    for r in readings {
        let whole = r.value as u32;
        match r.kind {
            ReadingKind::Spo2 => o.spo2_percent = Some(whole),
            ReadingKind::Pulse => o.pulse = Some(whole),
            ReadingKind::SystolicBp => o.systolic_bp = Some(whole),
            ReadingKind::DiastolicBp => o.diastolic_bp = Some(whole),
            ReadingKind::RespirationRate => o.respiration_rate = Some(whole),
            ReadingKind::Temperature => o.temperature_c = Some(r.value),
            ReadingKind::Consciousness => o.consciousness = Some(acvpu(whole)),
        }
    }
    let mut assumed = Vec::new();
    if o.on_oxygen.is_none() {
        o.on_oxygen = Some(usually_on_oxygen);
        assumed.push(Parameter::AirOrOxygen);
    }
    if o.consciousness.is_none() {
        o.consciousness = Some(Consciousness::Alert);
        assumed.push(Parameter::Consciousness);
    }
    AssembledSet {
        opened_at,
        taken_at: readings.last().map(|r| r.taken_at).unwrap_or(opened_at),
        readings: readings.len(),
        news2: news2::score(&o, scale),
        observations: o,
        assumed,
    }
}

fn acvpu(n: u32) -> Consciousness {
    match n {
        0 => Consciousness::Alert,
        1 => Consciousness::NewConfusion,
        2 => Consciousness::Voice,
        3 => Consciousness::Pain,
        _ => Consciousness::Unresponsive,
    }
}

/// Whether `assumed` is what [`assemble`] can have assumed of `o`: only air or oxygen and
/// consciousness, each once, and consciousness only as alert. (The validator asks this of every
/// home-monitoring set it is given.)
pub fn check_assumed(assumed: &[Parameter], o: &Observations) -> Result<(), String> {
    for (i, p) in assumed.iter().enumerate() {
        if assumed.get(..i).is_some_and(|before| before.contains(p)) {
            return Err(format!("{p:?} is said to be assumed twice"));
        }
        match p {
            Parameter::AirOrOxygen if o.on_oxygen.is_some() => {}
            Parameter::Consciousness if o.consciousness == Some(Consciousness::Alert) => {}
            Parameter::AirOrOxygen | Parameter::Consciousness => {
                return Err(format!("{p:?} is said to be assumed but holds no assumed value"))
            }
            other => {
                return Err(format!(
                    "{other:?} can only come from a reading; only air or oxygen and consciousness are assumed"
                ))
            }
        }
    }
    Ok(())
}

/// "assumed on air, alert": what a score shown from this set must say.
pub fn assumed_words(assumed: &[Parameter], on_oxygen: bool) -> Option<String> {
    let words: Vec<&str> = assumed
        .iter()
        .filter_map(|p| match p {
            Parameter::AirOrOxygen if on_oxygen => Some("on oxygen"),
            Parameter::AirOrOxygen => Some("on air"),
            Parameter::Consciousness => Some("alert"),
            _ => None,
        })
        .collect();
    (!words.is_empty()).then(|| format!("assumed {}", words.join(", ")))
}

#[cfg(test)]
mod tests;
