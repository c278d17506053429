//! Who may do what to whose record: one policy, asked by the phone before it writes and by the
//! server before it stores a change or answers a read (docs/decisions/0005, docs/access.md).
//!
//! The policy is data: [`RULES`] is a table of `(role, action) → rule` rows. Later features add
//! rows and [`Action`]s, not mechanisms.

use serde::{Deserialize, Serialize};

use super::model::{Compartment, Role, User};

/// Who acts (docs/decisions/0004). Every change's audit stamp names one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Principal {
    /// An enrolled phone and the person signed in on it.
    Device { device_id: String, user: User },
    /// A server process writing on its own authority (escalations, trend summaries).
    Server { instance: String },
    /// A system integration (remote monitoring, FHIR) with its own credential.
    Integration { id: String, kind: String },
    /// A member of hub staff signed in to the server's pages.
    HubUser { user: User },
}

impl Principal {
    /// The role whose rows apply, if the principal acts as a person.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Device { user, .. } | Principal::HubUser { user } => Some(user.role),
            Principal::Server { .. } | Principal::Integration { .. } => None,
        }
    }

    /// In words, for refusals.
    pub fn describe(&self) -> String {
        match self {
            Principal::Device { user, .. } | Principal::HubUser { user } => {
                let label = user.role.label();
                let article = if label.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!("{article} {label}")
            }
            Principal::Server { .. } => "the server".into(),
            Principal::Integration { kind, .. } => format!("the {kind} integration"),
        }
    }
}

/// Something a principal may want to do to a person's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    Read(Compartment),
    Write(Compartment),
    ResolveConflict(Compartment),
    /// Record a scored or wound assessment (or keep a draft of one) in the clinical record.
    RecordAssessment,
    /// Complete a task (issue 12).
    CompleteTask,
}

impl Action {
    fn describe(&self) -> String {
        match self {
            Action::Read(c) => format!("read the {} record", c.as_str()),
            Action::Write(c) => format!("write the {} record", c.as_str()),
            Action::ResolveConflict(c) => {
                format!("resolve a conflict in the {} record", c.as_str())
            }
            Action::RecordAssessment => {
                "record a clinical assessment (MUST, Waterlow, wound)".into()
            }
            Action::CompleteTask => "complete a task".into(),
        }
    }
}

/// When a row allows its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Always,
    /// Only while the person's consent to share is given (and not in conflict).
    WithConsent,
}

/// The person's consent to share between the health team and the advice service, as the record
/// holds it. Concurrent values that disagree are a conflict, which counts as not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Consent {
    #[default]
    NotRecorded,
    Given,
    Refused,
    InConflict,
}

impl Consent {
    pub fn is_given(self) -> bool {
        self == Consent::Given
    }

    /// From every concurrent value recorded (`true` = consented).
    pub fn from_values(values: &[bool]) -> Consent {
        match values {
            [] => Consent::NotRecorded,
            v if v.iter().all(|c| *c) => Consent::Given,
            v if v.iter().all(|c| !*c) => Consent::Refused,
            _ => Consent::InConflict,
        }
    }
}

/// What the policy needs to know about the person acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    pub consent: Consent,
}

use Action::*;
use Compartment::*;
use Role::*;

/// The rows. A `(role, action)` pair with no row is refused.
pub const RULES: &[(Role, Action, Rule)] = &[
    (DistrictNurse, Read(Demographics), Rule::Always),
    (DistrictNurse, Write(Demographics), Rule::Always),
    (DistrictNurse, Read(Clinical), Rule::Always),
    (DistrictNurse, Write(Clinical), Rule::Always),
    (DistrictNurse, ResolveConflict(Clinical), Rule::Always),
    (DistrictNurse, Read(Advice), Rule::WithConsent),
    (VirtualWardClinician, Read(Demographics), Rule::Always),
    (VirtualWardClinician, Write(Demographics), Rule::Always),
    (VirtualWardClinician, Read(Clinical), Rule::Always),
    (VirtualWardClinician, Write(Clinical), Rule::Always),
    (
        VirtualWardClinician,
        ResolveConflict(Clinical),
        Rule::Always,
    ),
    (VirtualWardClinician, Read(Advice), Rule::WithConsent),
    (AdviceWorker, Read(Demographics), Rule::Always),
    (AdviceWorker, Write(Demographics), Rule::Always),
    (AdviceWorker, Read(Advice), Rule::Always),
    (AdviceWorker, Write(Advice), Rule::Always),
    (AdviceWorker, ResolveConflict(Advice), Rule::Always),
    (AdviceWorker, Read(Clinical), Rule::WithConsent),
    // Scored and wound assessments: clinicians only.
    (DistrictNurse, RecordAssessment, Rule::Always),
    (VirtualWardClinician, RecordAssessment, Rule::Always),
    // ---- the district nurse's day (issue 12): clinicians complete tasks; advice workers do not
    (DistrictNurse, CompleteTask, Rule::Always),
    (VirtualWardClinician, CompleteTask, Rule::Always),
];

