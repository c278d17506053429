//! National Early Warning Score 2 (NEWS2), scored exactly as on the Royal College of Physicians
//! chart (RCP, December 2017).
//!
//! [`score`] turns one set of [`Observations`] into a [`News2Result`]: a sub-score for every
//! parameter that was recorded, the parameters that were not, and — only when the set is
//! complete — the total, the clinical-risk band and the RCP's recommended clinical response.
//! A missing value is never scored as 0: a partial set has no total and no risk band.
//!
//! Banding notes:
//! * Temperature is rounded to one decimal place, half away from zero, before banding, so
//!   36.04 °C is banded as 36.0 (score 1) and 36.05 °C as 36.1 (score 0). Rounding is done on
//!   the decimal value as entered (the shortest decimal form of the `f64`), so binary
//!   floating-point error cannot move a reading across a band edge. A temperature that is not a
//!   finite number is treated as not recorded.
//! * SpO2 scale 2 is used only when the caller says it has been prescribed for a person with
//!   hypercapnic respiratory failure. On scale 2 a saturation of 93 % or more scores 0 on air but
//!   1–3 on oxygen, so it cannot be scored until air/oxygen is known.

use serde::{Deserialize, Serialize};

use crate::clinical::observations::{Consciousness, Observations};

/// Which SpO2 scale to score oxygen saturation on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum SpO2Scale {
    /// The default scale.
    Scale1,
    /// Only for a person with hypercapnic respiratory failure for whom a target range of
    /// 88–92 % has been prescribed by a competent clinical decision maker.
    Scale2,
}

/// One NEWS2 parameter. The declaration order is the order of the RCP chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Parameter {
    RespirationRate,
    OxygenSaturation,
    AirOrOxygen,
    SystolicBp,
    Pulse,
    Consciousness,
    Temperature,
}

impl Parameter {
    /// Every parameter, in chart order.
    pub const ALL: [Parameter; 7] = [
        Parameter::RespirationRate,
        Parameter::OxygenSaturation,
        Parameter::AirOrOxygen,
        Parameter::SystolicBp,
        Parameter::Pulse,
        Parameter::Consciousness,
        Parameter::Temperature,
    ];

    /// Plain-language name, lower case, for use inside a sentence.
    pub fn label(&self) -> &'static str {
        match self {
            Parameter::RespirationRate => "respiration rate",
            Parameter::OxygenSaturation => "oxygen saturation (SpO2)",
            Parameter::AirOrOxygen => "air or oxygen",
            Parameter::SystolicBp => "systolic blood pressure",
            Parameter::Pulse => "pulse",
            Parameter::Consciousness => "level of consciousness",
            Parameter::Temperature => "temperature",
        }
    }
}

/// The score (0–3) one parameter contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SubScore {
    pub parameter: Parameter,
    pub score: u8,
}

/// The RCP clinical-risk band of a complete NEWS2 score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ClinicalRisk {
    /// Total 0–4 with no single parameter scoring 3.
    Low,
    /// Total 0–4 with a score of 3 in a single parameter.
    LowMedium,
    /// Total 5–6.
    Medium,
    /// Total 7 or more.
    High,
}

impl ClinicalRisk {
    pub fn label(&self) -> &'static str {
        match self {
            ClinicalRisk::Low => "low",
            ClinicalRisk::LowMedium => "low–medium",
            ClinicalRisk::Medium => "medium",
            ClinicalRisk::High => "high",
        }
    }
}

/// The outcome of scoring one set of observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct News2Result {
    pub scale: SpO2Scale,
    /// One per parameter that could be scored, in chart order.
    pub sub_scores: Vec<SubScore>,
    /// Parameters that could not be scored, in chart order (empty when complete).
    pub missing: Vec<Parameter>,
    /// `None` when any parameter is missing.
    pub total: Option<u8>,
    /// `None` when any parameter is missing.
    pub risk: Option<ClinicalRisk>,
    /// The RCP recommended clinical response for the band or, when incomplete, what to record
    /// before a score can be given.
    pub response: String,
}

impl News2Result {
    /// True when every parameter was scored, so `total` and `risk` are present.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// True when any scored parameter scores 3 — on its own a trigger for urgent review.
    pub fn any_single_three(&self) -> bool {
        self.sub_scores.iter().any(|s| s.score == 3)
    }
}

