//! The write half of Citizens Advice outreach (issue 14), sans-IO like [`super::edit`]: an
//! outcome with its typed financial effect, a need's status, a referral out. Each checks its
//! whole input, then writes one immutable entry to the advice document.

use automerge::AutoCommit;

use super::edit::Edit;
use super::layout::{self, key, ADVICE_NEED, ADVICE_OUTCOME, NEED_STATUS, REFERRAL_OUT};
use super::model::*;
use super::outreach::{
    FinancialEffect, FinancialEffectInput, FinancialEffectKind, NeedStatus, NeedStatusChange,
    ReferralDestination, ReferralOut,
};
use crate::error::Result;
use crate::ids::new_id;

fn require_need(doc: &AutoCommit, need_id: &str) -> Result<()> {
    super::edit::require_key(doc, ADVICE_NEED, need_id, "advice need")
}

fn edit<T>(value: T, summary: String) -> Result<Edit<T>> {
    super::edit::edit(value, summary, vec![])
}

/// £1,234.56 from pence.
pub fn pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let p = pence.unsigned_abs();
    let whole = (p / 100).to_string();
    let (head, tail) = whole.split_at(whole.len() % 3);
    let mut groups: Vec<&str> = Vec::new();
    if !head.is_empty() {
        groups.push(head);
    }
    groups.extend(
        tail.as_bytes()
            .chunks(3)
            .map(|c| std::str::from_utf8(c).unwrap_or_default()),
    );
    let grouped = groups.join(",");
    format!("{sign}£{grouped}.{:02}", p % 100)
}

fn effect_words(e: &FinancialEffect) -> String {
    match e.period {
        Some(p) => format!(
            "{} {} {:?} ({} a year)",
            e.kind.label(),
            pounds(e.amount_pence),
            p,
            pounds(e.annual_pence())
        ),
        None => format!("{} {}", e.kind.label(), pounds(e.amount_pence)),
    }
}

/// Record the outcome of an advice need with its financial effect. `financial_gain_pence` is
/// stored as the effect's contribution to the total gain, so older apps show that figure.
pub fn record_outcome(
    doc: &mut AutoCommit,
    author: &Author,
    need_id: &str,
    description: &str,
    effect: &FinancialEffectInput,
) -> Result<Edit<AdviceOutcome>> {
    let description = required_text("outcome", description, "describe the outcome")?;
    let effect = effect
        .validated()
        .map_err(crate::error::ValidationError::from)?;
    require_need(doc, need_id)?;
    let o = AdviceOutcome {
        id: new_id(),
        need_id: need_id.to_string(),
        description,
        financial_gain_pence: effect.total_gain_pence(),
        author: author.clone(),
        effect: Some(effect),
    };
    layout::put_json(doc, &key(ADVICE_OUTCOME, &o.id), &o)?;
    let summary = format!(
        "recorded an advice outcome ({}; gain {})",
        effect_words(&o.financial_effect()),
        pounds(o.financial_gain_pence)
    );
    edit(o, summary)
}

/// Record an outcome with an untyped gain in pence (the first release's call): a one-off
/// income gain.
pub fn record_one_off_income(
    doc: &mut AutoCommit,
    author: &Author,
    need_id: &str,
    description: &str,
    financial_gain_pence: i64,
) -> Result<Edit<AdviceOutcome>> {
    let effect = FinancialEffectInput {
        kind: FinancialEffectKind::IncomeGained,
        amount_pence: financial_gain_pence,
        recurring: false,
        period: None,
    };
    record_outcome(doc, author, need_id, description, &effect)
}

/// Set where an advice need stands.
pub fn set_need_status(
    doc: &mut AutoCommit,
    author: &Author,
    need_id: &str,
    status: NeedStatus,
    note: Option<String>,
) -> Result<Edit<NeedStatusChange>> {
    let note = match note.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(n) => {
            text("status note", n)?;
            Some(n.to_string())
        }
    };
    require_need(doc, need_id)?;
    let c = NeedStatusChange {
        id: new_id(),
        need_id: need_id.to_string(),
        status,
        note,
        author: author.clone(),
    };
    layout::put_json(doc, &key(NEED_STATUS, &c.id), &c)?;
    edit(c, format!("set an advice need to {}", status.label()))
}

