package org.doorstep

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.doorstep.ffi.DoorstepException
import org.doorstep.ffi.Frequency
import org.doorstep.ffi.Intervention
import org.doorstep.ffi.TaskAssignee
import org.doorstep.ffi.TaskKind
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneId

/** The district nurse's day (issue 12) through the Kotlin layer, against the real core. */
class DayTest {
    @TempDir
    lateinit var dir: Path

    private val london = ZoneId.of("Europe/London")
    private fun today() = LocalDate.now(london)

    private suspend fun planInsulin(s: DoorstepStore, personId: String, clinician: String?): PlanIntervention {
        val problem = s.addPlanProblem(personId, "Type 2 diabetes on insulin")
        val goal = s.addPlanGoal(personId, GoalInput(problem.id, "Blood glucose 4–10 mmol/L", status = GoalStatus.ACTIVE))
        return s.addPlanIntervention(
            personId,
            PlanInterventionInput(
                goalId = goal.id,
                kind = Intervention.Insulin,
                description = "NovoMix 30",
                frequency = Frequency.DailyAt(listOf("08:00", "17:00")),
                clinician = clinician,
                startsOn = today().toString(),
                contactType = ContactType.HOME_VISIT,
            ),
        )
    }

    @Test
    fun `a care plan makes the today list, and the live list follows a visit recorded`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val insulin = planInsulin(s, id, s.user.id)
            val query = DayQuery(today().toString(), DayScope.MINE)
            val list = s.todayList(query)
            assertEquals(2, list.visits.size)
            val morning = list.visits[0]
            assertEquals("${today()}T0730", morning.visitRef)
            assertEquals("07:30–08:30", morning.window)
            assertEquals(VisitPriority.TIME_CRITICAL_MEDICATION, morning.priority)
            assertEquals(listOf(insulin.id), morning.interventions.map { it.interventionId })
            assertEquals("Key safe by back door. Friendly dog.", morning.accessNotes)

            // The list is open on a screen when the morning visit is recorded.
            val subscribed = CompletableDeferred<Unit>()
            val updates = async(Dispatchers.Default) {
                s.todayListFlow(query).onEach { subscribed.complete(Unit) }.take(2).toList()
            }
            withTimeout(10_000) { subscribed.await() }
            s.recordVisit(
                id,
                Fixtures.visit(null).copy(scheduledVisit = morning.visitRef, interventionsDone = listOf(insulin.id)),
            )
            val seen = withTimeout(10_000) { updates.await() }
            assertEquals(VisitStatus.COMPLETED, seen[1].value.visits[0].status)
            assertTrue(seen[1].change!!.plannedVisits)
        }
    }

    @Test
    fun `a task completed on two phones is completed once, and an advice worker may not complete one`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { a ->
            DoorstepStore.open(Fixtures.config(dir, "phone-b")).use { b ->
                val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
                val task = a.addTask(
                    id,
                    TaskInput(TaskKind.BloodsDue, "HbA1c", TaskAssignee.Role(Role.DISTRICT_NURSE), today().toString()),
                )
                a.exchangeTo(b)
                assertEquals(listOf(task.id), b.tasks(today().toString(), DayScope.MINE).map { it.task.id })
                a.completeTask(id, task.id, "taken")
                b.completeTask(id, task.id)
                a.exchangeTo(b)
                b.exchangeTo(a)
                for (s in listOf(a, b)) {
                    val v = s.tasks(today().toString(), DayScope.TEAM, includeClosed = true).single()
                    assertEquals(TaskStatus.COMPLETED, v.status)
                    assertEquals(2u, v.completions)
                    assertEquals(2, v.history.size)
                }
                val again = assertThrows<DoorstepException.Validation> { runBlocking { a.completeTask(id, task.id) } }
                assertTrue(again.message!!.contains("is already completed by"), again.message)
            }
        }
        DoorstepStore.open(Fixtures.config(dir, "advice", role = Role.ADVICE_WORKER)).use { w ->
            val refused = assertThrows<DoorstepException.NotAllowed> { runBlocking { w.completeTask("p", "t") } }
            assertEquals("an advice worker may not complete a task: this is outside the role. Nothing was saved.", refused.message)
        }
    }

    @Test
    fun `bad day input is a validation error naming the field and nothing is stored`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            planInsulin(s, id, null)
            val r = s.todayList(DayQuery(today().toString(), DayScope.TEAM)).visits[1].visitRef
            val past = assertThrows<DoorstepException.Validation> {
                runBlocking {
                    s.moveVisit(id, r, VisitMoveInput(today().minusDays(1).toString(), "09:00", "10:00"))
                }
            }
            assertTrue(past.message!!.startsWith("new visit date:"), past.message)
            val noReason = assertThrows<DoorstepException.Validation> {
                runBlocking {
                    s.recordVisit(id, Fixtures.visit(null).copy(scheduledVisit = r, outcome = VisitOutcome.NO_ACCESS))
                }
            }
            assertTrue(noReason.message!!.startsWith("outcome reason is required"), noReason.message)
            assertTrue(s.patient(id).clinical!!.visitExceptions.moves.isEmpty())
            assertTrue(s.patient(id).clinical!!.visits.isEmpty())
            s.moveVisit(id, r, VisitMoveInput(today().plusDays(1).toString(), "18:00", "18:30", "family visiting"))
            assertEquals(1, s.todayList(DayQuery(today().toString(), DayScope.TEAM)).visits.size)
        }
    }

    @Test
    fun `a visit handed over reaches the colleague's list through the sync server`() = runBlocking {
        LoopbackServer(dir).use { server ->
            suspend fun device(user: String): Pair<DoorstepStore, SyncEndpoint> {
                val e = enrol(server.url, server.issueCode(user))
                val store = DoorstepStore.open(Fixtures.config(dir, e.deviceId).copy(user = e.user))
                return store to SyncEndpoint(url = server.url, deviceToken = e.deviceToken)
            }
            val (a, aEnd) = device("north-nurse1")
            val (b, bEnd) = device("north-nurse2")
            a.use {
                b.use {
                    val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley"))
                    planInsulin(a, id, a.user.id)
                    val mine = DayQuery(today().toString(), DayScope.MINE)
                    val evening = a.todayList(mine).visits[1].visitRef
                    a.handOverVisit(id, evening, b.user.id, b.user.displayName, "Evening insulin: pen in the fridge")
                    a.sync(aEnd)
                    b.sync(bEnd)
                    val theirs = b.todayList(mine).visits.single()
                    assertEquals(evening, theirs.visitRef)
                    assertEquals("Evening insulin: pen in the fridge", theirs.handoverNote)
                    assertEquals(a.user.displayName, theirs.handedOverBy)
                }
            }
        }
    }
}
