import Logging
import ServiceLifecycle

/// A standalone compactor (`Compactor`: a `register` session beside a live writer,
/// needing nothing but the object store) as a swift-service-lifecycle `Service`:
/// add it to a `ServiceGroup` and it loops, running the most urgent compaction
/// task or sleeping `pollIntervalMillis` when none is due, with an object GC pass
/// when `collectGarbage` is set.
///
/// Graceful shutdown (SIGTERM or SIGINT through the group) lets the running task
/// finish and commit, then ends the session (`expire` record, lease deleted) and
/// returns: nothing is left half-written. Cancellation stops at the next await;
/// uploaded outputs of an interrupted task are never committed and GC collects them.
///
/// A task found stale (another compactor or the writer changed its inputs) is
/// reported and the loop goes on; a session ended by another process's GC (its
/// lease ran out) attaches again. Any other error ends the session and is thrown.
/// `floe compact` runs one of these in a `ServiceGroup`.
public final class CompactorService: Service, Sendable {
    public struct Configuration: Sendable {
        /// Sleep between polls when no task is due, in milliseconds.
        public var pollIntervalMillis = 200
        /// Also delete unreferenced SSTs after each task and, while idle, every quarter
        /// of the grace (at least every second, at most every minute).
        public var collectGarbage = false
        /// Seconds an unreferenced SST is kept; must exceed the writer's longest snapshot or scan.
        public var gcGraceSeconds: Double = 600
        /// Run at most one task (and one GC pass), then return.
        public var once = false

        public init() {}
    }

    /// What the loop did, as it happens (for a caller's output).
    public enum Event: Sendable {
        /// A compaction task ran and committed.
        case task(CompactionResult, seconds: Double)
        /// A task was refused as stale; the loop goes on.
        case stale(reason: String, seconds: Double)
        /// The session had been ended by another process's GC: attached again as `session`.
        case reattached(session: UInt64)
        /// With `once`: no task was due.
        case nothingDue
        /// A GC pass ran.
        case garbageCollected(GarbageReport)
    }

    private let objectStore: any ObjectStore
    private let options: StoreOptions
    private let configuration: Configuration
    private let shouldStop: @Sendable () -> Bool
    private let onEvent: @Sendable (Event) -> Void
    private let onAttach: (@Sendable (Compactor) async throws -> Void)?

    /// - Parameters:
    ///   - objectStore: the store's object store (`LocalObjectStore` of its directory).
    ///   - configuration: poll interval, GC and its grace, `once`.
    ///   - options: the shape options must match the writer's (`compaction`); they are
    ///     not stored in the manifest. `logger` and `metricsFactory` are used as by a store.
    ///   - shouldStop: polled between tasks and while sleeping: true ends the loop as
    ///     graceful shutdown does.
    ///   - onEvent: called for every task, stale task, re-attach and GC pass.
    public convenience init(objectStore: any ObjectStore, options: StoreOptions = .init(), configuration: Configuration = .init(),
                            shouldStop: @escaping @Sendable () -> Bool = { false },
                            onEvent: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.init(objectStore: objectStore, options: options, configuration: configuration, shouldStop: shouldStop,
                  onEvent: onEvent, onAttach: nil)
    }

    /// As above; `onAttach` runs after the first attach (the CLI prints the session and the store's shape).
    package init(objectStore: any ObjectStore, options: StoreOptions, configuration: Configuration,
                 shouldStop: @escaping @Sendable () -> Bool, onEvent: @escaping @Sendable (Event) -> Void,
                 onAttach: (@Sendable (Compactor) async throws -> Void)?) {
        self.objectStore = objectStore
        self.options = options
        self.configuration = configuration
        self.shouldStop = shouldStop
        self.onEvent = onEvent
        self.onAttach = onAttach
    }

    private var stopRequested: Bool {
        Task.isShuttingDownGracefully || Task.isCancelled || shouldStop()
    }

    public func run() async throws {
        var compactor = try await Compactor.attach(objectStore: objectStore, options: options)
        do {
            try await onAttach?(compactor)
            // While idle, GC still runs often enough that retired SSTs go soon after their grace.
            let idleGCSeconds = min(60, max(1, configuration.gcGraceSeconds / 4))
            var lastGC = ContinuousClock.now
            while !stopRequested {
                let ran = try await step(compactor)
                if ran, try await compactor.isEnded() {
                    await compactor.detach()
                    compactor = try await Compactor.attach(objectStore: objectStore, options: options)
                    onEvent(.reattached(session: compactor.sessionID))
                }
                if configuration.once && !ran { onEvent(.nothingDue) }
                if configuration.collectGarbage
                    && (ran || configuration.once || ContinuousClock.now - lastGC >= .seconds(idleGCSeconds)) {
                    onEvent(.garbageCollected(try await compactor.collectGarbage(graceSeconds: configuration.gcGraceSeconds)))
                    lastGC = ContinuousClock.now
                }
                if configuration.once { break }
                if !ran { await sleep(milliseconds: configuration.pollIntervalMillis) }
            }
        } catch {
            await compactor.detach()
            throw error
        }
        await compactor.detach()
    }

    /// Runs one task if one is due. Returns true if a task ran or went stale.
    private func step(_ compactor: Compactor) async throws -> Bool {
        let t0 = ContinuousClock.now
        func seconds() -> Double {
            let d = ContinuousClock.now - t0
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        do {
            guard let r = try await compactor.runOnce() else { return false }
            onEvent(.task(r, seconds: seconds()))
        } catch FloeError.staleCompaction(let why) {
            onEvent(.stale(reason: why, seconds: seconds()))
        }
        return true
    }

    /// Sleeps, waking early (within 50 ms) when a stop is requested.
    private func sleep(milliseconds: Int) async {
        var left = milliseconds
        while left > 0 && !stopRequested {
            let step = min(left, 50)
            try? await Task.sleep(for: .milliseconds(step))
            left -= step
        }
    }
}
