//! NHS numbers: normalising what was typed, the Modulus 11 check-digit test, and display.
//!
//! An NHS number is 10 digits. The first nine digits are multiplied by the weights 10, 9, …, 2
//! and summed; the check value is 11 minus the remainder of that sum divided by 11. A check value
//! of 11 means a check digit of 0; a check value of 10 is never issued, so any number that needs
//! it is invalid. Otherwise the check value must equal the 10th digit.
//!
//! Only the check digit is tested: a number that passes is well formed, not necessarily issued.

use crate::error::ValidationError;

/// Characters accepted as separators: any whitespace and the usual hyphen/dash characters
/// (people paste numbers from letters and web pages).
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}')
}

/// `input` with spaces and hyphens removed. Nothing else is changed.
pub fn normalise(input: &str) -> String {
    input.chars().filter(|c| !is_separator(*c)).collect()
}

/// Check `input` is a valid NHS number and return it normalised (10 digits, no separators).
pub fn validate(input: &str) -> Result<String, ValidationError> {
    let invalid = |reason: String| ValidationError::InvalidNhsNumber {
        value: input.to_string(),
        reason,
    };
    let nhs = normalise(input);
    if !nhs.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid(
            "it may contain only digits, spaces and hyphens".to_string(),
        ));
    }
    if nhs.len() != 10 {
        return Err(invalid(format!(
            "it must have 10 digits (it has {})",
            nhs.len()
        )));
    }
    let digits: Vec<u32> = nhs.bytes().map(|b| u32::from(b - b'0')).collect();
    match check_digit(&digits[..9]) {
        None => Err(invalid("no NHS number has check value 10".to_string())),
        Some(check) if check != digits[9] => Err(invalid(
            "the check digit does not match — a digit may be mistyped".to_string(),
        )),
        Some(_) => Ok(nhs),
    }
}

/// The check digit for the first nine digits, or `None` when the check value is 10.
fn check_digit(first_nine: &[u32]) -> Option<u32> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}

/// Display form, 3-3-4: "943 476 5919". Input that is not 10 digits after normalising is
/// returned unchanged, so nothing is hidden from the person reading it.
pub fn format(nhs: &str) -> String {
    let n = normalise(nhs);
    if n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit()) {
        format!("{} {} {}", &n[..3], &n[3..6], &n[6..])
    } else {
        nhs.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 4] = ["9434765919", "4010232137", "9434765870", "4505577104"];

    fn reason(input: &str) -> String {
        match validate(input) {
            Err(ValidationError::InvalidNhsNumber { value, reason }) => {
                assert_eq!(value, input);
                reason
            }
            other => panic!("{input:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn known_valid_numbers() {
        for n in VALID {
            assert_eq!(validate(n).as_deref(), Ok(n), "{n}");
        }
        for input in [
            "943 476 5919",
            "943-476-5919",
            " 9434765919 ",
            "943\u{a0}476\u{2013}5919",
        ] {
            assert_eq!(validate(input).as_deref(), Ok("9434765919"), "{input:?}");
        }
    }

    #[test]
    fn check_value_eleven_means_zero() {
        // 0,0,0,0,0,0,0,1,4: 1×3 + 4×2 = 11 → remainder 0 → check value 11 → check digit 0.
        assert_eq!(check_digit(&[0, 0, 0, 0, 0, 0, 0, 1, 4]), Some(0));
        assert_eq!(validate("0000000140").as_deref(), Ok("0000000140"));
        // 9434765870 (in VALID) also has check digit 0.
        assert_eq!(check_digit(&[9, 4, 3, 4, 7, 6, 5, 8, 7]), Some(0));
    }

    #[test]
    fn check_value_ten_is_invalid() {
        // 4×3 = 12 → remainder 1 → check value 10.
        assert_eq!(check_digit(&[0, 0, 0, 0, 0, 0, 0, 4, 0]), None);
        // 1×10 + 1×2 = 12 → remainder 1 → check value 10.
        assert_eq!(check_digit(&[1, 0, 0, 0, 0, 0, 0, 0, 1]), None);
        for last in 0..=9 {
            let n = format!("100000001{last}");
            assert_eq!(reason(&n), "no NHS number has check value 10", "{n}");
        }
    }

    #[test]
    fn every_single_digit_typo_is_rejected() {
        for n in VALID {
            for i in 0..10 {
                for d in b'0'..=b'9' {
                    let mut typo = n.as_bytes().to_vec();
                    if typo[i] == d {
                        continue;
                    }
                    typo[i] = d;
                    let typo = String::from_utf8(typo).unwrap();
                    assert!(validate(&typo).is_err(), "{typo} (from {n})");
                }
            }
        }
        assert_eq!(
            reason("9434765918"),
            "the check digit does not match — a digit may be mistyped"
        );
    }

    #[test]
    fn every_adjacent_transposition_is_rejected() {
        for n in VALID {
            for i in 0..9 {
                let mut swapped = n.as_bytes().to_vec();
                if swapped[i] == swapped[i + 1] {
                    continue;
                }
                swapped.swap(i, i + 1);
                let swapped = String::from_utf8(swapped).unwrap();
                assert!(validate(&swapped).is_err(), "{swapped} (from {n})");
            }
        }
        assert_eq!(
            reason("4943765919"),
            "the check digit does not match — a digit may be mistyped"
        );
    }

    #[test]
    fn wrong_length() {
        for (input, len) in [
            ("", 0),
            ("943476591", 9),
            ("94347659190", 11),
            ("943 476 591", 9),
        ] {
            assert_eq!(
                reason(input),
                format!("it must have 10 digits (it has {len})"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn letters_and_other_characters() {
        for input in [
            "943476591O",
            "NHS9434765919",
            "943.476.5919",
            "943/476/5919",
            "９４３４７６５９１９",
        ] {
            assert_eq!(
                reason(input),
                "it may contain only digits, spaces and hyphens",
                "{input:?}"
            );
        }
    }

    #[test]
    fn error_message_is_readable() {
        let err = validate("943 476 5918").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'943 476 5918'"), "{msg}");
        assert!(msg.contains("the check digit does not match"), "{msg}");
    }

    #[test]
    fn normalise_strips_spaces_and_hyphens_only() {
        assert_eq!(normalise(" 943-476 5919 "), "9434765919");
        assert_eq!(normalise("943.476"), "943.476");
    }

    #[test]
    fn format_groups_three_three_four() {
        assert_eq!(format("9434765919"), "943 476 5919");
        assert_eq!(format("943-476-5919"), "943 476 5919");
        assert_eq!(format("943 476 5919"), "943 476 5919");
        assert_eq!(format("12345"), "12345");
        assert_eq!(format("ABCDEFGHIJ"), "ABCDEFGHIJ");
    }
}
