//! Clinical rules that know nothing of storage: NEWS2 scoring, NHS number checks, observation limits.

pub mod news2;
pub mod nhs_number;
pub mod observations;
