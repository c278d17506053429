import Foundation
import Doorstep

/// Builders for tests and the benchmark: real stores in real files, nothing mocked.
enum Fixtures {
    /// A test key; an app takes 32 random bytes and keeps them in the Keychain.
    static let key = Data(repeating: 7, count: 32)

    static func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("doorstep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func config(_ dir: URL, _ device: String, key: Data = key, role: Role = .districtNurse) -> StoreConfig {
        StoreConfig(
            path: dir.appendingPathComponent("\(device).db").path,
            key: key,
            deviceId: device,
            user: User(id: "user-\(device)", displayName: "Nurse \(device)", role: role, team: "team-a")
        )
    }

    static func demographics(_ given: String, _ family: String, nhs: String? = nil) -> Demographics {
        Demographics(
            nhsNumber: nhs, givenName: given, familyName: family, dateOfBirth: "1941-03-09",
            address: Address(lines: ["12 Mill Lane", "Hebden Bridge"], postcode: "hx7 8aa"),
            accessNotes: "Key safe by back door. Friendly dog."
        )
    }

    /// RCP chart: 22 -> 2, 95 % (scale 1) -> 1, air -> 0, 105 -> 1, 95 -> 1, alert -> 0,
    /// 38.5 °C -> 1: total 6, medium clinical risk.
    static let observationsScoring6 = Observations(
        respirationRate: 22, spo2Percent: 95, onOxygen: false, systolicBp: 105, diastolicBp: 70,
        pulse: 95, consciousness: .alert, temperatureC: 38.5
    )

    static func visit(_ observations: Observations?, minutesAgo: Int64 = 0) -> VisitInput {
        let start = Date().epochMillis - (minutesAgo + 30) * 60_000
        return VisitInput(
            contactType: .homeVisit, startedAtMs: start, endedAtMs: start + 25 * 60_000, outcome: .completed,
            interventions: [.woundCare, .insulin, .medicationPrompt],
            note: String(repeating: "Wound reviewed; dressing changed. ", count: 15), observations: observations
        )
    }
}

/// Assert that `body` throws the expected `DoorstepError` case; returns its message.
func expectError(
    _ matches: (DoorstepError) -> Bool, file: StaticString = #filePath, line: UInt = #line,
    _ body: () async throws -> Void
) async -> String? {
    do {
        try await body()
        XCTFail("expected an error, none was thrown", file: file, line: line)
    } catch let e as DoorstepError {
        XCTAssertTrue(matches(e), "unexpected error \(e)", file: file, line: line)
        return e.message
    } catch {
        XCTFail("expected a DoorstepError, got \(error)", file: file, line: line)
    }
    return nil
}

import XCTest
