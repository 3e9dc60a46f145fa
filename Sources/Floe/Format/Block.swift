import CCpuHints

/// A decoded (uncompressed, checksum-verified, structurally validated) block as
/// held by the block cache. Validation happens once, at construction, so the
/// seek and iteration paths can read without re-checking bounds.
///
/// Invariant: every entry lies inside `data[0..<restartsStart]`, every key is at
/// least `FullKey.overhead` bytes, keys are strictly increasing in full-key
/// order, and every restart offset points at an entry with `shared == 0`.
final class Block: Sendable {
    let data: [UInt8]
    let restartsStart: Int
    let restartCount: Int
    let entryCount: Int
    let maxKeyLength: Int
    /// Table, first 8 user-key bytes and entry offset of each restart key, so the
    /// restart binary search reads one dense array, decodes an entry only on a
    /// tie, and the scan starts without reading the restart array at the block's end.
    let restartKeys: [RestartKey]

    /// Table, first 8 user-key bytes and offset of a restart entry, side by side
    /// in one array (16 bytes each).
    struct RestartKey {
        var prefix: UInt64
        var table: UInt32
        /// Where the key's entry starts in the bytes it indexes: the restart entry
        /// in `data` (the restart array's value), or the key in `SstMeta.keyBytes`;
        /// 0 where only the key parts are used (the merge heap's heads).
        var offset: UInt32 = 0
    }

    /// A block with no entries: what an iterator holds before its first block.
    static let empty = Block()

    private init() {
        data = []
        restartsStart = 0
        restartCount = 0
        entryCount = 0
        maxKeyLength = 0
        restartKeys = []
    }

    /// - Parameters:
    ///   - dataBlock: when true, every value must start with a valid kind byte.
    ///   - checkOrder: also check that keys strictly increase. The read path skips
    ///     it (the checksum already vouches for the bytes; bounds are always checked,
    ///     which is what keeps the unchecked seek paths memory-safe); verification does it.
    ///   - object/offset: where the block came from, for corruption errors.
    init(_ data: [UInt8], dataBlock: Bool, checkOrder: Bool = false, object: String, offset: Int) throws {
        func bad(_ why: String, _ at: Int = 0) -> FloeError {
            .corruption(object: object, offset: offset, reason: "block: \(why) (payload byte \(at))")
        }
        guard data.count >= 4 else { throw bad("payload of \(data.count) bytes has no restart count") }
        let rc = Int(loadLE32(data, data.count - 4))
        guard rc >= 1, rc <= (data.count - 4) / 4 else { throw bad("restart count \(rc) does not fit", data.count - 4) }
        let rs = data.count - 4 - rc * 4
        var restarts = [Int]()
        restarts.reserveCapacity(rc)
        for i in 0..<rc {
            let r = Int(loadLE32(data, rs + i * 4))
            guard r < rs || (r == 0 && rs == 0 && rc == 1), i == 0 ? r == 0 : r > restarts[i - 1] else {
                throw bad("restart \(i) offset \(r) out of order or range", rs + i * 4)
            }
            restarts.append(r)
        }
        // Walk every entry once: bounds, key lengths, restart alignment (and order on request).
        var pos = 0
        var keyLen = 0
        var key = [UInt8]()
        var prev = [UInt8]()
        var count = 0
        var maxKey = 0
        var nextRestart = 0
        var rKeys = [RestartKey]()
        rKeys.reserveCapacity(rc)
        while pos < rs {
            let entryStart = pos
            let isRestart = nextRestart < rc && restarts[nextRestart] == pos
            if isRestart { nextRestart += 1 } else if nextRestart < rc && restarts[nextRestart] < pos {
                throw bad("restart offset \(restarts[nextRestart]) is not an entry boundary", entryStart)
            }
            guard let (shared, p1) = Block.readVarint(data, pos, rs),
                  let (unshared, p2) = Block.readVarint(data, p1, rs),
                  let (vlen, p3) = Block.readVarint(data, p2, rs) else { throw bad("truncated entry header", entryStart) }
            guard shared <= UInt64(keyLen), !isRestart || shared == 0 else { throw bad("shared prefix \(shared) too long", entryStart) }
            guard unshared <= UInt64(rs - p3), vlen <= UInt64(rs - p3) - unshared else { throw bad("entry overruns block", entryStart) }
            keyLen = Int(shared) + Int(unshared)
            guard keyLen >= FullKey.overhead else { throw bad("key of \(keyLen) bytes is too short", entryStart) }
            if checkOrder {
                key.removeLast(key.count - Int(shared))
                key.append(contentsOf: data[p3..<(p3 + Int(unshared))])
            }
            if isRestart {
                // A restart key is stored whole (shared == 0).
                data.withUnsafeBytes { d in
                    let k = UnsafeRawBufferPointer(rebasing: d[p3..<(p3 + keyLen)])
                    rKeys.append(RestartKey(prefix: KeyPrefix.of(FullKey.userKey(k)), table: FullKey.table(k),
                                            offset: UInt32(entryStart)))
                }
            }
            let vStart = p3 + Int(unshared)
            if dataBlock {
                guard vlen >= 1, data[vStart] <= ValueKind.delete else { throw bad("bad value kind", vStart) }
            }
            if checkOrder {
                if count > 0 {
                    let c = key.withUnsafeBytes { k in prev.withUnsafeBytes { p in FullKey.compare(p, k) } }
                    guard c < 0 else { throw bad("keys out of order", entryStart) }
                }
                prev.removeAll(keepingCapacity: true)
                prev.append(contentsOf: key)
            }
            maxKey = max(maxKey, keyLen)
            count += 1
            pos = vStart + Int(vlen)
        }
        guard nextRestart == rc else { throw bad("restart points past the last entry", rs) }
        guard count > 0 else { throw bad("empty block") }
        self.data = data
        self.restartsStart = rs
        self.restartCount = rc
        self.entryCount = count
        self.maxKeyLength = maxKey
        self.restartKeys = rKeys
    }

