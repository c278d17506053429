import Doorstep
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

final class Events: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [SyncProgressEvent] = []
    func add(_ e: SyncProgressEvent) { lock.lock(); events.append(e); lock.unlock() }
    var all: [SyncProgressEvent] { lock.lock(); defer { lock.unlock() }; return events }
}
