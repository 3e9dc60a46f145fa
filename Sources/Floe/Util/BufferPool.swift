/// Emptied arrays of one element type, kept for reuse by the next owner of the
/// same store: SST output buffers (`SstBufferPool`) and the arenas and entry lists
/// of memtables (`MemtableRecycling`).
///
/// A fresh array of several MiB is fresh memory: the kernel faults in and zeroes
/// every page of it again. An SST is built whole in memory before its upload, and
/// every epoch writes a new memtable; reusing the storage of the last one skips
/// that (about a tenth of a compaction's CPU, and of a write-heavy pipeline's).
///
/// Bounded: at most `maxBuffers` arrays of at most `maxBufferBytes` capacity each
/// are held; `trim()` drops them all (the store does when commits pause and at close).
final class BufferPool<Element: BitwiseCopyable & Sendable>: Sendable {
    private let buffers = Lock<[[Element]]>([])
    let maxBuffers: Int
    let maxBufferBytes: Int

    init(maxBuffers: Int = 3, maxBufferBytes: Int = 80 << 20) {
        self.maxBuffers = maxBuffers
        self.maxBufferBytes = maxBufferBytes
    }

    /// An empty array for about `capacity` elements: the smallest pooled one that
    /// holds it, else the largest pooled one (it grows), else a new one.
    func take(capacity wanted: Int) -> [Element] {
        buffers.withLock { b -> [Element] in
            guard !b.isEmpty else { return [] }
            var pick = 0
            for i in b.indices.dropFirst() {
                let c = b[i].capacity, best = b[pick].capacity
                if best >= wanted ? (c >= wanted && c < best) : c > best { pick = i }
            }
            return b.remove(at: pick)
        }
    }

    /// Hands a buffer back once nothing reads it any more. A buffer some other
    /// owner still shares (an in-memory object store keeps what was put) is not
    /// kept: clearing it would allocate anew instead of reusing.
    func give(_ buffer: consuming [Element]) {
        var b = consume buffer
        let bytes = b.capacity * MemoryLayout<Element>.stride
        guard bytes <= maxBufferBytes, bytes >= 64 << 10 else { return }
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
    var heldBytes: Int { buffers.withLock { $0.reduce(0) { $0 + $1.capacity * MemoryLayout<Element>.stride } } }
}

/// Output buffers of finished SSTs, kept for the next `SstWriter` of the same store
/// (a flush and two compaction lanes: three by default).
typealias SstBufferPool = BufferPool<UInt8>
