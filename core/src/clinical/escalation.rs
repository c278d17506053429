//! When a set of observations on the virtual ward must be escalated, and the response for its
//! band (issue 13, docs/virtual-ward.md). Pure rules over one scored set and the person's
//! personal parameters: no record, no storage.
//!
//! A set escalates when
//! * its NEWS2 total is 5 or more — or, for an incomplete set, when the parameters recorded
//!   already add up to 5 or more (missing values can only add to a total, so the band is
//!   certain to be at least medium);
//! * any single parameter scores 3;
//! * a reading lies outside the person's personal parameters agreed at admission (pulse,
//!   systolic blood pressure, respiration rate; SpO2 below its target, or above it while on
//!   oxygen — above the target on air is not a concern).
//!
//! The band is the highest that applies: high (NEWS2 ≥ 7), medium (5–6), low–medium (a single
//! 3), then personal parameter. Each band's response is the RCP's for NEWS2 (`news2`'s
//! `RESPONSE_*`), and Doorstep's own for a personal parameter.

use serde::{Deserialize, Serialize};

use super::news2::{self, News2Result, Parameter};
use super::observations::{self, Observations};
use crate::error::ValidationError;

/// An inclusive range of a whole-number reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReadingRange {
    pub low: u32,
    pub high: u32,
}

impl ReadingRange {
    pub fn contains(&self, v: u32) -> bool {
        (self.low..=self.high).contains(&v)
    }
}

/// The parameters agreed for one person at admission. Every range is optional; a reading
/// outside a range that is set raises an escalation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PersonalParameters {
    /// The prescribed SpO2 target, e.g. 88–92 % (which puts NEWS2 on SpO2 scale 2).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub spo2_target: Option<ReadingRange>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub pulse: Option<ReadingRange>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub systolic_bp: Option<ReadingRange>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub respiration_rate: Option<ReadingRange>,
    /// The person is on supplemental oxygen at home: a home device's set that does not say is
    /// scored as on oxygen (otherwise as on air).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub usually_on_oxygen: bool,
}

impl PersonalParameters {
    /// Each range within the physiological limits of its reading, low not above high.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let ranges = [
            (
                "SpO2 target",
                "%",
                self.spo2_target,
                observations::SPO2_LIMITS,
            ),
            (
                "pulse range",
                "/min",
                self.pulse,
                observations::PULSE_LIMITS,
            ),
            (
                "systolic blood pressure range",
                "mmHg",
                self.systolic_bp,
                observations::SYSTOLIC_LIMITS,
            ),
            (
                "respiration rate range",
                "/min",
                self.respiration_rate,
                observations::RESPIRATION_LIMITS,
            ),
        ];
        for (what, unit, range, limits) in ranges {
            if let Some(r) = range {
                check_range(what, unit, r, limits)?;
            }
        }
        Ok(())
    }

    /// A target whose top is 92 % or lower is the hypercapnic target NEWS2 scores on scale 2.
    pub fn wants_spo2_scale2(&self) -> bool {
        self.spo2_target.is_some_and(|t| t.high <= 92)
    }
}

fn check_range(
    what: &'static str,
    unit: &'static str,
    r: ReadingRange,
    (lo, hi): (u32, u32),
) -> Result<(), ValidationError> {
    for v in [r.low, r.high] {
        if v < lo || v > hi {
            return Err(ValidationError::OutOfRange {
                what,
                value: v.to_string(),
                unit,
                min: lo.to_string(),
                max: hi.to_string(),
            });
        }
    }
    if r.low > r.high {
        return Err(ValidationError::Inconsistent(format!(
            "the {what} runs from {} to {} {unit}: its low end must not be above its high end",
            r.low, r.high
        )));
    }
    Ok(())
}

/// Why a set escalates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case", tag = "trigger")]
pub enum Trigger {
    /// NEWS2 of 5 or more; `lower_bound` when the set is incomplete and this is what the
    /// recorded parameters already add up to.
    News2Total { total: u8, lower_bound: bool },
    /// One parameter scores 3.
    SingleParameterThree { parameter: Parameter },
    /// A reading outside the person's personal parameters.
    OutsidePersonalRange {
        parameter: Parameter,
        value: u32,
        range: ReadingRange,
    },
    /// A monitored person's home devices have sent nothing for this long (the server notices;
    /// `record::watch`).
    NoReadings { minutes: u32 },
}

impl Trigger {
    pub fn words(&self) -> String {
        match self {
            Trigger::News2Total {
                total,
                lower_bound: false,
            } => format!("NEWS2 {total}"),
            Trigger::News2Total {
                total,
                lower_bound: true,
            } => format!("NEWS2 at least {total} (incomplete set)"),
            Trigger::SingleParameterThree { parameter } => {
                format!("{} scores 3", parameter.label())
            }
            Trigger::OutsidePersonalRange {
                parameter,
                value,
                range,
            } => format!(
                "{} {value} outside the personal range {}–{}",
                parameter.label(),
                range.low,
                range.high
            ),
            Trigger::NoReadings { minutes } => {
                format!(
                    "no home-monitoring readings for {}",
                    duration_words(*minutes)
                )
            }
        }
    }
}

