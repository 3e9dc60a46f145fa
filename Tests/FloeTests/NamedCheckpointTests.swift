import Foundation
import Testing
@testable import Floe

/// Named checkpoints (`createCheckpoint`, `openReadOnly(checkpoint:)`,
/// `deleteCheckpoint`, `restoreCheckpoint`) and read-only followers (`refresh`,
/// reader leases): every check compares the store with a model of what was
/// written, after compaction and GC with no grace have run.
@Suite struct NamedCheckpointTests {
    typealias Model = CompactorProcessTests.Model

    static func tempDir(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "floe-ncp-\(tag)-\(UInt64.random(in: 0 ... .max))"
        try? FileManager.default.removeItem(atPath: d)
        return d
    }

    static func scanModel(_ s: StateStore, at e: Epoch) async throws -> Model {
        var m: Model = [:]
        for t in CompactorProcessTests.tables {
            let rows = try await CompactorProcessTests.scanAll(s, t, at: e)
            if !rows.isEmpty { m[t] = rows }
        }
        return m
    }

    static func normalized(_ m: Model) -> Model { m.filter { !$0.value.isEmpty } }

    /// Writes `count` epochs after the committed one through the model.
    static func write(_ s: StateStore, epochs count: Int, _ model: inout Model, _ rng: inout SplitMix64) async throws {
        for _ in 0..<count {
            let e = s.committedEpoch + 1
            try CompactorProcessTests.writeEpoch(s, e, &model, &rng)
            try await s.checkpoint(epoch: e, metadata: ["epoch": Array("\(e)".utf8)])
        }
    }

