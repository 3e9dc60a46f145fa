import Foundation
import Testing
@testable import Floe

/// Failpoints: the text form, the registry's counting rules, and an injected
/// error at every store-level point leaving the store usable with its committed
/// data intact. (The `crash` action ends the process; `floe crashtest
/// --failpoints` exercises it, see CrashtestProcessTests.)
@Suite struct FailpointTests {
    // MARK: parsing

    @Test func actionsParseAndPrintBack() throws {
        #expect(try FailpointAction.parse("crash") == .crash)
        #expect(try FailpointAction.parse("off") == .off)
        #expect(try FailpointAction.parse("crash@3") == FailpointAction(.crash, skip: 3))
        #expect(try FailpointAction.parse("1*error") == FailpointAction(.error, limit: 1))
        #expect(try FailpointAction.parse("25%2*error@4") == FailpointAction(.error, skip: 4, probability: 0.25, limit: 2))
        for text in ["crash", "crash@3", "1*error", "25.0%2*error@4", "50.0%crash"] {
            #expect(try FailpointAction.parse(text).description == text)
        }
        for bad in ["", "boom", "crash@", "crash@-1", "x*error", "150%error", "-1*crash", "error@2x"] {
            #expect(throws: FloeError.self, "\(bad)") { try FailpointAction.parse(bad) }
        }
    }

    @Test func environmentStringParses() throws {
        let parsed = try Failpoints.parse("sync.after_sst_put=crash@3, commit.before_manifest=error,,")
        #expect(parsed == [.syncAfterSstPut: FailpointAction(.crash, skip: 3), .commitBeforeManifest: .error])
        #expect(try Failpoints.parse(Failpoints.format(parsed)) == parsed)
        #expect(try Failpoints.parse("") == [:])
        // Every point of the list parses by its name.
        let everything = try Failpoints.parse(Failpoints.all.map { "\($0)=error" }.joined(separator: ","))
        #expect(everything.count == Failpoint.allCases.count)
        #expect(Set(Failpoints.all).count == Failpoints.all.count)
    }

    @Test func unknownOrMalformedEntriesAreClearErrors() {
        func message(_ text: String) -> String? {
            do {
                _ = try Failpoints.parse(text)
                return nil
            } catch let FloeError.invalidArgument(why) {
                return why
            } catch {
                return "untyped: \(error)"
            }
        }
        let unknown = message("sync.after_sst_put=crash,sync.afterr_sst_put=crash")
        #expect(unknown?.contains("unknown failpoint \"sync.afterr_sst_put\"") == true)
        #expect(unknown?.contains("sync.after_sst_put") == true, "the message lists the known names")
        #expect(message("commit.before_manifest")?.contains("no '='") == true)
        #expect(message("commit.before_manifest=explode")?.contains("unknown action \"explode\"") == true)
        #expect(message("gc.after_delete=error,gc.after_delete=crash")?.contains("given twice") == true)
    }

    // MARK: registry rules

    @Test func skipLimitOffAndParent() throws {
        let parent = FailpointRegistry([.gcAfterDelete: FailpointAction(.error, skip: 1)], parent: nil)
        let r = FailpointRegistry([.gcBeforeDelete: FailpointAction(.error, skip: 2, limit: 1)], parent: parent)
        let injected = FloeError.io(path: "failpoint:gc.before_delete", reason: "injected")
        try r.hit(.gcBeforeDelete)
        try r.hit(.gcBeforeDelete)
        #expect(throws: injected) { try r.hit(.gcBeforeDelete) }
        try r.hit(.gcBeforeDelete) // the limit is spent
        #expect(r.hits(.gcBeforeDelete) == 4 && r.fired(.gcBeforeDelete) == 1)
        // Points not armed here go to the parent, which counts them.
        try r.hit(.gcAfterDelete)
        #expect(throws: FloeError.io(path: "failpoint:gc.after_delete", reason: "injected")) { try r.hit(.gcAfterDelete) }
        #expect(parent.hits(.gcAfterDelete) == 2 && r.hits(.gcAfterDelete) == 0)
        // Points armed nowhere pass.
        try r.hit(.syncBeforeSstPut)
        parent.set(.gcAfterDelete, .off)
        try r.hit(.gcAfterDelete)
        let enabled = Failpoints.enabled.load(ordering: .relaxed)
        #expect(enabled)
    }

    @Test func probabilityIsSeededAndRoughlyRight() throws {
        func pattern(seed: UInt64) -> [Bool] {
            let r = FailpointRegistry([.syncAfterSstPut: FailpointAction(.error, probability: 0.3)], seed: seed, parent: nil)
            return (0..<2000).map { _ in (try? r.hit(.syncAfterSstPut)) == nil }
        }
        let a = pattern(seed: 9)
        #expect(a == pattern(seed: 9))
        #expect(a != pattern(seed: 10))
        let rate = Double(a.filter { $0 }.count) / Double(a.count)
        #expect(rate > 0.25 && rate < 0.35, "fired \(rate)")
    }