/// "45 min", "6 h", "6 h 10 min".
pub fn duration_words(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The band of an escalation, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum EscalationBand {
    /// NEWS2 7 or more.
    High,
    /// NEWS2 5–6.
    Medium,
    /// A single parameter scoring 3.
    LowMedium,
    /// Only a reading outside the personal parameters.
    PersonalParameter,
    /// A monitored person's devices went quiet: nothing was measured, so nothing scores. Last,
    /// so a measured concern is worked first (a reviewable clinical choice, docs/virtual-ward.md).
    NoReadings,
}

/// Doorstep's response to a reading outside the personal parameters (not an RCP band).
pub const RESPONSE_PERSONAL: &str = "Outside the personal parameters agreed at admission: the \
virtual-ward clinician reviews the person within the hour (a call or video contact), checks the \
reading and follows the escalation plan in the person's care plan; escalate to the responsible \
clinician if it is confirmed.";

/// Doorstep's response when a monitored person's devices have sent nothing for the team's time.
pub const RESPONSE_NO_READINGS: &str = "No readings from the home monitoring devices: contact \
the person (call, then video) to check they are well and the devices are charged, switched on \
and in range; if they cannot be reached, follow the ward's no-contact procedure (the next of \
kin, then a home visit).";

impl EscalationBand {
    pub fn label(&self) -> &'static str {
        match self {
            EscalationBand::High => "high",
            EscalationBand::Medium => "medium",
            EscalationBand::LowMedium => "low–medium",
            EscalationBand::PersonalParameter => "personal parameter",
            EscalationBand::NoReadings => "no readings",
        }
    }

    /// The response for the band: the RCP's for NEWS2 bands.
    pub fn response(&self) -> &'static str {
        match self {
            EscalationBand::High => news2::RESPONSE_HIGH,
            EscalationBand::Medium => news2::RESPONSE_MEDIUM,
            EscalationBand::LowMedium => news2::RESPONSE_LOW_MEDIUM,
            EscalationBand::PersonalParameter => RESPONSE_PERSONAL,
            EscalationBand::NoReadings => RESPONSE_NO_READINGS,
        }
    }
}

/// Every reason this scored set escalates (empty: it does not).
pub fn triggers(
    obs: &Observations,
    score: &News2Result,
    params: Option<&PersonalParameters>,
) -> Vec<Trigger> {
    let mut out = Vec::new();
    let recorded: u8 = score.sub_scores.iter().map(|s| s.score).sum();
    let total = score.total.unwrap_or(recorded);
    if total >= 5 {
        out.push(Trigger::News2Total {
            total,
            lower_bound: score.total.is_none(),
        });
    }
    for s in score.sub_scores.iter().filter(|s| s.score == 3) {
        out.push(Trigger::SingleParameterThree {
            parameter: s.parameter,
        });
    }
    if let Some(p) = params {
        out.extend(outside_personal(obs, p));
    }
    out
}

fn outside_personal(obs: &Observations, p: &PersonalParameters) -> Vec<Trigger> {
    let mut out = Vec::new();
    let mut check = |parameter, value: Option<u32>, range: Option<ReadingRange>, above_ok: bool| {
        if let (Some(value), Some(range)) = (value, range) {
            let outside = value < range.low || (value > range.high && !above_ok);
            if outside {
                out.push(Trigger::OutsidePersonalRange {
                    parameter,
                    value,
                    range,
                });
            }
        }
    };
    check(
        Parameter::RespirationRate,
        obs.respiration_rate,
        p.respiration_rate,
        false,
    );
    // Above the SpO2 target matters only on oxygen (too much oxygen); on air it is no concern.
    let on_air = obs.on_oxygen == Some(false);
    check(
        Parameter::OxygenSaturation,
        obs.spo2_percent,
        p.spo2_target,
        on_air,
    );
    check(Parameter::SystolicBp, obs.systolic_bp, p.systolic_bp, false);
    check(Parameter::Pulse, obs.pulse, p.pulse, false);
    out
}

