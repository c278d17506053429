//! Citizens Advice outreach (issue 14, layout 4): the versioned list of advice categories, the
//! typed financial effect of an outcome, a need's status and its referrals out. Plain data and
//! the rules that check it; the edit functions that write them are in [`super::outreach_edit`],
//! the report over them in [`super::outreach_report`]. See docs/outreach.md.

use serde::{Deserialize, Serialize};

use super::model::Author;

/// The version of the category list below (docs/outreach.md keeps its history).
///
/// | version | list |
/// |---|---|
/// | 1 | Citizens Advice's 18 top-level categories; the first release's ten mapped onto them |
pub const CATEGORY_LIST_VERSION: u32 = 1;

/// The largest amount one outcome may carry: £1,000,000. Anything above is a typing slip (an
/// amount in pounds typed as pence, or digits repeated), not an advice outcome.
pub const MAX_AMOUNT_PENCE: i64 = 100_000_000;

/// Why an outreach entry cannot be recorded as given. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutreachError {
    #[error("'{0}' is not an advice category. Choose one of: {known}.", known = AdviceCategory::codes())]
    UnknownCategory(String),
    #[error("'{0}' is not an outcome type. Choose one of: income_gained, debt_written_off, debt_rescheduled, grant_or_one_off, costs_avoided.")]
    UnknownEffectKind(String),
    #[error("'{0}' is not a period. Choose one of: weekly, four_weekly, monthly, annual.")]
    UnknownPeriod(String),
    #[error("The amount cannot be negative ({pence} pence): record what the person gained or avoided as a positive amount, and choose the outcome type for its direction.")]
    NegativeAmount { pence: i64 },
    #[error("An amount of £{pounds} is more than the £1,000,000 one outcome may record: check the amount is in pence and was typed once.", pounds = pence / 100)]
    AbsurdAmount { pence: i64 },
    #[error("A recurring {kind} needs a period: say whether it is paid weekly, four-weekly, monthly or annually.")]
    RecurringWithoutPeriod { kind: &'static str },
    #[error("A one-off {kind} has no period: either mark it recurring or leave the period empty.")]
    OneOffWithPeriod { kind: &'static str },
    #[error("A {kind} happens once: record it as one-off (a regular payment is income gained).")]
    MustBeOneOff { kind: &'static str },
    #[error("The report period ends ({to}) before it starts ({from}): swap the dates.")]
    PeriodBackwards {
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    },
}

/// Citizens Advice's top-level advice categories (list version 1). The first release's ten
/// categories keep their stored codes: `benefits` is benefits and tax credits, `family`
/// relationships and family, `immigration` immigration and asylum, `energy` utilities and
/// communications; debt, housing, employment, consumer, legal and other are unchanged. Documents
/// written before layout 4 therefore read as they always did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AdviceCategory {
    #[serde(rename = "benefits")]
    BenefitsAndTaxCredits,
    UniversalCredit,
    Debt,
    Housing,
    Employment,
    #[serde(rename = "family")]
    RelationshipsAndFamily,
    Consumer,
    FinancialServicesAndCapability,
    #[serde(rename = "energy")]
    UtilitiesAndCommunications,
    Legal,
    #[serde(rename = "immigration")]
    ImmigrationAndAsylum,
    HealthAndCommunityCare,
    TravelAndTransport,
    Tax,
    Education,
    Discrimination,
    CharitableSupportAndFoodBanks,
    Other,
}

impl AdviceCategory {
    pub const ALL: [AdviceCategory; 18] = [
        AdviceCategory::BenefitsAndTaxCredits,
        AdviceCategory::UniversalCredit,
        AdviceCategory::Debt,
        AdviceCategory::Housing,
        AdviceCategory::Employment,
        AdviceCategory::RelationshipsAndFamily,
        AdviceCategory::Consumer,
        AdviceCategory::FinancialServicesAndCapability,
        AdviceCategory::UtilitiesAndCommunications,
        AdviceCategory::Legal,
        AdviceCategory::ImmigrationAndAsylum,
        AdviceCategory::HealthAndCommunityCare,
        AdviceCategory::TravelAndTransport,
        AdviceCategory::Tax,
        AdviceCategory::Education,
        AdviceCategory::Discrimination,
        AdviceCategory::CharitableSupportAndFoodBanks,
        AdviceCategory::Other,
    ];

    /// The code stored in documents and used at the command line.
    pub fn code(&self) -> &'static str {
        use AdviceCategory::*;
        match self {
            BenefitsAndTaxCredits => "benefits",
            UniversalCredit => "universal_credit",
            Debt => "debt",
            Housing => "housing",
            Employment => "employment",
            RelationshipsAndFamily => "family",
            Consumer => "consumer",
            FinancialServicesAndCapability => "financial_services_and_capability",
            UtilitiesAndCommunications => "energy",
            Legal => "legal",
            ImmigrationAndAsylum => "immigration",
            HealthAndCommunityCare => "health_and_community_care",
            TravelAndTransport => "travel_and_transport",
            Tax => "tax",
            Education => "education",
            Discrimination => "discrimination",
            CharitableSupportAndFoodBanks => "charitable_support_and_food_banks",
            Other => "other",
        }
    }

    /// Citizens Advice's name for the category.
    pub fn label(&self) -> &'static str {
        use AdviceCategory::*;
        match self {
            BenefitsAndTaxCredits => "Benefits and tax credits",
            UniversalCredit => "Universal Credit",
            Debt => "Debt",
            Housing => "Housing",
            Employment => "Employment",
            RelationshipsAndFamily => "Relationships and family",
            Consumer => "Consumer",
            FinancialServicesAndCapability => "Financial services and capability",
            UtilitiesAndCommunications => "Utilities and communications",
            Legal => "Legal",
            ImmigrationAndAsylum => "Immigration and asylum",
            HealthAndCommunityCare => "Health and community care",
            TravelAndTransport => "Travel and transport",
            Tax => "Tax",
            Education => "Education",
            Discrimination => "Discrimination",
            CharitableSupportAndFoodBanks => "Charitable support and food banks",
            Other => "Other",
        }
    }

    /// The first layout that may store this category: the first release's ten are layout 1,
    /// the categories list version 1 added are layout 4.
    pub fn since_layout(&self) -> u32 {
        use AdviceCategory::*;
        match self {
            BenefitsAndTaxCredits
            | Debt
            | Housing
            | Employment
            | RelationshipsAndFamily
            | Consumer
            | UtilitiesAndCommunications
            | Legal
            | ImmigrationAndAsylum
            | Other => 1,
            _ => super::layout::LAYOUT_OUTREACH,
        }
    }

    /// A category from its code, or from the words a person types (`utilities`,
    /// "Universal Credit"): case, spaces and hyphens do not matter.
    pub fn parse(s: &str) -> Result<AdviceCategory, OutreachError> {
        let norm = normalise(s);
        let alias = match norm.as_str() {
            "benefits_and_tax_credits" => Some(AdviceCategory::BenefitsAndTaxCredits),
            "relationships_and_family" => Some(AdviceCategory::RelationshipsAndFamily),
            "utilities_and_communications" | "utilities" => {
                Some(AdviceCategory::UtilitiesAndCommunications)
            }
            "immigration_and_asylum" => Some(AdviceCategory::ImmigrationAndAsylum),
            _ => None,
        };
        alias
            .or_else(|| Self::ALL.into_iter().find(|c| c.code() == norm))
            .ok_or_else(|| OutreachError::UnknownCategory(s.to_string()))
    }

    fn codes() -> String {
        Self::ALL.map(|c| c.code()).join(", ")
    }
}

