import Foundation
@_exported import DoorstepFFI

/// The district nurse's day (issue 12): care plans whose interventions make the day's visits when
/// read, a visit's exceptions (moved, handed over, cancelled, priority), the today list and team
/// schedule, and conflicts on any single-value field. Dates are `"YYYY-MM-DD"`, Europe/London.
extension DoorstepStore {
    public func carePlan(_ personId: String) async throws -> CarePlanView {
        try await call { try $0.carePlan(personId: personId) }
    }

    public func addPlanProblem(_ personId: String, text: String) async throws -> PlanProblem {
        try await call { try $0.addPlanProblem(personId: personId, text: text) }
    }

    /// Change a problem's text or close it (`active` false): its goals' visits stop.
    public func updatePlanProblem(_ personId: String, problemId: String, text: String, active: Bool) async throws -> PlanProblem {
        try await call { try $0.updatePlanProblem(personId: personId, problemId: problemId, text: text, active: active) }
    }

    public func addPlanGoal(_ personId: String, _ goal: GoalInput) async throws -> PlanGoal {
        try await call { try $0.addPlanGoal(personId: personId, goal: goal) }
    }

    public func updatePlanGoal(_ personId: String, goalId: String, _ goal: GoalInput) async throws -> PlanGoal {
        try await call { try $0.updatePlanGoal(personId: personId, goalId: goalId, goal: goal) }
    }

    public func addPlanIntervention(_ personId: String, _ intervention: PlanInterventionInput) async throws -> PlanIntervention {
        try await call { try $0.addPlanIntervention(personId: personId, intervention: intervention) }
    }

    /// Change an intervention or stop it (`active` false).
    public func updatePlanIntervention(
        _ personId: String, interventionId: String, _ intervention: PlanInterventionInput, active: Bool
    ) async throws -> PlanIntervention {
        try await call {
            try $0.updatePlanIntervention(
                personId: personId, interventionId: interventionId, intervention: intervention, active: active)
        }
    }

    public func setPlanReview(_ personId: String, reviewDate: String) async throws -> PlanReview {
        try await call { try $0.setPlanReview(personId: personId, reviewDate: reviewDate) }
    }

    public func moveVisit(_ personId: String, visitRef: String, to: VisitMoveInput) async throws -> VisitMove {
        try await call { try $0.moveVisit(personId: personId, visitRef: visitRef, to: to) }
    }

    public func handOverVisit(
        _ personId: String, visitRef: String, toUserId: String, toName: String, note: String
    ) async throws -> VisitHandover {
        try await call {
            try $0.handOverVisit(personId: personId, visitRef: visitRef, toUserId: toUserId, toName: toName, note: note)
        }
    }

    public func cancelVisit(_ personId: String, visitRef: String, reason: String) async throws -> VisitCancellation {
        try await call { try $0.cancelVisit(personId: personId, visitRef: visitRef, reason: reason) }
    }

    /// Set a visit's priority by hand, overriding the care plan's.
    public func setVisitPriority(
        _ personId: String, visitRef: String, priority: VisitPriority, reason: String? = nil
    ) async throws -> VisitPriorityOverride {
        try await call { try $0.setVisitPriority(personId: personId, visitRef: visitRef, priority: priority, reason: reason) }
    }

    /// Record a medication given or not given (with its reason): a controlled drug with a witness
    /// who is not the giver, a syringe driver with its check. Recorded once, never edited: a
    /// correction is `markEnteredInError` plus a new record. Read back in `ClinicalRecord.medications`.
    public func recordMedication(_ personId: String, _ input: MedicationInput) async throws -> MedicationAdministration {
        try await call { try $0.recordMedication(personId: personId, input: input) }
    }

    /// The visits of a London day, worked out when read; "overdue" is as of now.
    public func todayList(_ query: DayQuery) async throws -> TodayList {
        try await call { try $0.todayList(query: query) }
    }

    public func teamSchedule(from: String, days: UInt32) async throws -> [TodayList] {
        try await call { try $0.teamSchedule(from: from, days: days) }
    }

    public func reorderDay(_ day: String, order: [VisitKey]) async throws {
        try await call { try $0.reorderDay(day: day, order: order) }
    }

    public func fieldConflicts(_ personId: String? = nil) async throws -> [FieldConflict] {
        try await call { try $0.fieldConflicts(personId: personId) }
    }

    public func resolveFieldConflict(_ conflictId: String, keep: UInt32) async throws -> ConflictResolution {
        try await call { try $0.resolveFieldConflict(conflictId: conflictId, keep: keep) }
    }

    /// Add a task (bloods due, prescription request, referral, review) for a nurse or a role.
    public func addTask(_ personId: String, _ input: TaskInput) async throws -> CareTask {
        try await call { try $0.addTask(personId: personId, input: input) }
    }

