import Testing
@testable import Floe

/// The first gets after a restart rule cold L0 files out by their filter alone
/// and load the index of only the file that may hold the key, so their cost does
/// not grow with the number of sub-levels; a damaged filter is still an error.
@Suite struct ColdReadTests {
    let table = TableID(1)
    static let subLevels = 16

    func key(_ i: Int) -> [UInt8] { Array("key\(String(i).leftPad(6))".utf8) }
    func value(_ i: Int) -> [UInt8] { Array("value-\(i)".utf8) }
    /// Never written, and inside every sub-level's key range.
    var missing: [UInt8] { key(7_000) + [0x2E] }

    /// Sixteen L0 sub-levels; key i lives only in sub-level i % 16. Returns the objects.
    func sixteenSubLevels() async throws -> (MemoryObjectStore, StoreOptions) {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        let store = try await StateStore.open(objectStore: objects, options: o)
        for e in 1...Self.subLevels {
            for i in stride(from: e - 1, to: 8_000, by: Self.subLevels) { try store.put(table, key: key(i), value: value(i), epoch: Epoch(e)) }
            try await store.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        #expect(store.currentVersion.l0.count == Self.subLevels)
        try await store.close()
        return (objects, o)
    }

    @Test func firstGetLoadsOneIndexAndFiltersForTheRest() async throws {
        let (objects, o) = try await sixteenSubLevels()
        let store = try await StateStore.open(objectStore: objects, options: o)
        // Key 7680 lives in the oldest sub-level: the 15 newer ones cover its range and are probed first.
        #expect(try await store.get(table, key: key(7_680), epoch: 16) == value(7_680))
        let metas = store.reader.metadata.metas.stats, filters = store.reader.metadata.filters.stats
        // The newer sub-levels are ruled out by their filters; the key's own file loads its
        // index. A false positive may add one.
        #expect(metas.inserts >= 1 && metas.inserts <= 2, "\(metas.inserts) indexes loaded by one get")
        #expect(filters.inserts >= 14, "only \(filters.inserts) filters loaded alone")
        // A file whose meta loaded after its filter keeps that filter in the meta only:
        // its memory is charged once.
        for sst in store.currentVersion.allSsts where store.reader.metadata.metas.get(sst.id) != nil {
            #expect(store.reader.metadata.filters.get(sst.id) == nil, "SST \(sst.id) charged in both caches")
        }
        // A key never written passes every sub-level on filters alone.
        #expect(try await store.get(table, key: missing, epoch: 16) == nil)
        #expect(store.reader.metadata.metas.stats.inserts <= 3)
        #expect(store.reader.metadata.filters.stats.inserts >= 15)
        // Every key still reads back, whichever way its files were loaded.
        for i in 0..<8_000 { #expect(try await store.get(table, key: key(i), epoch: 16) == value(i), "key \(i)") }
        try await store.close()
    }

    /// Level files too: a key found nowhere passes L0 and the base level on filters alone.
    @Test func levelFilesAreRuledOutByFilterAlone() async throws {
        let (objects, o) = try await sixteenSubLevels()
        let writer = try await StateStore.open(objectStore: objects, options: o)
        try await writer.compactUntilQuiescent()
        for e in 17...20 {
            for i in stride(from: e, to: 8_000, by: 97) { try writer.put(table, key: key(i), value: value(i), epoch: Epoch(e)) }
            try await writer.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        let v = writer.currentVersion
        #expect(v.l0.count == 4 && v.levels.contains { !$0.isEmpty })
        try await writer.close()
        let store = try await StateStore.open(objectStore: objects, options: o)
        #expect(try await store.get(table, key: missing, epoch: 20) == nil)
        #expect(store.reader.metadata.metas.stats.inserts <= 1, "\(store.reader.metadata.metas.stats.inserts) indexes loaded for a missing key")
        #expect(store.reader.metadata.filters.stats.inserts >= 5)
        for i in stride(from: 0, to: 8_000, by: 7) { #expect(try await store.get(table, key: key(i), epoch: 20) == value(i), "key \(i)") }
        try await store.close()
    }

    /// A flipped byte inside a cold file's filter block is reported for that file,
    /// never taken as "absent" (which would hide a committed key).
    @Test func damagedFilterIsCorruptionNotAMiss() async throws {
        let (objects, o) = try await sixteenSubLevels()
        let snap = objects.snapshot()
        let paths = snap.keys.filter { $0.hasPrefix("data/") }.sorted()
        #expect(paths.count == Self.subLevels)
        var checked = 0
        for path in paths {
            var bytes = snap[path]!
            let footer = try SstFooter.decode(Array(bytes[(bytes.count - SstFooter.size)...]), object: path, fileSize: bytes.count)
            bytes[Int(footer.filterOffset) + 9] ^= 0x40  // inside the bit array
            let damaged = MemoryObjectStore()
            for (p, b) in snap { try await damaged.put(p, p == path ? bytes : b) }
            let store = try await StateStore.open(objectStore: damaged, options: o)
            // A key missing everywhere has to pass every file's filter, the damaged one included.
            do {
                let v = try await store.get(table, key: missing, epoch: 16)
                Issue.record("get over a damaged filter in \(path) answered \(String(describing: v))")
            } catch let FloeError.corruption(object, _, _) {
                #expect(object == path)
                checked += 1
            }
            try await store.close()
        }
        #expect(checked == Self.subLevels)
    }
}