fn normalise(s: &str) -> String {
    s.trim().to_lowercase().replace([' ', '-'], "_")
}

/// What an outcome did to the person's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum FinancialEffectKind {
    /// A benefit awarded, a wage or pension increase: one-off (arrears) or recurring.
    IncomeGained,
    DebtWrittenOff,
    /// A debt spread over more time: reported apart, not a gain.
    DebtRescheduled,
    GrantOrOneOff,
    /// Money the person no longer has to spend (a charge waived, a social tariff): reported
    /// apart, not in the total gain.
    CostsAvoided,
}

impl FinancialEffectKind {
    pub fn label(&self) -> &'static str {
        match self {
            FinancialEffectKind::IncomeGained => "income gained",
            FinancialEffectKind::DebtWrittenOff => "debt written off",
            FinancialEffectKind::DebtRescheduled => "debt rescheduled",
            FinancialEffectKind::GrantOrOneOff => "grant or one-off payment",
            FinancialEffectKind::CostsAvoided => "costs avoided",
        }
    }

    pub fn parse(s: &str) -> Result<FinancialEffectKind, OutreachError> {
        match normalise(s).as_str() {
            "income_gained" | "income" => Ok(FinancialEffectKind::IncomeGained),
            "debt_written_off" => Ok(FinancialEffectKind::DebtWrittenOff),
            "debt_rescheduled" => Ok(FinancialEffectKind::DebtRescheduled),
            "grant_or_one_off" | "grant" | "one_off_payment" => {
                Ok(FinancialEffectKind::GrantOrOneOff)
            }
            "costs_avoided" => Ok(FinancialEffectKind::CostsAvoided),
            _ => Err(OutreachError::UnknownEffectKind(s.to_string())),
        }
    }

    /// Debt written off and grants happen once.
    fn must_be_one_off(&self) -> bool {
        matches!(
            self,
            FinancialEffectKind::DebtWrittenOff | FinancialEffectKind::GrantOrOneOff
        )
    }
}

