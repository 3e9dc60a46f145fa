import Logging
import ServiceLifecycle
import Testing
@testable import Floe

/// The store's maintenance and the standalone compactor as swift-service-lifecycle
/// services in a real `ServiceGroup`: they work while the group runs, and graceful
/// shutdown lets the running compaction finish and commit before they return.
@Suite struct LifecycleTests {
    static let table = TableID(1)
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func options(background: Bool = false) -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = background
        o.compaction.l0CompactionTrigger = 2
        o.compaction.gcGraceSeconds = 0
        o.compaction.gcIntervalSeconds = 0.05
        return o
    }

    /// Overlapping epochs (every epoch rewrites keys 0..<`keys`), so compaction must merge, reading SSTs.
    static func fill(_ store: StateStore, epochs: ClosedRange<UInt64>, keys: Int = 40) async throws {
        for e in epochs {
            for i in 0..<keys { try store.put(table, key: Array("k\(1000 + i)".utf8), value: Array("v\(e)".utf8), epoch: e) }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
    }

    static func group(_ services: [any Service]) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services.map {
            .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup)
        }, logger: quiet))
    }

    static func waitUntil(_ what: String, seconds: Double = 30, _ done: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while try await !done() {
            guard ContinuousClock.now < deadline else { throw FloeError.invalidArgument("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func maintenanceServiceCompactsCollectsAndClosesOnShutdown() async throws {
        let mem = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: mem, options: Self.options())
        try await Self.fill(store, epochs: 1...4)
        #expect(store.statistics.l0SubLevels == 4)
        let group = Self.group([StoreMaintenanceService(store: store)])
        let running = Task { try await group.run() }
        // Compaction (the store's own worker is off: only the service compacts) and GC (zero grace) happen.
        try await Self.waitUntil("compaction and GC") {
            let s = store.statistics
            return s.compactions > 0 && s.l0SubLevels < 2 && s.gcDeletedObjects > 0
        }
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(throws: FloeError.closed) { try store.put(Self.table, key: [1], value: [1], epoch: 5) }
        // Everything committed is there, compacted.
        let again = try await StateStore.open(objectStore: mem, options: Self.options())
        for i in 0..<40 { #expect(try await again.get(Self.table, key: Array("k\(1000 + i)".utf8), epoch: 4) == Array("v4".utf8)) }
        #expect(again.statistics.l0SubLevels < 2)
        try await again.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownLetsTheRunningCompactionFinish() async throws {
        let mem = MemoryObjectStore()
        // Each SST read of a compaction takes 150 ms: the merge is running when shutdown comes.
        let slow = ReadCountingStore(mem, sstReadDelayMillis: 150)
        let store = try await StateStore.open(objectStore: slow, options: Self.options())
        try await Self.fill(store, epochs: 1...4)
        let before = store.statistics
        let group = Self.group([StoreMaintenanceService(store: store)])
        let running = Task { try await group.run() }
        try await Self.waitUntil("a compaction reading its inputs") { slow.inFlight.load(ordering: .relaxed) > 0 }
        await group.triggerGracefulShutdown()
        try await running.value
        let after = try await StateStore.open(objectStore: mem, options: Self.options())
        let s = after.statistics
        #expect(s.compactions == before.compactions + 1, "the task that was running committed, and no other started")
        #expect(s.l0SubLevels < before.l0SubLevels)
        for i in 0..<40 { #expect(try await after.get(Self.table, key: Array("k\(1000 + i)".utf8), epoch: 4) == Array("v4".utf8)) }
        try await after.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func compactorServiceFinishesItsTaskAndEndsItsSession() async throws {
        let mem = MemoryObjectStore()
        let writer = try await StateStore.open(objectStore: mem, options: Self.options())
        try await Self.fill(writer, epochs: 1...4)
        let slow = ReadCountingStore(mem, sstReadDelayMillis: 150)
        let events = EventLog()
        var config = CompactorService.Configuration()
        config.pollIntervalMillis = 5
        let service = CompactorService(objectStore: slow, options: Self.options(), configuration: config, onEvent: { events.append($0) })
        let group = Self.group([service])
        let running = Task { try await group.run() }
        try await Self.waitUntil("a compaction reading its inputs") { slow.inFlight.load(ordering: .relaxed) > 0 }
        await group.triggerGracefulShutdown()
        try await running.value
        let tasks = events.all.filter { if case .task = $0 { return true } else { return false } }
        #expect(tasks.count == 1, "\(events.all)")
        let v = try #require(try await ManifestStore(store: mem).loadVersion())
        #expect(v.compactors.isEmpty, "the session ended itself (expire record)")
        #expect(v.l0.count < 4)
        // The writer rebases over the compaction and goes on.
        try await Self.fill(writer, epochs: 5...5)
        #expect(try await writer.get(Self.table, key: Array("k1000".utf8), epoch: 5) == Array("v5".utf8))
        try await writer.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func compactorServiceOnceRunsOneTask() async throws {
        let mem = MemoryObjectStore()
        let writer = try await StateStore.open(objectStore: mem, options: Self.options())
        try await Self.fill(writer, epochs: 1...4)
        let events = EventLog()
        var config = CompactorService.Configuration()
        config.once = true
        config.collectGarbage = true
        config.gcGraceSeconds = 0
        try await Self.group([CompactorService(objectStore: mem, options: Self.options(), configuration: config, onEvent: { events.append($0) })]).run()
        let kinds = events.all.map { e -> String in
            switch e {
            case .task: "task"
            case .garbageCollected: "gc"
            default: "other"
            }
        }
        #expect(kinds == ["task", "gc"])
        try await writer.close()
    }
}

final class EventLog: Sendable {
    private let events = Lock<[CompactorService.Event]>([])
    func append(_ e: CompactorService.Event) { events.withLock { $0.append(e) } }
    var all: [CompactorService.Event] { events.withLock { $0 } }
}
