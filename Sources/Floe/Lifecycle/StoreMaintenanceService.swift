import Logging
import ServiceLifecycle

/// A store's background maintenance (compaction, object GC, following the
/// manifest) as a swift-service-lifecycle `Service`, for applications that run
/// their components in a `ServiceGroup`.
///
/// - A store opened with `compaction.background = false`: the service is the
///   maintenance. It loops like the built-in worker's first lane (the most urgent
///   compaction, idle and settle steps once commits pause, a GC pass every
///   `compaction.gcIntervalSeconds`, a poll every 5 ms while commits flow and every
///   100 ms once they paused). Graceful shutdown lets the running compaction or GC
///   pass finish, then returns.
/// - A store with background work on (the default): its own lanes do the work; the
///   service waits for graceful shutdown.
///
/// With `closesStore` (default true) the service closes the store when it returns
/// (graceful shutdown or an error), after the running task finished: uncommitted
/// epochs are dropped as by `close`, committed data is untouched. Run it after the
/// services that write to the store (a `ServiceGroup` shuts services down in reverse
/// order), or pass false and close the store yourself.
///
/// Errors: a fenced store ends the loop with `fenced` (another writer owns the
/// store: maintenance could never succeed again); other errors of one attempt are
/// retried with backoff (up to 1 s) and reported through the store's log.
public final class StoreMaintenanceService: Service, Sendable {
    public let store: StateStore
    private let closesStore: Bool

    public init(store: StateStore, closesStore: Bool = true) {
        self.store = store
        self.closesStore = closesStore
    }

    public func run() async throws {
        do {
            if store.options.compaction.background {
                try await gracefulShutdown()
            } else {
                try await maintain()
            }
        } catch is CancellationError {
            // Cancelled (not a graceful shutdown): close below, then report it.
            if closesStore { try? await store.close() }
            throw CancellationError()
        } catch {
            if closesStore { try? await store.close() }
            throw error
        }
        if closesStore { try await store.close() }
    }

    private func maintain() async throws {
        let gcEvery = UInt64(store.options.compaction.gcIntervalSeconds * 1e6)
        var lastGC = StateStore.monotonicMicros(), lastFollow = lastGC
        var backoffMillis = 1
        while !Task.isShuttingDownGracefully {
            try Task.checkCancellation()
            var didWork = false
            do {
                let now = StateStore.monotonicMicros(), last = store.lastCommitMicros.load(ordering: .relaxed)
                let idle = StateStore.commitsPaused(now: now, lastCommit: last)
                let settled = StateStore.commitsPaused(now: now, lastCommit: max(last, store.openedMicros),
                                                       forMicros: UInt64(store.options.compaction.settleSeconds * 1e6))
                didWork = try await store.compactOnce(idle: idle, settled: settled, intraL0Only: false) != nil
                backoffMillis = 1
                if now - lastFollow >= min(1_000_000, gcEvery) {
                    lastFollow = now
                    try await store.followManifest()
                }
                if now - lastGC >= gcEvery {
                    lastGC = now
                    try await store.collectGarbage()
                }
                store.publishMetrics(force: false)
            } catch FloeError.staleCompaction {
                backoffMillis = 1
            } catch let e as FloeError {
                if case .fenced = e { throw e }
                if case .closed = e { return }
                store.logger.info("maintenance step failed; retrying with backoff", metadata: ["floe.error": .string(e.description)])
                backoffMillis = min(1000, backoffMillis * 2)
            }
            if !didWork || backoffMillis > 1 {
                let paused = StateStore.commitsPaused(now: StateStore.monotonicMicros(), lastCommit: store.lastCommitMicros.load(ordering: .relaxed))
                let millis = backoffMillis > 1 ? backoffMillis : (paused ? 100 : 5)
                // Woken by graceful shutdown: the sleep is cancelled, the loop then ends.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(millis)) }
            }
        }
    }
}
