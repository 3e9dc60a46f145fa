#if canImport(Glibc)
import Glibc
#endif

/// An immutable, sorted memtable of one epoch: what `seal` produces and `sync`
/// turns into SSTs. Shared by reference between the store and readers.
///
/// `@unchecked Sendable`: `arena` and `entries` are `var` only so that `deinit` can
/// move them into `recycling` (no one else holds the object then); nothing else
/// writes them, and every other field is a `let` or a `Lock`.
final class FrozenMemtable: @unchecked Sendable {
    let epoch: Epoch
    @exclusivity(unchecked) private(set) var arena: [UInt8]
    @exclusivity(unchecked) private(set) var entries: [MemtableEntry]
    /// Set by `recycleWhenReleased`: where `deinit` hands the arena and entries back.
    private let recycling = Lock<MemtableRecycling?>(nil)
    let slots: [Int32]
    /// Entry indices in `(table, userKey)` order, sorted on first use: `seal` freezes
    /// under the store's write lock, and the sort then runs in the sync that flushes
    /// the epoch (or the first scan of it), off the writer's path.
    private let sortedOrder = Lock<[Int32]?>(nil)
    /// `sortedOrder`'s value once sorted, under a lock that is never held for a sort.
    private let finishedOrder = Lock<[Int32]?>(nil)
    let memoryBytes: Int
    /// Table watermarks set at this epoch.
    let watermarks: [TableWatermark]

    /// The order of the first entries, from an earlier freeze of the same memtable:
    /// the sort extends it (`MemtableSort.order(_:arena:extending:)`).
    private let sortedPrefix: [Int32]

    init(epoch: Epoch, arena: [UInt8], entries: [MemtableEntry], slots: [Int32], memoryBytes: Int,
         watermarks: [TableWatermark] = [], sortedPrefix: [Int32] = []) {
        self.epoch = epoch
        self.sortedPrefix = sortedPrefix.count <= entries.count ? sortedPrefix : []
        self.watermarks = watermarks
        self.arena = arena
        self.entries = entries
        self.slots = slots
        // The order array is charged up front, sorted or not.
        self.memoryBytes = memoryBytes + entries.count * 4
    }

    /// Entry indices in `(table, userKey)` order. Keys are unique (last write won at
    /// insert). Take it once per pass: each read takes a lock.
    var order: [Int32] {
        sortedOrder.withLock { o in
            if let o { return o }
            let sorted = MemtableSort.order(entries, arena: arena, extending: sortedPrefix)
            o = sorted
            finishedOrder.withLock { $0 = sorted }
            return sorted
        }
    }

    /// `order`, sorted as `parts` key ranges at once when no order exists yet (a sync
    /// of a large epoch: `MemtableSort.order(_:arena:parts:)`). A reader asking for
    /// `order` meanwhile sorts on its own; both get the same order.
    func order(parts: Int) async -> [Int32] {
        if let o = orderIfSorted { return o }
        guard parts > 1, sortedPrefix.isEmpty else { return order }
        let sorted = await MemtableSort.order(entries, arena: arena, parts: parts)
        return sortedOrder.withLock { o in
            if let o { return o }
            o = sorted
            finishedOrder.withLock { $0 = sorted }
            return sorted
        }
    }

    var count: Int { entries.count }

    /// Hands the arena and entry list to `pools` when the last reference goes. Only
    /// for a memtable no writer extends any more (sealed or spilled): a frozen copy
    /// of an open epoch shares its arena with the writer.
    func recycleWhenReleased(into pools: MemtableRecycling) {
        recycling.withLock { $0 = pools }
    }

    deinit {
        guard let pools = recycling.withLock({ $0 }) else { return }
        // Moved out first, so the pools see the storage uniquely referenced and keep it.
        let a = arena, e = entries
        arena = []
        entries = []
        pools.arenas.give(consume a)
        pools.entries.give(consume e)
    }

    /// The order if a reader has sorted it already (nil otherwise: never sorts, and
    /// never waits for a sort in progress: a writer calls it under the store's lock).
    var orderIfSorted: [Int32]? { finishedOrder.withLock { $0 } }

    /// The entry for `(table, key)` via the hash index.
    func lookup(table: UInt32, key: UnsafeRawBufferPointer) -> MemtableEntry? {
        let hash = KeyHash.of(table: TableID(table), key: key)
        guard let slot = MutableMemtable.findSlot(slots: slots, entries: entries, arena: arena, table: table, key: key, hash: hash) else { return nil }
        return entries[Int(slots[slot]) - 1]
    }

    func value(of e: MemtableEntry) -> [UInt8] {
        Array(arena[e.valueOffset..<(e.valueOffset + Int(e.valueLength))])
    }

    func key(of e: MemtableEntry) -> UnsafeRawBufferPointer.SubSequence.Indices { e.keyOffset..<(e.keyOffset + Int(e.keyLength)) }

    /// Position in `order` of the first entry whose `(table, userKey)` is >= the given one.
    func lowerBound(table: UInt32, key: UnsafeRawBufferPointer) -> Int {
        let order = self.order
        return arena.withUnsafeBytes { a in
            var lo = 0, hi = order.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                let e = entries[Int(order[mid])]
                let c: Int
                if e.table != table { c = e.table < table ? -1 : 1 } else {
                    c = FullKey.compareBytes(UnsafeRawBufferPointer(rebasing: a[e.keyOffset..<(e.keyOffset + Int(e.keyLength))]), key)
                }
                if c < 0 { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }
}
