/// The point-read path shared by the store and snapshots: memtables newest
/// first, then L0 sub-levels newest first, then levels top-down. The first
/// version at or below the epoch found on that path is the answer.
///
/// Split in two so a read whose SST meta and blocks are all cached runs
/// synchronously (no async frame, no executor check): `probeCached` walks the
/// path as far as the caches allow, and `finish` fetches what it stopped at
/// and carries on.
enum PointReader {
    /// Where `probeCached` stopped.
    enum Probe {
        /// The answer: the value, or nil for a tombstone or a key found nowhere.
        case answer([UInt8]?)
        /// Sorted run number `run` (L0 sub-levels first, then levels) may hold the
        /// key in `sst`, whose meta or block is not cached.
        case fetch(run: Int, file: Int, sst: SstInfo, hash: UInt64)
    }

    static func get(reader: SstReader, version: Version, memtables: [FrozenMemtable],
                    table: TableID, key: [UInt8], epoch: Epoch) async throws -> [UInt8]? {
        let probe = probeCached(reader: reader, version: version, memtables: memtables, table: table, key: key, epoch: epoch)
        if case let .answer(value) = probe { return value }
        return try await finish(probe, reader: reader, version: version, table: table, key: key, epoch: epoch)
    }

    /// The read as far as it goes without I/O. Does not allocate except for a returned value.
    static func probeCached(reader: SstReader, version: Version, memtables: [FrozenMemtable],
                            table: TableID, key: [UInt8], epoch: Epoch) -> Probe {
        for m in memtables where m.epoch <= epoch {
            if let e = key.withUnsafeBytes({ m.lookup(table: table.raw, key: $0) }) {
                return .answer(e.kind == ValueKind.delete ? nil : m.value(of: e))
            }
        }
        let hash = key.withUnsafeBytes { KeyHash.of(table: table, key: $0) }
        return probeRuns(from: 0, reader: reader, version: version, table: table, key: key, hash: hash, epoch: epoch)
    }

    /// Completes a read that `probeCached` stopped at a `.fetch`.
    static func finish(_ probe: Probe, reader: SstReader, version: Version,
                       table: TableID, key: [UInt8], epoch: Epoch) async throws -> [UInt8]? {
        var probe = probe
        // Whole filters of files answered from one partition load once this get is done.
        defer { reader.metadata.startWarming() }
        var asked: [UInt64: SstMetadataCache.FilterAnswer]?
        while true {
            switch probe {
            case let .answer(value):
                return value
            case let .fetch(run, file, sst, hash):
                // The first cold file on the path asks the filters of every cold file left on
                // it at once (see `askColdFilters`).
                let loaded = try await reader.metadata.load(version.runTables[run], file, budgeted: run >= version.l0.count,
                                                            hash: hash) {
                    if asked == nil {
                        asked = await askColdFilters(from: run, reader: reader, version: version, table: table, key: key, hash: hash, epoch: epoch)
                    }
                    return asked?[sst.id]
                }
                guard let meta = loaded else {
                    probe = probeRuns(from: run + 1, reader: reader, version: version, table: table, key: key, hash: hash, epoch: epoch)
                    continue
                }
                switch try await reader.get(meta, table: table.raw, userKey: key, hash: hash, epoch: epoch) {
                case let .value(v): return v
                case .tombstone: return nil
                case .notFound:
                    probe = probeRuns(from: run + 1, reader: reader, version: version, table: table, key: key, hash: hash, epoch: epoch)
                }
            }
        }
    }

    /// Asks the filters of the cold files (neither meta nor filter in memory) that
    /// the read may still pass, from sorted run `first` on, all at once: after a
    /// restart the first get passes a filter per L0 sub-level, and asked one after
    /// another their reads add up (dozens of object-store round trips on a remote
    /// store). Whole filters land in the filter cache (`probeRuns` then skips those
    /// files without I/O); answers from one partition are returned by file id.
    /// A file whose filter fails to load is left out: the read reports that error
    /// only if it gets that far, as it would without asking ahead.
    static func askColdFilters(from first: Int, reader: SstReader, version: Version,
                               table: TableID, key: [UInt8], hash: UInt64, epoch: Epoch) async -> [UInt64: SstMetadataCache.FilterAnswer] {
        var cold: [SstInfo] = []
        for run in version.runTables[first...] {
            guard let f = key.withUnsafeBytes({ run.find(table: table.raw, userKey: $0, epoch: epoch) }) else { continue }
            if reader.metadata.isCold(run, f) { cold.append(run.files[f]) }
        }
        guard cold.count > 1 else { return [:] }
        return await reader.metadata.askFilters(cold, hash: hash)
    }

    /// What one sorted run said about the key.
    private enum Step {
        case skip
        case fetch(file: Int)
        case hit(SstReader.Lookup)
    }

    /// Sorted runs `first...` from cached meta and blocks only.
    ///
    /// Reads only: runs, files and metas are borrowed from the version's run tables,
    /// never retained. A retain here is a write to a line every reader thread
    /// shares, and those writes, not the search, bounded gets on two threads.
    private static func probeRuns(from first: Int, reader: SstReader, version: Version,
                                  table: TableID, key: [UInt8], hash: UInt64, epoch: Epoch) -> Probe {
        // L0 sub-levels newest first, then the levels: the first version found is the newest.
        let l0 = version.l0.count
        return key.withUnsafeBytes { k in
            for at in first..<version.runCount {
                let step = version.withRun(at) {
                    probeRun($0, budgeted: at >= l0, reader: reader, table: table, key: k, hash: hash, epoch: epoch)
                }
                switch step {
                case .skip, .hit(.notFound): continue
                case let .fetch(f): return .fetch(run: at, file: f, sst: version.runTables[at].files[f], hash: hash)
                case let .hit(.value(v)): return .answer(v)
                case .hit(.tombstone): return .answer(nil)
                }
            }
            return .answer(nil)
        }
    }

    /// One sorted run from cached meta and blocks only: the run's own table of
    /// metas first, then what `SstMetadataCache` holds in memory.
    @inline(__always)
    private static func probeRun(_ run: RunTable, budgeted: Bool, reader: SstReader,
                                 table: TableID, key: UnsafeRawBufferPointer, hash: UInt64, epoch: Epoch) -> Step {
        guard let f = run.find(table: table.raw, userKey: key, epoch: epoch) else { return .skip }
        if let r = run.withMeta(f, { reader.getCached($0, table: table.raw, userKey: key, hash: hash, epoch: epoch) }) {
            guard let r else { return .fetch(file: f) }
            return .hit(r)
        }
        switch reader.metadata.cached(run.id(f), hash: hash) {
        case .ruledOut: return .skip
        case .load: return .fetch(file: f)
        case let .meta(m):
            reader.metadata.pin(m, in: run, file: f, budgeted: budgeted)
            guard let r = reader.getCached(m, table: table.raw, userKey: key, hash: hash, epoch: epoch) else { return .fetch(file: f) }
            return .hit(r)
        }
    }
}
