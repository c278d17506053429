import Dispatch
import Foundation
@_exported import DoorstepFFI

/// The device's offline record store, for Swift apps: every call is `async` and runs the blocking
/// Rust call on a dispatch queue, never on the caller's thread or the cooperative pool.
///
/// Writes are on disk (fsynced) when the call returns. Failures are `DoorstepError`s whose
/// `message` is written for the user: show it. Instants are `Int64` epoch milliseconds (UTC) in
/// `...Ms` properties (`Date(epochMillis:)` converts); calendar dates are `"YYYY-MM-DD"` strings.
///
/// `Sendable`: the native store is safe to call from any thread (the core serialises writes) and
/// this class holds nothing mutable. The native store is released when the last reference goes.
public final class DoorstepStore: Sendable {
    /// The generated object, for calls this layer does not wrap.
    public let native: FieldStore
    private let queue: DispatchQueue

    private init(native: FieldStore, queue: DispatchQueue) {
        self.native = native
        self.queue = queue
    }

    /// Open (or create) the store. `DoorstepError.WrongKey` when the key from the Keychain is
    /// not the one the store was made with, `.Damaged` for a damaged file; in both cases nothing
    /// on disk changed (never delete the file).
    public static func open(
        _ config: StoreConfig,
        queue: DispatchQueue = .global(qos: .userInitiated)
    ) async throws -> DoorstepStore {
        try await run(on: queue) { DoorstepStore(native: try FieldStore.open(config: config), queue: queue) }
    }

