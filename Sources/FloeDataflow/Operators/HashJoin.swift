import Floe

/// An inner equi-join of two inputs with both sides in state, exact under inserts
/// and deletes on either side: a change on one side is joined with every row the
/// other side holds for its key, and then applied to its own side.
///
/// State (per side): key = virtual node, memcomparable join key, memcomparable
/// primary key of the side; value = the side's row (`RowCodec`). A third table holds
/// per join key the number of rows of each side (two little-endian int64s), so that
/// a key seen for the first time costs one point read (bloom-filtered) instead of
/// two prefix scans. docs/format.md §14.
///
/// Each side's primary key must identify its rows (a delete removes the row with
/// that key). Cache: the join keys touched since the last barrier stay in memory;
/// over `cacheBytes` once the barrier has gone on (`afterBarrier`), the cache keeps
/// what `CacheEviction` chooses (its newest epochs) and drops the rest.
///
/// Window cleaning (`cleaning`, set by the builder when both sides carry the same
/// event-time window start in their join keys; `JoinWindowCleaning`): the first
/// key column of both sides is that window start, so every state key (both
/// sides' rows and the row counts) holds it right after the virtual node. At the
/// barrier of epoch E with watermark W, after the epoch's flush, the join sets on
/// its three tables a table watermark at epoch E + 1 that hides every key of a
/// closed window (start + size <= W), and drops those keys from its cache. It
/// emits nothing for them: no row of a closed window arrives any more on either
/// side, so none of the hidden rows could match again and the output is the same
/// as without cleaning. E + 1, because other instances may still read their keys
/// at E; the bound only rises (the watermark at a barrier is never below the one
/// at a committed barrier, also across restarts).
///
/// Interval expiry (`expiry`, `JoinExpiry`, asked for by the query): a side's row
/// whose expiry column is below the watermark is removed at the barrier (its row,
/// its share of the row counts, its index entry), found through the side's
/// expiry index, keeping the virtual nodes `ownedNodes` this instance owns. It emits
/// nothing; the query's promise is that such a row could only have made output
/// that what follows the join drops.
public struct HashJoin: StreamOperator {
    public struct Side: Sendable {
        public var types: [ColumnType]
        public var keyColumns: [Int]
        public var primaryKey: [Int]
        public init(types: [ColumnType], keyColumns: [Int], primaryKey: [Int]) {
            self.types = types
            self.keyColumns = keyColumns
            self.primaryKey = primaryKey
        }
    }

    /// An output column: a column of the left (0) or right (1) input.
    public struct OutputColumn: Sendable, Hashable {
        public var side: Int
        public var column: Int
        public init(side: Int, column: Int) {
            self.side = side
            self.column = column
        }
    }

    private typealias Row = JoinSideRows.Row

    private struct Entry: Sendable {
        let key: [UInt8]
        /// `ByteKey.tag(key)`: the index finds the entry's bucket by it.
        let tag: UInt32
        var rows = JoinSideRows.Pair()
        var dirty = false
        /// The last epoch that read or changed this key (eviction keeps the recent ones).
        var touched: Epoch = 0

        /// `key.count`, kept inline: eviction sizes a million entries without reading their keys.
        let keyCount: Int32

        init(key: [UInt8], tag: UInt32) {
            self.key = key
            self.tag = tag
            keyCount = Int32(key.count)
        }

        var bytes: Int { Int(keyCount) * 2 + 96 + rows.left.cacheBytes + rows.right.cacheBytes }
    }

    public let outputTypes: [ColumnType]
    let sides: [Side]
    let output: [OutputColumn]
    private var tables: [StateTable]
    private var degrees: StateTable
    let cacheBytes: Int
    private var index = SlotIndex()
    private var entries: [Entry] = []
    private var dirtyList: [Int32] = []
    private var cachedBytes = 0
    private var keyBuffer: [UInt8] = []
    private var slotOf: [Int32] = []
    /// For a row of side s stored as bytes: field i goes to output column mapping[s][i] (or nowhere).
    private let mapping: [[Int]]
    /// Closed-window cleaning, when the first key column of both sides is a window start.
    let cleaning: JoinWindowCleaning?
    /// Every window start below this is closed and hidden (`Watermark.none`: none yet).
    private(set) var firstOpenStart = Watermark.none
    /// Interval expiry: per side, the expiry column (nil: never) and its index table.
    let expiry: JoinExpiry?
    private var expiryIndex: [StateTable?] = [nil, nil]
    /// The virtual nodes this instance owns (whose expiry index entries it reads).
    let ownedNodes: Range<Int>
    /// Every expiring row whose expiry value is below this was removed (`Watermark.none`: none yet).
    private(set) var expiredBelow = Watermark.none
    private var expiryKey: [UInt8] = []
    private var expiryValue: [UInt8] = []

