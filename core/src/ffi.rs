//! What UniFFI needs to carry core's own types to Kotlin, Swift and Python (feature `uniffi`;
//! the library the apps load is `bindings/`, crate doorstep-ffi). The types, `FieldStore` and
//! `Error` derive or export themselves where they are defined; this module holds the two custom
//! types and the free functions.
//!
//! * **An instant (`DateTime<Utc>`) is `i64` milliseconds since 1970-01-01T00:00:00Z**, in a
//!   field whose foreign name ends in `_ms` (`started_at_ms`). Automerge stamps changes to the
//!   millisecond, so nothing is lost.
//! * **A calendar date (`NaiveDate`) is a `String` `"YYYY-MM-DD"`** (ISO 8601): a date of birth
//!   has no time zone and must not move when the device's zone changes.
//! * A value that does not convert (a date that is not `YYYY-MM-DD`, a time out of range) is a
//!   `DoorstepError.Validation` naming the value, never an internal error: UniFFI hands the
//!   [`Error`] made here to the caller as the call's own error.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

use crate::clinical::news2::{self, News2Result, SpO2Scale};
use crate::clinical::observations::Observations;
use crate::error::{Error, ValidationError};

/// An instant, as UniFFI names it (custom types must be single identifiers).
pub type Timestamp = DateTime<Utc>;

uniffi::custom_type!(Timestamp, i64, {
    remote,
    lower: |t| t.timestamp_millis(),
    try_lift: |ms| Ok(instant(ms)?),
});

uniffi::custom_type!(NaiveDate, String, {
    remote,
    lower: |d| d.format("%Y-%m-%d").to_string(),
    try_lift: |s| Ok(date(&s)?),
});

uniffi::custom_type!(PathBuf, String, {
    remote,
    lower: |p| p.to_string_lossy().into_owned(),
    try_lift: |s| Ok(PathBuf::from(s)),
});

/// Milliseconds since the epoch as an instant; out of range is a validation error.
pub fn instant(ms: i64) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        ValidationError::Inconsistent(format!(
            "the time {ms} is not a valid time (milliseconds since 1970-01-01 UTC): check the clock value passed in"
        ))
        .into()
    })
}

/// `"YYYY-MM-DD"` as a date; anything else is a validation error naming the value.
pub fn date(s: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ValidationError::InvalidDate {
            what: "the date",
            value: s.to_string(),
        }
        .into()
    })
}

/// Score a set of observations with NEWS2 without storing them (e.g. to show the score while
/// the nurse is still entering values). Use `Scale2` only when it is prescribed in the record.
#[uniffi::export]
pub fn score_news2(observations: &Observations, scale: SpO2Scale) -> News2Result {
    news2::score(observations, scale)
}

/// Score a scored assessment's answers (MUST, Waterlow) without storing them, e.g. to show the
/// score while the nurse is still answering. Answers outside the definition and an unknown
/// definition version are a validation error naming them.
#[uniffi::export]
pub fn score_assessment(
    definition_id: &str,
    definition_version: u32,
    answers: Vec<crate::clinical::assessments::AssessmentAnswer>,
) -> Result<crate::clinical::assessments::AssessmentScore, Error> {
    Ok(crate::clinical::assessments::validate_and_score(
        definition_id,
        definition_version,
        &answers,
    )?)
}

/// Every scored assessment this app knows, every version, to draw the forms from.
#[uniffi::export]
pub fn assessment_definitions() -> Vec<crate::clinical::assessments::view::AssessmentDefinitionView>
{
    crate::clinical::assessments::ALL
        .iter()
        .map(|d| crate::clinical::assessments::view::view(d))
        .collect()
}

/// Check an NHS number (Modulus 11); returns it as 10 digits without spaces.
#[uniffi::export]
pub fn validate_nhs_number(nhs_number: &str) -> Result<String, Error> {
    Ok(crate::clinical::nhs_number::validate(nhs_number)?)
}

/// An NHS number in its display form, 3-3-4 ("943 476 5919").
#[uniffi::export]
pub fn format_nhs_number(nhs_number: &str) -> String {
    crate::clinical::nhs_number::format(nhs_number)
}

/// The length, in bytes, of the database key the app must hold in the Keystore/Keychain.
#[uniffi::export]
pub fn key_length() -> u32 {
    crate::store::KEY_LEN as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UniFfiTag;
    use uniffi::{Lift, Lower, RustBuffer};

    fn lift_date(s: &str) -> uniffi::Result<NaiveDate> {
        let buf: RustBuffer = <String as Lower<UniFfiTag>>::lower(s.to_string());
        <NaiveDate as Lift<UniFfiTag>>::try_lift(buf)
    }

    #[test]
    fn dates_cross_as_iso_strings_and_a_bad_one_is_a_validation_error() {
        let d = NaiveDate::from_ymd_opt(1941, 3, 9).unwrap();
        assert_eq!(lift_date("1941-03-09").unwrap(), d);
        let buf = <NaiveDate as Lower<UniFfiTag>>::lower(d);
        assert_eq!(
            <String as Lift<UniFfiTag>>::try_lift(buf).unwrap(),
            "1941-03-09"
        );
        for bad in ["09/03/1941", "1941-13-09", "", "1941-3-9x"] {
            let err = lift_date(bad).unwrap_err();
            match err.downcast::<Error>() {
                Ok(Error::Validation(ValidationError::InvalidDate { value, .. })) => {
                    assert_eq!(value, bad)
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn instants_cross_as_epoch_milliseconds_and_out_of_range_is_a_validation_error() {
        let t = DateTime::from_timestamp_millis(1_764_590_400_123).unwrap();
        assert_eq!(<Timestamp as Lower<UniFfiTag>>::lower(t), 1_764_590_400_123);
        assert_eq!(
            <Timestamp as Lift<UniFfiTag>>::try_lift(1_764_590_400_123).unwrap(),
            t
        );
        let err = <Timestamp as Lift<UniFfiTag>>::try_lift(i64::MAX).unwrap_err();
        let e = err.downcast::<Error>().expect("a core error");
        assert!(matches!(e, Error::Validation(_)), "{e:?}");
        assert!(e.to_string().contains("not a valid time"), "{e}");
    }

    #[test]
    fn assessments_score_live_and_bad_answers_are_validation_errors() {
        let must = score_assessment("must", 1, crate::testing::must_measured()).unwrap();
        assert_eq!((must.total, must.band.as_deref()), (Some(3), Some("high")));
        for (id, version) in [("must", 2), ("norton", 1)] {
            let e = score_assessment(id, version, vec![]).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Validation(ValidationError::UnknownAssessment { .. })
                ),
                "{e:?}"
            );
        }
        let ids: Vec<String> = assessment_definitions().into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["must", "waterlow"]);
    }
}
