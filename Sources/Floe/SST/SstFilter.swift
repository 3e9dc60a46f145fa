/// The bloom filter of one SST, loaded without its index: what a cold get needs
/// to rule the file out.
///
/// Why: after a restart the first get visits every L0 sub-level, and loading each
/// file's whole meta (filter and index: hundreds of KiB to parse for a large file)
/// made that get grow with the state size. The filter alone answers "absent" for
/// all but the file holding the key (and the rare false positive); only those
/// load their index. Reads: the footer, then the filter block (checksum verified).
final class SstFilter: Sendable {
    let id: UInt64
    /// Nil when the SST was built without a filter: every key may be present.
    let filter: BloomFilter?
    /// The footer read to find the filter; nil when the filter came from a loaded meta.
    /// A meta load that follows reuses both instead of reading them again.
    let footer: SstFooter?
    let charge: Int

    init(id: UInt64, filter: BloomFilter?, footer: SstFooter? = nil) {
        self.id = id
        self.filter = filter
        self.footer = footer
        charge = (filter?.bits.count ?? 0) + 64
    }

    /// Whether the file may hold a key with this hash.
    @inline(__always)
    func mayContain(_ hash: UInt64) -> Bool { filter?.mayContain(hash) ?? true }

    /// Loads the footer and the filter block of `object` (two ranged reads; one
    /// when the footer is given).
    /// Throws `FloeError.corruption` (footer, block checksum, filter layout, a filter
    /// layout newer than the file's format), `unsupportedFormat`, `objectNotFound`, I/O errors.
    static func load(store: any ObjectStore, id: UInt64, object: String, fileSize: Int, footer known: SstFooter? = nil) async throws -> SstFilter {
        let footer: SstFooter
        if let known { footer = known } else { footer = try await SstFooter.load(store: store, object: object, fileSize: fileSize) }
        let base = Int(footer.filterOffset)
        let raw = try await store.get(object, range: base..<(base + Int(footer.filterSize)))
        let payload = try BlockCodec.open(whole: raw, object: object, objectOffset: base)
        let filter = payload.isEmpty ? nil : try BloomFilter.decode(whole: payload, object: object, baseOffset: base)
        return SstFilter(id: id, filter: try check(filter, footer: footer, object: object), footer: footer)
    }

    /// What `probe` found.
    enum Probe {
        /// The answer from one partition, and the footer read to find it; the whole filter was not read.
        case answer(Bool, SstFooter)
        /// The whole filter, read because the file has no partitions or its filter is small.
        case whole(SstFilter)
    }

    /// Filters up to this size are read whole even by `probe`: one read of 16 KiB
    /// is estimated to cost about what three small ones do (a copy of 12 KiB more
    /// against two more calls), and the whole filter can be cached.
    static let wholeReadMaxBytes = 16 << 10

    /// Whether `object` may hold a key with `hash`, reading as little of its filter
    /// as the file allows. For a format 3 file whose filter is partitioned and over
    /// `wholeReadMaxBytes`: the footer, the filter header and the one partition the
    /// key falls in (three ranged reads, about 4 KiB), its checksum verified against
    /// the header that located it. Otherwise the whole filter, as `load`.
    /// Throws as `load`, and `FloeError.corruption` for a partition checksum mismatch.
    static func probe(store: any ObjectStore, id: UInt64, object: String, fileSize: Int, hash: UInt64) async throws -> Probe {
        switch try await locate(store: store, id: id, object: object, fileSize: fileSize) {
        case let .whole(f): return .whole(f)
        case let .partitioned(p): return .answer(try await p.probe(store: store, object: object, hash: hash), p.footer)
        }
    }

    /// A large partitioned filter located by its footer and header: what every probe
    /// of the file shares, so concurrent cold probes read those once (`SstMetadataCache`).
    struct Partitioned: Sendable {
        let footer: SstFooter
        /// The header's bytes (they seed each partition's checksum) and the header parsed.
        let head: [UInt8]
        let header: BloomFilter.Header
        let shift: Int

