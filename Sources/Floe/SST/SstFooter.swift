/// The fixed 56-byte tail of every SST: where the filter, index and properties
/// blocks are, the format version, a checksum over the footer and the magic.
struct SstFooter: Equatable {
    static let size = 56
    static let magic: UInt64 = 0x3154_5353_454F_4C46 // "FLOESST1" little-endian
    /// Written by this version: 3 (partitioned bloom filters), or 4 for a file with
    /// a prefix filter (`SstProperties.prefixFilter`; the properties block carries it
    /// after the fields of version 3). Version 2 (blocked filters) and 1 (standard
    /// filters) files are still read.
    static let formatVersion: UInt32 = 3
    static let prefixFilterVersion: UInt32 = 4
    static let readableVersions: ClosedRange<UInt32> = 1...4

    var filterOffset: UInt64
    var filterSize: UInt32
    var indexOffset: UInt64
    var indexSize: UInt32
    var propertiesOffset: UInt64
    var propertiesSize: UInt32
    /// The format version the file was written in.
    var version: UInt32 = SstFooter.formatVersion

    func encode(into out: inout [UInt8]) {
        var w = ByteWriter(capacity: SstFooter.size)
        w.u64(filterOffset); w.u32(filterSize)
        w.u64(indexOffset); w.u32(indexSize)
        w.u64(propertiesOffset); w.u32(propertiesSize)
        w.u32(version)
        w.u64(Checksum.xxh3(w.bytes))
        w.u64(SstFooter.magic)
        out.append(contentsOf: w.bytes)
    }

    /// Reads and decodes the footer of `object` (one ranged read of its last 56 bytes).
    static func load(store: any ObjectStore, object: String, fileSize: Int) async throws -> SstFooter {
        guard fileSize >= size else {
            throw FloeError.corruption(object: object, offset: 0, reason: "SST of \(fileSize) bytes is shorter than its footer")
        }
        let bytes = try await store.get(object, range: (fileSize - size)..<fileSize)
        return try decode(bytes, object: object, fileSize: fileSize)
    }

    /// Decodes the footer from the last 56 bytes of an object of `fileSize` bytes.
    static func decode(_ b: [UInt8], object: String, fileSize: Int) throws -> SstFooter {
        let base = fileSize - size
        guard b.count == size else {
            throw FloeError.corruption(object: object, offset: max(0, base), reason: "SST footer truncated: \(b.count) of \(size) bytes")
        }
        var r = ByteReader(b, object: object, base: base)
        var f = SstFooter(filterOffset: try r.u64(), filterSize: try r.u32(), indexOffset: try r.u64(),
                          indexSize: try r.u32(), propertiesOffset: try r.u64(), propertiesSize: try r.u32())
        let version = try r.u32()
        f.version = version
        let stored = try r.u64()
        let magic = try r.u64()
        guard magic == SstFooter.magic else { throw r.corrupt("bad SST magic \(hex(magic))", at: 48) }
        guard stored == Checksum.xxh3(b, 0..<40) else { throw r.corrupt("SST footer checksum mismatch", at: 40) }
        guard readableVersions.contains(version) else { throw FloeError.unsupportedFormat(object: object, version: version) }
        // The three meta blocks are contiguous, in this order, right before the footer.
        // Offsets are bounded first so the sums below cannot overflow.
        guard base >= 0, f.filterOffset <= UInt64(base), f.indexOffset <= UInt64(base), f.propertiesOffset <= UInt64(base),
              f.filterOffset + UInt64(f.filterSize) == f.indexOffset,
              f.indexOffset + UInt64(f.indexSize) == f.propertiesOffset,
              f.propertiesOffset + UInt64(f.propertiesSize) == UInt64(base)
        else { throw r.corrupt("SST footer block handles are inconsistent", at: 0) }
        return f
    }
}
