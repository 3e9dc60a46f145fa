/// The parsed index, filter and properties of one SST, as kept in the meta cache.
///
/// The index is flattened into contiguous arrays (all last-keys in one buffer)
/// so a lookup is a binary search without per-entry objects.
final class SstMeta: Sendable {
    let id: UInt64
    let object: String
    let footer: SstFooter
    let properties: SstProperties
    let filter: BloomFilter?
    /// Built without its filter, though the file has one (`SstMetadataCache.metaSkippingFilter`):
    /// gets skip the bloom check, which is slower but never wrong, until
    /// `SstMetadataCache.adoptFilter` swaps in the meta with the filter.
    let filterPending: Bool
    /// Concatenated last-keys of each data block; block i's key is `keyBytes[keyStarts[i]..<keyStarts[i+1]]`.
    let keyBytes: [UInt8]
    let keyStarts: [Int32]
    /// Per block: table and first 8 user-key bytes (big-endian, zero-padded) of its
    /// last key, and where that key starts in `keyBytes`, side by side (16 bytes):
    /// the binary search reads one dense array and touches the full key only on a
    /// tie, which saves most cache misses.
    let keyHeads: [Block.RestartKey]
    let blockOffsets: [Int]
    let blockSizes: [Int]
    let charge: Int

    var blockCount: Int { blockOffsets.count }

    /// Whether the file may hold a key with this bloom hash (true without a filter).
    @inline(__always)
    func mayContain(_ hash: UInt64) -> Bool { filter?.mayContain(hash) ?? true }

    /// Parses the tail of an SST. Without `known`, `tail` holds the object bytes
    /// from `footer.filterOffset` to the footer; with it (a filter loaded alone, whose
    /// footer must be `footer`), from `footer.indexOffset`, and the filter is reused.
    /// `filterPending`: `known` holds no filter only because it was not read.
    /// Throws `FloeError.corruption` for any check of docs/format.md §5.5 that fails.
    init(id: UInt64, object: String, footer: SstFooter, tail: [UInt8], fileSize: Int, filter known: SstFilter? = nil,
         filterPending: Bool = false) throws {
        self.id = id
        self.object = object
        self.footer = footer
        self.filterPending = filterPending
        let base = Int(known == nil ? footer.filterOffset : footer.indexOffset)
        guard tail.count == fileSize - SstFooter.size - base else {
            throw FloeError.corruption(object: object, offset: base, reason: "SST tail of \(tail.count) bytes, the footer places it at \(base)..<\(fileSize - SstFooter.size)")
        }
        filter = try known.map(\.filter) ?? SstFilter.decode(tail, range: 0..<Int(footer.filterSize), footer: footer, object: object)
        let pr = Int(footer.propertiesOffset) - base
        let propsPayload = try BlockCodec.open(tail, range: pr..<(pr + Int(footer.propertiesSize)), object: object, objectOffset: Int(footer.propertiesOffset))
        properties = try SstProperties.decode(propsPayload, object: object, offset: Int(footer.propertiesOffset), formatVersion: footer.version)

        let ir = Int(footer.indexOffset) - base
        let stored = ir..<(ir + Int(footer.indexSize))
        let index: SstIndex
        if stored.count >= BlockCodec.trailerSize, tail[stored.upperBound - BlockCodec.trailerSize] == Compression.none.rawValue {
            // The usual case: parse the payload where it was read.
            try BlockCodec.verify(tail, range: stored, object: object, objectOffset: Int(footer.indexOffset))
            index = try SstIndex(tail, payload: ir..<(stored.upperBound - BlockCodec.trailerSize), footer: footer,
                                 blockCount: properties.dataBlockCount, object: object, fileSize: fileSize)
        } else {
            let payload = try BlockCodec.open(tail, range: stored, object: object, objectOffset: Int(footer.indexOffset))
            index = try SstIndex(payload, payload: 0..<payload.count, footer: footer,
                                 blockCount: properties.dataBlockCount, object: object, fileSize: fileSize)
        }
        keyBytes = index.keys
        keyStarts = index.starts
        keyHeads = index.heads
        blockOffsets = index.offsets
        blockSizes = index.sizes
        charge = Self.charge(keyBytes: keyBytes.count, blocks: blockOffsets.count, filter: filter)
            + (properties.prefixFilter?.encodedSize ?? 0)
    }

    /// `meta` with `filter` in place of none: what `SstMetadataCache` puts in the meta
    /// cache for a meta built with its filter pending. The index arrays are shared.
    init(_ meta: SstMeta, filter: BloomFilter?) {
        id = meta.id
        object = meta.object
        footer = meta.footer
        properties = meta.properties
        self.filter = filter
        filterPending = false
        keyBytes = meta.keyBytes
        keyStarts = meta.keyStarts
        keyHeads = meta.keyHeads
        blockOffsets = meta.blockOffsets
        blockSizes = meta.blockSizes
        charge = Self.charge(keyBytes: keyBytes.count, blocks: blockOffsets.count, filter: filter)
            + (properties.prefixFilter?.encodedSize ?? 0)
    }

    private static func charge(keyBytes: Int, blocks: Int, filter: BloomFilter?) -> Int {
        keyBytes + blocks * (4 + 32) + (filter?.encodedSize ?? 0) + 256
    }

    /// The first block whose last key is >= the target, or nil if the target is past the file.
    func blockIndex(table: UInt32, userKey: UnsafeRawBufferPointer, epoch: Epoch) -> Int? {
        let prefix = KeyPrefix.of(userKey)
        return keyBytes.withUnsafeBytes { kb in
            keyHeads.withUnsafeBufferPointer { heads in
                var lo = 0, hi = heads.count
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    let h = heads[mid]
                    let less: Bool
                    if h.table != table {
                        less = h.table < table
                    } else if h.prefix != prefix {
                        less = h.prefix < prefix
                    } else {
                        // The key ends where the next one starts (the next head is adjacent in memory).
                        let end = mid + 1 < heads.count ? Int(heads[mid + 1].offset) : kb.count
                        let k = UnsafeRawBufferPointer(rebasing: kb[Int(h.offset)..<end])
                        less = FullKey.compare(k, table: table, userKey: userKey, epoch: epoch) < 0
                    }
                    if less { lo = mid + 1 } else { hi = mid }
                }
                return lo < heads.count ? lo : nil
            }
        }
    }

    /// Whether block `i`'s last key is below the encoded full key `target` (the
    /// block cannot hold a key at or after it). Requires `0 <= i < blockCount`.
    func blockEndsBefore(_ i: Int, _ target: [UInt8]) -> Bool {
        target.withUnsafeBytes { t in
            keyBytes.withUnsafeBytes { kb in
                FullKey.compare(UnsafeRawBufferPointer(rebasing: kb[Int(keyStarts[i])..<Int(keyStarts[i + 1])]), t) < 0
            }
        }
    }

    /// The first block whose last key is >= the encoded full key `target`.
    func blockIndex(_ target: [UInt8]) -> Int? {
        target.withUnsafeBytes { t in
            keyBytes.withUnsafeBytes { kb in
                var lo = 0, hi = blockOffsets.count
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    let k = UnsafeRawBufferPointer(rebasing: kb[Int(keyStarts[mid])..<Int(keyStarts[mid + 1])])
                    if FullKey.compare(k, t) < 0 { lo = mid + 1 } else { hi = mid }
                }
                return lo < blockOffsets.count ? lo : nil
            }
        }
    }
}
