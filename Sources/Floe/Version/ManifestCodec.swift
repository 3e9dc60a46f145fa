/// Binary encoding of manifest objects (deltas and checkpoints); see docs/format.md.
///
/// Every object is `[magic: u32 LE][format version: u16 LE][body][xxh3-64 of all
/// preceding bytes: u64 LE]`. Decoding checks the checksum before anything else,
/// so a flipped or truncated byte anywhere is reported as corruption of that object.
enum ManifestCodec {
    static let deltaMagic: UInt32 = 0x444D_4C46 // "FLMD"
    static let checkpointMagic: UInt32 = 0x434D_4C46 // "FLMC"
    /// Format of delta objects: 2 adds the table watermarks and the named
    /// checkpoint of `pin` and `unpin` records; 1 is still read.
    static let formatVersion: UInt16 = 2
    /// Format of checkpoint objects: 2 adds the head digest, the last commit's
    /// identity and the live compactor sessions, 3 the table watermarks and named
    /// checkpoints; 1 and 2 are still read.
    static let checkpointFormatVersion: UInt16 = 3

    /// The checksum trailer of an encoded manifest object: what identifies the
    /// exact bytes stored at a sequence (`Version.headDigest`).
    static func digest(_ bytes: [UInt8]) -> UInt64 {
        bytes.count >= 8 ? loadLE64(bytes, bytes.count - 8) : 0
    }

    static func encode(_ d: VersionDelta) -> [UInt8] {
        var w = ByteWriter(capacity: 256 + d.newSubLevel.count * 96)
        w.u32(deltaMagic)
        w.u16(formatVersion)
        w.varint(d.sequence)
        w.u8(d.kind.rawValue)
        w.varint(d.writerID)
        w.varint(d.committedEpoch)
        w.varint(d.safeEpoch)
        w.varint(d.timestampMillis)
        w.varint(d.stallMicros)
        w.varint(d.newSubLevel.count)
        for s in d.newSubLevel { s.encode(into: &w) }
        w.varint(d.removed.count)
        for id in d.removed { w.u64(id) }
        w.varint(d.added.count)
        for a in d.added {
            w.varint(a.level)
            a.info.encode(into: &w)
        }
        encodeMetadata(d.metadata, into: &w)
        TableWatermark.encodeList(d.watermarks, into: &w)
        w.varint(d.olderSubLevels.count)
        for sub in d.olderSubLevels {
            w.varint(sub.count)
            for s in sub { s.encode(into: &w) }
        }
        if let c = d.namedCheckpoint {
            w.u8(1)
            c.encode(into: &w)
        } else {
            w.u8(0)
        }
        return seal(w)
    }

    static func decodeDelta(_ bytes: [UInt8], object: String) throws -> VersionDelta {
        var (r, format) = try open(bytes, magic: deltaMagic, object: object, versions: 1...formatVersion)
        let seq = try r.varint("sequence")
        let kindAt = r.position
        let kindByte = try r.u8("kind")
        guard let kind = VersionDelta.Kind(rawValue: kindByte) else { throw r.corrupt("unknown delta kind \(kindByte)", at: kindAt) }
        var d = VersionDelta(sequence: seq, kind: kind, writerID: try r.varint("writer id"),
                             committedEpoch: try r.varint("committed epoch"), safeEpoch: try r.varint("safe epoch"))
        d.timestampMillis = try r.varint("timestamp")
        d.stallMicros = try r.varint("stall micros")
        let n = try r.length("sub-level count", limit: r.remaining)
        for _ in 0..<n { d.newSubLevel.append(try SstInfo.decode(&r)) }
        let rm = try r.length("removed count", limit: r.remaining / 8)
        for _ in 0..<rm { d.removed.append(try r.u64("removed id")) }
        let ad = try r.length("added count", limit: r.remaining)
        for _ in 0..<ad {
            let level = try r.length("level", limit: 64)
            d.added.append(.init(level: level, info: try SstInfo.decode(&r)))
        }
        d.metadata = try decodeMetadata(&r)
        if format >= 2 {
            d.watermarks = try TableWatermark.decodeList(&r)
            for _ in 0..<(try r.length("older sub-level count", limit: r.remaining)) {
                var sub: [SstInfo] = []
                for _ in 0..<(try r.length("sst count", limit: r.remaining)) { sub.append(try SstInfo.decode(&r)) }
                d.olderSubLevels.append(sub)
            }
            let at = r.position
            switch try r.u8("named checkpoint flag") {
            case 0: break
            case 1: d.namedCheckpoint = try NamedCheckpoint.decode(&r)
            case let f: throw r.corrupt("named checkpoint flag \(f)", at: at)
            }
        }
        if (kind == .pin || kind == .unpin) && d.namedCheckpoint == nil { throw r.corrupt("\(kind) record without a checkpoint") }
        guard r.isAtEnd else { throw r.corrupt("\(r.remaining) trailing bytes") }
        return d
    }

