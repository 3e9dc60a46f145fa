import Testing
@testable import Floe
import FloeTesting

/// Pipelined checkpoints: epochs commit in order, each exactly once with its own
/// metadata, whatever order the background syncs and uploads finish in; a
/// failure commits nothing after it.
@Suite(.timeLimit(.minutes(2))) struct CheckpointPipelineTests {
    static let table = TableID(3)

    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.retentionEpochs = 10_000
        o.sst.blockSize = 512
        return o
    }

    static func key(_ k: Int) -> [UInt8] { [UInt8(k >> 8), UInt8(k & 0xFF)] }
    static func md(_ e: Epoch) -> [String: [UInt8]] { ["offset": Array(String(e).utf8)] }

    /// Writes one epoch of random puts and deletes, mirrored into `model`.
    static func writeEpoch(_ store: StateStore, _ epoch: Epoch, _ rng: inout SplitMix64, _ model: inout [Int: [UInt8]]) throws {
        for _ in 0..<Int(rng.next() % 40) {
            let k = Int(rng.next() % 300)
            if rng.next() % 5 == 0 {
                try store.delete(table, key: key(k), epoch: epoch)
                model[k] = nil
            } else {
                let v = Array("v\(k)@\(epoch)".utf8)
                try store.put(table, key: key(k), value: v, epoch: epoch)
                model[k] = v
            }
        }
    }

    static func expectState(_ store: StateStore, _ model: [Int: [UInt8]], epoch: Epoch, _ context: String) async throws {
        for k in 0..<300 {
            let got = try await store.get(table, key: key(k), epoch: epoch)
            #expect(got == model[k], "\(context): get \(k) @\(epoch)")
        }
        let rows = try await collectRows(store.scan(table, from: nil, to: nil, epoch: epoch))
        let want = model.sorted { $0.key < $1.key }.map { Row(key: key($0.key), value: $0.value) }
        #expect(rows == want, "\(context): scan @\(epoch)")
    }

    /// Uploads are delayed at random and some epochs' tasks start late, so syncs of
    /// neighbouring epochs would start and finish in any order; every epoch still
    /// commits in order. (Without the sync chaining a late task's epoch is taken by
    /// the next epoch's sync and its commit fails with `commitOutOfOrder`.)
    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func epochsCommitInOrderWithTheirOwnMetadata(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let depth = 1 + Int(rng.next() % 6)
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: seed, rules: [
            FaultRule(.delay(milliseconds: 3), operations: [.put], pathContains: "data/", probability: 0.4),
        ])
        let store = try await StateStore.open(objectStore: faults, options: Self.options())
        var pipe = try CheckpointPipeline(store: store, depth: depth)
        // Some epochs' tasks start late, so a later epoch's task is ready first.
        pipe.taskStartHook = { e in
            if e % 3 == seed % 3 { try? await Task.sleep(for: .milliseconds(2 + Int(e % 4))) }
        }
        var model: [Int: [UInt8]] = [:]
        var history: [Epoch: [Int: [UInt8]]] = [:]
        var completed: [Epoch] = []
        let first = pipe.epoch
        for _ in 0..<60 {
            let e = pipe.epoch
            try Self.writeEpoch(store, e, &rng, &model)
            history[e] = model
            if let done = try await pipe.endEpoch(metadata: Self.md(e)) {
                completed.append(done.epoch)
                #expect(store.committedEpoch >= done.epoch, "seed \(seed)")
                #expect(done.latencyNanos > 0, "seed \(seed)")
            }
            #expect(pipe.epoch == e + 1)
        }
        completed += try await pipe.drain().map(\.epoch)
        let last = first + 59
        #expect(completed == Array(first...last), "seed \(seed) depth \(depth): epochs completed out of order or twice")
        #expect(store.committedEpoch == last, "seed \(seed)")
        #expect(store.committedMetadata["offset"] == Self.md(last)["offset"], "seed \(seed)")
        // One commit delta per epoch, in epoch order, each with its own metadata.
        let deltas = try await FaultInjectionTests.commitDeltas(inner).sorted { $0.sequence < $1.sequence }
        #expect(deltas.map(\.committedEpoch) == Array(first...last), "seed \(seed) depth \(depth)")
        #expect(deltas.allSatisfy { $0.metadata["offset"] == Self.md($0.committedEpoch)["offset"] }, "seed \(seed)")
        for e in [first, first + 17, first + 41, last] {
            try await Self.expectState(store, history[e]!, epoch: e, "seed \(seed) depth \(depth)")
        }
        try await store.close()
    }

    @Test func depthBelowOneIsRefused() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: Self.options())
        #expect(throws: FloeError.invalidArgument("checkpoint pipeline depth must be at least 1, not 0")) {
            _ = try CheckpointPipeline(store: store, depth: 0)
        }
        try await store.close()
    }

    /// An upload fails in the middle of a run: the error reaches the writer, the
    /// epochs before it are committed, none after it is, later calls rethrow, and a
    /// reopened store holds exactly the committed state.
    @Test func aFailedUploadCommitsNothingAfterIt() async throws {
        var rng = SplitMix64(seed: 99)
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: 9, rules: [
            FaultRule(.fail, operations: [.put], pathContains: "data/", skip: 12, limit: 1),
        ])
        // Only syncs upload to data/: a background compaction's output must not take the fault.
        var o = Self.options()
        o.compaction.background = false
        let store = try await StateStore.open(objectStore: faults, options: o)
        var pipe = try CheckpointPipeline(store: store, depth: 3)
        var model: [Int: [UInt8]] = [:]
        var history: [Epoch: [Int: [UInt8]]] = [0: [:]]
        var failure: FloeError?
        do {
            for _ in 0..<40 {
                let e = pipe.epoch
                try Self.writeEpoch(store, e, &rng, &model)
                history[e] = model
                try await pipe.endEpoch(metadata: Self.md(e))
            }
            _ = try await pipe.drain()
        } catch let e as FloeError {
            failure = e
        }
        guard case .io(_, let reason)? = failure else {
            Issue.record("expected the injected upload failure, got \(String(describing: failure))")
            return
        }
        #expect(reason.contains("injected"))
        #expect(faults.injectedFailures == 1)
        let committed = store.committedEpoch
        #expect(committed < pipe.epoch - 1, "an epoch after the failure committed")
        await #expect(throws: FloeError.self) { _ = try await pipe.drain() }
        await #expect(throws: FloeError.self) { try await pipe.endEpoch() }
        // Nothing after the failure is in the manifest.
        let deltas = try await FaultInjectionTests.commitDeltas(inner)
        #expect(deltas.map(\.committedEpoch).max() == committed)
        try await store.close()

        let reopened = try await StateStore.open(objectStore: inner, options: Self.options())
        #expect(reopened.committedEpoch == committed)
        if committed > 0 { #expect(reopened.committedMetadata["offset"] == Self.md(committed)["offset"]) }
        try await Self.expectState(reopened, history[committed]!, epoch: committed, "after reopen")
        try await reopened.close()
    }
}
