import Doorstep
import XCTest

/// A wound assessment half-measured, kept as a draft, resumed after reopening and finished once.
final class WoundDraftTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private var half: WoundDraftInput {
        WoundDraftInput(
            site: "sacrum", size: WoundSize(lengthMm: 30.0, widthMm: 20.0, depthMm: 4.0), tissue: [])
    }

    func testAWoundDraftIsKeptResumedRefusedWhileIncompleteFinishedOnceNeverSynced() async throws {
        let config = Fixtures.config(dir, "phone-a")
        var s: DoorstepStore? = try await DoorstepStore.open(config)
        let personId = try await s!.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let sent = try await s!.exportChanges().changes.count
        let draft = try await s!.saveWoundDraft(personId, half)
        XCTAssertEqual(draft.missing, ["tissue", "exudate", "odour", "pain"])
        XCTAssertEqual(draft.areaMm2, 600.0)
        let sentAfter = try await s!.exportChanges().changes.count
        XCTAssertEqual(sentAfter, sent, "a draft is never a change to sync")
        s = nil

        let store = try await DoorstepStore.open(config)
        let listed = try await store.woundDrafts(personId)
        XCTAssertEqual(listed.map(\.id), [draft.id])
        XCTAssertEqual(listed.first?.input, half)
        let incomplete = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await store.finishWoundDraft(draft.id)
        }
        XCTAssertTrue(incomplete?.contains("tissue, exudate, odour, pain") ?? false, incomplete ?? "")

        let full = WoundDraftInput(
            site: "sacrum", size: WoundSize(lengthMm: 30.0, widthMm: 20.0, depthMm: 4.0),
            tissue: [TissueShare(tissue: .granulating, percent: 100)],
            exudate: ExudateLevel.low, odour: Odour.none, pain: 1)
        let saved = try await store.saveWoundDraft(personId, full, draftId: draft.id)
        XCTAssertTrue(saved.missing.isEmpty)
        let recorded = try await store.finishWoundDraft(draft.id)
        XCTAssertEqual(recorded.id, draft.id)
        XCTAssertEqual(recorded.areaMm2, 600.0)
        let left = try await store.woundDrafts()
        XCTAssertTrue(left.isEmpty)
        let changes = try await store.exportChanges().changes.count
        XCTAssertEqual(changes, sent + 1)
        let site = try await store.patient(personId).clinical?.woundAssessments.first?.site
        XCTAssertEqual(site, "sacrum")

        let bad = WoundDraftInput(
            site: "sacrum", size: WoundSize(lengthMm: 0.0, widthMm: 20.0, depthMm: 1.0), tissue: [])
        let refused = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await store.saveWoundDraft(personId, bad)
        }
        XCTAssertTrue(refused?.contains("wound length") ?? false, refused ?? "")
        let none = try await store.woundDrafts()
        XCTAssertTrue(none.isEmpty)
    }
}
