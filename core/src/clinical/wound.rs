//! Wound assessment: what is measured and checked, and the area's trend (docs/assessments.md).
//!
//! * Length is the longest head-to-toe extent, width the widest extent at right angles to it,
//!   depth the deepest point, each in millimetres to at most one decimal. Length and width are
//!   more than 0 and at most 1,000 mm; depth is 0 (superficial) to 300 mm.
//! * The area is length × width in mm² (the rectangular estimate most district-nursing charts
//!   use; it overstates a round wound by about a quarter, the same way every visit, so its trend
//!   is what matters).
//! * Tissue types are given as whole percentages of the wound bed that sum to exactly 100.
//! * Pain is the person's rating on a 0–10 numeric scale.
//! * The photo is an opaque reference the app holds (a file name, a content id); Doorstep stores
//!   the string, never the picture.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

pub const MAX_LENGTH_MM: f64 = 1_000.0;
pub const MAX_DEPTH_MM: f64 = 300.0;

/// What the wound bed is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum TissueType {
    Epithelialising,
    Granulating,
    Hypergranulating,
    Slough,
    Necrotic,
}

impl TissueType {
    pub fn label(&self) -> &'static str {
        match self {
            TissueType::Epithelialising => "epithelialising",
            TissueType::Granulating => "granulating",
            TissueType::Hypergranulating => "hypergranulating",
            TissueType::Slough => "slough",
            TissueType::Necrotic => "necrotic",
        }
    }
}

/// One tissue type's share of the wound bed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TissueShare {
    pub tissue: TissueType,
    pub percent: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ExudateLevel {
    None,
    Low,
    Moderate,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Odour {
    None,
    /// Noticed on removing the dressing.
    OnRemoval,
    /// Noticed with the dressing in place.
    Offensive,
}

/// The measurements of a wound, checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WoundSize {
    pub length_mm: f64,
    pub width_mm: f64,
    pub depth_mm: f64,
}

fn mm(field: &'static str, v: f64, min_exclusive: bool, max: f64) -> Result<(), ValidationError> {
    let low_ok = if min_exclusive { v > 0.0 } else { v >= 0.0 };
    if !v.is_finite() || !low_ok || v > max {
        return Err(ValidationError::OutOfRange {
            what: field,
            value: v.to_string(),
            unit: "mm",
            min: if min_exclusive { "more than 0" } else { "0" }.into(),
            max: max.to_string(),
        });
    }
    let tenths = crate::clinical::news2::round_to_tenths(v).unwrap_or(0);
    if (tenths as f64 / 10.0 - v).abs() > 1e-9 {
        return Err(ValidationError::InvalidAnswer {
            field: field.to_string(),
            reason: format!("{v} mm has more than one decimal: measure to 0.1 mm"),
        });
    }
    Ok(())
}

impl WoundSize {
    pub fn validate(&self) -> Result<(), ValidationError> {
        mm("wound length", self.length_mm, true, MAX_LENGTH_MM)?;
        mm("wound width", self.width_mm, true, MAX_LENGTH_MM)?;
        mm("wound depth", self.depth_mm, false, MAX_DEPTH_MM)?;
        if self.width_mm > self.length_mm {
            return Err(ValidationError::InvalidAnswer {
                field: "wound width".into(),
                reason: format!(
                    "the width ({} mm) is more than the length ({} mm): the length is the longest extent, the width the widest at right angles to it",
                    self.width_mm, self.length_mm
                ),
            });
        }
        Ok(())
    }

    /// Length × width, mm², to one decimal.
    pub fn area_mm2(&self) -> f64 {
        (self.length_mm * self.width_mm * 10.0).round() / 10.0
    }
}

/// Tissue shares: known types, each once, whole percentages summing to 100.
pub fn validate_tissue(shares: &[TissueShare]) -> Result<(), ValidationError> {
    let field = || "tissue types".to_string();
    if shares.is_empty() {
        return Err(ValidationError::InvalidAnswer {
            field: field(),
            reason: "give the share of each tissue type in the wound bed (they add up to 100 %)"
                .into(),
        });
    }
    for (i, s) in shares.iter().enumerate() {
        if shares[..i].iter().any(|t| t.tissue == s.tissue) {
            return Err(ValidationError::InvalidAnswer {
                field: field(),
                reason: format!("{} is given twice", s.tissue.label()),
            });
        }
        if s.percent == 0 || s.percent > 100 {
            return Err(ValidationError::InvalidAnswer {
                field: field(),
                reason: format!(
                    "{} is {} %: each share is 1–100 % (leave out a tissue type that is not there)",
                    s.tissue.label(),
                    s.percent
                ),
            });
        }
    }
    let sum: u32 = shares.iter().map(|s| s.percent).sum();
    if sum != 100 {
        return Err(ValidationError::InvalidAnswer {
            field: field(),
            reason: format!("the shares add up to {sum} %, not 100 %: check them"),
        });
    }
    Ok(())
}

