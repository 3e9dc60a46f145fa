/// The first 8 bytes of a user key as a big-endian integer, zero-padded: ordering
/// two keys by it agrees with their byte order as far as it goes, so sorts and
/// block searches decide most comparisons with one integer compare before a
/// byte-wise one (memtable entries, the memtable radix sort, SST index heads).
enum KeyPrefix {
    @inline(__always)
    static func of(_ key: UnsafeRawBufferPointer) -> UInt64 {
        if key.count >= 8 { return UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)) }
        var p: UInt64 = 0
        let n = min(8, key.count)
        for i in 0..<n { p |= UInt64(key[i]) << (56 - 8 * UInt64(i)) }
        return p
    }
}
