//! Clinical rules that know nothing of storage: NEWS2 scoring, NHS number checks, observation
//! limits, scored assessments (declarative definitions) and wound measurements.

pub mod assessments;
pub mod escalation;
pub mod news2;
pub mod nhs_number;
pub mod observations;
pub mod readings;
pub mod routes;
pub mod snomed;
pub mod wound;
