import Testing
@testable import Floe

/// A long scan reads ahead in growing windows up to `StoreOptions.scanReadAheadBytes`
/// and fetches the next window while it consumes the current one: it returns the
/// same rows whatever the bound, issues fewer requests with a larger bound, uses
/// every window it fetched (no block is read twice), and a scan abandoned midway
/// or seeking elsewhere stays correct.
@Suite struct ScanReadAheadTests {
    static let rows = 20_000

    static func key(_ i: Int) -> [UInt8] { Array("row-\(String(100_000 + i))".utf8) }

    /// One committed SST of about 2.2 MB (incompressible 100-byte values), in 4 KiB blocks.
    static func makeStore(seed: UInt64) async throws -> (RemoteReadCounter, [[UInt8]: [UInt8]]) {
        let remote = RemoteReadCounter()
        var rng = SplitMix64(seed: seed)
        var model: [[UInt8]: [UInt8]] = [:]
        let store = try await StateStore.open(objectStore: remote)
        for i in 0..<rows {
            let v = (0..<100).map { _ in UInt8.random(in: 0...255, using: &rng) }
            model[key(i)] = v
            try store.put(TableID(1), key: key(i), value: v, epoch: 1)
        }
        try await store.checkpoint(epoch: 1, metadata: [:])
        try await store.close()
        return (remote, model)
    }

    static func options(readAhead: Int) -> StoreOptions {
        var o = StoreOptions()
        o.scanReadAheadBytes = readAhead
        o.blockCacheBytes = 0 // every block comes from the store
        return o
    }

    @Test func largerWindowsReadTheSameRowsInFewerRequests() async throws {
        let (remote, model) = try await Self.makeStore(seed: 1)
        let dataBytes = try await remote.list(prefix: "data/").reduce(0) { $0 + $1.size }
        #expect(dataBytes > 2_000_000)
        var requests: [Int: Int] = [:]
        for readAhead in [256 << 10, 4 << 20] {
            let store = try await StateStore.open(objectStore: remote, options: Self.options(readAhead: readAhead))
            let before = remote.ranged(prefix: "data/")
            var seen = 0
            try await store.scan(TableID(1), from: nil, to: nil, epoch: 1).forEachRow { k, v in
                #expect(model[Array(k)] == Array(v), "read-ahead \(readAhead): wrong row at \(seen)")
                seen += 1
                return true
            }
            #expect(seen == Self.rows)
            requests[readAhead] = remote.ranged(prefix: "data/") - before
            try await store.close()
        }
        // Windows double from 16 KiB: reaching the bound takes a handful of reads,
        // then one per bound's worth of data. A window fetched and not used would be
        // read again and about double these.
        let small = try #require(requests[256 << 10]), large = try #require(requests[4 << 20])
        #expect(small <= dataBytes / (256 << 10) + 12, "\(small) requests with 256 KiB windows for \(dataBytes) bytes")
        #expect(large <= 14, "\(large) requests with 4 MiB windows for \(dataBytes) bytes")
        #expect(large < small)
    }

    @Test func abandonedAndSeekingScansStayCorrect() async throws {
        let (remote, model) = try await Self.makeStore(seed: 2)
        let sortedKeys = model.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let store = try await StateStore.open(objectStore: remote, options: Self.options(readAhead: 1 << 20))
        var rng = SplitMix64(seed: 2)
        for round in 0..<20 {
            // Read far enough for windows to be prefetched, then stop or jump.
            let start = Int(rng.next() % UInt64(Self.rows))
            let take = Int(rng.next() % 3_000)
            var got: [[UInt8]] = []
            try await store.scan(TableID(1), from: sortedKeys[start], to: nil, epoch: 1).forEachRow { k, v in
                #expect(model[Array(k)] == Array(v))
                got.append(Array(k))
                return got.count < take
            }
            let expected = Array(sortedKeys[start..<min(Self.rows, start + max(1, take))])
            #expect(got == expected, "round \(round): scan from \(start) taking \(take)")
            let rows = try await store.scan(TableID(1), from: sortedKeys[start], to: nil, epoch: 1)
            var it = rows.makeAsyncIterator()
            for _ in 0..<min(take, 500) { _ = try await it.next() }
            let target = Int(rng.next() % UInt64(Self.rows))
            it.seek(to: sortedKeys[target])
            let row = try await it.next()
            // A seek below the scan's lower bound lands on the bound.
            #expect(row.map { Array($0.0) } == sortedKeys[max(target, start)], "round \(round): seek to \(target) after \(take) rows")
        }
        try await store.close()
    }

    @Test func tooSmallABoundIsRefused() async throws {
        var o = StoreOptions()
        o.scanReadAheadBytes = 4096
        await #expect(throws: FloeError.invalidArgument("scan read-ahead must be at least 16 KiB, not 4096 bytes")) {
            _ = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        }
    }
}