/// Rows for principals that do not act as a person, by principal kind. The server reads the
/// clinical record and writes the sets of home-monitoring readings it assembles into it
/// (decision 0011; `validate` holds it to those entries). The monitoring integration has no rows:
/// it posts readings, which are not the record. A FHIR integration (issue 15) reads, as a
/// clinician does: the advice record only with the person's consent to share; its credential's
/// scope of teams and compartments narrows that further (`server/src/fhir`). It also imports GP
/// summaries (issue 15 item 3): it writes demographics (registering a person) and the clinical
/// record, and `validate` holds it to registration and imported entries there.
const SYSTEM_RULES: &[(&str, Action, Rule)] = &[
    ("server", Read(Clinical), Rule::Always),
    ("server", Write(Clinical), Rule::Always),
    // Tell it once (issue 14 item 6): the server flags possible duplicates and copies a
    // decision on one into the other record; `validate` holds it to those entries.
    ("server", Read(Demographics), Rule::Always),
    ("server", Write(Demographics), Rule::Always),
    ("fhir", Read(Demographics), Rule::Always),
    ("fhir", Read(Clinical), Rule::Always),
    ("fhir", Read(Advice), Rule::WithConsent),
    ("fhir", Write(Demographics), Rule::Always),
    ("fhir", Write(Clinical), Rule::Always),
];

/// Why an action was refused, in words a clinician can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{who} may not {what}{why}")]
pub struct Denied {
    pub who: String,
    pub what: String,
    pub why: &'static str,
    pub action: Action,
}

/// The one question: may `principal` do `action` to a person in this `context`?
pub fn allows(principal: &Principal, action: Action, context: &Context) -> Result<(), Denied> {
    let rule = match principal.role() {
        Some(role) => RULES
            .iter()
            .find(|(r, a, _)| *r == role && *a == action)
            .map(|(_, _, rule)| *rule),
        None => {
            let kind = match principal {
                Principal::Server { .. } => "server",
                Principal::Integration { kind, .. } => kind.as_str(),
                _ => "",
            };
            SYSTEM_RULES
                .iter()
                .find(|(k, a, _)| *k == kind && *a == action)
                .map(|(_, _, rule)| *rule)
        }
    };
    let denied = |why| Denied {
        who: principal.describe(),
        what: action.describe(),
        why,
        action,
    };
    match rule {
        Some(Rule::Always) => Ok(()),
        Some(Rule::WithConsent) if context.consent.is_given() => Ok(()),
        Some(Rule::WithConsent) if context.consent == Consent::InConflict => Err(denied(
            ": the person's consent to share is in conflict (two values were recorded); it counts as not given until resolved",
        )),
        Some(Rule::WithConsent) => Err(denied(" without the person's consent to share")),
        None => Err(denied(": this is outside the role")),
    }
}

/// Whether `role` may always take `action` (a row with `Rule::Always`): what the record's
/// validation asks of the role stamped on an entry, on the phone and on the server.
pub fn role_may(role: Role, action: Action) -> bool {
    RULES
        .iter()
        .any(|(r, a, rule)| *r == role && *a == action && *rule == Rule::Always)
}

/// The compartments a role may read for a person in this context.
pub fn readable(role: Role, context: &Context) -> Vec<Compartment> {
    Compartment::ALL
        .into_iter()
        .filter(|c| {
            RULES.iter().any(|(r, a, rule)| {
                *r == role
                    && *a == Read(*c)
                    && (*rule == Rule::Always || context.consent.is_given())
            })
        })
        .collect()
}

