import CXXHash

/// XXH3-64 with seed 0: the checksum on every block, SST footer and manifest object,
/// and the hash the bloom filter derives its probes from.
@usableFromInline
enum Checksum {
    @inlinable static func xxh3(_ p: UnsafeRawBufferPointer) -> UInt64 {
        floe_xxh3_64(p.baseAddress, p.count)
    }

    @inlinable static func xxh3(_ b: [UInt8]) -> UInt64 {
        b.withUnsafeBytes { xxh3($0) }
    }

    @inlinable static func xxh3(_ b: ArraySlice<UInt8>) -> UInt64 {
        b.withUnsafeBytes { xxh3($0) }
    }

    @inlinable static func xxh3(_ b: [UInt8], _ range: Range<Int>) -> UInt64 {
        b.withUnsafeBytes { xxh3(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}
