/// Builds one SST in memory, block by block, from entries added in full-key order.
///
/// Layout: data blocks, filter block, index block, properties block (each in the
/// `BlockCodec` envelope), then the 56-byte `SstFooter`. See docs/format.md.
struct SstWriter {
    let id: UInt64
    let options: SstWriterOptions
    private(set) var out: [UInt8] = []
    private var block: BlockBuilder
    private var index: BlockBuilder
    private var hashes: [UInt64] = []
    /// Prefix filter: `options.prefixFilterLengths` by raw table id (empty: none is built),
    /// the tables met so far that have one, and the hashes of their distinct prefixes.
    private let prefixLengths: [UInt32: Int]
    private var prefixTables: [PrefixFilterTable] = []
    private var prefixHashes: [UInt64] = []
    /// The table of the last new user key and its prefix length (0: no prefix filter),
    /// so a run of keys of one table looks the length up once.
    private var prefixTable: UInt32?
    private var prefixLength = 0
    private var props = SstProperties()
    private var scratch: [UInt8] = []
    /// Compressed block before it is appended to `out`.
    private var compressed: [UInt8] = []
    private var lastKey: [UInt8] = []
    private var firstKey: [UInt8] = []
    private let zstd: ZstdContext?
    /// Footer version to write; 1 (standard filter) and 2 (blocked filter) only to test that older files still read.
    private let formatVersion: UInt32
    /// With `retainBlocks`: each data block's file offset and uncompressed payload,
    /// so the caller can put the new file's blocks in the block cache.
    private(set) var retainedBlocks: [(offset: Int, payload: [UInt8])]?

    /// `expectedBytes`: about how big the file will get (its input's size, or the
    /// target size when the input is bigger). Reserving that up front spares the
    /// buffer its doublings: each copies everything so far, and a large buffer is
    /// fresh memory the kernel has to zero again.
    /// `buffer`: storage to build the file in (its contents are discarded), typically
    /// from `SstBufferPool`; its capacity is kept.
    init(id: UInt64, options: SstWriterOptions, retainBlocks: Bool = false, expectedBytes: Int? = nil,
         formatVersion: UInt32 = SstFooter.formatVersion, buffer: consuming [UInt8] = []) {
        self.id = id
        self.formatVersion = formatVersion
        self.options = options
        prefixLengths = options.bloomBitsPerKey > 0
            ? Dictionary(uniqueKeysWithValues: options.prefixFilterLengths.map { ($0.key.raw, $0.value) }) : [:]
        retainedBlocks = retainBlocks ? [] : nil
        block = BlockBuilder(restartInterval: options.restartInterval, capacity: options.blockSize)
        index = BlockBuilder(restartInterval: 1, capacity: 4096)
        props.compression = options.compression
        zstd = options.compression == .zstd ? ZstdContext() : nil
        out = consume buffer
        out.removeAll(keepingCapacity: true)
        let expected = min(options.targetFileSize, expectedBytes ?? (4 << 20))
        // Headroom for the block that crosses the target, the filter and the index.
        out.reserveCapacity(expected + expected / 16 + 2 * options.blockSize + 4096)
    }

    var isEmpty: Bool { props.entryCount == 0 }
    var estimatedSize: Int { out.count + block.estimatedSize + hashes.count * options.bloomBitsPerKey / 8 }

    /// Adds one version. Caller guarantees strictly increasing full-key order.
    mutating func add(table: UInt32, userKey: UnsafeRawBufferPointer, epoch: Epoch, kind: UInt8, value: UnsafeRawBufferPointer) {
        FullKey.encode(table: TableID(table), userKey: userKey, epoch: epoch, into: &scratch)
        let encoded = scratch
        encoded.withUnsafeBytes { add(encodedKey: $0, kind: kind, value: value) }
    }

