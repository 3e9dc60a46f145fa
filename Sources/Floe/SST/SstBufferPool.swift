/// Output buffers of finished SSTs, kept for the next `SstWriter` of the same store.
///
/// An SST is built whole in memory before its upload. A fresh buffer of several
/// MiB is fresh memory: the kernel faults in and zeroes every page of it again,
/// which cost about a tenth of a compaction's CPU. Reusing the buffer of the last
/// upload skips that.
///
/// Bounded: at most `maxBuffers` buffers of at most `maxBufferBytes` capacity each
/// (a flush and two compaction lanes) are held; `trim()` drops them all (the store does when commits pause and at close).
final class SstBufferPool: Sendable {
    private let buffers = Lock<[[UInt8]]>([])
    let maxBuffers: Int
    let maxBufferBytes: Int

    init(maxBuffers: Int = 3, maxBufferBytes: Int = 80 << 20) {
        self.maxBuffers = maxBuffers
        self.maxBufferBytes = maxBufferBytes
    }

    /// An empty buffer for a file of about `bytes`: the smallest pooled one that
    /// holds it, else the largest pooled one (it grows), else a new one.
    func take(capacity bytes: Int) -> [UInt8] {
        buffers.withLock { b -> [UInt8] in
            guard !b.isEmpty else { return [] }
            var pick = 0
            for i in b.indices.dropFirst() {
                let c = b[i].capacity, best = b[pick].capacity
                if best >= bytes ? (c >= bytes && c < best) : c > best { pick = i }
            }
            return b.remove(at: pick)
        }
    }

    /// Hands a buffer back once nothing reads it any more. A buffer some other
    /// owner still shares (an in-memory object store keeps what was put) is not
    /// kept: clearing it would allocate anew instead of reusing.
    func give(_ buffer: consuming [UInt8]) {
        var b = consume buffer
        guard b.capacity <= maxBufferBytes, b.capacity >= 64 << 10 else { return }
        let storage = b.withUnsafeBufferPointer { $0.baseAddress }
        b.removeAll(keepingCapacity: true)
        // `removeAll(keepingCapacity:)` keeps the storage only when it was not shared.
        guard b.withUnsafeBufferPointer({ $0.baseAddress }) == storage else { return }
        let kept = b
        buffers.withLock { pool in
            if pool.count < maxBuffers { pool.append(kept) }
        }
    }

    /// Drops every pooled buffer.
    func trim() {
        buffers.withLock { $0.removeAll() }
    }

    /// Bytes of capacity held, for tests.
    var heldBytes: Int { buffers.withLock { $0.reduce(0) { $0 + $1.capacity } } }
}
