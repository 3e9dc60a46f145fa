/// Thin entry points into Floe internals for the micro-benchmarks in
/// `Benchmarks/Micro` (`@_spi(Benchmarks) import Floe`). Not part of the API:
/// nothing here is stable, and nothing in the store uses it.
///
/// Each wrapper forwards to the internal operation it is named after and adds
/// nothing else, so a benchmark measures that operation plus one cross-module
/// call (a few nanoseconds; the wrappers are deliberately not `@inlinable`,
/// which would force the internals they call to become `@usableFromInline`).
/// The one exception is `compareFullKeys`: `FullKey.compare` is already
/// `@inlinable`, so its wrapper inlines into the benchmark as it does in Floe.
@_spi(Benchmarks)
public enum BenchmarkSupport {
    // MARK: Keys

    /// The encoded full key `[table: u32 BE][userKey][epoch: u64 BE]`.
    public static func encodeFullKey(table: UInt32, userKey: [UInt8], epoch: UInt64) -> [UInt8] {
        FullKey.encode(table: TableID(table), userKey: userKey, epoch: epoch)
    }

    /// `FullKey.compare` of two encoded full keys: negative, zero or positive.
    @inlinable
    public static func compareFullKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        FullKey.compare(a, b)
    }

    /// The point-read and filter hash of `(table, key)`.
    public static func keyHash(table: UInt32, key: UnsafeRawBufferPointer) -> UInt64 {
        KeyHash.of(table: TableID(table), key: key)
    }

    // MARK: Memtable

    /// A `MutableMemtable` of one epoch.
    public struct Memtable {
        var memtable: MutableMemtable

        public init(epoch: UInt64) {
            memtable = MutableMemtable(epoch: epoch)
        }

        /// `MutableMemtable.insert` of a put; returns the memory the write added.
        @discardableResult
        public mutating func put(table: UInt32, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int {
            memtable.insert(table: table, key: key, kind: ValueKind.put, value: value)
        }

        /// Number of live entries.
        public var count: Int { memtable.count }
    }

    // MARK: Blocks

    /// A reusable `BlockBuilder` producing data blocks.
    public struct BlockBuilder {
        var builder: Floe.BlockBuilder

        public init(restartInterval: Int = 16, capacity: Int = 4096) {
            builder = Floe.BlockBuilder(restartInterval: restartInterval, capacity: capacity)
        }

        /// Appends a put of `value` under the encoded full key `key` (keys in increasing order).
        public mutating func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
            builder.add(key: key, valuePrefix: ValueKind.put, value: value)
        }

        /// Bytes the block would take if finished now.
        public var estimatedSize: Int { builder.estimatedSize }

        /// The finished block payload; the builder is reset for reuse.
        public mutating func finish() -> [UInt8] {
            builder.finish()
        }
    }

    /// A decoded, validated data block as the block cache holds it.
    public struct DecodedBlock: Sendable {
        let block: Block

        init(block: Block) {
            self.block = block
        }

        /// Decodes and validates a payload made by `BlockBuilder.finish()`.
        public init(payload: [UInt8]) throws {
            block = try Block(payload, dataBlock: true, object: "benchmark", offset: 0)
        }

        public var entryCount: Int { block.entryCount }
        public var byteCount: Int { block.data.count }

        /// `Block.pointLookup`: the value length of the newest version of
        /// `(table, userKey)` at or below `epoch`, or -1 if the block does not hold it.
        public func pointLookup(table: UInt32, userKey: UnsafeRawBufferPointer, epoch: UInt64) -> Int {
            switch block.pointLookup(table: table, userKey: userKey, epoch: epoch) {
            case let .found(_, value): return value.count
            case .absent, .pastEnd: return -1
            }
        }
    }

    // MARK: Filter

    /// A `BloomFilter` built from key hashes (see `keyHash`).
    public struct Bloom: Sendable {
        let filter: BloomFilter

        public init(hashes: [UInt64], bitsPerKey: Int) {
            filter = BloomFilter.build(hashes: hashes, bitsPerKey: bitsPerKey)
        }

        /// `BloomFilter.mayContain`.
        public func mayContain(_ hash: UInt64) -> Bool {
            filter.mayContain(hash)
        }
    }

    // MARK: Block cache

    /// A `ShardedLRUCache` of decoded blocks, keyed like the store's block cache.
    public struct BlockCache: Sendable {
        let cache: ShardedLRUCache<BlockKey, Block>

        public init(capacityBytes: Int) {
            cache = ShardedLRUCache(capacityBytes: capacityBytes)
        }

        public func insert(sst: UInt64, block: Int, _ value: DecodedBlock, charge: Int) {
            cache.insert(BlockKey(sst: sst, block: block), value.block, charge: charge)
        }

        /// `ShardedLRUCache.get`: the cached block, made most recently used.
        public func get(sst: UInt64, block: Int) -> DecodedBlock? {
            guard let b = cache.get(BlockKey(sst: sst, block: block)) else { return nil }
            return DecodedBlock(block: b)
        }
    }

    // MARK: SST meta

    /// The tail of an SST of sorted random 16 B keys with 100 B values, written
    /// with default options, as a cold get reads it after one filter partition
    /// passed the file (`SstMetadataCache.metaSkippingFilter`): index and properties.
    public struct SstIndexTail: Sendable {
        let footer: SstFooter
        let tail: [UInt8]
        let fileSize: Int

        public init(keys: Int, seed: UInt64) throws {
            var w = SstWriter(id: 1, options: SstWriterOptions())
            var state = seed | 1
            var all = [[UInt8]]()
            all.reserveCapacity(keys)
            for _ in 0..<keys {
                var k = [UInt8]()
                for _ in 0..<2 {
                    state ^= state >> 12; state ^= state << 25; state ^= state >> 27
                    withUnsafeBytes(of: (state &* 0x2545_F491_4F6C_DD1D).bigEndian) { k.append(contentsOf: $0) }
                }
                all.append(k)
            }
            all.sort { $0.lexicographicallyPrecedes($1) }
            let value = [UInt8](repeating: 0x5A, count: 100)
            for k in all {
                k.withUnsafeBytes { kb in value.withUnsafeBytes { w.add(table: 1, userKey: kb, epoch: 7, kind: ValueKind.put, value: $0) } }
            }
            let bytes = w.finish().bytes
            fileSize = bytes.count
            footer = try SstFooter.decode(Array(bytes[(fileSize - SstFooter.size)...]), object: "benchmark", fileSize: fileSize)
            tail = Array(bytes[Int(footer.indexOffset)..<(fileSize - SstFooter.size)])
        }

        /// Bytes of the index block.
        public var indexBytes: Int { Int(footer.indexSize) }

        /// Parses the tail into an `SstMeta` with its filter pending; returns the block count.
        public func parse() throws -> Int {
            try SstMeta(id: 1, object: "benchmark", footer: footer, tail: tail, fileSize: fileSize,
                        filter: SstFilter(id: 1, filter: nil, footer: footer), filterPending: true).blockCount
        }
    }
}
