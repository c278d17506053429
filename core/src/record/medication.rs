//! Medication administration at a visit (issue 12, item 3): drug, dose, route, time, given or
//! not given with the reason; controlled drugs with a second witness; syringe-driver checks.
//! Each administration is an immutable entry (`med:<id>`); a correction is entered-in-error plus
//! a new record.

use automerge::AutoCommit;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::edit::{Delta, Edit, CLOCK_SKEW};
use super::layout::{self, key, MEDICATION, VISIT};
use super::model::*;
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DoseUnit {
    Milligrams,
    Micrograms,
    /// Insulin and heparin units.
    Units,
    Millilitres,
}

impl DoseUnit {
    pub fn label(&self) -> &'static str {
        match self {
            DoseUnit::Milligrams => "mg",
            DoseUnit::Micrograms => "micrograms",
            DoseUnit::Units => "units",
            DoseUnit::Millilitres => "ml",
        }
    }

    /// The largest single dose accepted in this unit: above it the dose is taken as a typing
    /// error (an order of magnitude past any single community dose).
    pub fn max_dose(&self) -> f64 {
        match self {
            DoseUnit::Milligrams => 5_000.0,
            DoseUnit::Micrograms => 50_000.0,
            DoseUnit::Units => 300.0,
            DoseUnit::Millilitres => 500.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Oral,
    Subcutaneous,
    Intramuscular,
    Intravenous,
    Topical,
    Inhaled,
    /// Continuous subcutaneous infusion by syringe driver.
    SyringeDriver,
}

impl Route {
    pub fn label(&self) -> &'static str {
        match self {
            Route::Oral => "oral",
            Route::Subcutaneous => "subcutaneous",
            Route::Intramuscular => "intramuscular",
            Route::Intravenous => "intravenous",
            Route::Topical => "topical",
            Route::Inhaled => "inhaled",
            Route::SyringeDriver => "syringe driver (CSCI)",
        }
    }
}

/// The second person who witnessed a controlled drug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Witness {
    pub user_id: String,
    pub display_name: String,
}

/// A syringe driver's check at the visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyringeDriverCheck {
    pub rate_ml_per_hour: f64,
    pub volume_remaining_ml: f64,
    /// Where the line goes in ("left upper chest").
    pub site: String,
    /// The site is free of redness, swelling and leaking.
    pub site_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct MedicationInput {
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub visit_id: Option<String>,
    /// "Insulin aspart (NovoRapid)", "Morphine sulfate".
    pub drug: String,
    pub dose: f64,
    pub unit: DoseUnit,
    pub route: Route,
    #[cfg_attr(feature = "uniffi", uniffi(name = "at_ms"))]
    pub at: DateTime<Utc>,
    pub given: bool,
    /// Why it was not given (required when not given).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub not_given_reason: Option<String>,
    /// A Schedule 2 or 3 controlled drug: needs a witness.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub controlled_drug: bool,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub witness: Option<Witness>,
    /// Required for the syringe-driver route.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub syringe_driver: Option<SyringeDriverCheck>,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub note: Option<String>,
}

/// A medication administration as recorded (immutable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct MedicationAdministration {
    pub id: String,
    pub visit_id: Option<String>,
    pub drug: String,
    pub dose: f64,
    pub unit: DoseUnit,
    pub route: Route,
    #[cfg_attr(feature = "uniffi", uniffi(name = "at_ms"))]
    pub at: DateTime<Utc>,
    pub given: bool,
    pub not_given_reason: Option<String>,
    pub controlled_drug: bool,
    pub witness: Option<Witness>,
    pub syringe_driver: Option<SyringeDriverCheck>,
    pub note: Option<String>,
    pub author: Author,
}

/// The syringe driver rates and volumes accepted (a 24-hour driver runs at about 0.1–2 ml/h and
/// holds at most a 30 ml syringe; the bounds leave room for other drivers).
pub const MAX_DRIVER_RATE_ML_H: f64 = 10.0;
pub const MAX_DRIVER_VOLUME_ML: f64 = 60.0;