    @inline(__always)
    static func readVarint(_ d: [UInt8], _ at: Int, _ end: Int) -> (UInt64, Int)? {
        var r: UInt64 = 0, s: UInt64 = 0, p = at
        while p < end && s <= 63 {
            let b = d[p]; p += 1
            r |= UInt64(b & 0x7f) << s
            if b & 0x80 == 0 { return (r, p) }
            s += 7
        }
        return nil
    }

    /// Varint decode without bounds checks; valid only on validated data.
    @inline(__always)
    static func fastVarint(_ p: UnsafeRawBufferPointer, _ at: inout Int) -> Int {
        var b = p[at]; at += 1
        if b < 0x80 { return Int(b) }
        var r = Int(b & 0x7f), s = 7
        repeat {
            b = p[at]; at += 1
            r |= Int(b & 0x7f) << s
            s += 7
        } while b >= 0x80
        return r
    }

    @inline(__always)
    func restartOffset(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int {
        Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: restartsStart + i * 4, as: UInt32.self)))
    }

    /// Result of a point lookup inside one block.
    enum PointResult {
        /// The newest version of the user key with epoch <= the target epoch: its kind and value range in `data`.
        case found(kind: UInt8, value: Range<Int>)
        /// The first key at or after the target belongs to another user key.
        case absent
        /// Every key in the block is before the target.
        case pastEnd
    }

    /// Finds the first entry at or after `(table, userKey, epoch)` and reports
    /// whether it is a version of that user key. Allocation-free for keys up to 512 bytes.
    func pointLookup(table: UInt32, userKey: UnsafeRawBufferPointer, epoch: Epoch) -> PointResult {
        let prefix = KeyPrefix.of(userKey)
        return data.withUnsafeBytes { p in
            // Binary search: the last restart whose key is < target.
            var lo = 0, hi = restartCount - 1
            while lo < hi {
                let mid = (lo + hi + 1) >> 1
                let less: Bool
                let rk = restartKeys[mid]
                let t = rk.table, pf = rk.prefix
                if t != table {
                    less = t < table
                } else if pf != prefix {
                    less = pf < prefix
                } else {
                    var at = Int(rk.offset)
                    _ = Block.fastVarint(p, &at)
                    let klen = Block.fastVarint(p, &at)
                    _ = Block.fastVarint(p, &at)
                    let k = UnsafeRawBufferPointer(rebasing: p[at..<(at + klen)])
                    less = FullKey.compare(k, table: table, userKey: userKey, epoch: epoch) < 0
                }
                if less { lo = mid } else { hi = mid - 1 }
            }
            // The scan below walks up to a restart interval of entries (about 1 KiB for
            // 100-byte rows) in a block that is rarely in the CPU cache: start loading all
            // of its cache lines at once rather than one miss after another.
            let start = Int(restartKeys[lo].offset)
            let end = lo + 1 < restartCount ? Int(restartKeys[lo + 1].offset) : restartsStart
            floe_prefetch_range(p.baseAddress! + start, end - start)
            return withUnsafeTemporaryAllocation(byteCount: maxKeyLength, alignment: 1) { buf in
                var at = start
                var keyLen = 0
                while at < restartsStart {
                    let shared = Block.fastVarint(p, &at)
                    let unshared = Block.fastVarint(p, &at)
                    let vlen = Block.fastVarint(p, &at)
                    (buf.baseAddress! + shared).copyMemory(from: p.baseAddress! + at, byteCount: unshared)
                    keyLen = shared + unshared
                    at += unshared
                    let k = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buf)[0..<keyLen])
                    // Table and first 8 user-key bytes first, as the restart search does: most
                    // entries passed differ there, and two integer compares beat a memcmp call.
                    let t = FullKey.table(k)
                    if t != table {
                        if t > table { return .absent }
                        at += vlen
                        continue
                    }
                    let pf = KeyPrefix.of(FullKey.userKey(k))
                    if pf != prefix {
                        if pf > prefix { return .absent }
                        at += vlen
                        continue
                    }
                    let c = FullKey.compare(k, table: table, userKey: userKey, epoch: epoch)
                    if c >= 0 {
                        if FullKey.compareUser(k, table: table, userKey: userKey) == 0 {
                            return .found(kind: p[at], value: (at + 1)..<(at + vlen))
                        }
                        return .absent
                    }
                    at += vlen
                }
                return .pastEnd
            }
        }
    }
}

