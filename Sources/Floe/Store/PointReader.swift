/// The point-read path shared by the store and snapshots: memtables newest
/// first, then L0 sub-levels newest first, then levels top-down. The first
/// version at or below the epoch found on that path is the answer.
enum PointReader {
    static func get(reader: SstReader, version: Version, memtables: [FrozenMemtable],
                    table: TableID, key: [UInt8], epoch: Epoch) async throws -> [UInt8]? {
        for m in memtables where m.epoch <= epoch {
            if let e = key.withUnsafeBytes({ m.lookup(table: table.raw, key: $0) }) {
                return e.kind == Block.kindDelete ? nil : m.value(of: e)
            }
        }
        let hash = key.withUnsafeBytes { BloomFilter.keyHash(table: table, key: $0) }
        // L0 sub-levels newest first, then the levels: the first version found is the newest.
        for i in 0..<(version.l0.count + version.levels.count) {
            let run = i < version.l0.count ? version.l0[i] : version.levels[i - version.l0.count]
            guard let sst = find(run, table: table.raw, key: key), sst.minEpoch <= epoch else { continue }
            // Cached meta and block: answer without suspending; otherwise fetch.
            let r: SstReader.Lookup
            if let cached = reader.getCached(sst, table: table.raw, userKey: key, hash: hash, epoch: epoch) {
                r = cached
            } else {
                r = try await reader.get(sst, table: table.raw, userKey: key, hash: hash, epoch: epoch)
            }
            switch r {
            case let .value(v): return v
            case .tombstone: return nil
            case .notFound: continue
            }
        }
        return nil
    }

    /// The SST of a sorted run whose range may hold the user key.
    @inline(__always)
    static func find(_ run: [SstInfo], table: UInt32, key: [UInt8]) -> SstInfo? {
        key.withUnsafeBytes { k in
            var lo = 0, hi = run.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                let c = run[mid].largestKey.withUnsafeBytes { FullKey.compareUser($0, table: table, userKey: k) }
                if c < 0 { lo = mid + 1 } else { hi = mid }
            }
            guard lo < run.count, run[lo].mayContain(table: table, userKey: k) else { return nil }
            return run[lo]
        }
    }
}