/// RCP response for a total of 0.
pub const RESPONSE_ZERO: &str = "NEWS2 score 0: monitor at least every 12 hours. \
Continue routine NEWS2 monitoring.";

/// RCP response for a total of 1–4 with no single parameter scoring 3.
pub const RESPONSE_LOW: &str = "Low clinical risk (NEWS2 score 1–4): monitor at least every \
4–6 hours. A registered nurse must assess the patient and decide whether monitoring should be \
more frequent or care should be escalated.";

/// RCP response for a score of 3 in a single parameter (total 4 or less).
pub const RESPONSE_LOW_MEDIUM: &str = "Low–medium clinical risk (a score of 3 in a single \
parameter): monitor at least every hour. A registered nurse should inform the medical team \
caring for the patient, who will review and decide whether escalation of care is necessary \
(urgent ward-based response).";

/// RCP response for a total of 5–6.
pub const RESPONSE_MEDIUM: &str = "Medium clinical risk (NEWS2 score 5–6, the key threshold for \
an urgent response): monitor at least every hour. A registered nurse should immediately inform \
the medical team caring for the patient and request urgent assessment by a clinician or team \
with core competencies in the care of acutely ill patients. Provide clinical care in an \
environment with monitoring facilities.";

/// RCP response for a total of 7 or more.
pub const RESPONSE_HIGH: &str = "High clinical risk (NEWS2 score 7 or more, urgent or emergency \
response): monitor vital signs continuously. A registered nurse should immediately inform the \
medical team caring for the patient — at least at specialist registrar level. Emergency \
assessment by a team with critical-care competencies, including practitioner(s) with advanced \
airway management skills. Consider transfer of care to a level 2 or 3 clinical care facility \
(higher-dependency unit or ICU). Provide clinical care in an environment with monitoring \
facilities.";

/// Score one set of observations on the given SpO2 scale.
pub fn score(obs: &Observations, scale: SpO2Scale) -> News2Result {
    let spo2 = match (obs.spo2_percent, scale) {
        (None, _) => None,
        (Some(s), SpO2Scale::Scale1) => Some(spo2_scale1(s)),
        (Some(s), SpO2Scale::Scale2) => spo2_scale2(s, obs.on_oxygen),
    };
    let scored: [(Parameter, Option<u8>); 7] = [
        (
            Parameter::RespirationRate,
            obs.respiration_rate.map(respiration),
        ),
        (Parameter::OxygenSaturation, spo2),
        (Parameter::AirOrOxygen, obs.on_oxygen.map(air_or_oxygen)),
        (Parameter::SystolicBp, obs.systolic_bp.map(systolic)),
        (Parameter::Pulse, obs.pulse.map(pulse)),
        (
            Parameter::Consciousness,
            obs.consciousness.map(consciousness),
        ),
        (
            Parameter::Temperature,
            obs.temperature_c.and_then(temperature),
        ),
    ];

    let mut sub_scores = Vec::new();
    let mut missing = Vec::new();
    for (parameter, s) in scored {
        match s {
            Some(score) => sub_scores.push(SubScore { parameter, score }),
            None => missing.push(parameter),
        }
    }

    let mut result = News2Result {
        scale,
        sub_scores,
        missing,
        total: None,
        risk: None,
        response: String::new(),
    };
    let recorded_total: u8 = result.sub_scores.iter().map(|s| s.score).sum();
    if result.is_complete() {
        let risk = risk_band(recorded_total, result.any_single_three());
        result.total = Some(recorded_total);
        result.risk = Some(risk);
        result.response = response_for(recorded_total, risk).to_string();
    } else {
        result.response = incomplete_response(obs, &result, recorded_total);
    }
    result
}

/// Clinical-risk band for a complete total.
fn risk_band(total: u8, any_single_three: bool) -> ClinicalRisk {
    match total {
        7.. => ClinicalRisk::High,
        5..=6 => ClinicalRisk::Medium,
        _ if any_single_three => ClinicalRisk::LowMedium,
        _ => ClinicalRisk::Low,
    }
}

fn response_for(total: u8, risk: ClinicalRisk) -> &'static str {
    match risk {
        ClinicalRisk::Low if total == 0 => RESPONSE_ZERO,
        ClinicalRisk::Low => RESPONSE_LOW,
        ClinicalRisk::LowMedium => RESPONSE_LOW_MEDIUM,
        ClinicalRisk::Medium => RESPONSE_MEDIUM,
        ClinicalRisk::High => RESPONSE_HIGH,
    }
}

