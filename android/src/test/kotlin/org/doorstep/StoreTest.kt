package org.doorstep

import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.doorstep.ffi.DoorstepException
import org.doorstep.ffi.Service
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.Instant
import java.time.LocalDate

class StoreTest {
    @TempDir
    lateinit var dir: Path

    private fun open(device: String = "phone-a") = runBlocking { DoorstepStore.open(Fixtures.config(dir, device)) }

    @Test
    fun `each core error arrives as its own exception type with the core's message`() = runBlocking {
        open().use { s ->
            val missing = assertThrows<DoorstepException.NotFound> { runBlocking { s.patient("no-such-person") } }
            assertTrue(missing.message!!.startsWith("No person with id no-such-person on this device"), missing.message)

            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val outOfRange = assertThrows<DoorstepException.Validation> {
                runBlocking {
                    s.recordObservations(id, Instant.now().toEpochMilli(), Observations(pulse = 400u))
                }
            }
            assertTrue(outOfRange.message!!.contains("pulse of 400 /min is outside the possible range"), outOfRange.message)

            val badDate = assertThrows<DoorstepException.Validation> {
                runBlocking { s.registerPatient(Fixtures.demographics("Ann", "Lee").copy(dateOfBirth = "09/03/1941")) }
            }
            assertTrue(badDate.message!!.contains("use the form YYYY-MM-DD"), badDate.message)

            val notOpen = assertThrows<DoorstepException.ConflictNotOpen> {
                runBlocking { s.resolveConflict("$id/allergies/0000", AlertInput(AlertKind.ALLERGIES, "NKDA", true)) }
            }
            assertTrue(notOpen.message!!.contains("is not open"), notOpen.message)

            val bad = assertThrows<DoorstepException.BadChanges> {
                runBlocking {
                    s.importChanges(ChangeBatch(listOf(ExportedChange("", Compartment.CLINICAL, byteArrayOf(1, 2, 3))), 1))
                }
            }
            assertTrue(bad.message!!.contains("Nothing from them was saved"), bad.message)
            // An unreadable change for a real person is quarantined for the clinician, not fatal.
            val report = s.importChanges(ChangeBatch(listOf(ExportedChange(id, Compartment.CLINICAL, byteArrayOf(1, 2, 3))), 1))
            assertEquals(1uL, report.quarantined)
            val q = s.native.quarantine().single()
            assertEquals(listOf("incoming", id), listOf(q.direction, q.personId))
        }
        val shortKey = assertThrows<DoorstepException.InvalidKey> {
            runBlocking { DoorstepStore.open(Fixtures.config(dir, "phone-b", key = ByteArray(16))) }
        }
        assertTrue(shortKey.message!!.contains("exactly 32 bytes"), shortKey.message)
        assertEquals(32, KEY_LENGTH)
    }

    @Test
    fun `the codes national returns need are kept as chosen, and a GP name given for a code is refused`() = runBlocking {
        open().use { s ->
            val d = Fixtures.demographics("Edith", "Crawley").copy(
                statedGender = org.doorstep.ffi.StatedGender.FEMALE,
                ethnicCategory = org.doorstep.ffi.EthnicCategory.NOT_STATED,
                gpPracticeOds = "b86 010",
            )
            val id = s.registerPatient(d)
            val back = s.patient(id).demographics!!
            assertEquals(org.doorstep.ffi.StatedGender.FEMALE, back.statedGender)
            assertEquals(org.doorstep.ffi.EthnicCategory.NOT_STATED, back.ethnicCategory)
            assertEquals("B86010", back.gpPracticeOds)
            val bad = assertThrows<DoorstepException.Validation> {
                runBlocking { s.registerPatient(d.copy(gpPracticeOds = "Calder Valley")) }
            }
            assertTrue(bad.message!!.contains("a letter and five digits"), bad.message)
        }
    }

    @Test
    fun `a damaged file is reported as damaged, not as a wrong key`() = runBlocking {
        val path = dir.resolve("phone-a.db")
        java.nio.file.Files.write(path, ByteArray(8192) { (it * 31).toByte() })
        val e = assertThrows<DoorstepException> { runBlocking { DoorstepStore.open(Fixtures.config(dir, "phone-a")) } }
        assertTrue(e is DoorstepException.Damaged || e is DoorstepException.WrongKey, "got ${e::class}")
    }

