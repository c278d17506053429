//! A set of vital-sign observations taken together, and its physiological validation.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Level of consciousness on the ACVPU scale used by NEWS2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Consciousness {
    Alert,
    /// New confusion (or new disorientation / agitation).
    NewConfusion,
    Voice,
    Pain,
    Unresponsive,
}

/// One set of observations. Every field is optional so that a partial set can be recorded;
/// NEWS2 reports a partial set as incomplete rather than scoring missing values as normal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Observations {
    /// Breaths per minute.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub respiration_rate: Option<u32>,
    /// Peripheral oxygen saturation, percent.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub spo2_percent: Option<u32>,
    /// True when the person is on supplemental oxygen, false on room air.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub on_oxygen: Option<bool>,
    /// Systolic blood pressure, mmHg.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub systolic_bp: Option<u32>,
    /// Diastolic blood pressure, mmHg (recorded, not scored by NEWS2).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub diastolic_bp: Option<u32>,
    /// Pulse, beats per minute.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub pulse: Option<u32>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub consciousness: Option<Consciousness>,
    /// Temperature, degrees Celsius.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub temperature_c: Option<f64>,
}

/// Physiological limits: values outside these are almost certainly entry errors.
pub const RESPIRATION_LIMITS: (u32, u32) = (0, 80);
pub const SPO2_LIMITS: (u32, u32) = (50, 100);
pub const SYSTOLIC_LIMITS: (u32, u32) = (40, 300);
pub const DIASTOLIC_LIMITS: (u32, u32) = (20, 200);
pub const PULSE_LIMITS: (u32, u32) = (20, 250);
pub const TEMPERATURE_LIMITS: (f64, f64) = (25.0, 45.0);

impl Observations {
    /// True when nothing at all was recorded.
    pub fn is_empty(&self) -> bool {
        self == &Observations::default()
    }

    /// Check every recorded value against its physiological limits.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.is_empty() {
            return Err(ValidationError::MissingField {
                field: "observations",
                hint: "record at least one observation",
            });
        }
        check_u32(
            "respiration rate",
            "/min",
            self.respiration_rate,
            RESPIRATION_LIMITS,
        )?;
        check_u32("SpO2", "%", self.spo2_percent, SPO2_LIMITS)?;
        check_u32(
            "systolic blood pressure",
            "mmHg",
            self.systolic_bp,
            SYSTOLIC_LIMITS,
        )?;
        check_u32(
            "diastolic blood pressure",
            "mmHg",
            self.diastolic_bp,
            DIASTOLIC_LIMITS,
        )?;
        check_u32("pulse", "/min", self.pulse, PULSE_LIMITS)?;
        if let (Some(dia), Some(sys)) = (self.diastolic_bp, self.systolic_bp) {
            if dia >= sys {
                return Err(ValidationError::Inconsistent(format!(
                    "diastolic blood pressure {dia} mmHg is not below systolic {sys} mmHg: check the reading"
                )));
            }
        }
        if let Some(t) = self.temperature_c {
            let (lo, hi) = TEMPERATURE_LIMITS;
            if !t.is_finite() || t < lo || t > hi {
                return Err(ValidationError::OutOfRange {
                    what: "temperature",
                    value: format!("{t}"),
                    unit: "°C",
                    min: format!("{lo}"),
                    max: format!("{hi}"),
                });
            }
        }
        Ok(())
    }
}

fn check_u32(
    what: &'static str,
    unit: &'static str,
    value: Option<u32>,
    (lo, hi): (u32, u32),
) -> Result<(), ValidationError> {
    match value {
        Some(v) if v < lo || v > hi => Err(ValidationError::OutOfRange {
            what,
            value: v.to_string(),
            unit,
            min: lo.to_string(),
            max: hi.to_string(),
        }),
        _ => Ok(()),
    }
}
