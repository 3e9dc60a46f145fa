import Floe

/// What one committed epoch consumed and produced: per source partition the
/// offset range `[start, end)` the epoch read, and per view its digest at the
/// epoch's end (`ViewDigest`). A pipeline writes it into the lineage table in the
/// epoch itself, so it commits atomically with the epoch's state and offsets, and
/// keeps it for every epoch (docs/format.md §14, docs/dataflow.md "Lineage").
///
/// Invariants of the records of a store: the `start` of epoch E+1 is the `end` of
/// epoch E, for every partition, across restarts (a run starts where the committed
/// positions are); `end` is the committed source position of the epoch; an epoch
/// that read nothing has `start == end`.
public struct EpochLineage: Sendable, Equatable {
    /// One source's ranges, one per partition.
    public struct Ranges: Sendable, Equatable {
        public var source: String
        public var start: [UInt64]
        public var end: [UInt64]

        public init(source: String, start: [UInt64], end: [UInt64]) {
            self.source = source
            self.start = start
            self.end = end
        }
    }

    public var epoch: Epoch
    public var sources: [Ranges]
    /// Every view's digest at the end of the epoch, by view name.
    public var views: [String: ViewDigest]
    /// False when the run that wrote the record started on a store whose committed
    /// epoch had no lineage record (written before lineage was recorded): the
    /// digests then miss the rows of the earlier epochs and cannot be compared.
    public var digestsComplete: Bool

    public init(epoch: Epoch, sources: [Ranges], views: [String: ViewDigest], digestsComplete: Bool = true) {
        self.epoch = epoch
        self.sources = sources
        self.views = views
        self.digestsComplete = digestsComplete
    }

    /// Rows (offsets) the epoch read over all partitions.
    public var consumed: UInt64 { sources.reduce(0) { t, s in zip(s.start, s.end).reduce(t) { $0 + ($1.1 - $1.0) } } }

    /// The table of every pipeline's lineage records.
    public static let table = TableID(0x7FFF_FFFE)
    /// The format byte of a record.
    static let format: UInt8 = 1

    /// The key of `epoch`'s record: the epoch, 8 bytes big-endian (so records scan in epoch order).
    public static func key(_ epoch: Epoch) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: epoch >> UInt64(56 - 8 * $0)) }
    }

    /// The value of the record (docs/format.md §14): the format byte 1, a flags byte
    /// (bit 0: digests complete), then u16 source count and per source a u16-length
    /// UTF-8 name, u32 partition count and per partition u64 start and u64 end; then
    /// u16 view count and per view (sorted by name) a u16-length UTF-8 name, u64
    /// digest sum and u64 row count. All little-endian.
    public func encode() -> [UInt8] {
        var out: [UInt8] = [Self.format, digestsComplete ? 1 : 0]
        LittleEndian.append(&out, UInt16(sources.count))
        for s in sources {
            Self.appendName(&out, s.source)
            LittleEndian.append(&out, UInt32(s.start.count))
            for (a, b) in zip(s.start, s.end) {
                LittleEndian.append(&out, a)
                LittleEndian.append(&out, b)
            }
        }
        LittleEndian.append(&out, UInt16(views.count))
        for name in views.keys.sorted() {
            Self.appendName(&out, name)
            LittleEndian.append(&out, views[name]!.sum)
            LittleEndian.append(&out, UInt64(bitPattern: views[name]!.rows))
        }
        return out
    }

    private static func appendName(_ out: inout [UInt8], _ name: String) {
        let b = Array(name.utf8.prefix(Int(UInt16.max)))
        LittleEndian.append(&out, UInt16(b.count))
        out += b
    }

    /// Reads a record. Throws `invalidArgument` naming the epoch when it is
    /// truncated, has trailing bytes or an unknown format.
    public static func decode(_ bytes: [UInt8], epoch: Epoch) throws -> EpochLineage {
        func bad(_ what: String) -> DataflowError { .invalidArgument("the lineage record of epoch \(epoch) is malformed: \(what)") }
        return try bytes.withUnsafeBytes { p in
            var at = 0
            func need(_ n: Int) throws { guard at + n <= p.count else { throw bad("truncated at byte \(at)") } }
            func u16() throws -> Int { try need(2); defer { at += 2 }; return Int(LittleEndian.u16(p, at)) }
            func u32() throws -> Int { try need(4); defer { at += 4 }; return Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
            func u64() throws -> UInt64 { try need(8); defer { at += 8 }; return UInt64(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
            func name() throws -> String {
                let n = try u16()
                try need(n)
                defer { at += n }
                return String(decoding: UnsafeRawBufferPointer(rebasing: p[at..<(at + n)]), as: UTF8.self)
            }
            try need(2)
            guard p[0] == format else { throw bad("format \(p[0]), expected \(format)") }
            let complete = p[1] & 1 != 0
            at = 2
            var sources: [Ranges] = []
            for _ in 0..<(try u16()) {
                let n = try name()
                let parts = try u32()
                try need(16 * parts)
                var r = Ranges(source: n, start: [], end: [])
                for _ in 0..<parts {
                    r.start.append(try u64())
                    r.end.append(try u64())
                }
                sources.append(r)
            }
            var views: [String: ViewDigest] = [:]
            for _ in 0..<(try u16()) {
                let n = try name()
                views[n] = ViewDigest(sum: try u64(), rows: Int64(bitPattern: try u64()))
            }
            guard at == p.count else { throw bad("\(p.count - at) trailing bytes") }
            return EpochLineage(epoch: epoch, sources: sources, views: views, digestsComplete: complete)
        }
    }

    /// The record of `epoch` in `store`, read at `at` (default: the committed
    /// epoch); nil when the store has none (an epoch before lineage was recorded,
    /// or not committed).
    public static func read(store: StateStore, epoch: Epoch, at: Epoch? = nil) async throws -> EpochLineage? {
        guard let b = try await store.get(table, key: key(epoch), epoch: at ?? store.committedEpoch) else { return nil }
        return try decode(b, epoch: epoch)
    }

    /// Every record in `store` at `at` (default: the committed epoch), in epoch order.
    public static func all(store: StateStore, at: Epoch? = nil) async throws -> [EpochLineage] {
        var raw: [(Epoch, [UInt8])] = []
        let rows = try await store.scan(table, from: nil, to: nil, epoch: at ?? store.committedEpoch)
        try await rows.forEachRow { k, v in
            guard k.count == 8 else { return true }
            var e: Epoch = 0
            for i in 0..<8 { e = e << 8 | Epoch(k[i]) }
            raw.append((e, Array(v)))
            return true
        }
        return try raw.map { try decode($0.1, epoch: $0.0) }
    }
}