/// How often a recurring amount is paid, and so how it is annualised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Weekly,
    FourWeekly,
    Monthly,
    Annual,
}

impl Period {
    /// Payments in a year: weekly × 52, four-weekly × 13, monthly × 12, annual × 1.
    pub fn per_year(&self) -> i64 {
        match self {
            Period::Weekly => 52,
            Period::FourWeekly => 13,
            Period::Monthly => 12,
            Period::Annual => 1,
        }
    }

    pub fn parse(s: &str) -> Result<Period, OutreachError> {
        match normalise(s).as_str() {
            "weekly" => Ok(Period::Weekly),
            "four_weekly" | "4_weekly" | "fourweekly" => Ok(Period::FourWeekly),
            "monthly" => Ok(Period::Monthly),
            "annual" | "annually" | "yearly" => Ok(Period::Annual),
            _ => Err(OutreachError::UnknownPeriod(s.to_string())),
        }
    }
}

/// An outcome's financial effect as stored: an amount in pence, paid once (`period` empty) or
/// each period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FinancialEffect {
    pub kind: FinancialEffectKind,
    pub amount_pence: i64,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub period: Option<Period>,
}

/// What the case worker enters: `recurring` with its `period`, or one-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FinancialEffectInput {
    pub kind: FinancialEffectKind,
    pub amount_pence: i64,
    pub recurring: bool,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub period: Option<Period>,
}

impl FinancialEffectInput {
    /// The effect, once its amount and period make sense together.
    pub fn validated(&self) -> Result<FinancialEffect, OutreachError> {
        let kind = self.kind.label();
        let period = match (self.recurring, self.period) {
            (true, None) => return Err(OutreachError::RecurringWithoutPeriod { kind }),
            (false, Some(_)) => return Err(OutreachError::OneOffWithPeriod { kind }),
            (_, p) => p,
        };
        let effect = FinancialEffect {
            kind: self.kind,
            amount_pence: self.amount_pence,
            period,
        };
        effect.check()?;
        Ok(effect)
    }
}

impl FinancialEffect {
    /// How an outcome recorded before layout 4 reads: a one-off income gain.
    pub fn legacy(pence: i64) -> FinancialEffect {
        FinancialEffect {
            kind: FinancialEffectKind::IncomeGained,
            amount_pence: pence,
            period: None,
        }
    }

