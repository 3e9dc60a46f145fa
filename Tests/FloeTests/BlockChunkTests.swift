import Testing
@testable import Floe

/// Compaction reads its inputs in chunks of stored blocks (`BlockChunk`) and
/// decodes each block into one buffer it reuses: the buffer's storage must be
/// reused once the previous block is released, never overwritten while a block
/// still holds it, and a damaged block must be reported, not decoded.
@Suite struct BlockChunkTests {
    var object: String { SstInfo.path(7) }

    func key(_ i: Int) -> [UInt8] { Array("bc\(String(i).leftPad(7))".utf8) }

    /// An lz4 SST of `n` keys (a few dozen data blocks), stored; its bytes and meta.
    func written(_ n: Int, seed: UInt64) async throws -> (MemoryObjectStore, [UInt8], SstMeta, SstInfo) {
        var w = SstWriter(id: 7, options: SstWriterOptions())
        var rng = SplitMix64(seed: seed)
        for i in 0..<n {
            let value = (0..<(20 + Int(rng.next() % 80))).map { _ in UInt8(truncatingIfNeeded: rng.next() % 7) }
            key(i).withUnsafeBytes { k in value.withUnsafeBytes { w.add(table: 1, userKey: k, epoch: 5, kind: ValueKind.put, value: $0) } }
        }
        let (bytes, info) = w.finish()
        let store = MemoryObjectStore()
        try await store.put(info.path, bytes)
        let meta = try await SstMetadataCache.loadMeta(store: store, id: 7, object: info.path, fileSize: bytes.count)
        return (store, bytes, meta, info)
    }

    func chunk(_ bytes: [UInt8], _ meta: SstMeta, first: Int, count: Int) -> BlockChunk {
        let start = meta.blockOffsets[first], end = meta.blockOffsets[first + count - 1] + meta.blockSizes[first + count - 1]
        return BlockChunk(meta: meta, raw: Array(bytes[start..<end]), first: first, count: count)
    }

    func base(_ a: [UInt8]) -> UnsafeRawPointer? { a.withUnsafeBytes { $0.baseAddress } }

    @Test func decodingInTurnReusesOneBufferAndNeverOverwritesAHeldBlock() async throws {
        for seed: UInt64 in [1, 2, 3] {
            let (_, bytes, meta, _) = try await written(3_000, seed: seed)
            #expect(meta.blockCount > 8, "seed \(seed)")
            let c = chunk(bytes, meta, first: 1, count: meta.blockCount - 1)
            var buffer: [UInt8] = []
            var checked = 0
            for i in 1..<meta.blockCount {
                let fresh = try c.block(i)
                let (capacity, storage) = (buffer.capacity, base(buffer))
                do {
                    let b = try c.block(i, into: &buffer)
                    #expect(b.data == fresh.data && b.entryCount == fresh.entryCount, "seed \(seed) block \(i)")
                }
                // The previous block was released: a payload that fits is written into the same storage.
                if capacity >= fresh.data.count {
                    #expect(base(buffer) == storage, "seed \(seed) block \(i): the buffer was reallocated")
                    checked += 1
                }
            }
            #expect(checked > meta.blockCount / 2, "seed \(seed): only \(checked) blocks fit the buffer")

            // A block still held keeps its bytes: decoding the next one copies the buffer first.
            let held = try c.block(2, into: &buffer)
            let heldBytes = held.data
            _ = try c.block(3, into: &buffer)
            let again = try c.block(2)
            #expect(held.data == heldBytes && held.data == again.data, "seed \(seed)")
            #expect(base(buffer) != base(held.data), "seed \(seed): two blocks share one buffer")
        }
    }

    @Test func damagedBlockInAChunkIsCorruptionNamingItsOffset() async throws {
        let (_, bytes, meta, _) = try await written(3_000, seed: 9)
        let c = chunk(bytes, meta, first: 0, count: meta.blockCount)
        var rng = SplitMix64(seed: 9)
        for _ in 0..<20 {
            let victim = Int(rng.next() % UInt64(meta.blockCount))
            var raw = c.raw
            raw[meta.blockOffsets[victim] + Int(rng.next() % UInt64(meta.blockSizes[victim]))] ^= 0x20
            let bad = BlockChunk(meta: meta, raw: raw, first: 0, count: meta.blockCount)
            var buffer: [UInt8] = []
            for i in 0..<meta.blockCount {
                if i == victim {
                    #expect {
                        _ = try bad.block(i, into: &buffer)
                    } throws: { error in
                        guard case let FloeError.corruption(o, offset, _) = error else { return false }
                        return o == object && offset == meta.blockOffsets[victim]
                    }
                } else {
                    let good = try c.block(i)
                    #expect(try bad.block(i, into: &buffer).data == good.data, "block \(i), victim \(victim)")
                }
            }
        }
    }

    /// A run iterated with compaction's read-ahead yields exactly the entries of
    /// one iterated block by block through the cache.
    @Test func readAheadIterationMatchesBlockByBlock() async throws {
        let (store, _, _, info) = try await written(5_000, seed: 4)
        func entries(readAhead: Int) async throws -> [[UInt8]] {
            let reader = SstReader(store: store, blockCache: ShardedLRUCache(capacityBytes: 1 << 24),
                                   metaCache: ShardedLRUCache(capacityBytes: 1 << 24))
            let it = SstRunIterator(reader: reader, run: [info], readAheadBytes: readAhead)
            try await it.seekToFirst()
            var out: [[UInt8]] = []
            while it.valid {
                out.append(it.key + [it.kind] + Array(it.value))
                try await it.next()
            }
            return out
        }
        let plain = try await entries(readAhead: 0)
        #expect(plain.count == 5_000)
        for size in [1, 4_096, 64 << 10, 1 << 20] {
            #expect(try await entries(readAhead: size) == plain, "read-ahead \(size)")
        }
    }
}