    private static func run<T>(on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            queue.async { c.resume(with: Result(catching: body)) }
        }
    }

    /// Run `body` with the native store on the queue. The queue's reference is let go before the
    /// caller resumes, so the store is never released (and its database closed) on a dispatch
    /// thread after the caller has moved on: at process exit SQLCipher's own teardown would race
    /// such a close.
    func call<T>(_ body: @escaping @Sendable (FieldStore) throws -> T) async throws -> T {
        let lease = Lease(native)
        return try await Self.run(on: queue) { try body(try lease.take()) }
    }

    /// The person using this device.
    public var user: User { native.user() }
    public var deviceId: String { native.deviceId() }

    public func registerPatient(_ demographics: Demographics) async throws -> String {
        try await call { try $0.registerPatient(demographics: demographics) }
    }

    public func updateDemographics(_ personId: String, _ demographics: Demographics) async throws -> Demographics {
        try await call { try $0.updateDemographics(personId: personId, demographics: demographics) }
    }

    public func patient(_ personId: String) async throws -> PersonRecord {
        try await call { try $0.patient(personId: personId) }
    }

    public func caseload() async throws -> [CaseloadEntry] {
        try await call { try $0.caseload() }
    }

    /// A screenful of the caseload for the list screen: up to `limit` slim rows (1 to 500) after
    /// `after` (the `next` of the page before; nil for the first), in `caseload()`'s order. The
    /// cursor is a sort key, not an offset: rows added or moved before it do not shift the next page.
    public func caseloadPage(after: CaseloadCursor?, limit: UInt32) async throws -> CaseloadPage {
        try await call { try $0.caseloadPage(after: after, limit: limit) }
    }

    public func searchPatients(_ query: String) async throws -> [CaseloadEntry] {
        try await call { try $0.searchPatients(query: query) }
    }

    /// Planned visits of `day` (`"YYYY-MM-DD"`).
    public func plannedVisits(day: String) async throws -> [PlannedVisitSummary] {
        try await call { try $0.plannedVisits(day: day) }
    }

    public func scheduleVisit(_ personId: String, _ input: PlannedVisitInput) async throws -> PlannedVisit {
        try await call { try $0.scheduleVisit(personId: personId, input: input) }
    }

    /// Record a visit; observations, if any, come back scored in `RecordedVisit.news2`.
    public func recordVisit(_ personId: String, _ input: VisitInput) async throws -> RecordedVisit {
        try await call { try $0.recordVisit(personId: personId, input: input) }
    }

    /// Record observations; the returned set carries its NEWS2 in `ObservationSet.news2`.
    public func recordObservations(
        _ personId: String, takenAtMs: Int64, _ observations: Observations, visitId: String? = nil
    ) async throws -> ObservationSet {
        try await call {
            try $0.recordObservations(personId: personId, takenAt: takenAtMs, observations: observations, visitId: visitId)
        }
    }

    public func addNote(_ personId: String, _ note: String, visitId: String? = nil) async throws -> Note {
        try await call { try $0.addNote(personId: personId, visitId: visitId, note: note) }
    }

    /// Refused (`DoorstepError.Validation`) while the alert has an open conflict.
    public func setAlert(_ personId: String, _ alert: AlertInput) async throws -> Alert {
        try await call { try $0.setAlert(personId: personId, alert: alert) }
    }

    /// Open clinical conflicts of one person, or of everyone on the device (`nil`).
    public func conflicts(_ personId: String? = nil) async throws -> [ClinicalConflict] {
        try await call { try $0.conflicts(personId: personId) }
    }

    public func resolveConflict(_ conflictId: String, _ resolution: AlertInput) async throws -> Alert {
        try await call { try $0.resolveConflict(conflictId: conflictId, resolution: resolution) }
    }

    public func markEnteredInError(_ personId: String, entryId: String, reason: String) async throws -> EnteredInError {
        try await call { try $0.markEnteredInError(personId: personId, entryId: entryId, reason: reason) }
    }

    public func history(_ personId: String) async throws -> [HistoryEntry] {
        try await call { try $0.history(personId: personId) }
    }

    public func pendingChanges() async throws -> [PendingChange] {
        try await call { try $0.pendingChanges() }
    }

    public func acknowledge(upTo seq: Int64) async throws -> UInt64 {
        try await call { try $0.acknowledge(seq: seq) }
    }

    /// Every change after `since` (0 for all); pass `ChangeBatch.upTo` next time.
    public func exportChanges(since: Int64 = 0) async throws -> ChangeBatch {
        try await call { try $0.exportChanges(since: since) }
    }

    public func importChanges(_ batch: ChangeBatch) async throws -> ImportReport {
        try await call { try $0.importChanges(batch: batch) }
    }

    /// Pass every change this store holds after `since` to `other`; returns what `other` took in.
    public func exchange(to other: DoorstepStore, since: Int64 = 0) async throws -> ImportReport {
        try await other.importChanges(try await exportChanges(since: since))
    }

    public func addEpisode(_ personId: String, _ input: EpisodeInput) async throws -> Episode {
        try await call { try $0.addEpisode(personId: personId, input: input) }
    }

    public func dischargeEpisode(_ personId: String, episodeId: String, on day: String, reason: String) async throws -> Discharge {
        try await call { try $0.dischargeEpisode(personId: personId, episodeId: episodeId, on: day, reason: reason) }
    }

    public func setCarePlan(_ personId: String, _ plan: CarePlan) async throws -> CarePlan {
        try await call { try $0.setCarePlan(personId: personId, plan: plan) }
    }

    public func addAdviceNeed(_ personId: String, category: AdviceCategory, description: String) async throws -> AdviceNeed {
        try await call { try $0.addAdviceNeed(personId: personId, category: category, description: description) }
    }

    public func addAdviceAction(_ personId: String, needId: String, description: String) async throws -> AdviceAction {
        try await call { try $0.addAdviceAction(personId: personId, needId: needId, description: description) }
    }

    public func recordAdviceOutcome(
        _ personId: String, needId: String, description: String, financialGainPence: Int64
    ) async throws -> AdviceOutcome {
        try await call {
            try $0.recordAdviceOutcome(
                personId: personId, needId: needId, description: description, financialGainPence: financialGainPence)
        }
    }

    /// An outcome with its financial effect (issue 14, docs/outreach.md).
    public func recordAdviceOutcomeWithEffect(
        _ personId: String, needId: String, description: String, effect: FinancialEffectInput
    ) async throws -> AdviceOutcome {
        try await call {
            try $0.recordAdviceOutcomeWithEffect(
                personId: personId, needId: needId, description: description, effect: effect)
        }
    }

    /// The outreach report over this phone's advice records, days "YYYY-MM-DD" inclusive.
    public func outreachReport(from: String, to: String) async throws -> OutreachReport {
        try await call { try $0.outreachReport(from: from, to: to) }
    }

    public func setConsentToShare(_ personId: String, consented: Bool) async throws -> ConsentToShare {
        try await call { try $0.setConsentToShare(personId: personId, consented: consented) }
    }

    public func compactNow() async throws { try await call { try $0.compactNow() } }

    public func rebuildProjections() async throws { try await call { try $0.rebuildProjections() } }

    public func integrityCheck() async throws -> String { try await call { try $0.integrityCheck() } }
}

// MARK: - Scored assessments (MUST, Waterlow) and wound assessments: docs/assessments.md

extension DoorstepStore {
    /// Keep a half-filled assessment on this phone (never synced): a new draft (`draftId` nil) or
    /// the next state of one. Comes back with its partial score; `score.missing` lists what is
    /// still to answer. Answers outside the definition are a `DoorstepError.Validation`.
    public func saveAssessmentDraft(
        _ personId: String, _ input: AssessmentDraftInput, draftId: String? = nil
    ) async throws -> AssessmentDraft {
        try await call { try $0.saveAssessmentDraft(personId: personId, draftId: draftId, input: input) }
    }

    /// Open a draft to resume it, scored as far as it goes.
    public func assessmentDraft(_ draftId: String) async throws -> AssessmentDraft {
        try await call { try $0.assessmentDraft(draftId: draftId) }
    }

    /// This user's drafts on this phone, of one person or of everyone (nil), newest first.
    public func assessmentDrafts(_ personId: String? = nil) async throws -> [AssessmentDraft] {
        try await call { try $0.assessmentDrafts(personId: personId) }
    }