    @Test
    fun `the caseload screen pages by cursor, and an out-of-range page is refused with what to ask`() = runBlocking {
        open().use { s ->
            for (family in listOf("Evans", "Baker", "Dixon", "Carter")) s.registerPatient(Fixtures.demographics("Ann", family))
            val first = s.caseloadPage(null, 3u)
            assertEquals(listOf("Ann Baker", "Ann Carter", "Ann Dixon"), first.rows.map { it.displayName })
            val rest = s.caseloadPage(first.next, 3u)
            assertEquals(listOf("Ann Evans"), rest.rows.map { it.displayName })
            assertNull(rest.next)
            val e = assertThrows<DoorstepException.Validation> { runBlocking { s.caseloadPage(null, 0u) } }
            assertTrue(e.message!!.contains("ask for 1 to 500"), e.message)
        }
    }

    @Test
    fun `concurrent alerts from two devices become a conflict that a clinician resolves`() = runBlocking {
        open("phone-a").use { a ->
            open("phone-b").use { b ->
                val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
                a.exchangeTo(b)
                a.setAlert(id, AlertInput(AlertKind.ALLERGIES, "Penicillin: anaphylaxis", true))
                b.setAlert(id, AlertInput(AlertKind.ALLERGIES, "No known drug allergies", true))
                val report = a.exchangeTo(b)
                b.exchangeTo(a)
                assertEquals(1, report.newConflicts.size)

                val conflict = a.conflicts(id).single()
                assertEquals(AlertKind.ALLERGIES, conflict.kind)
                assertEquals(setOf("Penicillin: anaphylaxis", "No known drug allergies"), conflict.values.map { it.text }.toSet())
                assertEquals(conflict, b.conflicts().single(), "both devices see the same conflict")
                assertTrue(a.caseload().single().alerts.single().inConflict)

                val overwrite = assertThrows<DoorstepException.Validation> {
                    runBlocking { a.setAlert(id, AlertInput(AlertKind.ALLERGIES, "Latex", true)) }
                }
                assertTrue(overwrite.message!!.contains("resolve the conflict"), overwrite.message)

                val resolved = a.resolveConflict(conflict.id, AlertInput(AlertKind.ALLERGIES, "Penicillin: anaphylaxis", true))
                assertFalse(resolved.inConflict)
                assertTrue(a.conflicts().isEmpty())
                assertThrows<DoorstepException.ConflictNotOpen> {
                    runBlocking { a.resolveConflict(conflict.id, AlertInput(AlertKind.ALLERGIES, "x", true)) }
                }
                a.exchangeTo(b)
                assertTrue(b.conflicts().isEmpty(), "the resolution supersedes both values on the other device")
                assertEquals("Penicillin: anaphylaxis", b.caseload().single().alerts.single().summary)
            }
        }
    }

    @Test
    fun `writes from many coroutines at once are all kept`() = runBlocking {
        open().use { s ->
            val ids = (0 until 4).map { s.registerPatient(Fixtures.demographics("P$it", "Family$it")) }
            val visits = (0 until 40).map { n ->
                async { s.recordVisit(ids[n % ids.size], Fixtures.visit(Fixtures.normalObservations, minutesAgo = n.toLong())) }
            }.awaitAll()
            assertEquals(40, visits.map { it.visit.id }.toSet().size)
            val counts = ids.map { s.patient(it).clinical!!.visits.size }
            assertEquals(listOf(10, 10, 10, 10), counts)
            assertEquals("ok", s.integrityCheck())
        }
    }

