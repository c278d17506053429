package org.doorstep

import kotlinx.coroutines.runBlocking
import org.doorstep.ffi.DoorstepException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.Instant
import java.time.LocalDate
import java.time.ZoneId

/** The virtual ward (issue 13) through the Kotlin layer, against the real core. */
class WardTest {
    @TempDir
    lateinit var dir: Path

    private fun today() = LocalDate.now(ZoneId.of("Europe/London"))

    private fun admission(target: ReadingRange?) = AdmissionInput(
        pathway = VirtualWardPathway.COPD,
        route = AdmissionRoute.STEP_DOWN_HOSPITAL,
        referralSource = "Ward 7, Calderdale Royal",
        referralReason = "COPD exacerbation",
        admittedOn = today().minusDays(1).toString(),
        expectedLengthOfStayDays = 10u,
        responsibleClinician = "Dr A Khan",
        parameters = PersonalParameters(spo2Target = target, pulse = ReadingRange(55u, 100u)),
    )

    @Test
    fun `an admission on scale 2, an escalating set acknowledged on two phones once, the census and trends`() = runBlocking {
        val vw = Role.VIRTUAL_WARD_CLINICIAN
        DoorstepStore.open(Fixtures.config(dir, "phone-a", role = vw)).use { a ->
            DoorstepStore.open(Fixtures.config(dir, "hub-b", role = vw)).use { b ->
                val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
                val episode = a.admitToWard(id, admission(ReadingRange(88u, 92u)))
                assertEquals(AdmissionRoute.STEP_DOWN_HOSPITAL, episode.admission!!.route)
                // SpO2 95 % on air scores 0 on scale 2: NEWS2 5, medium.
                val set = a.recordObservations(id, Instant.now().toEpochMilli(), Fixtures.observationsScoring6)
                assertEquals(SpO2Scale.SCALE2, set.news2.scale)
                assertEquals(5.toUByte(), set.news2.total)
                val esc = a.escalations().single()
                assertEquals("esc-${set.id}", esc.id)
                assertEquals(EscalationBand.MEDIUM, esc.band)
                assertEquals(listOf(esc.id), a.todayList(DayQuery(today().toString(), DayScope.TEAM)).escalations.map { it.id })

                a.exchangeTo(b)
                assertEquals(esc, b.escalations(id).single())
                a.acknowledgeEscalation(id, esc.id)
                b.acknowledgeEscalation(id, esc.id, "calling now")
                a.exchangeTo(b)
                b.exchangeTo(a)
                for (s in listOf(a, b)) {
                    val e = s.escalations(id).single()
                    assertEquals(EscalationStatus.ACKNOWLEDGED, e.status)
                    assertEquals(2u, e.acknowledgements)
                }
                val again = assertThrows<DoorstepException.Validation> { runBlocking { a.acknowledgeEscalation(id, esc.id) } }
                assertTrue(again.message!!.contains("acknowledged by"), again.message)

                val census = b.wardCensus()
                val entry = census.people.single()
                assertEquals(1u, entry.lengthOfStayDays)
                assertEquals(5.toUByte(), entry.latestNews2)
                assertEquals(1u, entry.openEscalations)

                val trends = a.trends(id)
                val news2 = trends.series.first { it.measure == TrendMeasure.NEWS2 }
                assertEquals(listOf(5.0), news2.points.map { it.value })

                b.escalationEvent(id, esc.id, EscalationEventKind.OUTCOME, "stable on video review")
                assertTrue(b.escalations().isEmpty())
                val d = b.dischargeFromWard(id, episode.id, today().toString(), DischargeDestination.USUAL_CARE, "Stable")
                assertEquals(DischargeDestination.USUAL_CARE, d.destination)
                assertTrue(b.wardCensus().people.isEmpty())
            }
        }
    }

    @Test
    fun `an impossible admission is a validation error and nothing is stored`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a", role = Role.VIRTUAL_WARD_CLINICIAN)).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val sent = s.exportChanges().changes.size
            val bad = admission(ReadingRange(92u, 88u))
            val e = assertThrows<DoorstepException.Validation> { runBlocking { s.admitToWard(id, bad) } }
            assertTrue(e.message!!.contains("SpO2 target"), e.message)
            assertEquals(sent, s.exportChanges().changes.size)
        }
    }
}
