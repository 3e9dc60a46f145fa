/// Builds one block: prefix-compressed entries with a restart point every
/// `restartInterval` entries, then the restart array and its count.
///
/// Entry: `[shared: varint][unshared: varint][valueLen: varint][key suffix][value]`.
/// Tail:  `[restart offsets: u32 LE each][restart count: u32 LE]`.
/// Keys must be added in strictly increasing full-key order (the caller's invariant).
struct BlockBuilder {
    private(set) var buffer: [UInt8] = []
    private var restarts: [UInt32] = [0]
    private var lastKey: [UInt8] = []
    private var sinceRestart = 0
    private(set) var entryCount = 0
    let restartInterval: Int

    init(restartInterval: Int = 16, capacity: Int = 4096) {
        self.restartInterval = restartInterval
        buffer.reserveCapacity(capacity + capacity / 4)
    }

    var isEmpty: Bool { entryCount == 0 }
    var estimatedSize: Int { buffer.count + restarts.count * 4 + 4 }
    var lastAddedKey: [UInt8] { lastKey }

    /// Appends an entry. `value` is the stored value bytes (for data blocks the kind byte first).
    mutating func add(key: UnsafeRawBufferPointer, valuePrefix: UInt8?, value: UnsafeRawBufferPointer) {
        var shared = 0
        if sinceRestart >= restartInterval {
            restarts.append(UInt32(buffer.count))
            sinceRestart = 0
        } else {
            let n = min(lastKey.count, key.count)
            lastKey.withUnsafeBytes { lk in
                while shared < n && lk[shared] == key[shared] { shared += 1 }
            }
        }
        let valueLen = value.count + (valuePrefix == nil ? 0 : 1)
        appendVarint(UInt64(shared))
        appendVarint(UInt64(key.count - shared))
        appendVarint(UInt64(valueLen))
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[shared...]))
        if let p = valuePrefix { buffer.append(p) }
        buffer.append(contentsOf: value)
        lastKey.removeAll(keepingCapacity: true)
        lastKey.append(contentsOf: key)
        sinceRestart += 1
        entryCount += 1
    }

    mutating func add(key: [UInt8], value: [UInt8]) {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in add(key: k, valuePrefix: nil, value: v) } }
    }

    @inline(__always) private mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        buffer.append(UInt8(v))
    }

    /// Returns the finished block payload and resets the builder for reuse.
    mutating func finish() -> [UInt8] {
        for r in restarts { withUnsafeBytes(of: r.littleEndian) { buffer.append(contentsOf: $0) } }
        withUnsafeBytes(of: UInt32(restarts.count).littleEndian) { buffer.append(contentsOf: $0) }
        let out = buffer
        buffer.removeAll(keepingCapacity: true)
        restarts.removeAll(keepingCapacity: true)
        restarts.append(0)
        lastKey.removeAll(keepingCapacity: true)
        sinceRestart = 0
        entryCount = 0
        return out
    }
}
