import Doorstep
import Foundation
import XCTest

/// The virtual ward (issue 13) through the Swift layer, against the real core.
final class WardTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func londonDay(_ days: Int = 0) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/London")!
        let d = cal.date(byAdding: .day, value: days, to: Date())!
        let c = cal.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    func testAnEscalationOnScale2IsAcknowledgedOnceFromTwoStoresAndTheCensusShowsIt() async throws {
        let a = try await DoorstepStore.open(Fixtures.config(dir, "phone-a", role: .virtualWardClinician))
        let b = try await DoorstepStore.open(Fixtures.config(dir, "hub-b", role: .virtualWardClinician))
        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let admission = AdmissionInput(
            pathway: .copd, route: .stepDownHospital, referralSource: "Ward 7, Calderdale Royal",
            referralReason: "COPD exacerbation", admittedOn: londonDay(-1), expectedLengthOfStayDays: 10,
            responsibleClinician: "Dr A Khan",
            parameters: PersonalParameters(
                spo2Target: ReadingRange(low: 88, high: 92), pulse: ReadingRange(low: 55, high: 100)))
        let episode = try await a.admitToWard(id, admission)
        XCTAssertEqual(episode.admission?.route, .stepDownHospital)
        // SpO2 95 % on air scores 0 on scale 2: NEWS2 5, medium.
        let set = try await a.recordObservations(id, takenAtMs: Date().epochMillis, Fixtures.observationsScoring6)
        XCTAssertEqual(set.news2.scale, .scale2)
        XCTAssertEqual(set.news2.total, 5)
        let esc = try await a.escalations()
        XCTAssertEqual(esc.map(\.id), ["esc-\(set.id)"])
        XCTAssertEqual(esc.first?.band, .medium)

        _ = try await a.exchange(to: b)
        let onHub = try await b.escalations(id)
        XCTAssertEqual(onHub.map(\.id), esc.map(\.id))
        _ = try await a.acknowledgeEscalation(id, escalationId: esc[0].id)
        _ = try await b.acknowledgeEscalation(id, escalationId: esc[0].id, note: "calling now")
        _ = try await a.exchange(to: b)
        _ = try await b.exchange(to: a)
        for s in [a, b] {
            let e = try await s.escalations(id)
            XCTAssertEqual(e.first?.status, .acknowledged)
            XCTAssertEqual(e.first?.acknowledgements, 2)
        }

        let census = try await b.wardCensus()
        XCTAssertEqual(census.people.map(\.personId), [id])
        XCTAssertEqual(census.people.first?.latestNews2, 5)
        XCTAssertEqual(census.people.first?.lengthOfStayDays, 1)
        let trends = try await a.trends(id)
        XCTAssertEqual(trends.series.first { $0.measure == .news2 }?.points.map(\.value), [5.0])

        _ = try await b.escalationEvent(id, escalationId: esc[0].id, kind: .outcome, note: "stable on video review")
        let open = try await b.escalations()
        XCTAssertTrue(open.isEmpty)
        let d = try await b.dischargeFromWard(
            id, episodeId: episode.id, on: londonDay(), destination: .usualCare, reason: "Stable")
        XCTAssertEqual(d.destination, .usualCare)
        let after = try await b.wardCensus()
        XCTAssertTrue(after.people.isEmpty)
    }
}
