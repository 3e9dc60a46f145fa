extension StoreVerifier {
    /// Checks one whole SST held in memory and returns its summary. `object` names
    /// it in errors.
    ///
    /// Checks: the footer (magic, checksum, version, block handles); the checksum
    /// of every block; the structure of every data block and of the index (what
    /// `Block` validates); that the index covers the data region block by block and
    /// each index key is its block's last key; that entries are in strictly
    /// increasing full-key order across blocks; that each block is stored either
    /// uncompressed or with the compression the properties name; that the entry,
    /// tombstone, block and distinct-user-key counts, the epoch range, the
    /// smallest and largest keys and the raw key and value byte counts match the
    /// properties; and that the bloom filter (if any) passes every distinct user key.
    ///
    /// - Throws: `FloeError.corruption` naming `object` and a byte offset for the
    ///   first problem found, or `FloeError.unsupportedFormat`.
    package static func verifySst(bytes: [UInt8], object: String) throws -> SstSummary {
        let sst = try SstInspector(bytes: bytes, object: object)
        let meta = sst.meta
        let props = meta.properties
        let summary = sst.summary
        var entries: UInt64 = 0, tombstones: UInt64 = 0, distinct: UInt64 = 0
        var minEpoch = Epoch.max, maxEpoch: Epoch = 0
        var rawKeys: UInt64 = 0, rawValues: UInt64 = 0
        var first: [UInt8] = [], previous: [UInt8] = []

        for i in 0..<meta.blockCount {
            let offset = meta.blockOffsets[i]
            let (block, compression) = try sst.block(i)
            guard compression == .none || compression == props.compression else {
                throw FloeError.corruption(object: object, offset: offset + meta.blockSizes[i] - BlockCodec.trailerSize,
                                           reason: "data block \(i) is stored as \(compression), properties name \(props.compression)")
            }
            var c = BlockCursor(block)
            c.seekToFirst()
            var index = 0
            while c.valid {
                let key = c.key
                if entries == 0 {
                    first = key
                } else {
                    guard FullKey.compare(previous, key) < 0 else {
                        throw FloeError.corruption(object: object, offset: offset,
                                                   reason: "data block \(i) entry \(index) \(KeyText.describe(key)) does not follow \(KeyText.describe(previous))")
                    }
                }
                let newUserKey = entries == 0 || previous.withUnsafeBytes { p in
                    key.withUnsafeBytes { k in FullKey.compareBytes(FullKey.prefix(p), FullKey.prefix(k)) != 0 }
                }
                let (epoch, hash) = key.withUnsafeBytes { k in
                    (FullKey.epoch(k), KeyHash.of(table: TableID(FullKey.table(k)), key: FullKey.userKey(k)))
                }
                if newUserKey, let filter = meta.filter, !filter.mayContain(hash) {
                    throw FloeError.corruption(object: object, offset: summary.footer.filterOffset,
                                               reason: "bloom filter rejects \(KeyText.describe(key)), stored in data block \(i)")
                }
                if newUserKey { distinct += 1 }
                entries += 1
                if c.kind == ValueKind.delete { tombstones += 1 }
                minEpoch = min(minEpoch, epoch)
                maxEpoch = max(maxEpoch, epoch)
                rawKeys += UInt64(key.count)
                rawValues += UInt64(c.value.count)
                previous = key
                index += 1
                c.advance()
            }
            guard previous == summary.blocks[i].lastKey else {
                throw FloeError.corruption(object: object, offset: summary.footer.indexOffset,
                                           reason: "index key of data block \(i) is \(KeyText.describe(summary.blocks[i].lastKey)), "
                                               + "the block ends with \(KeyText.describe(previous))")
            }
        }

        var mismatches: [String] = []
        func check<T: Equatable>(_ what: String, _ recorded: T, _ actual: T, _ show: (T) -> String = { "\($0)" }) {
            if recorded != actual { mismatches.append("\(what) \(show(recorded)), blocks hold \(show(actual))") }
        }
        check("entry count", props.entryCount, entries)
        check("tombstone count", props.tombstoneCount, tombstones)
        check("distinct user keys", props.distinctUserKeys, distinct)
        check("min epoch", props.minEpoch, minEpoch)
        check("max epoch", props.maxEpoch, maxEpoch)
        check("raw key bytes", props.rawKeyBytes, rawKeys)
        check("raw value bytes", props.rawValueBytes, rawValues)
        check("smallest key", props.smallestKey, first, KeyText.describe)
        check("largest key", props.largestKey, previous, KeyText.describe)
        if let m = mismatches.first {
            throw FloeError.corruption(object: object, offset: summary.footer.propertiesOffset,
                                       reason: "properties do not match the data: \(mismatches.count > 1 ? mismatches.joined(separator: "; ") : m)")
        }
        return summary
    }
}
