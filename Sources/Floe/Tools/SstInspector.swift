/// Read-only access to one whole SST held in memory, for tools: its summary
/// (footer, properties, filter, index), its blocks and its entries.
///
/// Construction checks the footer, the checksums of the filter, index and
/// properties blocks and the index's coverage of the data region; data blocks
/// are checked (checksum and structure) as they are read. `StoreVerifier.verifySst`
/// adds the cross-checks between data, index, properties and filter.
/// Every failure is a `FloeError` naming the object and a byte offset.
package struct SstInspector: Sendable {
    /// The parsed tail of the SST.
    package let summary: SstSummary
    let bytes: [UInt8]
    let meta: SstMeta

    /// One version stored in a data block.
    package struct Entry: Sendable, Equatable {
        /// The encoded full key.
        package var key: [UInt8]
        /// The table id.
        package var table: UInt32
        /// The user key bytes.
        package var userKey: [UInt8]
        /// The epoch of this version.
        package var epoch: Epoch
        /// True for a delete (tombstone); `value` is then empty.
        package var isTombstone: Bool
        /// The value of a put; empty for a tombstone.
        package var value: [UInt8]
    }

    /// What decoding one data block shows.
    package struct BlockDetail: Sendable, Equatable {
        /// How the block is stored (none when compression did not pay off).
        package var compression: Compression
        /// Stored size including the trailer.
        package var storedSize: Int
        /// Uncompressed payload size.
        package var payloadSize: Int
        /// Entries in the block.
        package var entryCount: Int
        /// Restart points in the block.
        package var restartCount: Int
        /// Encoded full key of the first entry.
        package var firstKey: [UInt8]
        /// Encoded full key of the last entry.
        package var lastKey: [UInt8]
    }

    /// Parses the SST in `bytes`; `object` names it in errors.
    /// - Throws: `FloeError.corruption` or `FloeError.unsupportedFormat`.
    package init(bytes: [UInt8], object: String) throws {
        guard bytes.count >= SstFooter.size else {
            throw FloeError.corruption(object: object, offset: 0,
                                       reason: "SST of \(bytes.count) bytes is shorter than its \(SstFooter.size)-byte footer")
        }
        let footerStart = bytes.count - SstFooter.size
        let footer = try SstFooter.decode(Array(bytes[footerStart...]), object: object, fileSize: bytes.count)
        let tail = Array(bytes[Int(footer.filterOffset)..<footerStart])
        let meta = try SstMeta(id: 0, object: object, footer: footer, tail: tail, fileSize: bytes.count)
        self.bytes = bytes
        self.meta = meta
        // The version field sits after the three handles (3 x (u64 + u32) = 36 bytes).
        summary = SstSummary(meta: meta, fileSize: bytes.count, formatVersion: loadLE32(bytes, footerStart + 36))
    }

    /// Number of data blocks.
    package var blockCount: Int { meta.blockCount }

    /// Checksum-verifies, decompresses and validates data block `i`.
    func block(_ i: Int) throws -> (block: Block, compression: Compression) {
        let off = meta.blockOffsets[i], size = meta.blockSizes[i]
        let payload = try BlockCodec.open(bytes, range: off..<(off + size), object: meta.object, objectOffset: off)
        // BlockCodec.open has validated the compression byte.
        let compression = Compression(rawValue: bytes[off + size - BlockCodec.trailerSize]) ?? .none
        return (try Block(payload, dataBlock: true, checkOrder: true, object: meta.object, offset: off), compression)
    }

    /// Decodes data block `i` and describes it.
    /// - Throws: `FloeError.corruption` naming the block's offset.
    package func blockDetail(_ i: Int) throws -> BlockDetail {
        let (b, compression) = try block(i)
        var c = BlockCursor(b)
        c.seekToFirst()
        let first = c.key
        var last = first
        while c.advance() { last = c.key }
        return BlockDetail(compression: compression, storedSize: meta.blockSizes[i], payloadSize: b.data.count,
                           entryCount: b.entryCount, restartCount: b.restartCount, firstKey: first, lastKey: last)
    }

    /// The entries of data block `i`, in order.
    /// - Throws: `FloeError.corruption` naming the block's offset.
    package func entries(block i: Int) throws -> [Entry] {
        var out: [Entry] = []
        var c = BlockCursor(try block(i).block)
        c.seekToFirst()
        while c.valid {
            out.append(c.key.withUnsafeBytes { k in
                Entry(key: c.key, table: FullKey.table(k), userKey: Array(FullKey.userKey(k)), epoch: FullKey.epoch(k),
                      isTombstone: c.kind == ValueKind.delete, value: Array(c.userValue))
            })
            c.advance()
        }
        return out
    }

    /// The first `limit` entries in file order (all of them when `limit` is nil).
    /// - Throws: `FloeError.corruption` for the first damaged block reached.
    package func entries(limit: Int? = nil) throws -> [Entry] {
        var out: [Entry] = []
        let max = limit ?? Int.max
        for i in 0..<meta.blockCount where out.count < max {
            out.append(contentsOf: try entries(block: i).prefix(max - out.count))
        }
        return out
    }
}
