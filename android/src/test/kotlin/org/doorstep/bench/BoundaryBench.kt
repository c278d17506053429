package org.doorstep.bench

import kotlinx.coroutines.runBlocking
import org.doorstep.Address
import org.doorstep.ContactType
import org.doorstep.DayOfWeek
import org.doorstep.DayQuery
import org.doorstep.DayScope
import org.doorstep.Demographics
import org.doorstep.DoorstepStore
import org.doorstep.Fixtures
import org.doorstep.GoalInput
import org.doorstep.GoalStatus
import org.doorstep.PlanInterventionInput
import org.doorstep.ffi.FfiConverterTypeTodayList
import org.doorstep.ffi.FieldStore
import org.doorstep.ffi.Frequency
import org.doorstep.ffi.Intervention
import java.nio.file.Files
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneId

/*
 * The Kotlin side of the boundary-cost benchmark (docs/performance.md, "Mobile boundary").
 * Not a test: timings are reported, never asserted. Same workload as bindings/benches/boundary.rs
 * and ios/Sources/BoundaryBench/main.swift: 200 people with one visit each, then `recordVisit`
 * (8 observations, 3 interventions, 500-character note) and `caseload` (200 lines), each call
 * timed on its own, medians reported. Measured twice: on the generated `FieldStore` (the raw
 * boundary: JNA plus UniFFI's serialisation) and on `DoorstepStore` (what an app calls: a
 * suspend function that hops to Dispatchers.IO).
 *
 *
 * `todayList` (issue 12): the signed-in nurse's list of one London day, over DOORSTEP_DAY_PEOPLE
 * people (default 350) with a care plan each, DOORSTEP_DAY_VISITS (default 40) of them due today,
 * built as bindings/benches/boundary.rs (and core/benches/day.rs) builds it. The store is built
 * once through the generated object, measured there, then opened again as a DoorstepStore.
 *
 *   cd android && mvn -B -q test-compile exec:exec@bench     (or scripts/bench-boundary.sh)
 */

private const val PEOPLE = 200
private const val WARMUP = 30
private const val RECORD_N = 300
private const val CASELOAD_N = 300
private const val TODAY_N = 300

private fun envSize(name: String, default: Int): Int = System.getenv(name)?.toIntOrNull() ?: default

private val AREAS = listOf("HX7", "HX1", "HD1", "LS6", "BD7")

/** The person `i` of the today-list caseload: testing::demographics of the Rust bench. */
private fun dayPerson(i: Int) = Demographics(
    givenName = "Given$i",
    familyName = "Family%03d".format(i),
    dateOfBirth = "1941-03-09",
    address = Address(lines = listOf("12 Mill Lane", "Hebden Bridge"), postcode = "${AREAS[i % 5]} ${1 + (i / 5) % 9}AB"),
    accessNotes = "Key safe by back door, code with coordinator. Friendly dog.",
)

private fun weekday(d: LocalDate): DayOfWeek = when (d.dayOfWeek!!) {
    java.time.DayOfWeek.MONDAY -> DayOfWeek.MONDAY
    java.time.DayOfWeek.TUESDAY -> DayOfWeek.TUESDAY
    java.time.DayOfWeek.WEDNESDAY -> DayOfWeek.WEDNESDAY
    java.time.DayOfWeek.THURSDAY -> DayOfWeek.THURSDAY
    java.time.DayOfWeek.FRIDAY -> DayOfWeek.FRIDAY
    java.time.DayOfWeek.SATURDAY -> DayOfWeek.SATURDAY
    java.time.DayOfWeek.SUNDAY -> DayOfWeek.SUNDAY
}

/** [people] people with a care plan each, [visits] of them due on [today] (see boundary.rs). */
private fun plansStore(s: FieldStore, people: Int, visits: Int, today: LocalDate) {
    val me = s.user().id
    for (i in 0 until people) {
        val p = s.registerPatient(dayPerson(i))
        val problem = s.addPlanProblem(p, "Leg ulcer and diabetes")
        val goal = s.addPlanGoal(p, GoalInput(problem.id, "Healed by the review", status = GoalStatus.ACTIVE))
        val (kind, frequency, startsOn) = when {
            i < visits && i % 2 == 0 -> Triple(Intervention.Insulin, Frequency.DailyAt(listOf("08:00")), today)
            i < visits -> Triple(Intervention.WoundCare, Frequency.EveryNDays(1u), today)
            i % 2 == 0 -> Triple(Intervention.WoundCare, Frequency.TimesPerWeek(3u), today.minusDays(1))
            else -> Triple(
                Intervention.CatheterCare,
                Frequency.OnWeekdays(listOf(weekday(today.plusDays(1L + i % 6)))),
                today,
            )
        }
        val label = when (kind) {
            Intervention.Insulin -> "insulin"
            Intervention.WoundCare -> "wound care"
            else -> "catheter care"
        }
        s.addPlanIntervention(
            p,
            PlanInterventionInput(
                goalId = goal.id,
                kind = kind,
                description = label,
                frequency = frequency,
                clinician = me,
                startsOn = startsOn.toString(),
                contactType = ContactType.HOME_VISIT,
            ),
        )
    }
}

private fun report(api: String, op: String, samples: MutableList<Double>, extra: String = "") {
    samples.sort()
    fun q(p: Double) = samples[Math.round((samples.size - 1) * p).toInt()]
    println("kotlin $api $op median_us=%.2f p90_us=%.2f n=%d".format(java.util.Locale.ROOT, q(0.5), q(0.9), samples.size) + extra)
}

