/// The index block of an SST, decoded and validated in one pass straight into the
/// flat arrays `SstMeta` searches.
///
/// Why not `Block` plus a cursor: after a restart the first get loads the index
/// of every file it cannot rule out, and a large file has 10 to 20 thousand index
/// entries. Building a `Block` (a copy of the payload and a validating walk), then
/// walking it again through a cursor that copies each key, cost milliseconds per
/// large file; this walk reads the bytes where they were read from the object store and
/// appends into arrays sized up front.
///
/// It applies every block check of docs/format.md §4.1 (keys strictly increasing
/// included) and the index checks of §5.5: each value is exactly two varints, the
/// blocks are contiguous from offset 0, each at least a trailer long, and they end
/// at the filter with as many entries as the properties count.
struct SstIndex {
    /// Concatenated keys; entry i is `keys[starts[i]..<starts[i + 1]]`.
    var keys: [UInt8] = []
    var starts: [Int32] = [0]
    var heads: [Block.RestartKey] = []
    var offsets: [Int] = []
    var sizes: [Int] = []

    /// Decodes the index payload `bytes[payload]`.
    /// - Throws: `FloeError.corruption` naming the index block and the payload byte.
    init(_ bytes: [UInt8], payload: Range<Int>, footer: SstFooter, blockCount: UInt64, object: String, fileSize: Int) throws {
        let indexOffset = Int(footer.indexOffset)
        func bad(_ why: String, _ at: Int = 0) -> FloeError {
            .corruption(object: object, offset: indexOffset, reason: "index block: \(why) (payload byte \(at))")
        }
        let n = payload.count
        guard payload.lowerBound >= 0, payload.upperBound <= bytes.count, n >= 4 else {
            throw bad("payload of \(n) bytes has no restart count")
        }
        guard n < Int(Int32.max) else { throw bad("payload of \(n) bytes is too large") }
        let dataEnd = Int(footer.filterOffset)
        // Capacity hints only, bounded by the payload whatever the properties claim
        // (a whole entry takes at least 3 header bytes, a 12-byte key and 2 value bytes).
        let entries = min(Int(clamping: blockCount), n / 17 + 1)
        keys.reserveCapacity(n)
        starts.reserveCapacity(entries + 1)
        heads.reserveCapacity(entries)
        offsets.reserveCapacity(entries)
        sizes.reserveCapacity(entries)

        var expected = 0
        try bytes.withUnsafeBytes { whole in
            let d = UnsafeRawBufferPointer(rebasing: whole[payload])
            func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: d.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
            // A varint inside `d[at..<end]`, or nil if it runs past `end` or 64 bits.
            func varint(_ at: inout Int, _ end: Int) -> UInt64? {
                var r: UInt64 = 0, shift: UInt64 = 0
                while at < end && shift <= 63 {
                    let b = d[at]; at += 1
                    if shift == 63 && b > 1 { return nil }
                    r |= UInt64(b & 0x7f) << shift
                    if b & 0x80 == 0 { return r }
                    shift += 7
                }
                return nil
            }
            let rc = u32(n - 4)
            guard rc >= 1, rc <= (n - 4) / 4 else { throw bad("restart count \(rc) does not fit", n - 4) }
            let rs = n - 4 - rc * 4
            guard u32(rs) == 0 else { throw bad("restart 0 is at \(u32(rs)), not 0", rs) }
            var pos = 0, nextRestart = 0, prevStart = 0, prevLen = 0
            while pos < rs {
                let entryStart = pos
                // Restarts are consumed in order as entries reach them: one behind the
                // walk is not on an entry boundary, one never reached lies past the end.
                var isRestart = false
                if nextRestart < rc {
                    let r = u32(rs + nextRestart * 4)
                    if r == pos { isRestart = true; nextRestart += 1 } else if r < pos {
                        throw bad("restart offset \(r) is not an entry boundary", entryStart)
                    }
                }
                var p = pos
                guard let shared = varint(&p, rs), let unshared = varint(&p, rs), let vlen = varint(&p, rs) else {
                    throw bad("truncated entry header", entryStart)
                }
                guard !isRestart || shared == 0 else { throw bad("restart entry shares \(shared) bytes with the previous key", entryStart) }
                guard shared <= UInt64(prevLen) else { throw bad("shared prefix \(shared) too long", entryStart) }
                guard unshared <= UInt64(rs - p), vlen <= UInt64(rs - p) - unshared else { throw bad("entry overruns block", entryStart) }
                let keyLen = Int(shared) + Int(unshared)
                guard keyLen >= FullKey.overhead else { throw bad("key of \(keyLen) bytes is too short", entryStart) }
                // Shared prefixes let the keys outgrow the payload; the offsets kept are 32-bit.
                guard keys.count + keyLen < Int(Int32.max) else { throw bad("index keys exceed 2 GiB", entryStart) }
                let keyStart = keys.count
                if shared > 0 {
                    // Never written by Floe (index restart interval 1), but valid: copy
                    // through a temporary so the append does not alias the array.
                    let prefix = Array(keys[prevStart..<(prevStart + Int(shared))])
                    keys.append(contentsOf: prefix)
                }
                keys.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[p..<(p + Int(unshared))]))
                try keys.withUnsafeBytes { kb in
                    let k = UnsafeRawBufferPointer(rebasing: kb[keyStart..<(keyStart + keyLen)])
                    if keyStart > 0 {
                        let prev = UnsafeRawBufferPointer(rebasing: kb[prevStart..<(prevStart + prevLen)])
                        guard FullKey.compare(prev, k) < 0 else { throw bad("keys out of order", entryStart) }
                    }
                    heads.append(Block.RestartKey(prefix: KeyPrefix.of(FullKey.userKey(k)), table: FullKey.table(k),
                                                  offset: UInt32(keyStart)))
                }
                starts.append(Int32(keys.count))
                prevStart = keyStart
                prevLen = keyLen

                var v = p + Int(unshared)
                let vEnd = v + Int(vlen)
                let blockNumber = offsets.count
                guard let off = varint(&v, vEnd), let size = varint(&v, vEnd), off <= UInt64(fileSize), size <= UInt64(fileSize) else {
                    throw bad("index entry of block \(blockNumber) has a truncated or oversized handle", entryStart)
                }
                guard v == vEnd else { throw bad("index entry of block \(blockNumber) has \(vEnd - v) trailing bytes", entryStart) }
                guard Int(off) == expected, Int(size) >= BlockCodec.trailerSize, Int(off) + Int(size) <= dataEnd else {
                    throw bad("index entry points at \(off)+\(size), expected a block at \(expected)", entryStart)
                }
                expected = Int(off) + Int(size)
                offsets.append(Int(off))
                sizes.append(Int(size))
                pos = vEnd
            }
            guard nextRestart == rc else { throw bad("restart points past the last entry", rs) }
        }
        guard expected == dataEnd, UInt64(offsets.count) == blockCount else {
            throw FloeError.corruption(object: object, offset: indexOffset,
                                       reason: "index covers \(expected) bytes and \(offsets.count) blocks, data ends at \(dataEnd)")
        }
    }
}
