import CCpuHints

/// Turns sealed memtables of several epochs into SST files: a k-way merge in
/// full-key order (for one user key, newest epoch first), cut into files at the
/// target size on user-key boundaries so a key's versions never span two files.
enum MemtableFlush {
    struct Output {
        var bytes: [UInt8]
        var info: SstInfo

        /// The bytes, leaving this output empty (so a pool can reuse the buffer unshared).
        mutating func takeBytes() -> [UInt8] {
            let b = bytes
            bytes = []
            return b
        }
    }

    /// `memtables` must be in ascending epoch order. `nextID` yields fresh SST ids.
    /// The first file is built in a buffer from `buffers` (later ones, rare, in fresh ones).
    static func build(_ memtables: [FrozenMemtable], options: SstWriterOptions, buffers: SstBufferPool? = nil,
                      nextID: () -> UInt64) -> [Output] {
        var outputs: [Output] = []
        var positions = [Int](repeating: 0, count: memtables.count)
        let orders = memtables.map(\.order)
        // The memtables' bytes bound the file (keys grow by their 12-byte suffix, 1% or so for blocks).
        let expected = memtables.reduce(0) { $0 + $1.memoryBytes }
        var writer = SstWriter(id: nextID(), options: options, expectedBytes: expected, buffer: buffers?.take(capacity: expected) ?? [])
        while true {
            // Pick the smallest (table, key); among equals the newest epoch (highest index) first.
            var best = -1
            for i in memtables.indices where positions[i] < memtables[i].count {
                if best < 0 { best = i; continue }
                let c = compare(memtables[i], orders[i][positions[i]], memtables[best], orders[best][positions[best]])
                if c <= 0 { best = i }
            }
            if best < 0 { break }
            let m = memtables[best]
            let e = m.entries[Int(orders[best][positions[best]])]
            positions[best] += 1
            prefetch(m, orders[best], after: positions[best])
            m.arena.withUnsafeBytes { a in
                let key = UnsafeRawBufferPointer(rebasing: a[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
                let value = UnsafeRawBufferPointer(rebasing: a[e.valueOffset..<(e.valueOffset + Int(e.valueLength))])
                if writer.estimatedSize >= options.targetFileSize && writer.isNewUserKey(table: e.table, userKey: key) {
                    let f = writer.finish()
                    outputs.append(Output(bytes: f.bytes, info: f.info))
                    writer = SstWriter(id: nextID(), options: options, expectedBytes: expected)
                }
                writer.add(table: e.table, userKey: key, epoch: m.epoch, kind: e.kind, value: value)
            }
        }
        if !writer.isEmpty {
            let f = writer.finish()
            outputs.append(Output(bytes: f.bytes, info: f.info))
        }
        return outputs
    }

    /// The arena holds entries in arrival order, so reading them in key order misses the
    /// cache on nearly every key (and the arena was written on another core). Loads
    /// are started a few entries ahead: the entry `entryDistance` ahead, and the key
    /// and value bytes of the one `arenaDistance` ahead, whose entry is cached by then.
    @inline(__always)
    private static func prefetch(_ m: FrozenMemtable, _ order: [Int32], after position: Int) {
        let entryDistance = 16, arenaDistance = 8
        order.withUnsafeBufferPointer { order in
            m.entries.withUnsafeBufferPointer { entries in
                if position + entryDistance < order.count {
                    floe_prefetch(entries.baseAddress! + Int(order[position + entryDistance]))
                }
                guard position + arenaDistance < order.count else { return }
                let e = entries[Int(order[position + arenaDistance])]
                m.arena.withUnsafeBytes { a in
                    // The key and value, capped at 256 bytes: a few lines for typical rows.
                    floe_prefetch_range(a.baseAddress! + e.keyOffset, min(256, Int(e.keyLength) + Int(e.valueLength)))
                }
            }
        }
    }

    @inline(__always)
    private static func compare(_ a: FrozenMemtable, _ ia: Int32, _ b: FrozenMemtable, _ ib: Int32) -> Int {
        let ea = a.entries[Int(ia)], eb = b.entries[Int(ib)]
        if ea.table != eb.table { return ea.table < eb.table ? -1 : 1 }
        if ea.prefix != eb.prefix { return ea.prefix < eb.prefix ? -1 : 1 }
        return a.arena.withUnsafeBytes { pa in
            b.arena.withUnsafeBytes { pb in
                FullKey.compareBytes(UnsafeRawBufferPointer(rebasing: pa[ea.keyOffset..<(ea.keyOffset + Int(ea.keyLength))]),
                                     UnsafeRawBufferPointer(rebasing: pb[eb.keyOffset..<(eb.keyOffset + Int(eb.keyLength))]))
            }
        }
    }
}
