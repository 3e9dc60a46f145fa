/// Backward reader over a block's entries: what a reverse scan walks an SST block with.
///
/// Entries are prefix-compressed against the one before, so a block can only be
/// decoded forward. `load` decodes the whole block once with the forward
/// `BlockCursor` (the same decoding scans use) into flat buffers: the full keys one
/// after another and, per entry, where its key lies there and where its value lies
/// in the block. Stepping back is then an index decrement, and seeking is a binary
/// search over the decoded keys. The buffers belong to the cursor and are reused
/// from block to block, so iteration allocates nothing per entry (and per block only
/// when a block needs more room than any before it).
///
/// Owned by one `SstRunReverseIterator` and used by one task at a time.
final class BlockReverseCursor {
    /// Where entry i's key is in `keys` and its value (kind byte first) in the block.
    private struct Entry {
        var keyStart: Int32
        var keyLength: Int32
        var valueStart: Int32
        var valueEnd: Int32
    }

    // Hot per-row state of a single-owner cursor: see `SstRunIterator`.
    @exclusivity(unchecked) private(set) var block = Block.empty
    /// The decoded keys, concatenated.
    @exclusivity(unchecked) private var keys = KeyBuffer(capacity: 1024)
    @exclusivity(unchecked) private var entries: UnsafeMutablePointer<Entry>
    @exclusivity(unchecked) private var entryCapacity = 64
    /// The forward cursor's key buffer, kept across blocks.
    @exclusivity(unchecked) private var scratch = KeyBuffer(capacity: 64)
    /// `block.data`'s bytes (stable while `block` lives, as in `BlockCursor`).
    @exclusivity(unchecked) private var base: UnsafeRawPointer?
    @exclusivity(unchecked) private var count = 0
    /// The current entry; -1 before the first (invalid).
    @exclusivity(unchecked) private(set) var index = -1

    init() { entries = .allocate(capacity: 64) }

    deinit { entries.deallocate() }

    var valid: Bool { index >= 0 }

    /// Decodes `b` and positions at its last entry.
    func load(_ b: Block) {
        block = b
        base = b.data.withUnsafeBytes { $0.baseAddress }
        if b.entryCount > entryCapacity {
            entries.deallocate()
            entryCapacity = max(b.entryCount, entryCapacity * 2)
            entries = .allocate(capacity: entryCapacity)
        }
        // Every key is at most `maxKeyLength` bytes (checked when the block was built).
        let bound = b.entryCount * b.maxKeyLength
        if bound > keys.capacity { keys = KeyBuffer(capacity: max(bound, keys.capacity * 2)) }
        var c = BlockCursor(b, reusing: scratch)
        scratch = c.keyBuffer
        c.seekToFirst()
        var n = 0, at = 0
        let dst = keys.pointer
        while c.valid && n < b.entryCount {
            let length = c.keyLength
            c.withKey { k in (dst + at).copyMemory(from: k.baseAddress!, byteCount: length) }
            let v = c.value
            entries[n] = Entry(keyStart: Int32(at), keyLength: Int32(length), valueStart: Int32(v.lowerBound), valueEnd: Int32(v.upperBound))
            at += length
            n += 1
            c.advance()
        }
        count = n
        index = n - 1
    }

    /// Positions at the last entry whose full key is below the encoded full key
    /// `target` (invalid when there is none in the block).
    func seekBefore(_ target: [UInt8]) {
        // The first entry >= target, by binary search; the one before it is the answer.
        var lo = 0, hi = count
        target.withUnsafeBytes { t in
            while lo < hi {
                let mid = (lo + hi) >> 1
                if withKey(at: mid, { FullKey.compare($0, t) }) < 0 { lo = mid + 1 } else { hi = mid }
            }
        }
        index = lo - 1
    }

    /// Steps back one entry; false (and invalid) before the first.
    @inline(__always)
    func retreat() -> Bool {
        index -= 1
        return index >= 0
    }

    @inline(__always)
    private func withKey<R>(at i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let e = entries[i]
        return try body(UnsafeRawBufferPointer(start: keys.pointer + Int(e.keyStart), count: Int(e.keyLength)))
    }

    /// Borrows the current full key. Requires `valid`.
    @inline(__always)
    func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withKey(at: index, body)
    }

    /// Borrows the current key, its value kind and user value. Requires `valid`.
    @inline(__always)
    func withEntry<R>(_ body: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let e = entries[index]
        let b = base!
        return try body(UnsafeRawBufferPointer(start: keys.pointer + Int(e.keyStart), count: Int(e.keyLength)),
                        b.load(fromByteOffset: Int(e.valueStart), as: UInt8.self),
                        UnsafeRawBufferPointer(start: b + Int(e.valueStart) + 1, count: Int(e.valueEnd - e.valueStart) - 1))
    }
}
