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
import java.time.LocalDate
import java.time.ZoneId

/** The case worker's day (issue 14) through the Kotlin layer, against the real core. */
class OutreachTest {
    @TempDir
    lateinit var dir: Path

    private val london = ZoneId.of("Europe/London")

    private fun today() = LocalDate.now(london)

    private fun atTen(day: LocalDate) = day.atTime(10, 0).atZone(london).toInstant().toEpochMilli()

    @Test
    fun `a missed library appointment raises a follow-up and the next attempt is the second`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "ca", role = Role.ADVICE_WORKER)).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Joe", "Brennan"))
            val library = AppointmentVenue(VenueKind.LIBRARY, "Hyde Library")
            val yesterday = today().minusDays(1)
            val first = s.bookOutreachAppointment(id, AppointmentInput(atTen(yesterday), 45u, library))
            assertEquals(1u, first.attempt)
            val list = s.adviceTodayList(DayQuery(yesterday.toString(), DayScope.MINE))
            assertEquals(listOf(first.id), list.visits.map { it.visitRef })
            assertEquals("Hyde Library", list.visits[0].address)
            assertEquals(VenueKind.LIBRARY, list.visits[0].venue!!.kind)

            val missed = s.recordAppointmentAttendance(id, first.id, Attendance.DID_NOT_ATTEND)
            val followUp = missed.followUp!!
            assertEquals(today().plusDays(1).toString(), followUp.due)
            assertTrue(!missed.caseClosed)
            val due = s.adviceTodayList(DayQuery(today().plusDays(1).toString(), DayScope.MINE)).followUps
            assertEquals(listOf(followUp.id), due.map { it.task.id })

            val second = s.bookOutreachAppointment(
                id,
                AppointmentInput(atTen(today().plusDays(7)), 45u, library, follows = first.id),
            )
            assertEquals(2u, second.attempt)
            val views = s.outreachAppointments(id)
            assertEquals(VisitStatus.DID_NOT_ATTEND, s.adviceTodayList(DayQuery(yesterday.toString(), DayScope.MINE)).visits[0].status)
            assertEquals(2, views.size)
            assertNull(views[1].outcome)
        }
    }

    @Test
    fun `a venue without its name is refused with what to do, and a nurse may not book`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "ca", role = Role.ADVICE_WORKER)).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Joe", "Brennan"))
            val e = assertThrows<DoorstepException.Validation> {
                runBlocking {
                    s.bookOutreachAppointment(id, AppointmentInput(atTen(today()), 45u, AppointmentVenue(VenueKind.GP_SURGERY)))
                }
            }
            assertTrue(e.message!!.contains("name the venue"), e.message)
            assertTrue(s.outreachAppointments(id).isEmpty())
        }
        DoorstepStore.open(Fixtures.config(dir, "nurse")).use { n ->
            val id = n.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val e = assertThrows<DoorstepException.NotAllowed> {
                runBlocking {
                    n.bookOutreachAppointment(id, AppointmentInput(atTen(today()), 45u, AppointmentVenue(VenueKind.HOME)))
                }
            }
            assertTrue(e.message!!.startsWith("a district nurse may not"), e.message)
        }
    }

    @Test
    fun `a referral to the advice team is answered there and the referrer sees it`() = runBlocking {
        val vwConfig = Fixtures.config(dir, "vw", role = Role.VIRTUAL_WARD_CLINICIAN)
        val caConfig = Fixtures.config(dir, "ca", role = Role.ADVICE_WORKER)
        val vwUser = vwConfig.user.copy(team = "vw-calder")
        val caUser = caConfig.user.copy(team = "ca-hyde")
        DoorstepStore.open(vwConfig.copy(user = vwUser)).use { vw ->
            DoorstepStore.open(caConfig.copy(user = caUser)).use { ca ->
                val id = vw.registerPatient(Fixtures.demographics("Walter", "Ackroyd"))
                val own = assertThrows<DoorstepException.Validation> {
                    runBlocking { vw.referPerson(id, ReferralInput("vw-calder", "heating", ReferralUrgency.ROUTINE)) }
                }
                assertTrue(own.message!!.contains("own team"), own.message)
                val r = vw.referPerson(id, ReferralInput("ca-hyde", "Fuel debt", ReferralUrgency.URGENT, listOf(Compartment.ADVICE)))
                vw.exchangeTo(ca)
                assertEquals(listOf(r.id), ca.referrals(incoming = true).map { it.referral.id })
                assertTrue(ca.caseload().isEmpty())
                ca.answerReferral(id, r.id, ReferralDecision.ACCEPTED)
                assertEquals(1, ca.caseload().size)
                ca.exchangeTo(vw)
                assertEquals(ReferralStatus.ACCEPTED, vw.referrals(incoming = false).single().status)
            }
        }
    }
}