/// What to say when a score cannot be given yet.
fn incomplete_response(obs: &Observations, result: &News2Result, recorded_total: u8) -> String {
    // On scale 2 an SpO2 of 93 % or more is recorded but cannot be scored until air/oxygen is
    // known: ask for air/oxygen, not for the saturation again.
    let spo2_waits_for_oxygen =
        obs.spo2_percent.is_some() && result.missing.contains(&Parameter::OxygenSaturation);
    let to_record: Vec<&str> = result
        .missing
        .iter()
        .filter(|p| !(spo2_waits_for_oxygen && **p == Parameter::OxygenSaturation))
        .map(Parameter::label)
        .collect();

    let mut msg = format!(
        "No NEWS2 score yet: record {} before a score can be given.",
        join_list(&to_record)
    );
    if spo2_waits_for_oxygen {
        msg.push_str(
            " On SpO2 scale 2, a saturation of 93% or more scores differently on air and on \
             oxygen.",
        );
    }
    // Sub-scores are in chart order, so the names are too.
    let threes: Vec<&str> = result
        .sub_scores
        .iter()
        .filter(|s| s.score == 3)
        .map(|s| s.parameter.label())
        .collect();
    if !threes.is_empty() {
        let (verb, alone) = if threes.len() == 1 {
            ("already scores", "that alone needs")
        } else {
            ("each already score", "each alone needs")
        };
        msg.push_str(&format!(
            " {} {verb} 3: {alone} urgent review — a registered nurse should inform the medical \
             team caring for the patient now.",
            capitalise(&join_list(&threes))
        ));
    }
    // Missing values can only add to the total, so what is recorded is a lower bound.
    if recorded_total >= 5 {
        let band = if recorded_total >= 7 {
            "high"
        } else {
            "medium"
        };
        msg.push_str(&format!(
            " The recorded parameters already add up to {recorded_total}, which alone reaches \
             the {band} clinical-risk threshold."
        ));
    }
    msg
}

fn join_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Breaths per minute.
fn respiration(rate: u32) -> u8 {
    match rate {
        0..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        _ => 3,
    }
}

/// SpO2 scale 1.
fn spo2_scale1(spo2: u32) -> u8 {
    match spo2 {
        0..=91 => 3,
        92..=93 => 2,
        94..=95 => 1,
        _ => 0,
    }
}

/// SpO2 scale 2. `None` when the saturation is 93 % or more and air/oxygen is not known.
fn spo2_scale2(spo2: u32, on_oxygen: Option<bool>) -> Option<u8> {
    match (spo2, on_oxygen) {
        (0..=83, _) => Some(3),
        (84..=85, _) => Some(2),
        (86..=87, _) => Some(1),
        (88..=92, _) => Some(0),
        (_, None) => None,
        (_, Some(false)) => Some(0),
        (93..=94, Some(true)) => Some(1),
        (95..=96, Some(true)) => Some(2),
        (_, Some(true)) => Some(3),
    }
}

fn air_or_oxygen(on_oxygen: bool) -> u8 {
    if on_oxygen {
        2
    } else {
        0
    }
}

/// Systolic blood pressure, mmHg.
fn systolic(bp: u32) -> u8 {
    match bp {
        0..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        _ => 3,
    }
}

/// Pulse, beats per minute.
fn pulse(rate: u32) -> u8 {
    match rate {
        0..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        _ => 3,
    }
}

/// ACVPU: anything other than Alert scores 3.
fn consciousness(c: Consciousness) -> u8 {
    match c {
        Consciousness::Alert => 0,
        Consciousness::NewConfusion
        | Consciousness::Voice
        | Consciousness::Pain
        | Consciousness::Unresponsive => 3,
    }
}

/// Degrees Celsius, banded after rounding to one decimal place. `None` if not finite.
fn temperature(t: f64) -> Option<u8> {
    let tenths = round_to_tenths(t)?;
    Some(match tenths {
        i64::MIN..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        _ => 2,
    })
}

