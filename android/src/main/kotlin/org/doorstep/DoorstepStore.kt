package org.doorstep

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.doorstep.ffi.DoorstepException
import org.doorstep.ffi.FieldStore
import java.util.concurrent.atomic.AtomicBoolean

/**
 * The device's offline record store, for Kotlin apps: every call is a `suspend fun` that runs the
 * blocking Rust call on [Dispatchers.IO] (or the dispatcher given to [open]), so it is safe to
 * call from the main thread.
 *
 * Writes are on disk (fsynced) when the call returns. Failures are [DoorstepException]s whose
 * `message` is written for the user: show it. Times are epoch milliseconds (UTC) in `...Ms`
 * properties (see Types.kt); calendar dates are `"YYYY-MM-DD"` strings.
 *
 * Close the store when done ([close], or `use {}`): that releases the native store at once rather
 * than when the garbage collector gets to it. Calls after [close] throw [IllegalStateException].
 */
class DoorstepStore private constructor(
    private val ffi: FieldStore,
    private val dispatcher: CoroutineDispatcher,
) : AutoCloseable {
    private val closed = AtomicBoolean(false)

    companion object {
        /**
         * Open (or create) the store. Throws [DoorstepException.WrongKey] when [StoreConfig.key] is
         * not the key the store was made with, [DoorstepException.Damaged] for a damaged file;
         * in both cases nothing on disk changed (never delete the file).
         */
        suspend fun open(
            config: StoreConfig,
            dispatcher: CoroutineDispatcher = Dispatchers.IO,
        ): DoorstepStore = withContext(dispatcher) { DoorstepStore(FieldStore.open(config), dispatcher) }
    }

    private suspend inline fun <T> call(crossinline block: FieldStore.() -> T): T {
        check(!closed.get()) { "this DoorstepStore is closed" }
        return withContext(dispatcher) { ffi.block() }
    }

    /** The person using this device. */
    val user: User get() = ffi.user()

    val deviceId: String get() = ffi.deviceId()

    suspend fun registerPatient(demographics: Demographics): String = call { registerPatient(demographics) }

    suspend fun updateDemographics(personId: String, demographics: Demographics): Demographics =
        call { updateDemographics(personId, demographics) }

    suspend fun patient(personId: String): PersonRecord = call { patient(personId) }

    suspend fun caseload(): List<CaseloadEntry> = call { caseload() }

    /**
     * A screenful of the caseload for the list screen: up to [limit] slim rows (1 to 500) after
     * [after] (the `next` of the page before; null for the first), in [caseload]'s order. The
     * cursor is a sort key, not an offset: rows added or moved before it do not shift the next page.
     */
    suspend fun caseloadPage(after: CaseloadCursor?, limit: UInt): CaseloadPage = call { caseloadPage(after, limit) }

    suspend fun searchPatients(query: String): List<CaseloadEntry> = call { searchPatients(query) }

    /** Planned visits of [day] (`"YYYY-MM-DD"`). */
    suspend fun plannedVisits(day: String): List<PlannedVisitSummary> = call { plannedVisits(day) }

    suspend fun scheduleVisit(personId: String, input: PlannedVisitInput): PlannedVisit =
        call { scheduleVisit(personId, input) }

    /** Record a visit; observations, if any, come back scored in [RecordedVisit.news2]. */
    suspend fun recordVisit(personId: String, input: VisitInput): RecordedVisit = call { recordVisit(personId, input) }

    /** Record observations; the returned set carries its NEWS2 in [ObservationSet.news2]. */
    suspend fun recordObservations(
        personId: String,
        takenAtMs: Long,
        observations: Observations,
        visitId: String? = null,
    ): ObservationSet = call { recordObservations(personId, takenAtMs, observations, visitId) }

    suspend fun addNote(personId: String, note: String, visitId: String? = null): Note =
        call { addNote(personId, visitId, note) }

    /** Refused ([DoorstepException.Validation]) while the alert has an open conflict. */
    suspend fun setAlert(personId: String, alert: AlertInput): Alert = call { setAlert(personId, alert) }

    /** Open clinical conflicts of one person, or of everyone on the device (`null`). */
    suspend fun conflicts(personId: String? = null): List<ClinicalConflict> = call { conflicts(personId) }

    suspend fun resolveConflict(conflictId: String, resolution: AlertInput): Alert =
        call { resolveConflict(conflictId, resolution) }

    suspend fun markEnteredInError(personId: String, entryId: String, reason: String): EnteredInError =
        call { markEnteredInError(personId, entryId, reason) }

    suspend fun history(personId: String): List<HistoryEntry> = call { history(personId) }

    // ---- scored assessments (MUST, Waterlow) and wound assessments: docs/assessments.md

    /**
     * Keep a half-filled assessment on this phone (never synced): a new draft ([draftId] null) or
     * the next state of one. Comes back with its partial score; `score.missing` lists what is
     * still to answer. Answers outside the definition are a [DoorstepException.Validation].
     */
    suspend fun saveAssessmentDraft(
        personId: String,
        input: AssessmentDraftInput,
        draftId: String? = null,
    ): AssessmentDraft = call { saveAssessmentDraft(personId, draftId, input) }

    /** Open a draft to resume it, scored as far as it goes. */
    suspend fun assessmentDraft(draftId: String): AssessmentDraft = call { assessmentDraft(draftId) }

    /** This user's drafts on this phone, of one person or of everyone (`null`), newest first. */
    suspend fun assessmentDrafts(personId: String? = null): List<AssessmentDraft> =
        call { assessmentDrafts(personId) }

    /** Record the draft as an assessment (refused while items are missing) and remove the draft. */
    suspend fun finishAssessmentDraft(
        draftId: String,
        assessedAtMs: Long = System.currentTimeMillis(),
    ): Assessment = call { finishAssessmentDraft(draftId, assessedAtMs) }

    suspend fun discardAssessmentDraft(draftId: String) = call { discardAssessmentDraft(draftId) }

    /** Record a complete assessment in one go, without a draft. */
    suspend fun recordAssessment(personId: String, input: AssessmentInput): Assessment =
        call { recordAssessment(personId, input) }

    /** Record a wound assessment; the area over the visits is in `ClinicalRecord.woundTrends`. */
    suspend fun recordWoundAssessment(personId: String, input: WoundAssessmentInput): WoundAssessment =
        call { recordWoundAssessment(personId, input) }

    /**
     * Keep a half-filled wound assessment on this phone (never synced): a new draft ([draftId]
     * null) or the next state of one. Each field given is checked as when recorded; `missing`
     * lists what is still to fill in, `areaMm2` is there once the size is.
     */
    suspend fun saveWoundDraft(
        personId: String,
        input: WoundDraftInput,
        draftId: String? = null,
    ): WoundDraft = call { saveWoundDraft(personId, draftId, input) }

    suspend fun woundDraft(draftId: String): WoundDraft = call { woundDraft(draftId) }

    /** This user's wound drafts on this phone, of one person or of everyone (`null`), newest first. */
    suspend fun woundDrafts(personId: String? = null): List<WoundDraft> = call { woundDrafts(personId) }

    /** Record the draft as a wound assessment (refused, naming what is missing) and remove it. */
    suspend fun finishWoundDraft(
        draftId: String,
        assessedAtMs: Long = System.currentTimeMillis(),
    ): WoundAssessment = call { finishWoundDraft(draftId, assessedAtMs) }

    suspend fun discardWoundDraft(draftId: String) = call { discardWoundDraft(draftId) }

    suspend fun pendingChanges(): List<PendingChange> = call { pendingChanges() }

    suspend fun acknowledge(seq: Long): Long = call { acknowledge(seq).toLong() }

    /** Every change after [since] (0 for all); pass [ChangeBatch.upTo] next time. */
    suspend fun exportChanges(since: Long = 0): ChangeBatch = call { exportChanges(since) }

    suspend fun importChanges(batch: ChangeBatch): ImportReport = call { importChanges(batch) }

    suspend fun addEpisode(personId: String, input: EpisodeInput): Episode = call { addEpisode(personId, input) }

    suspend fun dischargeEpisode(personId: String, episodeId: String, on: String, reason: String): Discharge =
        call { dischargeEpisode(personId, episodeId, on, reason) }

    suspend fun setCarePlan(personId: String, plan: CarePlan): CarePlan = call { setCarePlan(personId, plan) }

    suspend fun addAdviceNeed(personId: String, category: AdviceCategory, description: String): AdviceNeed =
        call { addAdviceNeed(personId, category, description) }

    suspend fun addAdviceAction(personId: String, needId: String, description: String): AdviceAction =
        call { addAdviceAction(personId, needId, description) }

    suspend fun recordAdviceOutcome(
        personId: String,
        needId: String,
        description: String,
        financialGainPence: Long,
    ): AdviceOutcome = call { recordAdviceOutcome(personId, needId, description, financialGainPence) }

    /** An outcome with its financial effect (issue 14, docs/outreach.md). */
    suspend fun recordAdviceOutcomeWithEffect(
        personId: String,
        needId: String,
        description: String,
        effect: FinancialEffectInput,
    ): AdviceOutcome = call { recordAdviceOutcomeWithEffect(personId, needId, description, effect) }

    suspend fun setAdviceNeedStatus(personId: String, needId: String, status: NeedStatus, note: String? = null): NeedStatusChange =
        call { setAdviceNeedStatus(personId, needId, status, note) }

    suspend fun referAdviceNeedOut(
        personId: String,
        needId: String,
        destination: ReferralDestination,
        organisation: String,
        reason: String,
    ): ReferralOut = call { referAdviceNeedOut(personId, needId, destination, organisation, reason) }

    /** The outreach report over this phone's advice records, days "YYYY-MM-DD" inclusive. */
    suspend fun outreachReport(from: String, to: String): OutreachReport = call { outreachReport(from, to) }

    suspend fun setConsentToShare(personId: String, consented: Boolean): ConsentToShare =
        call { setConsentToShare(personId, consented) }

    suspend fun compactNow() = call { compactNow() }

    suspend fun rebuildProjections() = call { rebuildProjections() }

    suspend fun integrityCheck(): String = call { integrityCheck() }

    // ---- the district nurse's day (issue 12): care plans, visit exceptions, day lists, conflicts
    // on any single-value field. Types in Day.kt.

    suspend fun carePlan(personId: String): CarePlanView = call { carePlan(personId) }

    suspend fun addPlanProblem(personId: String, text: String): PlanProblem =
        call { addPlanProblem(personId, text) }

    /** Change a problem's text or close it ([active] false): its goals' visits stop. */
    suspend fun updatePlanProblem(personId: String, problemId: String, text: String, active: Boolean): PlanProblem =
        call { updatePlanProblem(personId, problemId, text, active) }

    suspend fun addPlanGoal(personId: String, goal: GoalInput): PlanGoal =
        call { addPlanGoal(personId, goal) }

    suspend fun updatePlanGoal(personId: String, goalId: String, goal: GoalInput): PlanGoal =
        call { updatePlanGoal(personId, goalId, goal) }

    suspend fun addPlanIntervention(personId: String, intervention: PlanInterventionInput): PlanIntervention =
        call { addPlanIntervention(personId, intervention) }

    suspend fun updatePlanIntervention(
        personId: String,
        interventionId: String,
        intervention: PlanInterventionInput,
        active: Boolean,
    ): PlanIntervention = call { updatePlanIntervention(personId, interventionId, intervention, active) }

    /** [reviewDate] is `"YYYY-MM-DD"`. */
    suspend fun setPlanReview(personId: String, reviewDate: String): PlanReview =
        call { setPlanReview(personId, reviewDate) }

    suspend fun moveVisit(personId: String, visitRef: String, to: VisitMoveInput): VisitMove =
        call { moveVisit(personId, visitRef, to) }

    suspend fun handOverVisit(
        personId: String,
        visitRef: String,
        toUserId: String,
        toName: String,
        note: String,
    ): VisitHandover = call { handOverVisit(personId, visitRef, toUserId, toName, note) }

    suspend fun cancelVisit(personId: String, visitRef: String, reason: String): VisitCancellation =
        call { cancelVisit(personId, visitRef, reason) }

    suspend fun setVisitPriority(
        personId: String,
        visitRef: String,
        priority: VisitPriority,
        reason: String? = null,
    ): VisitPriorityOverride = call { setVisitPriority(personId, visitRef, priority, reason) }

    /** The visits of a London day, worked out when read; "overdue" is as of now. */
    suspend fun todayList(query: DayQuery): TodayList = call { todayList(query) }

    suspend fun teamSchedule(from: String, days: Int): List<TodayList> =
        call { teamSchedule(from, days.toUInt()) }

    suspend fun reorderDay(day: String, order: List<VisitKey>) = call { reorderDay(day, order) }

    suspend fun fieldConflicts(personId: String? = null): List<FieldConflict> =
        call { fieldConflicts(personId) }

    suspend fun resolveFieldConflict(conflictId: String, keep: Int): ConflictResolution =
        call { resolveFieldConflict(conflictId, keep.toUInt()) }

    /**
     * Record a medication given or not given (with its reason): a controlled drug with a witness
     * who is not the giver, a syringe driver with its check. Recorded once, never edited: a
     * correction is [markEnteredInError] plus a new record. Read back in `ClinicalRecord.medications`.
     */
    suspend fun recordMedication(personId: String, input: MedicationInput): MedicationAdministration =
        call { recordMedication(personId, input) }

    /** Add a task (bloods due, prescription request, referral, review) for a nurse or a role. */
    suspend fun addTask(personId: String, input: TaskInput): CareTask = call { addTask(personId, input) }

    /** Complete a task: refused to a role that may not; completed once across phones. */
    suspend fun completeTask(personId: String, taskId: String, note: String? = null): TaskStatusChange =
        call { completeTask(personId, taskId, note) }

    suspend fun setTaskStatus(personId: String, taskId: String, status: TaskStatus, note: String? = null): TaskStatusChange =
        call { setTaskStatus(personId, taskId, status, note) }

    /** Tasks for [day] (`"YYYY-MM-DD"`): the signed-in user's (or her role's) or the team's. */
    suspend fun tasks(day: String, scope: DayScope, includeClosed: Boolean = false): List<TaskView> =
        call { tasks(day, scope, includeClosed) }

    // ---- outreach appointments (issue 14): the case worker's day over the advice record

    /** Book an appointment at home or at a named venue; a second attempt names the missed one in `follows`. */
    suspend fun bookOutreachAppointment(personId: String, input: AppointmentInput): OutreachAppointment =
        call { bookOutreachAppointment(personId, input) }

    /**
     * Record attended, did not attend, or cancelled (with the reason). A did-not-attend raises the
     * case worker's follow-up, or at the last attempt closes the case: see [AttendanceResult].
     */
    suspend fun recordAppointmentAttendance(
        personId: String,
        appointmentId: String,
        attendance: Attendance,
        reason: String? = null,
    ): AttendanceResult = call { recordAppointmentAttendance(personId, appointmentId, attendance, reason) }

    suspend fun addAdviceFollowUp(personId: String, input: TaskInput): CareTask = call { addAdviceFollowUp(personId, input) }

    suspend fun setAdviceFollowUpStatus(personId: String, taskId: String, status: TaskStatus, note: String? = null): TaskStatusChange =
        call { setAdviceFollowUpStatus(personId, taskId, status, note) }

    suspend fun outreachAppointments(personId: String): List<AppointmentView> = call { outreachAppointments(personId) }

    /** The case worker's list of a London day: appointments with their venues, and follow-ups due. */
    suspend fun adviceTodayList(query: DayQuery): TodayList = call { adviceTodayList(query) }

    suspend fun adviceFollowUps(day: String, scope: DayScope, includeClosed: Boolean = false): List<TaskView> =
        call { adviceFollowUps(day, scope, includeClosed) }

    // ---- referrals between teams (issue 14)

    /** Refer a person on this team's caseload to another team, sharing what [input] names. */
    suspend fun referPerson(personId: String, input: ReferralInput): Referral = call { referPerson(personId, input) }

    /** Accept, or decline with the reason, a referral made to this user's team. */
    suspend fun answerReferral(
        personId: String,
        referralId: String,
        decision: ReferralDecision,
        reason: String? = null,
    ): ReferralAnswer = call { answerReferral(personId, referralId, decision, reason) }

    /** Referrals made to this user's team (`incoming`) or by it; pending first. */
    suspend fun referrals(incoming: Boolean): List<ReferralView> = call { referrals(incoming) }

    /** Possible duplicates the server flagged, of one person or everyone here; undecided first. */
    suspend fun possibleDuplicates(personId: String? = null): List<DuplicateView> = call { possibleDuplicates(personId) }

    /** The same person (both records kept and linked) or not the same; copied to the other record. */
    suspend fun linkRecords(personId: String, duplicateId: String, decision: LinkDecision, note: String? = null): RecordLink =
        call { linkRecords(personId, duplicateId, decision, note) }

    // ---- the virtual ward (issue 13)

    /** Admit to the virtual ward; an SpO2 target of 92 % or lower prescribes NEWS2 scale 2. */
    suspend fun admitToWard(personId: String, input: AdmissionInput): Episode = call { admitToWard(personId, input) }

    suspend fun dischargeFromWard(
        personId: String,
        episodeId: String,
        on: String,
        destination: DischargeDestination,
        reason: String,
    ): Discharge = call { dischargeFromWard(personId, episodeId, on, destination, reason) }

    /** Everyone on the ward today, with length of stay, latest NEWS2 and open escalations. */
    suspend fun wardCensus(): WardCensus = call { wardCensus() }

    /** One person's escalations, or everyone's open ones (highest band first, then newest). */
    suspend fun escalations(personId: String? = null): List<Escalation> = call { escalations(personId) }

    suspend fun acknowledgeEscalation(personId: String, escalationId: String, note: String? = null): EscalationEvent =
        call { acknowledgeEscalation(personId, escalationId, note) }

    suspend fun escalationEvent(
        personId: String,
        escalationId: String,
        kind: EscalationEventKind,
        note: String? = null,
    ): EscalationEvent = call { escalationEvent(personId, escalationId, kind, note) }

    /** NEWS2 and each parameter over time, for a chart; `fromMs`/`toMs` bound the period. */
    suspend fun trends(personId: String, fromMs: Long? = null, toMs: Long? = null): Trends =
        call { trends(personId, fromMs, toMs) }

    /**
     * The person's record as a FHIR R4 Bundle (UK Core 2.0.0), JSON text, holding only what the
     * signed-in user's role may read (docs/interop.md).
     */
    suspend fun exportFhir(personId: String): String = call { exportFhir(personId) }

    /**
     * Import a GP summary (a UK Core Bundle: Patient with NHS number, AllergyIntolerance,
     * Condition, Flag), JSON text. The person is matched by NHS number and registered when not on
     * this device; the report says, resource by resource, what was added, what was already there
     * and what was refused and why, and where a coded allergy and the allergies alert disagree.
     */
    suspend fun importFhir(bundleJson: String): FhirImportReport = call { importFhir(bundleJson) }

    /** Pass every change this store holds after [since] to [other]; returns what [other] took in. */
    suspend fun exchangeTo(other: DoorstepStore, since: Long = 0): ImportReport =
        other.importChanges(exportChanges(since))

    /** Release the native store. Idempotent; calls in flight finish first. */
    override fun close() {
        if (closed.compareAndSet(false, true)) ffi.close()
    }

    /** The generated object, for code that needs a call this layer does not wrap. */
    val native: FieldStore get() {
        check(!closed.get()) { "this DoorstepStore is closed" }
        return ffi
    }
}
