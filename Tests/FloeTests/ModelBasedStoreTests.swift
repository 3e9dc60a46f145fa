import Testing
@testable import Floe

/// Randomised runs of the whole public API checked against a plain in-memory model.
///
/// Each seed drives one short run (`ModelRun.opsPerSeed` operations) from
/// `SplitMix64(seed)`: puts, deletes and write batches over three tables and a
/// tiny key space full of prefixes; seal / sync / commit as separate steps and
/// `checkpoint`; close + reopen; snapshots; gets and scans at random epochs; and
/// invalid calls that must fail with the documented typed error and change nothing.
/// A second test runs the same seeds with table watermarks mixed in
/// (`ModelRun.opsPerWatermarkSeed` operations each).
///
/// Replaying a failure: every message starts with `seed S op N [operation]`
/// (`seed S (watermarks) ...` for the watermark runs). Set `replaySeeds` below to
/// `[S]` and run
///
///     swift test --filter "ModelBasedStoreTests"
///
/// A run stops at its first mismatch, so the first message is the one to read.
@Suite struct ModelBasedStoreTests {
    /// Narrow to e.g. `[17]` to replay one seed; `nil` runs `0..<200`.
    static let replaySeeds: [UInt64]? = nil
    static let seeds: [UInt64] = replaySeeds ?? modelSeeds(200)

    @Test(arguments: seeds)
    func randomRunMatchesModel(seed: UInt64) async throws {
        let run = ModelRun(seed: seed)
        await run.execute()
    }

    /// The same runs with table watermarks (`setTableWatermark`) mixed in: rising,
    /// sometimes equal, sometimes invalid (falling, another prefix length, negative),
    /// over three tables with prefix lengths 0 and 2; every read must hide exactly
    /// what the newest watermark at or below its epoch hides. Shorter runs: the
    /// watermarks hide a growing part of the key space.
    @Test(arguments: seeds)
    func randomRunWithTableWatermarksMatchesModel(seed: UInt64) async throws {
        let run = ModelRun(seed: seed, watermarks: true)
        await run.execute()
    }

    /// The small SST options the model runs use really produce multi-block,
    /// multi-file sub-levels, and reads across them are exact.
    @Test(arguments: [Compression.none, .lz4, .zstd])
    func smallSstOptionsSplitBlocksAndFiles(compression: Compression) async throws {
        var o = StoreOptions()
        o.sst.blockSize = 256
        o.sst.targetFileSize = 4096
        o.sst.restartInterval = 3
        o.sst.compression = compression
        o.sst.bloomBitsPerKey = 10
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        var rng = SplitMix64(seed: 99)
        var model: [ModelKey: [UInt8]] = [:]
        for i in 0..<600 {
            let k = ModelKey(UInt32(1 + i % 2), [UInt8(i % 7), UInt8(truncatingIfNeeded: i / 7), UInt8(truncatingIfNeeded: i * 31)])
            let v = (0..<(Int(rng.next() % 30))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            try store.put(TableID(k.table), key: k.key, value: v, epoch: 1)
            model[k] = v
        }
        try store.seal(epoch: 1)
        let r = try await store.sync(epoch: 1)
        #expect(r.ssts.count >= 3, "600 entries of ~30 B must exceed several 4 KiB files, got \(r.ssts.count)")
        // Files are cut at ~4 KiB, so every file but the last holds many 256 B blocks.
        for s in r.ssts.dropLast() { #expect(s.fileSize > 8 * 256, "\(s.path) holds several 256 B blocks") }
        for (a, b) in zip(r.ssts, r.ssts.dropFirst()) {
            #expect(a.largestKey.withUnsafeBytes { x in b.smallestKey.withUnsafeBytes { y in
                FullKey.compareBytes(FullKey.prefix(x), FullKey.prefix(y)) < 0 } }, "files of a sub-level must not share a user key")
        }
        try await store.commit(epoch: 1, r, metadata: [:])
        for (k, v) in model { #expect(try await store.get(TableID(k.table), key: k.key, epoch: 1) == v) }
        for t in UInt32(1)...2 {
            #expect(try await collectRows(store.scan(TableID(t), from: nil, to: nil, epoch: 1)) == expectedRows(model, table: t, from: nil, to: nil))
            #expect(try await collectRows(store.scan(TableID(t), from: [3], to: [5, 9])) == expectedRows(model, table: t, from: [3], to: [5, 9]))
        }
    }
}

private extension StateStore {
    func scan(_ table: TableID, from: [UInt8]?, to: [UInt8]?) async throws -> ScanResult {
        try await scan(table, from: from, to: to, epoch: committedEpoch)
    }
}

/// The reference model: what the store must answer, derived only from the
/// documented contract (DESIGN.md and the API docs), never from the store.
struct StoreModel {
    enum Write: Equatable { case put([UInt8]), delete }

    /// Writes of one uncommitted epoch, last write per key wins.
    struct Pending {
        var epoch: Epoch
        var writes: [ModelKey: Write] = [:]
        /// Id of the sync result that claimed this sealed epoch.
        var claimedBy: Int?
        /// Table watermarks set at this epoch (one per table, a later call replaces).
        var watermarks: [UInt32: Watermark] = [:]
    }

    /// One table watermark: keys whose bytes after `prefix` sort below `key` are hidden.
    struct Watermark: Equatable {
        var epoch: Epoch
        var key: [UInt8]
        var prefix: Int

