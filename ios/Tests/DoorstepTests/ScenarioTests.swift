import Doorstep
import XCTest

/// The scenario, as an iOS app would run it (the same steps are in Kotlin in
/// android/src/test and in Rust in bindings/tests/ffi_scenario.rs).
final class ScenarioTests: XCTestCase {
    func testVisitRecordedOfflineIsScoredListedGuardedAndReachesASecondStore() async throws {
        let dir = try Fixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }

        do {
            let a = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
            let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs: "943 476 5919"))

            // A visit with a full set of observations: NEWS2 comes back.
            let recorded = try await a.recordVisit(id, Fixtures.visit(Fixtures.observationsScoring6))
            let news2 = try XCTUnwrap(recorded.news2)
            XCTAssertEqual(news2.total, 6)
            XCTAssertEqual(news2.risk, .medium)
            XCTAssertEqual(news2.scale, .scale1)
            XCTAssertEqual(news2.missing, [])
            XCTAssertEqual(news2.subScores.map(\.score), [2, 1, 0, 1, 1, 0, 1])
            XCTAssertTrue(news2.response.hasPrefix("Medium clinical risk"), news2.response)
            XCTAssertEqual(recorded.visit.observationsId, recorded.observations?.id)

            // The caseload.
            let caseload = try await a.caseload()
            XCTAssertEqual(caseload.count, 1)
            XCTAssertEqual(caseload[0].personId, id)
            XCTAssertEqual(caseload[0].displayName, "Edith Crawley")
            XCTAssertEqual(caseload[0].nhsNumber, "9434765919")
            XCTAssertEqual(caseload[0].latestNews2, 6)
            XCTAssertEqual(caseload[0].lastVisitMs, recorded.visit.startedAtMs)

            // An invalid NHS number: a typed validation error, and nothing written.
            let message = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
                _ = try await a.registerPatient(Fixtures.demographics("Ann", "Other", nhs: "943 476 5918"))
            }
            XCTAssertTrue(message?.contains("NHS number '943 476 5918' is not valid") ?? false, message ?? "")
            let afterInvalid = try await a.caseload()
            XCTAssertEqual(afterInvalid.count, 1)

            // Exchange to a second store: the visit arrives with its NEWS2.
            let b = try await DoorstepStore.open(Fixtures.config(dir, "phone-b"))
            let report = try await a.exchange(to: b)
            XCTAssertEqual(report.peopleAdded, [id])
            XCTAssertEqual(report.newChanges, 2)
            let there = try await b.patient(id)
            let clinical = try XCTUnwrap(there.clinical)
            XCTAssertEqual(clinical.visits, [recorded.visit])
            XCTAssertEqual(clinical.observations.first?.news2.total, 6)
            let bCaseload = try await b.caseload()
            XCTAssertEqual(bCaseload.first?.latestNews2, 6)
            let bPending = try await b.pendingChanges()
            XCTAssertEqual(bPending, [], "received changes are not this device's to send")
            let history = try await b.history(id)
            XCTAssertEqual(history.count, 2)
            XCTAssertTrue(history.last?.sentence.contains("recorded a home visit (completed)") ?? false)
        }

        // A wrong key: a typed error, and the store untouched.
        let wrongKey = await expectError({ if case .WrongKey = $0 { return true } else { return false } }) {
            _ = try await DoorstepStore.open(Fixtures.config(dir, "phone-a", key: Data(repeating: 9, count: 32)))
        }
        XCTAssertTrue(wrongKey?.contains("cannot be opened with this key") ?? false, wrongKey ?? "")
        let again = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let caseload = try await again.caseload()
        XCTAssertEqual(caseload.count, 1)
    }
}