fn out_of_range(
    what: &'static str,
    value: f64,
    unit: &'static str,
    min: f64,
    max: f64,
) -> ValidationError {
    ValidationError::OutOfRange {
        what,
        value: format!("{value}"),
        unit,
        min: format!("{min}"),
        max: format!("{max}"),
    }
}

/// Check an administration's values (the phone before writing it, the validator on receipt).
/// `author_id` is who records it (a witness must be someone else).
pub fn check(m: &MedicationAdministration, author_id: &str) -> Result<(), ValidationError> {
    required_short("drug", &m.drug, "name the drug")?;
    if !m.dose.is_finite() || m.dose <= 0.0 || m.dose > m.unit.max_dose() {
        return Err(ValidationError::OutOfRange {
            what: "dose",
            value: format!("{}", m.dose),
            unit: m.unit.label(),
            min: "more than 0".into(),
            max: format!("{}", m.unit.max_dose()),
        });
    }
    if !m.given
        && m.not_given_reason
            .as_deref()
            .is_none_or(|r| r.trim().is_empty())
    {
        return Err(ValidationError::MissingField {
            field: "reason not given",
            hint: "say why the dose was not given (refused, asleep, held on advice, …)",
        });
    }
    if let Some(r) = &m.not_given_reason {
        short("reason not given", r)?;
    }
    if m.controlled_drug {
        let Some(w) = &m.witness else {
            return Err(ValidationError::MissingField {
                field: "witness",
                hint: "a controlled drug needs a second person to witness it",
            });
        };
        required_short("witness", &w.user_id, "name the witness")?;
        required_short("witness's name", &w.display_name, "name the witness")?;
        if w.user_id == author_id {
            return Err(ValidationError::Invalid {
                field: "witness",
                reason: "the witness must be someone other than the person giving the drug".into(),
            });
        }
    }
    match (&m.route, &m.syringe_driver) {
        (Route::SyringeDriver, None) => {
            return Err(ValidationError::MissingField {
                field: "syringe driver check",
                hint: "record the rate, the volume remaining and the site",
            })
        }
        (_, Some(d)) => {
            if !d.rate_ml_per_hour.is_finite()
                || d.rate_ml_per_hour < 0.0
                || d.rate_ml_per_hour > MAX_DRIVER_RATE_ML_H
            {
                return Err(out_of_range(
                    "syringe driver rate",
                    d.rate_ml_per_hour,
                    "ml/h",
                    0.0,
                    MAX_DRIVER_RATE_ML_H,
                ));
            }
            if !d.volume_remaining_ml.is_finite()
                || d.volume_remaining_ml < 0.0
                || d.volume_remaining_ml > MAX_DRIVER_VOLUME_ML
            {
                return Err(out_of_range(
                    "volume remaining",
                    d.volume_remaining_ml,
                    "ml",
                    0.0,
                    MAX_DRIVER_VOLUME_ML,
                ));
            }
            required_short("syringe driver site", &d.site, "say where the line goes in")?;
        }
        _ => {}
    }
    if let Some(n) = &m.note {
        text("medication note", n)?;
    }
    Ok(())
}