        func hides(_ k: [UInt8]) -> Bool { k.count >= prefix && k[prefix...].lexicographicallyPrecedes(key) }
    }

    var committed: Epoch = 0
    var metadata: [String: [UInt8]] = [:]
    /// Per committed data epoch, ascending: the full map after that epoch.
    var history: [(epoch: Epoch, map: [ModelKey: [UInt8]])] = []
    var open: [Pending] = []
    var sealed: [Pending] = []
    var sealedThrough: Epoch = 0
    var latestWritten: Epoch = 0
    /// Commits that carried data: each adds exactly one L0 sub-level.
    var subLevels = 0
    /// Committed table watermarks per table, every one ever committed.
    var watermarks: [UInt32: [Watermark]] = [:]

    /// The watermark of `table` a read at `epoch` applies: the newest at or below it,
    /// the writer's own uncommitted ones included when reading above the committed epoch.
    func watermark(_ table: UInt32, at epoch: Epoch) -> Watermark? {
        var best = watermarks[table]?.filter { $0.epoch <= epoch }.max { $0.epoch < $1.epoch }
        if epoch > committed {
            for p in sealed + open where p.epoch <= epoch {
                if let w = p.watermarks[table], best == nil || w.epoch >= best!.epoch { best = w }
            }
        }
        return best
    }

    func hidden(_ k: ModelKey, at epoch: Epoch) -> Bool {
        watermark(k.table, at: epoch)?.hides(k.key) ?? false
    }

    /// Every watermark of `table` on record except the one of `epoch`: committed and pending.
    func otherWatermarks(_ table: UInt32, except epoch: Epoch) -> [Watermark] {
        (watermarks[table] ?? []) + (sealed + open).filter { $0.epoch != epoch }.compactMap { $0.watermarks[table] }
    }

    /// `setTableWatermark`'s outcome: argument errors, then the write errors, then the
    /// table rules (one prefix length, rising with the epoch).
    func watermarkError(_ table: UInt32, key: [UInt8], prefix: Int, epoch e: Epoch) -> FloeError? {
        if prefix < 0 { return .invalidArgument("negative prefix length") }
        if let err = writeError(e) { return err }
        for o in otherWatermarks(table, except: e) {
            if o.prefix != prefix { return .invalidArgument("prefix length") }
            if o.epoch < e && key.lexicographicallyPrecedes(o.key) { return .invalidArgument("falls") }
            if o.epoch > e && o.key.lexicographicallyPrecedes(key) { return .invalidArgument("rises above a later one") }
        }
        return nil
    }

    mutating func applyWatermark(_ table: UInt32, key: [UInt8], prefix: Int, epoch e: Epoch) {
        applyWrites(e, []) // the epoch is open now, as after a write
        let i = open.firstIndex { $0.epoch == e }!
        open[i].watermarks[table] = Watermark(epoch: e, key: key, prefix: prefix)
    }

    /// The committed map as of `epoch` (<= committed), without what its watermarks hide.
    func committedMap(at epoch: Epoch) -> [ModelKey: [UInt8]] {
        var i = history.count - 1
        while i >= 0 && history[i].epoch > epoch { i -= 1 }
        let map = i >= 0 ? history[i].map : [:]
        return watermarks.isEmpty ? map : map.filter { !hidden($0.key, at: epoch) }
    }

    /// What the writer sees at `epoch`: committed data, plus its own uncommitted
    /// epochs <= `epoch` when reading above the committed epoch.
    func view(at epoch: Epoch) -> [ModelKey: [UInt8]] {
        guard epoch > committed else { return committedMap(at: epoch) }
        var map = history.last?.map ?? [:]
        for p in sealed + open where p.epoch <= epoch {
            for (k, w) in p.writes {
                switch w {
                case let .put(v): map[k] = v
                case .delete: map[k] = nil
                }
            }
        }
        return map.filter { !hidden($0.key, at: epoch) }
    }

    func get(_ k: ModelKey, at epoch: Epoch) -> [UInt8]? {
        if hidden(k, at: epoch) { return nil }
        guard epoch > committed else { return committedMap(at: epoch)[k] }
        for p in (sealed + open).reversed() where p.epoch <= epoch {
            if let w = p.writes[k] {
                if case let .put(v) = w { return v }
                return nil
            }
        }
        return history.last?.map[k]
    }

    /// Retention rule: below `committed - retention` only an epoch pinned by a live snapshot is readable.
    func retentionError(_ epoch: Epoch, retention: UInt64, pinned: Set<Epoch>) -> FloeError? {
        guard epoch < committed else { return nil }
        let oldest = committed >= retention ? committed - retention : 0
        if epoch < oldest && !pinned.contains(epoch) { return .epochNotRetained(epoch: epoch, oldestRetained: oldest) }
        return nil
    }

    func writeError(_ e: Epoch) -> FloeError? {
        if e <= committed { return .epochCommitted(epoch: e, committed: committed) }
        if e <= sealedThrough { return .epochSealed(epoch: e, sealed: sealedThrough) }
        return nil
    }

    mutating func applyWrites(_ e: Epoch, _ writes: [(ModelKey, Write)]) {
        // Any unsealed epoch takes writes: keep the open epochs in epoch order.
        let i = open.firstIndex { $0.epoch >= e } ?? open.count
        if i == open.count || open[i].epoch != e { open.insert(Pending(epoch: e), at: i) }
        latestWritten = max(latestWritten, e)
        for (k, w) in writes { open[i].writes[k] = w }
    }

