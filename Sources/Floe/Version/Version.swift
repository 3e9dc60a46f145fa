/// An immutable view of the LSM tree at one manifest sequence.
///
/// Invariants:
/// - `l0` holds sub-levels newest first; within a sub-level SSTs are sorted and
///   non-overlapping, and a newer sub-level holds only newer versions of any key;
/// - `levels[i]` is level i+1: sorted, non-overlapping, older than all of L0;
/// - every SST referenced here is durable in the object store.
final class Version: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; `tablePointers`
    // points at the tables `runTables` keeps alive.
    let sequence: UInt64
    let writerID: UInt64
    let committedEpoch: Epoch
    let safeEpoch: Epoch
    let metadata: [String: [UInt8]]
    let l0: [[SstInfo]]
    let levels: [[SstInfo]]
    /// Cumulative I/O counters since the store was created.
    let stats: LsmCounters
    /// The checksum trailer of the manifest delta at `sequence` (0: unknown, e.g. a
    /// checkpoint of format 1): what an append at `sequence + 1` expects to find
    /// there afterwards (`ManifestStore.commit`).
    let headDigest: UInt64
    /// `VersionDelta.commitIdentity` of the newest commit record (0: none): a retried
    /// commit whose record landed is recognised by it, even once the record is pruned.
    let lastCommit: UInt64
    /// Registered standalone compactor sessions not expired since, sorted: only these
    /// (and the writer session `writerID`) may commit a compaction.
    let compactors: [UInt64]
    /// Table watermarks sorted by (table, epoch): per table the newest one at or
    /// below `safeEpoch` and every later one (`TableWatermark.merged`).
    let watermarks: [TableWatermark]
    /// Named checkpoints, sorted by name: their SSTs stay referenced (`referencedSsts`).
    let namedCheckpoints: [NamedCheckpoint]
    /// Each sorted run laid out for gets, with its files' loaded metas:
    /// `l0` sub-levels, then `levels` (`RunTable`).
    let runTables: [RunTable]
    /// `runTables.count`.
    let runCount: Int
    /// The sorted runs a scan merges: `l0` sub-levels then `levels`, empty levels
    /// left out. Built once here, so a scan does not concatenate them per call.
    let scanRuns: [[SstInfo]]
    /// The same tables, unretained: a get borrows them without touching a
    /// reference count (`withRun`).
    private let tablePointers: UnsafeMutablePointer<Unmanaged<RunTable>>

    /// `previous`: the version this one was derived from, whose tables of the runs
    /// left unchanged are taken over (and whose loaded metas of surviving files
    /// are carried into the others).
    init(sequence: UInt64, writerID: UInt64, committedEpoch: Epoch, safeEpoch: Epoch,
         metadata: [String: [UInt8]], l0: [[SstInfo]], levels: [[SstInfo]], stats: LsmCounters = .init(),
         headDigest: UInt64 = 0, lastCommit: UInt64 = 0, compactors: [UInt64] = [], watermarks: [TableWatermark] = [],
         namedCheckpoints: [NamedCheckpoint] = [], previous: Version? = nil) {
        self.sequence = sequence
        self.writerID = writerID
        self.committedEpoch = committedEpoch
        self.safeEpoch = safeEpoch
        self.metadata = metadata
        self.l0 = l0
        self.levels = levels
        self.stats = stats
        self.headDigest = headDigest
        self.lastCommit = lastCommit
        self.compactors = compactors
        self.watermarks = watermarks
        self.namedCheckpoints = namedCheckpoints
        let p = previous
        runTables = RunTable.tables(for: l0, previous: p.map { Array($0.runTables[..<$0.l0.count]) } ?? [], budgeted: false)
            + RunTable.tables(for: levels, previous: p.map { Array($0.runTables[$0.l0.count...]) } ?? [], budgeted: true)
        runCount = runTables.count
        scanRuns = (l0 + levels).filter { !$0.isEmpty }
        tablePointers = .allocate(capacity: max(1, runCount))
        for (i, t) in runTables.enumerated() { (tablePointers + i).initialize(to: Unmanaged.passUnretained(t)) }
    }

    deinit { tablePointers.deallocate() }

    /// Runs `body` with sorted run `i` (L0 sub-levels newest first, then the levels),
    /// borrowed without a retain.
    @inline(__always)
    func withRun<R>(_ i: Int, _ body: (RunTable) -> R) -> R {
        tablePointers[i]._withUnsafeGuaranteedRef(body)
    }

    static let empty = Version(sequence: 0, writerID: 0, committedEpoch: 0, safeEpoch: 0, metadata: [:], l0: [], levels: [])

    /// The watermark of `table` that applies at `epoch`, if any. Every get and scan
    /// asks, so it is a binary search of `watermarks` (sorted by table, then epoch):
    /// a history as long as the retention window, over many tables, costs O(log n).
    @inline(__always)
    func watermark(_ table: UInt32, at epoch: Epoch) -> TableWatermark? {
        if watermarks.isEmpty { return nil }
        // The first entry after (table, epoch); the one before it applies if it is of `table`.
        var lo = 0, hi = watermarks.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let t = watermarks[mid].tableRaw
            if t < table || (t == table && watermarks[mid].epoch <= epoch) { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 && watermarks[lo - 1].tableRaw == table ? watermarks[lo - 1] : nil
    }

    /// Ids of every SST GC must keep for this version: its own and its named checkpoints'.
    var referencedSsts: Set<UInt64> {
        var ids = Set(allSsts.map(\.id))
        for c in namedCheckpoints { ids.formUnion(c.ssts) }
        return ids
    }

    var allSsts: [SstInfo] { l0.flatMap { $0 } + levels.flatMap { $0 } }

    /// Whether session `id` may commit a compaction on this version: the writer
    /// session, or a registered compactor session that was not expired.
    func mayCompact(session id: UInt64) -> Bool {
        id == writerID || compactors.contains(id)
    }

    /// Applies `delta`, which must carry the next sequence; `digest` is the checksum
    /// trailer of its stored bytes (`ManifestCodec.digest`).
    func applying(_ d: VersionDelta, object: String, digest: UInt64) throws -> Version {
        guard d.sequence == sequence + 1 else {
            throw FloeError.corruption(object: object, offset: 0, reason: "delta sequence \(d.sequence) does not follow \(sequence)")
        }
        var l0 = self.l0
        var levels = self.levels
        var meta = metadata
        var writer = writerID
        var epoch = committedEpoch
        var stats = self.stats
        var lastCommit = self.lastCommit
        var compactors = self.compactors
        var watermarks = self.watermarks
        var named = namedCheckpoints
        stats.stallMicros += d.stallMicros
        switch d.kind {
        case .open:
            writer = d.writerID
        case .commit:
            guard d.committedEpoch > committedEpoch else {
                throw FloeError.corruption(object: object, offset: 0, reason: "commit of epoch \(d.committedEpoch) does not advance committed epoch \(committedEpoch)")
            }
            epoch = d.committedEpoch
            // Oldest first, each above the last: the spilled parts of the epochs, then the rest.
            for sub in d.olderSubLevels where !sub.isEmpty { l0.insert(sub, at: 0) }
            if !d.newSubLevel.isEmpty { l0.insert(d.newSubLevel, at: 0) }
            let added = d.olderSubLevels.joined() + d.newSubLevel
            stats.ingestedBytes += added.reduce(0) { $0 + $1.rawBytes }
            stats.flushWrittenBytes += added.reduce(0) { $0 + $1.fileSize }
            stats.commits += 1
            for (k, v) in d.metadata { meta[k] = v }
            lastCommit = d.commitIdentity
            watermarks = TableWatermark.merged(watermarks, d.watermarks, safeEpoch: max(safeEpoch, d.safeEpoch))
        case .register:
            compactors.append(d.writerID)
            compactors.sort()
        case .expire:
            let gone = Set(d.removed)
            compactors.removeAll { gone.contains($0) }
        case .pin:
            guard let c = d.namedCheckpoint, !named.contains(where: { $0.name == c.name }) else {
                throw FloeError.corruption(object: object, offset: 0, reason: "pin record for a checkpoint name that exists or is missing")
            }
            named.append(c)
            named.sort { $0.name < $1.name }
        case .unpin:
            named.removeAll { $0.name == d.namedCheckpoint?.name }
        case .compaction:
            let gone = Set(d.removed)
            let present = Set(allSsts.map(\.id))
            guard gone.isSubset(of: present) else {
                throw FloeError.corruption(object: object, offset: 0, reason: "compaction removes SSTs the version does not hold")
            }
            let moved = Set(d.added.map(\.info.id)).intersection(gone)
            let removedBytes = allSsts.filter { gone.contains($0.id) && !moved.contains($0.id) }.reduce(0) { $0 + $1.fileSize }
            stats.compactionReadBytes += removedBytes
            stats.compactionWrittenBytes += d.added.filter { !moved.contains($0.info.id) }.reduce(0) { $0 + $1.info.fileSize }
            stats.compactions += 1
            // An intra-L0 output takes the place of the newest sub-level it replaces.
            let l0Slot = l0.firstIndex { $0.contains { gone.contains($0.id) } } ?? l0.count
            let l0Kept = l0[..<l0Slot].count
            l0 = l0.map { $0.filter { !gone.contains($0.id) } }.filter { !$0.isEmpty }
            levels = levels.map { $0.filter { !gone.contains($0.id) } }
            for a in d.added where a.level > 0 {
                while levels.count < a.level { levels.append([]) }
                levels[a.level - 1].append(a.info)
            }
            for i in levels.indices { levels[i].sort { FullKey.compare($0.smallestKey, $1.smallestKey) < 0 } }
            let l0Added = d.added.filter { $0.level == 0 }.map(\.info)
            if !l0Added.isEmpty {
                l0.insert(l0Added.sorted { FullKey.compare($0.smallestKey, $1.smallestKey) < 0 }, at: min(l0Kept, l0.count))
            }
        }
        return Version(sequence: d.sequence, writerID: writer, committedEpoch: epoch,
                       safeEpoch: max(safeEpoch, d.safeEpoch), metadata: meta, l0: l0, levels: levels, stats: stats,
                       headDigest: digest, lastCommit: lastCommit, compactors: compactors, watermarks: watermarks,
                       namedCheckpoints: named, previous: self)
    }
}

/// Cumulative byte counters carried in the manifest, so any process (`floe stats`)
/// can report amplification without the writer.
package struct LsmCounters: Sendable, Equatable {
    /// Uncompressed key+value bytes committed by writers (`SstInfo.rawBytes` of every flushed SST).
    package var ingestedBytes: UInt64 = 0
    /// SST bytes written by syncs that were committed.
    package var flushWrittenBytes: UInt64 = 0
    /// SST bytes compactions rewrote (trivial moves excluded).
    package var compactionReadBytes: UInt64 = 0
    /// SST bytes compactions produced (trivial moves excluded).
    package var compactionWrittenBytes: UInt64 = 0
    /// Time commits spent stalled on L0 back-pressure.
    package var stallMicros: UInt64 = 0
    /// Commits applied.
    package var commits: UInt64 = 0
    /// Compactions applied, trivial moves included.
    package var compactions: UInt64 = 0

    init() {}

    /// (flush + compaction bytes written) / bytes ingested; 0 before anything was ingested.
    package var writeAmplification: Double {
        ingestedBytes == 0 ? 0 : Double(flushWrittenBytes + compactionWrittenBytes) / Double(ingestedBytes)
    }
}
