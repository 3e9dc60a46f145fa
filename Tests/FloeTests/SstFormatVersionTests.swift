import Testing
@testable import Floe

/// SST format version 3 (partitioned bloom filters) is written; version 2
/// (blocked filters) and 1 (standard filters) files still read; anything else is
/// refused with a typed error.
@Suite struct SstFormatVersionTests {
    let object = "data/0000000000000001.sst"

    func key(_ i: Int) -> [UInt8] { Array("k\(String(i).leftPad(5))".utf8) }

    func build(version: UInt32) -> [UInt8] {
        var o = SstWriterOptions()
        o.blockSize = 256
        var w = SstWriter(id: 1, options: o, formatVersion: version)
        for i in 0..<500 {
            key(i * 2).withUnsafeBytes { k in
                [UInt8](repeating: UInt8(i & 0xFF), count: 20).withUnsafeBytes { v in
                    w.add(table: 1, userKey: k, epoch: 7, kind: ValueKind.put, value: v)
                }
            }
        }
        return w.finish().bytes
    }

    /// Rewrites the footer's version field and its checksum, as a writer of that version would have.
    func withFooterVersion(_ bytes: [UInt8], _ version: UInt32) -> [UInt8] {
        var b = bytes
        let start = b.count - SstFooter.size
        withUnsafeBytes(of: version.littleEndian) { for (i, x) in $0.enumerated() { b[start + 36 + i] = x } }
        let sum = Checksum.xxh3(b, start..<(start + 40))
        withUnsafeBytes(of: sum.littleEndian) { for (i, x) in $0.enumerated() { b[start + 40 + i] = x } }
        return b
    }

    func meta(_ bytes: [UInt8]) async throws -> SstMeta {
        let store = MemoryObjectStore()
        try await store.put(object, bytes)
        return try await SstMetadataCache.loadMeta(store: store, id: 1, object: object, fileSize: bytes.count)
    }

    func reads(_ bytes: [UInt8]) async throws -> (found: Int, filtered: Int) {
        let m = try await meta(bytes)
        let store = MemoryObjectStore()
        try await store.put(object, bytes)
        let reader = SstReader(store: store, blockCache: ShardedLRUCache(capacityBytes: 1 << 20),
                               metaCache: ShardedLRUCache(capacityBytes: 1 << 20))
        var found = 0, filtered = 0
        for i in 0..<1000 {
            let k = key(i)
            let hash = KeyHash.of(table: TableID(1), key: k)
            if case let .value(v) = try await reader.get(m, table: 1, userKey: k, hash: hash, epoch: 7) {
                #expect(i % 2 == 0 && v == [UInt8](repeating: UInt8((i / 2) & 0xFF), count: 20), "key \(i)")
                found += 1
            }
            if i % 2 == 1, let f = m.filter, !f.mayContain(hash) { filtered += 1 }
        }
        return (found, filtered)
    }

    @Test func versionThreeIsWrittenWithAPartitionedFilter() async throws {
        let bytes = build(version: SstFooter.formatVersion)
        #expect(SstFooter.formatVersion == 3)
        let m = try await meta(bytes)
        #expect(m.footer.version == 3)
        #expect(m.filter?.layout == .partitioned(shift: BloomFilter.defaultPartitionShift))
        let r = try await reads(bytes)
        #expect(r.found == 500)
        #expect(r.filtered >= 480, "the filter turned away only \(r.filtered) of 500 absent keys")
    }

    @Test func versionTwoFilesStillRead() async throws {
        let bytes = build(version: 2)
        let m = try await meta(bytes)
        #expect(m.footer.version == 2)
        #expect(m.filter?.layout == .blocked)
        let r = try await reads(bytes)
        #expect(r.found == 500)
        #expect(r.filtered >= 480, "the filter turned away only \(r.filtered) of 500 absent keys")
        #expect(try StoreVerifier.verifySst(bytes: bytes, object: object).properties.entryCount == 500)
    }

    @Test func versionOneFilesStillRead() async throws {
        let bytes = build(version: 1)
        let m = try await meta(bytes)
        #expect(m.footer.version == 1)
        #expect(m.filter?.blocked == false)
        let r = try await reads(bytes)
        #expect(r.found == 500)
        #expect(r.filtered >= 480, "the filter turned away only \(r.filtered) of 500 absent keys")
        #expect(try StoreVerifier.verifySst(bytes: bytes, object: object).properties.entryCount == 500)
    }

    @Test func blockedFilterInAVersionOneFileIsCorruption() async throws {
        let forged = withFooterVersion(build(version: 2), 1)
        await #expect(throws: FloeError.self) { _ = try await meta(forged) }
        do {
            _ = try await meta(forged)
        } catch let FloeError.corruption(o, _, reason) {
            #expect(o == object)
            #expect(reason.contains("blocked bloom filter"))
        }
    }

    @Test func partitionedFilterInAVersionTwoFileIsCorruption() async throws {
        let forged = withFooterVersion(build(version: 3), 2)
        do {
            _ = try await meta(forged)
            Issue.record("a partitioned filter in a version 2 file was read")
        } catch let FloeError.corruption(o, _, reason) {
            #expect(o == object)
            #expect(reason.contains("partitioned bloom filter"))
        }
    }

    /// Version 4 promises a prefix filter after the properties of version 3.
    @Test func versionFourWithoutAPrefixFilterIsCorruption() async throws {
        do {
            _ = try await meta(withFooterVersion(build(version: 3), 4))
            Issue.record("a version 4 file without its prefix filter was read")
        } catch let FloeError.corruption(o, _, reason) {
            #expect(o == object)
            #expect(reason.contains("prefix filter"))
        }
    }

    @Test func unknownVersionsAreRefused() async throws {
        for v: UInt32 in [0, 5, 0xFFFF_FFFF] {
            do {
                _ = try await meta(withFooterVersion(build(version: 3), v))
                Issue.record("version \(v) was read")
            } catch let FloeError.unsupportedFormat(o, version) {
                #expect(o == object && version == v)
            }
        }
    }
}
