import Foundation
@_exported import DoorstepFFI

/// Where a sync stands, for the UI (`DoorstepStore.syncStates`).
public enum SyncState: Sendable, Equatable {
    /// A sync is in flight; `progress` is the last page applied (nil before the first).
    case running(SyncProgressEvent?)
    case done(SyncReport)
    /// The error's `message` says what to do ("sync again when you have a signal", ...).
    case failed(DoorstepError)
}

/// Enrol this device with the one-time code from the operator. Keep `deviceToken` in the
/// Keychain: it is shown once.
public func enrolDevice(url: String, code: String) async throws -> Enrolment {
    try await enrol(url: url, code: code)
}

private final class ProgressRelay: SyncProgress, @unchecked Sendable {
    // Immutable after init; the closure is @Sendable.
    let f: @Sendable (SyncProgressEvent) -> Void
    init(_ f: @escaping @Sendable (SyncProgressEvent) -> Void) { self.f = f }
    func onProgress(event: SyncProgressEvent) { f(event) }
}

extension DoorstepStore {
    /// Sync with the server: send what it lacks, receive what this device lacks. The network
    /// work runs on the library's own runtime; cancelling the task aborts it safely (each page is
    /// applied atomically). `progress` is called on a library thread after each page.
    public func sync(
        _ endpoint: SyncEndpoint, progress: (@Sendable (SyncProgressEvent) -> Void)? = nil
    ) async throws -> SyncReport {
        try await DoorstepFFI.sync(store: native, endpoint: endpoint, progress: progress.map(ProgressRelay.init))
    }

    /// One sync as a stream of states: `.running` (then again after each page), and finally
    /// `.done` or `.failed`. Iterating starts the sync; cancelling the iteration cancels it.
    public func syncStates(_ endpoint: SyncEndpoint) -> AsyncStream<SyncState> {
        AsyncStream { continuation in
            continuation.yield(.running(nil))
            let task = Task {
                do {
                    let report = try await self.sync(endpoint) { continuation.yield(.running($0)) }
                    continuation.yield(.done(report))
                } catch let e as DoorstepError {
                    continuation.yield(.failed(e))
                } catch {
                    continuation.yield(.failed(.Interrupted(message: "\(error)")))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