    // MARK: store-level error injection

    static let t1 = TableID(1), t2 = TableID(2)

    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.compaction.l0CompactionTrigger = 2
        o.manifestCheckpointInterval = 2
        o.sst.targetFileSize = 4096
        o.sst.blockSize = 512
        return o
    }

    /// Writes 40 keys over two tables at `epoch` (overwrites and a few deletes).
    static func write(_ s: StateStore, _ model: inout [ModelKey: [UInt8]], epoch: Epoch) throws {
        for i in 0..<40 {
            let k = ModelKey(i % 2 == 0 ? 1 : 2, Array("key-\((i * 7 + Int(epoch)) % 60)".utf8))
            if i % 9 == 4 {
                try s.delete(TableID(k.table), key: k.key, epoch: epoch)
                model[k] = nil
            } else {
                let v = Array(repeating: UInt8(truncatingIfNeeded: epoch), count: 40 + i)
                try s.put(TableID(k.table), key: k.key, value: v, epoch: epoch)
                model[k] = v
            }
        }
    }

    /// Every key ever written and a full scan of both tables at the committed epoch equal `model`.
    static func expectCommitted(_ s: StateStore, _ model: [ModelKey: [UInt8]], _ context: String,
                                sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let e = s.committedEpoch
        for t: UInt32 in 1...2 {
            for i in 0..<60 {
                let key = Array("key-\(i)".utf8)
                #expect(try await s.get(TableID(t), key: key, epoch: e) == model[ModelKey(t, key)],
                        "\(context): get t\(t) key-\(i) @\(e)", sourceLocation: sourceLocation)
            }
            #expect(try await collectRows(s.scan(TableID(t), from: nil, to: nil, epoch: e))
                        == expectedRows(model, table: t, from: nil, to: nil), "\(context): scan t\(t)", sourceLocation: sourceLocation)
        }
    }

    static let storePoints: [Failpoint] = [
        .syncBeforeSstPut, .syncAfterSstPut, .commitBeforeManifest, .commitAfterManifest, .checkpointAfterWrite,
        .compactionBeforeUpload, .compactionBeforeCommit, .compactionAfterCommit, .gcBeforeDelete, .gcAfterDelete,
    ]

    @Test func storePointListCoversEveryPointButTheObjectStoreOnes() {
        #expect(Set(Self.storePoints).union([.objectStoreBeforeRename, .objectStoreBeforeDirFsync]) == Set(Failpoint.allCases))
    }

    @Test(arguments: storePoints)
    func injectedErrorLeavesTheStoreUsable(point: Failpoint) async throws {
        let (mem, s, start) = try await Self.storeWithThreeEpochs()
        var model = start
        let injected = FloeError.io(path: "failpoint:\(point.rawValue)", reason: "injected")
        let committedModel = model
        var next: Epoch = 4
        s.failpoints.set(point, FailpointAction(.error, limit: 1))

        switch point {
        case .syncBeforeSstPut, .syncAfterSstPut, .commitBeforeManifest, .commitAfterManifest:
            try Self.write(s, &model, epoch: next)
            let failed = await capture { try await s.checkpoint(epoch: next, metadata: ["e": next.leBytes]) }
            #expect(failed.failureValue == injected)
            #expect(s.committedEpoch == 3)
            try await Self.expectCommitted(s, committedModel, "after the injected error")
            // The writer still reads its own epoch, and the retry commits it exactly once.
            #expect(try await s.get(Self.t1, key: Array("key-4".utf8), epoch: next) == model[ModelKey(1, Array("key-4".utf8))])
            try await s.checkpoint(epoch: next, metadata: ["e": next.leBytes])
            #expect(s.committedEpoch == next)
            next += 1
        case .checkpointAfterWrite:
            // Manifest checkpoints are best effort: the commit that wrote one succeeds.
            while s.failpoints.fired(point) == 0 && next < 12 {
                try Self.write(s, &model, epoch: next)
                try await s.checkpoint(epoch: next, metadata: ["e": next.leBytes])
                next += 1
            }
            #expect(s.failpoints.fired(point) == 1)
            let before = try await ManifestStore(store: mem).listing().checkpoints.max() ?? 0
            for _ in 0..<3 {
                try Self.write(s, &model, epoch: next)
                try await s.checkpoint(epoch: next, metadata: ["e": next.leBytes])
                next += 1
            }
            #expect(try await ManifestStore(store: mem).listing().checkpoints.max() ?? 0 > before, "later checkpoints are written")
        case .compactionBeforeUpload, .compactionBeforeCommit, .compactionAfterCommit:
            let failed = await capture { try await s.compactOnce() }
            #expect(failed.failureValue == injected)
            try await Self.expectCommitted(s, model, "after the failed compaction")
            if point == .compactionAfterCommit {
                // The delta landed: the next commit rebases over it and installs it.
                try Self.write(s, &model, epoch: next)
                try await s.checkpoint(epoch: next, metadata: ["e": next.leBytes])
                next += 1
                #expect(s.currentVersion.stats.compactions == 1)
            } else {
                #expect(try await s.compactOnce() != nil)
            }
            try await s.compactUntilQuiescent()
            #expect(s.currentVersion.levels.contains { !$0.isEmpty })
        case .gcBeforeDelete, .gcAfterDelete:
            s.failpoints.set(point, .off)
            try await s.compactUntilQuiescent()
            let garbage = try await mem.list(prefix: "data/").count - s.currentVersion.allSsts.count
            #expect(garbage >= 2 && garbage <= ObjectGC.deleteBatchSize)
            s.failpoints.set(point, FailpointAction(.error, limit: 1))
            let failed = await capture { try await s.collectGarbage(graceSeconds: 0) }
            #expect(failed.failureValue == injected)
            #expect(s.failpoints.hits(point) == 1, "one batch, one hit")
            // All the garbage fits one batch: before it nothing is deleted, after it everything is.
            let left = try await mem.list(prefix: "data/").count - s.currentVersion.allSsts.count
            #expect(left == (point == .gcBeforeDelete ? garbage : 0))
            let r = try await s.collectGarbage(graceSeconds: 0)
            #expect(r.deletedObjects == left)
        default:
            Issue.record("\(point) is not a store-level point")
        }

        // Usable: another epoch commits; everything committed reads back, here and after a reopen.
        try Self.write(s, &model, epoch: next)
        try await s.checkpoint(epoch: next, metadata: ["e": next.leBytes])
        #expect(s.committedEpoch == next)
        try await Self.expectCommitted(s, model, "after recovery from the injected error")
        // Every upload is committed now: none is left protected from GC as "synced, not committed".
        #expect(s.state.withLock { $0.uncommittedSynced.isEmpty })
        try await s.close()
        let reopened = try await StateStore.open(objectStore: mem, options: Self.options())
        #expect(reopened.committedEpoch == next)
        #expect(reopened.committedMetadata == ["e": next.leBytes])
        try await Self.expectCommitted(reopened, model, "reopened")
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.isClean, "\(report.problems)")
    }

    /// A store on a fresh memory object store with epochs 1...3 checkpointed
    /// (metadata `e` = the epoch), and the model of what it holds.
    static func storeWithThreeEpochs() async throws -> (MemoryObjectStore, StateStore, [ModelKey: [UInt8]]) {
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: options())
        var model: [ModelKey: [UInt8]] = [:]
        for e in Epoch(1)...3 {
            try write(s, &model, epoch: e)
            try await s.checkpoint(epoch: e, metadata: ["e": e.leBytes])
        }
        return (mem, s, model)
    }

    /// Found by `floe crashtest --failpoints`: the commit delta of a checkpoint landed but the
    /// call failed (`commit.after_manifest`); before the application's retry, a compaction
    /// committed on top of that delta and installed it. The retry must succeed (the epoch is
    /// committed, exactly once), not refuse the epoch as already committed.
    @Test func checkpointRetryAfterACompactionAdoptedItsLandedCommit() async throws {
        let (mem, s, start) = try await Self.storeWithThreeEpochs()
        var model = start
        s.failpoints.set(.commitAfterManifest, FailpointAction(.error, limit: 1))
        try Self.write(s, &model, epoch: 4)
        let failed = await capture { try await s.checkpoint(epoch: 4, metadata: ["e": Epoch(4).leBytes]) }
        #expect(failed.failureValue == FloeError.io(path: "failpoint:commit.after_manifest", reason: "injected"))
        #expect(s.committedEpoch == 3, "the landed delta is not installed yet")
        let deltasBefore = try await ManifestStore(store: mem).listing().deltas.count
        // The compaction's commit rebases over the landed delta and installs both.
        #expect(try await s.compactOnce() != nil)
        #expect(s.committedEpoch == 4)
        try await s.checkpoint(epoch: 4, metadata: ["e": Epoch(4).leBytes])
        #expect(s.committedEpoch == 4)
        #expect(try await ManifestStore(store: mem).listing().deltas.count == deltasBefore + 1, "only the compaction's delta was added")
        #expect(s.state.withLock { $0.uncommittedSynced.isEmpty })
        try await Self.expectCommitted(s, model, "after the retry")
        try Self.write(s, &model, epoch: 5)
        try await s.checkpoint(epoch: 5, metadata: ["e": Epoch(5).leBytes])
        try await s.close()
        let reopened = try await StateStore.open(objectStore: mem, options: Self.options())
        #expect(reopened.committedEpoch == 5 && reopened.committedMetadata == ["e": Epoch(5).leBytes])
        try await Self.expectCommitted(reopened, model, "reopened")
    }

    /// The same race through `sync` and `commit`: the retried commit finds its own landed
    /// delta already installed by a compaction and succeeds; a different sync result for
    /// that epoch, or the same one once it succeeded, is still refused.
    @Test func commitRetryAfterACompactionAdoptedItsLandedDelta() async throws {
        let (mem, s, start) = try await Self.storeWithThreeEpochs()
        var model = start
        try Self.write(s, &model, epoch: 4)
        try s.seal(epoch: 4)
        let r = try await s.sync(epoch: 4)
        s.failpoints.set(.commitAfterManifest, FailpointAction(.error, limit: 1))
        let failed = await capture { try await s.commit(epoch: 4, r, metadata: ["e": Epoch(4).leBytes]) }
        #expect(failed.failureValue == FloeError.io(path: "failpoint:commit.after_manifest", reason: "injected"))
        #expect(try await s.compactOnce() != nil)
        #expect(s.committedEpoch == 4)
        let other = SyncResult(epoch: 4, epochs: [4], ssts: [])
        let refused = await capture { try await s.commit(epoch: 4, other, metadata: [:]) }
        #expect(refused.failureValue.map { sameError($0, .commitOutOfOrder("")) } == true, "\(refused)")
        try await s.commit(epoch: 4, r, metadata: ["e": Epoch(4).leBytes])
        #expect(s.committedEpoch == 4 && s.committedMetadata == ["e": Epoch(4).leBytes])
        #expect(s.state.withLock { $0.uncommittedSynced.isEmpty })
        // Done now: committing it once more is refused, as for any committed epoch.
        let repeated = await capture { try await s.commit(epoch: 4, r, metadata: ["e": Epoch(4).leBytes]) }
        #expect(repeated.failureValue.map { sameError($0, .commitOutOfOrder("")) } == true, "\(repeated)")
        try await Self.expectCommitted(s, model, "after the retried commit")
        try Self.write(s, &model, epoch: 5)
        try await s.checkpoint(epoch: 5, metadata: ["e": Epoch(5).leBytes])
        try await Self.expectCommitted(s, model, "after the next epoch")
        #expect(try await StoreVerifier.verify(objectStore: mem).isClean)
    }

    // MARK: local object store points

    @Test func objectStorePointsInPutAndCreateIfAbsent() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let points = FailpointRegistry([:], parent: nil)
        let store = try LocalObjectStore(root: dir.path, failpoints: points)
        let bytes = objectTestBytes(1000, seed: 3)
        func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path + "/data").sorted() }
        let beforeRename = FloeError.io(path: "failpoint:objectstore.before_rename", reason: "injected")
        let beforeDirFsync = FloeError.io(path: "failpoint:objectstore.before_dir_fsync", reason: "injected")

        // Before the rename: nothing visible, no temp file left.
        try await store.put("data/keep.sst", [1])
        points.set(.objectStoreBeforeRename, FailpointAction(.error, limit: 2))
        await #expect(throws: beforeRename) { try await store.put("data/a.sst", bytes) }
        await #expect(throws: beforeRename) { _ = try await store.createIfAbsent("data/b.sst", bytes) }
        #expect(try names() == ["keep.sst"])
        try await store.put("data/a.sst", bytes)
        #expect(try await store.createIfAbsent("data/b.sst", bytes))

        // After the rename, before the directory fsync: the object is in place, whole.
        points.set(.objectStoreBeforeDirFsync, FailpointAction(.error, limit: 2))
        await #expect(throws: beforeDirFsync) { try await store.put("data/c.sst", bytes) }
        await #expect(throws: beforeDirFsync) { _ = try await store.createIfAbsent("data/d.sst", bytes) }
        #expect(try await store.get("data/c.sst") == bytes)
        #expect(try await store.get("data/d.sst") == bytes)
        #expect(try await store.createIfAbsent("data/d.sst", [9]) == false)
        #expect(try names() == ["a.sst", "b.sst", "c.sst", "d.sst", "keep.sst"])
        #expect(points.fired(.objectStoreBeforeRename) == 2 && points.fired(.objectStoreBeforeDirFsync) == 2)
    }
}
