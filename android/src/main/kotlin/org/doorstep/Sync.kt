package org.doorstep

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.channelFlow
import kotlinx.coroutines.launch
import org.doorstep.ffi.DoorstepException

typealias SyncEndpoint = org.doorstep.ffi.SyncEndpoint
typealias SyncReport = org.doorstep.ffi.SyncReport
typealias SyncProgressEvent = org.doorstep.ffi.SyncProgressEvent
typealias Enrolment = org.doorstep.ffi.sync.Enrolment

/** Where a sync stands, for the UI: a [Flow] of these is [DoorstepStore.syncStates]. */
sealed interface SyncState {
    /** No sync has run yet (the state of a new [SyncStatus]). */
    data object Idle : SyncState

    /** A sync is in flight; [progress] is the last page applied (null before the first). */
    data class Running(val progress: SyncProgressEvent?) : SyncState

    data class Done(val report: SyncReport) : SyncState

    /** [error]'s message says what to do ("sync again when you have a signal", ...). */
    data class Failed(val error: DoorstepException) : SyncState
}

/**
 * Enrol this device with the one-time code from the operator. Keep [Enrolment.deviceToken] with
 * the Android Keystore: it is shown once.
 */
suspend fun enrol(url: String, code: String): Enrolment = org.doorstep.ffi.sync.enrol(url, code)

/**
 * Sync with the server: send what it lacks, receive what this device lacks. The network work
 * runs on the library's own runtime; this suspends without blocking a thread. Cancelling the
 * coroutine aborts the sync safely (each page is applied atomically).
 */
suspend fun DoorstepStore.sync(
    endpoint: SyncEndpoint,
    onProgress: ((SyncProgressEvent) -> Unit)? = null,
): SyncReport {
    val listener = onProgress?.let { f ->
        object : org.doorstep.ffi.sync.SyncProgress {
            override fun onProgress(event: SyncProgressEvent) = f(event)
        }
    }
    return org.doorstep.ffi.sync.sync(native, endpoint, listener)
}

/**
 * One sync as a cold [Flow]: [SyncState.Running] (then again after each page), and finally
 * [SyncState.Done] or [SyncState.Failed]. Collecting starts the sync; cancelling the collector
 * cancels it.
 */
fun DoorstepStore.syncStates(endpoint: SyncEndpoint): Flow<SyncState> = channelFlow {
    send(SyncState.Running(null))
    launch {
        val state = try {
            SyncState.Done(sync(endpoint) { trySend(SyncState.Running(it)) })
        } catch (e: DoorstepException) {
            SyncState.Failed(e)
        }
        send(state)
        close()
    }
    awaitClose()
}

/**
 * The sync state an app shows (a status bar, a "last synced" line): a [StateFlow] that every
 * sync run through [syncNow] updates, whoever started it (the user, or WorkManager).
 */
class SyncStatus(private val store: DoorstepStore, private val endpoint: SyncEndpoint) {
    private val _state = MutableStateFlow<SyncState>(SyncState.Idle)
    val state: StateFlow<SyncState> = _state.asStateFlow()

    /** Run a sync, publishing each state; returns the last one (Done or Failed). */
    suspend fun syncNow(): SyncState {
        store.syncStates(endpoint).collect { _state.value = it }
        return _state.value
    }
}