    /// The rules the edit function and the server's validator both apply.
    pub fn check(&self) -> Result<(), OutreachError> {
        let pence = self.amount_pence;
        if pence < 0 {
            return Err(OutreachError::NegativeAmount { pence });
        }
        if pence > MAX_AMOUNT_PENCE {
            return Err(OutreachError::AbsurdAmount { pence });
        }
        if self.period.is_some() && self.kind.must_be_one_off() {
            return Err(OutreachError::MustBeOneOff {
                kind: self.kind.label(),
            });
        }
        Ok(())
    }

    /// The amount over a year: a recurring amount times its payments a year, a one-off as is.
    pub fn annual_pence(&self) -> i64 {
        let times = self.period.map_or(1, |p| p.per_year());
        self.amount_pence.saturating_mul(times)
    }

    /// What the outcome adds to the total financial gain: income annualised, debt written off
    /// and one-off gains; debt rescheduled and costs avoided add nothing (reported apart).
    pub fn total_gain_pence(&self) -> i64 {
        match self.kind {
            FinancialEffectKind::IncomeGained
            | FinancialEffectKind::DebtWrittenOff
            | FinancialEffectKind::GrantOrOneOff => self.annual_pence(),
            FinancialEffectKind::DebtRescheduled | FinancialEffectKind::CostsAvoided => 0,
        }
    }
}

/// Where a need stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum NeedStatus {
    Open,
    InProgress,
    /// Waiting on another organisation (a referral out).
    Referred,
    Resolved,
    /// Closed without a resolution (the person withdrew, could not be reached).
    Closed,
}

impl NeedStatus {
    pub fn label(&self) -> &'static str {
        match self {
            NeedStatus::Open => "open",
            NeedStatus::InProgress => "in progress",
            NeedStatus::Referred => "referred",
            NeedStatus::Resolved => "resolved",
            NeedStatus::Closed => "closed",
        }
    }
}

/// A change of a need's status: an immutable entry (`need_status:<id>`); the latest by time
/// is the need's status (a need with none is open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NeedStatusChange {
    pub id: String,
    pub need_id: String,
    pub status: NeedStatus,
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub note: Option<String>,
    pub author: Author,
}

/// The kind of organisation a need is referred out to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ReferralDestination {
    DebtAdviceAgency,
    FoodBank,
    BenefitsTribunal,
    LocalAuthority,
    Other,
}

impl ReferralDestination {
    pub fn label(&self) -> &'static str {
        match self {
            ReferralDestination::DebtAdviceAgency => "debt-advice agency",
            ReferralDestination::FoodBank => "food bank",
            ReferralDestination::BenefitsTribunal => "benefits tribunal",
            ReferralDestination::LocalAuthority => "local authority",
            ReferralDestination::Other => "other organisation",
        }
    }
}

/// A referral of a need to an organisation outside Doorstep: an immutable entry
/// (`referral_out:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReferralOut {
    pub id: String,
    pub need_id: String,
    pub destination: ReferralDestination,
    /// The organisation's name ("StepChange", "Trussell food bank, Hyde").
    pub organisation: String,
    pub reason: String,
    pub author: Author,
}

