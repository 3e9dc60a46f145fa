import Testing
@testable import Floe

/// `SstIndex`, the one-pass decoder of an SST's index block, and the `SstMeta` /
/// `SstMetadataCache.loadMeta` paths that use it (with and without a filter loaded first).
///
/// Expected values never come from the code under test: keys are encoded, varints
/// written and read, the footer parsed and key heads computed by the helpers below,
/// and real SSTs are checked against a walk of their data blocks (offsets from the
/// writer's retained blocks, keys from `Block`/`BlockCursor`) and against the
/// index decoded the way it was before `SstIndex` (a `Block` walked by a cursor).
@Suite struct SstIndexTests {
    static let object = "data/00000000000000a1.sst"

    // MARK: - Independent encoding helpers

    /// `[table u32 BE][userKey][epoch u64 BE]` (docs/format.md §3), written by hand.
    static func fullKey(_ table: UInt32, _ user: [UInt8], _ epoch: UInt64) -> [UInt8] {
        var k = [UInt8]()
        for s: UInt32 in [24, 16, 8, 0] { k.append(UInt8(truncatingIfNeeded: table >> s)) }
        k += user
        for s: UInt64 in [56, 48, 40, 32, 24, 16, 8, 0] { k.append(UInt8(truncatingIfNeeded: epoch >> s)) }
        return k
    }

    static func fullKey(_ table: UInt32, _ user: String, _ epoch: UInt64) -> [UInt8] { fullKey(table, Array(user.utf8), epoch) }