    /// Throws `invalidArgument` when the sides' join keys differ in number or type,
    /// or when `cleaning` is given and the first key column is not an integer-like
    /// column (a window start).
    public init(left: Side, right: Side, output: [OutputColumn], leftState: StateTable, rightState: StateTable, degrees: StateTable,
                cacheBytes: Int = 64 << 20, cleaning: JoinWindowCleaning? = nil, expiry: JoinExpiry? = nil,
                ownedNodes: Range<Int> = 0..<VirtualNodes.count) throws {
        guard left.keyColumns.map({ left.types[$0] }) == right.keyColumns.map({ right.types[$0] }) else {
            throw DataflowError.invalidArgument("join keys differ in type: \(left.keyColumns.map { left.types[$0] }) and \(right.keyColumns.map { right.types[$0] })")
        }
        if cleaning != nil {
            guard let first = left.keyColumns.first, left.types[first].isInteger, cleaning!.sizeMicros > 0 else {
                throw DataflowError.invalidArgument("a join that cleans windows needs a window start as its first key column and a positive size")
            }
        }
        self.cleaning = cleaning
        self.expiry = expiry
        self.ownedNodes = ownedNodes
        if let expiry {
            for (side, sd) in [left, right].enumerated() {
                guard let c = expiry.columns[side] else { continue }
                guard sd.types.indices.contains(c), sd.types[c].isInteger, let t = expiry.tables[side] else {
                    throw DataflowError.invalidArgument("join expiry: side \(side) needs an integer-like column and an index table")
                }
                expiryIndex[side] = StateTable(store: leftState.store, table: t)
            }
        }
        sides = [left, right]
        self.output = output
        tables = [leftState, rightState]
        self.degrees = degrees
        self.cacheBytes = cacheBytes
        outputTypes = output.map { [left, right][$0.side].types[$0.column] }
        var m = [Array(repeating: -1, count: left.types.count), Array(repeating: -1, count: right.types.count)]
        for (j, o) in output.enumerated() { m[o.side][o.column] = j }
        mapping = m
    }

    public mutating func process(_ chunk: Chunk, input side: Int, epoch: Epoch, into out: inout Chunk) async throws {
        let n = chunk.count
        if slotOf.count < n { slotOf = Array(repeating: -1, count: n) }
        var misses: [(row: Int, key: [UInt8], tag: UInt32)] = []
        for r in 0..<n {
            KeyEncoding.stateKey(&keyBuffer, chunk, columns: sides[side].keyColumns, row: r)
            let h = ByteKey.tag(keyBuffer)
            if let s = Self.cached(index, entries, keyBuffer, h) { slotOf[r] = s } else { misses.append((r, keyBuffer, h)) }
        }
        if !misses.isEmpty { try await loadMisses(misses, epoch) }
        let other = 1 - side
        var pk: [UInt8] = [], full: [UInt8] = []
        let allColumns = Array(sides[side].types.indices)
        for r in 0..<n {
            let s = Int(slotOf[r])
            entries[s].touched = epoch
            let op = chunk.op(r)
            for o in entries[s].rows[other].rows {
                out.appendOp(op)
                for (j, oc) in output.enumerated() where oc.side == side {
                    if chunk.types[oc.column].isInteger { out.appendInt(j, chunk.int(oc.column, r)) } else { out.appendBytes(j, chunk.bytes(oc.column, r)) }
                }
                o.bytes.withUnsafeBytes { _ = RowCodec.appendFields($0, types: sides[other].types, mapping: mapping[other], into: &out) }
            }
            pk.removeAll(keepingCapacity: true)
            for c in sides[side].primaryKey { KeyEncoding.appendColumn(&pk, chunk, c, r) }
            full.removeAll(keepingCapacity: true)
            full.append(contentsOf: entries[s].key)
            full.append(contentsOf: pk)
            if op == .insert {
                var bytes: [UInt8] = []
                RowCodec.append(&bytes, chunk, row: r, columns: allColumns)
                tables[side].put(full, bytes)
                cachedBytes += pk.count + bytes.count + 48
                entries[s].rows[side].append(Row(pk: pk, bytes: bytes))
                if let c = expiry?.columns[side] {
                    JoinExpiry.indexKey(&expiryKey, stateKey: full, at: chunk.int(c, r))
                    let n = entries[s].key.count
                    expiryValue.removeAll(keepingCapacity: true)
                    expiryValue.append(UInt8(truncatingIfNeeded: n))
                    expiryValue.append(UInt8(truncatingIfNeeded: n >> 8))
                    expiryIndex[side]!.put(expiryKey, expiryValue)
                }
            } else {
                guard entries[s].rows[side].remove(pk: pk) else {
                    throw DataflowError.invalidArgument("a delete on side \(side) of the join of \(tables[side].table) names a row it does not hold")
                }
                tables[side].delete(full)
                if let c = expiry?.columns[side] {
                    JoinExpiry.indexKey(&expiryKey, stateKey: full, at: chunk.int(c, r))
                    expiryIndex[side]!.delete(expiryKey)
                }
            }
            if !entries[s].dirty {
                entries[s].dirty = true
                dirtyList.append(Int32(s))
            }
        }
        // Row counts of changed keys go out while rows flow, like the rows themselves
        // (`writeThrough`): the barrier then writes only those of the last chunks.
        if dirtyList.count >= degrees.writeThroughWrites {
            writeDirtyDegrees()
            try await degrees.writeThrough(epoch: epoch)
        }
        try await tables[side].writeThrough(epoch: epoch)
        if expiryIndex[side] != nil { try await expiryIndex[side]!.writeThrough(epoch: epoch) }
    }