private inline fun time(n: Int, f: (Int) -> Any?): MutableList<Double> {
    val out = ArrayList<Double>(n)
    var sink = 0
    for (i in 0 until n) {
        val t = System.nanoTime()
        sink += f(i).hashCode()
        out.add((System.nanoTime() - t) / 1000.0)
    }
    if (sink == 42) println() // keep the results alive
    return out
}

private fun people(register: (Int) -> String, visit: (String) -> Unit): List<String> =
    (0 until PEOPLE).map { i -> register(i).also(visit) }

fun main() {
    val dir: Path = Files.createTempDirectory("doorstep-bench")
    try {
        // The fixed cost of one crossing: keyLength() does no work and carries no payload.
        var sink = 0u
        repeat(10_000) { sink += org.doorstep.ffi.keyLength() }
        report("ffi", "trivial_call", MutableList(30) {
            val t = System.nanoTime()
            repeat(10_000) { sink += org.doorstep.ffi.keyLength() }
            (System.nanoTime() - t) / 10_000.0 / 1000.0
        })
        if (sink == 1u) println()
        // The generated object, called directly (blocking, on this thread).
        FieldStore.open(Fixtures.config(dir, "kotlin-ffi")).use { s ->
            val ids = people({ s.registerPatient(Fixtures.demographics("Given$it", "Family%03d".format(it))) }) {
                s.recordVisit(it, Fixtures.visit(Fixtures.normalObservations, minutesAgo = 600))
            }
            time(WARMUP) { s.recordVisit(ids[it % PEOPLE], Fixtures.visit(Fixtures.normalObservations)) }
            report("ffi", "record_visit", time(RECORD_N) { s.recordVisit(ids[it % PEOPLE], Fixtures.visit(Fixtures.normalObservations)) })
            time(WARMUP) { s.caseload() }
            report("ffi", "caseload", time(CASELOAD_N) { s.caseload() })
            val mid = s.caseloadPage(null, 100u).next
            time(WARMUP) { s.caseloadPage(mid, 20u) }
            report("ffi", "caseload_page", time(CASELOAD_N) { s.caseloadPage(mid, 20u) })
        }
        // The idiomatic layer: suspend functions on Dispatchers.IO, awaited from a coroutine.
        runBlocking {
            DoorstepStore.open(Fixtures.config(dir, "kotlin-store")).use { s ->
                val ids = (0 until PEOPLE).map { i ->
                    s.registerPatient(Fixtures.demographics("Given$i", "Family%03d".format(i))).also {
                        s.recordVisit(it, Fixtures.visit(Fixtures.normalObservations, minutesAgo = 600))
                    }
                }
                suspend fun timeS(n: Int, f: suspend (Int) -> Any?): MutableList<Double> {
                    val out = ArrayList<Double>(n)
                    for (i in 0 until n) {
                        val t = System.nanoTime()
                        f(i)
                        out.add((System.nanoTime() - t) / 1000.0)
                    }
                    return out
                }
                timeS(WARMUP) { s.recordVisit(ids[it % PEOPLE], Fixtures.visit(Fixtures.normalObservations)) }
                report("suspend", "record_visit", timeS(RECORD_N) { s.recordVisit(ids[it % PEOPLE], Fixtures.visit(Fixtures.normalObservations)) })
                timeS(WARMUP) { s.caseload() }
                report("suspend", "caseload", timeS(CASELOAD_N) { s.caseload() })
                val mid = s.caseloadPage(null, 100u).next
                timeS(WARMUP) { s.caseloadPage(mid, 20u) }
                report("suspend", "caseload_page", timeS(CASELOAD_N) { s.caseloadPage(mid, 20u) })
            }
        }
        // The today list: built and measured on the generated object, then through DoorstepStore.
        val people = envSize("DOORSTEP_DAY_PEOPLE", 350)
        val visits = envSize("DOORSTEP_DAY_VISITS", 40)
        val today = LocalDate.now(ZoneId.of("Europe/London"))
        val query = DayQuery(today.toString(), DayScope.MINE)
        val dayConfig = Fixtures.config(dir, "kotlin-day")
        FieldStore.open(dayConfig).use { s ->
            plansStore(s, people, visits, today)
            val n = s.todayList(query).visits.size
            check(n == visits) { "the day has $n visits, not $visits" }
            System.err.println("todayList: $visits visits on $today of $people people with care plans")
            time(WARMUP) { s.todayList(query) }
            report("ffi", "today_list", time(TODAY_N) { s.todayList(query) })
            // Where the extra time goes: decoding the same list from UniFFI's buffer (the
            // generated converter's lift; the Rust bench times the other half, the lowering).
            val list = s.todayList(query)
            val probe = FfiConverterTypeTodayList.lower(list)
            val bytes = probe.len
            check(FfiConverterTypeTodayList.lift(probe) == list)
            val lift = ArrayList<Double>(TODAY_N)
            for (i in 0 until WARMUP + TODAY_N) {
                val buf = FfiConverterTypeTodayList.lower(list)
                val t = System.nanoTime()
                val back = FfiConverterTypeTodayList.lift(buf)
                val us = (System.nanoTime() - t) / 1000.0
                if (back.visits.size != visits) error("lifted ${back.visits.size} visits")
                if (i >= WARMUP) lift.add(us)
            }
            report("ffi", "today_list_lift", lift, " bytes=$bytes")
        }
        runBlocking {
            DoorstepStore.open(dayConfig).use { s ->
                check(s.todayList(query).visits.size == visits)
                val out = ArrayList<Double>(TODAY_N)
                repeat(WARMUP) { s.todayList(query) }
                repeat(TODAY_N) {
                    val t = System.nanoTime()
                    s.todayList(query)
                    out.add((System.nanoTime() - t) / 1000.0)
                }
                report("suspend", "today_list", out)
            }
        }
    } finally {
        dir.toFile().deleteRecursively()
    }
}