/// Storage for a cursor's current key, reused from block to block.
final class KeyBuffer {
    let pointer: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        pointer = .allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { pointer.deallocate() }
}

/// Sequential reader over a block's entries, used by scans and SST iteration.
/// The current key is rebuilt in place in a `KeyBuffer` sized to the block's
/// longest key: iteration allocates nothing per entry, and reading the current
/// entry touches only trivial fields (raw pointers and offsets), so it costs no
/// reference counting when the cursor sits inside a class.
///
/// Non-copyable: the key buffer is shared state, so two copies would overwrite
/// each other's key.
struct BlockCursor: ~Copyable {
    let block: Block
    private let keys: KeyBuffer
    /// `keys.pointer`, held as a trivial field so reading the key touches no reference.
    private let keyBytes: UnsafeMutableRawPointer
    /// `block.data`'s bytes. Stable while `block` lives: `data` is a `let` that is
    /// never mutated, so its storage neither moves nor is freed.
    private let base: UnsafeRawPointer
    private let end: Int
    private var next: Int = 0
    private(set) var keyLength = 0
    private(set) var value: Range<Int> = 0..<0
    private(set) var valid = false

    /// A cursor before the first entry; `reusing` donates a key buffer if large enough.
    init(_ block: Block, reusing buffer: KeyBuffer? = nil) {
        self.block = block
        if let b = buffer, b.capacity >= block.maxKeyLength { keys = b } else { keys = KeyBuffer(capacity: block.maxKeyLength) }
        keyBytes = keys.pointer
        base = block.data.withUnsafeBytes { $0.baseAddress.map(UnsafeRawPointer.init) } ?? UnsafeRawPointer(keyBytes)
        end = block.restartsStart
    }

    /// The key buffer, to hand to the next block's cursor.
    var keyBuffer: KeyBuffer { keys }

    /// A copy of the current key (for tools; the hot paths borrow it with `withKey`).
    var key: [UInt8] { withKey { Array($0) } }

    /// Calls `body` with the current key's bytes, valid only inside `body`.
    @inline(__always)
    func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: keyBytes, count: keyLength))
    }

    /// Calls `body` with the current key, the value kind byte and the user value
    /// (after the kind byte) of a data-block entry, valid only inside `body`.
    @inline(__always)
    func withEntry<R>(_ body: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: keyBytes, count: keyLength), base.load(fromByteOffset: value.lowerBound, as: UInt8.self),
                 UnsafeRawBufferPointer(start: base + value.lowerBound + 1, count: value.count - 1))
    }

    /// Advances to the next entry; returns false past the last one.
    @discardableResult
    @inline(__always)
    mutating func advance() -> Bool {
        guard next < end else { valid = false; return false }
        // Block validation proved every entry in bounds and every key within maxKeyLength.
        let p = UnsafeRawBufferPointer(start: base, count: end)
        var at = next
        let shared = Block.fastVarint(p, &at)
        let unshared = Block.fastVarint(p, &at)
        let vlen = Block.fastVarint(p, &at)
        (keyBytes + shared).copyMemory(from: base + at, byteCount: unshared)
        keyLength = shared + unshared
        value = (at + unshared)..<(at + unshared + vlen)
        next = at + unshared + vlen
        // A merge over many sources (a deep L0) comes back to this cursor only after
        // the others had their turn: too many interleaved streams for the hardware
        // prefetcher, so the next entry's bytes missed to DRAM on every return. Ask
        // for them now (two lines: the entry and what follows; never faults).
        floe_prefetch(base + next)
        floe_prefetch(base + next + 64)
        valid = true
        return true
    }

    /// Positions at the first entry >= the encoded full key `target` (or invalid past the end).
    mutating func seek(_ target: [UInt8]) {
        let startAt: Int = block.data.withUnsafeBytes { p in
            target.withUnsafeBytes { t in
                var lo = 0, hi = block.restartCount - 1
                while lo < hi {
                    let mid = (lo + hi + 1) >> 1
                    var at = block.restartOffset(p, mid)
                    _ = Block.fastVarint(p, &at)
                    let klen = Block.fastVarint(p, &at)
                    _ = Block.fastVarint(p, &at)
                    if FullKey.compare(UnsafeRawBufferPointer(rebasing: p[at..<(at + klen)]), t) < 0 { lo = mid } else { hi = mid - 1 }
                }
                return block.restartOffset(p, lo)
            }
        }
        next = startAt
        keyLength = 0
        while advance() {
            if target.withUnsafeBytes({ t in withKey { FullKey.compare($0, t) } }) >= 0 { return }
        }
    }

    mutating func seekToFirst() {
        next = 0
        keyLength = 0
        advance()
    }

    /// The value kind byte of the current data-block entry.
    var kind: UInt8 { block.data[value.lowerBound] }
    /// The user value bytes (after the kind byte) of the current data-block entry.
    var userValue: ArraySlice<UInt8> { block.data[(value.lowerBound + 1)..<value.upperBound] }
}
