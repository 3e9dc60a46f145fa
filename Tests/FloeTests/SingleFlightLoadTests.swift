import Synchronization
import Testing
@testable import Floe

/// Concurrent cold reads of the same SST meta or data block load it once: the
/// first reader reads the object, the others wait for its result (LevelDB's table
/// cache and RocksDB's block cache behave the same way). Without it, a burst of
/// scans after a restart multiplies its remote requests by the number of readers.
@Suite struct SingleFlightLoadTests {
    let table = TableID(1)

    func key(_ i: Int) -> [UInt8] { Array("key\(String(i).leftPad(6))".utf8) }

    /// Serves ranged reads slowly (so concurrent readers overlap) and counts them
    /// per path and range.
    final class SlowRangeCounter: ObjectStore {
        let inner: MemoryObjectStore
        private let reads = Lock<[String: Int]>([:])
        init(_ inner: MemoryObjectStore) { self.inner = inner }

        /// The most times any one range of any object was read.
        var mostReadsOfOneRange: Int { reads.withLock { $0.values.max() ?? 0 } }
        var rangedReads: Int { reads.withLock { $0.values.reduce(0, +) } }

        func put(_ path: String, _ b: [UInt8]) async throws { try await inner.put(path, b) }
        func createIfAbsent(_ path: String, _ b: [UInt8]) async throws -> Bool { try await inner.createIfAbsent(path, b) }
        func get(_ path: String) async throws -> [UInt8] { try await inner.get(path) }
        func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
            reads.withLock { $0["\(path) \(range)", default: 0] += 1 }
            try await Task.sleep(for: .milliseconds(20))
            return try await inner.get(path, range: range)
        }
        func size(_ path: String) async throws -> Int { try await inner.size(path) }
        func delete(_ path: String) async throws { try await inner.delete(path) }
        func delete(_ paths: [String]) async throws { try await inner.delete(paths) }
        func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }
    }

    /// A store of one compacted SST, reopened cold behind a `SlowRangeCounter`.
    func coldStore() async throws -> (StateStore, SlowRangeCounter, Epoch) {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        let writer = try await StateStore.open(objectStore: objects, options: o)
        for i in 0..<4_000 { try writer.put(table, key: key(i), value: Array(repeating: UInt8(i & 0xFF), count: 40), epoch: 1) }
        try await writer.checkpoint(epoch: 1, metadata: [:])
        try await writer.compactUntilQuiescent()
        try await writer.close()
        let counter = SlowRangeCounter(objects)
        let store = try await StateStore.open(objectStore: counter, options: o)
        #expect(store.currentVersion.allSsts.count == 1)
        return (store, counter, 1)
    }

    @Test func concurrentColdScansOfOneBlockReadItOnce() async throws {
        let (store, counter, epoch) = try await coldStore()
        let readers = 16
        let firstRows = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            for _ in 0..<readers {
                group.addTask {
                    for try await (k, _) in try await store.scan(table, from: key(1_000), to: nil, epoch: epoch) { return k }
                    return nil
                }
            }
            var rows: [[UInt8]?] = []
            for try await r in group { rows.append(r) }
            return rows
        }
        #expect(firstRows.count == readers && firstRows.allSatisfy { $0 == key(1_000) })
        // One meta load (footer, then the tail) and one block read, whatever the number of readers.
        #expect(counter.mostReadsOfOneRange == 1, "a range was read \(counter.mostReadsOfOneRange) times by \(readers) readers")
        #expect(counter.rangedReads <= 4, "\(counter.rangedReads) ranged reads for \(readers) scans of one block")
        #expect(store.reader.blockCache.stats.inserts == 1)
        try await store.close()
    }

    /// A failed load is not cached: every reader waiting on it gets the error, and
    /// the next read loads afresh and succeeds.
    @Test func aFailedColdLoadIsRetriedByTheNextReader() async throws {
        let (store, counter, epoch) = try await coldStore()
        let sst = store.currentVersion.allSsts[0]
        let bytes = try await counter.inner.get(sst.path)
        // Damage the object: every load of its meta fails as corruption.
        try await counter.inner.delete(sst.path)
        try await counter.inner.put(sst.path, Array(bytes.prefix(bytes.count - 3)) + [0, 0, 0])
        await #expect(throws: FloeError.self) {
            for try await _ in try await store.scan(table, from: nil, to: nil, epoch: epoch) {}
        }
        #expect(store.reader.metadata.metas.get(sst.id) == nil, "a failed load left a cached meta")
        try await counter.inner.delete(sst.path)
        try await counter.inner.put(sst.path, bytes)
        var rows = 0
        for try await _ in try await store.scan(table, from: nil, to: nil, epoch: epoch) { rows += 1 }
        #expect(rows == 4_000)
        try await store.close()
    }
}
