// The Swift side of the boundary-cost benchmark (docs/performance.md, "Mobile boundary").
// Not a test: timings are reported, never asserted. Same workload as bindings/benches/boundary.rs
// and android/.../bench/BoundaryBench.kt: 200 people with one visit each, then `recordVisit`
// (8 observations, 3 interventions, 500-character note) and `caseload` (200 lines), each call
// timed on its own, medians reported. Measured on the generated `FieldStore` (the raw boundary)
// and on `DoorstepStore` (what an app calls: async, the call runs on a dispatch queue).
//
// `todayList` (issue 12): the signed-in nurse's list of one London day, over DOORSTEP_DAY_PEOPLE
// people (default 350) with a care plan each, DOORSTEP_DAY_VISITS (default 40) of them due today,
// built as bindings/benches/boundary.rs (and core/benches/day.rs) builds it. The store is built once
// through the generated object, measured there, then opened again as a DoorstepStore and timed
// call for call against a generated object on the same file (`today_list_paired`).
//
//   scripts/bench-boundary.sh   (builds the release library and runs this with -c release)
import Dispatch
import Doorstep
import Foundation

let people = 200
let warmup = 30
let recordN = 300
let caseloadN = 300
let todayN = 300

func envSize(_ name: String, _ fallback: Int) -> Int {
    ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? fallback
}