/// The status of `need_id`: its latest status change, or open.
pub fn need_status(changes: &[NeedStatusChange], need_id: &str) -> NeedStatus {
    changes
        .iter()
        .filter(|c| c.need_id == need_id)
        .max_by(|a, b| (a.author.at, &a.id).cmp(&(b.author.at, &b.id)))
        .map_or(NeedStatus::Open, |c| c.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        kind: FinancialEffectKind,
        pence: i64,
        period: Option<Period>,
    ) -> FinancialEffectInput {
        FinancialEffectInput {
            kind,
            amount_pence: pence,
            recurring: period.is_some(),
            period,
        }
    }

    #[test]
    fn the_first_releases_codes_read_as_the_new_categories() {
        for (code, cat) in [
            ("energy", AdviceCategory::UtilitiesAndCommunications),
            ("family", AdviceCategory::RelationshipsAndFamily),
            ("benefits", AdviceCategory::BenefitsAndTaxCredits),
            ("immigration", AdviceCategory::ImmigrationAndAsylum),
            ("debt", AdviceCategory::Debt),
            ("other", AdviceCategory::Other),
        ] {
            let read: AdviceCategory = serde_json::from_str(&format!("\"{code}\"")).unwrap();
            assert_eq!(read, cat);
            assert_eq!(read.since_layout(), 1);
            assert_eq!(serde_json::to_string(&cat).unwrap(), format!("\"{code}\""));
        }
        assert_eq!(AdviceCategory::UniversalCredit.since_layout(), 4);
    }

    #[test]
    fn categories_parse_from_codes_and_words_and_unknown_ones_are_named() {
        assert_eq!(
            AdviceCategory::parse("Utilities").unwrap(),
            AdviceCategory::UtilitiesAndCommunications
        );
        assert_eq!(
            AdviceCategory::parse("Universal Credit").unwrap(),
            AdviceCategory::UniversalCredit
        );
        for c in AdviceCategory::ALL {
            assert_eq!(AdviceCategory::parse(c.code()).unwrap(), c);
        }
        let e = AdviceCategory::parse("parking").unwrap_err();
        assert!(e
            .to_string()
            .contains("'parking' is not an advice category"));
        assert!(e.to_string().contains("universal_credit"));
    }

    #[test]
    fn recurring_amounts_annualise_by_their_period() {
        use FinancialEffectKind::*;
        let a = |p| input(IncomeGained, 10_000, Some(p)).validated().unwrap();
        assert_eq!(a(Period::Weekly).annual_pence(), 520_000);
        assert_eq!(a(Period::FourWeekly).annual_pence(), 130_000);
        assert_eq!(a(Period::Monthly).annual_pence(), 120_000);
        assert_eq!(a(Period::Annual).annual_pence(), 10_000);
        let once = input(IncomeGained, 10_000, None).validated().unwrap();
        assert_eq!(once.annual_pence(), 10_000);
    }

    #[test]
    fn costs_avoided_and_rescheduled_debt_add_nothing_to_the_gain() {
        use FinancialEffectKind::*;
        let g = |k, p| input(k, 5_000, p).validated().unwrap().total_gain_pence();
        assert_eq!(g(CostsAvoided, Some(Period::Monthly)), 0);
        assert_eq!(g(DebtRescheduled, None), 0);
        assert_eq!(g(DebtWrittenOff, None), 5_000);
        assert_eq!(g(GrantOrOneOff, None), 5_000);
        assert_eq!(g(IncomeGained, Some(Period::Weekly)), 260_000);
    }

    #[test]
    fn bad_amounts_and_periods_are_refused_with_what_to_do() {
        use FinancialEffectKind::*;
        let e = |i: FinancialEffectInput| i.validated().unwrap_err();
        assert_eq!(
            e(input(IncomeGained, -1, None)),
            OutreachError::NegativeAmount { pence: -1 }
        );
        let absurd = e(input(DebtWrittenOff, MAX_AMOUNT_PENCE + 1, None));
        assert!(absurd.to_string().contains("more than the £1,000,000"));
        let no_period = e(FinancialEffectInput {
            kind: IncomeGained,
            amount_pence: 100,
            recurring: true,
            period: None,
        });
        assert!(no_period.to_string().contains("needs a period"));
        let one_off_period = e(FinancialEffectInput {
            kind: IncomeGained,
            amount_pence: 100,
            recurring: false,
            period: Some(Period::Weekly),
        });
        assert!(one_off_period.to_string().contains("has no period"));
        let grant = e(input(GrantOrOneOff, 100, Some(Period::Monthly)));
        assert!(grant.to_string().contains("record it as one-off"));
        assert!(FinancialEffectKind::parse("lottery win")
            .unwrap_err()
            .to_string()
            .contains("is not an outcome type"));
        assert!(Period::parse("fortnightly").is_err());
    }

    #[test]
    fn an_untyped_gain_reads_as_a_one_off_income_gain() {
        let e = FinancialEffect::legacy(25_000);
        assert_eq!(e.kind, FinancialEffectKind::IncomeGained);
        assert_eq!(e.period, None);
        assert_eq!(e.total_gain_pence(), 25_000);
    }
}