    static func tableOf(_ k: [UInt8]) -> UInt32 { k[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
    static func userOf(_ k: [UInt8]) -> [UInt8] { Array(k[4..<(k.count - 8)]) }
    static func epochOf(_ k: [UInt8]) -> UInt64 { k[(k.count - 8)...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }

    /// First 8 user-key bytes, big-endian, zero-padded: what a key head holds.
    static func headPrefix(_ k: [UInt8]) -> UInt64 {
        let u = userOf(k)
        var p: UInt64 = 0
        for i in 0..<8 { p = p << 8 | UInt64(i < u.count ? u[i] : 0) }
        return p
    }

    /// Full-key order, by hand: (table, user key) bytewise ascending, then epoch descending.
    static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let pa = a[0..<(a.count - 8)], pb = b[0..<(b.count - 8)]
        if pa != pb { return pa.lexicographicallyPrecedes(pb) }
        return epochOf(a) > epochOf(b)
    }

    static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    /// A strict LEB128 reader: nil if it runs past `end` or beyond 64 bits.
    static func readVarint(_ b: ArraySlice<UInt8>, _ at: inout Int, _ end: Int) -> UInt64? {
        var r: UInt64 = 0, shift: UInt64 = 0
        while at < end, shift <= 63 {
            let x = b[at]; at += 1
            if shift == 63 && x > 1 { return nil }
            r |= UInt64(x & 0x7f) << shift
            if x & 0x80 == 0 { return r }
            shift += 7
        }
        return nil
    }

    static func handle(_ offset: UInt64, _ size: UInt64) -> [UInt8] {
        var v = [UInt8]()
        varint(offset, into: &v)
        varint(size, into: &v)
        return v
    }

    static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> Int {
        (0..<n).reversed().reduce(0) { $0 << 8 | Int(b[at + $1]) }
    }

    /// The footer's block handles, parsed by hand (docs/format.md §5.5).
    struct Layout {
        var filterOffset, filterSize, indexOffset, indexSize, propertiesOffset, propertiesSize: Int
        init(_ b: [UInt8]) {
            let f = b.count - 56
            filterOffset = le(b, f, 8); filterSize = le(b, f + 8, 4)
            indexOffset = le(b, f + 12, 8); indexSize = le(b, f + 20, 4)
            propertiesOffset = le(b, f + 24, 8); propertiesSize = le(b, f + 32, 4)
        }
    }

    // MARK: - Random SSTs

    struct UserKey: Hashable { var table: UInt32; var key: [UInt8] }

    struct Built {
        var bytes: [UInt8]
        /// Every full key, in the order added.
        var keys: [[UInt8]]
        var userKeys: [UserKey]
        /// Offset and uncompressed payload of each data block, as the writer retained them.
        var blocks: [(offset: Int, payload: [UInt8])]
        var options: SstWriterOptions
        var describe: String {
            "\(keys.count) versions, \(blocks.count) blocks, blockSize \(options.blockSize), restart \(options.restartInterval), " +
                "\(options.compression), bloom \(options.bloomBitsPerKey)"
        }
    }

    static func randomUserKey(_ rng: inout SplitMix64) -> [UInt8] {
        // A small alphabet (with 0x00 and 0xFF) gives many shared prefixes and prefix keys.
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xff]
        let n = rng.next() % 8 == 0 ? Int.random(in: 60...260, using: &rng) : Int.random(in: 0...14, using: &rng)
        return (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
    }

    static func randomSst(_ rng: inout SplitMix64, id: UInt64, maxUserKeys: Int = 1200) -> Built {
        var o = SstWriterOptions()
        o.blockSize = [256, 300, 512, 1000, 4096].randomElement(using: &rng)!
        o.restartInterval = Int.random(in: 1...24, using: &rng)
        o.compression = Compression.allCases.randomElement(using: &rng)!
        o.bloomBitsPerKey = rng.next() % 4 == 0 ? 0 : Int.random(in: 4...14, using: &rng)
        let tables = Array(([0, 1, 2, 7, 1000, UInt32.max] as [UInt32]).shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng)))
        let want = rng.next() % 6 == 0 ? Int.random(in: 1...3, using: &rng) : Int.random(in: 1...maxUserKeys, using: &rng)
        var set = Set<UserKey>()
        while set.count < want { set.insert(UserKey(table: tables.randomElement(using: &rng)!, key: randomUserKey(&rng))) }
        let users = set.sorted { $0.table != $1.table ? $0.table < $1.table : $0.key.lexicographicallyPrecedes($1.key) }
        let valueCap = [1, 16, 120, 700].randomElement(using: &rng)!

        var w = SstWriter(id: id, options: o, retainBlocks: true)
        var keys: [[UInt8]] = []
        for u in users {
            var epochs = Set<UInt64>()
            let versions = Int.random(in: 1...3, using: &rng)
            while epochs.count < versions {
                epochs.insert(rng.next() % 3 == 0 ? UInt64.random(in: 1...UInt64.max, using: &rng) : UInt64.random(in: 1...300, using: &rng))
            }
            for e in epochs.sorted(by: >) {
                let delete = rng.next() % 10 == 0
                let n = delete ? 0 : Int.random(in: 0..<valueCap, using: &rng)
                let fill = UInt8.random(in: 0...255, using: &rng)
                let value: [UInt8] = rng.next() % 2 == 0
                    ? (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    : (0..<n).map { UInt8(truncatingIfNeeded: Int(fill) &+ $0 % 4) }
                u.key.withUnsafeBytes { k in
                    value.withUnsafeBytes { v in
                        w.add(table: u.table, userKey: k, epoch: e, kind: delete ? ValueKind.delete : ValueKind.put, value: v)
                    }
                }
                keys.append(fullKey(u.table, u.key, e))
            }
        }
        let bytes = w.finish().bytes
        return Built(bytes: bytes, keys: keys, userKeys: users, blocks: w.retainedBlocks ?? [], options: o)
    }

    /// The index decoded the way `SstMeta` did before `SstIndex`: a `Block` (keys order
    /// checked) walked by a cursor, each value read as exactly two varints, then the
    /// checks of docs/format.md §5.6 steps 4 and 5. Nil where any of that fails.
    static func oracleIndex(_ payload: [UInt8], filterOffset: Int, blockCount: UInt64)
        -> (keys: [[UInt8]], offsets: [Int], sizes: [Int])? {
        guard let block = try? Block(payload, dataBlock: false, checkOrder: true, object: object, offset: 0) else { return nil }
        var c = BlockCursor(block)
        c.seekToFirst()
        var keys: [[UInt8]] = [], offsets: [Int] = [], sizes: [Int] = []
        var expected = 0
        while c.valid {
            let value = block.data[c.value]
            var at = value.startIndex
            guard let off = readVarint(value, &at, value.endIndex), let size = readVarint(value, &at, value.endIndex),
                  at == value.endIndex, off == UInt64(expected), size >= 9, off + size <= UInt64(filterOffset) else { return nil }
            expected = Int(off + size)
            keys.append(c.key)
            offsets.append(Int(off))
            sizes.append(Int(size))
            c.advance()
        }
        guard expected == filterOffset, UInt64(keys.count) == blockCount else { return nil }
        return (keys, offsets, sizes)
    }

    /// Whether every array of `m` holds the expected last keys, offsets and sizes.
    static func metaMatches(_ m: SstMeta, keys: [[UInt8]], offsets: [Int], sizes: [Int]) -> Bool {
        guard m.blockOffsets == offsets, m.blockSizes == sizes, m.keyStarts.count == keys.count + 1, m.keyHeads.count == keys.count,
              m.keyBytes == keys.flatMap({ $0 }) else { return false }
        var start = 0
        for (i, k) in keys.enumerated() {
            let h = m.keyHeads[i]
            guard Int(m.keyStarts[i]) == start, h.table == tableOf(k), h.prefix == headPrefix(k), Int(h.offset) == start else { return false }
            start += k.count
        }
        return Int(m.keyStarts[keys.count]) == start
    }

    /// Checks every array of `m` against the expected last keys, offsets and sizes;
    /// returns false (after recording what differs, up to the first differing block) if any differs.
    @discardableResult
    static func expectMeta(_ m: SstMeta, keys: [[UInt8]], offsets: [Int], sizes: [Int], _ ctx: String) -> Bool {
        if metaMatches(m, keys: keys, offsets: offsets, sizes: sizes) { return true }
        Issue.record("\(ctx): the meta's arrays differ from the expected ones")
        #expect(m.blockOffsets == offsets, "\(ctx): block offsets")
        #expect(m.blockSizes == sizes, "\(ctx): block sizes")
        #expect(m.blockCount == keys.count, "\(ctx): block count")
        #expect(m.keyStarts.count == keys.count + 1, "\(ctx): key starts")
        #expect(m.keyHeads.count == keys.count, "\(ctx): key heads")
        guard m.keyStarts.count == keys.count + 1, m.keyHeads.count == keys.count else { return false }
        #expect(m.keyStarts.first == 0 && Int(m.keyStarts.last!) == m.keyBytes.count, "\(ctx): key starts cover keyBytes")
        #expect(m.keyBytes == keys.flatMap { $0 }, "\(ctx): key bytes")
        for (i, k) in keys.enumerated() {
            let s = Int(m.keyStarts[i]), e = Int(m.keyStarts[i + 1])
            guard s <= e, e <= m.keyBytes.count else { Issue.record("\(ctx): key starts \(s)..<\(e) out of range"); return false }
            let h = m.keyHeads[i]
            if Array(m.keyBytes[s..<e]) != k || h.table != tableOf(k) || h.prefix != headPrefix(k) || Int(h.offset) != s {
                #expect(Array(m.keyBytes[s..<e]) == k, "\(ctx): key of block \(i)")
                #expect(h.table == tableOf(k) && h.prefix == headPrefix(k) && Int(h.offset) == s,
                        "\(ctx): head of block \(i): \(h.table) \(h.prefix) \(h.offset), want \(tableOf(k)) \(headPrefix(k)) \(s)")
                return false
            }
        }
        return false
    }

