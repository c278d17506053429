import Doorstep
import Foundation
import XCTest

/// FHIR through the boundary: a GP summary imported into the caseload, and the record exported.
final class InteropTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The core's fixture: NHS England's example patient with an allergy, a problem and a flag.
    func gpSummary() throws -> String {
        let repo = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return try String(
            contentsOf: repo.appendingPathComponent("core/src/fhir/import/gp-summary.json"), encoding: .utf8)
    }

    func testAGpSummaryRegistersThePersonAndSurfacesTheAllergyUntilTheAlertNamesIt() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let summary = try gpSummary()
        let report = try await s.importFhir(summary)
        XCTAssertTrue(report.registered)
        XCTAssertEqual([report.added, report.alreadyThere, report.refused], [4, 0, 0])
        XCTAssertEqual(report.items[1].what, "allergy: Amoxicillin")
        XCTAssertEqual(report.items[1].outcome, .added)
        XCTAssertTrue(report.allergyDisagreements.first?.message.contains("no allergies alert") ?? false)

        let clinical = try await s.patient(report.personId).clinical
        XCTAssertEqual(clinical?.imported.map { $0.kind }, [.allergy, .condition, .flag])
        XCTAssertEqual(clinical?.imported.first?.code.snomed, "372687004")

        _ = try await s.setAlert(
            report.personId, AlertInput(kind: .allergies, text: "Amoxicillin (urticarial rash)", active: true))
        let after = try await s.patient(report.personId).clinical
        XCTAssertEqual(after?.allergyDisagreements.count, 0)

        let again = try await s.importFhir(summary)
        XCTAssertEqual(again.personId, report.personId)
        XCTAssertEqual(again.items.map { $0.outcome }, Array(repeating: .alreadyThere, count: 4))

        let bundle = try await s.exportFhir(report.personId)
        XCTAssertTrue(bundle.contains("\"code\":\"372687004\""))
        // The summary gives the NHS number as traced: kept, and exported as verified.
        let demographics = try await s.patient(report.personId).demographics
        XCTAssertEqual(demographics?.nhsNumberVerified, "9912003888")
        XCTAssertTrue(bundle.contains("Number present and verified"))
    }

    func testASummaryWithoutAnNhsNumberIsRefusedWholeWithAMessage() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let broken = try gpSummary().replacingOccurrences(of: "https://fhir.nhs.uk/Id/nhs-number", with: "urn:other")
        let message = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await s.importFhir(broken)
        }
        XCTAssertTrue(message?.contains("register the person by hand") ?? false, message ?? "")
        let caseload = try await s.caseload()
        XCTAssertTrue(caseload.isEmpty)
    }
}
