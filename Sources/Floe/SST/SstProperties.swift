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

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 96 + smallestKey.count + largestKey.count)
        w.varint(entryCount); w.varint(tombstoneCount); w.varint(dataBlockCount)
        w.varint(minEpoch); w.varint(maxEpoch)
        w.varint(rawKeyBytes); w.varint(rawValueBytes); w.varint(distinctUserKeys)
        w.u8(compression.rawValue)
        w.lengthPrefixed(smallestKey); w.lengthPrefixed(largestKey)
        return w.bytes
    }

    static func decode(_ b: [UInt8], object: String, offset: Int) throws -> SstProperties {
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
        guard r.isAtEnd, p.smallestKey.count >= FullKey.overhead, p.largestKey.count >= FullKey.overhead
        else { throw r.corrupt("malformed SST properties") }
        return p
    }
}
