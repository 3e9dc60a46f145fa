import Testing
@testable import Floe

@Suite struct StateStoreTests {
    let t1 = TableID(1), t2 = TableID(2)

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func collect(_ r: ScanResult) async throws -> [(String, String)] {
        var out: [(String, String)] = []
        for try await (k, v) in r { out.append((String(decoding: k, as: UTF8.self), String(decoding: v, as: UTF8.self))) }
        return out
    }

    @Test func putCheckpointGetScanReopen() async throws {
        let mem = MemoryObjectStore()
        var opts = StoreOptions()
        opts.retentionEpochs = 100
        let s = try await StateStore.open(objectStore: mem, options: opts)
        try s.put(t1, key: bytes("a"), value: bytes("1"), epoch: 1)
        try s.put(t1, key: bytes("ab"), value: bytes("2"), epoch: 1)
        try s.put(t2, key: bytes("a"), value: bytes("x"), epoch: 1)
        // Own uncommitted reads.
        #expect(try await s.get(t1, key: bytes("a"), epoch: 1) == bytes("1"))
        try await s.checkpoint(epoch: 1, metadata: ["offset": [1]])
        #expect(s.committedEpoch == 1)
        try s.put(t1, key: bytes("a"), value: bytes("3"), epoch: 2)
        try s.delete(t1, key: bytes("ab"), epoch: 2)
        try await s.checkpoint(epoch: 2, metadata: ["offset": [2]])
        #expect(try await s.get(t1, key: bytes("a"), epoch: 2) == bytes("3"))
        #expect(try await s.get(t1, key: bytes("a"), epoch: 1) == bytes("1"))
        #expect(try await s.get(t1, key: bytes("ab"), epoch: 2) == nil)
        #expect(try await s.get(t1, key: bytes("ab"), epoch: 1) == bytes("2"))
        #expect(try await collect(s.scan(t1, from: nil, to: nil, epoch: 1)).map(\.0) == ["a", "ab"])
        #expect(try await collect(s.scan(t1, from: nil, to: nil, epoch: 2)).map { $0.0 + "=" + $0.1 } == ["a=3"])
        #expect(try await collect(s.scan(t2, from: nil, to: nil, epoch: 2)).map(\.1) == ["x"])
        try await s.close()

        let r = try await StateStore.open(objectStore: mem, options: opts)
        #expect(r.committedEpoch == 2)
        #expect(r.committedMetadata["offset"] == [2])
        #expect(try await r.get(t1, key: bytes("a"), epoch: 2) == bytes("3"))
        #expect(try await r.get(t2, key: bytes("a"), epoch: 2) == bytes("x"))
    }

    @Test func writesToSealedOrCommittedEpochsAreRejected() async throws {
        let s = try await StateStore.open(objectStore: MemoryObjectStore())
        try s.put(t1, key: bytes("k"), value: bytes("v"), epoch: 5)
        try s.seal(epoch: 5)
        #expect(throws: FloeError.epochSealed(epoch: 5, sealed: 5)) { try s.put(t1, key: bytes("k"), value: bytes("v"), epoch: 5) }
        try s.put(t1, key: bytes("k"), value: bytes("w"), epoch: 7)
        // An unsealed epoch below the newest written one still takes writes; reads at
        // 7 see 7's value over it, reads at 6 see it.
        try s.put(t1, key: bytes("k"), value: bytes("six"), epoch: 6)
        #expect(try await s.get(t1, key: bytes("k"), epoch: 6) == bytes("six"))
        #expect(try await s.get(t1, key: bytes("k"), epoch: 7) == bytes("w"))
        let r = try await s.sync(epoch: 5)
        try await s.commit(epoch: 5, r, metadata: [:])
        #expect(throws: FloeError.epochCommitted(epoch: 5, committed: 5)) { try s.put(t1, key: bytes("k"), value: bytes("v"), epoch: 5) }
        await #expect(throws: FloeError.epochNotSealed(7)) { _ = try await s.sync(epoch: 7) }
        #expect(try await s.get(t1, key: bytes("k"), epoch: 7) == bytes("w"))
        #expect(try await s.get(t1, key: bytes("k"), epoch: 5) == bytes("v"))
    }

