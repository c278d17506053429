import Doorstep
import XCTest

/// Scored assessments through the bindings: a Waterlow card as a draft, resumed, finished, read.
final class AssessmentTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func choice(_ item: String, _ option: String) -> AssessmentAnswer {
        AssessmentAnswer(item: item, value: .choice(option: option))
    }

    private func ticks(_ item: String, _ options: String...) -> AssessmentAnswer {
        AssessmentAnswer(item: item, value: .choices(options: options))
    }

    private var firstHalf: [AssessmentAnswer] {
        [
            AssessmentAnswer(item: "build", value: .measured(values: [
                Measurement(input: "height_cm", value: 162.0), Measurement(input: "weight_kg", value: 49.5),
            ])),
            ticks("skin", "tissue_paper", "dry"),
            choice("sex", "female"),
            choice("age", "81_plus"),
            choice("mst_weight_loss", "yes_0_5_to_5_kg"),
            choice("mst_eating_poorly", "yes"),
        ]
    }

    private var secondHalf: [AssessmentAnswer] {
        [
            choice("continence", "urinary"),
            choice("mobility", "restricted"),
            ticks("tissue_malnutrition", "anaemia"),
            AssessmentAnswer(item: "neurological_deficit", value: .points(points: 4)),
            choice("surgery_orthopaedic_spinal", "no"),
            choice("surgery_time_on_table", "none"),
            ticks("medication", "steroids"),
        ]
    }

    private func waterlow(_ answers: [AssessmentAnswer]) -> AssessmentDraftInput {
        AssessmentDraftInput(definitionId: "waterlow", definitionVersion: 1, answers: answers, visitId: nil)
    }

    func testADraftIsKeptResumedFinishedAndReadBackWithItsScoreAndBand() async throws {
        let config = Fixtures.config(dir, "phone-a")
        var s: DoorstepStore? = try await DoorstepStore.open(config)
        let personId = try await s!.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let sent = try await s!.exportChanges().changes.count
        let draft = try await s!.saveAssessmentDraft(personId, waterlow(firstHalf))
        XCTAssertEqual(draft.score.pointsSoFar, 14)
        XCTAssertEqual(draft.score.missing.count, 7)
        XCTAssertNil(draft.score.total)
        XCTAssertEqual(draft.score.items.first?.derived, 18.9)
        let sentAfter = try await s!.exportChanges().changes.count
        XCTAssertEqual(sentAfter, sent, "a draft is never a change to sync")
        s = nil

        // Resumed after the app is opened again.
        let store = try await DoorstepStore.open(config)
        let listed = try await store.assessmentDrafts(personId)
        XCTAssertEqual(listed.map(\.id), [draft.id])
        let resumed = try await store.assessmentDraft(draft.id)
        XCTAssertEqual(resumed.answers, firstHalf)

        let incomplete = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await store.finishAssessmentDraft(draft.id)
        }
        XCTAssertTrue(incomplete?.contains("medication") ?? false, incomplete ?? "")

        let full = try await store.saveAssessmentDraft(personId, waterlow(resumed.answers + secondHalf), draftId: draft.id)
        XCTAssertEqual(full.score.total, 28)
        let recorded = try await store.finishAssessmentDraft(draft.id)
        XCTAssertEqual(recorded.id, draft.id)
        XCTAssertEqual(recorded.score.band, "very_high_risk")
        let left = try await store.assessmentDrafts()
        XCTAssertTrue(left.isEmpty)

        let stored = try await store.patient(personId).clinical?.assessments.first
        XCTAssertEqual(stored?.score.total, 28)
        XCTAssertEqual(stored?.score.bandLabel, "very high risk")
        XCTAssertTrue(stored?.score.action?.hasPrefix("Very high risk") ?? false)
        let history = try await store.history(personId)
        XCTAssertEqual(history.last?.summary, "recorded Waterlow 28 (very high risk)")
    }

    func testAnswersOutsideTheDefinitionAreRefusedAndMustScoresLive() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-b"))
        let id = try await s.registerPatient(Fixtures.demographics("Ann", "Lee"))
        let bad = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await s.saveAssessmentDraft(
                id, self.waterlow([AssessmentAnswer(item: "neurological_deficit", value: .points(points: 3))]))
        }
        XCTAssertTrue(bad?.hasPrefix("neurological_deficit:") ?? false, bad ?? "")
        let drafts = try await s.assessmentDrafts()
        XCTAssertTrue(drafts.isEmpty)

        let must = try scoreAssessment(definitionId: "must", definitionVersion: 1, answers: [
            AssessmentAnswer(item: "bmi", value: .measured(values: [
                Measurement(input: "height_cm", value: 165.0), Measurement(input: "weight_kg", value: 52.0),
            ])),
            AssessmentAnswer(item: "weight_loss", value: .measured(values: [
                Measurement(input: "earlier_weight_kg", value: 58.0), Measurement(input: "current_weight_kg", value: 52.0),
            ])),
            choice("acute_disease", "no"),
        ])
        XCTAssertEqual(must.total, 3)
        XCTAssertEqual(must.band, "high")
        XCTAssertEqual(assessmentDefinitions().map(\.id), ["must", "waterlow"])
    }

    private func wound(
        _ woundId: String?, _ length: Double, _ width: Double, daysAgo: Int64, depth: Double = 3.0
    ) -> WoundAssessmentInput {
        WoundAssessmentInput(
            woundId: woundId, site: "left heel", size: WoundSize(lengthMm: length, widthMm: width, depthMm: depth),
            tissue: [TissueShare(tissue: .granulating, percent: 60), TissueShare(tissue: .slough, percent: 40)],
            exudate: .low, odour: .none, pain: 2, photoRef: "IMG_0042",
            assessedAtMs: Date().epochMillis - daysAgo * 86_400_000)
    }

    func testAWoundIsRecordedReadBackItsAreaTrendFollowsTwoVisitsAndImpossibleSizesAreRefused() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-w"))
        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let firstInput = wound(nil, 50, 40, daysAgo: 14)
        let first = try await s.recordWoundAssessment(id, firstInput)
        XCTAssertEqual(first.woundId, first.id, "a new wound takes its first assessment's id")
        XCTAssertEqual(first.areaMm2, 2000)
        let read = try await s.patient(id).clinical
        let one = try XCTUnwrap(read)
        XCTAssertEqual(one.woundAssessments, [first])
        let stored = try XCTUnwrap(one.woundAssessments.first)
        XCTAssertEqual(stored.site, "left heel")
        XCTAssertEqual(stored.size, WoundSize(lengthMm: 50, widthMm: 40, depthMm: 3))
        XCTAssertEqual(stored.tissue, firstInput.tissue)
        XCTAssertEqual(stored.exudate, ExudateLevel.low)
        XCTAssertEqual(stored.photoRef, "IMG_0042")
        XCTAssertEqual(stored.assessedAtMs, firstInput.assessedAtMs)
        XCTAssertEqual(one.woundTrends.count, 1)
        XCTAssertEqual(one.woundTrends.first?.trend, .firstMeasurement)
        XCTAssertNil(one.woundTrends.first?.changePercent)

        let second = try await s.recordWoundAssessment(id, wound(first.woundId, 40, 30, daysAgo: 0))
        let trends = try await s.patient(id).clinical?.woundTrends ?? []
        XCTAssertEqual(trends.count, 1)
        let trend = try XCTUnwrap(trends.first)
        XCTAssertEqual(trend.woundId, first.woundId)
        XCTAssertEqual(trend.points.map(\.assessmentId), [first.id, second.id])
        XCTAssertEqual(trend.points.map(\.areaMm2), [2000, 1200])
        XCTAssertEqual(trend.changePercent, -40)
        XCTAssertEqual(trend.trend, .reducing)

        let sent = try await s.exportChanges().changes.count
        func refused(_ input: WoundAssessmentInput) async -> String {
            await expectError({ if case .Validation = $0 { return true } else { return false } }) {
                _ = try await s.recordWoundAssessment(id, input)
            } ?? ""
        }
        let zero = await refused(wound(first.woundId, 0, 0, daysAgo: 0))
        XCTAssertTrue(zero.hasPrefix("wound length of 0 mm is outside the possible range"), zero)
        let wide = await refused(wound(first.woundId, 30, 45, daysAgo: 0))
        XCTAssertTrue(wide.hasPrefix("wound width: the width (45 mm) is more than the length (30 mm)"), wide)
        let deep = await refused(wound(first.woundId, 30, 20, daysAgo: 0, depth: 400))
        XCTAssertTrue(deep.hasPrefix("wound depth of 400 mm is outside the possible range"), deep)
        let fine = await refused(wound(first.woundId, 30.25, 20, daysAgo: 0))
        XCTAssertTrue(fine.hasPrefix("wound length: 30.25 mm has more than one decimal"), fine)
        let count = try await s.patient(id).clinical?.woundAssessments.count
        XCTAssertEqual(count, 2)
        let sentAfter = try await s.exportChanges().changes.count
        XCTAssertEqual(sentAfter, sent, "no change was written")
    }

    func testAFinishedMustReachesAColleaguesPhoneThroughTheSyncServerAndADraftNeverDoes() async throws {
        let server = try LoopbackServer(dir: dir)
        defer { server.stop() }
        let (a, aEnd) = try await server.phone(dir, "north-nurse1")
        let (b, bEnd) = try await server.phone(dir, "north-nurse2")
        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs: "9434765919"))
        let must = AssessmentDraftInput(definitionId: "must", definitionVersion: 1, answers: [
            AssessmentAnswer(item: "bmi", value: .measured(values: [
                Measurement(input: "height_cm", value: 165.0), Measurement(input: "weight_kg", value: 52.0),
            ])),
            choice("weight_loss", "loss_5_to_10"),
            choice("acute_disease", "no"),
        ], visitId: nil)
        let draft = try await a.saveAssessmentDraft(id, must)
        _ = try await a.saveAssessmentDraft(id, waterlow(firstHalf))
        let recorded = try await a.finishAssessmentDraft(draft.id)
        XCTAssertEqual(recorded.score.total, 2)
        _ = try await a.sync(aEnd)
        let pending = try await a.pendingChanges()
        XCTAssertEqual(pending, [], "the server accepted (and re-scored) the assessment")
        let quarantined = try a.native.quarantine()
        XCTAssertTrue(quarantined.isEmpty)

        _ = try await b.sync(bEnd)
        let theirs = try await b.patient(id).clinical?.assessments ?? []
        XCTAssertEqual(theirs.map(\.id), [recorded.id])
        XCTAssertEqual(theirs.first?.score.total, 2)
        XCTAssertEqual(theirs.first?.score.band, "high")
        let bDrafts = try await b.assessmentDrafts()
        XCTAssertTrue(bDrafts.isEmpty, "drafts stay on the phone that made them")
        let aDrafts = try await a.assessmentDrafts(id)
        XCTAssertEqual(aDrafts.count, 1)
    }
}
