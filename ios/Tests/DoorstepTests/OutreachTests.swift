import Doorstep
import Foundation
import XCTest

/// The case worker's day (issue 14) through the Swift layer, against the real core.
final class OutreachTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var london: Calendar {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/London")!
        return cal
    }

    /// "YYYY-MM-DD" in London, `days` from today.
    func londonDay(_ days: Int) -> String {
        let d = london.date(byAdding: .day, value: days, to: Date())!
        let c = london.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    /// 10:00 London time, `days` from today, in epoch milliseconds.
    func atTen(_ days: Int) -> Int64 {
        let d = london.date(byAdding: .day, value: days, to: Date())!
        let ten = london.date(bySettingHour: 10, minute: 0, second: 0, of: d)!
        return ten.epochMillis
    }

    func testAMissedLibraryAppointmentRaisesAFollowUpAndTheNextAttemptIsTheSecond() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "ca", role: .adviceWorker))
        let id = try await s.registerPatient(Fixtures.demographics("Joe", "Brennan"))
        let library = AppointmentVenue(kind: .library, name: "Hyde Library")
        let first = try await s.bookOutreachAppointment(
            id, AppointmentInput(startsAtMs: atTen(-1), minutes: 45, venue: library))
        XCTAssertEqual(first.attempt, 1)
        let list = try await s.adviceTodayList(DayQuery(day: londonDay(-1), scope: .mine))
        XCTAssertEqual(list.visits.map(\.visitRef), [first.id])
        XCTAssertEqual(list.visits[0].address, "Hyde Library")
        XCTAssertEqual(list.visits[0].venue?.kind, .library)

        let missed = try await s.recordAppointmentAttendance(id, appointmentId: first.id, attendance: .didNotAttend)
        let followUp = try XCTUnwrap(missed.followUp)
        XCTAssertEqual(followUp.due, londonDay(1))
        XCTAssertFalse(missed.caseClosed)
        let due = try await s.adviceTodayList(DayQuery(day: londonDay(1), scope: .mine)).followUps
        XCTAssertEqual(due.map(\.task.id), [followUp.id])
        let second = try await s.bookOutreachAppointment(
            id, AppointmentInput(startsAtMs: atTen(7), minutes: 45, venue: library, follows: first.id))
        XCTAssertEqual(second.attempt, 2)
        let views = try await s.outreachAppointments(id)
        XCTAssertEqual(views.count, 2)
        XCTAssertEqual(views[0].outcome?.attendance, .didNotAttend)
    }

    func testAVenueWithoutItsNameIsRefusedWithWhatToDo() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "ca", role: .adviceWorker))
        let id = try await s.registerPatient(Fixtures.demographics("Joe", "Brennan"))
        func isValidation(_ e: DoorstepError) -> Bool { if case .Validation = e { return true } else { return false } }
        let m = await expectError(isValidation) {
            _ = try await s.bookOutreachAppointment(
                id, AppointmentInput(startsAtMs: self.atTen(0), minutes: 45, venue: AppointmentVenue(kind: .gpSurgery)))
        }
        XCTAssertTrue(m?.contains("name the venue") ?? false, m ?? "")
        let none = try await s.outreachAppointments(id)
        XCTAssertTrue(none.isEmpty)
    }

    func testAReferralToTheAdviceTeamIsAnsweredThereAndTheReferrerSeesIt() async throws {
        func onTeam(_ device: String, _ role: Role, _ team: String) -> StoreConfig {
            StoreConfig(
                path: dir.appendingPathComponent("\(device).db").path, key: Fixtures.key, deviceId: device,
                user: User(id: "user-\(device)", displayName: "User \(device)", role: role, team: team))
        }
        let vw = try await DoorstepStore.open(onTeam("vw", .virtualWardClinician, "vw-calder"))
        let ca = try await DoorstepStore.open(onTeam("ca", .adviceWorker, "ca-hyde"))
        let id = try await vw.registerPatient(Fixtures.demographics("Walter", "Ackroyd"))
        let r = try await vw.referPerson(
            id, ReferralInput(toTeam: "ca-hyde", reason: "Fuel debt", urgency: .urgent, shares: [.advice]))
        _ = try await vw.exchange(to: ca)
        let incoming = try await ca.referrals(incoming: true)
        XCTAssertEqual(incoming.map(\.referral.id), [r.id])
        let before = try await ca.caseload()
        XCTAssertTrue(before.isEmpty)
        _ = try await ca.answerReferral(id, referralId: r.id, decision: .accepted)
        let after = try await ca.caseload()
        XCTAssertEqual(after.count, 1)
        _ = try await ca.exchange(to: vw)
        let out = try await vw.referrals(incoming: false)
        XCTAssertEqual(out.first?.status, .accepted)
    }
}
