/// Where a sealed memtable hands its arena and entry list back once its last
/// reader drops it, for the memtable of a later epoch (`BufferPool`): a stream
/// writes an epoch's worth of fresh memory every epoch otherwise, and the kernel
/// faults in and zeroes every page of it (a tenth of a write-heavy join's CPU).
///
/// Holds at most two arenas and two entry lists, each of at most `maxBufferBytes`
/// (the store passes half its memtable budget), and nothing once trimmed. What it
/// holds is capacity, not data, and is not charged to the memtable budget.
struct MemtableRecycling: Sendable {
    let arenas: BufferPool<UInt8>
    let entries: BufferPool<MemtableEntry>

    init(maxBufferBytes: Int) {
        arenas = BufferPool(maxBuffers: 2, maxBufferBytes: maxBufferBytes)
        entries = BufferPool(maxBuffers: 2, maxBufferBytes: maxBufferBytes)
    }

    /// Drops everything held.
    func trim() {
        arenas.trim()
        entries.trim()
    }

    /// Bytes of capacity held.
    var heldBytes: Int { arenas.heldBytes + entries.heldBytes }
}
