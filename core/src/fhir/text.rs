//! Free text as FHIR strings. FHIR's `string` (and `markdown`) may hold no control character
//! other than tab, carriage return and line feed (regex `[ \r\n\t\S]+`), must not be empty, and
//! should not start or end with whitespace. Doorstep accepts any text a nurse types (and the
//! server any a phone sent), so the export removes what FHIR cannot carry: C0 controls but
//! `\t`, `\r`, `\n`; DEL; C1 controls (U+0080–U+009F); and trims. Text that is empty after that
//! is left out, never exported as `""`.

/// True when `s` already is a FHIR string (nothing to remove or trim, not empty).
pub fn is_string(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().next_back()) else {
        return false;
    };
    if first.is_whitespace() || last.is_whitespace() {
        return false;
    }
    // Most text is ASCII: one branch-free pass over the bytes is enough there (C1 controls are
    // not ASCII).
    if s.is_ascii() {
        s.bytes().fold(true, |ok, b| {
            ok & ((b >= 0x20 && b != 0x7f) | (b == b'\t') | (b == b'\n') | (b == b'\r'))
        })
    } else {
        s.chars().all(allowed)
    }
}

/// `s` as a FHIR string, or `None` when nothing printable is left.
pub fn string(s: &str) -> Option<String> {
    if is_string(s) {
        return Some(s.to_string());
    }
    let cleaned: String = s.chars().filter(|c| allowed(*c)).collect();
    let t = cleaned.trim();
    if t.is_empty() {
        None
    } else {
        Some(t.to_string())
    }
}

/// `s` as a FHIR string, or `fallback` when nothing printable is left (for required elements).
pub fn string_or(s: &str, fallback: &str) -> String {
    string(s).unwrap_or_else(|| fallback.to_string())
}

fn allowed(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        c if (c as u32) < 0x20 => false,
        '\u{7f}'..='\u{9f}' => false,
        _ => true,
    }
}

/// `s` as XHTML text (for a narrative `div`): a FHIR string with `&`, `<`, `>` and `"` escaped.
pub fn xhtml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in string(s).unwrap_or_default().chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_removed_and_text_trimmed() {
        assert_eq!(
            string("  Dog\u{0}friendly\u{1b}[31m\tkey safe\r\nby door\u{7f}\u{85} ").as_deref(),
            Some("Dogfriendly[31m\tkey safe\r\nby door")
        );
        assert_eq!(string("\u{1}\u{2} \n"), None);
        assert_eq!(string(""), None);
        assert!(is_string("a\tb") && !is_string(" a") && !is_string("a\u{0}") && !is_string(""));
        assert_eq!(string_or("\u{0}", "unknown"), "unknown");
        // Both paths of the check: ASCII (DEL) and not (a C1 control; trailing whitespace).
        assert!(!is_string("a\u{7f}b") && !is_string("x\u{9f}y") && !is_string("café\u{a0}"));
        assert!(is_string("café") && is_string("a \t\r\nb"));
        assert_eq!(
            string("Penicillin — anaphylaxis 😟").as_deref(),
            Some("Penicillin — anaphylaxis 😟")
        );
    }

    #[test]
    fn xhtml_escapes_markup() {
        assert_eq!(
            xhtml("<b>a & \"b\"</b>\u{0}"),
            "&lt;b&gt;a &amp; &quot;b&quot;&lt;/b&gt;"
        );
    }
}