func report(_ api: String, _ op: String, _ samples: [Double], extra: String = "") {
    let s = samples.sorted()
    func q(_ p: Double) -> Double { s[Int((Double(s.count - 1) * p).rounded())] }
    print(String(format: "swift %@ %@ median_us=%.2f p90_us=%.2f n=%d", api, op, q(0.5), q(0.9), s.count) + extra)
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func time(_ n: Int, _ f: (Int) throws -> Any) rethrows -> [Double] {
    var out: [Double] = []
    out.reserveCapacity(n)
    for i in 0..<n {
        let t = now()
        _ = try f(i)
        out.append(Double(now() - t) / 1000)
    }
    return out
}

func timeAsync(_ n: Int, _ f: (Int) async throws -> Any) async rethrows -> [Double] {
    var out: [Double] = []
    out.reserveCapacity(n)
    for i in 0..<n {
        let t = now()
        _ = try await f(i)
        out.append(Double(now() - t) / 1000)
    }
    return out
}

let key = Data(repeating: 7, count: 32)
let note500 = String(
    String(repeating: "Wound on left lower leg reviewed; dressing changed with aseptic technique. Exudate moderate, no odour, edges healthy. Patient reports pain 3/10, taking paracetamol as prescribed. Carer present throughout. ", count: 3).prefix(500))
let normal = Observations(
    respirationRate: 16, spo2Percent: 97, onOxygen: false, systolicBp: 128, diastolicBp: 78, pulse: 72,
    consciousness: .alert, temperatureC: 36.8)

func config(_ dir: URL, _ device: String) -> StoreConfig {
    StoreConfig(
        path: dir.appendingPathComponent("\(device).db").path, key: key, deviceId: device,
        user: User(id: "user-\(device)", displayName: "Nurse \(device)", role: .districtNurse, team: "team-a"))
}

func demographics(_ i: Int) -> Demographics {
    Demographics(
        givenName: "Given\(i)", familyName: String(format: "Family%03d", i), dateOfBirth: "1941-03-09",
        address: Address(lines: ["12 Mill Lane", "Hebden Bridge"], postcode: "HX7 8AA"),
        accessNotes: "Key safe by back door, code with coordinator. Friendly dog.")
}

func visit(minutesAgo: Int64 = 0) -> VisitInput {
    let start = Date().epochMillis - (minutesAgo + 30) * 60_000
    return VisitInput(
        contactType: .homeVisit, startedAtMs: start, endedAtMs: start + 25 * 60_000, outcome: .completed,
        interventions: [.woundCare, .insulin, .medicationPrompt], note: note500, observations: normal)
}

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("doorstep-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }

// The fixed cost of one crossing: keyLength() does no work and carries no payload.
do {
    var sink: UInt32 = 0
    for _ in 0..<10_000 { sink &+= keyLength() }
    var samples: [Double] = []
    for _ in 0..<30 {
        let t = now()
        for _ in 0..<10_000 { sink &+= keyLength() }
        samples.append(Double(now() - t) / 10_000 / 1000)
    }
    report("ffi", "trivial_call", samples)
    if sink == 1 { print() }
}

do {
    let s = try FieldStore.open(config: config(dir, "swift-ffi"))
    let ids = try (0..<people).map { i -> String in
        let id = try s.registerPatient(demographics: demographics(i))
        _ = try s.recordVisit(personId: id, input: visit(minutesAgo: 600))
        return id
    }
    _ = try time(warmup) { try s.recordVisit(personId: ids[$0 % people], input: visit()) }
    report("ffi", "record_visit", try time(recordN) { try s.recordVisit(personId: ids[$0 % people], input: visit()) })
    _ = try time(warmup) { _ in try s.caseload() }
    report("ffi", "caseload", try time(caseloadN) { _ in try s.caseload() })
    let mid = try s.caseloadPage(after: nil, limit: 100).next
    _ = try time(warmup) { _ in try s.caseloadPage(after: mid, limit: 20) }
    report("ffi", "caseload_page", try time(caseloadN) { _ in try s.caseloadPage(after: mid, limit: 20) })
}

do {
    let s = try await DoorstepStore.open(config(dir, "swift-store"))
    var ids: [String] = []
    for i in 0..<people {
        let id = try await s.registerPatient(demographics(i))
        _ = try await s.recordVisit(id, visit(minutesAgo: 600))
        ids.append(id)
    }
    _ = try await timeAsync(warmup) { try await s.recordVisit(ids[$0 % people], visit()) }
    report("async", "record_visit", try await timeAsync(recordN) { try await s.recordVisit(ids[$0 % people], visit()) })
    _ = try await timeAsync(warmup) { _ in try await s.caseload() }
    report("async", "caseload", try await timeAsync(caseloadN) { _ in try await s.caseload() })
    let mid = try await s.caseloadPage(after: nil, limit: 100).next
    _ = try await timeAsync(warmup) { _ in try await s.caseloadPage(after: mid, limit: 20) }
    report("async", "caseload_page", try await timeAsync(caseloadN) { _ in try await s.caseloadPage(after: mid, limit: 20) })
}

// The today list: a care plan for each person, `visits` of them due today (see boundary.rs).
let dayPeople = envSize("DOORSTEP_DAY_PEOPLE", 350)
let dayVisits = envSize("DOORSTEP_DAY_VISITS", 40)
var london = Calendar(identifier: .gregorian)
london.timeZone = TimeZone(identifier: "Europe/London")!
func londonDay(_ offset: Int) -> (String, DayOfWeek) {
    let d = london.date(byAdding: .day, value: offset, to: Date())!
    let c = london.dateComponents([.year, .month, .day, .weekday], from: d)
    // Calendar's weekday: 1 is Sunday.
    let days: [DayOfWeek] = [.sunday, .monday, .tuesday, .wednesday, .thursday, .friday, .saturday]
    return (String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!), days[c.weekday! - 1])
}
let areas = ["HX7", "HX1", "HD1", "LS6", "BD7"]
func dayPerson(_ i: Int) -> Demographics {
    Demographics(
        givenName: "Given\(i)", familyName: String(format: "Family%03d", i), dateOfBirth: "1941-03-09",
        address: Address(lines: ["12 Mill Lane", "Hebden Bridge"], postcode: "\(areas[i % 5]) \(1 + (i / 5) % 9)AB"),
        accessNotes: "Key safe by back door, code with coordinator. Friendly dog.")
}
let today = londonDay(0).0
let dayQuery = DayQuery(day: today, scope: .mine)
let dayConfig = config(dir, "swift-day")

do {
    let s = try FieldStore.open(config: dayConfig)
    let me = s.user().id
    for i in 0..<dayPeople {
        let p = try s.registerPatient(demographics: dayPerson(i))
        let problem = try s.addPlanProblem(personId: p, text: "Leg ulcer and diabetes")
        let goal = try s.addPlanGoal(
            personId: p, goal: GoalInput(problemId: problem.id, text: "Healed by the review", status: .active))
        let kind: Intervention
        let frequency: Frequency
        let startsOn: String
        let label: String
        if i < dayVisits && i % 2 == 0 {
            (kind, frequency, startsOn, label) = (.insulin, .dailyAt(times: ["08:00"]), today, "insulin")
        } else if i < dayVisits {
            (kind, frequency, startsOn, label) = (.woundCare, .everyNDays(days: 1), today, "wound care")
        } else if i % 2 == 0 {
            (kind, frequency, startsOn, label) = (.woundCare, .timesPerWeek(times: 3), londonDay(-1).0, "wound care")
        } else {
            (kind, frequency, startsOn, label) = (
                .catheterCare, .onWeekdays(days: [londonDay(1 + i % 6).1]), today, "catheter care"
            )
        }
        _ = try s.addPlanIntervention(
            personId: p,
            intervention: PlanInterventionInput(
                goalId: goal.id, kind: kind, description: label, frequency: frequency, clinician: me,
                startsOn: startsOn, contactType: .homeVisit))
    }
    let n = try s.todayList(query: dayQuery).visits.count
    precondition(n == dayVisits, "the day has \(n) visits, not \(dayVisits)")
    FileHandle.standardError.write("todayList: \(dayVisits) visits on \(today) of \(dayPeople) people with care plans\n".data(using: .utf8)!)
    _ = try time(warmup) { _ in try s.todayList(query: dayQuery) }
    report("ffi", "today_list", try time(todayN) { _ in try s.todayList(query: dayQuery) })
    // Where the extra time goes: decoding the same list from UniFFI's buffer (the generated
    // converter's lift; the Rust bench times the other half, the lowering).
    let list = try s.todayList(query: dayQuery)
    let probe = FfiConverterTypeTodayList_lower(list)
    let bytes = probe.len
    let lifted = try FfiConverterTypeTodayList_lift(probe)
    precondition(lifted == list)
    var lift: [Double] = []
    for i in 0..<(warmup + todayN) {
        let buf = FfiConverterTypeTodayList_lower(list)
        let t = now()
        let back = try FfiConverterTypeTodayList_lift(buf)
        let us = Double(now() - t) / 1000
        precondition(back.visits.count == dayVisits)
        if i >= warmup { lift.append(us) }
    }
    report("ffi", "today_list_lift", lift, extra: " bytes=\(bytes)")
}

// The async layer against the generated call it wraps, paired in one loop (which goes first
// alternates): this machine drifts between a fast and a slow state for seconds at a time, so two
// blocks timed one after the other can differ by 2× with nothing changed in between.
do {
    let s = try await DoorstepStore.open(dayConfig)
    let native = try FieldStore.open(config: dayConfig)
    let n = try await s.todayList(dayQuery).visits.count
    precondition(n == dayVisits)
    var generated: [Double] = [], layered: [Double] = []
    for i in 0..<(warmup + todayN) {
        var t0 = 0.0, t1 = 0.0
        for k in 0..<2 {
            let t = now()
            if (i + k) % 2 == 0 {
                _ = try native.todayList(query: dayQuery)
                t0 = Double(now() - t) / 1000
            } else {
                _ = try await s.todayList(dayQuery)
                t1 = Double(now() - t) / 1000
            }
        }
        if i >= warmup {
            generated.append(t0)
            layered.append(t1)
        }
    }
    report("ffi", "today_list_paired", generated)
    report("async", "today_list", layered)
}