/// The compartments a role writes on its own authority (no consent needed).
pub fn writable(role: Role) -> Vec<Compartment> {
    Compartment::ALL
        .into_iter()
        .filter(|c| {
            RULES
                .iter()
                .any(|(r, a, rule)| *r == role && *a == Write(*c) && *rule == Rule::Always)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(role: Role) -> Principal {
        Principal::Device {
            device_id: "d".into(),
            user: User {
                id: "u".into(),
                display_name: "U".into(),
                role,
                team: "t".into(),
            },
        }
    }

    fn ctx(consent: Consent) -> Context {
        Context { consent }
    }

    #[test]
    fn advice_workers_may_not_write_the_clinical_record() {
        let e = allows(&device(AdviceWorker), Write(Clinical), &ctx(Consent::Given)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an advice worker may not write the clinical record: this is outside the role"
        );
        assert!(allows(
            &device(AdviceWorker),
            Write(Advice),
            &ctx(Consent::NotRecorded)
        )
        .is_ok());
        assert!(allows(
            &device(DistrictNurse),
            Write(Clinical),
            &ctx(Consent::Refused)
        )
        .is_ok());
        assert!(allows(&device(DistrictNurse), Write(Advice), &ctx(Consent::Given)).is_err());
    }

    #[test]
    fn cross_reads_need_consent_and_a_conflict_counts_as_not_given() {
        let nurse = device(DistrictNurse);
        assert!(allows(&nurse, Read(Advice), &ctx(Consent::Given)).is_ok());
        for c in [Consent::NotRecorded, Consent::Refused] {
            assert!(allows(&nurse, Read(Advice), &ctx(c)).is_err());
        }
        let e = allows(&nurse, Read(Advice), &ctx(Consent::InConflict)).unwrap_err();
        assert!(e.to_string().contains("in conflict"), "{e}");
        assert_eq!(
            readable(DistrictNurse, &ctx(Consent::InConflict)),
            vec![Demographics, Clinical]
        );
        assert_eq!(
            readable(AdviceWorker, &ctx(Consent::Given)),
            vec![Demographics, Clinical, Advice]
        );
        assert_eq!(writable(AdviceWorker), vec![Demographics, Advice]);
    }

    #[test]
    fn only_clinicians_record_assessments() {
        assert!(allows(
            &device(DistrictNurse),
            RecordAssessment,
            &ctx(Consent::NotRecorded)
        )
        .is_ok());
        assert!(role_may(VirtualWardClinician, RecordAssessment));
        let e = allows(
            &device(AdviceWorker),
            RecordAssessment,
            &ctx(Consent::Given),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "an advice worker may not record a clinical assessment (MUST, Waterlow, wound): this is outside the role"
        );
        assert!(!role_may(AdviceWorker, RecordAssessment));
    }

    #[test]
    fn consent_from_values() {
        assert_eq!(Consent::from_values(&[]), Consent::NotRecorded);
        assert_eq!(Consent::from_values(&[true, true]), Consent::Given);
        assert_eq!(Consent::from_values(&[false]), Consent::Refused);
        assert_eq!(Consent::from_values(&[true, false]), Consent::InConflict);
    }

    #[test]
    fn completing_a_task_is_for_clinicians() {
        assert!(allows(
            &device(DistrictNurse),
            CompleteTask,
            &ctx(Consent::NotRecorded)
        )
        .is_ok());
        assert!(allows(
            &device(VirtualWardClinician),
            CompleteTask,
            &ctx(Consent::NotRecorded)
        )
        .is_ok());
        let e = allows(&device(AdviceWorker), CompleteTask, &ctx(Consent::Given)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an advice worker may not complete a task: this is outside the role"
        );
    }

    #[test]
    fn the_server_writes_the_clinical_and_demographics_records_only_and_integrations_nothing() {
        let s = Principal::Server {
            instance: "a".into(),
        };
        let none = Context::default();
        assert!(allows(&s, Write(Clinical), &none).is_ok());
        assert!(allows(&s, Read(Clinical), &none).is_ok());
        assert!(allows(&s, Write(Demographics), &none).is_ok());
        for refused in [Write(Advice), Read(Advice), CompleteTask] {
            let e = allows(&s, refused, &none).unwrap_err();
            assert!(e.to_string().starts_with("the server may not"), "{e}");
        }
        let i = Principal::Integration {
            id: "m1".into(),
            kind: "monitoring".into(),
        };
        assert!(allows(&i, Write(Clinical), &none).is_err());
        assert!(allows(&i, Read(Demographics), &none).is_err());
    }

    #[test]
    fn a_fhir_integration_reads_as_a_clinician_does_and_writes_only_what_it_imports() {
        let f = Principal::Integration {
            id: "f1".into(),
            kind: "fhir".into(),
        };
        let none = Context::default();
        assert!(allows(&f, Read(Demographics), &none).is_ok());
        assert!(allows(&f, Read(Clinical), &none).is_ok());
        assert!(allows(&f, Read(Advice), &ctx(Consent::Given)).is_ok());
        for c in [Consent::NotRecorded, Consent::Refused, Consent::InConflict] {
            let e = allows(&f, Read(Advice), &ctx(c)).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("the fhir integration may not read the advice record"),
                "{e}"
            );
        }
        // It imports GP summaries (registration and imported entries: `validate` holds it to
        // those), and never writes the advice record.
        assert!(allows(&f, Write(Demographics), &none).is_ok());
        assert!(allows(&f, Write(Clinical), &none).is_ok());
        assert!(allows(&f, Write(Advice), &ctx(Consent::Given)).is_err());
    }
}
