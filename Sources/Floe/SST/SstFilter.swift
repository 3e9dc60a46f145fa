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

    /// Loads the footer and the filter block of `object` (two ranged reads).
    /// Throws `FloeError.corruption` (footer, block checksum, filter layout, a blocked
    /// filter in a format 1 file), `unsupportedFormat`, `objectNotFound`, I/O errors.
    static func load(store: any ObjectStore, id: UInt64, object: String, fileSize: Int) async throws -> SstFilter {
        let footer = try await SstFooter.load(store: store, object: object, fileSize: fileSize)
        let base = Int(footer.filterOffset)
        let raw = try await store.get(object, range: base..<(base + Int(footer.filterSize)))
        let payload = try BlockCodec.open(whole: raw, object: object, objectOffset: base)
        let filter = payload.isEmpty ? nil : try BloomFilter.decode(whole: payload, object: object, baseOffset: base)
        return SstFilter(id: id, filter: try check(filter, footer: footer, object: object), footer: footer)
    }

    /// Opens and decodes the filter block held in `bytes[range]`; nil for an empty payload (no filter).
    static func decode(_ bytes: [UInt8], range: Range<Int>, footer: SstFooter, object: String) throws -> BloomFilter? {
        let base = Int(footer.filterOffset)
        let payload = try BlockCodec.open(bytes, range: range, object: object, objectOffset: base)
        guard !payload.isEmpty else { return nil }
        return try check(BloomFilter.decode(payload, range: 0..<payload.count, object: object, baseOffset: base), footer: footer, object: object)
    }

    /// Throws if the filter's layout is newer than the file's format version.
    private static func check(_ filter: BloomFilter?, footer: SstFooter, object: String) throws -> BloomFilter? {
        if let filter, filter.blocked, footer.version < 2 {
            throw FloeError.corruption(object: object, offset: Int(footer.filterOffset),
                                       reason: "blocked bloom filter in a format version \(footer.version) SST")
        }
        return filter
    }
}