    @Test func secondOpenerFencesFirst() async throws {
        let mem = MemoryObjectStore()
        let a = try await StateStore.open(objectStore: mem)
        try a.put(t1, key: bytes("k"), value: bytes("a1"), epoch: 1)
        try await a.checkpoint(epoch: 1, metadata: [:])
        let b = try await StateStore.open(objectStore: mem)
        try a.put(t1, key: bytes("k"), value: bytes("a2"), epoch: 2)
        await #expect(throws: FloeError.self) { try await a.checkpoint(epoch: 2, metadata: [:]) }
        #expect(a.isFenced)
        let c = try await StateStore.open(objectStore: mem)
        #expect(c.committedEpoch == 1)
        #expect(try await c.get(t1, key: bytes("k"), epoch: 1) == bytes("a1"))
        _ = b
    }

    @Test func forEachRowMatchesTheAsyncSequenceAndStopsEarly() async throws {
        var o = StoreOptions()
        o.sst.blockSize = 256
        o.blockCacheBytes = 0
        o.compaction.background = false
        let s = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        for e in Epoch(1)...3 {
            for i in 0..<500 where (i + Int(e)) % 3 != 0 {
                try s.put(t1, key: bytes("k\(String(i).leftPad(4))"), value: bytes("v\(i)@\(e)"), epoch: e)
            }
            for i in stride(from: 0, to: 500, by: 7) { try s.delete(t1, key: bytes("k\(String(i).leftPad(4))"), epoch: e) }
            try await s.checkpoint(epoch: e, metadata: [:])
        }
        var viaSequence: [([UInt8], [UInt8])] = []
        for try await r in try await s.scan(t1, from: bytes("k0100"), to: bytes("k0400"), epoch: 3) { viaSequence.append(r) }
        var viaRows: [([UInt8], [UInt8])] = []
        try await s.scan(t1, from: bytes("k0100"), to: bytes("k0400"), epoch: 3).forEachRow { k, v in
            viaRows.append((Array(k), Array(v)))
            return true
        }
        #expect(viaRows.count == viaSequence.count && viaRows.count > 150)
        #expect(zip(viaRows, viaSequence).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        var seen = 0
        try await s.scan(t1, from: nil, to: nil, epoch: 3).forEachRow { _, _ in
            seen += 1
            return seen < 10
        }
        #expect(seen == 10)
    }

    /// The iterator writes each row into the arrays of the row before when the
    /// caller has dropped them; rows the caller keeps (every third, and every odd
    /// one until the next row) must keep their bytes however many rows follow, and every row
    /// must be the one written, with keys of growing and shrinking lengths.
    @Test func rowsKeptByTheCallerNeverChangeWhileLaterRowsReuseStorage() async throws {
        var o = StoreOptions()
        o.sst.blockSize = 512
        o.compaction.background = false
        let s = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        var expected: [([UInt8], [UInt8])] = []
        for i in 0..<900 {
            // Lengths vary row to row, so a reused buffer both grows and shrinks.
            let key = bytes("k\(String(i).leftPad(4))") + [UInt8](repeating: UInt8(i % 251), count: (i * 7) % 40)
            let value = [UInt8](repeating: UInt8(i % 256), count: (i * 13) % 300)
            try s.put(t1, key: key, value: value, epoch: i < 450 ? 1 : 2)
            expected.append((key, value))
        }
        try await s.checkpoint(epoch: 1, metadata: [:])
        try await s.checkpoint(epoch: 2, metadata: [:])
        expected.sort { $0.0.lexicographicallyPrecedes($1.0) }
        var kept: [(Int, [UInt8], [UInt8])] = []
        var previous: ([UInt8], [UInt8])?
        var n = 0
        for try await (k, v) in try await s.scan(t1, from: nil, to: nil, epoch: 2) {
            #expect(k == expected[n].0 && v == expected[n].1, "row \(n)")
            if let p = previous { #expect(p.0 == expected[n - 1].0 && p.1 == expected[n - 1].1, "row \(n - 1) changed") }
            if n % 3 == 0 { kept.append((n, k, v)) }
            // Odd rows are held over the next step, even ones dropped (their storage reused).
            previous = n % 2 == 1 ? (k, v) : nil
            n += 1
        }
        #expect(n == expected.count)
        for (i, k, v) in kept { #expect(k == expected[i].0 && v == expected[i].1, "kept row \(i) changed") }
    }
}
