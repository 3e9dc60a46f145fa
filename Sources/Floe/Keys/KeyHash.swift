import CXXHash

/// The hash of a user key that bloom filters (whole-key and prefix) and the
/// memtable's index use: XXH3-64 of the user key's bytes seeded with the table id.
/// It is part of the format: filters store bits chosen by it (docs/format.md §6).
enum KeyHash {
    @inline(__always)
    static func of(table: TableID, key: UnsafeRawBufferPointer) -> UInt64 {
        floe_xxh3_64_seed(key.baseAddress, key.count, UInt64(table.raw))
    }

    @inline(__always)
    static func of(table: TableID, key: [UInt8]) -> UInt64 {
        key.withUnsafeBytes { of(table: table, key: $0) }
    }

    @inline(__always)
    static func of(table: TableID, key: ArraySlice<UInt8>) -> UInt64 {
        key.withUnsafeBytes { of(table: table, key: $0) }
    }
}
