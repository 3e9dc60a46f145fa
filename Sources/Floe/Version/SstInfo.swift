/// What the manifest records about one SST: enough to route reads and plan
/// compaction without opening the file.
///
/// Invariant: `smallestKey <= largestKey` in full-key order; both are encoded full keys.
public struct SstInfo: Sendable, Hashable, Codable {
    /// Unique across the store's lifetime: high 32 bits are the writer's session
    /// (its manifest open sequence), low 32 bits a per-session counter.
    public var id: UInt64
    public var fileSize: UInt64
    public var smallestKey: [UInt8]
    public var largestKey: [UInt8]
    public var minEpoch: Epoch
    public var maxEpoch: Epoch
    public var entryCount: UInt64
    public var tombstoneCount: UInt64
    /// Uncompressed key and value bytes, for amplification statistics.
    public var rawBytes: UInt64

    /// The object path, `data/<id as 16 hex digits>.sst`.
    public var path: String { SstInfo.path(id) }

    public static func path(_ id: UInt64) -> String {
        "data/" + String(id, radix: 16).leftPad(16) + ".sst"
    }

    /// True if `(table, userKey)` may lie inside this SST's key range.
    @inline(__always)
    func mayContain(table: UInt32, userKey: UnsafeRawBufferPointer) -> Bool {
        smallestKey.withUnsafeBytes { FullKey.compareUser($0, table: table, userKey: userKey) } <= 0 &&
            largestKey.withUnsafeBytes { FullKey.compareUser($0, table: table, userKey: userKey) } >= 0
    }

    func encode(into w: inout ByteWriter) {
        w.u64(id)
        w.varint(fileSize)
        w.lengthPrefixed(smallestKey)
        w.lengthPrefixed(largestKey)
        w.varint(minEpoch)
        w.varint(maxEpoch)
        w.varint(entryCount)
        w.varint(tombstoneCount)
        w.varint(rawBytes)
    }

    static func decode(_ r: inout ByteReader) throws -> SstInfo {
        let start = r.position
        let info = SstInfo(
            id: try r.u64("sst id"), fileSize: try r.varint("sst size"),
            smallestKey: try r.lengthPrefixed("smallest key"), largestKey: try r.lengthPrefixed("largest key"),
            minEpoch: try r.varint("min epoch"), maxEpoch: try r.varint("max epoch"),
            entryCount: try r.varint("entry count"), tombstoneCount: try r.varint("tombstone count"),
            rawBytes: try r.varint("raw bytes"))
        guard info.smallestKey.count >= FullKey.overhead, info.largestKey.count >= FullKey.overhead,
              FullKey.compare(info.smallestKey, info.largestKey) <= 0, info.minEpoch <= info.maxEpoch
        else { throw r.corrupt("inconsistent SST info for \(info.path)", at: start) }
        return info
    }
}