    /// Adds one version given its encoded full key (the compaction path: no re-encoding).
    mutating func add(encodedKey key: UnsafeRawBufferPointer, kind: UInt8, value: UnsafeRawBufferPointer) {
        let prefix = FullKey.prefix(key)
        let newUserKey = props.entryCount == 0 ||
            lastKey.withUnsafeBytes { FullKey.compareBytes(FullKey.prefix($0), prefix) } != 0
        if newUserKey {
            hashes.append(KeyHash.of(table: TableID(FullKey.table(key)), key: FullKey.userKey(key)))
            props.distinctUserKeys += 1
            if !prefixLengths.isEmpty { addPrefix(key) }
        }
        if props.entryCount == 0 { firstKey = Array(key) }
        block.add(key: key, valuePrefix: kind, value: value)
        props.entryCount += 1
        if kind == ValueKind.delete { props.tombstoneCount += 1 }
        let epoch = FullKey.epoch(key)
        props.minEpoch = min(props.minEpoch, epoch)
        props.maxEpoch = max(props.maxEpoch, epoch)
        props.rawKeyBytes += UInt64(key.count)
        props.rawValueBytes += UInt64(value.count + 1)
        lastKey.removeAll(keepingCapacity: true)
        lastKey.append(contentsOf: key)
        if block.estimatedSize >= options.blockSize { flushBlock() }
    }

    /// Hashes the prefix of a new user key (encoded full key `key`) into the prefix
    /// filter when its table has one. Keys are added in order, so equal prefixes are
    /// adjacent and each distinct prefix is hashed once.
    private mutating func addPrefix(_ key: UnsafeRawBufferPointer) {
        let table = FullKey.table(key)
        if table != prefixTable {
            prefixTable = table
            prefixLength = prefixLengths[table] ?? 0
            if prefixLength > 0 { prefixTables.append(PrefixFilterTable(table: table, length: prefixLength)) }
        }
        let user = FullKey.userKey(key)
        guard prefixLength > 0, user.count >= prefixLength else { return }
        let h = KeyHash.of(table: TableID(table), key: UnsafeRawBufferPointer(rebasing: user[0..<prefixLength]))
        if prefixHashes.last != h { prefixHashes.append(h) }
    }

    /// True when the last added key's user key differs from `(table, userKey)`: a safe file cut point.
    func isNewUserKey(table: UInt32, userKey: UnsafeRawBufferPointer) -> Bool {
        props.entryCount == 0 || lastKey.withUnsafeBytes { FullKey.compareUser($0, table: table, userKey: userKey) } != 0
    }

    private mutating func flushBlock() {
        guard !block.isEmpty else { return }
        let lastInBlock = block.lastAddedKey
        let payload = block.finish()
        let offset = out.count
        let size = BlockCodec.append(payload, compression: options.compression, to: &out, scratch: &compressed, zstd: zstd)
        retainedBlocks?.append((offset, payload))
        var v = ByteWriter(capacity: 12)
        v.varint(offset)
        v.varint(size)
        index.add(key: lastInBlock, value: v.bytes)
        props.dataBlockCount += 1
    }

    /// Finishes the file. Returns its bytes and the manifest record describing it.
    mutating func finish() -> (bytes: [UInt8], info: SstInfo) {
        flushBlock()
        props.smallestKey = firstKey
        props.largestKey = lastKey
        var version = formatVersion
        if !prefixTables.isEmpty {
            props.prefixTables = prefixTables
            props.prefixFilter = BloomFilter.build(hashes: prefixHashes, bitsPerKey: options.bloomBitsPerKey, layout: .blocked)
            version = max(version, SstFooter.prefixFilterVersion)
        }
        let filterOffset = out.count
        var fw = ByteWriter()
        if options.bloomBitsPerKey > 0 {
            BloomFilter.build(hashes: hashes, bitsPerKey: options.bloomBitsPerKey, layout: SstFilter.layout(forVersion: version)).encode(into: &fw)
        }
        let filterSize = BlockCodec.append(fw.bytes, compression: .none, to: &out)
        let indexOffset = out.count
        let indexSize = BlockCodec.append(index.finish(), compression: .none, to: &out)
        let propsOffset = out.count
        let propsSize = BlockCodec.append(props.encode(), compression: .none, to: &out)
        SstFooter(filterOffset: UInt64(filterOffset), filterSize: UInt32(filterSize),
                  indexOffset: UInt64(indexOffset), indexSize: UInt32(indexSize),
                  propertiesOffset: UInt64(propsOffset), propertiesSize: UInt32(propsSize), version: version).encode(into: &out)
        let info = SstInfo(id: id, fileSize: UInt64(out.count), smallestKey: firstKey, largestKey: lastKey,
                           minEpoch: props.minEpoch, maxEpoch: props.maxEpoch, entryCount: props.entryCount,
                           tombstoneCount: props.tombstoneCount, rawBytes: props.rawKeyBytes + props.rawValueBytes)
        // Hand the bytes over unshared, so the caller can pool the buffer after the upload.
        let bytes = out
        out = []
        return (bytes, info)
    }
}
