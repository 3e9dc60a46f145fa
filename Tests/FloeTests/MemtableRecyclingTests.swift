import Testing
@testable import Floe

/// Sealed epochs hand their memtable storage back once committed, and later
/// epochs write into it; a frozen copy of an open epoch (a scan's) never does.
@Suite struct MemtableRecyclingTests {
    static func fill(_ store: StateStore, epoch: Epoch, keys: Int, salt: UInt8) throws {
        for i in 0..<keys {
            var k: [UInt8] = [salt]
            withUnsafeBytes(of: UInt32(i).bigEndian) { k.append(contentsOf: $0) }
            try store.put(TableID(1), key: k, value: [UInt8](repeating: salt, count: 100), epoch: epoch)
        }
    }

    @Test func committedEpochsLendTheirStorageToLaterOnesAndDataStaysIntact() async throws {
        var options = StoreOptions()
        options.compaction.background = false
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: options)
        let keys = 5_000
        try Self.fill(store, epoch: 1, keys: keys, salt: 1)
        try await store.checkpoint(epoch: 1, metadata: [:])
        // Epoch 1's arena (about 525 KB) and entry list came back.
        #expect(store.memtableRecycling.arenas.heldBytes >= keys * 105)
        #expect(store.memtableRecycling.entries.heldBytes >= keys * MemoryLayout<MemtableEntry>.stride)
        // Epoch 2 takes them: nothing is left in the pools while it is open.
        try Self.fill(store, epoch: 2, keys: keys, salt: 2)
        #expect(store.memtableRecycling.heldBytes == 0)
        // Reading epoch 2 (a frozen copy sharing the open arena) and writing on must not
        // hand the open epoch's arena to the pool, nor corrupt it.
        var rows = 0
        try await store.scan(TableID(1), from: nil, to: nil, epoch: 2).forEachRow { _, _ in rows += 1; return true }
        #expect(rows == 2 * keys)
        try Self.fill(store, epoch: 2, keys: keys, salt: 3)
        #expect(store.memtableRecycling.heldBytes == 0)
        try await store.checkpoint(epoch: 2, metadata: [:])
        #expect(store.memtableRecycling.arenas.heldBytes > 0)
        for i in stride(from: 0, to: keys, by: 97) {
            var k1: [UInt8] = [1], k3: [UInt8] = [3]
            withUnsafeBytes(of: UInt32(i).bigEndian) { k1.append(contentsOf: $0); k3.append(contentsOf: $0) }
            #expect(try await store.get(TableID(1), key: k1, epoch: 2) == [UInt8](repeating: 1, count: 100))
            #expect(try await store.get(TableID(1), key: k3, epoch: 2) == [UInt8](repeating: 3, count: 100))
        }
        try await store.close()
        #expect(store.memtableRecycling.heldBytes == 0, "close drops the pools")
    }

    @Test func aReaderHoldingASealedEpochKeepsItsStorageFromThePool() async throws {
        var options = StoreOptions()
        options.compaction.background = false
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: options)
        try Self.fill(store, epoch: 1, keys: 2_000, salt: 1)
        try store.seal(epoch: 1)
        // A scan of the sealed epoch, started before its commit and kept open over it.
        var rows = try await store.scan(TableID(1), from: nil, to: nil, epoch: 1).makeAsyncIterator()
        let first = try await rows.next()
        try await store.checkpoint(epoch: 1, metadata: [:])
        #expect(store.memtableRecycling.arenas.heldBytes == 0, "the scan still reads the arena")
        try Self.fill(store, epoch: 2, keys: 2_000, salt: 9)
        var n = first == nil ? 0 : 1
        while let row = try await rows.next() {
            #expect(row.value == [UInt8](repeating: 1, count: 100))
            n += 1
        }
        #expect(n == 2_000)
        try await store.close()
    }
}
