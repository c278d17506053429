import Doorstep
import Observation
import XCTest

/// The scenario's sync step, through a real `doorstep serve` on loopback.
final class SyncTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func device(_ server: LoopbackServer, _ user: String) async throws -> (DoorstepStore, SyncEndpoint) {
        let e = try await enrolDevice(url: server.url, code: try server.issueCode(user))
        XCTAssertEqual(e.user.id, user)
        let c = Fixtures.config(dir, e.deviceId)
        let store = try await DoorstepStore.open(
            StoreConfig(path: c.path, key: c.key, deviceId: e.deviceId, user: e.user))
        return (store, SyncEndpoint(url: server.url, deviceToken: e.deviceToken))
    }

    func testAVisitRecordedOnOnePhoneReachesAnotherThroughTheSyncServer() async throws {
        let server = try LoopbackServer(dir: dir)
        defer { server.stop() }
        let (a, aEnd) = try await device(server, "north-nurse1")
        let (b, bEnd) = try await device(server, "north-nurse2")

        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs: "9434765919"))
        let recorded = try await a.recordVisit(id, Fixtures.visit(Fixtures.observationsScoring6))

        let events = Events()
        let sent = try await a.sync(aEnd) { events.add($0) }
        XCTAssertEqual(sent.changesSent, 2)
        XCTAssertFalse(events.all.isEmpty, "progress reached the callback")
        XCTAssertEqual(events.all.last?.changesSent, 2)
        let pending = try await a.pendingChanges()
        XCTAssertEqual(pending, [], "the server acknowledged both changes")

        var states: [SyncState] = []
        for await s in b.syncStates(bEnd) { states.append(s) }
        XCTAssertEqual(states.first, .running(nil))
        guard case .done(let report)? = states.last else { return XCTFail("sync did not finish: \(states)") }
        XCTAssertEqual(report.peopleAdded, [id])
        let visits = try await b.patient(id).clinical?.visits
        XCTAssertEqual(visits, [recorded.visit])
        let caseload = try await b.caseload()
        XCTAssertEqual(caseload.first?.latestNews2, 6)
    }

    func testASyncThatBringsAColleaguesVisitReEmitsTheCaseloadAndThePatient() async throws {
        let server = try LoopbackServer(dir: dir)
        defer { server.stop() }
        let (a, aEnd) = try await device(server, "north-nurse1")
        let (b, bEnd) = try await device(server, "north-nurse2")
        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs: "9434765919"))
        _ = try await a.sync(aEnd)
        _ = try await b.sync(bEnd)

        // b's screens are open when a's visit arrives.
        var caseload = b.caseloadUpdates().makeAsyncIterator()
        var patient = b.patientUpdates(id).makeAsyncIterator()
        let before = try await caseload.next()
        XCTAssertNil(before?.change, "the first emission is the list as it was")
        XCTAssertNil(before?.value.first?.lastVisitMs)
        _ = try await patient.next()

        let recorded = try await a.recordVisit(id, Fixtures.visit(Fixtures.observationsScoring6))
        _ = try await a.sync(aEnd)
        _ = try await b.sync(bEnd)

        let after = try await caseload.next()
        XCTAssertEqual(after?.change?.people, [id], "the emission says whose row changed")
        XCTAssertEqual(after?.change?.caseload, true)
        XCTAssertEqual(after?.value.first?.lastVisitMs, recorded.visit.startedAtMs)
        XCTAssertEqual(after?.value.first?.latestNews2, 6)
        let record = try await patient.next()
        XCTAssertEqual(record?.value?.clinical?.visits, [recorded.visit])

        // Concurrent allergy values: b's own, then a's arriving by sync, a conflict.
        _ = try await a.setAlert(id, AlertInput(kind: .allergies, text: "Penicillin: anaphylaxis", active: true))
        _ = try await a.sync(aEnd)
        var conflicts = b.conflictUpdates().makeAsyncIterator()
        let none = try await conflicts.next()
        XCTAssertEqual(none?.value, [])
        _ = try await b.setAlert(id, AlertInput(kind: .allergies, text: "No known drug allergies", active: true))
        let own = try await conflicts.next()
        XCTAssertEqual(own?.value, [])
        _ = try await b.sync(bEnd)
        let open = try await conflicts.next()
        XCTAssertEqual(open?.value.count, 1)
        XCTAssertEqual(open?.change?.people, [id])
    }

    @MainActor
    func testTheCaseloadModelIsObservedToChangeWhenARecordArrives() async throws {
        let a = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let b = try await DoorstepStore.open(Fixtures.config(dir, "phone-b"))
        let model = CaseloadModel(store: b)
        model.start()
        defer { model.stop() }
        try await until { model.loaded }
        XCTAssertEqual(model.entries, [])

        let changed = Flag()
        withObservationTracking { _ = model.entries } onChange: { changed.set() }
        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        _ = try await a.exchange(to: b)
        try await until { changed.isSet }
        try await until { model.entries.count == 1 }
        XCTAssertEqual(model.entries.first?.personId, id)
        XCTAssertEqual(model.lastChange?.people, [id])
        XCTAssertNil(model.error)
    }

    /// Wait (up to 10 s) until `condition` holds.
    @MainActor
    private func until(_ condition: @MainActor () -> Bool) async throws {
        for _ in 0..<1000 {
            if condition() { return }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTFail("timed out waiting")
    }

    func testSyncAndEnrolmentFailuresAreTyped() async throws {
        let server = try LoopbackServer(dir: dir)
        defer { server.stop() }
        let (a, _) = try await device(server, "north-nurse1")
        let forged = SyncEndpoint(url: server.url, deviceToken: "forged")
        let auth = await expectError({ if case .AuthFailed = $0 { return true } else { return false } }) {
            _ = try await a.sync(forged)
        }
        XCTAssertTrue(auth?.contains("enrol the device again") ?? false, auth ?? "")
        let refused = await expectError({ if case .EnrolmentRefused = $0 { return true } else { return false } }) {
            _ = try await enrolDevice(url: server.url, code: "NOT-A-CODE")
        }
        XCTAssertTrue(refused?.contains("Ask your administrator for a new one") ?? false, refused ?? "")
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

final class Events: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [SyncProgressEvent] = []
    func add(_ e: SyncProgressEvent) { lock.lock(); events.append(e); lock.unlock() }
    var all: [SyncProgressEvent] { lock.lock(); defer { lock.unlock() }; return events }
}