    func sealError(_ e: Epoch) -> FloeError? {
        if e == sealedThrough && e > committed { return nil } // re-sealing is a no-op
        if e <= committed { return .epochCommitted(epoch: e, committed: committed) }
        if e < sealedThrough { return .epochSealed(epoch: e, sealed: sealedThrough) }
        return nil
    }

    mutating func applySeal(_ e: Epoch) {
        while let first = open.first, first.epoch <= e {
            sealed.append(open.removeFirst())
        }
        sealedThrough = max(sealedThrough, e)
        latestWritten = max(latestWritten, e)
    }

    func syncError(_ e: Epoch) -> FloeError? {
        e > sealedThrough ? .epochNotSealed(e) : nil
    }

    /// Claims every unclaimed sealed epoch <= `e` for sync result `id`; returns them ascending.
    mutating func applySync(_ e: Epoch, id: Int) -> [Epoch] {
        var claimed: [Epoch] = []
        for i in sealed.indices where sealed[i].epoch <= e && sealed[i].claimedBy == nil {
            sealed[i].claimedBy = id
            claimed.append(sealed[i].epoch)
        }
        return claimed
    }

    /// Commit rule: in epoch order, and the sync result must cover every sealed epoch up to `e`.
    func commitError(_ e: Epoch, resultEpoch: Epoch, epochs: [Epoch]) -> FloeError? {
        if e <= committed { return .commitOutOfOrder("not above committed") }
        if resultEpoch != e { return .commitOutOfOrder("result for another epoch") }
        if e > sealedThrough { return .epochNotSealed(e) }
        if epochs.contains(where: { $0 <= committed || $0 > e }) { return .commitOutOfOrder("epoch outside range") }
        if sealed.contains(where: { $0.epoch <= e && !epochs.contains($0.epoch) }) { return .commitOutOfOrder("uncovered sealed epoch") }
        return nil
    }

    mutating func applyCommit(_ e: Epoch, metadata md: [String: [UInt8]]) {
        var carried = false
        for p in sealed where p.epoch <= e {
            var map = history.last?.map ?? [:]
            for (k, w) in p.writes {
                switch w {
                case let .put(v): map[k] = v
                case .delete: map[k] = nil
                }
            }
            history.append((p.epoch, map))
            // An epoch that only set watermarks uploads no SST.
            if !p.writes.isEmpty { carried = true }
            for (t, w) in p.watermarks { watermarks[t, default: []].append(w) }
        }
        sealed.removeAll { $0.epoch <= e }
        if carried { subLevels += 1 }
        committed = e
        for (k, v) in md { metadata[k] = v }
        sealedThrough = max(sealedThrough, e)
        latestWritten = max(latestWritten, e)
    }

    /// A close (or crash) and reopen: every uncommitted epoch is gone.
    mutating func reopen() {
        open.removeAll()
        sealed.removeAll()
        sealedThrough = committed
        latestWritten = committed
    }
}

/// One seeded run against a `MemoryObjectStore`.
final class ModelRun {
    static let opsPerSeed = 300
    /// Operations of a run with watermarks.
    static let opsPerWatermarkSeed = 150
    static let tables: [UInt32] = [1, 2, 3]
    /// Keys that are prefixes of each other, the empty key, 0x00 and 0xFF bytes.
    static let fixedKeys: [[UInt8]] = [[], [0], [0, 0], [1], [1, 0], [1, 0, 0], [1, 0, 0, 0, 0, 0],
                                       [1, 1], [1, 255], [2], [255], [255, 255, 255, 255, 255, 255]]

    struct SyncHandle {
        var id: Int
        var result: SyncResult
        /// The epochs the model says this sync claimed.
        var epochs: [Epoch]
    }

    let seed: UInt64
    var rng: SplitMix64
    let objects = MemoryObjectStore()
    var options = StoreOptions()
    var smallSst = false
    /// How this seed compacts: none, the store's background worker, explicit
    /// `compactOnce` steps, or a standalone `Compactor` on the same objects.
    enum CompactionMode { case none, background, steps, standalone }
    var compaction = CompactionMode.none
    var compactor: Compactor?
    var store: StateStore?
    var model = StoreModel()
    var syncs: [SyncHandle] = []
    var nextSyncID = 0
    var snapshots: [Snapshot] = []
    var seenKeys: [ModelKey] = []
    var seenKeySet: Set<ModelKey> = []
    var op = 0
    var what = "open"
    var failures = 0

    /// Whether the run sets table watermarks (`ModelBasedStoreTests.randomRunWithTableWatermarksMatchesModel`).
    let withWatermarks: Bool
    /// Each table's prefix length (watermark runs).
    var prefixLength: [UInt32: Int] = [:]
    /// Candidate watermark keys, ascending: a watermark moves up this list.
    static let watermarkKeys: [[UInt8]] = {
        let alphabet: [UInt8] = [0, 1, 2, 255]
        var keys: [[UInt8]] = alphabet.map { [$0] }
        for _ in 0..<2 { keys += keys.filter { $0.count == keys.last!.count }.flatMap { k in alphabet.map { k + [$0] } } }
        return keys.sorted { $0.lexicographicallyPrecedes($1) }
    }()