/// `t` in tenths, rounded half away from zero. The rounding is done on the shortest decimal
/// representation of `t` (what Rust prints, which is what was typed for any ordinary reading),
/// so 36.05 — stored as 36.04999… in binary — rounds to 36.1 as a person would expect.
pub(crate) fn round_to_tenths(t: f64) -> Option<i64> {
    if !t.is_finite() {
        return None;
    }
    let magnitude = t.abs();
    if magnitude >= 1e15 {
        // Far outside any physiological value; precision no longer matters.
        return Some((t * 10.0).round() as i64);
    }
    // `Display` for f64 never uses exponent notation and gives the shortest round-trip form.
    let text = format!("{magnitude}");
    let (whole, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let whole: i64 = whole.parse().ok()?;
    let mut digits = frac.bytes().map(|b| i64::from(b - b'0'));
    let first = digits.next().unwrap_or(0);
    let round_up = digits.next().unwrap_or(0) >= 5;
    let tenths = whole * 10 + first + i64::from(round_up);
    Some(if t.is_sign_negative() {
        -tenths
    } else {
        tenths
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete set that scores 0 everywhere.
    fn normal() -> Observations {
        Observations {
            respiration_rate: Some(16),
            spo2_percent: Some(97),
            on_oxygen: Some(false),
            systolic_bp: Some(120),
            diastolic_bp: Some(80),
            pulse: Some(70),
            consciousness: Some(Consciousness::Alert),
            temperature_c: Some(37.0),
        }
    }

    fn sub(result: &News2Result, p: Parameter) -> Option<u8> {
        result
            .sub_scores
            .iter()
            .find(|s| s.parameter == p)
            .map(|s| s.score)
    }

    /// Score `obs` and return the sub-score of `p`, checking the set is complete.
    fn scored(obs: &Observations, scale: SpO2Scale, p: Parameter) -> u8 {
        let r = score(obs, scale);
        assert!(r.is_complete(), "{obs:?} should be complete: {r:?}");
        sub(&r, p).unwrap()
    }

    #[test]
    fn respiration_band_edges() {
        for (rate, expected) in [
            (0, 3),
            (8, 3),
            (9, 1),
            (11, 1),
            (12, 0),
            (20, 0),
            (21, 2),
            (24, 2),
            (25, 3),
            (60, 3),
        ] {
            let obs = Observations {
                respiration_rate: Some(rate),
                ..normal()
            };
            let got = scored(&obs, SpO2Scale::Scale1, Parameter::RespirationRate);
            assert_eq!(got, expected, "respiration rate {rate}");
        }
    }

    #[test]
    fn spo2_scale1_band_edges() {
        for on_oxygen in [false, true] {
            for (spo2, expected) in [
                (70, 3),
                (91, 3),
                (92, 2),
                (93, 2),
                (94, 1),
                (95, 1),
                (96, 0),
                (100, 0),
            ] {
                let obs = Observations {
                    spo2_percent: Some(spo2),
                    on_oxygen: Some(on_oxygen),
                    ..normal()
                };
                let got = scored(&obs, SpO2Scale::Scale1, Parameter::OxygenSaturation);
                assert_eq!(got, expected, "scale 1 SpO2 {spo2}, oxygen {on_oxygen}");
            }
        }
    }

    #[test]
    fn spo2_scale2_band_edges() {
        // (SpO2, score on air, score on oxygen)
        for (spo2, on_air, on_oxygen) in [
            (70, 3, 3),
            (83, 3, 3),
            (84, 2, 2),
            (85, 2, 2),
            (86, 1, 1),
            (87, 1, 1),
            (88, 0, 0),
            (92, 0, 0),
            (93, 0, 1),
            (94, 0, 1),
            (95, 0, 2),
            (96, 0, 2),
            (97, 0, 3),
            (100, 0, 3),
        ] {
            for (oxygen, expected) in [(false, on_air), (true, on_oxygen)] {
                let obs = Observations {
                    spo2_percent: Some(spo2),
                    on_oxygen: Some(oxygen),
                    ..normal()
                };
                let got = scored(&obs, SpO2Scale::Scale2, Parameter::OxygenSaturation);
                assert_eq!(got, expected, "scale 2 SpO2 {spo2}, oxygen {oxygen}");
            }
        }
    }

    #[test]
    fn air_or_oxygen_scores() {
        for (oxygen, expected) in [(false, 0), (true, 2)] {
            for scale in [SpO2Scale::Scale1, SpO2Scale::Scale2] {
                let obs = Observations {
                    on_oxygen: Some(oxygen),
                    ..normal()
                };
                assert_eq!(scored(&obs, scale, Parameter::AirOrOxygen), expected);
            }
        }
    }

    #[test]
    fn systolic_band_edges() {
        for (bp, expected) in [
            (50, 3),
            (90, 3),
            (91, 2),
            (100, 2),
            (101, 1),
            (110, 1),
            (111, 0),
            (219, 0),
            (220, 3),
            (260, 3),
        ] {
            let obs = Observations {
                systolic_bp: Some(bp),
                diastolic_bp: None,
                ..normal()
            };
            let got = scored(&obs, SpO2Scale::Scale1, Parameter::SystolicBp);
            assert_eq!(got, expected, "systolic {bp}");
        }
    }

    #[test]
    fn pulse_band_edges() {
        for (rate, expected) in [
            (30, 3),
            (40, 3),
            (41, 1),
            (50, 1),
            (51, 0),
            (90, 0),
            (91, 1),
            (110, 1),
            (111, 2),
            (130, 2),
            (131, 3),
            (200, 3),
        ] {
            let obs = Observations {
                pulse: Some(rate),
                ..normal()
            };
            let got = scored(&obs, SpO2Scale::Scale1, Parameter::Pulse);
            assert_eq!(got, expected, "pulse {rate}");
        }
    }

    #[test]
    fn every_acvpu_value() {
        for (c, expected) in [
            (Consciousness::Alert, 0),
            (Consciousness::NewConfusion, 3),
            (Consciousness::Voice, 3),
            (Consciousness::Pain, 3),
            (Consciousness::Unresponsive, 3),
        ] {
            let obs = Observations {
                consciousness: Some(c),
                ..normal()
            };
            assert_eq!(
                scored(&obs, SpO2Scale::Scale1, Parameter::Consciousness),
                expected
            );
            // A single 3 on its own (total 3) is low–medium risk.
            let r = score(&obs, SpO2Scale::Scale1);
            let risk = if expected == 3 {
                ClinicalRisk::LowMedium
            } else {
                ClinicalRisk::Low
            };
            assert_eq!(r.risk, Some(risk), "{c:?}");
        }
    }

    #[test]
    fn temperature_band_edges_and_rounding() {
        for (t, expected) in [
            (30.0, 3),
            (35.0, 3),
            (35.1, 1),
            (36.0, 1),
            (36.1, 0),
            (38.0, 0),
            (38.1, 1),
            (39.0, 1),
            (39.1, 2),
            (42.0, 2),
            // Rounded to one decimal place, half away from zero, before banding.
            (35.04, 3),
            (35.05, 1),
            (36.04, 1),
            (36.05, 0),
            (38.04, 0),
            (38.05, 1),
            (39.04, 1),
            (39.05, 2),
            (36.049, 1),
            (36.0999, 0),
        ] {
            let obs = Observations {
                temperature_c: Some(t),
                ..normal()
            };
            let got = scored(&obs, SpO2Scale::Scale1, Parameter::Temperature);
            assert_eq!(got, expected, "temperature {t}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        for (t, tenths) in [
            (36.05, 361),
            (36.04, 360),
            (0.05, 1),
            (-0.05, -1),
            (-36.05, -361),
            (37.0, 370),
            (37.95, 380),
            (0.0, 0),
        ] {
            assert_eq!(round_to_tenths(t), Some(tenths), "{t}");
        }
        assert_eq!(round_to_tenths(f64::NAN), None);
        assert_eq!(round_to_tenths(f64::INFINITY), None);
    }

    #[test]
    fn risk_bands_and_responses() {
        let base = normal();
        // (observations, total, risk, response)
        let cases = [
            (base.clone(), 0, ClinicalRisk::Low, RESPONSE_ZERO),
            // 1: pulse 91.
            (
                Observations {
                    pulse: Some(91),
                    ..base.clone()
                },
                1,
                ClinicalRisk::Low,
                RESPONSE_LOW,
            ),
            // 4: resp 21 (2) + pulse 91 (1) + temp 38.1 (1).
            (
                Observations {
                    respiration_rate: Some(21),
                    pulse: Some(91),
                    temperature_c: Some(38.1),
                    ..base.clone()
                },
                4,
                ClinicalRisk::Low,
                RESPONSE_LOW,
            ),
            // 5: as above + systolic 101 (1).
            (
                Observations {
                    respiration_rate: Some(21),
                    pulse: Some(91),
                    temperature_c: Some(38.1),
                    systolic_bp: Some(101),
                    ..base.clone()
                },
                5,
                ClinicalRisk::Medium,
                RESPONSE_MEDIUM,
            ),
            // 6: oxygen (2) + resp 21 (2) + pulse 91 (1) + temp 38.1 (1).
            (
                Observations {
                    on_oxygen: Some(true),
                    respiration_rate: Some(21),
                    pulse: Some(91),
                    temperature_c: Some(38.1),
                    ..base.clone()
                },
                6,
                ClinicalRisk::Medium,
                RESPONSE_MEDIUM,
            ),
            // 7: as above + systolic 101 (1).
            (
                Observations {
                    on_oxygen: Some(true),
                    respiration_rate: Some(21),
                    pulse: Some(91),
                    temperature_c: Some(38.1),
                    systolic_bp: Some(101),
                    ..base.clone()
                },
                7,
                ClinicalRisk::High,
                RESPONSE_HIGH,
            ),
            // A single 3 with total 3.
            (
                Observations {
                    respiration_rate: Some(8),
                    ..base.clone()
                },
                3,
                ClinicalRisk::LowMedium,
                RESPONSE_LOW_MEDIUM,
            ),
            // A single 3 with total 4.
            (
                Observations {
                    respiration_rate: Some(8),
                    pulse: Some(91),
                    ..base.clone()
                },
                4,
                ClinicalRisk::LowMedium,
                RESPONSE_LOW_MEDIUM,
            ),
            // A single 3 with total 5: the total decides.
            (
                Observations {
                    consciousness: Some(Consciousness::Voice),
                    respiration_rate: Some(21),
                    ..base.clone()
                },
                5,
                ClinicalRisk::Medium,
                RESPONSE_MEDIUM,
            ),
            // Two 3s with total 7.
            (
                Observations {
                    consciousness: Some(Consciousness::Pain),
                    systolic_bp: Some(85),
                    diastolic_bp: Some(50),
                    pulse: Some(91),
                    ..base.clone()
                },
                7,
                ClinicalRisk::High,
                RESPONSE_HIGH,
            ),
            // Maximum: 3+3+2+3+3+3+2 = 19.
            (
                Observations {
                    respiration_rate: Some(30),
                    spo2_percent: Some(85),
                    on_oxygen: Some(true),
                    systolic_bp: Some(80),
                    diastolic_bp: Some(40),
                    pulse: Some(140),
                    consciousness: Some(Consciousness::Unresponsive),
                    temperature_c: Some(40.0),
                },
                19,
                ClinicalRisk::High,
                RESPONSE_HIGH,
            ),
        ];
        for (obs, total, risk, response) in cases {
            let r = score(&obs, SpO2Scale::Scale1);
            assert!(r.is_complete());
            assert!(r.missing.is_empty());
            assert_eq!(r.sub_scores.len(), 7);
            assert_eq!(r.total, Some(total), "{obs:?}");
            assert_eq!(r.risk, Some(risk), "{obs:?}");
            assert_eq!(r.response, response, "{obs:?}");
        }
        assert_ne!(RESPONSE_ZERO, RESPONSE_LOW);
        assert!(RESPONSE_ZERO.contains("12 hours"));
        assert!(RESPONSE_LOW.contains("4–6 hours"));
        assert!(RESPONSE_HIGH.contains("specialist registrar"));
    }

    #[test]
    fn sub_scores_are_in_chart_order() {
        let r = score(&normal(), SpO2Scale::Scale1);
        let order: Vec<Parameter> = r.sub_scores.iter().map(|s| s.parameter).collect();
        assert_eq!(order, Parameter::ALL);
        assert_eq!(r.scale, SpO2Scale::Scale1);
    }

    #[test]
    fn incomplete_set_has_no_total_and_names_what_is_missing() {
        let obs = Observations {
            respiration_rate: None,
            temperature_c: None,
            ..normal()
        };
        let r = score(&obs, SpO2Scale::Scale1);
        assert!(!r.is_complete());
        assert_eq!(r.total, None);
        assert_eq!(r.risk, None);
        assert_eq!(
            r.missing,
            vec![Parameter::RespirationRate, Parameter::Temperature]
        );
        assert_eq!(r.sub_scores.len(), 5);
        assert!(
            r.response.contains("respiration rate and temperature"),
            "{}",
            r.response
        );
        assert!(!r.response.contains("urgent"), "{}", r.response);

        // Nothing recorded at all: everything missing, nothing scored as 0.
        let r = score(&Observations::default(), SpO2Scale::Scale1);
        assert_eq!(r.missing, Parameter::ALL);
        assert!(r.sub_scores.is_empty());
        assert_eq!(r.total, None);
        for p in Parameter::ALL {
            assert!(r.response.contains(p.label()), "{p:?}: {}", r.response);
        }
    }

    #[test]
    fn incomplete_set_with_a_three_says_review_is_needed() {
        let obs = Observations {
            pulse: None,
            consciousness: Some(Consciousness::NewConfusion),
            ..normal()
        };
        let r = score(&obs, SpO2Scale::Scale1);
        assert_eq!(r.total, None);
        assert_eq!(r.risk, None);
        assert!(r.any_single_three());
        assert_eq!(r.missing, vec![Parameter::Pulse]);
        assert!(r.response.contains("record pulse"), "{}", r.response);
        assert!(
            r.response
                .contains("Level of consciousness already scores 3"),
            "{}",
            r.response
        );
        assert!(r.response.contains("urgent review"), "{}", r.response);

        // The recorded part already reaching a threshold is said too.
        let obs = Observations {
            temperature_c: None,
            respiration_rate: Some(30),
            systolic_bp: Some(85),
            diastolic_bp: Some(50),
            pulse: Some(91),
            ..normal()
        };
        let r = score(&obs, SpO2Scale::Scale1);
        assert_eq!(r.total, None);
        assert!(
            r.response
                .contains("Respiration rate and systolic blood pressure each already score 3"),
            "{}",
            r.response
        );
        assert!(r.response.contains("add up to 7"), "{}", r.response);
        assert!(r.response.contains("high"), "{}", r.response);
    }

    #[test]
    fn missing_air_or_oxygen() {
        // Scale 1: SpO2 can still be scored, air/oxygen cannot.
        let obs = Observations {
            on_oxygen: None,
            ..normal()
        };
        let r = score(&obs, SpO2Scale::Scale1);
        assert_eq!(r.missing, vec![Parameter::AirOrOxygen]);
        assert_eq!(sub(&r, Parameter::OxygenSaturation), Some(0));
        assert_eq!(r.total, None);

        // Scale 2 with SpO2 of 93 or more: neither can be scored.
        for spo2 in [93, 97] {
            let obs = Observations {
                on_oxygen: None,
                spo2_percent: Some(spo2),
                ..normal()
            };
            let r = score(&obs, SpO2Scale::Scale2);
            assert_eq!(
                r.missing,
                vec![Parameter::OxygenSaturation, Parameter::AirOrOxygen]
            );
            assert_eq!(r.total, None);
            assert!(
                r.response.contains("record air or oxygen before"),
                "{}",
                r.response
            );
            assert!(r.response.contains("scale 2"), "{}", r.response);
        }

        // Scale 2 below 93: SpO2 scores without knowing air/oxygen.
        let obs = Observations {
            on_oxygen: None,
            spo2_percent: Some(83),
            ..normal()
        };
        let r = score(&obs, SpO2Scale::Scale2);
        assert_eq!(r.missing, vec![Parameter::AirOrOxygen]);
        assert_eq!(sub(&r, Parameter::OxygenSaturation), Some(3));
        assert!(
            r.response
                .contains("Oxygen saturation (SpO2) already scores 3"),
            "{}",
            r.response
        );
    }

    #[test]
    fn non_finite_temperature_is_missing() {
        let obs = Observations {
            temperature_c: Some(f64::NAN),
            ..normal()
        };
        let r = score(&obs, SpO2Scale::Scale1);
        assert_eq!(r.missing, vec![Parameter::Temperature]);
        assert_eq!(r.total, None);
    }

    #[test]
    fn labels_and_serde() {
        assert_eq!(Parameter::RespirationRate.label(), "respiration rate");
        assert_eq!(ClinicalRisk::LowMedium.label(), "low–medium");
        assert_eq!(ClinicalRisk::High.label(), "high");
        assert_eq!(
            serde_json::to_string(&SpO2Scale::Scale2).unwrap(),
            "\"scale2\""
        );
        assert_eq!(
            serde_json::to_string(&ClinicalRisk::LowMedium).unwrap(),
            "\"low_medium\""
        );
        let r = score(&normal(), SpO2Scale::Scale2);
        let back: News2Result = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
