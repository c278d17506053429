package org.doorstep

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.doorstep.ffi.DoorstepException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.Collections

/** The scenario's sync step, through a real `doorstep serve` on loopback. */
class SyncTest {
    @TempDir
    lateinit var dir: Path

    private suspend fun device(server: LoopbackServer, user: String): Pair<DoorstepStore, SyncEndpoint> {
        val e = enrol(server.url, server.issueCode(user))
        assertEquals(user, e.user.id)
        val store = DoorstepStore.open(Fixtures.config(dir, e.deviceId).copy(user = e.user))
        return store to SyncEndpoint(url = server.url, deviceToken = e.deviceToken)
    }

    /** Two enrolled phones of one team, with a real `doorstep serve` on loopback. */
    private fun twoPhones(
        block: suspend CoroutineScope.(DoorstepStore, SyncEndpoint, DoorstepStore, SyncEndpoint) -> Unit,
    ) = runBlocking {
        LoopbackServer(dir).use { server ->
            val (a, aEnd) = device(server, "north-nurse1")
            val (b, bEnd) = device(server, "north-nurse2")
            a.use { b.use { block(a, aEnd, b, bEnd) } }
        }
    }

    @Test
    fun `a visit recorded on one phone reaches another through the sync server, with progress and states`() =
        twoPhones { a, aEnd, b, bEnd ->
            val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs = "9434765919"))
            val recorded = a.recordVisit(id, Fixtures.visit(Fixtures.observationsScoring6))

            val events = Collections.synchronizedList(mutableListOf<SyncProgressEvent>())
            val sent = a.sync(aEnd) { events.add(it) }
            assertEquals(2uL, sent.changesSent)
            assertTrue(events.isNotEmpty(), "progress reached the callback")
            assertEquals(2uL, events.last().changesSent)
            assertTrue(a.pendingChanges().isEmpty(), "the server acknowledged both changes")

            // The second phone, through the Flow of sync states.
            val states = b.syncStates(bEnd).toList()
            assertEquals(SyncState.Running(null), states.first())
            val done = states.last() as SyncState.Done
            assertEquals(listOf(id), done.report.peopleAdded)
            assertEquals(listOf(recorded.visit), b.patient(id).clinical!!.visits)
            assertEquals(6, b.caseload().single().latestNews2?.toInt())

            // A StateFlow for the UI follows the same sync.
            val status = SyncStatus(b, bEnd)
            assertEquals(SyncState.Idle, status.state.value)
            val last = status.syncNow() as SyncState.Done
            assertEquals(0uL, last.report.changesReceived, "nothing new the second time")
            assertEquals(last, status.state.value)
        }

    /** Collect [n] emissions of [flow] in the background, once its first one has arrived. */
    private suspend fun <T> CoroutineScope.collecting(flow: Flow<T>, n: Int): Deferred<List<T>> {
        val subscribed = CompletableDeferred<Unit>()
        val all = async(Dispatchers.Default) { flow.onEach { subscribed.complete(Unit) }.take(n).toList() }
        withTimeout(10_000) { subscribed.await() }
        return all
    }

    @Test
    fun `a sync that brings a colleague's visit re-emits the caseload, the patient and the conflicts`() =
        twoPhones { a, aEnd, b, bEnd ->
            val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs = "9434765919"))
            a.sync(aEnd)
            b.sync(bEnd)
            // b's screens are open when a's visit arrives.
            val caseload = collecting(b.caseloadFlow(), 2)
            val patient = collecting(b.patientFlow(id), 2)
            val recorded = a.recordVisit(id, Fixtures.visit(Fixtures.observationsScoring6))
            a.sync(aEnd)
            b.sync(bEnd)

            val seen = withTimeout(10_000) { caseload.await() }
            assertEquals(null, seen[0].change, "the first emission is the list as it was")
            assertEquals(null, seen[0].value.single().lastVisitMs)
            val change = seen[1].change!!
            assertEquals(listOf(id), change.people, "the emission says whose row changed")
            assertTrue(change.caseload)
            assertEquals(recorded.visit.startedAtMs, seen[1].value.single().lastVisitMs)
            assertEquals(6, seen[1].value.single().latestNews2?.toInt())

            val record = withTimeout(10_000) { patient.await() }
            assertEquals(listOf(recorded.visit), record[1].value!!.clinical!!.visits)

            // Concurrent allergy values: b's own, then a's arriving by sync, a conflict.
            a.setAlert(id, AlertInput(AlertKind.ALLERGIES, "Penicillin: anaphylaxis", true))
            a.sync(aEnd)
            val conflicts = collecting(b.conflictsFlow(), 3)
            b.setAlert(id, AlertInput(AlertKind.ALLERGIES, "No known drug allergies", true))
            b.sync(bEnd)
            val open = withTimeout(10_000) { conflicts.await() }
            assertEquals(listOf(0, 0, 1), open.map { it.value.size })
            assertTrue(open[2].change!!.conflicts)
            assertEquals(listOf(id), open[2].change!!.people)
            assertEquals(b.conflicts(), open[2].value)
        }

    @Test
    fun `sync and enrolment failures are typed and say what to do`() = runBlocking {
        LoopbackServer(dir).use { server ->
            val (a, _) = device(server, "north-nurse1")
            a.use {
                val forged = SyncEndpoint(url = server.url, deviceToken = "forged")
                val auth = assertThrows<DoorstepException.AuthFailed> { runBlocking { a.sync(forged) } }
                assertTrue(auth.message!!.contains("enrol the device again"), auth.message)
                val failed = a.syncStates(forged).toList().last() as SyncState.Failed
                assertTrue(failed.error is DoorstepException.AuthFailed)

                val refused = assertThrows<DoorstepException.EnrolmentRefused> {
                    runBlocking { enrol(server.url, "NOT-A-CODE") }
                }
                assertTrue(refused.message!!.contains("Ask your administrator for a new one"), refused.message)
            }
        }
    }
}
