import Dispatch
import Testing
@testable import Floe

/// Reads from an actor run on that actor: a get, a `for try await` scan and
/// `forEachRow` over cached blocks never leave it, so they cost no executor hop per
/// call, per row or per block. Measured by giving the actor an executor that counts
/// the jobs enqueued on it: every return to the actor after a suspension elsewhere
/// is one job, and a read that stays on the actor enqueues none.
@Suite struct ReadIsolationTests {
    /// A serial executor on a dispatch queue that counts its jobs.
    final class CountingExecutor: SerialExecutor, @unchecked Sendable {
        // `@unchecked`: `queue` serialises the jobs, `jobs` is a lock-protected counter.
        let queue = DispatchQueue(label: "floe.test.counting-executor")
        let jobs = Lock<Int>(0)

        func enqueue(_ job: consuming ExecutorJob) {
            jobs.withLock { $0 += 1 }
            let unowned = UnownedJob(job)
            queue.async { unowned.runSynchronously(on: self.asUnownedSerialExecutor()) }
        }

        func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }
        var count: Int { jobs.withLock { $0 } }
    }

    /// An app's actor doing its reads; returns how many jobs its executor ran
    /// during each read (the call into the actor itself is counted before).
    actor Reader {
        let executor = CountingExecutor()
        nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
        let store: StateStore
        init(_ store: StateStore) { self.store = store }

        func scanAll() async throws -> (rows: [Row], jobs: Int) {
            let before = executor.count
            var rows: [Row] = []
            for try await (k, v) in try await store.scan(TableID(1), from: nil, to: nil, epoch: store.committedEpoch) {
                rows.append(Row(key: k, value: v))
            }
            return (rows, executor.count - before)
        }

        /// The iterator driven by hand with `next()`, and through a generic
        /// `AsyncSequence` consumer (the protocol's witness).
        func manualAndGeneric() async throws -> (manual: Int, manualJobs: Int, generic: Int, genericJobs: Int) {
            var before = executor.count
            var it = try await store.scan(TableID(1), from: nil, to: nil, epoch: store.committedEpoch).makeAsyncIterator()
            var manual = 0
            while let (k, _) = try await it.next() { manual += k.isEmpty ? 0 : 1 }
            let manualJobs = executor.count - before
            before = executor.count
            let generic = try await count(try await store.scan(TableID(1), from: nil, to: nil, epoch: store.committedEpoch))
            return (manual, manualJobs, generic, executor.count - before)
        }

        private func count<S: AsyncSequence>(_ rows: S) async throws -> Int {
            var n = 0
            for try await _ in rows { n += 1 }
            return n
        }

        func forEachRowCount() async throws -> (rows: Int, bytes: Int, jobs: Int) {
            let before = executor.count
            var rows = 0, bytes = 0
            try await store.scan(TableID(1), from: nil, to: nil, epoch: store.committedEpoch).forEachRow { k, v in
                rows += 1
                bytes += k.count + v.count
                return true
            }
            return (rows, bytes, executor.count - before)
        }

        func shortScans(_ starts: [[UInt8]], length: Int) async throws -> (rows: [[UInt8]], jobs: Int) {
            let before = executor.count
            var keys: [[UInt8]] = []
            for s in starts {
                var n = 0
                for try await (k, _) in try await store.scan(TableID(1), from: s, to: nil, epoch: store.committedEpoch) {
                    keys.append(k)
                    n += 1
                    if n == length { break }
                }
            }
            return (keys, executor.count - before)
        }

        func reverseAll() async throws -> (rows: [ScanResult.Element], jobs: Int) {
            let before = executor.count
            let rows = try await store.scanReverse(TableID(1), from: nil, to: nil, epoch: store.committedEpoch)
            return (rows, executor.count - before)
        }

        func gets(_ keys: [[UInt8]]) async throws -> (values: [[UInt8]?], jobs: Int) {
            let before = executor.count
            var values: [[UInt8]?] = []
            for k in keys { values.append(try await store.get(TableID(1), key: k, epoch: store.committedEpoch)) }
            return (values, executor.count - before)
        }
    }

    static func value(_ i: Int) -> [UInt8] { [UInt8](repeating: UInt8(i & 0xFF), count: 100) }

    /// `ScanBlockReadTests.table()`: 20,000 rows over hundreds of 4 KiB blocks in
    /// compacted SSTs, read once whole so every block is cached.
    static func warmStore() async throws -> StateStore {
        let store = try await ScanBlockReadTests.table()
        _ = try await collectRows(store.scan(TableID(1), from: nil, to: nil, epoch: store.committedEpoch))
        return store
    }

    @Test func scanOverCachedBlocksNeverLeavesTheActor() async throws {
        let store = try await Self.warmStore()
        let reader = Reader(store)
        let (rows, jobs) = try await reader.scanAll()
        #expect(rows.count == ScanBlockReadTests.rows)
        #expect(rows.enumerated().allSatisfy { i, r in r.key == ScanBlockReadTests.key(i) && r.value == Self.value(i) })
        // One hop per block (hundreds) before scans stepped cached blocks synchronously.
        #expect(jobs == 0, "a warm scan of \(rows.count) rows from an actor enqueued \(jobs) jobs on it")
        try await store.close()
    }

    @Test func manualAndGenericIterationOverCachedBlocksNeverLeaveTheActor() async throws {
        let store = try await Self.warmStore()
        let r = try await Reader(store).manualAndGeneric()
        #expect(r.manual == ScanBlockReadTests.rows && r.generic == ScanBlockReadTests.rows)
        #expect(r.manualJobs == 0, "next() by hand from an actor enqueued \(r.manualJobs) jobs on it")
        #expect(r.genericJobs == 0, "a generic AsyncSequence loop from an actor enqueued \(r.genericJobs) jobs on it")
        try await store.close()
    }

    @Test func forEachRowOverCachedBlocksNeverLeavesTheActor() async throws {
        let store = try await Self.warmStore()
        let reader = Reader(store)
        let (rows, bytes, jobs) = try await reader.forEachRowCount()
        #expect(rows == ScanBlockReadTests.rows)
        #expect(bytes == (0..<rows).reduce(0) { $0 + ScanBlockReadTests.key($1).count + 100 })
        #expect(jobs == 0, "forEachRow over cached blocks from an actor enqueued \(jobs) jobs on it")
        try await store.close()
    }

    /// A reverse scan positions its sources with one load call (one return to the
    /// actor at most) and then steps back through cached blocks on the actor.
    @Test func reverseScanOverCachedBlocksReturnsToTheActorAtMostOnce() async throws {
        let store = try await Self.warmStore()
        let reader = Reader(store)
        let (rows, jobs) = try await reader.reverseAll()
        #expect(rows.map(\.key) == (0..<ScanBlockReadTests.rows).reversed().map(ScanBlockReadTests.key))
        #expect(jobs <= 1, "a warm reverse scan from an actor enqueued \(jobs) jobs on it")
        try await store.close()
    }

    @Test func shortScansAndGetsOfCachedBlocksNeverLeaveTheActor() async throws {
        let store = try await Self.warmStore()
        let reader = Reader(store)
        var rng = SplitMix64(seed: 23)
        let starts = (0..<200).map { _ in Int(rng.next() % UInt64(ScanBlockReadTests.rows)) }
        let (keys, scanJobs) = try await reader.shortScans(starts.map(ScanBlockReadTests.key), length: 10)
        let expected = starts.flatMap { s in (s..<min(s + 10, ScanBlockReadTests.rows)).map(ScanBlockReadTests.key) }
        #expect(keys == expected)
        // Each scan's first row positions every run from cached metas and blocks.
        #expect(scanJobs == 0, "200 short scans from an actor enqueued \(scanJobs) jobs on it")

        let (values, getJobs) = try await reader.gets(starts.map(ScanBlockReadTests.key))
        #expect(values == starts.map { Self.value($0) })
        #expect(getJobs == 0, "200 cached gets from an actor enqueued \(getJobs) jobs on it")
        try await store.close()
    }

    /// The synchronous paths give way to loads: a cold scan from the actor leaves it
    /// to read and comes back (jobs counted), and returns the same rows.
    @Test func coldScanFromAnActorReadsAndReturnsTheSameRows() async throws {
        var o = StoreOptions()
        o.sst.blockSize = 4096
        o.blockCacheBytes = 0
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        for i in 0..<5_000 {
            try store.put(TableID(1), key: ScanBlockReadTests.key(i), value: Self.value(i), epoch: 1)
        }
        try await store.checkpoint(epoch: 1, metadata: [:])
        let reader = Reader(store)
        let (rows, jobs) = try await reader.scanAll()
        #expect(rows.map(\.key) == (0..<5_000).map(ScanBlockReadTests.key))
        #expect(jobs > 0, "a scan with no block cache must read blocks off the actor")
        try await store.close()
    }
}
