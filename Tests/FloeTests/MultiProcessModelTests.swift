import Testing
@testable import Floe
import FloeTesting

/// Seeded, randomized runs of several "processes" on one object store: writers
/// that take over from each other (the old ones keep running as zombies, some
/// paused right before a manifest append and resumed after the new owner made
/// several checkpoint intervals of commits), a standalone compactor (paused the
/// same way, its lease renewed or not), and GC passes with a small grace, all over
/// a `FaultInjectingObjectStore` that delays operations at random.
///
/// Checked against a model of the owner's acknowledged commits:
/// - every checkpoint the owner was acknowledged is readable exactly, with its metadata;
/// - no checkpoint of a writer that another writer had fenced succeeds, and
///   nothing it wrote is ever visible;
/// - a paused compaction either commits without changing any answer or is refused as stale;
/// - at the end a fresh process reads exactly the model, and `StoreVerifier`
///   finds no missing or damaged object.
/// Every failure names its seed; replay one with `replaySeeds`.
@Suite struct MultiProcessModelTests {
    static let replaySeeds: [UInt64]? = nil
    static let seeds: [UInt64] = replaySeeds ?? modelSeeds(100)

    @Test(arguments: seeds)
    func zombiesAndCompactorsNeverLoseOrLeak(seed: UInt64) async throws {
        let run = MultiProcessRun(seed: seed)
        await run.execute()
    }
}

final class MultiProcessRun {
    struct Writer {
        var store: StateStore
        var gate: GatedObjectStore
        var id: Int
    }

    let seed: UInt64
    var rng: SplitMix64
    let mem = MemoryObjectStore()
    let faulty: FaultInjectingObjectStore
    var options = StoreOptions()
    var writers: [Writer] = []
    var owner = 0
    /// The owner's acknowledged state: key -> value, the committed epoch and its metadata.
    var model: [[UInt8]: [UInt8]] = [:]
    var committed: Epoch = 0
    var metadata: [String: [UInt8]] = [:]
    var compactor: (c: Compactor, gate: GatedObjectStore)?
    var op = 0
    var what = ""
    var failed = false

    init(seed: UInt64) {
        self.seed = seed
        rng = SplitMix64(seed: seed &* 0xD1B5_4A32_D192_ED03 &+ 7)
        faulty = FaultInjectingObjectStore(wrapping: mem, seed: seed)
    }

    func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    func chance(_ p: Double) -> Bool { Double(rng.next() % 1_000_000) < p * 1_000_000 }

    func fail(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        failed = true
        Issue.record("seed \(seed) op \(op) [\(what)]: \(message)", sourceLocation: sourceLocation)
    }

    static let keys: [[UInt8]] = (0..<24).map { Array("key-\($0)".utf8) }

    func execute() async {
        options.compaction.background = false
        options.manifestCheckpointInterval = UInt64(1 + int(3))
        options.compaction.l0CompactionTrigger = 2
        options.compaction.gcGraceSeconds = [0, 0.01, 0.05][int(3)]
        options.compaction.compactorLeaseRenewSeconds = 0.01
        options.sst.targetFileSize = 4096
        options.compaction.targetFileSize = 4096
        options.compaction.baseLevelBytes = 8192
        if chance(0.5) {
            faulty.addRule(FaultRule(.delay(milliseconds: 1), probability: 0.05))
        }
        what = "open"
        guard await openWriter() else { return }
        for i in 0..<40 where !failed {
            op = i
            switch int(100) {
            case ..<40: await ownerCommit()
            case ..<52: await takeover(pausedZombieCommit: chance(0.6))
            case ..<62: await zombieCommit()
            case ..<78: await pausedCompaction()
            case ..<86: await compactorStep()
            case ..<94: await writerGC()
            default: await checkOwner()
            }
        }
        guard !failed else { return }
        op = 40
        what = "final"
        await finalCheck()
    }

    // MARK: processes

    func openWriter() async -> Bool {
        let gate = GatedObjectStore(faulty)
        switch await capture({ try await StateStore.open(objectStore: gate, options: self.options) }) {
        case let .success(s):
            writers.append(Writer(store: s, gate: gate, id: writers.count))
            owner = writers.count - 1
            if s.committedEpoch != committed { fail("a new writer opened at epoch \(s.committedEpoch), model \(committed)") }
            return true
        case let .failure(e):
            fail("open failed: \(e)")
            return false
        }
    }

