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

    /// Parses the tail of an SST. `tail` holds the object bytes from `footer.filterOffset` to the end.
    init(id: UInt64, object: String, footer: SstFooter, tail: [UInt8], fileSize: Int) throws {
        self.id = id
        self.object = object
        self.footer = footer
        let base = Int(footer.filterOffset)
        filter = try SstFilter.decode(tail, range: 0..<Int(footer.filterSize), footer: footer, object: object)
        let ir = Int(footer.indexOffset) - base
        let indexPayload = try BlockCodec.open(tail, range: ir..<(ir + Int(footer.indexSize)), object: object, objectOffset: Int(footer.indexOffset))
        let pr = Int(footer.propertiesOffset) - base
        let propsPayload = try BlockCodec.open(tail, range: pr..<(pr + Int(footer.propertiesSize)), object: object, objectOffset: Int(footer.propertiesOffset))
        properties = try SstProperties.decode(propsPayload, object: object, offset: Int(footer.propertiesOffset))

        let indexBlock = try Block(indexPayload, dataBlock: false, checkOrder: true, object: object, offset: Int(footer.indexOffset))
        var cursor = BlockCursor(indexBlock)
        cursor.seekToFirst()
        var keys = [UInt8](), starts: [Int32] = [0], offsets = [Int](), sizes = [Int]()
        var expected = 0
        while cursor.valid {
            var r = ByteReader(indexBlock.data, object: object, base: Int(footer.indexOffset), range: cursor.value)
            let off = try r.length("block offset", limit: fileSize)
            let size = try r.length("block size", limit: fileSize)
            guard r.isAtEnd else {
                throw FloeError.corruption(object: object, offset: Int(footer.indexOffset), reason: "index entry of block \(offsets.count) has \(r.remaining) trailing bytes")
            }
            guard off == expected, size >= BlockCodec.trailerSize, off + size <= Int(footer.filterOffset) else {
                throw FloeError.corruption(object: object, offset: Int(footer.indexOffset), reason: "index entry points at \(off)+\(size), expected a block at \(expected)")
            }
            expected = off + size
            keys.append(contentsOf: cursor.key)
            starts.append(Int32(keys.count))
            offsets.append(off)
            sizes.append(size)
            cursor.advance()
        }
        guard expected == Int(footer.filterOffset), UInt64(offsets.count) == properties.dataBlockCount else {
            throw FloeError.corruption(object: object, offset: Int(footer.indexOffset), reason: "index covers \(expected) bytes and \(offsets.count) blocks, data ends at \(footer.filterOffset)")
        }
        keyBytes = keys
        keyStarts = starts
        var heads = [Block.RestartKey]()
        heads.reserveCapacity(offsets.count)
        keys.withUnsafeBytes { kb in
            for i in 0..<offsets.count {
                let k = UnsafeRawBufferPointer(rebasing: kb[Int(starts[i])..<Int(starts[i + 1])])
                heads.append(Block.RestartKey(prefix: MutableMemtable.prefix(FullKey.userKey(k)), table: FullKey.table(k),
                                              offset: UInt32(starts[i])))
            }
        }
        keyHeads = heads
        blockOffsets = offsets
        blockSizes = sizes
        charge = keys.count + starts.count * 4 + offsets.count * 32 + (filter?.encodedSize ?? 0) + 256
    }

    /// The first block whose last key is >= the target, or nil if the target is past the file.
    func blockIndex(table: UInt32, userKey: UnsafeRawBufferPointer, epoch: Epoch) -> Int? {
        let prefix = MutableMemtable.prefix(userKey)
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