/// Pain on a 0–10 numeric rating scale.
pub fn validate_pain(score: u32) -> Result<(), ValidationError> {
    if score > 10 {
        return Err(ValidationError::OutOfRange {
            what: "pain score",
            value: score.to_string(),
            unit: "(0–10 scale)",
            min: "0".into(),
            max: "10".into(),
        });
    }
    Ok(())
}

/// Which way a wound's area is going, from its first measurement to its latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AreaTrend {
    /// Only one measurement so far.
    FirstMeasurement,
    /// Smaller by more than 10 % of the first area.
    Reducing,
    /// Within 10 % of the first area.
    Static,
    /// Larger by more than 10 % of the first area.
    Increasing,
}

/// The change, in % of the first area (one decimal), and its direction. A change within ±10 %
/// is "static": ruler measurements of the same wound by different nurses vary about that much.
pub fn area_trend(
    first_mm2: f64,
    latest_mm2: f64,
    measurements: usize,
) -> (Option<f64>, AreaTrend) {
    if measurements < 2 || first_mm2 <= 0.0 {
        return (None, AreaTrend::FirstMeasurement);
    }
    let change = ((latest_mm2 - first_mm2) / first_mm2 * 1000.0).round() / 10.0;
    let trend = if change < -10.0 {
        AreaTrend::Reducing
    } else if change > 10.0 {
        AreaTrend::Increasing
    } else {
        AreaTrend::Static
    };
    (Some(change), trend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_naming_the_dimension() {
        let ok = WoundSize {
            length_mm: 42.0,
            width_mm: 30.5,
            depth_mm: 0.0,
        };
        ok.validate().unwrap();
        assert_eq!(ok.area_mm2(), 1281.0);
        let what = |s: WoundSize| match s.validate() {
            Err(ValidationError::OutOfRange { what, .. }) => what.to_string(),
            Err(ValidationError::InvalidAnswer { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            what(WoundSize {
                length_mm: 0.0,
                ..ok
            }),
            "wound length"
        );
        assert_eq!(
            what(WoundSize {
                length_mm: 1000.1,
                ..ok
            }),
            "wound length"
        );
        assert_eq!(
            what(WoundSize {
                width_mm: -1.0,
                ..ok
            }),
            "wound width"
        );
        assert_eq!(
            what(WoundSize {
                depth_mm: f64::NAN,
                ..ok
            }),
            "wound depth"
        );
        assert_eq!(
            what(WoundSize {
                depth_mm: 300.5,
                ..ok
            }),
            "wound depth"
        );
        assert_eq!(
            what(WoundSize {
                width_mm: 50.0,
                ..ok
            }),
            "wound width"
        );
        assert_eq!(
            what(WoundSize {
                length_mm: 42.25,
                ..ok
            }),
            "wound length"
        );
        WoundSize {
            length_mm: 1000.0,
            width_mm: 1000.0,
            depth_mm: 300.0,
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn tissue_shares_sum_to_100() {
        use TissueType::*;
        let s = |t, p| TissueShare {
            tissue: t,
            percent: p,
        };
        validate_tissue(&[s(Granulating, 70), s(Slough, 30)]).unwrap();
        validate_tissue(&[s(Epithelialising, 100)]).unwrap();
        for bad in [
            vec![],
            vec![s(Granulating, 70), s(Slough, 20)],
            vec![s(Granulating, 70), s(Slough, 31)],
            vec![s(Granulating, 50), s(Granulating, 50)],
            vec![s(Granulating, 100), s(Slough, 0)],
        ] {
            assert!(matches!(
                validate_tissue(&bad),
                Err(ValidationError::InvalidAnswer { field, .. }) if field == "tissue types"
            ));
        }
        assert!(validate_pain(10).is_ok() && validate_pain(11).is_err());
    }

    #[test]
    fn trend_edges() {
        assert_eq!(
            area_trend(100.0, 100.0, 1),
            (None, AreaTrend::FirstMeasurement)
        );
        assert_eq!(area_trend(100.0, 90.0, 2), (Some(-10.0), AreaTrend::Static));
        assert_eq!(
            area_trend(100.0, 89.9, 2),
            (Some(-10.1), AreaTrend::Reducing)
        );
        assert_eq!(area_trend(100.0, 110.0, 3), (Some(10.0), AreaTrend::Static));
        assert_eq!(
            area_trend(100.0, 110.1, 3),
            (Some(10.1), AreaTrend::Increasing)
        );
    }
}