    static func encode(_ v: Version) -> [UInt8] {
        var w = ByteWriter(capacity: 256 + v.allSsts.count * 96)
        w.u32(checkpointMagic)
        w.u16(checkpointFormatVersion)
        w.varint(v.sequence)
        w.varint(v.writerID)
        w.varint(v.committedEpoch)
        w.varint(v.safeEpoch)
        let c = v.stats
        for x in [c.ingestedBytes, c.flushWrittenBytes, c.compactionReadBytes, c.compactionWrittenBytes, c.stallMicros, c.commits, c.compactions] {
            w.varint(x)
        }
        w.varint(v.l0.count)
        for sub in v.l0 {
            w.varint(sub.count)
            for s in sub { s.encode(into: &w) }
        }
        w.varint(v.levels.count)
        for level in v.levels {
            w.varint(level.count)
            for s in level { s.encode(into: &w) }
        }
        encodeMetadata(v.metadata, into: &w)
        w.u64(v.headDigest)
        w.u64(v.lastCommit)
        w.varint(v.compactors.count)
        for id in v.compactors { w.varint(id) }
        TableWatermark.encodeList(v.watermarks, into: &w)
        NamedCheckpoint.encodeList(v.namedCheckpoints, into: &w)
        return seal(w)
    }

    static func decodeVersion(_ bytes: [UInt8], object: String) throws -> Version {
        var (r, format) = try open(bytes, magic: checkpointMagic, object: object, versions: 1...checkpointFormatVersion)
        let seq = try r.varint("sequence")
        let writer = try r.varint("writer id")
        let epoch = try r.varint("committed epoch")
        let safe = try r.varint("safe epoch")
        var c = LsmCounters()
        c.ingestedBytes = try r.varint("ingested bytes")
        c.flushWrittenBytes = try r.varint("flush bytes")
        c.compactionReadBytes = try r.varint("compaction read bytes")
        c.compactionWrittenBytes = try r.varint("compaction written bytes")
        c.stallMicros = try r.varint("stall micros")
        c.commits = try r.varint("commits")
        c.compactions = try r.varint("compactions")
        var l0: [[SstInfo]] = []
        for _ in 0..<(try r.length("sub-level count", limit: r.remaining)) {
            var sub: [SstInfo] = []
            for _ in 0..<(try r.length("sst count", limit: r.remaining)) { sub.append(try SstInfo.decode(&r)) }
            l0.append(sub)
        }
        var levels: [[SstInfo]] = []
        for _ in 0..<(try r.length("level count", limit: 64)) {
            var level: [SstInfo] = []
            for _ in 0..<(try r.length("sst count", limit: r.remaining)) { level.append(try SstInfo.decode(&r)) }
            levels.append(level)
        }
        let meta = try decodeMetadata(&r)
        var head: UInt64 = 0, last: UInt64 = 0
        var compactors: [UInt64] = []
        if format >= 2 {
            head = try r.u64("head digest")
            last = try r.u64("last commit")
            for _ in 0..<(try r.length("compactor count", limit: r.remaining)) { compactors.append(try r.varint("compactor session")) }
        }
        let watermarks = format >= 3 ? try TableWatermark.decodeList(&r) : []
        let named = format >= 3 ? try NamedCheckpoint.decodeList(&r) : []
        guard r.isAtEnd else { throw r.corrupt("\(r.remaining) trailing bytes") }
        return Version(sequence: seq, writerID: writer, committedEpoch: epoch, safeEpoch: safe,
                       metadata: meta, l0: l0, levels: levels, stats: c,
                       headDigest: head, lastCommit: last, compactors: compactors, watermarks: watermarks, namedCheckpoints: named)
    }

    private static func encodeMetadata(_ m: [String: [UInt8]], into w: inout ByteWriter) {
        w.varint(m.count)
        for k in m.keys.sorted() {
            w.string(k)
            w.lengthPrefixed(m[k]!)
        }
    }

    private static func decodeMetadata(_ r: inout ByteReader) throws -> [String: [UInt8]] {
        var m: [String: [UInt8]] = [:]
        for _ in 0..<(try r.length("metadata count", limit: r.remaining)) {
            let k = try r.string("metadata key")
            m[k] = try r.lengthPrefixed("metadata value")
        }
        return m
    }

    private static func seal(_ w: ByteWriter) -> [UInt8] {
        var out = w.bytes
        let sum = Checksum.xxh3(out)
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// Verifies length, checksum, magic and version; returns a reader positioned at the body, and the version.
    private static func open(_ bytes: [UInt8], magic: UInt32, object: String,
                             versions: ClosedRange<UInt16> = formatVersion...formatVersion) throws -> (ByteReader, UInt16) {
        guard bytes.count >= 14 else {
            throw FloeError.corruption(object: object, offset: 0, reason: "manifest object of \(bytes.count) bytes is truncated")
        }
        let body = bytes.count - 8
        let stored = loadLE64(bytes, body)
        let actual = Checksum.xxh3(bytes, 0..<body)
        guard stored == actual else {
            throw FloeError.corruption(object: object, offset: body, reason: "manifest checksum mismatch (stored \(hex(stored)), computed \(hex(actual)))")
        }
        var r = ByteReader(bytes, object: object, range: 0..<body)
        let m = try r.u32("magic")
        guard m == magic else { throw r.corrupt("bad magic \(hex(UInt64(m)))", at: 0) }
        let v = try r.u16("format version")
        guard versions.contains(v) else { throw FloeError.unsupportedFormat(object: object, version: UInt32(v)) }
        return (r, v)
    }
}