    /// Puts the row counts of every key changed since the last call (deleting the
    /// counts of keys left with no rows) into `degrees`' batch, and clears the dirty marks.
    private mutating func writeDirtyDegrees() {
        var value: [UInt8] = []
        for s32 in dirtyList {
            let s = Int(s32)
            entries[s].dirty = false
            let l = entries[s].rows[0].count, r = entries[s].rows[1].count
            if l == 0 && r == 0 {
                degrees.delete(entries[s].key)
            } else {
                value.removeAll(keepingCapacity: true)
                RowCodec.appendInt(&value, Int64(l))
                RowCodec.appendInt(&value, Int64(r))
                degrees.put(entries[s].key, value)
            }
        }
        dirtyList.removeAll(keepingCapacity: true)
    }

    /// Loads the join keys of a chunk's rows missing from the cache and sets their
    /// rows' slots: the row counts of all of them in one read, then the rows of
    /// each side that has any.
    private mutating func loadMisses(_ misses: [(row: Int, key: [UInt8], tag: UInt32)], _ epoch: Epoch) async throws {
        var distinct: [(key: [UInt8], tag: UInt32)] = []
        var seen: Set<ByteKey> = []
        for m in misses where seen.insert(ByteKey(m.key)).inserted { distinct.append((m.key, m.tag)) }
        let counts = try await degrees.getMany(distinct.map(\.key), epoch: epoch)
        for (i, d) in distinct.enumerated() { try await load(d.key, d.tag, counts[i], epoch) }
        for m in misses { slotOf[m.row] = Self.cached(index, entries, m.key, m.tag)! }
    }

    /// Caches join key `key` whose row counts (`degrees`) are `d`: reads the rows
    /// of each side that has any.
    @discardableResult
    private mutating func load(_ key: [UInt8], _ tag: UInt32, _ d: [UInt8]?, _ epoch: Epoch) async throws -> Int32 {
        var entry = Entry(key: key, tag: tag)
        if let d {
            guard d.count == 16 else { throw DataflowError.invalidArgument("join degree of \(degrees.table) has \(d.count) bytes, not 16") }
            let counts = d.withUnsafeBytes { [RowCodec.readInt($0, 0), RowCodec.readInt($0, 8)] }
            for side in 0..<2 where counts[side] > 0 {
                var rows: [Row] = []
                let types = sides[side].types
                var bad = false
                try await tables[side].scan(prefix: key, epoch: epoch) { k, v in
                    guard RowCodec.length(v, types: types) == v.count else { bad = true; return }
                    rows.append(Row(pk: Array(k[key.count...]), bytes: Array(v)))
                }
                if bad { throw DataflowError.invalidArgument("join state of \(tables[side].table) holds a row that does not parse") }
                guard rows.count == counts[side] else {
                    throw DataflowError.invalidArgument("join state of \(tables[side].table) holds \(rows.count) rows for a key whose count is \(counts[side])")
                }
                for r in rows { cachedBytes += r.pk.count + r.bytes.count + 48 }
                entry.rows[side] = JoinSideRows(rows)
            }
        }
        let s = Int32(entries.count)
        entries.append(entry)
        index.insert(tag: tag, slot: s)
        cachedBytes += key.count * 2 + 96
        return s
    }

