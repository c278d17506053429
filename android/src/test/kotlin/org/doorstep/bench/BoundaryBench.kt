package org.doorstep.bench

import kotlinx.coroutines.runBlocking
import org.doorstep.DoorstepStore
import org.doorstep.Fixtures
import org.doorstep.ffi.FieldStore
import java.nio.file.Files
import java.nio.file.Path

/*
 * The Kotlin side of the boundary-cost benchmark (docs/performance.md, "Mobile boundary").
 * Not a test: timings are reported, never asserted. Same workload as bindings/benches/boundary.rs
 * and ios/Sources/BoundaryBench/main.swift: 200 people with one visit each, then `recordVisit`
 * (8 observations, 3 interventions, 500-character note) and `caseload` (200 lines), each call
 * timed on its own, medians reported. Measured twice: on the generated `FieldStore` (the raw
 * boundary: JNA plus UniFFI's serialisation) and on `DoorstepStore` (what an app calls: a
 * suspend function that hops to Dispatchers.IO).
 *
 *   cd android && mvn -B -q test-compile exec:exec@bench     (or scripts/bench-boundary.sh)
 */

private const val PEOPLE = 200
private const val WARMUP = 30
private const val RECORD_N = 300
private const val CASELOAD_N = 300

private fun report(api: String, op: String, samples: MutableList<Double>) {
    samples.sort()
    fun q(p: Double) = samples[Math.round((samples.size - 1) * p).toInt()]
    println("kotlin $api $op median_us=%.2f p90_us=%.2f n=%d".format(java.util.Locale.ROOT, q(0.5), q(0.9), samples.size))
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
            }
        }
    } finally {
        dir.toFile().deleteRecursively()
    }
}
