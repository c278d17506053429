package org.doorstep

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.channelFlow
import org.doorstep.ffi.DoorstepException
import org.doorstep.ffi.StoreObserver

typealias StoreChange = org.doorstep.ffi.StoreChange

/**
 * One emission of a live query: the list or record as it is now, and the change that made it
 * ([change] is null for the first emission, which is the value when collection began). A list
 * screen can use [StoreChange.people] to update only the rows that changed.
 */
data class Live<T>(val value: T, val change: StoreChange?)

/**
 * Every change the store commits (a write from any screen, each sync — whose pages the core
 * coalesces into one change), as the core reports them after the writer is released.
 */
fun DoorstepStore.changes(): Flow<StoreChange> = callbackFlow {
    val id = native.observe(object : StoreObserver {
        override fun onChange(change: StoreChange) {
            trySend(change)
        }
    })
    awaitClose { runCatching { native.unobserve(id) } }
}.buffer(Channel.UNLIMITED)

/** Re-reads with [read] (on the store's dispatcher) after every change that [relevant] accepts. */
internal fun <T> DoorstepStore.liveQuery(relevant: (StoreChange) -> Boolean, read: suspend () -> T): Flow<Live<T>> =
    live(relevant, read)

private fun <T> DoorstepStore.live(relevant: (StoreChange) -> Boolean, read: suspend () -> T): Flow<Live<T>> =
    channelFlow {
        // Listen before the first read, so that nothing committed in between is missed.
        val changes = Channel<StoreChange>(Channel.UNLIMITED)
        val id = native.observe(object : StoreObserver {
            override fun onChange(change: StoreChange) {
                changes.trySend(change)
            }
        })
        try {
            send(Live(read(), null))
            for (c in changes) if (relevant(c)) send(Live(read(), c))
        } finally {
            runCatching { native.unobserve(id) }
        }
    }

/** The caseload, again after every change to it (like Room's `Flow` queries). */
fun DoorstepStore.caseloadFlow(): Flow<Live<List<CaseloadEntry>>> = live({ it.caseload }) { caseload() }

/** One person's record, again after every change to it; null once they are no longer on the device. */
fun DoorstepStore.patientFlow(personId: String): Flow<Live<PersonRecord?>> =
    live({ personId in it.people || personId in it.removed }) {
        try {
            patient(personId)
        } catch (e: DoorstepException.NotFound) {
            null
        }
    }

/** Open clinical conflicts of everyone on the device, again after every change to them. */
fun DoorstepStore.conflictsFlow(): Flow<Live<List<ClinicalConflict>>> = live({ it.conflicts }) { conflicts() }
