@file:JvmName("DoorstepFfiMoved")

package org.doorstep.ffi

// Names that moved when core began to export its own types (issue 9): the records, enums,
// FieldStore and DoorstepException are generated from core into this package as before; the sync
// functions and the records only they use come from the doorstep-ffi crate, now in
// org.doorstep.ffi.sync. These aliases keep the old names compiling for one release.
// See docs/android.md, "Migrating from the first release".

@Deprecated("moved to org.doorstep.ffi.sync", ReplaceWith("org.doorstep.ffi.sync.Enrolment"))
typealias Enrolment = org.doorstep.ffi.sync.Enrolment

@Deprecated("moved to org.doorstep.ffi.sync", ReplaceWith("org.doorstep.ffi.sync.SyncProgress"))
typealias SyncProgress = org.doorstep.ffi.sync.SyncProgress

@Deprecated("moved to org.doorstep.ffi.sync", ReplaceWith("org.doorstep.ffi.sync.enrol(url, code)"))
suspend fun enrol(url: String, code: String): org.doorstep.ffi.sync.Enrolment =
    org.doorstep.ffi.sync.enrol(url, code)

@Deprecated("moved to org.doorstep.ffi.sync", ReplaceWith("org.doorstep.ffi.sync.sync(store, endpoint, progress)"))
suspend fun sync(store: FieldStore, endpoint: SyncEndpoint, progress: org.doorstep.ffi.sync.SyncProgress?): SyncReport =
    org.doorstep.ffi.sync.sync(store, endpoint, progress)