    init(seed: UInt64, watermarks: Bool = false) {
        self.seed = seed
        self.withWatermarks = watermarks
        rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ (watermarks ? 2 : 1))
    }

    // MARK: randomness

    func int(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
    func chance(_ p: Double) -> Bool { Double(rng.next() >> 11) * 0x1p-53 < p }
    func epochUpTo(_ e: Epoch) -> Epoch { Epoch(int(Int(e) + 1)) }

    func randomKey() -> ModelKey {
        let table = Self.tables[int(Self.tables.count)]
        if chance(0.75) { return ModelKey(table, Self.fixedKeys[int(Self.fixedKeys.count)]) }
        let alphabet: [UInt8] = [0, 1, 2, 255]
        return ModelKey(table, (0..<int(7)).map { _ in alphabet[int(alphabet.count)] })
    }

    func bulkKey() -> ModelKey {
        let alphabet: [UInt8] = [0, 1, 2, 3, 0x7f, 255]
        return ModelKey(Self.tables[int(2)], (0..<(1 + int(6))).map { _ in alphabet[int(alphabet.count)] })
    }

    func readKey() -> ModelKey {
        if !seenKeys.isEmpty && chance(0.5) { return seenKeys[int(seenKeys.count)] }
        return randomKey()
    }

    func randomValue(max: Int = 40) -> [UInt8] {
        (0..<int(max + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    func randomMetadata(_ e: Epoch) -> [String: [UInt8]] {
        var md: [String: [UInt8]] = [:]
        if chance(0.85) { md["offset"] = e.leBytes }
        if chance(0.3) { md["k\(int(3))"] = randomValue(max: 8) }
        return md
    }

    var pinned: Set<Epoch> { Set(snapshots.map(\.epoch)) }

    /// Mostly a writable epoch; sometimes any epoch, so invalid writes happen too.
    func writeEpoch() -> Epoch {
        if chance(0.15) { return epochUpTo(max(model.latestWritten, model.sealedThrough) + 2) }
        if model.latestWritten > model.sealedThrough && chance(0.7) { return model.latestWritten }
        return max(model.latestWritten, model.sealedThrough) + 1 + Epoch(int(2))
    }

    func readEpoch() -> Epoch {
        let r = int(100)
        let top = max(model.latestWritten, model.sealedThrough)
        if r < 15 { return model.committed }
        if r < 55 { return epochUpTo(model.committed) }
        if r < 85 { return model.committed + 1 + epochUpTo(top - model.committed + 1) }
        if !snapshots.isEmpty { return snapshots[int(snapshots.count)].epoch }
        return model.committed
    }

    func noteKey(_ k: ModelKey) {
        if seenKeySet.insert(k).inserted { seenKeys.append(k) }
    }

    // MARK: checking

    var prefix: String { "seed \(seed)\(withWatermarks ? " (watermarks)" : "") op \(op) [\(what)]" }

    @discardableResult
    func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ detail: @autoclosure () -> String,
                                   sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if actual == expected { return true }
        failures += 1
        #expect(actual == expected, "\(prefix): \(detail())", sourceLocation: sourceLocation)
        return false
    }

    /// Checks a store outcome against the model's: the same value, or the same typed error.
    @discardableResult
    func expectOutcome<T: Equatable>(_ got: Result<T, FloeError>, _ expected: Result<T, FloeError>, _ detail: String,
                                     sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        switch (got, expected) {
        case let (.success(a), .success(b)):
            return expectEqual(a, b, detail, sourceLocation: sourceLocation)
        case let (.failure(a), .failure(b)) where sameError(a, b):
            return true
        default:
            failures += 1
            Issue.record("\(prefix): \(detail): got \(got), expected \(expected)", sourceLocation: sourceLocation)
            return false
        }
    }

    func expectError(_ got: Result<Void, FloeError>, _ expected: FloeError?, _ detail: String,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let exp: Result<Unit, FloeError> = expected.map { .failure($0) } ?? .success(Unit())
        return expectOutcome(got.map { Unit() }, exp, detail, sourceLocation: sourceLocation)
    }

    struct Unit: Equatable {}

    func fail(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        failures += 1
        Issue.record("\(prefix): \(message)", sourceLocation: sourceLocation)
    }

    // MARK: run

    func configure() {
        options.retentionEpochs = chance(0.2) ? UInt64(1 + int(4)) : 1_000_000
        if chance(0.5) {
            smallSst = true
            options.sst.blockSize = 256
            options.sst.targetFileSize = 4096
            options.sst.restartInterval = 1 + int(4)
            options.sst.compression = [Compression.none, .lz4, .zstd][int(3)]
            options.sst.bloomBitsPerKey = chance(0.5) ? 0 : 10
        } else {
            options.sst.compression = [Compression.none, .lz4, .zstd][int(3)]
        }
        options.manifestCheckpointInterval = [2, 3, 5, 64][int(4)]
        compaction = [CompactionMode.none, .background, .steps, .standalone][int(4)]
        options.compaction.background = compaction == .background
        if compaction != .none {
            options.compaction.targetFileSize = 4096
            options.compaction.baseLevelBytes = 8192
            options.compaction.l0CompactionTrigger = 2
            options.compaction.intraL0Trigger = 3
            options.compaction.l0SlowdownSubLevels = 8
            options.compaction.l0StopSubLevels = 16
            options.compaction.maxLevel = 1 + int(4)
        }
        if chance(0.25) {
            options.blockCacheBytes = [0, 16 << 10][int(2)]
            options.metaCacheBytes = [0, 16 << 10][int(2)]
        }
        if withWatermarks {
            prefixLength = [1: 0, 2: 2, 3: chance(0.5) ? 0 : 2]
            // Retention 0 too: compaction then drops hidden keys as soon as they are hidden.
            if chance(0.3) { options.retentionEpochs = UInt64(int(3)) }
        }
    }

    func execute() async {
        configure()
        what = "open \(options)"
        switch await capture({ try await StateStore.open(objectStore: objects, options: options) }) {
        case let .success(s): store = s
        case let .failure(e): fail("open failed: \(e)"); return
        }
        let ops = withWatermarks ? Self.opsPerWatermarkSeed : Self.opsPerSeed
        for i in 0..<ops {
            op = i
            await step()
            if failures > 0 { return }
        }
        op = ops
        what = "final check"
        await fullCheck(at: model.committed)
        // A few older retained epochs, read whole.
        for _ in 0..<3 where failures == 0 {
            let e = epochUpTo(model.committed)
            if model.retentionError(e, retention: options.retentionEpochs, pinned: pinned) == nil {
                what = "final check @\(e)"
                await fullCheck(at: e)
            }
        }
        for s in snapshots { s.release() }
    }

    func step() async {
        let r = int(1000)
        if withWatermarks && r < 80 { return await doSetWatermark() }
        switch r {
        case ..<250: await doWrite(delete: false)
        case ..<330: await doWrite(delete: true)
        case ..<400: await doBatch(bulk: false)
        case ..<430: await doBatch(bulk: smallSst)
        case ..<500: await doSeal()
        case ..<565: await doSync()
        case ..<640: await doCommit()
        case ..<690: await doCheckpoint()
        case ..<810: await doGet()
        case ..<870: await doScan()
        case ..<900: await doTakeSnapshot()
        case ..<945: await doReadSnapshot()
        case ..<960: await doReleaseSnapshot()
        case ..<975: await doReopen()
        case ..<990: await doCompact()
        default: checkCommittedState()
        }
    }

    // MARK: operations

    /// One compaction step (by the store or the standalone compactor) and a GC
    /// pass with no grace: neither may change any answer.
    func doCompact() async {
        guard let store else { return }
        switch compaction {
        case .none, .background:
            checkCommittedState()
            return
        case .steps:
            what = "compactOnce"
            switch await capture({ try await store.compactOnce() }) {
            case .success: break
            case let .failure(e): return fail("compactOnce threw \(e)")
            }
        case .standalone:
            what = "standalone compactor"
            if compactor == nil {
                switch await capture({ try await Compactor.attach(objectStore: objects, options: options) }) {
                case let .success(c): compactor = c
                case let .failure(e): return fail("attach threw \(e)")
                }
            }
            switch await capture({ try await self.compactor!.runOnce() }) {
            case .success, .failure(.staleCompaction): break
            case let .failure(e): return fail("standalone compaction threw \(e)")
            }
        }
        what = "collectGarbage"
        switch await capture({ try await store.collectGarbage(graceSeconds: 0) }) {
        case .success: break
        case let .failure(e): return fail("collectGarbage threw \(e)")
        }
        await fullCheck(at: model.committed)
    }

    /// A watermark on a random table: mostly a valid one (between the neighbouring
    /// epochs' watermarks of the table, often equal to the one below), sometimes any
    /// key, another prefix length or a negative one, or an invalid epoch.
    func doSetWatermark() async {
        guard let store else { return }
        let t = Self.tables[int(Self.tables.count)]
        let e = writeEpoch()
        var p = prefixLength[t] ?? 0
        if chance(0.08) { p = p == 0 ? 2 : 0 } else if chance(0.03) { p = -1 }
        let candidates = Self.watermarkKeys
        func index(_ k: [UInt8]) -> Int { candidates.firstIndex(of: k) ?? 0 }
        let others = model.otherWatermarks(t, except: e)
        let low = others.filter { $0.epoch < e }.map { index($0.key) }.max() ?? 0
        let high = others.filter { $0.epoch > e }.map { index($0.key) }.min() ?? candidates.count - 1
        let i: Int
        if chance(0.1) {
            i = int(candidates.count)
        } else if chance(0.2) {
            i = low
        } else {
            i = low + int(max(0, min(12, high - low)) + 1)
        }
        let key = candidates[min(i, candidates.count - 1)]
        what = "setTableWatermark t\(t) \(key) prefix \(p) @\(e)"
        let expected = model.watermarkError(t, key: key, prefix: p, epoch: e)
        let got = await capture { try store.setTableWatermark(TableID(t), key: key, prefixLength: p, epoch: e) }
        if expectError(got, expected, "setTableWatermark outcome") && expected == nil {
            model.applyWatermark(t, key: key, prefix: p, epoch: e)
            prefixLength[t] = p
        }
    }

    func doWrite(delete: Bool) async {
        guard let store else { return }
        let e = writeEpoch(), k = randomKey()
        let expected = model.writeError(e)
        let got: Result<Void, FloeError>
        let write: StoreModel.Write
        if delete {
            what = "delete \(k) @\(e)"
            write = .delete
            got = await capture { try store.delete(TableID(k.table), key: k.key, epoch: e) }
        } else {
            let v = randomValue()
            what = "put \(k) \(v.count)B @\(e)"
            write = .put(v)
            got = await capture { try store.put(TableID(k.table), key: k.key, value: v, epoch: e) }
        }
        if expectError(got, expected, "write outcome") && expected == nil {
            model.applyWrites(e, [(k, write)])
            noteKey(k)
        }
    }

    func doBatch(bulk: Bool) async {
        guard let store else { return }
        let e = writeEpoch()
        let n = bulk ? 40 + int(110) : 1 + int(8)
        var batch = WriteBatch()
        var writes: [(ModelKey, StoreModel.Write)] = []
        for _ in 0..<n {
            let k = bulk ? bulkKey() : randomKey()
            if chance(bulk ? 0.1 : 0.3) {
                batch.delete(TableID(k.table), key: k.key)
                writes.append((k, .delete))
            } else {
                let v = randomValue()
                batch.put(TableID(k.table), key: k.key, value: v)
                writes.append((k, .put(v)))
            }
        }
        what = "batch of \(n)\(bulk ? " (bulk)" : "") @\(e)"
        let expected = model.writeError(e)
        let got = await capture { try store.write(batch, epoch: e) }
        if expectError(got, expected, "batch outcome") && expected == nil {
            model.applyWrites(e, writes)
            for (k, _) in writes { noteKey(k) }
        }
    }

    func doSeal() async {
        guard let store else { return }
        let e: Epoch
        if chance(0.7) {
            if model.latestWritten > model.sealedThrough {
                // Sometimes seal only part of the open epochs.
                let openEpochs = model.open.map(\.epoch)
                e = chance(0.3) && !openEpochs.isEmpty ? openEpochs[int(openEpochs.count)] : model.latestWritten
            } else {
                e = model.sealedThrough + Epoch(int(3)) // 0: re-seal (no-op), else seal empty epochs
            }
        } else {
            e = epochUpTo(max(model.latestWritten, model.sealedThrough) + 2)
        }
        what = "seal @\(e)"
        let expected = model.sealError(e)
        let got = await capture { try store.seal(epoch: e) }
        if expectError(got, expected, "seal outcome") && expected == nil {
            model.applySeal(e)
        }
    }

    func doSync() async {
        guard let store else { return }
        let e: Epoch
        let lastSynced = syncs.map(\.result.epoch).max() ?? 0
        let low = max(model.committed, lastSynced)
        let unclaimed = model.sealed.first { $0.claimedBy == nil && $0.epoch > low }?.epoch
        if chance(0.8), let first = unclaimed {
            // Any epoch in [first unclaimed sealed epoch, sealedThrough]: one sync
            // then covers one or several sealed epochs.
            e = first + epochUpTo(model.sealedThrough - first)
        } else if chance(0.5) && model.sealedThrough > low {
            e = low + 1 + epochUpTo(model.sealedThrough - low - 1)
        } else {
            e = epochUpTo(model.sealedThrough + 2)
        }
        what = "sync @\(e)"
        if let expected = model.syncError(e) {
            let got = await capture { try await store.sync(epoch: e) }
            _ = expectError(got.map { _ in () }, expected, "sync outcome")
            return
        }
        let got = await capture { try await store.sync(epoch: e) }
        guard case let .success(result) = got else {
            fail("sync threw \(got)")
            return
        }
        nextSyncID += 1
        let claimed = model.applySync(e, id: nextSyncID)
        let claimedSealed = model.sealed.filter { claimed.contains($0.epoch) }
        expectEqual(result.epoch, e, "sync result epoch")
        expectEqual(result.epochs, claimed, "sync result epochs")
        expectEqual(result.ssts.isEmpty, claimedSealed.allSatisfy { $0.writes.isEmpty }, "sync result has SSTs exactly when it has data")
        let watermarks = claimedSealed.flatMap { p in p.watermarks.map { t, w in
            TableWatermark(table: TableID(t), prefixLength: w.prefix, key: w.key, epoch: w.epoch) } }
        expectEqual(Set(result.watermarks), Set(watermarks), "sync result watermarks (those set at its epochs)")
        expectEqual(result.watermarks.count, watermarks.count, "sync result watermarks, one per table and epoch")
        for s in result.ssts {
            if !claimed.contains(s.minEpoch) || !claimed.contains(s.maxEpoch) {
                fail("\(s.path) spans epochs \(s.minEpoch)...\(s.maxEpoch), not all synced here (\(claimed))")
            }
        }
        for (a, b) in zip(result.ssts, result.ssts.dropFirst()) {
            let ordered = a.largestKey.withUnsafeBytes { x in b.smallestKey.withUnsafeBytes { y in
                FullKey.compareBytes(FullKey.prefix(x), FullKey.prefix(y)) < 0 } }
            if !ordered { fail("SSTs of one sync overlap or are unsorted: \(a.path), \(b.path)") }
        }
        syncs.append(SyncHandle(id: nextSyncID, result: result, epochs: claimed))
    }

    func doCommit() async {
        // Results that can never commit again are kept a little, to try them out of order.
        if syncs.allSatisfy({ $0.result.epoch <= model.committed }) && chance(0.7) { syncs.removeAll() }
        guard let store, !syncs.isEmpty else { return await doSync() }
        let index: Int
        if chance(0.9), let ok = syncs.firstIndex(where: {
            model.commitError($0.result.epoch, resultEpoch: $0.result.epoch, epochs: $0.epochs) == nil
        }) {
            index = ok
        } else {
            index = int(syncs.count)
        }
        let h = syncs[index]
        let e = chance(0.9) ? h.result.epoch : epochUpTo(model.sealedThrough + 1)
        let md = randomMetadata(e)
        what = "commit @\(e) of sync #\(h.id) (epoch \(h.result.epoch), epochs \(h.epochs)) metadata \(md.keys.sorted())"
        let expected = model.commitError(e, resultEpoch: h.result.epoch, epochs: h.epochs)
        let got = await capture { try await store.commit(epoch: e, h.result, metadata: md) }
        guard expectError(got, expected, "commit outcome") else { return }
        if expected == nil {
            model.applyCommit(e, metadata: md)
            syncs.remove(at: index)
        }
        let stale = syncs.indices.filter { syncs[$0].result.epoch <= model.committed }
        if stale.count > 2 { syncs.remove(at: stale[0]) }
        checkCommittedState()
    }

    func doCheckpoint() async {
        guard let store else { return }
        // A checkpoint's own sync claims every sealed epoch; with another sync's
        // result outstanding its commit would be out of order, so skip then.
        guard !model.sealed.contains(where: { $0.claimedBy != nil }) else { return await doGet() }
        let top = max(model.latestWritten, model.sealedThrough)
        let e = chance(0.85) ? top + Epoch(int(2)) : epochUpTo(top + 1)
        let md = randomMetadata(e)
        what = "checkpoint @\(e) metadata \(md.keys.sorted())"
        let expected = model.sealError(e)
        let got = await capture { try await store.checkpoint(epoch: e, metadata: md) }
        guard expectError(got, expected, "checkpoint outcome"), expected == nil else { return }
        model.applySeal(e)
        nextSyncID += 1
        let claimed = model.applySync(e, id: nextSyncID)
        if let err = model.commitError(e, resultEpoch: e, epochs: claimed) {
            return fail("model: checkpoint commit should not fail (\(err))")
        }
        model.applyCommit(e, metadata: md)
        checkCommittedState()
    }

    func doGet() async {
        guard let store else { return }
        let e = readEpoch(), k = readKey()
        what = "get \(k) @\(e) (committed \(model.committed))"
        let expected: Result<[UInt8]?, FloeError>
        if let err = model.retentionError(e, retention: options.retentionEpochs, pinned: pinned) {
            expected = .failure(err)
        } else {
            expected = .success(model.get(k, at: e))
        }
        let got = await capture { try await store.get(TableID(k.table), key: k.key, epoch: e) }
        expectOutcome(got, expected, "get")
    }

    func randomBounds() -> ([UInt8]?, [UInt8]?) {
        let from = chance(0.35) ? nil : randomKey().key
        let to = chance(0.35) ? nil : randomKey().key
        return (from, to)
    }

    func doScan() async {
        guard let store else { return }
        let e = readEpoch()
        let t = Self.tables[int(Self.tables.count)]
        let (from, to) = randomBounds()
        what = "scan t\(t) [\(from.map { "\($0)" } ?? "nil"), \(to.map { "\($0)" } ?? "nil")) @\(e) (committed \(model.committed))"
        let expected: Result<[Row], FloeError>
        if let err = model.retentionError(e, retention: options.retentionEpochs, pinned: pinned) {
            expected = .failure(err)
        } else {
            expected = .success(expectedRows(model.view(at: e), table: t, from: from, to: to))
        }
        let got = await capture { try await collectRows(store.scan(TableID(t), from: from, to: to, epoch: e)) }
        guard expectOutcome(got, expected, "scan"), case let .success(rows) = expected else { return }
        await checkReverseAndSeeks(store, table: t, from: from, to: to, epoch: e, rows: rows)
    }

    /// The same read backwards (with and without a limit), a prefix backwards, and a
    /// forward iterator driven by random `next`s and seeks (forward and backward),
    /// all against the model's rows `rows` of `[from, to)` at `e`.
    func checkReverseAndSeeks(_ store: StateStore, table t: UInt32, from: [UInt8]?, to: [UInt8]?, epoch e: Epoch, rows: [Row]) async {
        let limit: Int? = chance(0.5) ? nil : int(6)
        func cut(_ r: [Row]) -> [Row] { limit.map { Array(r.prefix($0)) } ?? r }
        func asRows(_ r: [ScanResult.Element]) -> [Row] { r.map { Row(key: $0.key, value: $0.value) } }
        let reverse = await capture { try await asRows(store.scanReverse(TableID(t), from: from, to: to, epoch: e, limit: limit)) }
        guard expectOutcome(reverse, .success(cut(rows.reversed())), "scanReverse limit \(limit as Any)") else { return }

        let prefix = Array(randomKey().key.prefix(int(4)))
        let wanted = expectedRows(model.view(at: e), table: t, from: nil, to: nil).filter { $0.key.starts(with: prefix) }
        let reversePrefix = await capture { try await asRows(store.scanReverse(TableID(t), prefix: prefix, epoch: e, limit: limit)) }
        guard expectOutcome(reversePrefix, .success(cut(wanted.reversed())), "scanReverse prefix \(prefix) limit \(limit as Any)") else { return }

        // next / seek interleaved; `at` is the model's position in `rows`.
        let seeks = await capture { () async throws -> [String] in
            var problems: [String] = []
            var it = try await store.scan(TableID(t), from: from, to: to, epoch: e).makeAsyncIterator()
            var at = 0
            for _ in 0..<(4 + int(12)) {
                if chance(0.4) {
                    let target = randomKey().key
                    it.seek(to: target)
                    at = rows.firstIndex { !$0.key.lexicographicallyPrecedes(target) } ?? rows.count
                    continue
                }
                let got = try await it.next().map { Row(key: $0.key, value: $0.value) }
                let want = at < rows.count ? rows[at] : nil
                if got != want { problems.append("after \(at): got \(got.map { "\($0.key)" } ?? "end"), want \(want.map { "\($0.key)" } ?? "end")") }
                at = min(at + 1, rows.count)
            }
            return problems
        }
        expectOutcome(seeks, .success([]), "seek/next")
    }

    func doTakeSnapshot() async {
        guard let store else { return }
        let r = int(10)
        let e = r < 6 ? model.committed : r < 9 ? epochUpTo(model.committed) : model.committed + 1 + Epoch(int(3))
        what = "snapshot @\(e) (committed \(model.committed))"
        let expected: FloeError?
        if e > model.committed {
            expected = .invalidArgument("above committed")
        } else {
            expected = model.retentionError(e, retention: options.retentionEpochs, pinned: pinned)
        }
        let got = await capture { try store.snapshot(epoch: e) }
        switch (got, expected) {
        case let (.success(s), nil):
            expectEqual(s.epoch, e, "snapshot epoch")
            snapshots.append(s)
            if snapshots.count > 4 { snapshots.removeFirst().release() }
        case let (.failure(a), b?) where sameError(a, b):
            break
        default:
            fail("snapshot: got \(got), expected \(expected.map { "\($0)" } ?? "success")")
        }
    }

    func readSnapshot(_ s: Snapshot) async {
        let map = model.committedMap(at: s.epoch)
        if chance(0.5) {
            let k = readKey()
            what += " get \(k)"
            let got = await capture { try await s.get(TableID(k.table), key: k.key) }
            expectOutcome(got, .success(map[k]), "snapshot get")
        } else {
            let t = Self.tables[int(Self.tables.count)]
            let (from, to) = randomBounds()
            what += " scan t\(t) [\(from.map { "\($0)" } ?? "nil"), \(to.map { "\($0)" } ?? "nil"))"
            let got = await capture { try await collectRows(s.scan(TableID(t), from: from, to: to)) }
            expectOutcome(got, .success(expectedRows(map, table: t, from: from, to: to)), "snapshot scan")
        }
    }

    func doReadSnapshot() async {
        guard !snapshots.isEmpty else { return await doGet() }
        let s = snapshots[int(snapshots.count)]
        what = "read snapshot @\(s.epoch) (committed \(model.committed))"
        await readSnapshot(s)
    }

    func doReleaseSnapshot() async {
        guard !snapshots.isEmpty else { return await doScan() }
        let s = snapshots.remove(at: int(snapshots.count))
        s.release()
        what = "released snapshot @\(s.epoch), still readable"
        await readSnapshot(s)
    }

    func doReopen() async {
        guard let old = store else { return }
        what = "close + reopen (committed \(model.committed), \(model.open.count) open and \(model.sealed.count) sealed epochs dropped)"
        for s in snapshots { s.release() }
        snapshots.removeAll()
        syncs.removeAll()
        switch await capture({ try await old.close() }) {
        case .success: break
        case let .failure(e): return fail("close threw \(e)")
        }
        switch await capture({ try await StateStore.open(objectStore: objects, options: options) }) {
        case let .success(s): store = s
        case let .failure(e): return fail("reopen threw \(e)")
        }
        model.reopen()
        let k = randomKey()
        _ = expectError(await capture { try old.put(TableID(k.table), key: k.key, value: [1], epoch: model.committed + 1) },
                        .closed, "write to a closed store")
        checkCommittedState()
        await fullCheck(at: model.committed)
    }

    func checkCommittedState() {
        guard let store else { return }
        expectEqual(store.committedEpoch, model.committed, "committed epoch")
        expectEqual(store.committedMetadata, model.metadata, "committed metadata")
        if compaction == .none {
            expectEqual(store.statistics.l0SubLevels, model.subLevels, "L0 sub-levels (one per commit with data)")
        } else if store.statistics.l0SubLevels > model.subLevels {
            fail("L0 has \(store.statistics.l0SubLevels) sub-levels, more than the \(model.subLevels) commits with data")
        }
    }

    /// Every table scanned whole and every key ever written read back at `epoch`.
    func fullCheck(at e: Epoch) async {
        guard let store else { return }
        let map = model.view(at: e)
        for t in Self.tables {
            let got = await capture { try await collectRows(store.scan(TableID(t), from: nil, to: nil, epoch: e)) }
            if !expectOutcome(got, .success(expectedRows(map, table: t, from: nil, to: nil)), "full scan of t\(t) @\(e)") { return }
        }
        for k in seenKeys {
            let got = await capture { try await store.get(TableID(k.table), key: k.key, epoch: e) }
            if !expectOutcome(got, .success(map[k]), "get \(k) @\(e)") { return }
        }
    }
}