/// The band of a set's triggers, or `None` when there are none.
pub fn band(triggers: &[Trigger]) -> Option<EscalationBand> {
    triggers
        .iter()
        .map(|t| match t {
            Trigger::News2Total { total, .. } if *total >= 7 => EscalationBand::High,
            Trigger::News2Total { .. } => EscalationBand::Medium,
            Trigger::SingleParameterThree { .. } => EscalationBand::LowMedium,
            Trigger::OutsidePersonalRange { .. } => EscalationBand::PersonalParameter,
            Trigger::NoReadings { .. } => EscalationBand::NoReadings,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::news2::{score, SpO2Scale};

    fn normal() -> Observations {
        crate::testing::normal_observations()
    }

    fn run(o: &Observations, scale: SpO2Scale, p: Option<&PersonalParameters>) -> Vec<Trigger> {
        triggers(o, &score(o, scale), p)
    }

    #[test]
    fn a_normal_set_does_not_escalate() {
        assert!(run(&normal(), SpO2Scale::Scale1, None).is_empty());
        assert_eq!(band(&[]), None);
    }

    #[test]
    fn news2_five_is_medium_and_seven_is_high() {
        // RR 22 (2) + pulse 112 (2) + temp 38.5 (1) = 5.
        let o = Observations {
            respiration_rate: Some(22),
            pulse: Some(112),
            temperature_c: Some(38.5),
            ..normal()
        };
        let t = run(&o, SpO2Scale::Scale1, None);
        assert_eq!(
            t,
            vec![Trigger::News2Total {
                total: 5,
                lower_bound: false
            }]
        );
        assert_eq!(band(&t), Some(EscalationBand::Medium));
        assert_eq!(EscalationBand::Medium.response(), news2::RESPONSE_MEDIUM);
        let o = Observations {
            systolic_bp: Some(95),
            ..o
        };
        let t = run(&o, SpO2Scale::Scale1, None);
        assert_eq!(band(&t), Some(EscalationBand::High), "{t:?}");
    }

    #[test]
    fn a_single_three_escalates_low_medium_even_in_an_incomplete_set() {
        let o = Observations {
            respiration_rate: Some(26),
            temperature_c: None,
            ..normal()
        };
        let t = run(&o, SpO2Scale::Scale1, None);
        assert_eq!(
            t,
            vec![Trigger::SingleParameterThree {
                parameter: Parameter::RespirationRate
            }]
        );
        assert_eq!(band(&t), Some(EscalationBand::LowMedium));
    }

    #[test]
    fn an_incomplete_set_already_at_five_escalates_as_a_lower_bound() {
        let o = Observations {
            respiration_rate: Some(22),
            pulse: Some(112),
            temperature_c: Some(38.5),
            consciousness: None,
            ..normal()
        };
        let t = run(&o, SpO2Scale::Scale1, None);
        assert_eq!(
            t,
            vec![Trigger::News2Total {
                total: 5,
                lower_bound: true
            }]
        );
    }

    #[test]
    fn scale_two_with_a_target_does_not_escalate_at_ninety_on_air() {
        let p = PersonalParameters {
            spo2_target: Some(ReadingRange { low: 88, high: 92 }),
            ..Default::default()
        };
        assert!(p.wants_spo2_scale2());
        let o = Observations {
            spo2_percent: Some(90),
            ..normal()
        };
        // On scale 1, 90 % scores 3; on scale 2, 0 and within the target.
        assert_eq!(
            band(&run(&o, SpO2Scale::Scale1, None)),
            Some(EscalationBand::LowMedium)
        );
        assert!(run(&o, SpO2Scale::Scale2, Some(&p)).is_empty());
        // 86 % is below the target: scale 2 scores it 1, the personal range escalates it.
        let low = Observations {
            spo2_percent: Some(86),
            ..normal()
        };
        let t = run(&low, SpO2Scale::Scale2, Some(&p));
        assert_eq!(band(&t), Some(EscalationBand::PersonalParameter), "{t:?}");
        // 96 % on air is no concern; on oxygen it is above the target.
        let high = Observations {
            spo2_percent: Some(96),
            ..normal()
        };
        assert!(run(&high, SpO2Scale::Scale2, Some(&p)).is_empty());
        let on_o2 = Observations {
            on_oxygen: Some(true),
            ..high
        };
        let t = run(&on_o2, SpO2Scale::Scale2, Some(&p));
        assert!(
            t.iter().any(|t| matches!(
                t,
                Trigger::OutsidePersonalRange {
                    parameter: Parameter::OxygenSaturation,
                    value: 96,
                    ..
                }
            )),
            "{t:?}"
        );
    }

    #[test]
    fn a_personal_pulse_range_escalates_a_pulse_news2_ignores() {
        let p = PersonalParameters {
            pulse: Some(ReadingRange { low: 55, high: 85 }),
            ..Default::default()
        };
        let o = Observations {
            pulse: Some(88),
            ..normal()
        };
        let t = run(&o, SpO2Scale::Scale1, Some(&p));
        assert_eq!(
            t,
            vec![Trigger::OutsidePersonalRange {
                parameter: Parameter::Pulse,
                value: 88,
                range: ReadingRange { low: 55, high: 85 }
            }]
        );
        assert_eq!(t[0].words(), "pulse 88 outside the personal range 55–85");
    }

    #[test]
    fn impossible_or_inverted_ranges_are_refused() {
        let inverted = PersonalParameters {
            pulse: Some(ReadingRange { low: 90, high: 60 }),
            ..Default::default()
        };
        assert!(matches!(
            inverted.validate(),
            Err(ValidationError::Inconsistent(_))
        ));
        let impossible = PersonalParameters {
            spo2_target: Some(ReadingRange { low: 30, high: 92 }),
            ..Default::default()
        };
        assert!(matches!(
            impossible.validate(),
            Err(ValidationError::OutOfRange { .. })
        ));
        assert!(PersonalParameters::default().validate().is_ok());
    }
}