    /// Complete a task: refused to a role that may not; completed once across phones.
    public func completeTask(_ personId: String, taskId: String, note: String? = nil) async throws -> TaskStatusChange {
        try await call { try $0.completeTask(personId: personId, taskId: taskId, note: note) }
    }

    /// Move a task to ready, in progress, completed or cancelled (with the reason in `note`).
    public func setTaskStatus(
        _ personId: String, taskId: String, status: TaskStatus, note: String? = nil
    ) async throws -> TaskStatusChange {
        try await call { try $0.setTaskStatus(personId: personId, taskId: taskId, status: status, note: note) }
    }

    /// Tasks for `day`: the signed-in user's (or her role's) or the team's.
    public func tasks(day: String, scope: DayScope, includeClosed: Bool = false) async throws -> [TaskView] {
        try await call { try $0.tasks(day: day, scope: scope, includeClosed: includeClosed) }
    }

    // ---- outreach appointments (issue 14): the case worker's day over the advice record

    /// Book an appointment at home or at a named venue; a second attempt names the missed one in `follows`.
    public func bookOutreachAppointment(_ personId: String, _ input: AppointmentInput) async throws -> OutreachAppointment {
        try await call { try $0.bookOutreachAppointment(personId: personId, input: input) }
    }

    /// Record attended, did not attend, or cancelled (with the reason). A did-not-attend raises the
    /// case worker's follow-up, or at the last attempt closes the case: see `AttendanceResult`.
    public func recordAppointmentAttendance(
        _ personId: String, appointmentId: String, attendance: Attendance, reason: String? = nil
    ) async throws -> AttendanceResult {
        try await call {
            try $0.recordAppointmentAttendance(
                personId: personId, appointmentId: appointmentId, attendance: attendance, reason: reason)
        }
    }

    public func addAdviceFollowUp(_ personId: String, _ input: TaskInput) async throws -> CareTask {
        try await call { try $0.addAdviceFollowUp(personId: personId, input: input) }
    }

    public func setAdviceFollowUpStatus(
        _ personId: String, taskId: String, status: TaskStatus, note: String? = nil
    ) async throws -> TaskStatusChange {
        try await call { try $0.setAdviceFollowUpStatus(personId: personId, taskId: taskId, status: status, note: note) }
    }

    public func outreachAppointments(_ personId: String) async throws -> [AppointmentView] {
        try await call { try $0.outreachAppointments(personId: personId) }
    }

    /// The case worker's list of a London day: appointments with their venues, and follow-ups due.
    public func adviceTodayList(_ query: DayQuery) async throws -> TodayList {
        try await call { try $0.adviceTodayList(query: query) }
    }

    public func adviceFollowUps(day: String, scope: DayScope, includeClosed: Bool = false) async throws -> [TaskView] {
        try await call { try $0.adviceFollowUps(day: day, scope: scope, includeClosed: includeClosed) }
    }

    // ---- referrals between teams (issue 14)

    /// Refer a person on this team's caseload to another team, sharing what `input` names.
    public func referPerson(_ personId: String, _ input: ReferralInput) async throws -> Referral {
        try await call { try $0.referPerson(personId: personId, input: input) }
    }

    /// Accept, or decline with the reason, a referral made to this user's team.
    public func answerReferral(
        _ personId: String, referralId: String, decision: ReferralDecision, reason: String? = nil
    ) async throws -> ReferralAnswer {
        try await call {
            try $0.answerReferral(personId: personId, referralId: referralId, decision: decision, reason: reason)
        }
    }

    /// Referrals made to this user's team (`incoming`) or by it; pending first.
    public func referrals(incoming: Bool) async throws -> [ReferralView] {
        try await call { try $0.referrals(incoming: incoming) }
    }

    /// Possible duplicates the server flagged, of one person or everyone here; undecided first.
    public func possibleDuplicates(_ personId: String? = nil) async throws -> [DuplicateView] {
        try await call { try $0.possibleDuplicates(personId: personId) }
    }

    /// The same person (both records kept and linked) or not the same; copied to the other record.
    public func linkRecords(
        _ personId: String, duplicateId: String, decision: LinkDecision, note: String? = nil
    ) async throws -> RecordLink {
        try await call { try $0.linkRecords(personId: personId, duplicateId: duplicateId, decision: decision, note: note) }
    }

    /// The today list, again after every change to the day lists (a write here or a sync).
    public func todayListUpdates(_ query: DayQuery) -> AsyncThrowingStream<Live<TodayList>, Error> {
        live({ $0.plannedVisits }) { try await self.todayList(query) }
    }
}
