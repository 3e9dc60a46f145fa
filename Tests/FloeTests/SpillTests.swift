import Foundation
import Testing
@testable import Floe
import FloeTesting

/// Epochs larger than the memtable budget: `waitForWriteBudget` spills the unsealed
/// epochs to SSTs that only this writer reads until the epoch commits. Every check
/// compares with a model of what was written.
@Suite(.timeLimit(.minutes(2))) struct SpillTests {
    static let budget = 96 << 10

    static func options(spill: Bool = true) -> StoreOptions {
        var o = StoreOptions()
        o.memtableBudgetBytes = budget
        o.retentionEpochs = 1_000
        o.compaction.background = false
        o.sst.targetFileSize = 16 << 10
        o.spillOpenEpochs = spill
        return o
    }

    typealias Model = [ModelKey: [UInt8]]
    /// What an epoch wrote: a value, or nil for a delete (kept, unlike in `Model`).
    typealias Writes = [ModelKey: [UInt8]?]

    /// Writes the way a pipeline's state table does: a refused write waits for budget
    /// (which may spill) and is retried.
    static func write(_ s: StateStore, _ k: ModelKey, _ v: [UInt8]?, epoch: Epoch) async throws {
        while true {
            do {
                if let v { try s.put(TableID(k.table), key: k.key, value: v, epoch: epoch) } else { try s.delete(TableID(k.table), key: k.key, epoch: epoch) }
                return
            } catch FloeError.memoryBudgetExceeded {
                try await s.waitForWriteBudget()
            }
        }
    }

    static func spilledRuns(_ s: StateStore) -> Int { s.state.withLock { $0.spilled.count } }

    static func check(_ s: StateStore, _ model: Model, epoch: Epoch, _ rng: inout SplitMix64, _ what: String) async throws {
        for t: UInt32 in 1...2 {
            let rows = try await collectRows(s.scan(TableID(t), from: nil, to: nil, epoch: epoch))
            let want = expectedRows(model, table: t, from: nil, to: nil)
            if rows != want {
                let i = (0..<min(rows.count, want.count)).first { rows[$0] != want[$0] } ?? min(rows.count, want.count)
                let got = i < rows.count ? rows[i].description : "end", expected = i < want.count ? want[i].description : "end"
                Issue.record("\(what): scan of table \(t) at \(epoch): \(rows.count) rows, expected \(want.count); first difference at \(i): \(got), expected \(expected)")
            }
        }
        for _ in 0..<200 {
            let k = ModelKey(UInt32(1 + rng.next() % 2), Array("k\(rng.next() % 3000)".utf8))
            let got = try await s.get(TableID(k.table), key: k.key, epoch: epoch)
            #expect(got == model[k], "\(what): get \(k) at \(epoch)")
        }
    }

    /// One epoch of about 20 budgets, with overwrites and deletes that cross spills, and
    /// a lower epoch written after the higher one spilled (its memtable must not hide
    /// the higher epoch's spilled versions); read at every stage, committed, reopened,
    /// compacted.
    @Test(arguments: [UInt64(1), 2, 3])
    func anEpochOfManyBudgetsCommitsWhole(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: Self.options())
        var low: Model = [:], high: Writes = [:]
        // Epoch 2 first (huge), then epoch 1 (small, same keys), both unsealed.
        for i in 0..<24_000 {
            let k = ModelKey(UInt32(1 + rng.next() % 2), Array("k\(rng.next() % 3000)".utf8))
            let v: [UInt8]? = rng.next() % 10 == 0 ? nil : (0..<(40 + Int(rng.next() % 80))).map { UInt8(truncatingIfNeeded: $0 &+ i) }
            try await Self.write(s, k, v, epoch: 2)
            high.updateValue(v, forKey: k) // a delete stays in `high` as nil
            if i % 6000 == 5999 {
                let seen = high.compactMapValues { $0 }
                try await Self.check(s, seen, epoch: 2, &rng, "seed \(seed) during epoch 2, write \(i)")
            }
        }
        #expect(Self.spilledRuns(s) >= 10, "seed \(seed): only \(Self.spilledRuns(s)) spills for ~20 budgets")
        for i in 0..<300 {
            let k = ModelKey(UInt32(1 + rng.next() % 2), Array("k\(rng.next() % 3000)".utf8))
            let v = Array("low-\(i)".utf8)
            try await Self.write(s, k, v, epoch: 1)
            low[k] = v
        }
        // At epoch 2 a key's epoch-2 version wins over epoch 1's wherever epoch 2 wrote it.
        var merged = low
        for (k, v) in high { merged[k] = v } // a delete of epoch 2 removes epoch 1's value
        let at2 = merged
        try await Self.check(s, at2, epoch: 2, &rng, "seed \(seed) both epochs open")
        try await Self.check(s, low, epoch: 1, &rng, "seed \(seed) epoch 1 open")

        try await s.checkpoint(epoch: 2, metadata: ["e": [2]])
        #expect(Self.spilledRuns(s) == 0)
        #expect(s.statistics.memtableBytes == 0, "seed \(seed): memory not released after the commit")
        try await Self.check(s, at2, epoch: 2, &rng, "seed \(seed) committed")
        try await s.close()

        let reopened = try await StateStore.open(objectStore: mem, options: Self.options())
        #expect(reopened.committedEpoch == 2)
        try await Self.check(reopened, at2, epoch: 2, &rng, "seed \(seed) reopened")
        _ = try await reopened.compactUntilQuiescent()
        try await Self.check(reopened, at2, epoch: 2, &rng, "seed \(seed) compacted")
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.problems.isEmpty, "seed \(seed): \(report.problems)")
        try await reopened.close()
    }

    /// A crash (here: close without commit) after spills leaves nothing visible; the
    /// spilled files are orphans the next writer's GC deletes.
    @Test func spillsOfAnUncommittedEpochAreNeverVisible() async throws {
        let mem = MemoryObjectStore()
        var o = Self.options()
        o.compaction.gcGraceSeconds = 0
        let s = try await StateStore.open(objectStore: mem, options: o)
        try s.put(TableID(1), key: Array("kept".utf8), value: [1], epoch: 1)
        try await s.checkpoint(epoch: 1, metadata: [:])
        for i in 0..<8_000 { try await Self.write(s, ModelKey(1, Array("big\(i)".utf8)), [UInt8](repeating: 7, count: 64), epoch: 2) }
        #expect(Self.spilledRuns(s) > 0)
        let committedFiles = Set(s.currentVersion.allSsts.map(\.path))
        #expect(try await mem.list(prefix: "data/").count > committedFiles.count)
        try await s.close()

        let reopened = try await StateStore.open(objectStore: mem, options: o)
        #expect(reopened.committedEpoch == 1)
        let rows = try await collectRows(reopened.scan(TableID(1), from: nil, to: nil, epoch: 1))
        #expect(rows.map(\.key) == [Array("kept".utf8)])
        _ = try await reopened.collectGarbage(graceSeconds: 0)
        #expect(Set(try await mem.list(prefix: "data/").map(\.path)) == committedFiles)
        try await reopened.close()
    }

    /// A spill whose upload fails loses nothing: the data stays readable in memory,
    /// and the next spill (or the epoch's sync) uploads it.
    @Test func aFailedSpillUploadIsRetried() async throws {
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: 3, rules: [
            FaultRule(.fail, operations: [.put], pathContains: "data/", skip: 1, limit: 2),
        ])
        let s = try await StateStore.open(objectStore: faults, options: Self.options())
        var model: Model = [:]
        var failures = 0
        var rng = SplitMix64(seed: 4)
        for i in 0..<10_000 {
            let k = ModelKey(1, Array("k\(i % 2500)".utf8))
            let v = Array("v\(i)".utf8)
            while true {
                do {
                    try await Self.write(s, k, v, epoch: 1)
                    break
                } catch FloeError.io {
                    failures += 1
                    // Readable whole in the meantime.
                    try await Self.check(s, model, epoch: 1, &rng, "after failed spill \(failures)")
                }
            }
            model[k] = v
        }
        #expect(failures >= 1, "the fault never fired")
        try await s.checkpoint(epoch: 1, metadata: [:])
        try await Self.check(s, model, epoch: 1, &rng, "committed")
        try await s.close()
    }

    /// Writers waiting for budget at once (a pipeline's operator instances): one
    /// spills, the others find room when it is done and go on; none is refused.
    @Test func concurrentWaitersAllGoOn() async throws {
        let s = try await StateStore.open(objectStore: MemoryObjectStore(), options: Self.options())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    for i in 0..<3_000 {
                        try await Self.write(s, ModelKey(1, Array("w\(w)-\(i)".utf8)), [UInt8](repeating: UInt8(w), count: 48), epoch: 1)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(Self.spilledRuns(s) > 0)
        try await s.checkpoint(epoch: 1, metadata: [:])
        let rows = try await collectRows(s.scan(TableID(1), from: nil, to: nil, epoch: 1))
        #expect(rows.count == 12_000)
        #expect(rows.allSatisfy { r in r.value.count == 48 && r.key.starts(with: Array("w\(r.value[0])-".utf8)) })
        try await s.close()
    }

    @Test func spillingOffKeepsTheBudgetError() async throws {
        let s = try await StateStore.open(objectStore: MemoryObjectStore(), options: Self.options(spill: false))
        var refused = false
        for i in 0..<10_000 {
            do { try s.put(TableID(1), key: Array("k\(i)".utf8), value: [UInt8](repeating: 1, count: 64), epoch: 1) } catch FloeError.memoryBudgetExceeded {
                refused = true
                break
            }
        }
        #expect(refused)
        guard case .memoryBudgetExceeded = await capture({ try await s.waitForWriteBudget() }).failureValue else {
            Issue.record("waitForWriteBudget did not refuse with spilling off")
            return
        }
        #expect(Self.spilledRuns(s) == 0)
        try await s.close()
    }
}
