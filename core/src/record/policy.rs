//! Who may do what to a person's record (docs/decisions/0005): one table of
//! `(role, action) → rule` rows and one function, [`allows`], asked by the store before every
//! write and by the server when it accepts a change or decides what a device may read.
//!
//! Later issues add rows and action names, not mechanisms.

use super::model::{Compartment, Role, User};

/// Who acts (docs/decisions/0004).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user on an enrolled phone.
    Device { device_id: String, user: User },
    /// A server process writing on its own account (escalations, trend summaries).
    Server { instance: String },
    /// A monitoring or FHIR integration.
    Integration { id: String, kind: String },
    /// A member of hub staff, signed in to the hub.
    HubUser { user: User },
}

impl Principal {
    /// The role whose rows apply, for principals that act as a user.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Device { user, .. } | Principal::HubUser { user } => Some(user.role),
            Principal::Server { .. } | Principal::Integration { .. } => None,
        }
    }

    fn describe(&self) -> String {
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
            Principal::Server { instance } => format!("the server process {instance}"),
            Principal::Integration { id, kind } => format!("the {kind} integration {id}"),
        }
    }
}

/// What a principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Read(Compartment),
    Write(Compartment),
    /// Decide between concurrent values of a safety-critical field.
    ResolveConflict,
    CompleteTask,
    AcknowledgeEscalation,
    AcceptReferral,
    ExportFhir,
}

impl Action {
    fn describe(&self) -> String {
        match self {
            Action::Read(c) => format!("read the {} record", c.as_str()),
            Action::Write(c) => format!("write the {} record", c.as_str()),
            Action::ResolveConflict => "resolve a clinical conflict".into(),
            Action::CompleteTask => "complete a task".into(),
            Action::AcknowledgeEscalation => "acknowledge an escalation".into(),
            Action::AcceptReferral => "accept a referral".into(),
            Action::ExportFhir => "export FHIR".into(),
        }
    }
}

/// A row's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Always,
    /// Only where the person consents to share (in conflict counts as not given).
    WithConsent,
    Never,
}

/// The person's consent to share, as read from their advice record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consent {
    Given,
    NotGiven,
    /// Concurrent values disagree: counts as not given until a clinician resolves it.
    InConflict,
    /// Not recorded, or the advice record is not on this device.
    #[default]
    Unknown,
}

impl Consent {
    pub fn given(&self) -> bool {
        matches!(self, Consent::Given)
    }
}

/// What the rules may depend on, about the person acted on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub consent: Consent,
    /// The teams whose caseload the person is on (a person may be on several).
    pub teams: Vec<String>,
}

/// Why an action was refused, in words for the person who tried it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{who} may not {what}{why}. Nothing was saved.")]
pub struct Denied {
    who: String,
    what: String,
    why: &'static str,
}

const ROWS: &[(Role, Action, Rule)] = {
    use Action::*;
    use Compartment::*;
    use Role::*;
    use Rule::*;
    &[
        (DistrictNurse, Read(Demographics), Always),
        (DistrictNurse, Write(Demographics), Always),
        (DistrictNurse, Read(Clinical), Always),
        (DistrictNurse, Write(Clinical), Always),
        (DistrictNurse, Read(Advice), WithConsent),
        (DistrictNurse, ResolveConflict, Always),
        (VirtualWardClinician, Read(Demographics), Always),
        (VirtualWardClinician, Write(Demographics), Always),
        (VirtualWardClinician, Read(Clinical), Always),
        (VirtualWardClinician, Write(Clinical), Always),
        (VirtualWardClinician, Read(Advice), WithConsent),
        (VirtualWardClinician, ResolveConflict, Always),
        (AdviceWorker, Read(Demographics), Always),
        (AdviceWorker, Write(Demographics), Always),
        (AdviceWorker, Read(Advice), Always),
        (AdviceWorker, Write(Advice), Always),
        (AdviceWorker, Read(Clinical), WithConsent),
    ]
};

/// The rule for a role and an action; a pair with no row is `Never`.
pub fn rule(role: Role, action: Action) -> Rule {
    ROWS.iter()
        .find(|(r, a, _)| *r == role && *a == action)
        .map(|(_, _, rule)| *rule)
        .unwrap_or(Rule::Never)
}

/// May `principal` do `action` to the person described by `context`?
pub fn allows(principal: &Principal, action: Action, context: &Context) -> Result<(), Denied> {
    let denied = |why| Denied {
        who: principal.describe(),
        what: action.describe(),
        why,
    };
    let Some(role) = principal.role() else {
        return Err(denied(": no rule lets this kind of principal do it yet"));
    };
    match rule(role, action) {
        Rule::Always => Ok(()),
        Rule::WithConsent if context.consent.given() => Ok(()),
        Rule::WithConsent => Err(denied(" unless the person consents to share")),
        Rule::Never => Err(denied("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(role: Role) -> Principal {
        Principal::Device {
            device_id: "phone-1".into(),
            user: User {
                id: "u1".into(),
                display_name: "Sam Patel".into(),
                role,
                team: "north".into(),
            },
        }
    }

    #[test]
    fn each_role_writes_its_own_compartments_only() {
        let ctx = Context::default();
        for (role, clinical, advice) in [
            (Role::DistrictNurse, true, false),
            (Role::VirtualWardClinician, true, false),
            (Role::AdviceWorker, false, true),
        ] {
            let p = device(role);
            assert!(allows(&p, Action::Write(Compartment::Demographics), &ctx).is_ok());
            assert_eq!(
                allows(&p, Action::Write(Compartment::Clinical), &ctx).is_ok(),
                clinical
            );
            assert_eq!(
                allows(&p, Action::Write(Compartment::Advice), &ctx).is_ok(),
                advice
            );
        }
    }

    #[test]
    fn refusal_says_who_and_what() {
        let e = allows(
            &device(Role::AdviceWorker),
            Action::Write(Compartment::Clinical),
            &Context::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "an advice worker may not write the clinical record. Nothing was saved."
        );
    }

    #[test]
    fn consent_in_conflict_counts_as_not_given() {
        let p = device(Role::AdviceWorker);
        let read = Action::Read(Compartment::Clinical);
        let with = |consent| Context {
            consent,
            teams: vec![],
        };
        assert!(allows(&p, read, &with(Consent::Given)).is_ok());
        for c in [Consent::NotGiven, Consent::InConflict, Consent::Unknown] {
            assert!(allows(&p, read, &with(c)).is_err(), "{c:?}");
        }
    }

    #[test]
    fn principals_without_rows_are_refused() {
        let p = Principal::Server {
            instance: "s1".into(),
        };
        assert!(allows(
            &p,
            Action::Write(Compartment::Clinical),
            &Context::default()
        )
        .is_err());
    }
}
