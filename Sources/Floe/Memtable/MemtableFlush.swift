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
        // The memtables' bytes bound the file (keys grow by their 12-byte suffix, 1% or so for blocks).
        let expected = memtables.reduce(0) { $0 + $1.memoryBytes }
        var files = Files(options: options, expected: expected, buffers: buffers, nextID: nextID)
        if memtables.count == 1 {
            let m = memtables[0], order = m.order
            return build(m, order[...], files: &files, nextID: nextID)
        }
        var positions = [Int](repeating: 0, count: memtables.count)
        let orders = memtables.map(\.order)
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
            m.arena.withUnsafeBytes { a in
                m.entries.withUnsafeBufferPointer { entries in
                    orders[best].withUnsafeBufferPointer { prefetch(entries, $0, a, after: positions[best]) }
                }
                files.add(e, a, epoch: m.epoch, nextID: nextID)
            }
        }
        return files.finish()
    }

    /// One memtable's SSTs, built as `parts` key ranges at once (child tasks), each cut
    /// into files of its own: the ranges' files, in order, are one sub-level. Every
    /// position of `order` is a user-key boundary (one memtable holds one version per
    /// key), so the ranges split it evenly. The first range's first file is built in a
    /// buffer from `buffers`, like the others' (the pool is shared and locked).
    static func build(_ m: FrozenMemtable, order: [Int32], parts: Int, options: SstWriterOptions, buffers: SstBufferPool?,
                      nextID: @escaping @Sendable () -> UInt64) async -> [Output] {
        let parts = max(1, min(parts, order.count))
        if parts == 1 {
            var files = Files(options: options, expected: m.memoryBytes, buffers: buffers, nextID: nextID)
            return build(m, order[...], files: &files, nextID: nextID)
        }
        let bounds = (0...parts).map { $0 * order.count / parts }
        return await withTaskGroup(of: (Int, [Output]).self) { group in
            for r in 0..<parts {
                group.addTask {
                    var files = Files(options: options, expected: m.memoryBytes / parts, buffers: buffers, nextID: nextID)
                    return (r, build(m, order[bounds[r]..<bounds[r + 1]], files: &files, nextID: nextID))
                }
            }
            var out = [[Output]](repeating: [], count: parts)
            for await (r, o) in group { out[r] = o }
            return Array(out.joined())
        }
    }

    /// The entries of `order` (one memtable's, in key order) added to `files`, with
    /// the memtable's arrays borrowed once rather than retained per entry.
    private static func build(_ m: FrozenMemtable, _ order: ArraySlice<Int32>, files: inout Files, nextID: () -> UInt64) -> [Output] {
        m.arena.withUnsafeBytes { a in
            m.entries.withUnsafeBufferPointer { entries in
                order.withUnsafeBufferPointer { order in
                    for p in order.indices {
                        prefetch(entries, order, a, after: p + 1)
                        files.add(entries[Int(order[p])], a, epoch: m.epoch, nextID: nextID)
                    }
                }
            }
        }
        return files.finish()
    }

    /// The files of one flush, cut at the target size on user-key boundaries.
    private struct Files {
        let options: SstWriterOptions
        let expected: Int
        var writer: SstWriter
        var outputs: [Output] = []

        init(options: SstWriterOptions, expected: Int, buffers: SstBufferPool?, nextID: () -> UInt64) {
            self.options = options
            self.expected = expected
            // The first file is built in a pooled buffer; later ones (rare) in fresh ones.
            writer = SstWriter(id: nextID(), options: options, expectedBytes: expected, buffer: buffers?.take(capacity: expected) ?? [])
        }

        /// Appends entry `e` (of `arena`) at `epoch`, starting a new file first when due.
        @inline(__always)
        mutating func add(_ e: MemtableEntry, _ arena: UnsafeRawBufferPointer, epoch: Epoch, nextID: () -> UInt64) {
            let key = UnsafeRawBufferPointer(rebasing: arena[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
            let value = UnsafeRawBufferPointer(rebasing: arena[e.valueOffset..<(e.valueOffset + Int(e.valueLength))])
            if writer.estimatedSize >= options.targetFileSize && writer.isNewUserKey(table: e.table, userKey: key) {
                let f = writer.finish()
                outputs.append(Output(bytes: f.bytes, info: f.info))
                writer = SstWriter(id: nextID(), options: options, expectedBytes: expected)
            }
            writer.add(table: e.table, userKey: key, epoch: epoch, kind: e.kind, value: value)
        }

        mutating func finish() -> [Output] {
            if !writer.isEmpty {
                let f = writer.finish()
                outputs.append(Output(bytes: f.bytes, info: f.info))
            }
            return outputs
        }
    }

    /// The arena holds entries in arrival order, so reading them in key order misses the
    /// cache on nearly every key (and the arena was written on another core). Loads
    /// are started a few entries ahead: the entry `entryDistance` ahead, and the key
    /// and value bytes of the one `arenaDistance` ahead, whose entry is cached by then.
    @inline(__always)
    private static func prefetch(_ entries: UnsafeBufferPointer<MemtableEntry>, _ order: UnsafeBufferPointer<Int32>,
                                 _ arena: UnsafeRawBufferPointer, after position: Int) {
        let entryDistance = 16, arenaDistance = 8
        if position + entryDistance < order.count {
            floe_prefetch(entries.baseAddress! + Int(order[position + entryDistance]))
        }
        guard position + arenaDistance < order.count else { return }
        let e = entries[Int(order[position + arenaDistance])]
        // The key and value, capped at 256 bytes: a few lines for typical rows.
        floe_prefetch_range(arena.baseAddress! + e.keyOffset, min(256, Int(e.keyLength) + Int(e.valueLength)))
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
