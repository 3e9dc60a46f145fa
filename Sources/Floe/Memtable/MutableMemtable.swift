#if canImport(Glibc)
import Glibc
#endif

/// The write buffer of one open epoch: an append-only arena with last-write-wins
/// through an open-addressing hash index. Because an epoch is sealed whole, no
/// ordered structure is kept while writing; `freeze()` sorts once.
///
/// Not thread-safe by itself: the store guards it with its write-state mutex.
struct MutableMemtable {
    let epoch: Epoch
    private(set) var arena: [UInt8] = []
    private(set) var entries: [MemtableEntry] = []
    /// Open-addressing slots holding `entry index + 1` (0 = empty). Power-of-two size.
    private(set) var slots: [Int32] = []
    /// Approximate bytes held, charged against the store's memory budget.
    private(set) var memoryBytes = 0
    /// The sorted copy the last `frozenCopy` made, while no write came after it: a
    /// writer that scans its own open epoch many times between writes (a join
    /// looking up state between barriers) sorts it once, not per scan.
    private var frozenCache: FrozenMemtable?
    /// The order of the first entries as the last sorted frozen copy had it
    /// (`invalidateFrozenCopy`); entries are append-only and keep their keys.
    private var sortedPrefix: [Int32] = []
    /// Table watermarks set at this epoch (`StateStore.setTableWatermark`), committed with it.
    private(set) var watermarks: [TableWatermark] = []

    /// How large an epoch's memtable grew: the size hint of the next one.
    struct Shape: Sendable {
        var arenaBytes = 0
        var entries = 0
    }

    /// The bytes and entries written so far.
    var shape: Shape { Shape(arenaBytes: arena.count, entries: entries.count) }

    /// An empty memtable of `epoch` whose arena and entry list start at the size of
    /// `expected` (the epoch before, as a rule: epochs of a stream are alike), up to
    /// 1 GiB. Reserving up front saves the doubling copies of a growing arena (each a
    /// copy of everything so far into fresh pages the kernel must zero); pages the
    /// epoch never writes are never touched, so a smaller epoch costs address space,
    /// not memory. Capacity is not charged to the memory budget, which counts bytes written.
    /// With `recycling`, the arena and entry list are storage a sealed epoch handed
    /// back, pages already faulted in, when there is some.
    init(epoch: Epoch, expected: Shape = Shape(), recycling: MemtableRecycling? = nil) {
        self.epoch = epoch
        let arenaBytes = min(max(expected.arenaBytes, 1 << 16), 1 << 30), entryCount = min(expected.entries, 1 << 24)
        if let recycling {
            arena = recycling.arenas.take(capacity: arenaBytes)
            entries = recycling.entries.take(capacity: entryCount)
        }
        arena.reserveCapacity(arenaBytes)
        entries.reserveCapacity(entryCount)
        slots = [Int32](repeating: 0, count: 1024)
    }

    var count: Int { entries.count }
    static let entryOverhead = MemoryLayout<MemtableEntry>.stride + 8

    /// Records a put (`kind` 0) or a delete (`kind` 1). Returns the memory the write
    /// added: exactly the growth of `memoryBytes`, index growth included.
    @discardableResult
    mutating func insert(table: UInt32, key: UnsafeRawBufferPointer, kind: UInt8, value: UnsafeRawBufferPointer) -> Int {
        invalidateFrozenCopy()
        // The store charges what this returns and releases `memoryBytes` on commit, so the
        // two must agree: leaving out the slot growth of `grow()` made every commit of an
        // epoch with a grown index release more than was charged, and the budget crept up.
        let before = memoryBytes
        let hash = KeyHash.of(table: TableID(table), key: key)
        let offset = arena.count
        arena.append(contentsOf: key)
        arena.append(contentsOf: value)
        let entry = MemtableEntry(table: table, kind: kind, keyOffset: offset, keyLength: Int32(key.count),
                                  valueLength: Int32(value.count), prefix: KeyPrefix.of(key), hash: hash)
        let added = key.count + value.count
        memoryBytes += added
        if let slot = find(table: table, key: key, hash: hash) {
            // Last write wins: repoint the existing entry; the old bytes stay in the arena until the epoch is dropped.
            entries[Int(slots[slot]) - 1] = entry
            return memoryBytes - before
        }
        if (entries.count + 1) * 4 > slots.count * 3 { grow() }
        entries.append(entry)
        memoryBytes += MutableMemtable.entryOverhead
        place(Int32(entries.count), hash: hash)
        return memoryBytes - before
    }

    /// The live entry for `(table, key)`, if written in this epoch.
    func lookup(table: UInt32, key: UnsafeRawBufferPointer) -> MemtableEntry? {
        let hash = KeyHash.of(table: TableID(table), key: key)
        guard let slot = find(table: table, key: key, hash: hash) else { return nil }
        return entries[Int(slots[slot]) - 1]
    }

    func value(of e: MemtableEntry) -> [UInt8] {
        Array(arena[e.valueOffset..<(e.valueOffset + Int(e.valueLength))])
    }

    private func find(table: UInt32, key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        MutableMemtable.findSlot(slots: slots, entries: entries, arena: arena, table: table, key: key, hash: hash)
    }

    /// The open-addressing probe shared with `FrozenMemtable`: the slot holding
    /// `(table, key)`, or nil at the first empty slot.
    static func findSlot(slots: [Int32], entries: [MemtableEntry], arena: [UInt8],
                         table: UInt32, key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        return arena.withUnsafeBytes { a -> Int? in
            while true {
                let s = slots[i]
                if s == 0 { return nil }
                let e = entries[Int(s) - 1]
                if e.hash == hash, e.table == table, Int(e.keyLength) == key.count,
                   key.count == 0 || memcmp(a.baseAddress! + e.keyOffset, key.baseAddress!, key.count) == 0 {
                    return i
                }
                i = (i + 1) & mask
            }
        }
    }

    private mutating func place(_ index: Int32, hash: UInt64) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = index
    }

    private mutating func grow() {
        memoryBytes += slots.count * 4
        slots = [Int32](repeating: 0, count: slots.count * 2)
        for (i, e) in entries.enumerated() { place(Int32(i + 1), hash: e.hash) }
    }


    /// Records a table watermark of this epoch; one per table (a later call replaces).
    mutating func setWatermark(_ w: TableWatermark) {
        invalidateFrozenCopy()
        watermarks.removeAll { $0.tableRaw == w.tableRaw }
        watermarks.append(w)
    }

    /// Sorts the live entries into an immutable memtable. The mutable memtable
    /// stays usable (a writer scanning its own open epoch freezes a copy).
    func freeze() -> FrozenMemtable {
        FrozenMemtable(epoch: epoch, arena: arena, entries: entries, slots: slots, memoryBytes: memoryBytes,
                       watermarks: watermarks, sortedPrefix: sortedPrefix)
    }

    /// `freeze()`, reusing the copy of the previous call when nothing was written since.
    mutating func frozenCopy() -> FrozenMemtable {
        if let f = frozenCache { return f }
        let f = freeze()
        frozenCache = f
        return f
    }

    /// Drops the cached frozen copy before a write (so the arena is uniquely
    /// referenced again and grows in place), keeping its order if a scan sorted it:
    /// the next freeze sorts only the entries written since and merges.
    private mutating func invalidateFrozenCopy() {
        guard let f = frozenCache else { return }
        if let o = f.orderIfSorted { sortedPrefix = o }
        frozenCache = nil
    }
}
