//! SNOMED CT concept identifiers: the shape check an offline device can make.
//!
//! A SNOMED CT identifier (SCTID) is 6 to 18 digits with no leading zero. Its last digit is a
//! Verhoeff check digit over the others; the two digits before it are the partition identifier,
//! which says what the identifier names: `00` or `10` a concept (short or long format). A
//! description (`01`, `11`) or relationship (`02`, `12`) identifier is not a concept and cannot
//! code an allergy or a problem.
//!
//! Passing says the identifier is well formed, not that the concept exists or is active: only a
//! terminology server knows that, and Doorstep has none offline.

/// Why `id` is not a SNOMED CT concept identifier, in words a clinician can act on; `None` when
/// it is one.
pub fn concept_id_problem(id: &str) -> Option<String> {
    if id.len() < 6 || id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("'{id}' is not a SNOMED CT code (6 to 18 digits)"));
    }
    if id.starts_with('0') {
        return Some(format!("'{id}' is not a SNOMED CT code (it starts with 0)"));
    }
    let digits: Vec<u8> = id.bytes().map(|b| b - b'0').collect();
    if !verhoeff_valid(&digits) {
        return Some(format!(
            "'{id}' is not a SNOMED CT code: its check digit is wrong (a digit was mistyped or lost)"
        ));
    }
    let n = digits.len();
    match (digits.get(n - 3), digits.get(n - 2)) {
        (Some(0 | 1), Some(0)) => None,
        _ => Some(format!(
            "'{id}' is a SNOMED CT description or relationship identifier, not a concept code"
        )),
    }
}

// The dihedral group D5's multiplication table, the permutation applied at each position, and
// the Verhoeff algorithm's test (a number is valid when the running product ends at 0).
const D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

fn verhoeff_valid(digits: &[u8]) -> bool {
    let mut c = 0u8;
    for (i, d) in digits.iter().rev().enumerate() {
        let p = P[i % 8][usize::from(*d % 10)];
        c = D[usize::from(c)][usize::from(p)];
    }
    c == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_of_nhs_englands_examples_are_concepts() {
        // Amoxicillin, urticarial rash, no known drug allergy, bleeding from ear, peanut-free
        // diet, NEWS2 total (a long-format id in the NHS extension), no known allergy.
        for id in [
            "372687004",
            "247472004",
            "409137002",
            "26322001",
            "226201008",
            "1104051000000101",
            "716186003",
        ] {
            assert_eq!(concept_id_problem(id), None, "{id}");
        }
    }

    #[test]
    fn a_mistyped_digit_or_a_swap_is_caught() {
        for id in [
            "372687005",
            "372678004",
            "37268700",
            "0372687004",
            "37268700x",
        ] {
            assert!(concept_id_problem(id).is_some(), "{id}");
        }
        // Every single-digit change of a valid code is caught (Verhoeff's guarantee).
        let good = "372687004";
        for pos in 0..good.len() {
            for d in b'0'..=b'9' {
                let mut b = good.as_bytes().to_vec();
                if b[pos] == d {
                    continue;
                }
                b[pos] = d;
                let s = String::from_utf8(b).expect("digits");
                assert!(concept_id_problem(&s).is_some(), "{s}");
            }
        }
    }

    #[test]
    fn a_description_id_is_not_a_concept() {
        // An id with partition 01 (a description) and a right check digit.
        let id = (0..10)
            .map(|d| format!("12345601{d}"))
            .find(|s| verhoeff_valid(&s.bytes().map(|b| b - b'0').collect::<Vec<_>>()))
            .expect("one check digit fits");
        let p = concept_id_problem(&id);
        assert!(p.is_some_and(|p| p.contains("description")), "{id}");
    }
}
