/// Iterates a frozen memtable in full-key order, presenting each entry with its
/// encoded full key so it merges with SST iterators.
final class MemtableIterator {
    private let mem: FrozenMemtable
    private var position = 0
    private(set) var key: [UInt8] = []
    private(set) var valid = false

    init(_ mem: FrozenMemtable) { self.mem = mem }

    var entry: MemtableEntry { mem.entries[Int(mem.order[position])] }
    var kind: UInt8 { entry.kind }
    var value: ArraySlice<UInt8> {
        let e = entry
        return mem.arena[e.valueOffset..<(e.valueOffset + Int(e.valueLength))]
    }

    func seek(table: UInt32, userKey: [UInt8]) {
        position = userKey.withUnsafeBytes { mem.lowerBound(table: table, key: $0) }
        load()
    }

    func next() {
        position += 1
        load()
    }

    private func load() {
        valid = position < mem.count
        guard valid else { return }
        let e = entry
        mem.arena.withUnsafeBytes { a in
            FullKey.encode(table: TableID(e.table), userKey: UnsafeRawBufferPointer(rebasing: a[e.keyOffset..<(e.keyOffset + Int(e.keyLength))]),
                           epoch: mem.epoch, into: &key)
        }
    }
}
