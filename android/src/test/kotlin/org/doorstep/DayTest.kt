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
import java.time.Instant
import java.time.LocalDate
import java.time.temporal.ChronoUnit
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
            val insulin = planInsulin(s, id, null)
            val r = s.todayList(DayQuery(today().toString(), DayScope.TEAM)).visits[1].visitRef
            val sent = s.exportChanges().changes.size
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
            val badTime = assertThrows<DoorstepException.Validation> {
                runBlocking {
                    s.addPlanIntervention(
                        id,
                        PlanInterventionInput(
                            goalId = insulin.goalId,
                            kind = Intervention.WoundCare,
                            description = "Dressing",
                            frequency = Frequency.DailyAt(listOf("8am")),
                            startsOn = today().toString(),
                            contactType = ContactType.HOME_VISIT,
                        ),
                    )
                }
            }
            assertTrue(badTime.message!!.startsWith("frequency time: '8am'"), badTime.message)
            val noNote = assertThrows<DoorstepException.Validation> {
                runBlocking { s.handOverVisit(id, r, "user-b", "Nurse B", "  ") }
            }
            assertTrue(noNote.message!!.startsWith("hand-over note is required"), noNote.message)
            val noCancelReason = assertThrows<DoorstepException.Validation> {
                runBlocking { s.cancelVisit(id, r, "") }
            }
            assertTrue(noCancelReason.message!!.startsWith("cancellation reason is required"), noCancelReason.message)
            val notAVisit = assertThrows<DoorstepException.NotFound> {
                runBlocking { s.cancelVisit(id, "${today()}T0300", "bank holiday") }
            }
            assertTrue(notAVisit.message!!.contains("${today()}T0300"), notAVisit.message)

            val clinical = s.patient(id).clinical!!
            assertTrue(clinical.visitExceptions.moves.isEmpty())
            assertTrue(clinical.visitExceptions.handovers.isEmpty())
            assertTrue(clinical.visitExceptions.cancellations.isEmpty())
            assertTrue(clinical.visits.isEmpty())
            assertEquals(listOf(insulin.id), s.carePlan(id).interventions.map { it.id })
            assertEquals(sent, s.exportChanges().changes.size, "no change was written")
            s.moveVisit(id, r, VisitMoveInput(today().plusDays(1).toString(), "18:00", "18:30", "family visiting"))
            assertEquals(1, s.todayList(DayQuery(today().toString(), DayScope.TEAM)).visits.size)
        }
    }

    @Test
    fun `a priority set by hand, a stopped intervention and a closed problem change the list`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val insulin = planInsulin(s, id, s.user.id)
            val problem = s.addPlanProblem(id, "Venous leg ulcer, left")
            val goal = s.addPlanGoal(id, GoalInput(problem.id, "Healed in 12 weeks", status = GoalStatus.ACTIVE))
            val dressing = PlanInterventionInput(
                goalId = goal.id,
                kind = Intervention.WoundCare,
                description = "Compression bandaging",
                frequency = Frequency.EveryNDays(1u),
                windowStart = "10:00",
                windowEnd = "12:00",
                clinician = s.user.id,
                startsOn = today().toString(),
                contactType = ContactType.HOME_VISIT,
            )
            val wound = s.addPlanIntervention(id, dressing)
            val mine = DayQuery(today().toString(), DayScope.MINE)
            val list = s.todayList(mine)
            assertEquals(listOf("07:30–08:30", "10:00–12:00", "16:30–17:30"), list.visits.map { it.window })
            val mid = list.visits[1]
            assertEquals(VisitPriority.WOUND, mid.priority)
            assertEquals(listOf(wound.id), mid.interventions.map { it.interventionId })

            s.setVisitPriority(id, mid.visitRef, VisitPriority.END_OF_LIFE, "deteriorating, family aware")
            val raised = s.todayList(mine).visits[1]
            assertEquals(VisitPriority.END_OF_LIFE, raised.priority)
            assertTrue(raised.priorityOverridden)

            // Stopping the evening insulin's intervention takes both of its visits off the list.
            s.updatePlanIntervention(
                id,
                insulin.id,
                PlanInterventionInput(
                    goalId = insulin.goalId,
                    kind = Intervention.Insulin,
                    description = "NovoMix 30",
                    frequency = Frequency.DailyAt(listOf("08:00", "17:00")),
                    clinician = s.user.id,
                    startsOn = today().toString(),
                    contactType = ContactType.HOME_VISIT,
                ),
                active = false,
            )
            assertEquals(listOf(mid.visitRef), s.todayList(mine).visits.map { it.visitRef })
            assertEquals(false, s.carePlan(id).interventions.single { it.id == insulin.id }.active)

            // Closing the ulcer's problem stops its goal's visits too.
            val closed = s.updatePlanProblem(id, problem.id, "Venous leg ulcer, left: healed", active = false)
            assertEquals(false, closed.active)
            assertTrue(s.todayList(mine).visits.isEmpty())
            assertEquals("Venous leg ulcer, left: healed", s.carePlan(id).problems.single { it.id == problem.id }.text)
        }
    }

    private fun dose(
        drug: String,
        dose: Double,
        unit: DoseUnit,
        route: Route,
        atMs: Long = Instant.now().minus(10, ChronoUnit.MINUTES).toEpochMilli(),
    ) = MedicationInput(drug = drug, dose = dose, unit = unit, route = route, atMs = atMs, given = true)

    @Test
    fun `a dose given is recorded and read back, bad ones are refused naming the field, a wrong one is corrected`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val at = Instant.now().minus(20, ChronoUnit.MINUTES).toEpochMilli()
            val given = s.recordMedication(id, dose("Insulin aspart (NovoRapid)", 8.0, DoseUnit.UNITS, Route.SUBCUTANEOUS, at))
            val stored = s.patient(id).clinical!!.medications.single()
            assertEquals(given, stored)
            assertEquals("Insulin aspart (NovoRapid)", stored.drug)
            assertEquals(8.0, stored.dose)
            assertEquals(DoseUnit.UNITS, stored.unit)
            assertEquals(Route.SUBCUTANEOUS, stored.route)
            assertEquals(at, stored.atMs)
            assertTrue(stored.given)
            assertEquals(s.user.id, stored.author.userId)
            assertEquals("gave Insulin aspart (NovoRapid) 8 units (subcutaneous)", s.history(id).last().summary)

            // Refused, naming the field; nothing stored.
            val sent = s.exportChanges().changes.size
            val morphine = dose("Morphine sulfate", 2.5, DoseUnit.MILLIGRAMS, Route.SUBCUTANEOUS).copy(controlledDrug = true)
            fun refused(input: MedicationInput): String =
                assertThrows<DoorstepException.Validation> { runBlocking { s.recordMedication(id, input) } }.message!!
            val noWitness = refused(morphine)
            assertTrue(noWitness.startsWith("witness is required"), noWitness)
            val selfWitness = refused(morphine.copy(witness = Witness(s.user.id, s.user.displayName)))
            assertTrue(selfWitness.startsWith("witness: the witness must be someone other than the person giving"), selfWitness)
            val noReason = refused(morphine.copy(witness = Witness("user-b", "Bea Ward"), given = false))
            assertTrue(noReason.startsWith("reason not given is required"), noReason)
            val blankReason = refused(morphine.copy(witness = Witness("user-b", "Bea Ward"), given = false, notGivenReason = "  "))
            assertTrue(blankReason.startsWith("reason not given is required"), blankReason)
            val tooMuch = refused(dose("Insulin aspart (NovoRapid)", 800.0, DoseUnit.UNITS, Route.SUBCUTANEOUS))
            assertTrue(tooMuch.startsWith("dose of 800 units is outside the possible range"), tooMuch)
            val driver = refused(dose("Midazolam", 10.0, DoseUnit.MILLIGRAMS, Route.SYRINGE_DRIVER))
            assertTrue(driver.startsWith("syringe driver check is required"), driver)
            val later = refused(
                dose("Paracetamol", 1000.0, DoseUnit.MILLIGRAMS, Route.ORAL, Instant.now().plus(3, ChronoUnit.HOURS).toEpochMilli()),
            )
            assertTrue(later.startsWith("administration time"), later)
            assertEquals(listOf(given.id), s.patient(id).clinical!!.medications.map { it.id })
            assertEquals(sent, s.exportChanges().changes.size, "no change was written")

            // Witnessed by someone else, and a dose not given with its reason: both recorded.
            val witnessed = s.recordMedication(id, morphine.copy(witness = Witness("user-b", "Bea Ward")))
            assertEquals(Witness("user-b", "Bea Ward"), witnessed.witness)
            assertEquals("gave Morphine sulfate 2.5 mg (subcutaneous), witnessed by Bea Ward", s.history(id).last().summary)
            val refusedDose = s.recordMedication(
                id,
                dose("Furosemide", 40.0, DoseUnit.MILLIGRAMS, Route.ORAL).copy(given = false, notGivenReason = " refused: feels sick "),
            )
            assertEquals("refused: feels sick", refusedDose.notGivenReason)

            // The insulin was 8 units where 6 were given: entered in error, then the right record.
            s.markEnteredInError(id, given.id, "wrong dose entered: 6 units given")
            val right = s.recordMedication(id, dose("Insulin aspart (NovoRapid)", 6.0, DoseUnit.UNITS, Route.SUBCUTANEOUS, at))
            val c = s.patient(id).clinical!!
            assertEquals(listOf(given.id), c.enteredInError.map { it.entryId })
            assertEquals("wrong dose entered: 6 units given", c.enteredInError.single().reason)
            assertEquals(4, c.medications.size, "the wrong record is kept, marked")
            val current = c.medications.filter { m -> c.enteredInError.none { it.entryId == m.id } }
            assertEquals(listOf(witnessed.id, refusedDose.id, right.id), current.map { it.id })
            assertEquals(6.0, current.single { it.drug.startsWith("Insulin") }.dose)
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
                    assertTrue(b.todayList(mine).visits.isEmpty())
                    val evening = a.todayList(mine).visits[1].visitRef
                    a.handOverVisit(id, evening, b.user.id, b.user.displayName, "Evening insulin: pen in the fridge")
                    a.sync(aEnd)
                    b.sync(bEnd)
                    val theirs = b.todayList(mine).visits.single()
                    assertEquals(evening, theirs.visitRef)
                    assertEquals("Evening insulin: pen in the fridge", theirs.handoverNote)
                    assertEquals(a.user.displayName, theirs.handedOverBy)
                    assertEquals(
                        listOf("${today()}T0730"),
                        a.todayList(mine).visits.map { it.visitRef },
                        "the evening visit left her own list",
                    )
                }
            }
        }
    }
}
