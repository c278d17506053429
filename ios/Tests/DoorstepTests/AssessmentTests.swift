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
}
