//! Citizens Advice outreach on the phone (issue 14): typed outcomes, need status, referrals out,
//! and the outreach report over the advice records this device holds. The rules and the report
//! are `record::outreach*`; this is the store's half (the writer lock, the documents).

use chrono::NaiveDate;

use super::{queries, FieldStore, Writer};
use crate::error::Result;
use crate::record::outreach_report::{self, OutreachClient};
use crate::record::{outreach_edit, *};

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl FieldStore {
    /// Record the outcome of an advice need with its financial effect (type, amount in pence,
    /// one-off or recurring with its period).
    pub fn record_advice_outcome_with_effect(
        &self,
        person_id: &str,
        need_id: &str,
        description: &str,
        effect: FinancialEffectInput,
    ) -> Result<AdviceOutcome> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            outreach_edit::record_outcome(doc, a, need_id, description, &effect)
        })
    }

    /// Set where an advice need stands (open, in progress, referred, resolved, closed).
    pub fn set_advice_need_status(
        &self,
        person_id: &str,
        need_id: &str,
        status: NeedStatus,
        note: Option<String>,
    ) -> Result<NeedStatusChange> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            outreach_edit::set_need_status(doc, a, need_id, status, note)
        })
    }

    /// Refer an advice need out to another organisation (a debt-advice agency, a food bank…).
    pub fn refer_advice_need_out(
        &self,
        person_id: &str,
        need_id: &str,
        destination: ReferralDestination,
        organisation: &str,
        reason: &str,
    ) -> Result<ReferralOut> {
        self.write(person_id, Compartment::Advice, |doc, a| {
            outreach_edit::refer_out(doc, a, need_id, destination, organisation, reason)
        })
    }

    /// The outreach report over the advice records on this device, for the days `from` to `to`
    /// inclusive (Europe/London), every client counted under this user's team.
    pub fn outreach_report(&self, from: NaiveDate, to: NaiveDate) -> Result<OutreachReport> {
        let people = queries::caseload(&*self.reader()?, &self.config.user.team)?;
        let team = self.config.user.team.clone();
        let clients = self.writing(|w| {
            let Writer { conn, docs } = w;
            let mut out = Vec::with_capacity(people.len());
            for p in people {
                let entry = docs.get(conn, &(p.person_id.clone(), Compartment::Advice))?;
                if entry.doc.is_empty() {
                    continue;
                }
                out.push(OutreachClient {
                    person_id: p.person_id,
                    name: Some(p.display_name),
                    team: team.clone(),
                    advice: read::advice(&entry.doc)?,
                });
            }
            Ok(out)
        })?;
        Ok(outreach_report::outreach_report(&clients, from, to)
            .map_err(crate::error::ValidationError::from)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::record::*;
    use crate::testing;

    #[test]
    fn a_case_worker_records_typed_outcomes_and_sees_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let s = testing::open(&dir.path().join("a.db"), "dev-a", Role::AdviceWorker);
        let p = s
            .register_patient(testing::demographics("Edith", "Crawley", None, "ls1 4ap"))
            .unwrap();
        let need = s
            .add_advice_need(&p, AdviceCategory::UniversalCredit, "UC claim")
            .unwrap();
        let weekly = FinancialEffectInput {
            kind: FinancialEffectKind::IncomeGained,
            amount_pence: 10_000,
            recurring: true,
            period: Some(Period::Weekly),
        };
        s.record_advice_outcome_with_effect(&p, &need.id, "Carer's element", weekly)
            .unwrap();
        s.record_advice_outcome(&p, &need.id, "Arrears paid", 30_000)
            .unwrap();
        s.set_advice_need_status(&p, &need.id, NeedStatus::Resolved, None)
            .unwrap();
        s.refer_advice_need_out(
            &p,
            &need.id,
            ReferralDestination::FoodBank,
            "Trussell",
            "Until the first payment",
        )
        .unwrap();
        let bad = FinancialEffectInput {
            kind: FinancialEffectKind::CostsAvoided,
            amount_pence: 1,
            recurring: true,
            period: None,
        };
        let err = s
            .record_advice_outcome_with_effect(&p, &need.id, "x", bad)
            .unwrap_err();
        assert!(err.to_string().contains("needs a period"), "{err}");

        let today = schedule::local_date(chrono::Utc::now());
        let r = s.outreach_report(today, today).unwrap();
        let t = r.total().unwrap();
        assert_eq!((t.clients_seen, t.needs_recorded, t.outcomes), (1, 1, 2));
        assert_eq!(t.income_gained_annual_pence, 520_000);
        assert_eq!(t.one_off_gains_pence, 30_000);
        assert_eq!(t.total_gain_pence, 550_000);
        let client = r.row(ReportGrouping::Client, &p).unwrap();
        assert_eq!(client.label, "Edith Crawley");
        assert_eq!(
            r.row(ReportGrouping::Team, &s.user().team)
                .unwrap()
                .outcomes,
            2
        );
        let advice = s.patient(&p).unwrap().advice.unwrap();
        assert_eq!(advice.referrals_out.len(), 1);
        assert_eq!(advice.need_status_changes.len(), 1);
    }
}