    public mutating func barrier(ending epoch: Epoch, into out: inout Chunk) async throws {
        try await barrier(ending: epoch, watermark: Watermark.none, into: &out)
    }

    public mutating func barrier(ending epoch: Epoch, watermark: Int64, into out: inout Chunk) async throws {
        let expiring = expiry != nil && watermark != Watermark.none && watermark > expiredBelow
        if expiring { try await expire(below: watermark, epoch) }
        writeDirtyDegrees()
        try await tables[0].flush(epoch: epoch)
        try await tables[1].flush(epoch: epoch)
        try await degrees.flush(epoch: epoch)
        if expiring {
            var bound: [UInt8] = []
            KeyEncoding.appendInt64(&bound, watermark)
            for side in 0..<2 where expiryIndex[side] != nil {
                try expiryIndex[side]!.store.setTableWatermark(expiryIndex[side]!.table, key: bound, prefixLength: 0, epoch: epoch + 1)
            }
            expiredBelow = watermark
        }
        if let cleaning, let open = cleaning.firstOpenStart(watermark: watermark), open > firstOpenStart {
            try await closeWindows(below: open, from: epoch + 1)
        }
    }

    /// Removes, at `epoch`, every row of an expiring side whose expiry value lies in
    /// `[expiredBelow, watermark)`, read from the side's index (one range; the
    /// entries of virtual nodes other instances own are skipped): the row leaves
    /// its table. A cached key loses the row
    /// from the cache and is marked dirty, so the barrier rewrites its row counts;
    /// a key not in the cache is not loaded: its counts are read, lowered and
    /// written back here (one point read per key, however many rows it holds).
    /// The index entries are deleted with their rows, at `epoch` (a run restarted
    /// from a committed epoch finds the rows and the entries, or neither); the
    /// barrier also hides the range read with a table watermark from the next
    /// epoch on, so compaction drops it whole. Emits nothing.
    private mutating func expire(below watermark: Int64, _ epoch: Epoch) async throws {
        var from: [UInt8] = [], to: [UInt8] = []
        KeyEncoding.appendInt64(&from, expiredBelow)
        KeyEncoding.appendInt64(&to, watermark)
        let owned = ownedNodes
        for side in 0..<2 where expiryIndex[side] != nil {
            try await expiryIndex[side]!.flush(epoch: epoch)
            let index = expiryIndex[side]!
            var found: [(entry: [UInt8], joinKey: [UInt8], pk: [UInt8])] = []
            var bad = false
            try await index.store.scan(index.table, from: from, to: to, epoch: epoch).forEachRow { k, val in
                guard let v = JoinExpiry.virtualNode(key: k), let e = JoinExpiry.split(key: k, value: val) else { bad = true; return false }
                if owned.contains(v) { found.append((Array(k), e.joinKey, e.pk)) }
                return true
            }
            if bad { throw DataflowError.invalidArgument("join expiry index \(index.table) holds an entry that does not parse") }
            // Keys not in the cache are not loaded (a hot key may hold many rows): their
            // rows are deleted blind and their counts adjusted by one point read each.
            var uncached: [ByteKey: Int64] = [:]
            for (entry, joinKey, pk) in found {
                // The entry goes with its row, in the same epoch: a restart from that epoch finds neither.
                expiryIndex[side]!.delete(entry)
                guard let cached = Self.cached(self.index, self.entries, joinKey, ByteKey.tag(joinKey)) else {
                    tables[side].delete(joinKey + pk)
                    uncached[ByteKey(joinKey), default: 0] += 1
                    continue
                }
                let s = Int(cached)
                entries[s].touched = epoch
                // An index entry always names a live row (inserts write it, deletes remove it); skip one that does not.
                guard entries[s].rows[side].remove(pk: pk) else { continue }
                cachedBytes -= pk.count + 48
                tables[side].delete(joinKey + pk)
                if !entries[s].dirty {
                    entries[s].dirty = true
                    dirtyList.append(Int32(s))
                }
            }
            var value: [UInt8] = []
            for (key, gone) in uncached.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
                guard let d = try await degrees.get(key.bytes, epoch: epoch), d.count == 16 else {
                    throw DataflowError.invalidArgument("join expiry: \(degrees.table) holds no row counts for a key its index names")
                }
                var counts = d.withUnsafeBytes { [RowCodec.readInt($0, 0), RowCodec.readInt($0, 8)] }
                counts[side] -= gone
                guard counts[side] >= 0 else {
                    throw DataflowError.invalidArgument("join expiry: the index of \(tables[side].table) names more rows than its key counts")
                }
                if counts[0] == 0 && counts[1] == 0 {
                    degrees.delete(key.bytes)
                } else {
                    value.removeAll(keepingCapacity: true)
                    RowCodec.appendInt(&value, counts[0])
                    RowCodec.appendInt(&value, counts[1])
                    degrees.put(key.bytes, value)
                }
            }
            // Both sides' blind changes of one key must not overlap: flush this side's before the other's reads.
            try await degrees.flush(epoch: epoch)
            try await expiryIndex[side]!.flush(epoch: epoch)
        }
    }

    /// Hides, from `epoch` on, every key whose window starts below `open` in both
    /// sides' tables and the row counts, and drops those keys from the cache (all
    /// clean after the flush). Throws the store's `invalidArgument` if the bound
    /// would fall below one already set: a broken watermark promise.
    private mutating func closeWindows(below open: Int64, from epoch: Epoch) async throws {
        var bound: [UInt8] = []
        KeyEncoding.appendInt64(&bound, open)
        for t in [tables[0].table, tables[1].table, degrees.table] {
            try degrees.store.setTableWatermark(t, key: bound, prefixLength: KeyEncoding.virtualNodeBytes, epoch: epoch)
        }
        firstOpenStart = open
        guard entries.contains(where: { Self.windowStart($0.key) < open }) else { return }
        await keepOnly(entries.map { Self.windowStart($0.key) >= open }, bytes: entries.map { $0.bytes })
    }

    /// The window start of a join key: its first field after the virtual node.
    private static func windowStart(_ key: [UInt8]) -> Int64 {
        var at = KeyEncoding.virtualNodeBytes
        return KeyEncoding.readInt64(key, &at) ?? .min
    }

    /// The cached slot of `key` (`tag` its `ByteKey.tag`), or nil.
    @inline(__always)
    private static func cached(_ index: SlotIndex, _ entries: [Entry], _ key: [UInt8], _ tag: UInt32) -> Int32? {
        // Static, with the cache's arrays as arguments: a method's closure would capture
        // (copy) the whole operator per lookup.
        index.find(tag: tag) { entries[Int($0)].key == key }
    }

    /// Evicts down to what `CacheEviction` keeps: the most recently touched keys
    /// (all clean after the flush).
    private mutating func evict() async {
        let bytes = entries.map { $0.bytes }
        let keep = CacheCompaction.mask(CacheEviction.keep(touched: entries.map { $0.touched }, bytes: bytes, budget: cacheBytes), count: entries.count)
        await Task.yield()
        await keepOnly(keep, bytes: bytes)
    }

    /// Drops the cached keys whose `keep` is false (all clean), `bytes` their sizes.
    private mutating func keepOnly(_ keep: [Bool], bytes: [Int]) async {
        let plan = CacheCompaction(keep: keep)
        for (i, s) in plan.dropped.enumerated() {
            index.remove(tag: entries[s].tag, slot: Int32(s))
            await CacheCompaction.pace(i)
        }
        cachedBytes = zip(keep, bytes).reduce(0) { $0 + ($1.0 ? $1.1 : 0) }
        for (i, m) in plan.moves.enumerated() {
            entries.swapAt(m.from, m.to)
            index.move(tag: entries[m.to].tag, from: Int32(m.from), to: Int32(m.to))
            await CacheCompaction.pace(i)
        }
        await CacheCompaction.cut(&entries, to: plan.count)
    }

    /// Called once the barrier left the instance: trims the cache to its budget
    /// here, not on the barrier's path to the commit.
    public mutating func afterBarrier(_ epoch: Epoch) async {
        if cachedBytes > cacheBytes { await evict() }
    }
}
