/// Everything the tail of one SST says about it: footer, properties, filter
/// header and block index. Produced by `SstInspector` (parsed) and
/// `StoreVerifier.verifySst` (parsed and checked against the data blocks).
package struct SstSummary: Sendable, Equatable {
    /// Name of the object (or file) the bytes came from.
    package var object: String
    /// Size of the whole SST in bytes.
    package var fileSize: Int
    /// The decoded footer.
    package var footer: Footer
    /// The decoded properties block.
    package var properties: Properties
    /// The bloom filter header, or nil when the SST was built without a filter.
    package var filter: Filter?
    /// The data blocks as the index lists them, in file order.
    package var blocks: [BlockHandle]

    /// Block handles and format version from the fixed-size footer.
    package struct Footer: Sendable, Equatable {
        /// Offset of the filter block; also the end of the data blocks.
        package var filterOffset: Int
        /// Stored size of the filter block (with trailer).
        package var filterSize: Int
        /// Offset of the index block.
        package var indexOffset: Int
        /// Stored size of the index block (with trailer).
        package var indexSize: Int
        /// Offset of the properties block.
        package var propertiesOffset: Int
        /// Stored size of the properties block (with trailer).
        package var propertiesSize: Int
        /// SST format version.
        package var formatVersion: UInt32
        /// Size of the footer itself.
        package var size: Int
    }

    /// The statistics the writer recorded in the properties block.
    package struct Properties: Sendable, Equatable {
        /// Versions stored, tombstones included.
        package var entryCount: UInt64
        /// Tombstones stored.
        package var tombstoneCount: UInt64
        /// Number of data blocks.
        package var dataBlockCount: UInt64
        /// Oldest epoch stored.
        package var minEpoch: Epoch
        /// Newest epoch stored.
        package var maxEpoch: Epoch
        /// Sum of the encoded full-key lengths.
        package var rawKeyBytes: UInt64
        /// Sum of the stored value lengths (kind byte included).
        package var rawValueBytes: UInt64
        /// Distinct `(table, user key)` pairs: the keys the bloom filter holds.
        package var distinctUserKeys: UInt64
        /// The compression the writer asked for; a block that would not shrink is stored uncompressed.
        package var compression: Compression
        /// Encoded full key of the first entry; describe it with `KeyText.describe`.
        package var smallestKey: [UInt8]
        /// Encoded full key of the last entry.
        package var largestKey: [UInt8]
    }

    /// Shape of the bloom filter.
    package struct Filter: Sendable, Equatable {
        /// Probes per key.
        package var hashCount: Int
        /// Size of the bit array in bits.
        package var bitCount: Int
        /// Whether each key's probes stay in one 512-bit block (format versions 2 and 3).
        package var blocked: Bool
        /// Blocks per checksummed partition (format version 3); nil when not partitioned.
        package var partitionBlocks: Int? = nil
    }

    /// Where one data block lies, from the index.
    package struct BlockHandle: Sendable, Equatable {
        /// Byte offset of the block (its envelope) in the SST.
        package var offset: Int
        /// Stored size including the 9-byte trailer.
        package var size: Int
        /// The index key: the encoded full key of the block's last entry.
        package var lastKey: [UInt8]
    }
}

extension SstSummary {
    init(meta: SstMeta, fileSize: Int, formatVersion: UInt32) {
        let f = meta.footer, p = meta.properties
        object = meta.object
        self.fileSize = fileSize
        footer = Footer(filterOffset: Int(f.filterOffset), filterSize: Int(f.filterSize),
                        indexOffset: Int(f.indexOffset), indexSize: Int(f.indexSize),
                        propertiesOffset: Int(f.propertiesOffset), propertiesSize: Int(f.propertiesSize),
                        formatVersion: formatVersion, size: SstFooter.size)
        properties = Properties(entryCount: p.entryCount, tombstoneCount: p.tombstoneCount,
                                dataBlockCount: p.dataBlockCount, minEpoch: p.minEpoch, maxEpoch: p.maxEpoch,
                                rawKeyBytes: p.rawKeyBytes, rawValueBytes: p.rawValueBytes,
                                distinctUserKeys: p.distinctUserKeys, compression: p.compression,
                                smallestKey: p.smallestKey, largestKey: p.largestKey)
        filter = meta.filter.map { f in
            var partitionBlocks: Int?
            if case let .partitioned(shift) = f.layout { partitionBlocks = 1 << shift }
            return Filter(hashCount: f.hashCount, bitCount: f.bitCount, blocked: f.blocked, partitionBlocks: partitionBlocks)
        }
        blocks = meta.blockOffsets.indices.map { i in
            BlockHandle(offset: meta.blockOffsets[i], size: meta.blockSizes[i],
                        lastKey: Array(meta.keyBytes[Int(meta.keyStarts[i])..<Int(meta.keyStarts[i + 1])]))
        }
    }
}