    func value(_ key: Int, _ epoch: Epoch, writer: Int) -> [UInt8] {
        Array("w\(writer)-e\(epoch)-k\(key)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: epoch), count: int(60))
    }

    /// Writes a few keys at `epoch` through writer `w`; returns what it wrote.
    func write(_ w: Writer, _ epoch: Epoch) -> [[UInt8]: [UInt8]]? {
        var wrote: [[UInt8]: [UInt8]] = [:]
        for _ in 0..<(1 + int(6)) {
            let k = int(Self.keys.count)
            let v = value(k, epoch, writer: w.id)
            do { try w.store.put(TableID(1), key: Self.keys[k], value: v, epoch: epoch) } catch { return nil }
            wrote[Self.keys[k]] = v
        }
        return wrote
    }

    func ownerCommit() async {
        let w = writers[owner]
        let e = committed + 1 + UInt64(int(2))
        what = "owner \(w.id) checkpoints epoch \(e)"
        guard let wrote = write(w, e) else { return fail("owner's write refused") }
        let md = ["offset": Array("\(e)".utf8)]
        switch await capture({ try await w.store.checkpoint(epoch: e, metadata: md) }) {
        case .success:
            for (k, v) in wrote { model[k] = v }
            committed = e
            metadata["offset"] = md["offset"]
        case let .failure(err):
            fail("the owner's checkpoint failed: \(err)")
        }
        if chance(0.3) { await checkOwner() }
    }

    /// A new writer opens; the old owner becomes a zombie. With `pausedZombieCommit`
    /// the old owner was paused right before its manifest append and is resumed after
    /// the new owner committed several checkpoint intervals (so pruning freed names).
    func takeover(pausedZombieCommit: Bool) async {
        let old = writers[owner]
        var zombie: Task<Result<Void, FloeError>, Never>?
        let e = committed + 1
        if pausedZombieCommit {
            what = "writer \(old.id) pauses in its checkpoint of epoch \(e)"
            guard write(old, e) != nil else { return fail("the owner's write refused") }
            old.gate.hold()
            let store = old.store
            zombie = Task { await capture { try await store.checkpoint(epoch: e, metadata: ["offset": Array("zombie".utf8)]) } }
            if !(await old.gate.waitUntilHeld()) { return fail("the paused checkpoint never reached its append") }
        }
        what = "a new writer takes over from writer \(old.id)"
        guard await openWriter() else { return }
        if let zombie {
            for _ in 0..<(Int(options.manifestCheckpointInterval) * (1 + int(3))) where !failed { await ownerCommit() }
            if chance(0.5) { await writerGC() }
            what = "writer \(old.id) resumes its checkpoint of epoch \(e)"
            old.gate.release()
            switch await zombie.value {
            case .failure(.fenced): break
            case let other: fail("the paused zombie's checkpoint returned \(other), expected fenced")
            }
            if !old.store.isFenced { fail("the zombie does not know it is fenced") }
            await checkOwner()
        }
    }

    /// Some earlier writer (if any) tries to checkpoint: it must be refused as fenced.
    func zombieCommit() async {
        guard writers.count > 1 else { return await ownerCommit() }
        let z = writers[int(writers.count - 1)]
        guard z.id != owner else { return }
        let e = committed + 1 + UInt64(int(3))
        what = "zombie \(z.id) checkpoints epoch \(e)"
        _ = write(z, e) // may be refused already (fenced or epoch rules): either way nothing may land
        switch await capture({ try await z.store.checkpoint(epoch: e, metadata: ["offset": Array("zombie".utf8)]) }) {
        case .success: fail("a fenced writer's checkpoint succeeded")
        default: break
        }
        if chance(0.3) {
            what = "zombie \(z.id) runs GC"
            if case .success = await capture({ try await z.store.collectGarbage(graceSeconds: 0) }) { fail("a fenced writer's GC ran") }
        }
        await checkOwner()
    }

    func attachCompactor(renewing: Bool) async -> Bool {
        if let c = compactor { await c.c.detach(); compactor = nil }
        var o = options
        o.compaction.compactorLeaseRenewSeconds = renewing ? 0.01 : 3600
        let gate = GatedObjectStore(faulty)
        switch await capture({ try await Compactor.attach(objectStore: gate, options: o) }) {
        case let .success(c):
            compactor = (c, gate)
            return true
        case let .failure(e):
            fail("attach failed: \(e)")
            return false
        }
    }

    /// A standalone compaction paused at its append while the owner commits and GC
    /// runs (past the grace, or not); then it resumes.
    func pausedCompaction() async {
        let renewing = chance(0.5)
        what = "attach a compactor (lease \(renewing ? "renewed" : "not renewed"))"
        guard await attachCompactor(renewing: renewing), let (c, gate) = compactor else { return }
        // Enough L0 for a task.
        while ((try? await ManifestStore(store: mem).loadVersion())?.l0.count ?? 0) < 2 && !failed { await ownerCommit() }
        what = "compaction paused at its append"
        gate.hold()
        let task = Task { await capture { try await c.runOnce() } }
        let reached = await gate.waitUntilHeld(seconds: 2)
        for _ in 0..<int(Int(options.manifestCheckpointInterval) * 3) where !failed { await ownerCommit() }
        if chance(0.7) {
            try? await Task.sleep(for: .milliseconds(Int(options.compaction.gcGraceSeconds * 1000) + 15))
            await writerGC()
        }
        what = "compaction resumes"
        gate.release()
        switch await task.value {
        case .success, .failure(.staleCompaction): break
        case let .failure(e): fail("the paused compaction threw \(e)")
        }
        _ = reached
        await checkOwner()
    }

    func compactorStep() async {
        if compactor == nil { guard await attachCompactor(renewing: true) else { return } }
        guard let (c, _) = compactor else { return }
        what = "compactor step"
        switch await capture({ try await c.runOnce() }) {
        case .success, .failure(.staleCompaction): break
        case let .failure(e): return fail("compaction threw \(e)")
        }
        if chance(0.5) {
            what = "compactor GC"
            switch await capture({ try await c.collectGarbage(graceSeconds: self.options.compaction.gcGraceSeconds) }) {
            case .success: break
            case let .failure(e): return fail("the compactor's GC threw \(e)")
            }
        }
        await checkOwner()
    }

    func writerGC() async {
        what = "owner GC"
        switch await capture({ try await self.writers[self.owner].store.collectGarbage() }) {
        case .success: break
        case let .failure(e): return fail("the owner's GC threw \(e)")
        }
        await checkOwner()
    }

    // MARK: checks

    /// Every key of the model through the owner at the committed epoch.
    func checkOwner() async {
        let s = writers[owner].store
        if s.committedEpoch != committed { return fail("owner at epoch \(s.committedEpoch), model \(committed)") }
        for (i, k) in Self.keys.enumerated() {
            let got = await capture { try await s.get(TableID(1), key: k, epoch: self.committed) }
            if got != .success(model[k]) { return fail("owner get of key \(i): \(got), model \(String(describing: model[k]))") }
        }
    }

    func finalCheck() async {
        if let c = compactor { await c.c.detach() }
        for w in writers { try? await w.store.close() }
        var o = options
        o.compaction.background = false
        switch await capture({ try await StateStore.open(objectStore: self.mem, options: o) }) {
        case let .success(s):
            if s.committedEpoch != committed { fail("fresh open at epoch \(s.committedEpoch), model \(committed)") }
            if s.committedMetadata != metadata { fail("fresh open metadata \(s.committedMetadata), model \(metadata)") }
            var rows: [[UInt8]: [UInt8]] = [:]
            do {
                for try await (k, v) in try await s.scan(TableID(1), from: nil, to: nil, epoch: committed) { rows[k] = v }
            } catch { fail("fresh scan threw \(error)") }
            if rows != model { fail("fresh scan: \(rows.count) rows, model \(model.count); differ: \(Set(rows.keys).symmetricDifference(model.keys).count) keys") }
            try? await s.close()
        case let .failure(e):
            fail("fresh open failed: \(e)")
        }
        do {
            let report = try await StoreVerifier.verify(objectStore: mem)
            if !report.problems.isEmpty { fail("verify: \(report.problems)") }
        } catch { fail("verify threw \(error)") }
    }
}
