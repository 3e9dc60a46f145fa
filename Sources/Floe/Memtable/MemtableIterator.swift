/// Iterates a frozen memtable in full-key order (`next`) or backwards (`prev`),
/// presenting each entry with its encoded full key so it merges with SST iterators.
/// A memtable holds one version per user key (one epoch), so backward order is
/// just the sorted order walked down.
final class MemtableIterator {
    private let mem: FrozenMemtable
    private let order: [Int32]
    // Hot per-row state of a single-owner iterator (never shared across tasks, never
    // re-entered): `@exclusivity(unchecked)` drops the runtime exclusivity check that
    // otherwise costs a TLS lookup per access, about a fifth of a warm scan.
    @exclusivity(unchecked) private var position = 0
    @exclusivity(unchecked) private(set) var key: [UInt8] = []
    @exclusivity(unchecked) private(set) var valid = false

    init(_ mem: FrozenMemtable) {
        self.mem = mem
        order = mem.order
    }

    var entry: MemtableEntry { mem.entries[Int(order[position])] }
    var kind: UInt8 { entry.kind }
    var value: ArraySlice<UInt8> {
        let e = entry
        return mem.arena[e.valueOffset..<(e.valueOffset + Int(e.valueLength))]
    }

    /// Borrows the current encoded full key.
    @inline(__always)
    func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }

    /// Borrows the current key, its kind and its value.
    func withEntry<R>(_ body: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let e = entry
        return try key.withUnsafeBytes { k in
            try mem.arena.withUnsafeBytes { a in
                try body(k, e.kind, UnsafeRawBufferPointer(rebasing: a[e.valueOffset..<(e.valueOffset + Int(e.valueLength))]))
            }
        }
    }

    func seek(table: UInt32, userKey: [UInt8]) {
        position = userKey.withUnsafeBytes { mem.lowerBound(table: table, key: $0) }
        load()
    }

    /// Positions at the last entry whose `(table, userKey)` is below `(table, userKey)`,
    /// or, with a nil `userKey`, at the last entry of `table` (invalid when none).
    func seekBefore(table: UInt32, userKey: [UInt8]?) {
        if let userKey {
            position = userKey.withUnsafeBytes { mem.lowerBound(table: table, key: $0) } - 1
        } else if table == .max {
            position = mem.count - 1
        } else {
            position = mem.lowerBound(table: table + 1, key: UnsafeRawBufferPointer(start: nil, count: 0)) - 1
        }
        load()
    }

    /// Moves forward to the first entry at or after `(table, userKey)` when the
    /// current one is below it (a seek that steps rather than starts over); stays
    /// put otherwise. Invalid iterators stay invalid.
    func step(table: UInt32, userKey: [UInt8]) {
        guard valid else { return }
        let below = userKey.withUnsafeBytes { u in key.withUnsafeBytes { FullKey.compareUser($0, table: table, userKey: u) < 0 } }
        guard below else { return }
        seek(table: table, userKey: userKey)
    }

    func next() {
        position += 1
        load()
    }

    func prev() {
        position -= 1
        load()
    }

    private func load() {
        valid = position >= 0 && position < mem.count
        guard valid else { return }
        let e = entry
        mem.arena.withUnsafeBytes { a in
            FullKey.encode(table: TableID(e.table), userKey: UnsafeRawBufferPointer(rebasing: a[e.keyOffset..<(e.keyOffset + Int(e.keyLength))]),
                           epoch: mem.epoch, into: &key)
        }
    }
}