/// Record a medication given (or not given) — once, never edited.
pub fn record_medication(
    doc: &mut AutoCommit,
    author: &Author,
    input: MedicationInput,
) -> Result<Edit<MedicationAdministration>> {
    if input.at > author.at + CLOCK_SKEW {
        return Err(ValidationError::DateInFuture {
            what: "administration time",
            value: input.at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
        .into());
    }
    let m = MedicationAdministration {
        id: new_id(),
        visit_id: input.visit_id,
        drug: input.drug.trim().to_string(),
        dose: input.dose,
        unit: input.unit,
        route: input.route,
        at: input.at,
        given: input.given,
        not_given_reason: input
            .not_given_reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        controlled_drug: input.controlled_drug,
        witness: input.witness,
        syringe_driver: input.syringe_driver,
        note: input
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        author: author.clone(),
    };
    check(&m, &author.user_id)?;
    if let Some(v) = &m.visit_id {
        if !layout::has_key(doc, &key(VISIT, v))? {
            return Err(Error::NotFound {
                what: "visit",
                id: v.clone(),
            });
        }
    }
    layout::put_json(doc, &key(MEDICATION, &m.id), &m)?;
    let mut summary = if m.given {
        format!(
            "gave {} {} {} ({})",
            m.drug,
            m.dose,
            m.unit.label(),
            m.route.label()
        )
    } else {
        format!(
            "did not give {} {} {} ({}): {}",
            m.drug,
            m.dose,
            m.unit.label(),
            m.route.label(),
            m.not_given_reason.clone().unwrap_or_default()
        )
    };
    if let Some(w) = &m.witness {
        summary.push_str(&format!(", witnessed by {}", w.display_name));
    }
    if let Some(d) = &m.syringe_driver {
        summary.push_str(&format!(
            "; syringe driver {} ml/h, {} ml left, site {} ({})",
            d.rate_ml_per_hour,
            d.volume_remaining_ml,
            d.site,
            if d.site_ok {
                "satisfactory"
            } else {
                "NEEDS ATTENTION"
            }
        ));
    }
    Ok(Edit {
        value: m,
        summary,
        deltas: Vec::<Delta>::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author() -> Author {
        Author {
            user_id: "u1".into(),
            display_name: "Sam Patel".into(),
            role: Role::DistrictNurse,
            device_id: "d".into(),
            at: Utc::now(),
        }
    }

    fn morphine() -> MedicationInput {
        MedicationInput {
            visit_id: None,
            drug: "Morphine sulfate".into(),
            dose: 2.5,
            unit: DoseUnit::Milligrams,
            route: Route::Subcutaneous,
            at: Utc::now(),
            given: true,
            not_given_reason: None,
            controlled_drug: true,
            witness: Some(Witness {
                user_id: "u2".into(),
                display_name: "Bea Ward".into(),
            }),
            syringe_driver: None,
            note: None,
        }
    }

    #[test]
    fn impossible_doses_and_missing_witnesses_are_refused_naming_the_field() {
        let a = author();
        let mut doc = AutoCommit::new();
        for (change, field) in [
            (
                Box::new(|m: &mut MedicationInput| m.dose = 0.0)
                    as Box<dyn Fn(&mut MedicationInput)>,
                "dose",
            ),
            (
                Box::new(|m: &mut MedicationInput| m.dose = f64::NAN),
                "dose",
            ),
            (
                Box::new(|m: &mut MedicationInput| m.dose = 25_000.0),
                "dose",
            ),
            (
                Box::new(|m: &mut MedicationInput| m.witness = None),
                "witness",
            ),
            (
                Box::new(|m: &mut MedicationInput| {
                    m.witness = Some(Witness {
                        user_id: "u1".into(),
                        display_name: "Sam".into(),
                    })
                }),
                "witness",
            ),
            (
                Box::new(|m: &mut MedicationInput| m.given = false),
                "reason not given",
            ),
            (
                Box::new(|m: &mut MedicationInput| m.route = Route::SyringeDriver),
                "syringe driver check",
            ),
            (
                Box::new(|m: &mut MedicationInput| {
                    m.route = Route::SyringeDriver;
                    m.syringe_driver = Some(SyringeDriverCheck {
                        rate_ml_per_hour: 0.5,
                        volume_remaining_ml: 90.0,
                        site: "left chest".into(),
                        site_ok: true,
                    })
                }),
                "volume remaining",
            ),
        ] {
            let mut m = morphine();
            change(&mut m);
            let e = record_medication(&mut doc, &a, m).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
        assert!(doc.is_empty());
        let ok = record_medication(&mut doc, &a, morphine()).unwrap();
        assert_eq!(
            ok.summary,
            "gave Morphine sulfate 2.5 mg (subcutaneous), witnessed by Bea Ward"
        );
    }
}
