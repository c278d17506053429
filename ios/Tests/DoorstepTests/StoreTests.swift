import Doorstep
import XCTest

final class StoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testEachCoreErrorArrivesAsItsOwnCaseWithTheCoreMessage() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let missing = await expectError({ if case .NotFound = $0 { return true } else { return false } }) {
            _ = try await s.patient("no-such-person")
        }
        XCTAssertTrue(missing?.hasPrefix("No person with id no-such-person on this device") ?? false, missing ?? "")

        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let range = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await s.recordObservations(id, takenAtMs: Date().epochMillis, Observations(pulse: 400))
        }
        XCTAssertTrue(range?.contains("pulse of 400 /min is outside the possible range") ?? false, range ?? "")

        let notOpen = await expectError({ if case .ConflictNotOpen = $0 { return true } else { return false } }) {
            _ = try await s.resolveConflict("\(id)/allergies/0000", AlertInput(kind: .allergies, text: "NKDA", active: true))
        }
        XCTAssertTrue(notOpen?.contains("is not open") ?? false, notOpen ?? "")

        let shortKey = await expectError({ if case .InvalidKey = $0 { return true } else { return false } }) {
            _ = try await DoorstepStore.open(Fixtures.config(self.dir, "phone-b", key: Data(count: 16)))
        }
        XCTAssertTrue(shortKey?.contains("exactly 32 bytes") ?? false, shortKey ?? "")
        XCTAssertEqual(keyLength(), 32)
    }

    /// The last reference to a store goes with the caller's, never later on a dispatch thread: its
    /// database is closed (the write-ahead log folded in and removed) before the next line runs.
    /// A close left to a dispatch thread raced SQLCipher's own teardown at process exit.
    func testTheStoreIsClosedWhenTheCallerLetsGoOfIt() async throws {
        let config = Fixtures.config(dir, "phone-a")
        let wal = config.path + "-wal"
        for round in 0..<20 {
            var s: DoorstepStore? = try await DoorstepStore.open(config)
            _ = try await s?.registerPatient(Fixtures.demographics("Edith", "Crawley \(round)"))
            _ = try await s?.caseload()
            XCTAssertTrue(FileManager.default.fileExists(atPath: wal), "round \(round): no log while open")
            s = nil
            XCTAssertFalse(FileManager.default.fileExists(atPath: wal), "round \(round): the store was still open")
        }
    }

    func testTheCodesNationalReturnsNeedAreKeptAndAGpNameForACodeIsRefused() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        func edith(gp: String) -> Demographics {
            Demographics(
                givenName: "Edith", familyName: "Crawley", dateOfBirth: "1941-03-09",
                statedGender: .female, ethnicCategory: .notStated, gpPracticeOds: gp
            )
        }
        let id = try await s.registerPatient(edith(gp: "b86 010"))
        let back = try await s.patient(id).demographics
        XCTAssertEqual(back?.statedGender, .female)
        XCTAssertEqual(back?.ethnicCategory, .notStated)
        XCTAssertEqual(back?.gpPracticeOds, "B86010")
        let bad = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await s.registerPatient(edith(gp: "Calder Valley"))
        }
        XCTAssertTrue(bad?.contains("a letter and five digits") ?? false, bad ?? "")
    }

    func testAnOutOfRoleWriteIsRefusedAtOnceAndNeverQueued() async throws {
        let w = try await DoorstepStore.open(Fixtures.config(dir, "advice", role: .adviceWorker))
        let id = try await w.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let refused = await expectError({ if case .NotAllowed = $0 { return true } else { return false } }) {
            _ = try await w.recordVisit(id, Fixtures.visit(Fixtures.observationsScoring6))
        }
        XCTAssertEqual(refused, "an advice worker may not write the clinical record: this is outside the role. Nothing was saved.")
        let pending = try await w.pendingChanges()
        XCTAssertEqual(pending.count, 1, "only the registration waits to be sent")
        _ = try await w.addAdviceNeed(id, category: .debt, description: "Council tax arrears")
    }

    func testAWeeklyAwardIsAnnualisedInTheOutreachReport() async throws {
        let w = try await DoorstepStore.open(Fixtures.config(dir, "advice", role: .adviceWorker))
        let id = try await w.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let need = try await w.addAdviceNeed(id, category: .universalCredit, description: "UC claim")
        let weekly = FinancialEffectInput(kind: .incomeGained, amountPence: 10_000, recurring: true, period: .weekly)
        let o = try await w.recordAdviceOutcomeWithEffect(id, needId: need.id, description: "Carer's element", effect: weekly)
        XCTAssertEqual(o.financialGainPence, 520_000)
        let noPeriod = FinancialEffectInput(kind: .incomeGained, amountPence: 10_000, recurring: true, period: nil)
        let refused = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await w.recordAdviceOutcomeWithEffect(id, needId: need.id, description: "x", effect: noPeriod)
        }
        XCTAssertTrue(refused?.contains("needs a period") ?? false, refused ?? "no error was raised")
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        f.timeZone = TimeZone(identifier: "Europe/London")
        let today = f.string(from: Date())
        let report = try await w.outreachReport(from: today, to: today)
        let total = report.rows.first { $0.grouping == .total }
        XCTAssertEqual(total?.totalGainPence, 520_000)
    }

    func testTheCaseloadScreenPagesByCursorAndRefusesAnOutOfRangePage() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        for family in ["Evans", "Baker", "Dixon", "Carter"] {
            _ = try await s.registerPatient(Fixtures.demographics("Ann", family))
        }
        let first = try await s.caseloadPage(after: nil, limit: 3)
        XCTAssertEqual(first.rows.map(\.displayName), ["Ann Baker", "Ann Carter", "Ann Dixon"])
        let rest = try await s.caseloadPage(after: first.next, limit: 3)
        XCTAssertEqual(rest.rows.map(\.displayName), ["Ann Evans"])
        XCTAssertNil(rest.next)
        let refused = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await s.caseloadPage(after: nil, limit: 0)
        }
        XCTAssertTrue(refused?.contains("ask for 1 to 500") ?? false, refused ?? "")
    }

    func testConcurrentAlertsBecomeAConflictThatAClinicianResolves() async throws {
        let a = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let b = try await DoorstepStore.open(Fixtures.config(dir, "phone-b"))
        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        _ = try await a.exchange(to: b)
        _ = try await a.setAlert(id, AlertInput(kind: .allergies, text: "Penicillin: anaphylaxis", active: true))
        _ = try await b.setAlert(id, AlertInput(kind: .allergies, text: "No known drug allergies", active: true))
        let report = try await a.exchange(to: b)
        _ = try await b.exchange(to: a)
        XCTAssertEqual(report.newConflicts.count, 1)

        let conflicts = try await a.conflicts(id)
        XCTAssertEqual(conflicts.count, 1)
        XCTAssertEqual(Set(conflicts[0].values.map(\.text)), ["Penicillin: anaphylaxis", "No known drug allergies"])
        let onB = try await b.conflicts()
        XCTAssertEqual(onB, conflicts, "both devices see the same conflict")

        let resolved = try await a.resolveConflict(conflicts[0].id, AlertInput(kind: .allergies, text: "Penicillin: anaphylaxis", active: true))
        XCTAssertFalse(resolved.inConflict)
        _ = try await a.exchange(to: b)
        let left = try await b.conflicts()
        XCTAssertEqual(left, [])
    }

    func testCallsFromManyTasksAtOnceAreAllKept() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        var ids: [String] = []
        for n in 0..<4 { ids.append(try await s.registerPatient(Fixtures.demographics("P\(n)", "Family\(n)"))) }
        let people = ids
        let visitIds = try await withThrowingTaskGroup(of: String.self) { group in
            for n in 0..<40 {
                group.addTask {
                    try await s.recordVisit(people[n % 4], Fixtures.visit(Fixtures.observationsScoring6, minutesAgo: Int64(n))).visit.id
                }
            }
            var out: Set<String> = []
            for try await id in group { out.insert(id) }
            return out
        }
        XCTAssertEqual(visitIds.count, 40)
        for id in ids {
            let visits = try await s.patient(id).clinical?.visits.count
            XCTAssertEqual(visits, 10)
        }
        let ok = try await s.integrityCheck()
        XCTAssertEqual(ok, "ok")
    }

    func testDatesTimesAndHelpersCrossTheBoundaryUnchanged() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let start = Date().addingTimeInterval(86_400).epochMillis
        let planned = try await s.scheduleVisit(id, PlannedVisitInput(plannedStartMs: start, contactType: .telephone, purpose: "Review"))
        XCTAssertEqual(planned.plannedStartMs, start)
        let caseload = try await s.caseload()
        XCTAssertEqual(caseload.first?.nextVisitMs, start)
        XCTAssertEqual(Date(epochMillis: start).epochMillis, start)

        let badDate = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            var d = Fixtures.demographics("Ann", "Lee")
            d = Demographics(nhsNumber: nil, givenName: d.givenName, familyName: d.familyName, dateOfBirth: "09/03/1941")
            _ = try await s.registerPatient(d)
        }
        XCTAssertTrue(badDate?.contains("use the form YYYY-MM-DD") ?? false, badDate ?? "")

        let partial = scoreNews2(observations: Observations(pulse: 72), scale: .scale1)
        XCTAssertNil(partial.total)
        XCTAssertTrue(partial.missing.contains(.respirationRate))
        XCTAssertEqual(try validateNhsNumber(nhsNumber: "943-476-5919"), "9434765919")
        XCTAssertEqual(formatNhsNumber(nhsNumber: "9434765919"), "943 476 5919")
    }
}
