import Testing
@testable import Floe

/// Fencing between processes that each have their own `LocalObjectStore` over one
/// directory, and so their own descriptor caches: what `FencingTests` (every
/// process on one shared `MemoryObjectStore`) cannot show. Found by
/// `floe crashtest --zombie` (docs/crashtest.md, "Found (open)").
@Suite struct LocalStoreFencingTests {
    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.manifestCheckpointInterval = 2
        return o
    }

    /// Writer A commits epoch 1; a compactor process registers (a delta A then reads
    /// when it follows the manifest), and with `headIsForeign` false A commits epoch 2
    /// on top of it, so A's head is its own record. A is then "paused": writer B opens
    /// (fencing A) and commits past two checkpoints, pruning the manifest past A's
    /// head. A's next commit must be fenced, and nothing A wrote may be visible.
    ///
    /// With `headIsForeign`, A's predecessor check reads the register delta that B
    /// pruned: before whole-object gets stopped going through `LocalObjectStore`'s
    /// descriptor cache, it read it through the descriptor A cached when it first
    /// read it, the digest matched, and the commit was acknowledged on a freed name
    /// that no reader applies (found by `floe crashtest --zombie`).
    @Test(arguments: [false, true])
    func aPausedWriterWhoseHeadWasPrunedIsFenced(headIsForeign: Bool) async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let a = try await StateStore.open(objectStore: try LocalObjectStore(root: dir.path), options: Self.options())
        try a.put(TableID(1), key: Array("a1".utf8), value: [1], epoch: 1)
        try await a.checkpoint(epoch: 1, metadata: [:])
        let compactor = try await Compactor.attach(objectStore: try LocalObjectStore(root: dir.path), options: Self.options())
        _ = try await a.followManifest()
        var next: Epoch = 2
        if !headIsForeign {
            try a.put(TableID(1), key: Array("a2".utf8), value: [2], epoch: 2)
            try await a.checkpoint(epoch: 2, metadata: [:])
            next = 3
        }
        let head = a.currentVersion.sequence
        #expect((head == compactor.sessionID) == headIsForeign, "A's head \(head), the compactor's register record \(compactor.sessionID)")

        let bObjects = try LocalObjectStore(root: dir.path)
        let b = try await StateStore.open(objectStore: bObjects, options: Self.options())
        for e in Epoch(next)...(next + 10) {
            try b.put(TableID(1), key: Array("b".utf8), value: [UInt8(e)], epoch: e)
            try await b.checkpoint(epoch: e, metadata: [:])
        }
        let names = try await bObjects.list(prefix: "manifest/").map(\.path)
        #expect(!names.contains(VersionDelta.objectPath(head)) && !names.contains(VersionDelta.objectPath(head + 1)),
                "B pruned past A's head and A's next name: \(names)")

        try a.put(TableID(1), key: Array("zombie".utf8), value: [9], epoch: next)
        let check = {
            await #expect(throws: FloeError.self, "the paused writer's commit after the takeover") {
                try await a.checkpoint(epoch: next, metadata: [:])
            }
            #expect(a.isFenced)
        }
        await check()
        // Whatever A was told, a fresh process sees B's history only.
        let fresh = try await StateStore.open(objectStore: try LocalObjectStore(root: dir.path), options: Self.options())
        #expect(fresh.committedEpoch == next + 10)
        #expect(try await fresh.get(TableID(1), key: Array("zombie".utf8), epoch: next + 10) == nil)
        await compactor.detach()
    }
}
