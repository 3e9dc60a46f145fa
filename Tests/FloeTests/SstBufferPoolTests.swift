import Testing
@testable import Floe

/// The pool of SST output buffers: what it keeps, what it refuses, which buffer
/// a writer gets, and that flushes and compactions of a directory store reuse it.
@Suite struct SstBufferPoolTests {
    static func buffer(_ capacity: Int) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(capacity)
        b.append(contentsOf: repeatElement(7, count: 100))
        return b
    }

    @Test func keepsUnsharedBuffersEmptiedAndHandsOutTheBestFit() {
        let pool = SstBufferPool(maxBuffers: 3, maxBufferBytes: 8 << 20)
        pool.give(Self.buffer(1 << 20))
        pool.give(Self.buffer(4 << 20))
        pool.give(Self.buffer(256 << 10))
        #expect(pool.heldBytes >= (1 << 20) + (4 << 20) + (256 << 10))
        // The smallest that holds the request.
        let a = pool.take(capacity: 900 << 10)
        #expect(a.isEmpty && a.capacity >= 1 << 20 && a.capacity < 4 << 20)
        // Nothing holds 6 MiB: the largest, to grow.
        let b = pool.take(capacity: 6 << 20)
        #expect(b.isEmpty && b.capacity >= 4 << 20)
        let c = pool.take(capacity: 1)
        #expect(c.capacity >= 256 << 10 && c.capacity < 1 << 20)
        #expect(pool.take(capacity: 1).capacity == 0, "empty pool: a new buffer")
        #expect(pool.heldBytes == 0)
    }

    @Test func refusesSharedTinyHugeAndSurplusBuffers() {
        let pool = SstBufferPool(maxBuffers: 2, maxBufferBytes: 8 << 20)
        let shared = Self.buffer(1 << 20)
        pool.give(shared)
        #expect(pool.heldBytes == 0, "a buffer someone else still reads is not emptied for reuse")
        #expect(shared.count == 100 && shared.allSatisfy { $0 == 7 }, "and its bytes are untouched")
        pool.give(Self.buffer(1 << 10))
        #expect(pool.heldBytes == 0, "tiny buffers are not worth keeping")
        pool.give(Self.buffer(16 << 20))
        #expect(pool.heldBytes == 0, "over maxBufferBytes")
        for _ in 0..<3 { pool.give(Self.buffer(1 << 20)) }
        #expect(pool.heldBytes >= 2 << 20 && pool.heldBytes < 3 << 20, "at most maxBuffers")
        pool.trim()
        #expect(pool.heldBytes == 0)
    }

    @Test func flushesAndCompactionsOfADirectoryStoreReuseBuffers() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        var o = StoreOptions()
        o.compaction.background = false
        let store = try await StateStore.open(path: dir.path, options: o)
        let table = TableID(1)
        for e in Epoch(1)...6 {
            for i in 0..<3_000 {
                try store.put(table, key: Array("k\(i * 7 % 3_000)".utf8), value: [UInt8](repeating: UInt8(e), count: 60), epoch: e)
            }
            try await store.checkpoint(epoch: e, metadata: [:])
            #expect(store.sstBuffers.heldBytes > 0, "epoch \(e): the flushed file's buffer is back in the pool")
        }
        let held = store.sstBuffers.heldBytes
        #expect(try await store.compactUntilQuiescent() > 0)
        #expect(store.sstBuffers.heldBytes >= held, "the compaction output's buffer is pooled too")
        // Reused buffers carry no stale bytes into new files.
        for i in stride(from: 0, to: 3_000, by: 97) {
            #expect(try await store.get(table, key: Array("k\(i)".utf8), epoch: 6) == [UInt8](repeating: 6, count: 60))
        }
        try await store.close()
        #expect(store.sstBuffers.heldBytes == 0, "close drops pooled buffers")
        let report = try await StoreVerifier.verify(objectStore: try LocalObjectStore(root: dir.path))
        #expect(report.isClean, "\(report.problems)")
    }
}