    static func expectSameArrays(_ a: SstMeta, _ b: SstMeta, _ ctx: String) {
        #expect(a.keyBytes == b.keyBytes, "\(ctx): keyBytes differ")
        #expect(a.keyStarts == b.keyStarts, "\(ctx): keyStarts differ")
        #expect(a.blockOffsets == b.blockOffsets, "\(ctx): blockOffsets differ")
        #expect(a.blockSizes == b.blockSizes, "\(ctx): blockSizes differ")
        #expect(a.keyHeads.map(\.table) == b.keyHeads.map(\.table) && a.keyHeads.map(\.prefix) == b.keyHeads.map(\.prefix)
            && a.keyHeads.map(\.offset) == b.keyHeads.map(\.offset), "\(ctx): keyHeads differ")
        #expect(a.properties == b.properties, "\(ctx): properties differ")
        #expect(a.footer == b.footer, "\(ctx): footers differ")
        #expect(a.filter == b.filter, "\(ctx): filters differ")
    }

    /// Loads the meta of `bytes` both ways: footer + tail from the filter, and with a filter loaded alone first.
    static func loadBothWays(_ bytes: [UInt8]) async throws -> (plain: SstMeta, primed: SstMeta, filter: SstFilter) {
        let store = MemoryObjectStore()
        try await store.put(object, bytes)
        let plain = try await SstMetadataCache.loadMeta(store: store, id: 1, object: object, fileSize: bytes.count)
        let filter = try await SstFilter.load(store: store, id: 1, object: object, fileSize: bytes.count)
        let primed = try await SstMetadataCache.loadMeta(store: store, id: 1, object: object, fileSize: bytes.count, filter: filter)
        return (plain, primed, filter)
    }

    // MARK: - 1. Random SSTs against an independent walk

    @Test(arguments: [1, 2, 3, 5, 8, 13, 21, 34] as [UInt64])
    func metaMatchesAnIndependentWalkOfTheDataBlocks(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        for sst in 0..<4 {
            let b = Self.randomSst(&rng, id: UInt64(sst + 1))
            let ctx = "seed \(seed) sst \(sst) (\(b.describe))"
            let bytes = b.bytes
            let lay = Layout(bytes)

            // The data blocks, located by the writer's retained offsets (not by the index).
            #expect(!b.blocks.isEmpty && b.blocks[0].offset == 0, "\(ctx): first block at 0")
            var sizes: [Int] = []
            for i in b.blocks.indices {
                sizes.append((i + 1 < b.blocks.count ? b.blocks[i + 1].offset : lay.filterOffset) - b.blocks[i].offset)
            }
            #expect(sizes.allSatisfy { $0 >= BlockCodec.trailerSize }, "\(ctx): block sizes \(sizes)")
            var walked: [[UInt8]] = [], lastKeys: [[UInt8]] = [], blockOf: [Int] = []
            for (i, blk) in b.blocks.enumerated() {
                let payload = try BlockCodec.open(bytes, range: blk.offset..<(blk.offset + sizes[i]), object: Self.object, objectOffset: blk.offset)
                #expect(payload == blk.payload, "\(ctx): block \(i) payload")
                let block = try Block(payload, dataBlock: true, checkOrder: true, object: Self.object, offset: blk.offset)
                var c = BlockCursor(block)
                c.seekToFirst()
                while c.valid { walked.append(c.key); blockOf.append(i); c.advance() }
                lastKeys.append(walked.last ?? [])
            }
            #expect(walked == b.keys, "\(ctx): the data blocks hold \(walked.count) keys, \(b.keys.count) were added")
            #expect(zip(b.keys, b.keys.dropFirst()).allSatisfy { Self.precedes($0, $1) }, "\(ctx): input keys sorted")

            // The index as the replaced path decoded it must say the same.
            let indexPayload = try BlockCodec.open(bytes, range: lay.indexOffset..<lay.propertiesOffset, object: Self.object, objectOffset: lay.indexOffset)
            let oracle = try #require(Self.oracleIndex(indexPayload, filterOffset: lay.filterOffset, blockCount: UInt64(b.blocks.count)), "\(ctx)")
            #expect(oracle.keys == lastKeys && oracle.offsets == b.blocks.map(\.offset) && oracle.sizes == sizes, "\(ctx): Block-decoded index")

            let (plain, primed, filter) = try await Self.loadBothWays(bytes)
            Self.expectMeta(plain, keys: lastKeys, offsets: b.blocks.map(\.offset), sizes: sizes, "\(ctx) plain")
            Self.expectMeta(primed, keys: lastKeys, offsets: b.blocks.map(\.offset), sizes: sizes, "\(ctx) filter first")
            Self.expectSameArrays(plain, primed, ctx)
            #expect(plain.properties.dataBlockCount == UInt64(b.blocks.count), "\(ctx): dataBlockCount")
            #expect(plain.properties.entryCount == UInt64(b.keys.count), "\(ctx): entryCount")
            #expect((plain.filter == nil) == (b.options.bloomBitsPerKey == 0), "\(ctx): filter present iff bloom enabled")
            #expect(filter.filter == plain.filter, "\(ctx): the filter loaded alone is the meta's filter")

            // Filter answers: every present user key may be there, and both metas agree everywhere.
            for u in b.userKeys {
                let h = KeyHash.of(table: TableID(u.table), key: u.key)
                #expect(plain.filter?.mayContain(h) ?? true, "\(ctx): filter rules out a present key")
                #expect(primed.filter?.mayContain(h) ?? true, "\(ctx): primed filter rules out a present key")
            }
            for _ in 0..<300 {
                let h = KeyHash.of(table: TableID(UInt32.random(in: 0...8, using: &rng)), key: Self.randomUserKey(&rng))
                #expect(plain.filter?.mayContain(h) == primed.filter?.mayContain(h), "\(ctx): filters answer differently")
            }

            // The search over the decoded arrays finds the block that holds each key.
            for m in [plain, primed] {
                var misses = 0, first = ""
                for (j, k) in b.keys.enumerated() {
                    let user = Self.userOf(k)
                    let got = user.withUnsafeBytes { m.blockIndex(table: Self.tableOf(k), userKey: $0, epoch: Self.epochOf(k)) }
                    let byKey = m.blockIndex(k)
                    if got != blockOf[j] || byKey != blockOf[j] {
                        if misses == 0 { first = "key \(j) found in block \(String(describing: got)) / \(String(describing: byKey)), it is in \(blockOf[j])" }
                        misses += 1
                    }
                }
                #expect(misses == 0, "\(ctx): \(misses) keys searched to the wrong block, first: \(first)")
                if let last = b.keys.last, Self.epochOf(last) > 0 {
                    let past = Self.fullKey(Self.tableOf(last), Self.userOf(last), Self.epochOf(last) - 1)
                    #expect(m.blockIndex(past) == nil, "\(ctx): a key after the last one is past the file")
                }
            }
        }
    }

    /// The index block stored compressed (the writer never does it, the reader
    /// accepts it): the meta decodes the same, with and without a filter first.
    @Test(arguments: [Compression.lz4, .zstd])
    func compressedIndexBlockDecodesTheSame(codec: Compression) async throws {
        var o = SstWriterOptions()
        o.blockSize = 256
        var w = SstWriter(id: 1, options: o)
        for i in 0..<2000 {
            let user = Array("user/tenant-0042/session/\(String(i).leftPad(8))".utf8)
            user.withUnsafeBytes { k in [UInt8](repeating: 7, count: 30).withUnsafeBytes { v in
                w.add(table: 3, userKey: k, epoch: 11, kind: ValueKind.put, value: v)
            } }
        }
        let original = w.finish().bytes
        let lay = Layout(original)
        let payload = try BlockCodec.open(original, range: lay.indexOffset..<lay.propertiesOffset, object: Self.object, objectOffset: lay.indexOffset)
        var bytes = Array(original[0..<lay.indexOffset])
        let indexSize = BlockCodec.append(payload, compression: codec, to: &bytes, zstd: codec == .zstd ? ZstdContext() : nil)
        try #require(bytes[lay.indexOffset + indexSize - 9] == codec.rawValue, "\(codec): the index was stored uncompressed")
        let propsOffset = bytes.count
        bytes += original[lay.propertiesOffset..<(lay.propertiesOffset + lay.propertiesSize)]
        SstFooter(filterOffset: UInt64(lay.filterOffset), filterSize: UInt32(lay.filterSize), indexOffset: UInt64(lay.indexOffset),
                  indexSize: UInt32(indexSize), propertiesOffset: UInt64(propsOffset), propertiesSize: UInt32(lay.propertiesSize)).encode(into: &bytes)

        let reference = try await Self.loadBothWays(original)
        let (plain, primed, _) = try await Self.loadBothWays(bytes)
        #expect(plain.blockCount > 50, "\(codec): \(plain.blockCount) blocks")
        let oracle = try #require(Self.oracleIndex(payload, filterOffset: lay.filterOffset, blockCount: UInt64(plain.blockCount)))
        Self.expectMeta(plain, keys: oracle.keys, offsets: oracle.offsets, sizes: oracle.sizes, "\(codec) plain")
        Self.expectMeta(primed, keys: oracle.keys, offsets: oracle.offsets, sizes: oracle.sizes, "\(codec) filter first")
        #expect(plain.keyBytes == reference.plain.keyBytes && plain.blockOffsets == reference.plain.blockOffsets,
                "\(codec): differs from the uncompressed index")
    }

    // MARK: - 2. Hand-built index payloads

    /// One index entry as written: `shared`, the key suffix and the value, with
    /// optional header fields that lie about the lengths.
    struct RawEntry {
        var shared: Int
        var suffix: [UInt8]
        var value: [UInt8]
        var unsharedField: UInt64? = nil
        var valueLengthField: UInt64? = nil
    }

    /// An entry for `key` sharing `shared` bytes with `previous`.
    static func entry(_ key: [UInt8], after previous: [UInt8]? = nil, shared: Int = 0, _ value: [UInt8]) -> RawEntry {
        if let previous { precondition(shared <= previous.count && Array(previous.prefix(shared)) == Array(key.prefix(shared))) }
        return RawEntry(shared: shared, suffix: Array(key[shared...]), value: value)
    }

    /// Offsets of each entry and of the end of the entries.
    static func entryOffsets(_ entries: [RawEntry]) -> [Int] {
        var offs = [0]
        for e in entries {
            var h = [UInt8]()
            varint(UInt64(e.shared), into: &h)
            varint(e.unsharedField ?? UInt64(e.suffix.count), into: &h)
            varint(e.valueLengthField ?? UInt64(e.value.count), into: &h)
            offs.append(offs.last! + h.count + e.suffix.count + e.value.count)
        }
        return offs
    }

    /// The payload: entries, the restart array (`restarts` as raw offsets; by default
    /// the offset of every entry with `shared == 0`), the restart count (by default
    /// the number of restarts), then `tail` bytes right before the restart array.
    static func payload(_ entries: [RawEntry], restarts: [UInt32]? = nil, restartCount: UInt32? = nil,
                        extraEntryBytes: [UInt8] = []) -> [UInt8] {
        var p = [UInt8]()
        for e in entries {
            varint(UInt64(e.shared), into: &p)
            varint(e.unsharedField ?? UInt64(e.suffix.count), into: &p)
            varint(e.valueLengthField ?? UInt64(e.value.count), into: &p)
            p += e.suffix
            p += e.value
        }
        p += extraEntryBytes
        let offs = entryOffsets(entries)
        let rs = restarts ?? entries.indices.filter { entries[$0].shared == 0 }.map { UInt32(offs[$0]) }
        for r in rs { withUnsafeBytes(of: r.littleEndian) { p += $0 } }
        withUnsafeBytes(of: (restartCount ?? UInt32(rs.count)).littleEndian) { p += $0 }
        return p
    }

    // The baseline: five blocks at 0, 100, 250, 450, 459, ending at 1459. Entries 1, 3
    // and 4 share a prefix with the key before them; restarts are entries 0 and 2.
    static let k0 = fullKey(1, "apple", 9)
    static let k1 = fullKey(1, "apple", 3)       // shares table, "apple" and 7 epoch bytes with k0
    static let k2 = fullKey(1, "apricot", 5)
    static let k3 = fullKey(1, "apricots", 1)    // shares table and "apricot" with k2
    static let k4 = fullKey(2, "b", 7)           // shares the 3 high table bytes with k3
    static let baseKeys = [k0, k1, k2, k3, k4]
    static let baseOffsets = [0, 100, 250, 450, 459]
    static let baseSizes = [100, 150, 200, 9, 1000]
    static let dataEnd: UInt64 = 1459
    static let indexOffset = 1468
    static let fileSize = 4096

    static func baseEntries() -> [RawEntry] {
        [entry(k0, handle(0, 100)),
         entry(k1, after: k0, shared: 16, handle(100, 150)),
         entry(k2, handle(250, 200)),
         entry(k3, after: k2, shared: 11, handle(450, 9)),
         entry(k4, after: k3, shared: 3, handle(459, 1000))]
    }

    static func footer(filterOffset: UInt64 = dataEnd) -> SstFooter {
        // SstIndex reads only filterOffset and indexOffset.
        SstFooter(filterOffset: filterOffset, filterSize: 9, indexOffset: UInt64(indexOffset),
                  indexSize: 200, propertiesOffset: UInt64(indexOffset + 200), propertiesSize: 100)
    }

    static func decode(_ p: [UInt8], filterOffset: UInt64 = dataEnd, blockCount: UInt64 = 5, objectSize: Int = fileSize) throws -> SstIndex {
        try SstIndex(p, payload: 0..<p.count, footer: footer(filterOffset: filterOffset), blockCount: blockCount,
                     object: object, fileSize: objectSize)
    }

    static func expectIndex(_ ix: SstIndex, keys: [[UInt8]], offsets: [Int], sizes: [Int], _ ctx: String) {
        #expect(ix.offsets == offsets, "\(ctx): offsets")
        #expect(ix.sizes == sizes, "\(ctx): sizes")
        #expect(ix.keys == keys.flatMap { $0 }, "\(ctx): keys")
        var starts: [Int32] = [0]
        for k in keys { starts.append(starts.last! + Int32(k.count)) }
        #expect(ix.starts == starts, "\(ctx): starts")
        #expect(ix.heads.map(\.table) == keys.map { tableOf($0) }, "\(ctx): head tables")
        #expect(ix.heads.map(\.prefix) == keys.map { headPrefix($0) }, "\(ctx): head prefixes")
        #expect(ix.heads.map { Int32($0.offset) } == Array(starts.dropLast()), "\(ctx): head offsets")
    }

    /// `body` must throw `FloeError.corruption` for the index block whose reason holds every one of `needles`.
    static func expectCorruption(_ label: String, _ needles: [String], _ body: () throws -> SstIndex,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let ix = try body()
            Issue.record("\(label): decoded \(ix.offsets.count) blocks", sourceLocation: sourceLocation)
        } catch let FloeError.corruption(o, offset, reason) {
            #expect(o == object && offset == indexOffset, "\(label): \(o) at \(offset)", sourceLocation: sourceLocation)
            for n in needles {
                #expect(reason.contains(n), "\(label): reason \"\(reason)\" lacks \"\(n)\"", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("\(label): threw \(error), not corruption", sourceLocation: sourceLocation)
        }
    }

    @Test func validPayloadsDecode() throws {
        // The baseline (prefix-compressed entries) decodes to the full keys.
        let base = Self.payload(Self.baseEntries())
        #expect(Self.entryOffsets(Self.baseEntries()).count == 6)
        Self.expectIndex(try Self.decode(base), keys: Self.baseKeys, offsets: Self.baseOffsets, sizes: Self.baseSizes, "baseline")

        // As Floe writes it: every entry a restart with the whole key.
        let whole = Self.baseEntries().enumerated().map { i, e in Self.entry(Self.baseKeys[i], e.value) }
        Self.expectIndex(try Self.decode(Self.payload(whole)), keys: Self.baseKeys, offsets: Self.baseOffsets, sizes: Self.baseSizes, "whole keys")

        // Every entry but the first shares with its predecessor: only restart 0.
        var chained = Self.baseEntries()
        chained[2] = Self.entry(Self.k2, after: Self.k1, shared: 6, chained[2].value)
        Self.expectIndex(try Self.decode(Self.payload(chained)), keys: Self.baseKeys, offsets: Self.baseOffsets, sizes: Self.baseSizes, "one restart")

        // The payload is read where it lies inside a larger buffer.
        let junk: [UInt8] = [0xff, 0x80, 0x00, 0x13, 0x37]
        let framed = junk + base + junk + junk
        let ix = try SstIndex(framed, payload: junk.count..<(junk.count + base.count), footer: Self.footer(), blockCount: 5,
                              object: Self.object, fileSize: Self.fileSize)
        Self.expectIndex(ix, keys: Self.baseKeys, offsets: Self.baseOffsets, sizes: Self.baseSizes, "framed")

        // One block, with a key of exactly FullKey.overhead bytes (empty user key) and multi-byte varints.
        let one = Self.payload([Self.entry(Self.fullKey(UInt32.max, [], UInt64.max), Self.handle(0, 300_000))])
        Self.expectIndex(try Self.decode(one, filterOffset: 300_000, blockCount: 1, objectSize: 400_000), keys: [Self.fullKey(UInt32.max, [], UInt64.max)],
                         offsets: [0], sizes: [300_000], "single")
        // Keys that differ only in the epoch (descending) and a user key that is a prefix of the next.
        let ks = [Self.fullKey(5, "ab", 200), Self.fullKey(5, "ab", 199), Self.fullKey(5, "abc", 500), Self.fullKey(5, "abc\u{0}", 1)]
        let es = [Self.entry(ks[0], Self.handle(0, 9)), Self.entry(ks[1], after: ks[0], shared: 13, Self.handle(9, 9)),
                  Self.entry(ks[2], after: ks[1], shared: 6, Self.handle(18, 9)), Self.entry(ks[3], after: ks[2], shared: 7, Self.handle(27, 9))]
        Self.expectIndex(try Self.decode(Self.payload(es), filterOffset: 36, blockCount: 4), keys: ks, offsets: [0, 9, 18, 27],
                         sizes: [9, 9, 9, 9], "epochs and prefixes")
    }

    @Test func malformedPayloadsAreCorruption() throws {
        let base = Self.baseEntries()
        let offs = Self.entryOffsets(base)
        let end = UInt32(offs[5])
        // The baseline itself is valid: each case below differs from it in one way.
        _ = try Self.decode(Self.payload(base))

        func with(_ i: Int, _ change: (inout RawEntry) -> Void) -> [RawEntry] {
            var es = base
            change(&es[i])
            return es
        }

        // Keys not strictly increasing.
        Self.expectCorruption("newer epoch after older", ["keys out of order", "payload byte \(offs[1])"]) {
            try Self.decode(Self.payload(with(1) { $0.suffix = [10] }))          // k0's epoch 9, then epoch 10
        }
        Self.expectCorruption("duplicate key", ["keys out of order", "payload byte \(offs[1])"]) {
            try Self.decode(Self.payload(with(1) { $0.suffix = [9] }))           // k1 == k0
        }
        Self.expectCorruption("restart key before its predecessor", ["keys out of order", "payload byte \(offs[2])"]) {
            try Self.decode(Self.payload(with(2) { $0.suffix = Self.fullKey(1, "apple", 4); $0.value = Self.handle(250, 200) }))
        }
        Self.expectCorruption("lower table", ["keys out of order", "payload byte \(offs[4])"]) {
            try Self.decode(Self.payload(with(4) { $0.suffix = [0] + Array("b".utf8) + [0, 0, 0, 0, 0, 0, 0, 7] }))  // table 0 after table 1
        }

        // Restart arrays.
        Self.expectCorruption("restart inside an entry", ["restart offset \(offs[1] + 1) is not an entry boundary", "payload byte \(offs[2])"]) {
            try Self.decode(Self.payload(base, restarts: [0, UInt32(offs[1] + 1)]))
        }
        Self.expectCorruption("restarts out of order", ["not an entry boundary"]) {
            try Self.decode(Self.payload(base, restarts: [0, UInt32(offs[2]), UInt32(offs[2])]))
        }
        Self.expectCorruption("restart at the end of the entries", ["restart points past the last entry"]) {
            try Self.decode(Self.payload(base, restarts: [0, UInt32(offs[2]), end]))
        }
        Self.expectCorruption("restart far past the entries", ["restart points past the last entry"]) {
            try Self.decode(Self.payload(base, restarts: [0, UInt32(offs[2]), 0x7fff_ffff]))
        }
        Self.expectCorruption("restart 0 not at 0", ["restart 0 is at \(offs[2])"]) {
            try Self.decode(Self.payload(base, restarts: [UInt32(offs[2])]))
        }
        Self.expectCorruption("restart at an entry with shared > 0", ["restart entry shares 16 bytes", "payload byte \(offs[1])"]) {
            try Self.decode(Self.payload(base, restarts: [0, UInt32(offs[1]), UInt32(offs[2])]))
        }
        Self.expectCorruption("shared longer than the previous key", ["shared prefix 21", "payload byte \(offs[3])"]) {
            try Self.decode(Self.payload(with(3) { $0.shared = 21 }))            // k2 is 19 bytes
        }
        Self.expectCorruption("shared in the first entry", ["restart entry shares 1 bytes", "payload byte 0"]) {
            try Self.decode(Self.payload(with(0) { $0.shared = 1 }, restarts: [0, UInt32(offs[2])]))
        }

        // Values.
        Self.expectCorruption("trailing byte after the handle", ["index entry of block 3 has 1 trailing bytes", "payload byte \(offs[3])"]) {
            try Self.decode(Self.payload(with(3) { $0.value += [0] }))
        }
        Self.expectCorruption("one varint only", ["block 1 has a truncated or oversized handle"]) {
            try Self.decode(Self.payload(with(1) { $0.value = [100] }))
        }
        Self.expectCorruption("empty value", ["block 0 has a truncated or oversized handle"]) {
            try Self.decode(Self.payload(with(0) { $0.value = [] }))
        }
        Self.expectCorruption("size varint runs past the value", ["block 2 has a truncated or oversized handle"]) {
            try Self.decode(Self.payload(with(2) { $0.value = [0xfa, 0x01, 0xc8] }))   // 250, then an unterminated varint
        }
        Self.expectCorruption("offset beyond the file", ["block 4 has a truncated or oversized handle"]) {
            try Self.decode(Self.payload(with(4) { $0.value = Self.handle(UInt64(Self.fileSize) + 1, 1000) }))
        }
        Self.expectCorruption("varint beyond 64 bits", ["block 4 has a truncated or oversized handle"]) {
            try Self.decode(Self.payload(with(4) { $0.value = [UInt8](repeating: 0xff, count: 9) + [0x02] + Self.handle(1000, 9) }))
        }

        // Block handles.
        Self.expectCorruption("gap before block 2", ["points at 251+200, expected a block at 250", "payload byte \(offs[2])"]) {
            try Self.decode(Self.payload(with(2) { $0.value = Self.handle(251, 200) }))
        }
        Self.expectCorruption("block 2 overlaps block 1", ["points at 249+200, expected a block at 250"]) {
            try Self.decode(Self.payload(with(2) { $0.value = Self.handle(249, 200) }))
        }
        Self.expectCorruption("first block not at 0", ["points at 1+100, expected a block at 0"]) {
            try Self.decode(Self.payload(with(0) { $0.value = Self.handle(1, 100) }))
        }
        Self.expectCorruption("block shorter than its trailer", ["points at 450+8"]) {
            try Self.decode(Self.payload(with(3) { $0.value = Self.handle(450, 8) }))
        }
        Self.expectCorruption("blocks end before the filter", ["index covers 1459 bytes", "data ends at 1460"]) {
            try Self.decode(Self.payload(base), filterOffset: 1460)
        }
        Self.expectCorruption("last block runs into the filter", ["points at 459+1000"]) {
            try Self.decode(Self.payload(base), filterOffset: 1458)
        }
        Self.expectCorruption("fewer entries than blocks", ["5 blocks"]) { try Self.decode(Self.payload(base), blockCount: 6) }
        Self.expectCorruption("more entries than blocks", ["5 blocks"]) { try Self.decode(Self.payload(base), blockCount: 4) }
        Self.expectCorruption("no blocks expected", ["5 blocks"]) { try Self.decode(Self.payload(base), blockCount: 0) }

        // Entry headers and keys.
        Self.expectCorruption("header cut after two varints", ["truncated entry header", "payload byte \(end)"]) {
            try Self.decode(Self.payload(base, extraEntryBytes: [0x00, 0x0c]))
        }
        Self.expectCorruption("varint cut at the restart array", ["truncated entry header", "payload byte \(end)"]) {
            try Self.decode(Self.payload(base, extraEntryBytes: [0x80]))
        }
        Self.expectCorruption("key suffix overruns", ["entry overruns block", "payload byte \(offs[4])"]) {
            try Self.decode(Self.payload(with(4) { $0.unsharedField = 200 }))
        }
        Self.expectCorruption("value overruns", ["entry overruns block", "payload byte \(offs[4])"]) {
            try Self.decode(Self.payload(with(4) { $0.valueLengthField = 60 }))
        }
        Self.expectCorruption("key of 11 bytes", ["key of 11 bytes is too short", "payload byte 0"]) {
            try Self.decode(Self.payload(with(0) { $0.suffix = Array($0.suffix.prefix(11)) }))
        }
        Self.expectCorruption("shared key of 11 bytes", ["key of 11 bytes is too short", "payload byte \(offs[1])"]) {
            try Self.decode(Self.payload(with(1) { $0.shared = 11; $0.suffix = [] }))
        }

        // Payloads too short for their restart count.
        Self.expectCorruption("empty payload", ["payload of 0 bytes has no restart count"]) { try Self.decode([]) }
        Self.expectCorruption("3-byte payload", ["payload of 3 bytes has no restart count"]) { try Self.decode([1, 0, 0]) }
        Self.expectCorruption("restart count 0", ["restart count 0 does not fit"]) {
            try Self.decode(Self.payload(base, restarts: [], restartCount: 0))
        }
        Self.expectCorruption("restart count too large", ["restart count \(end) does not fit"]) {
            try Self.decode(Self.payload(base, restartCount: end))
        }
        Self.expectCorruption("restart count 2^32-1", ["restart count 4294967295 does not fit"]) {
            try Self.decode(Self.payload(base, restartCount: UInt32.max))
        }
        Self.expectCorruption("no entries", ["restart points past the last entry"]) {
            try Self.decode(Self.payload([], restarts: [0]))
        }
        Self.expectCorruption("payload range past the buffer", ["has no restart count"]) {
            let p = Self.payload(base)
            return try SstIndex(p, payload: 0..<(p.count + 1), footer: Self.footer(), blockCount: 5, object: Self.object, fileSize: Self.fileSize)
        }
    }

    // MARK: - 3. Damaged index blocks in real SSTs

    /// Every flipped byte of the index block (payload and trailer) fails its checksum:
    /// both meta loads throw corruption for it, none returns a meta.
    @Test(arguments: [4, 9] as [UInt64])
    func flippedIndexByteIsCorruption(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let b = Self.randomSst(&rng, id: 1, maxUserKeys: 300)
        let lay = Layout(b.bytes)
        let ctx = "seed \(seed) (\(b.describe))"
        _ = try await Self.loadBothWays(b.bytes)
        let store = MemoryObjectStore()
        var failures = 0
        for at in lay.indexOffset..<lay.propertiesOffset {
            for mask in [UInt8(1) << UInt8(at % 8), UInt8.random(in: 1...255, using: &rng)] {
                var bytes = b.bytes
                bytes[at] ^= mask
                try await store.put(Self.object, bytes)
                let filter = try await SstFilter.load(store: store, id: 1, object: Self.object, fileSize: bytes.count)
                for primed in [false, true] {
                    do {
                        let m = try await SstMetadataCache.loadMeta(store: store, id: 1, object: Self.object, fileSize: bytes.count,
                                                             filter: primed ? filter : nil)
                        Issue.record("\(ctx): byte \(at) ^ \(mask) (primed \(primed)) returned a meta of \(m.blockCount) blocks")
                        failures += 1
                    } catch let FloeError.corruption(o, offset, reason) {
                        if o != Self.object || offset != lay.indexOffset || !reason.contains("checksum") {
                            Issue.record("\(ctx): byte \(at) ^ \(mask) (primed \(primed)): \(o) at \(offset): \(reason)")
                            failures += 1
                        }
                    }
                }
                if failures > 10 { return }
            }
        }
    }

    /// A flipped payload byte with the checksum fixed up (as a writer bug would store
    /// it): `SstIndex` rejects exactly what the Block-and-cursor decoding rejects, and
    /// where both accept, the arrays are what that decoding yields.
    @Test(arguments: [6, 10, 11] as [UInt64])
    func rechecksummedFlipsAgreeWithBlockDecoding(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let b = Self.randomSst(&rng, id: 1, maxUserKeys: 150)
        let lay = Layout(b.bytes)
        let ctx = "seed \(seed) (\(b.describe))"
        let footer = try SstFooter.decode(Array(b.bytes[(b.bytes.count - 56)...]), object: Self.object, fileSize: b.bytes.count)
        let payloadEnd = lay.propertiesOffset - BlockCodec.trailerSize
        var rejected = 0, accepted = 0, failures = 0
        for at in lay.indexOffset..<payloadEnd {
            for bit in 0..<8 {
                var bytes = b.bytes
                bytes[at] ^= UInt8(1) << UInt8(bit)
                let sum = Checksum.xxh3(bytes, lay.indexOffset..<(payloadEnd + 1))
                withUnsafeBytes(of: sum.littleEndian) { for (i, x) in $0.enumerated() { bytes[payloadEnd + 1 + i] = x } }
                let oracle = Self.oracleIndex(Array(bytes[lay.indexOffset..<payloadEnd]), filterOffset: lay.filterOffset,
                                              blockCount: UInt64(b.blocks.count))
                let here = "\(ctx): byte \(at - lay.indexOffset) bit \(bit)"
                for primed in [false, true] {
                    let base = primed ? lay.indexOffset : lay.filterOffset
                    let tail = Array(bytes[base..<(bytes.count - 56)])
                    let known = primed ? SstFilter(id: 1, filter: nil, footer: footer) : nil
                    do {
                        let m = try SstMeta(id: 1, object: Self.object, footer: footer, tail: tail, fileSize: bytes.count, filter: known)
                        if let oracle {
                            if !Self.expectMeta(m, keys: oracle.keys, offsets: oracle.offsets, sizes: oracle.sizes, "\(here) primed \(primed)") {
                                failures += 1
                            }
                            accepted += 1
                        } else {
                            Issue.record("\(here) primed \(primed): SstIndex accepted what Block decoding rejects")
                            failures += 1
                        }
                    } catch let FloeError.corruption(o, offset, reason) {
                        if oracle != nil {
                            Issue.record("\(here) primed \(primed): rejected (\(reason)), Block decoding accepts it")
                            failures += 1
                        } else if o != Self.object || offset != lay.indexOffset || !(reason.hasPrefix("index block: ") || reason.hasPrefix("index covers ")) {
                            Issue.record("\(here) primed \(primed): \(o) at \(offset): \(reason)")
                            failures += 1
                        }
                        rejected += 1
                    }
                }
                if failures > 10 { return }
            }
        }
        // Both outcomes happen: the flips exercise the checks, not just the happy path.
        #expect(rejected > 0 && accepted > 0, "\(ctx): \(rejected) rejected, \(accepted) accepted")
    }
}