    /// Record the draft as an assessment (refused while items are missing) and remove the draft.
    public func finishAssessmentDraft(
        _ draftId: String, assessedAtMs: Int64 = Date().epochMillis
    ) async throws -> Assessment {
        try await call { try $0.finishAssessmentDraft(draftId: draftId, assessedAt: assessedAtMs) }
    }

    public func discardAssessmentDraft(_ draftId: String) async throws {
        try await call { try $0.discardAssessmentDraft(draftId: draftId) }
    }

    /// Record a complete assessment in one go, without a draft.
    public func recordAssessment(_ personId: String, _ input: AssessmentInput) async throws -> Assessment {
        try await call { try $0.recordAssessment(personId: personId, input: input) }
    }

    /// Record a wound assessment; the area over the visits is in `ClinicalRecord.woundTrends`.
    public func recordWoundAssessment(_ personId: String, _ input: WoundAssessmentInput) async throws -> WoundAssessment {
        try await call { try $0.recordWoundAssessment(personId: personId, input: input) }
    }

    /// Keep a half-filled wound assessment on this phone (never synced): a new draft (`draftId`
    /// nil) or the next state of one. Each field given is checked as when recorded; `missing`
    /// lists what is still to fill in, `areaMm2` is there once the size is.
    public func saveWoundDraft(
        _ personId: String, _ input: WoundDraftInput, draftId: String? = nil
    ) async throws -> WoundDraft {
        try await call { try $0.saveWoundDraft(personId: personId, draftId: draftId, input: input) }
    }

    public func woundDraft(_ draftId: String) async throws -> WoundDraft {
        try await call { try $0.woundDraft(draftId: draftId) }
    }

    /// This user's wound drafts on this phone, of one person or of everyone (nil), newest first.
    public func woundDrafts(_ personId: String? = nil) async throws -> [WoundDraft] {
        try await call { try $0.woundDrafts(personId: personId) }
    }

    /// Record the draft as a wound assessment (refused, naming what is missing) and remove it.
    public func finishWoundDraft(
        _ draftId: String, assessedAtMs: Int64 = Date().epochMillis
    ) async throws -> WoundAssessment {
        try await call { try $0.finishWoundDraft(draftId: draftId, assessedAt: assessedAtMs) }
    }

    public func discardWoundDraft(_ draftId: String) async throws {
        try await call { try $0.discardWoundDraft(draftId: draftId) }
    }

    /// The person's record as a FHIR R4 Bundle (UK Core 2.0.0), JSON text, holding only what
    /// the signed-in user's role may read (docs/interop.md).
    public func exportFhir(_ personId: String) async throws -> String {
        try await call { try $0.exportFhir(personId: personId) }
    }

    /// Import a GP summary (a UK Core Bundle: Patient with NHS number, AllergyIntolerance,
    /// Condition, Flag), JSON text. The person is matched by NHS number and registered when not
    /// on this device; the report says, resource by resource, what was added, what was already
    /// there and what was refused and why, and where a coded allergy and the allergies alert
    /// disagree.
    public func importFhir(_ bundleJson: String) async throws -> FhirImportReport {
        try await call { try $0.importFhir(bundleJson: bundleJson) }
    }
}

extension DoorstepError {
    /// The text to show the user (every case carries the core's message).
    public var message: String {
        switch self {
        case .Validation(let m), .InvalidKey(let m), .WrongKey(let m), .Damaged(let m), .TooNew(let m),
             .NotFound(let m), .ConflictNotOpen(let m), .BadChanges(let m), .Storage(let m), .Locked(let m),
             .Wiped(let m), .Network(let m), .AuthFailed(let m), .ProtocolMismatch(let m),
             .ServerRejected(let m), .EnrolmentRefused(let m), .Interrupted(let m), .NotAllowed(let m),
             .Document(let m):
            return m
        }
    }

    /// The first release's catch-all case, split into `.Storage` (the store could not save or
    /// read), `.Document` (a record document could not be processed) and `.Interrupted` (a sync
    /// stopped unexpectedly). See docs/ios.md, "Migrating from the first release".
    @available(*, deprecated, message: "use .Storage, .Document or .Interrupted")
    public static func Other(message: String) -> DoorstepError { .Storage(message: message) }
}

extension Date {
    /// An instant as the boundary carries it: milliseconds since 1970-01-01 UTC.
    public init(epochMillis: Int64) { self.init(timeIntervalSince1970: Double(epochMillis) / 1000) }
    public var epochMillis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}

/// One call's hold on the native store, given up by the call itself rather than by the dispatch
/// block that carries it (blocks are destroyed after the continuation has resumed the caller).
private final class Lease: @unchecked Sendable {
    private let lock = NSLock()
    private var store: FieldStore?

    init(_ store: FieldStore) {
        self.store = store
    }

    /// The store, once; the lease holds it no longer.
    func take() throws -> FieldStore {
        lock.lock()
        defer { lock.unlock() }
        guard let s = store else {
            throw DoorstepError.Interrupted(message: "this call was already run; run it again")
        }
        store = nil
        return s
    }
}