    static func dataObjects(_ path: String) -> Set<String> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: path + "/data")) ?? []).filter { $0.hasSuffix(".sst") })
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func checkpointOutlivesCompactionAndGC(seed: UInt64) async throws {
        let dir = Self.tempDir("keep")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: seed)
        var model: Model = [:]
        var o = CompactorProcessTests.options(retention: 0)
        o.manifestCheckpointInterval = 3 // the named checkpoint must survive manifest checkpoints and pruning
        let s = try await StateStore.open(path: dir, options: o)
        try await Self.write(s, epochs: 12, &model, &rng)
        let info = try await s.createCheckpoint(name: "before-rewrite")
        let pinnedModel = model, pinnedEpoch = s.committedEpoch
        #expect(info.epoch == pinnedEpoch, "seed \(seed)")
        #expect(s.checkpoints.map(\.name) == ["before-rewrite"], "seed \(seed)")
        let pinnedFiles = Set(s.currentVersion.allSsts.map { String($0.path.dropFirst(5)) })

        // Overwrite and delete much of it, compact everything, collect with no grace.
        try await Self.write(s, epochs: 25, &model, &rng)
        _ = try await s.compactUntilQuiescent()
        _ = try await s.collectGarbage(graceSeconds: 0)
        let live = Set(s.currentVersion.allSsts.map { String($0.path.dropFirst(5)) })
        #expect(!pinnedFiles.isSubset(of: live), "seed \(seed): compaction should have replaced some pinned files")
        #expect(pinnedFiles.isSubset(of: Self.dataObjects(dir)), "seed \(seed): GC deleted files the checkpoint pins")
        #expect(Self.normalized(try await Self.scanModel(s, at: s.committedEpoch)) == Self.normalized(model), "seed \(seed)")

        // Reopened (manifest only): the checkpoint is still there and reads the old state.
        try await s.close()
        let reopened = try await StateStore.open(path: dir, options: o)
        #expect(reopened.checkpoints.map(\.epoch) == [pinnedEpoch], "seed \(seed)")
        let reader = try await StateStore.openReadOnly(path: dir, checkpoint: "before-rewrite")
        #expect(reader.committedEpoch == pinnedEpoch)
        #expect(reader.committedMetadata["epoch"] == Array("\(pinnedEpoch)".utf8))
        #expect(Self.normalized(try await Self.scanModel(reader, at: pinnedEpoch)) == Self.normalized(pinnedModel), "seed \(seed)")
        let someKey = pinnedModel[1]?.keys.first ?? Array("key-1".utf8)
        #expect(try await reader.get(TableID(1), key: someKey, epoch: pinnedEpoch) == pinnedModel[1]?[someKey], "seed \(seed)")
        if case .fenced = await capture({ try reader.put(TableID(1), key: [1], value: [1], epoch: pinnedEpoch + 1) }).failureValue {} else {
            Issue.record("a store opened at a checkpoint took a write")
        }
        #expect(await capture({ try await reader.refresh() }).failureValue.map { if case .invalidArgument = $0 { true } else { false } } == true)
        try await reader.close()

        // Deleted: GC frees the files only the checkpoint held; the live data is intact.
        try await reopened.deleteCheckpoint(name: "before-rewrite")
        #expect(reopened.checkpoints.isEmpty)
        _ = try await reopened.collectGarbage(graceSeconds: 0)
        let liveAfter = Set(reopened.currentVersion.allSsts.map { String($0.path.dropFirst(5)) })
        #expect(Self.dataObjects(dir) == liveAfter, "seed \(seed): unreferenced files left after the checkpoint was deleted")
        #expect(Self.normalized(try await Self.scanModel(reopened, at: reopened.committedEpoch)) == Self.normalized(model), "seed \(seed)")
        let gone = await capture { try await StateStore.openReadOnly(path: dir, checkpoint: "before-rewrite") }
        #expect(gone.failureValue == .checkpointNotFound("before-rewrite"))
        try await reopened.close()
    }

    @Test func misuseGetsTypedErrors() async throws {
        let dir = Self.tempDir("misuse")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 5)
        var model: Model = [:]
        let s = try await StateStore.open(path: dir, options: CompactorProcessTests.options(retention: 0))
        try await Self.write(s, epochs: 3, &model, &rng)
        try await s.createCheckpoint(name: "a")
        #expect(await capture { try await s.createCheckpoint(name: "a") }.failureValue == .checkpointExists("a"))
        #expect(await capture { try await s.deleteCheckpoint(name: "b") }.failureValue == .checkpointNotFound("b"))
        for bad in ["", ".hidden", "a/b", "x y", String(repeating: "n", count: 129), "ü"] {
            guard case .invalidArgument = await capture({ try await s.createCheckpoint(name: bad) }).failureValue else {
                Issue.record("name \(bad.debugDescription) was accepted")
                continue
            }
        }
        // The refused calls changed nothing.
        #expect(s.checkpoints.map(\.name) == ["a"])
        let follower = try await StateStore.openReadOnly(path: dir)
        guard case .fenced = await capture({ try await follower.createCheckpoint(name: "c") }).failureValue else {
            Issue.record("a read-only store created a checkpoint")
            return
        }
        // Restore refuses a destination that holds anything.
        let other = Self.tempDir("nonempty")
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.createDirectory(atPath: other + "/data", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: other + "/data/x", contents: Data([1])))
        guard case .invalidArgument = await capture({ try await StateStore.restoreCheckpoint(name: "a", from: dir, to: other) }).failureValue else {
            Issue.record("restore into a non-empty directory was accepted")
            return
        }
        #expect(await capture { try await StateStore.restoreCheckpoint(name: "zz", from: dir, to: other + "-2") }.failureValue == .checkpointNotFound("zz"))
        try await follower.close()
        try await s.close()
    }

    @Test func restoreClonesAnIndependentStore() async throws {
        let dir = Self.tempDir("src"), dst = Self.tempDir("dst")
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: dst)
        }
        var rng = SplitMix64(seed: 21)
        var model: Model = [:]
        let o = CompactorProcessTests.options(retention: 0)
        let s = try await StateStore.open(path: dir, options: o)
        try await Self.write(s, epochs: 10, &model, &rng)
        // Created beside the live writer, as `floe checkpoint create` does: the writer is not fenced.
        let info = try await StateStore.createCheckpoint(objectStore: LocalObjectStore(root: dir, create: false), name: "fork")
        let forkModel = model, forkEpoch = s.committedEpoch
        #expect(info.epoch == forkEpoch)
        try await Self.write(s, epochs: 6, &model, &rng)
        #expect(!s.isFenced)
        _ = try await s.compactUntilQuiescent()
        _ = try await s.collectGarbage(graceSeconds: 0)

        let r = try await StateStore.restoreCheckpoint(name: "fork", from: dir, to: dst)
        #expect(r.files > 0)
        var forked = forkModel
        let clone = try await StateStore.open(path: dst, options: o)
        #expect(clone.committedEpoch == forkEpoch)
        #expect(clone.checkpoints.isEmpty)
        #expect(Self.normalized(try await Self.scanModel(clone, at: forkEpoch)) == Self.normalized(forkModel))
        // The clone takes writes and compacts on its own; the source does not see them.
        try await Self.write(clone, epochs: 8, &forked, &rng)
        _ = try await clone.compactUntilQuiescent()
        _ = try await clone.collectGarbage(graceSeconds: 0)
        #expect(Self.normalized(try await Self.scanModel(clone, at: clone.committedEpoch)) == Self.normalized(forked))
        #expect(Self.normalized(try await Self.scanModel(s, at: s.committedEpoch)) == Self.normalized(model))
        // The source's pinned files survived the clone's GC (hard links, not shared names).
        let src = try await StateStore.openReadOnly(path: dir, checkpoint: "fork")
        #expect(Self.normalized(try await Self.scanModel(src, at: forkEpoch)) == Self.normalized(forkModel))
        try await src.close()
        try await clone.close()
        try await s.close()
    }

    /// A follower (another handle on the directory, as another process would be)
    /// beside the writer and a standalone compactor: its lease keeps the files of the
    /// version it reads through compaction and GC with no grace; `refresh` moves it on.
    @Test(arguments: [UInt64(31), 32])
    func followerLeaseProtectsItsVersion(seed: UInt64) async throws {
        let dir = Self.tempDir("follow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: seed)
        var model: Model = [:]
        let o = CompactorProcessTests.options(retention: 0)
        let s = try await StateStore.open(path: dir, options: o)
        try await Self.write(s, epochs: 10, &model, &rng)
        let follower = try await StateStore.openReadOnly(path: dir, options: o)
        let seenEpoch = follower.committedEpoch, seenModel = model
        #expect(seenEpoch == s.committedEpoch)

        let compactor = try await Compactor.attach(objectStore: LocalObjectStore(root: dir, create: false), options: o)
        try await Self.write(s, epochs: 20, &model, &rng)
        _ = try await s.compactUntilQuiescent()
        while try await CompactorProcessTests.tolerant(compactor) != nil {}
        _ = try await s.collectGarbage(graceSeconds: 0)
        _ = try await compactor.collectGarbage(graceSeconds: 0)
        #expect(s.statistics.gcDeletedObjects > 0, "seed \(seed): nothing was collected, so nothing was tested")
        // Still reads its version whole: nothing it needs was deleted.
        #expect(Self.normalized(try await Self.scanModel(follower, at: seenEpoch)) == Self.normalized(seenModel), "seed \(seed)")

        let now = try await follower.refresh()
        #expect(now == s.committedEpoch, "seed \(seed)")
        #expect(Self.normalized(try await Self.scanModel(follower, at: now)) == Self.normalized(model), "seed \(seed)")
        guard case .fenced = await capture({ try follower.put(TableID(1), key: [1], value: [1], epoch: now + 1) }).failureValue else {
            Issue.record("a follower took a write")
            return
        }
        #expect(!s.isFenced, "a follower fenced the writer")

        // Closed, its lease is gone: GC may now take what only it kept.
        try await follower.close()
        let leases = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/readers")) ?? []
        #expect(leases.isEmpty, "seed \(seed): lease left after close: \(leases)")
        await compactor.detach()
        try await s.close()
    }

    @Test func expiredLeaseNoLongerProtects() async throws {
        let dir = Self.tempDir("expire")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 41)
        var model: Model = [:]
        var o = CompactorProcessTests.options(retention: 0)
        o.compaction.readerLeaseSeconds = 0.3
        let s = try await StateStore.open(path: dir, options: o)
        try await Self.write(s, epochs: 8, &model, &rng)
        // Protected while the lease is young...
        let mem = try LocalObjectStore(root: dir, create: false)
        let v = s.currentVersion
        try await ReaderLease.write(77, version: v, in: mem)
        let young = try await ReaderLease.protectedSsts(in: mem, leaseSeconds: 0.3, now: PosixFileSystem.wallClockSeconds())
        #expect(young == v.referencedSsts)
        // ...and not once it is older than the lease period (then it is removed too).
        try await Task.sleep(for: .milliseconds(400))
        let old = try await ReaderLease.protectedSsts(in: mem, leaseSeconds: 0.3, now: PosixFileSystem.wallClockSeconds())
        #expect(old.isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir + "/readers")) ?? []).isEmpty)
        try await s.close()
    }
}
