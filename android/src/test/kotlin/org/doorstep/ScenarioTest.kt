package org.doorstep

import kotlinx.coroutines.runBlocking
import org.doorstep.ffi.DoorstepException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/**
 * The scenario, as an Android app would run it (the same steps are in Swift in
 * ios/Tests and in Rust in tests/tests/ffi_scenario.rs).
 */
class ScenarioTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `a visit recorded offline is scored, listed, guarded by typed errors and reaches a second store`() =
        runBlocking {
            DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { a ->
                // Register a person (NHS number with spaces is normalised).
                val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs = "943 476 5919"))

                // Record a visit with a full set of observations: the NEWS2 comes back.
                val recorded = a.recordVisit(id, Fixtures.visit(Fixtures.observationsScoring6))
                val news2 = checkNotNull(recorded.news2) { "observations were taken, so NEWS2 comes back" }
                assertEquals(6, news2.total?.toInt())
                assertEquals(ClinicalRisk.MEDIUM, news2.risk)
                assertEquals(SpO2Scale.SCALE1, news2.scale)
                assertTrue(news2.missing.isEmpty())
                assertEquals(
                    listOf(2, 1, 0, 1, 1, 0, 1),
                    news2.subScores.map { it.score.toInt() },
                    "sub-scores in RCP chart order",
                )
                assertTrue(news2.response.startsWith("Medium clinical risk"), news2.response)
                assertEquals(recorded.observations?.id, recorded.visit.observationsId)
                assertEquals("user-phone-a", recorded.visit.author.userId)

                // The caseload shows the person with the latest NEWS2 and last visit.
                val caseload = a.caseload()
                assertEquals(1, caseload.size)
                val line = caseload.single()
                assertEquals(id, line.personId)
                assertEquals("Edith Crawley", line.displayName)
                assertEquals("9434765919", line.nhsNumber)
                assertEquals("HX7 8AA", line.postcode)
                assertEquals(6, line.latestNews2?.toInt())
                assertEquals(recorded.visit.startedAtMs, line.lastVisitMs)

                // An invalid NHS number is a typed validation error with a message for the user.
                val invalid = assertThrows<DoorstepException.Validation> {
                    runBlocking { a.registerPatient(Fixtures.demographics("Ann", "Other", nhs = "943 476 5918")) }
                }
                assertTrue(invalid.message!!.contains("NHS number '943 476 5918' is not valid"), invalid.message)
                assertEquals(1, a.caseload().size, "nothing was written")

                // The change is pending until a server (or another store) takes it.
                assertEquals(2, a.pendingChanges().size)

                // Exchange to a second store: the visit arrives with its observations and NEWS2.
                DoorstepStore.open(Fixtures.config(dir, "phone-b")).use { b ->
                    val report = a.exchangeTo(b)
                    assertEquals(listOf(id), report.peopleAdded)
                    assertEquals(2uL, report.newChanges)
                    val there = b.patient(id)
                    val clinical = checkNotNull(there.clinical) { "the clinical compartment arrived" }
                    assertEquals(listOf(recorded.visit), clinical.visits)
                    assertEquals(6, clinical.observations.single().news2.total?.toInt())
                    assertEquals("1941-03-09", there.demographics?.dateOfBirth)
                    assertEquals(6, b.caseload().single().latestNews2?.toInt())
                    assertTrue(b.pendingChanges().isEmpty(), "received changes are not this device's to send")
                    val history = b.history(id)
                    assertEquals(2, history.size)
                    assertTrue(history.last().sentence.contains("recorded a home visit (completed)"), history.last().sentence)
                }
            }

            // A wrong key is a typed error, and the store is untouched.
            val wrong = assertThrows<DoorstepException.WrongKey> {
                runBlocking { DoorstepStore.open(Fixtures.config(dir, "phone-a", key = ByteArray(32) { 9 })) }
            }
            assertTrue(wrong.message!!.contains("cannot be opened with this key"), wrong.message)
            DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { again ->
                assertEquals(1, again.caseload().size)
                assertNull(again.caseload().single().nextVisitMs)
            }
        }
}
