import Doorstep
import Foundation
import XCTest

/// The district nurse's day (issue 12) through the Swift layer, against the real core.
final class DayTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Fixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Today in London, "YYYY-MM-DD", offset by `days`.
    func londonDay(_ days: Int = 0) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/London")!
        let d = cal.date(byAdding: .day, value: days, to: Date())!
        let c = cal.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    func planInsulin(_ s: DoorstepStore, _ personId: String, clinician: String?) async throws -> PlanIntervention {
        let problem = try await s.addPlanProblem(personId, text: "Type 2 diabetes on insulin")
        let goal = try await s.addPlanGoal(
            personId, GoalInput(problemId: problem.id, text: "Blood glucose 4–10 mmol/L", status: .active))
        return try await s.addPlanIntervention(
            personId,
            PlanInterventionInput(
                goalId: goal.id, kind: .insulin, description: "NovoMix 30",
                frequency: .dailyAt(times: ["08:00", "17:00"]), clinician: clinician,
                startsOn: londonDay(), contactType: .homeVisit))
    }

    func testACarePlanMakesTheTodayListAndTheLiveListFollowsAVisit() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let insulin = try await planInsulin(s, id, clinician: s.user.id)
        let query = DayQuery(day: londonDay(), scope: .mine)
        let list = try await s.todayList(query)
        XCTAssertEqual(list.visits.count, 2)
        let morning = list.visits[0]
        XCTAssertEqual(morning.visitRef, "\(londonDay())T0730")
        XCTAssertEqual(morning.window, "07:30–08:30")
        XCTAssertEqual(morning.priority, .timeCriticalMedication)
        XCTAssertEqual(morning.interventions.map(\.interventionId), [insulin.id])

        var updates = s.todayListUpdates(query).makeAsyncIterator()
        let first = try await updates.next()
        XCTAssertNil(first?.change)
        let start = Date().epochMillis - 30 * 60_000
        let v = VisitInput(
            contactType: .homeVisit, startedAtMs: start, endedAtMs: start + 20 * 60_000, outcome: .completed,
            interventions: [.insulin], scheduledVisit: morning.visitRef, interventionsDone: [insulin.id])
        _ = try await s.recordVisit(id, v)
        let next = try await updates.next()
        XCTAssertEqual(next?.value.visits[0].status, .completed)
        XCTAssertEqual(next?.change?.plannedVisits, true)
    }

    func testATaskCompletedOnTwoPhonesIsCompletedOnceAndAnAdviceWorkerMayNot() async throws {
        let a = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let b = try await DoorstepStore.open(Fixtures.config(dir, "phone-b"))
        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let task = try await a.addTask(
            id, TaskInput(kind: .bloodsDue, description: "HbA1c", assignee: .role(role: .districtNurse), due: londonDay()))
        _ = try await a.exchange(to: b)
        _ = try await a.completeTask(id, taskId: task.id, note: "taken")
        _ = try await b.completeTask(id, taskId: task.id)
        _ = try await a.exchange(to: b)
        _ = try await b.exchange(to: a)
        for s in [a, b] {
            let all = try await s.tasks(day: londonDay(), scope: .team, includeClosed: true)
            XCTAssertEqual(all.count, 1)
            XCTAssertEqual(all[0].status, .completed)
            XCTAssertEqual(all[0].completions, 2)
        }
        let w = try await DoorstepStore.open(Fixtures.config(dir, "advice", role: .adviceWorker))
        let refused = await expectError({ if case .NotAllowed = $0 { return true } else { return false } }) {
            _ = try await w.completeTask("p", taskId: "t")
        }
        XCTAssertEqual(refused, "an advice worker may not complete a task: this is outside the role. Nothing was saved.")
    }

    func testAVisitMovedToThePastIsRefusedNamingTheField() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        _ = try await planInsulin(s, id, clinician: nil)
        let r = try await s.todayList(DayQuery(day: londonDay(), scope: .team)).visits[1].visitRef
        let past = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await s.moveVisit(id, visitRef: r, to: VisitMoveInput(toDate: self.londonDay(-1), windowStart: "09:00", windowEnd: "10:00"))
        }
        XCTAssertTrue(past?.hasPrefix("new visit date:") ?? false, past ?? "")
        let moves = try await s.patient(id).clinical?.visitExceptions.moves
        XCTAssertEqual(moves?.count, 0)
        _ = try await s.moveVisit(id, visitRef: r, to: VisitMoveInput(toDate: londonDay(1), windowStart: "18:00", windowEnd: "18:30"))
        let left = try await s.todayList(DayQuery(day: londonDay(), scope: .team))
        XCTAssertEqual(left.visits.count, 1)
    }
}
