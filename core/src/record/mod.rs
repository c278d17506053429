//! The person's record: its data model, its layout in Automerge documents, and reading it back.
//! Pure data and document logic; no SQLite, no network. `edit` is the write half (one function
//! per operation), `read` the read half, `policy` who may do what.

pub mod apply;
pub mod appointments;
pub mod assessments;
pub mod conflict;
pub mod consent_note;
pub mod day;
pub mod dictionary;
pub mod duplicates;
pub mod edit;
pub mod escalation;
pub mod history;
pub mod home;
pub mod imported;
pub mod layout;
pub mod medication;
pub mod model;
pub mod outreach;
pub mod outreach_edit;
pub mod outreach_report;
pub mod plan;
pub mod policy;
pub mod read;
pub mod referral;
pub mod schedule;
pub mod task;
pub mod validate;
pub mod ward;
pub mod watch;

pub use assessments::*;
pub use dictionary::{EthnicCategory, StatedGender};
pub use history::HistoryEntry;
pub use model::*;
pub use read::{AdviceRecord, ClinicalRecord, Discharge, PersonRecord};

// The district nurse's day (issue 12).
pub use conflict::{ConflictResolution, ConflictValue, FieldConflict};
pub use day::{
    VisitCancellation, VisitExceptions, VisitHandover, VisitMove, VisitMoveInput,
    VisitPriorityOverride,
};
pub use medication::{
    DoseUnit, MedicationAdministration, MedicationInput, Route, SyringeDriverCheck, Witness,
};
pub use plan::{
    CarePlanView, DayOfWeek, Frequency, GoalInput, GoalStatus, PlanGoal, PlanIntervention,
    PlanInterventionInput, PlanProblem, PlanReview, VisitPriority,
};
pub use schedule::{ScheduledIntervention, VisitStatus};
pub use task::{
    CareTask, TaskAssignee, TaskInput, TaskKind, TaskStatus, TaskStatusChange, TaskView,
};

// The virtual ward (issue 13).
pub use escalation::{Escalation, EscalationEvent, EscalationEventKind, EscalationStatus};
pub use ward::{
    AdmissionInput, AdmissionRoute, DischargeDestination, TrendMeasure, TrendPoint, TrendSeries,
    Trends, WardAdmission,
};
// Citizens Advice outreach (issue 14).
pub use appointments::{
    AppointmentInput, AppointmentOutcome, AppointmentVenue, AppointmentView, Attendance,
    AttendanceResult, OutreachAppointment, VenueKind,
};
pub use duplicates::{DuplicateMatch, DuplicateView, LinkDecision, PossibleDuplicate, RecordLink};
pub use outreach::{
    FinancialEffect, FinancialEffectInput, FinancialEffectKind, NeedStatus, NeedStatusChange,
    OutreachError, Period, ReferralDestination, ReferralOut,
};
pub use outreach_report::{OutreachReport, OutreachRow, ReportGrouping};
pub use referral::{
    Referral, ReferralAnswer, ReferralDecision, ReferralInput, ReferralStatus, ReferralUrgency,
    ReferralView,
};
