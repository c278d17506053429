//! Stable resource ids: a UUID (version 8, RFC 9562: its bits are ours to define) made from the
//! SHA-256 of the person's id, the resource's kind and the entry's id (and a part, for an entry
//! that becomes several resources). The same entry always gets the same id, on every phone, and
//! two entries never share one. Each resource's `id` is its UUID and its `fullUrl` is
//! `urn:uuid:<id>`, so references inside the Bundle resolve.

use sha2::{Digest, Sha256};

const HEX: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
];

/// The UUID of `kind` made from `parts` of `person_id`'s record.
pub fn uuid(person_id: &str, kind: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"doorstep-fhir\0");
    h.update(person_id.as_bytes());
    h.update(b"\0");
    h.update(kind.as_bytes());
    for p in parts {
        h.update(b"\0");
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(x >> 4)]);
        out.push(HEX[usize::from(x & 0x0f)]);
    }
    out
}

/// True when `s` is a UUID in its canonical lower-case text form (as Doorstep's entry ids are).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_distinct_uuids() {
        let a = uuid("p1", "Observation", &["obs-1", "pulse"]);
        assert_eq!(a, uuid("p1", "Observation", &["obs-1", "pulse"]));
        // The first release's ids: a phone's export must not change them.
        assert_eq!(a, "59c8c8b0-0ccb-8650-bb7d-97453cd900e1");
        assert!(is_uuid(&a), "{a}");
        assert_eq!(&a[14..15], "8");
        assert_ne!(a, uuid("p1", "Observation", &["obs-1", "spo2"]));
        assert_ne!(a, uuid("p2", "Observation", &["obs-1", "pulse"]));
        // Parts are separated: ("ab", "c") is not ("a", "bc").
        assert_ne!(uuid("p", "k", &["ab", "c"]), uuid("p", "k", &["a", "bc"]));
        assert!(!is_uuid("first-version-goal-1"));
        assert!(is_uuid("0190a6c4-0000-7000-8000-000000000001"));
    }
}
