use chrono::{NaiveDate, Utc};

use super::*;

fn author() -> Author {
    Author {
        user_id: "u".into(),
        display_name: "Nurse U".into(),
        role: Role::DistrictNurse,
        device_id: "d".into(),
        at: Utc::now(),
    }
}

fn entry(id: &str, kind: ImportedKind, snomed: Option<&str>, text: &str) -> ImportedEntry {
    crate::testing::imported_entry(id, kind, snomed, text, &author())
}

fn amoxicillin() -> ImportedEntry {
    entry("a", ImportedKind::Allergy, Some("372687004"), "Amoxicillin")
}

fn nkda() -> ImportedEntry {
    entry(
        "n",
        ImportedKind::Allergy,
        Some("409137002"),
        "No known drug allergy (situation)",
    )
}

fn alert(texts: &[&str]) -> Vec<Alert> {
    let values = texts
        .iter()
        .map(|t| AlertValue {
            kind: AlertKind::Allergies,
            text: t.to_string(),
            active: true,
            author: author(),
        })
        .collect();
    vec![Alert::new(AlertKind::Allergies, values)]
}

fn messages(alerts: &[Alert], imported: &[ImportedEntry]) -> Vec<String> {
    allergy_disagreements(alerts, imported, &[])
        .into_iter()
        .map(|d| d.message)
        .collect()
}

#[test]
fn an_allergy_the_alert_does_not_mention_is_surfaced_until_the_alert_names_it() {
    let none = messages(&[], &[amoxicillin()]);
    assert!(none[0].contains("has no allergies alert"), "{none:?}");
    let other = messages(&alert(&["Penicillin - anaphylaxis"]), &[amoxicillin()]);
    assert!(other[0].contains("does not mention"), "{other:?}");
    assert!(messages(&alert(&["AMOXICILLIN (rash)"]), &[amoxicillin()]).is_empty());
    // While the alert is in conflict, a value that names it is enough to say it is known.
    assert!(messages(&alert(&["none", "amoxicillin"]), &[amoxicillin()]).is_empty());
    // "Allergy to" and other shared words do not count as naming the allergen.
    let generic = entry("g", ImportedKind::Allergy, None, "Allergy to latex");
    assert_eq!(
        messages(&alert(&["drug allergy: penicillin"]), &[generic]).len(),
        1
    );
}

#[test]
fn no_known_drug_allergy_against_an_alert_that_lists_some_is_surfaced() {
    let m = messages(&alert(&["Penicillin"]), &[nkda()]);
    assert!(m[0].contains("No known drug allergy"), "{m:?}");
    assert!(m[0].contains("Penicillin"), "{m:?}");
    for agreeing in ["NKDA", "No known allergies", "none"] {
        assert!(
            messages(&alert(&[agreeing]), &[nkda()]).is_empty(),
            "{agreeing}"
        );
    }
    // "No known allergy" and no alert at all do not disagree.
    assert!(messages(&[], &[nkda()]).is_empty());
}

#[test]
fn an_inactive_problem_or_an_import_marked_in_error_raises_nothing() {
    let mut resolved = amoxicillin();
    resolved.status = ImportedStatus::Resolved;
    assert!(messages(&[], &[resolved]).is_empty());
    let condition = entry(
        "c",
        ImportedKind::Condition,
        Some("26322001"),
        "Bleeding from ear",
    );
    assert!(messages(&[], &[condition]).is_empty());
    let marker = EnteredInError {
        entry_id: "a".into(),
        reason: "wrong person".into(),
        author: author(),
    };
    assert!(allergy_disagreements(&[], &[amoxicillin()], &[marker]).is_empty());
}

#[test]
fn the_rules_refuse_what_no_import_should_write() {
    let today = Utc::now().date_naive();
    amoxicillin().check(today).unwrap();
    let mut e = amoxicillin();
    e.code.text = "  ".into();
    assert!(e.check(today).is_err());
    let mut e = amoxicillin();
    e.recorded_on = NaiveDate::from_ymd_opt(2100, 1, 1);
    assert!(e.check(today).unwrap_err().to_string().contains("future"));
    let mut e = amoxicillin();
    e.reactions = vec![e.code.clone(); MAX_REACTIONS + 1];
    assert!(e.check(today).is_err());
    let mut e = amoxicillin();
    e.reactions = vec![ImportedCode {
        snomed: Some("12".into()),
        text: "rash".into(),
    }];
    assert!(e.check(today).unwrap_err().to_string().contains("SNOMED"));
}
