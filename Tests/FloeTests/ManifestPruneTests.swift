import Testing
@testable import Floe

/// The writer deletes manifest objects behind its second-newest checkpoint, so
/// the manifest (and the listing every open reads) stays bounded; loads, late
/// readers and the verifier still see the exact current version.
@Suite struct ManifestPruneTests {
    let table = TableID(1)

    func key(_ i: Int) -> [UInt8] { Array("k\(String(i).leftPad(4))".utf8) }

    func options(interval: UInt64) -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.manifestCheckpointInterval = interval
        return o
    }

    @Test func manifestStaysBoundedAndReopensExactly() async throws {
        let mem = MemoryObjectStore()
        let o = options(interval: 4)
        let store = try await StateStore.open(objectStore: mem, options: o)
        var model: [Int: Epoch] = [:]
        var rng = SplitMix64(seed: 11)
        for e in Epoch(1)...60 {
            for _ in 0..<20 {
                let i = Int(rng.next() % 500)
                try store.put(table, key: key(i), value: e.leBytes, epoch: e)
                model[i] = e
            }
            try await store.checkpoint(epoch: e, metadata: ["offset": e.leBytes])
            if e % 7 == 0 { try await store.compactUntilQuiescent() }
            let l = try await ManifestStore(store: mem).listing()
            // At most two checkpoints, and the deltas after the older of them: two intervals plus the open record.
            #expect(l.checkpoints.count <= 2, "epoch \(e): \(l.checkpoints.count) checkpoints")
            #expect(l.deltas.count <= 2 * 4 + 2, "epoch \(e): \(l.deltas.count) deltas")
            if let oldest = l.checkpoints.first, e > 12 { #expect(l.deltas.allSatisfy { $0 > oldest }) }
        }
        let final = store.currentVersion
        try await store.close()
        let loaded = try #require(try await ManifestStore(store: mem).loadVersion())
        #expect(loaded.sequence == final.sequence)
        #expect(loaded.committedEpoch == 60)
        #expect(loaded.metadata["offset"] == Epoch(60).leBytes)
        #expect(loaded.allSsts.map(\.id) == final.allSsts.map(\.id))
        let reopened = try await StateStore.open(objectStore: mem, options: o)
        for (i, e) in model { #expect(try await reopened.get(table, key: key(i), epoch: 60) == e.leBytes) }
        try await reopened.close()
        #expect(try await StoreVerifier.verify(objectStore: mem).isClean)
    }

    /// A reader whose version fell more than two checkpoints behind finds the deltas
    /// after it pruned and continues from the newest checkpoint.
    @Test func readerFarBehindCatchesUpThroughACheckpoint() async throws {
        let mem = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: mem, options: options(interval: 3))
        for e in Epoch(1)...2 {
            try store.put(table, key: key(Int(e)), value: e.leBytes, epoch: e)
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        let manifest = ManifestStore(store: mem)
        let behind = try #require(try await manifest.loadVersion())
        for e in Epoch(3)...30 {
            try store.put(table, key: key(Int(e)), value: e.leBytes, epoch: e)
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        let l = try await manifest.listing()
        #expect(l.deltas.first! > behind.sequence + 1, "the deltas after the old version were not pruned")
        let caught = try await manifest.catchUp(behind)
        #expect(caught.sequence == store.currentVersion.sequence)
        #expect(caught.committedEpoch == 30)
        #expect(caught.l0.map { $0.map(\.id) } == store.currentVersion.l0.map { $0.map(\.id) })
        try await store.close()
    }

    /// A real gap (a delta missing after the newest checkpoint) is still corruption.
    @Test func gapAfterTheNewestCheckpointIsCorruption() async throws {
        let mem = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: mem, options: options(interval: 4))
        for e in Epoch(1)...10 {
            try store.put(table, key: key(Int(e)), value: e.leBytes, epoch: e)
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        try await store.close()
        let manifest = ManifestStore(store: mem)
        let l = try await manifest.listing()
        let newest = try #require(l.checkpoints.last)
        let after = l.deltas.filter { $0 > newest }
        try #require(after.count >= 2)
        try await mem.delete(VersionDelta.objectPath(after[0]))
        await #expect(throws: FloeError.self) { _ = try await manifest.loadVersion() }
        do {
            _ = try await manifest.loadVersion()
        } catch let FloeError.corruption(object, _, reason) {
            #expect(object == VersionDelta.objectPath(after[0]))
            #expect(reason.contains("missing"))
        }
    }
}
