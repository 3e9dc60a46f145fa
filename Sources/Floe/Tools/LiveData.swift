/// The data a read of a whole version at its committed epoch returns, measured:
/// for each `(table, user key)` the newest version at or below the committed
/// epoch, skipped when that version is a tombstone or a table watermark in effect
/// at that epoch hides the key. The denominator of space amplification.
package struct LiveData: Sendable, Equatable {
    /// The epoch the version was read at (its committed epoch).
    package var epoch: Epoch
    /// Live keys over all tables.
    package var keys: UInt64 = 0
    /// Sum over live keys of user key length plus value length: the bytes a user stored.
    package var bytes: UInt64 = 0
    /// Versions merged, tombstones and versions hidden by newer ones included.
    package var entriesScanned: UInt64 = 0

    /// The live keys measured the way `SstInfo.rawBytes` measures stored entries
    /// (encoded full key, kind byte, value): `bytes` plus 13 bytes per key. Stored
    /// raw bytes over this is the pure duplication factor (obsolete versions and
    /// tombstones), independent of compression and of the per-entry framing.
    package var encodedBytes: UInt64 { bytes + keys * UInt64(FullKey.overhead + 1) }
}

extension StoreInspector {
    /// Measures the live data of `version` by one streaming, read-only merge of
    /// every SST it references (each L0 sub-level and level as one sorted run, newest
    /// first), resolving MVCC at its committed epoch. Memory stays at one index and
    /// one block per run; nothing is cached.
    ///
    /// Reads every block of every SST, so it costs a full scan of the store.
    /// - Throws: `FloeError.objectNotFound` if an SST vanished meanwhile (a GC of a
    ///   newer version ran: measure a fresh version), corruption and I/O errors.
    package func liveData(_ version: VersionSummary) async throws -> LiveData {
        let reader = SstReader(store: objectStore, blockCache: ShardedLRUCache(capacityBytes: 0),
                               metaCache: ShardedLRUCache(capacityBytes: 0))
        var heap = MergeHeap()
        for run in version.runs where !run.ssts.isEmpty {
            let it = SstRunIterator(reader: reader, run: run.ssts)
            try await it.seekToFirst()
            heap.add(.run(it))
        }
        var live = LiveData(epoch: version.committedEpoch)
        var hiding: [UInt32: TableWatermark] = [:]
        for w in TableWatermark.effectiveAll(version.watermarks, at: version.committedEpoch) { hiding[w.tableRaw] = w }
        var lastPrefix: [UInt8] = []
        var haveLast = false
        while !heap.isEmpty {
            live.entriesScanned += 1
            heap.withTopEntry { k, kind, v in
                // Versions arrive newest first per user key: the first one at or below the epoch decides.
                let visible = FullKey.epoch(k) <= live.epoch
                let sameAsLast = haveLast && lastPrefix.withUnsafeBytes { FullKey.compareBytes($0, FullKey.prefix(k)) == 0 }
                if visible && !sameAsLast {
                    lastPrefix.removeAll(keepingCapacity: true)
                    lastPrefix.append(contentsOf: FullKey.prefix(k))
                    haveLast = true
                    if kind == ValueKind.put && !(hiding[FullKey.table(k)]?.hides(FullKey.userKey(k)) ?? false) {
                        live.keys += 1
                        live.bytes += UInt64(k.count - FullKey.overhead + v.count)
                    }
                }
            }
            try await heap.advanceTop()
        }
        return live
    }
}
