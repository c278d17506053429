import Foundation
import Observation
@_exported import DoorstepFFI

/// One emission of a live query: the list or record as it is now, and the change that made it
/// (`change` is nil for the first emission, the value when iteration began). A list screen can
/// use `change.people` to update only the rows that changed.
public struct Live<Value: Sendable>: Sendable {
    public let value: Value
    public let change: StoreChange?
}

private final class ObserverRelay: StoreObserver, @unchecked Sendable {
    // Immutable after init; the closure is @Sendable.
    let f: @Sendable (StoreChange) -> Void
    init(_ f: @escaping @Sendable (StoreChange) -> Void) { self.f = f }
    func onChange(change: StoreChange) { f(change) }
}

extension DoorstepStore {
    /// Every change the store commits (a write from any screen; each sync, whose pages the core
    /// coalesces into one change), reported after the writer is released. The observer is
    /// registered when this is called and removed when the stream ends.
    public func changes() -> AsyncStream<StoreChange> {
        let native = self.native
        return AsyncStream(bufferingPolicy: .unbounded) { continuation in
            let id = native.observe(observer: ObserverRelay { continuation.yield($0) })
            continuation.onTermination = { _ in native.unobserve(id: id) }
        }
    }

    /// `read()` now, and again after every change that `relevant` accepts.
    func live<T: Sendable>(
        _ relevant: @escaping @Sendable (StoreChange) -> Bool,
        _ read: @escaping @Sendable () async throws -> T
    ) -> AsyncThrowingStream<Live<T>, Error> {
        AsyncThrowingStream { continuation in
            // Listen before the first read, so that nothing committed in between is missed.
            let changes = self.changes()
            let task = Task {
                do {
                    continuation.yield(Live(value: try await read(), change: nil))
                    for await c in changes where relevant(c) {
                        continuation.yield(Live(value: try await read(), change: c))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The caseload, again after every change to it.
    public func caseloadUpdates() -> AsyncThrowingStream<Live<[CaseloadEntry]>, Error> {
        live({ $0.caseload }) { try await self.caseload() }
    }

    /// One person's record, again after every change to it; nil once they are no longer held.
    public func patientUpdates(_ personId: String) -> AsyncThrowingStream<Live<PersonRecord?>, Error> {
        live({ $0.people.contains(personId) || $0.removed.contains(personId) }) {
            do {
                return try await self.patient(personId)
            } catch DoorstepError.NotFound {
                return nil
            }
        }
    }

    /// Open clinical conflicts of everyone on the device, again after every change to them.
    public func conflictUpdates() -> AsyncThrowingStream<Live<[ClinicalConflict]>, Error> {
        live({ $0.conflicts }) { try await self.conflicts() }
    }
}

/// The caseload for SwiftUI: an `@Observable` model that follows `caseloadUpdates()` on the main
/// actor. `start()` when the screen appears, `stop()` when it goes.
@available(iOS 17, macOS 14, *)
@MainActor
@Observable
public final class CaseloadModel {
    /// The caseload as last read.
    public private(set) var entries: [CaseloadEntry] = []
    /// What changed to give `entries` (nil after the first read).
    public private(set) var lastChange: StoreChange?
    /// True once the first read has arrived.
    public private(set) var loaded = false
    /// The failure that stopped the updates, if one did; its `message` says what to do.
    public private(set) var error: DoorstepError?

    @ObservationIgnored private let store: DoorstepStore
    @ObservationIgnored private var task: Task<Void, Never>?

    public init(store: DoorstepStore) { self.store = store }

    public func start() {
        guard task == nil else { return }
        let updates = store.caseloadUpdates()
        task = Task { [weak self] in
            do {
                for try await live in updates {
                    guard let self else { return }
                    self.entries = live.value
                    self.lastChange = live.change
                    self.loaded = true
                }
            } catch let e as DoorstepError {
                self?.error = e
            } catch {
                self?.error = .Interrupted(message: "\(error)")
            }
        }
    }

    public func stop() {
        task?.cancel()
        task = nil
    }
}
