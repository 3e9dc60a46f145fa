/// Statistics block of an SST; mirrors `SstInfo` so a lone file can be described
/// (`floe sst dump`) and cross-checked against the manifest (`floe verify`).
struct SstProperties: Equatable {
    var entryCount: UInt64 = 0
    var tombstoneCount: UInt64 = 0
    var dataBlockCount: UInt64 = 0
    var minEpoch: Epoch = .max
    var maxEpoch: Epoch = 0
    var rawKeyBytes: UInt64 = 0
    var rawValueBytes: UInt64 = 0
    var distinctUserKeys: UInt64 = 0
    var compression: Compression = .none
    var smallestKey: [UInt8] = []
    var largestKey: [UInt8] = []
    /// Format 4 only: the tables of the file that have a prefix filter, each with the
    /// prefix length its keys were hashed at, in table order. Empty: no prefix filter.
    var prefixTables: [PrefixFilterTable] = []
    /// Format 4 only: `KeyHash.of(table, first N bytes)` of every distinct
    /// N-byte prefix of the keys of `prefixTables` (blocked layout).
    var prefixFilter: BloomFilter?

    /// Whether the file may hold a key of `table` starting with `prefix`; true
    /// (read the file) when the file has no prefix filter for `table` or `prefix` is
    /// shorter than the length the filter was built at.
    func mayContain(table: UInt32, prefix: UnsafeRawBufferPointer) -> Bool {
        guard let filter = prefixFilter, let t = prefixTables.first(where: { $0.table == table }),
              prefix.count >= t.length else { return true }
        return filter.mayContain(KeyHash.of(table: TableID(table), key: UnsafeRawBufferPointer(rebasing: prefix[0..<t.length])))
    }

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 96 + smallestKey.count + largestKey.count)
        w.varint(entryCount); w.varint(tombstoneCount); w.varint(dataBlockCount)
        w.varint(minEpoch); w.varint(maxEpoch)
        w.varint(rawKeyBytes); w.varint(rawValueBytes); w.varint(distinctUserKeys)
        w.u8(compression.rawValue)
        w.lengthPrefixed(smallestKey); w.lengthPrefixed(largestKey)
        if let prefixFilter, !prefixTables.isEmpty {
            w.varint(prefixTables.count)
            for t in prefixTables { w.varint(UInt64(t.table)); w.varint(t.length) }
            var f = ByteWriter()
            prefixFilter.encode(into: &f)
            w.lengthPrefixed(f.bytes)
        }
        return w.bytes
    }

    /// `formatVersion`: the file's; a prefix filter is read from format 4 on.
    static func decode(_ b: [UInt8], object: String, offset: Int, formatVersion: UInt32) throws -> SstProperties {
        var r = ByteReader(b, object: object, base: offset)
        var p = SstProperties()
        p.entryCount = try r.varint(); p.tombstoneCount = try r.varint(); p.dataBlockCount = try r.varint()
        p.minEpoch = try r.varint(); p.maxEpoch = try r.varint()
        p.rawKeyBytes = try r.varint(); p.rawValueBytes = try r.varint(); p.distinctUserKeys = try r.varint()
        let c = try r.u8("compression")
        guard let comp = Compression(rawValue: c) else { throw r.corrupt("unknown compression \(c)") }
        p.compression = comp
        p.smallestKey = try r.lengthPrefixed("smallest key")
        p.largestKey = try r.lengthPrefixed("largest key")
        if formatVersion >= SstFooter.prefixFilterVersion {
            let n = try r.length("prefix filter tables", limit: 1 << 20)
            guard n > 0 else { throw r.corrupt("prefix filter with no tables") }
            for _ in 0..<n {
                let t = try r.varint("prefix filter table"), len = try r.varint("prefix length")
                guard t <= UInt64(UInt32.max), (1...1024).contains(len), (p.prefixTables.last.map { UInt64($0.table) < t } ?? true)
                else { throw r.corrupt("malformed prefix filter table list") }
                p.prefixTables.append(PrefixFilterTable(table: UInt32(t), length: Int(len)))
            }
            let f = try r.lengthPrefixed("prefix filter")
            p.prefixFilter = try BloomFilter.decode(f, range: 0..<f.count, object: object, baseOffset: offset)
            guard p.prefixFilter?.layout == .blocked else { throw r.corrupt("prefix filter layout is not blocked") }
        }
        guard r.isAtEnd, p.smallestKey.count >= FullKey.overhead, p.largestKey.count >= FullKey.overhead
        else { throw r.corrupt("malformed SST properties") }
        return p
    }
}

/// One table of an SST's prefix filter and the prefix length its keys were hashed at.
struct PrefixFilterTable: Equatable, Sendable {
    var table: UInt32
    var length: Int
}