    @Test
    fun `the rest of the record API round-trips through the boundary`() = runBlocking {
        open().use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val updated = s.updateDemographics(id, Fixtures.demographics("Edith", "Crawley").copy(phone = "01422 000000"))
            assertEquals("01422 000000", updated.phone)

            val tomorrow = LocalDate.now().plusDays(1)
            val start = tomorrow.atTime(10, 0).toInstant(java.time.ZoneOffset.UTC)
            val planned = s.scheduleVisit(id, PlannedVisitInput(plannedStartMs = start.epochMillis, contactType = ContactType.TELEPHONE, purpose = "Review"))
            assertEquals(start, instantOfMillis(planned.plannedStartMs))
            val day = s.plannedVisits(tomorrow.isoDate)
            assertEquals(listOf(planned.id), day.map { it.visitId })
            assertEquals(start.epochMillis, s.caseload().single().nextVisitMs)

            val partial = s.recordObservations(id, Instant.now().epochMillis, Observations(pulse = 72u))
            assertNull(partial.news2.total, "a partial set has no total")
            assertTrue(Parameter.RESPIRATION_RATE in partial.news2.missing)

            val note = s.addNote(id, "Daughter visiting at weekends.")
            val marker = s.markEnteredInError(id, note.id, "wrong person")
            assertEquals(note.id, marker.entryId)
            assertEquals(listOf(note.id), s.patient(id).clinical!!.enteredInError.map { it.entryId })

            val episode = s.addEpisode(id, EpisodeInput(Service.VirtualWard(VirtualWardPathway.COPD), "GP", "Exacerbation", LocalDate.now().isoDate))
            s.dischargeEpisode(id, episode.id, LocalDate.now().isoDate, "Recovered")
            assertEquals(LocalDate.now().isoDate, s.patient(id).clinical!!.episodes.single().dischargedOn)

            val plan = s.setCarePlan(id, CarePlan(listOf("Heal wound"), listOf("Dressing every 2 days"), "2027-01-31"))
            assertEquals("2027-01-31", s.patient(id).clinical!!.carePlan?.reviewDate)
            assertEquals(plan, s.patient(id).clinical!!.carePlan)

            // The advice record is the advice worker's to write: refused to a nurse, at once.
            val refused = assertThrows<DoorstepException.NotAllowed> {
                runBlocking { s.addAdviceNeed(id, AdviceCategory.BENEFITS_AND_TAX_CREDITS, "Attendance Allowance claim") }
            }
            assertEquals("a district nurse may not write the advice record: this is outside the role. Nothing was saved.", refused.message)
            DoorstepStore.open(Fixtures.config(dir, "advice", role = Role.ADVICE_WORKER)).use { w ->
                s.exchangeTo(w)
                val need = w.addAdviceNeed(id, AdviceCategory.BENEFITS_AND_TAX_CREDITS, "Attendance Allowance claim")
                w.addAdviceAction(id, need.id, "Helped complete the form")
                w.recordAdviceOutcome(id, need.id, "Awarded", 562_000)
                w.setConsentToShare(id, true)
                val advice = w.patient(id).advice!!
                assertEquals(562_000L, advice.outcomes.single().financialGainPence)
                assertEquals(true, advice.consentToShare?.consented)
                // Issue 14: a weekly award is annualised × 52; the report counts it with the one-off.
                val weekly = FinancialEffectInput(FinancialEffectKind.INCOME_GAINED, 10_000, true, Period.WEEKLY)
                assertEquals(520_000L, w.recordAdviceOutcomeWithEffect(id, need.id, "Carer's element", weekly).financialGainPence)
                val noPeriod = assertThrows<DoorstepException.Validation> {
                    runBlocking { w.recordAdviceOutcomeWithEffect(id, need.id, "x", weekly.copy(period = null)) }
                }
                assertTrue(noPeriod.message!!.contains("needs a period"), noPeriod.message)
                val today = LocalDate.now(java.time.ZoneId.of("Europe/London")).isoDate
                val total = w.outreachReport(today, today).rows.first { it.grouping == ReportGrouping.TOTAL }
                assertEquals(562_000L + 520_000L, total.totalGainPence)
            }

            assertEquals(listOf(id), s.searchPatients("crawley").map { it.personId })
            val pending = s.pendingChanges()
            assertEquals(pending.size.toLong(), s.acknowledge(pending.last().seq))
            assertTrue(s.pendingChanges().isEmpty())
            s.compactNow()
            s.rebuildProjections()
            assertEquals(listOf(id), s.caseload().map { it.personId })

            val n = scoreNews2(Fixtures.observationsScoring6)
            assertEquals(6, n.total?.toInt())
            assertEquals("9434765919", validateNhsNumber("943-476-5919"))
            assertEquals("943 476 5919", formatNhsNumber("9434765919"))
        }
    }

    @Test
    fun `a closed store refuses calls instead of touching freed memory`() = runBlocking {
        val s = open()
        s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
        s.close()
        s.close() // idempotent
        assertThrows<IllegalStateException> { runBlocking { s.caseload() } }
        assertThrows<IllegalStateException> { s.native }
        // The file is released: it opens again at once with the data in it.
        open().use { assertEquals(1, it.caseload().size) }
    }
}
