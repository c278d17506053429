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
        let again = await expectError({ if case .Validation = $0 { return true } else { return false } }) {
            _ = try await a.setTaskStatus(id, taskId: task.id, status: .inProgress)
        }
        XCTAssertTrue(again?.contains("is already completed by") ?? false, again ?? "")
        let w = try await DoorstepStore.open(Fixtures.config(dir, "advice", role: .adviceWorker))
        let refused = await expectError({ if case .NotAllowed = $0 { return true } else { return false } }) {
            _ = try await w.completeTask("p", taskId: "t")
        }
        XCTAssertEqual(refused, "an advice worker may not complete a task: this is outside the role. Nothing was saved.")
    }

    func testBadDayInputIsAValidationErrorNamingTheFieldAndNothingIsStored() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let insulin = try await planInsulin(s, id, clinician: nil)
        let r = try await s.todayList(DayQuery(day: londonDay(), scope: .team)).visits[1].visitRef
        let sent = try await s.exportChanges().changes.count
        func isValidation(_ e: DoorstepError) -> Bool { if case .Validation = e { return true } else { return false } }

        let past = await expectError(isValidation) {
            _ = try await s.moveVisit(id, visitRef: r, to: VisitMoveInput(toDate: self.londonDay(-1), windowStart: "09:00", windowEnd: "10:00"))
        }
        XCTAssertTrue(past?.hasPrefix("new visit date:") ?? false, past ?? "")
        let noReason = await expectError(isValidation) {
            var v = Fixtures.visit(nil)
            v = VisitInput(
                contactType: v.contactType, startedAtMs: v.startedAtMs, endedAtMs: v.endedAtMs, outcome: .noAccess,
                interventions: v.interventions, note: v.note, scheduledVisit: r)
            _ = try await s.recordVisit(id, v)
        }
        XCTAssertTrue(noReason?.hasPrefix("outcome reason is required") ?? false, noReason ?? "")
        let badTime = await expectError(isValidation) {
            _ = try await s.addPlanIntervention(
                id,
                PlanInterventionInput(
                    goalId: insulin.goalId, kind: .woundCare, description: "Dressing",
                    frequency: .dailyAt(times: ["8am"]), startsOn: self.londonDay(), contactType: .homeVisit))
        }
        XCTAssertTrue(badTime?.hasPrefix("frequency time: '8am'") ?? false, badTime ?? "")
        let noNote = await expectError(isValidation) {
            _ = try await s.handOverVisit(id, visitRef: r, toUserId: "user-b", toName: "Nurse B", note: "  ")
        }
        XCTAssertTrue(noNote?.hasPrefix("hand-over note is required") ?? false, noNote ?? "")
        let noCancelReason = await expectError(isValidation) {
            _ = try await s.cancelVisit(id, visitRef: r, reason: "")
        }
        XCTAssertTrue(noCancelReason?.hasPrefix("cancellation reason is required") ?? false, noCancelReason ?? "")
        let notAVisit = await expectError({ if case .NotFound = $0 { return true } else { return false } }) {
            _ = try await s.cancelVisit(id, visitRef: "\(self.londonDay())T0300", reason: "bank holiday")
        }
        XCTAssertTrue(notAVisit?.contains("\(londonDay())T0300") ?? false, notAVisit ?? "")

        let clinical = try await s.patient(id).clinical
        XCTAssertEqual(clinical?.visitExceptions.moves.count, 0)
        XCTAssertEqual(clinical?.visitExceptions.handovers.count, 0)
        XCTAssertEqual(clinical?.visitExceptions.cancellations.count, 0)
        XCTAssertEqual(clinical?.visits.count, 0)
        let plan = try await s.carePlan(id)
        XCTAssertEqual(plan.interventions.map(\.id), [insulin.id])
        let sentAfter = try await s.exportChanges().changes.count
        XCTAssertEqual(sentAfter, sent, "no change was written")
        _ = try await s.moveVisit(
            id, visitRef: r,
            to: VisitMoveInput(toDate: londonDay(1), windowStart: "18:00", windowEnd: "18:30", reason: "family visiting"))
        let left = try await s.todayList(DayQuery(day: londonDay(), scope: .team))
        XCTAssertEqual(left.visits.count, 1)
    }

    func testAPriorityByHandAStoppedInterventionAndAClosedProblemChangeTheList() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let insulin = try await planInsulin(s, id, clinician: s.user.id)
        let problem = try await s.addPlanProblem(id, text: "Venous leg ulcer, left")
        let goal = try await s.addPlanGoal(id, GoalInput(problemId: problem.id, text: "Healed in 12 weeks", status: .active))
        let wound = try await s.addPlanIntervention(
            id,
            PlanInterventionInput(
                goalId: goal.id, kind: .woundCare, description: "Compression bandaging",
                frequency: .everyNDays(days: 1), windowStart: "10:00", windowEnd: "12:00", clinician: s.user.id,
                startsOn: londonDay(), contactType: .homeVisit))
        let mine = DayQuery(day: londonDay(), scope: .mine)
        let list = try await s.todayList(mine)
        XCTAssertEqual(list.visits.map(\.window), ["07:30–08:30", "10:00–12:00", "16:30–17:30"])
        let mid = list.visits[1]
        XCTAssertEqual(mid.priority, .wound)
        XCTAssertEqual(mid.interventions.map(\.interventionId), [wound.id])

        _ = try await s.setVisitPriority(id, visitRef: mid.visitRef, priority: .endOfLife, reason: "deteriorating, family aware")
        let raised = try await s.todayList(mine).visits[1]
        XCTAssertEqual(raised.priority, .endOfLife)
        XCTAssertTrue(raised.priorityOverridden)

        // Stopping the insulin's intervention takes both of its visits off the list.
        _ = try await s.updatePlanIntervention(
            id, interventionId: insulin.id,
            PlanInterventionInput(
                goalId: insulin.goalId, kind: .insulin, description: "NovoMix 30",
                frequency: .dailyAt(times: ["08:00", "17:00"]), clinician: s.user.id, startsOn: londonDay(),
                contactType: .homeVisit),
            active: false)
        let stopped = try await s.todayList(mine)
        XCTAssertEqual(stopped.visits.map(\.visitRef), [mid.visitRef])
        let plan = try await s.carePlan(id)
        XCTAssertEqual(plan.interventions.first { $0.id == insulin.id }?.active, false)

        // Closing the ulcer's problem stops its goal's visits too.
        let closed = try await s.updatePlanProblem(id, problemId: problem.id, text: "Venous leg ulcer, left: healed", active: false)
        XCTAssertFalse(closed.active)
        let none = try await s.todayList(mine)
        XCTAssertEqual(none.visits.count, 0)
        let after = try await s.carePlan(id)
        XCTAssertEqual(after.problems.first { $0.id == problem.id }?.text, "Venous leg ulcer, left: healed")
    }

    private func dose(
        _ drug: String, _ dose: Double, _ unit: DoseUnit, _ route: Route,
        at: Int64 = Date().epochMillis - 10 * 60_000, given: Bool = true, notGivenReason: String? = nil,
        controlled: Bool = false, witness: Witness? = nil
    ) -> MedicationInput {
        MedicationInput(
            drug: drug, dose: dose, unit: unit, route: route, atMs: at, given: given, notGivenReason: notGivenReason,
            controlledDrug: controlled, witness: witness)
    }

    func testADoseGivenIsRecordedAndReadBackBadOnesAreRefusedNamingTheFieldAWrongOneIsCorrected() async throws {
        let s = try await DoorstepStore.open(Fixtures.config(dir, "phone-a"))
        let id = try await s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        let at = Date().epochMillis - 20 * 60_000
        let given = try await s.recordMedication(id, dose("Insulin aspart (NovoRapid)", 8, .units, .subcutaneous, at: at))
        let meds = try await s.patient(id).clinical?.medications
        XCTAssertEqual(meds, [given])
        let stored = try XCTUnwrap(meds?.first)
        XCTAssertEqual(stored.drug, "Insulin aspart (NovoRapid)")
        XCTAssertEqual(stored.dose, 8)
        XCTAssertEqual(stored.unit, .units)
        XCTAssertEqual(stored.route, .subcutaneous)
        XCTAssertEqual(stored.atMs, at)
        XCTAssertTrue(stored.given)
        XCTAssertEqual(stored.author.userId, s.user.id)
        let history = try await s.history(id)
        XCTAssertEqual(history.last?.summary, "gave Insulin aspart (NovoRapid) 8 units (subcutaneous)")

        // Refused, naming the field; nothing stored.
        let sent = try await s.exportChanges().changes.count
        func refused(_ input: MedicationInput) async -> String {
            await expectError({ if case .Validation = $0 { return true } else { return false } }) {
                _ = try await s.recordMedication(id, input)
            } ?? ""
        }
        let bea = Witness(userId: "user-b", displayName: "Bea Ward")
        let noWitness = await refused(dose("Morphine sulfate", 2.5, .milligrams, .subcutaneous, controlled: true))
        XCTAssertTrue(noWitness.hasPrefix("witness is required"), noWitness)
        let selfWitness = await refused(dose(
            "Morphine sulfate", 2.5, .milligrams, .subcutaneous, controlled: true,
            witness: Witness(userId: s.user.id, displayName: s.user.displayName)))
        XCTAssertTrue(selfWitness.hasPrefix("witness: the witness must be someone other than the person giving"), selfWitness)
        let noReason = await refused(dose("Morphine sulfate", 2.5, .milligrams, .subcutaneous, given: false, controlled: true, witness: bea))
        XCTAssertTrue(noReason.hasPrefix("reason not given is required"), noReason)
        let blankReason = await refused(dose(
            "Morphine sulfate", 2.5, .milligrams, .subcutaneous, given: false, notGivenReason: "  ", controlled: true, witness: bea))
        XCTAssertTrue(blankReason.hasPrefix("reason not given is required"), blankReason)
        let tooMuch = await refused(dose("Insulin aspart (NovoRapid)", 800, .units, .subcutaneous))
        XCTAssertTrue(tooMuch.hasPrefix("dose of 800 units is outside the possible range"), tooMuch)
        let driver = await refused(dose("Midazolam", 10, .milligrams, .syringeDriver))
        XCTAssertTrue(driver.hasPrefix("syringe driver check is required"), driver)
        let later = await refused(dose("Paracetamol", 1000, .milligrams, .oral, at: Date().epochMillis + 3 * 3_600_000))
        XCTAssertTrue(later.hasPrefix("administration time"), later)
        let still = try await s.patient(id).clinical?.medications.map(\.id)
        XCTAssertEqual(still, [given.id])
        let sentAfter = try await s.exportChanges().changes.count
        XCTAssertEqual(sentAfter, sent, "no change was written")

        // Witnessed by someone else, and a dose not given with its reason: both recorded.
        let witnessed = try await s.recordMedication(
            id, dose("Morphine sulfate", 2.5, .milligrams, .subcutaneous, controlled: true, witness: bea))
        XCTAssertEqual(witnessed.witness, bea)
        let h = try await s.history(id)
        XCTAssertEqual(h.last?.summary, "gave Morphine sulfate 2.5 mg (subcutaneous), witnessed by Bea Ward")
        let notGiven = try await s.recordMedication(
            id, dose("Furosemide", 40, .milligrams, .oral, given: false, notGivenReason: " refused: feels sick "))
        XCTAssertEqual(notGiven.notGivenReason, "refused: feels sick")

        // The insulin was 8 units where 6 were given: entered in error, then the right record.
        _ = try await s.markEnteredInError(id, entryId: given.id, reason: "wrong dose entered: 6 units given")
        let right = try await s.recordMedication(id, dose("Insulin aspart (NovoRapid)", 6, .units, .subcutaneous, at: at))
        let record = try await s.patient(id).clinical
        let c = try XCTUnwrap(record)
        XCTAssertEqual(c.enteredInError.map(\.entryId), [given.id])
        XCTAssertEqual(c.enteredInError.first?.reason, "wrong dose entered: 6 units given")
        XCTAssertEqual(c.medications.count, 4, "the wrong record is kept, marked")
        let current = c.medications.filter { m in !c.enteredInError.contains { $0.entryId == m.id } }
        XCTAssertEqual(current.map(\.id), [witnessed.id, notGiven.id, right.id])
        XCTAssertEqual(current.first { $0.drug.hasPrefix("Insulin") }?.dose, 6)
    }

    func testAVisitHandedOverReachesTheColleaguesListThroughTheSyncServer() async throws {
        let server = try LoopbackServer(dir: dir)
        defer { server.stop() }
        let (a, aEnd) = try await server.phone(dir, "north-nurse1")
        let (b, bEnd) = try await server.phone(dir, "north-nurse2")
        let id = try await a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        _ = try await planInsulin(a, id, clinician: a.user.id)
        let mine = DayQuery(day: londonDay(), scope: .mine)
        let before = try await b.todayList(mine)
        XCTAssertEqual(before.visits.count, 0)
        let evening = try await a.todayList(mine).visits[1].visitRef
        _ = try await a.handOverVisit(
            id, visitRef: evening, toUserId: b.user.id, toName: b.user.displayName, note: "Evening insulin: pen in the fridge")
        _ = try await a.sync(aEnd)
        _ = try await b.sync(bEnd)
        let theirs = try await b.todayList(mine)
        XCTAssertEqual(theirs.visits.map(\.visitRef), [evening])
        XCTAssertEqual(theirs.visits.first?.handoverNote, "Evening insulin: pen in the fridge")
        XCTAssertEqual(theirs.visits.first?.handedOverBy, a.user.displayName)
        let left = try await a.todayList(mine)
        XCTAssertEqual(left.visits.map(\.visitRef), ["\(londonDay())T0730"], "the evening visit left her own list")
    }
}