/// Refer an advice need out to another organisation.
pub fn refer_out(
    doc: &mut AutoCommit,
    author: &Author,
    need_id: &str,
    destination: ReferralDestination,
    organisation: &str,
    reason: &str,
) -> Result<Edit<ReferralOut>> {
    let organisation = required_short(
        "organisation",
        organisation,
        "name the organisation the person is referred to",
    )?;
    let reason = required_text("reason", reason, "say why the person is referred")?;
    require_need(doc, need_id)?;
    let r = ReferralOut {
        id: new_id(),
        need_id: need_id.to_string(),
        destination,
        organisation,
        reason,
        author: author.clone(),
    };
    layout::put_json(doc, &key(REFERRAL_OUT, &r.id), &r)?;
    let summary = format!(
        "referred an advice need to {} ({})",
        r.organisation,
        destination.label()
    );
    edit(r, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::edit::add_advice_need;
    use crate::record::outreach::Period;
    use crate::record::read;

    fn author() -> Author {
        Author {
            user_id: "u-ca".into(),
            display_name: "Sam Adviser".into(),
            role: Role::AdviceWorker,
            device_id: "dev-ca".into(),
            at: "2026-11-03T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn pounds_are_grouped_in_thousands() {
        assert_eq!(pounds(5), "£0.05");
        assert_eq!(pounds(41_200), "£412.00");
        assert_eq!(pounds(377_780), "£3,777.80");
        assert_eq!(pounds(123_456_789), "£1,234,567.89");
        assert_eq!(pounds(-100_000), "-£1,000.00");
    }

    #[test]
    fn an_outcome_stores_its_effect_and_its_gain_for_older_apps() {
        let mut doc = AutoCommit::new();
        let a = author();
        let need = add_advice_need(&mut doc, &a, AdviceCategory::UniversalCredit, "UC claim")
            .unwrap()
            .value;
        let input = FinancialEffectInput {
            kind: FinancialEffectKind::IncomeGained,
            amount_pence: 40_000,
            recurring: true,
            period: Some(Period::Monthly),
        };
        let e = record_outcome(&mut doc, &a, &need.id, "UC awarded", &input).unwrap();
        assert_eq!(e.value.financial_gain_pence, 480_000);
        assert!(e.summary.contains("£4,800.00 a year"), "{}", e.summary);
        let back = read::advice(&doc).unwrap();
        assert_eq!(back.outcomes[0].financial_effect().annual_pence(), 480_000);
    }

    #[test]
    fn bad_effects_and_unknown_needs_write_nothing() {
        let mut doc = AutoCommit::new();
        let a = author();
        let bad = FinancialEffectInput {
            kind: FinancialEffectKind::IncomeGained,
            amount_pence: 100,
            recurring: true,
            period: None,
        };
        let need = add_advice_need(&mut doc, &a, AdviceCategory::Debt, "Arrears")
            .unwrap()
            .value;
        let err = record_outcome(&mut doc, &a, &need.id, "x", &bad).unwrap_err();
        assert!(err.to_string().contains("needs a period"), "{err}");
        let err = record_one_off_income(&mut doc, &a, &need.id, "x", -5).unwrap_err();
        assert!(err.to_string().contains("cannot be negative"), "{err}");
        assert!(refer_out(
            &mut doc,
            &a,
            "nope",
            ReferralDestination::FoodBank,
            "Trussell",
            "no food"
        )
        .is_err());
        assert!(refer_out(
            &mut doc,
            &a,
            &need.id,
            ReferralDestination::FoodBank,
            " ",
            "x"
        )
        .is_err());
        assert!(read::advice(&doc).unwrap().outcomes.is_empty());
    }

    #[test]
    fn a_needs_status_is_its_latest_change() {
        let mut doc = AutoCommit::new();
        let mut a = author();
        let need = add_advice_need(&mut doc, &a, AdviceCategory::Debt, "Arrears")
            .unwrap()
            .value;
        set_need_status(&mut doc, &a, &need.id, NeedStatus::Referred, None).unwrap();
        a.at += chrono::Duration::days(3);
        set_need_status(
            &mut doc,
            &a,
            &need.id,
            NeedStatus::Resolved,
            Some("paid".into()),
        )
        .unwrap();
        refer_out(
            &mut doc,
            &a,
            &need.id,
            ReferralDestination::DebtAdviceAgency,
            "StepChange",
            "debt relief order",
        )
        .unwrap();
        let r = read::advice(&doc).unwrap();
        assert_eq!(
            crate::record::outreach::need_status(&r.need_status_changes, &need.id),
            NeedStatus::Resolved
        );
        assert_eq!(r.referrals_out.len(), 1);
    }
}