        /// Whether the file may hold a key with `hash`, from the one partition it falls
        /// in (one ranged read), its checksum verified against the header.
        func probe(store: any ObjectStore, object: String, hash: UInt64) async throws -> Bool {
            let base = Int(footer.filterOffset)
            let blk = BloomFilter.block(of: hash, blocks: header.blocks)
            let p = blk >> shift
            let r = BloomFilter.partitionRange(p, blocks: header.blocks, shift: shift)
            let start = base + header.size + r.lowerBound
            let part = try await store.get(object, range: start..<(start + r.count))
            guard part.count == r.count else {
                throw FloeError.corruption(object: object, offset: start, reason: "bloom filter partition \(p) truncated: \(part.count) of \(r.count) bytes")
            }
            // The header's own bytes seed the checksum: a corrupt header that still parses
            // points at some partition, whose checksum then cannot match.
            let seed = Checksum.xxh3(head)
            return try part.withUnsafeBytes { raw in
                try BloomFilter.checkPartition(raw, index: p, seed: seed, object: object, offset: start)
                return BloomFilter.probeBlock(raw, at: (blk - p << shift) * BloomFilter.blockBytes, hash: hash, k: header.hashCount)
            }
        }
    }

    /// What `locate` found: the whole filter, or where the partitions of a large one are.
    enum Located: Sendable {
        case whole(SstFilter)
        case partitioned(Partitioned)
    }

    /// The first step of `probe`, independent of the key: the footer, then for a
    /// format 3 file whose filter is partitioned and over `wholeReadMaxBytes` the
    /// filter header (two ranged reads), else the whole filter, as `load`.
    static func locate(store: any ObjectStore, id: UInt64, object: String, fileSize: Int) async throws -> Located {
        let footer = try await SstFooter.load(store: store, object: object, fileSize: fileSize)
        let base = Int(footer.filterOffset), size = Int(footer.filterSize)
        guard footer.version >= 3, size > wholeReadMaxBytes else {
            return .whole(try await load(store: store, id: id, object: object, fileSize: fileSize, footer: footer))
        }
        let head = try await store.get(object, range: base..<(base + BloomFilter.partitionedHeaderSize))
        let h = try BloomFilter.Header.parse(head, range: 0..<head.count, object: object, baseOffset: base)
        guard case let .partitioned(shift) = h.layout else {
            return .whole(try await load(store: store, id: id, object: object, fileSize: fileSize, footer: footer))
        }
        try h.checkLength(size - BlockCodec.trailerSize, object: object, baseOffset: base)
        return .partitioned(Partitioned(footer: footer, head: head, header: h, shift: shift))
    }

    /// The filter layout a writer of SST format `version` uses.
    static func layout(forVersion version: UInt32) -> BloomFilter.Layout {
        switch version {
        case 1: .standard
        case 2: .blocked
        default: .partitioned(shift: BloomFilter.defaultPartitionShift)
        }
    }

    /// Opens and decodes the filter block held in `bytes[range]`; nil for an empty payload (no filter).
    static func decode(_ bytes: [UInt8], range: Range<Int>, footer: SstFooter, object: String) throws -> BloomFilter? {
        let base = Int(footer.filterOffset)
        let payload = try BlockCodec.open(bytes, range: range, object: object, objectOffset: base)
        guard !payload.isEmpty else { return nil }
        // The payload is a fresh copy already: decode it in place rather than copy its bits again.
        return try check(BloomFilter.decode(whole: payload, object: object, baseOffset: base), footer: footer, object: object)
    }

    /// Throws if the filter's layout is newer than the file's format version.
    private static func check(_ filter: BloomFilter?, footer: SstFooter, object: String) throws -> BloomFilter? {
        guard let filter else { return nil }
        let needs: UInt32
        switch filter.layout {
        case .standard: needs = 1
        case .blocked: needs = 2
        case .partitioned: needs = 3
        }
        if footer.version < needs {
            let name = filter.layout == .blocked ? "blocked" : "partitioned"
            throw FloeError.corruption(object: object, offset: Int(footer.filterOffset),
                                       reason: "\(name) bloom filter in a format version \(footer.version) SST")
        }
        return filter
    }
}
