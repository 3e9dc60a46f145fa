import Floe

/// The first `limit` rows of every group in an order (SQL's `ROW_NUMBER() OVER
/// (PARTITION BY g ORDER BY o) <= limit`), exact under inserts and deletes: when
/// a row of a group's top is deleted, the next row in order takes its place.
///
/// State: every live input row, key = virtual node, memcomparable group key, then
/// the order columns (`KeyEncoding`; a descending column's bytes complemented, which
/// reverses the order of the prefix-free encodings), then the memcomparable
/// primary key; value = the row (`RowCodec`). A prefix scan of a group so reads
/// its rows best first. The primary key must identify a row within its group
/// and breaks ties of the order columns.
///
/// Cache: per group, the top rows emitted at the last barrier. During an epoch a
/// touched group keeps its candidates: the exact first `limit` rows of the group
/// as changed so far, as long as no delete hit one of them (an insert enters them
/// if it ranks before the last; a delete of a row outside them cannot change
/// them). A delete of a candidate marks the group for a rescan: at the barrier
/// its first `limit` rows are read from the store after the epoch's writes. A
/// group missing from the cache is read (its first `limit` rows) when a row of it
/// first arrives; a group with writes of the open epoch is never evicted, so that
/// read never misses one. Over `cacheBytes` once the barrier has gone on
/// (`afterBarrier`), the cache keeps what `CacheEviction` chooses (its newest
/// epochs) and drops the other groups.
///
/// Output: at each barrier, for every group whose top changed, a delete of every
/// row that left it and an insert of every row that entered it; rows have the
/// input's columns. Errors: `invalidArgument` when a delete names a row the
/// state does not hold in a group of fewer than `limit` rows (a retraction of a
/// row never inserted), store errors.
///
/// Closed groups (`cleaning`): when a group column is a window start over event
/// time (the builder finds it, `WindowCleaning`), or a column the query promises
/// every later row to hold at or above the watermark (q9's `expires`: size 1), the
/// state key holds that column first after the virtual node
/// (`WindowCleaning.keyColumns`; the output keeps the input's columns). At the
/// barrier of epoch E with watermark W, after the epoch's top changes are
/// emitted, a table watermark at epoch E + 1 hides every row of a closed group
/// (value + size <= W) and the cache drops them. No row reaches a closed group
/// any more, so its top never changes again and the output is the same as
/// without cleaning; the bound only rises.
public struct TopN: StreamOperator {
    /// An order column and its direction.
    public struct Ordering: Sendable, Hashable {
        public var column: Int
        public var descending: Bool
        public init(column: Int, descending: Bool) {
            self.column = column
            self.descending = descending
        }
    }

    private struct Entry: Sendable {
        var key: [UInt8]
        var row: [UInt8]
    }

    private struct Group: Sendable {
        var prefix: [UInt8]
        /// `ByteKey.tag(prefix)`: the index finds the group's bucket by it.
        var tag: UInt32
        /// The rows emitted at the last barrier, best first.
        var top: [Entry]
        /// While dirty: the group's first rows as changed in this epoch (valid unless `rescan`).
        var candidates: [Entry] = []
        var rescan = false
        var dirty = false
        var touched: Epoch
        var bytes: Int { prefix.count * 2 + 64 + top.reduce(0) { $0 + $1.key.count + $1.row.count + 48 } }

        /// Adds an inserted row to the candidates if it ranks before the last of
        /// them (or they are fewer than `limit`), keeping them sorted and at most
        /// `limit`. Mutates in place: the candidates are never copied.
        mutating func offer(_ key: [UInt8], _ row: [UInt8], limit: Int) {
            guard candidates.count < limit || key.lexicographicallyPrecedes(candidates[candidates.count - 1].key) else { return }
            // Candidates are few (at most `limit`): a linear insertion keeps them sorted.
            let at = candidates.firstIndex { key.lexicographicallyPrecedes($0.key) } ?? candidates.count
            candidates.insert(Entry(key: key, row: row), at: at)
            if candidates.count > limit { candidates.removeLast() }
        }
    }

    public let outputTypes: [ColumnType]
    let groupBy: [Int]
    let order: [Ordering]
    let primaryKey: [Int]
    let limit: Int
    let cacheBytes: Int
    private var state: StateTable
    private var index = SlotIndex()
    private var groups: [Group] = []
    private var dirtyList: [Int32] = []
    private var cachedBytes = 0
    private var keyBuffer: [UInt8] = []
    private var slotOf: [Int32] = []
    private let allColumns: [Int]
    private let identity: [Int]
    /// Closed-group cleaning, if a group column closes with the watermark.
    let cleaning: WindowCleaning?
    /// The group columns of the state key: `groupBy`, or with the closing column first.
    let keyColumns: [Int]
    /// Every group whose closing value is below this is hidden (`Watermark.none`: none yet).
    private(set) var firstOpenStart = Watermark.none

    /// `limit` must be at least 1 (a smaller one is taken as 1).
    public init(inputTypes: [ColumnType], groupBy: [Int], order: [Ordering], primaryKey: [Int], limit: Int, state: StateTable,
                cacheBytes: Int = 64 << 20, cleaning: WindowCleaning? = nil) {
        outputTypes = inputTypes
        self.groupBy = groupBy
        self.cleaning = cleaning
        keyColumns = cleaning?.keyColumns(groupBy: groupBy) ?? groupBy
        self.order = order
        self.primaryKey = primaryKey
        self.limit = Swift.max(1, limit)
        self.state = state
        self.cacheBytes = cacheBytes
        allColumns = Array(inputTypes.indices)
        identity = allColumns
    }

    /// Appends the order columns and the primary key of row `r` to `out` (after the group prefix).
    private func appendSortKey(_ out: inout [UInt8], _ chunk: Chunk, _ r: Int) {
        for o in order {
            let start = out.count
            KeyEncoding.appendColumn(&out, chunk, o.column, r)
            if o.descending { for i in start..<out.count { out[i] = ~out[i] } }
        }
        for c in primaryKey { KeyEncoding.appendColumn(&out, chunk, c, r) }
    }

    public mutating func process(_ chunk: Chunk, input: Int, epoch: Epoch, into out: inout Chunk) async throws {
        let n = chunk.count
        if slotOf.count < n { slotOf = Array(repeating: -1, count: n) }
        var misses: [(row: Int, key: [UInt8], tag: UInt32)] = []
        for r in 0..<n {
            KeyEncoding.stateKey(&keyBuffer, chunk, columns: keyColumns, row: r)
            let h = ByteKey.tag(keyBuffer)
            if let s = Self.cached(index, groups, keyBuffer, h) { slotOf[r] = s } else { misses.append((r, keyBuffer, h)) }
        }
        for (r, key, h) in misses {
            if let s = Self.cached(index, groups, key, h) { slotOf[r] = s } else { slotOf[r] = try await load(key, h, epoch) }
        }
        for r in 0..<n {
            let s = Int(slotOf[r])
            if !groups[s].dirty {
                groups[s].dirty = true
                groups[s].candidates = groups[s].top
                dirtyList.append(Int32(s))
            }
            groups[s].touched = epoch
            keyBuffer.removeAll(keepingCapacity: true)
            keyBuffer.append(contentsOf: groups[s].prefix)
            appendSortKey(&keyBuffer, chunk, r)
            if chunk.op(r) == .insert {
                var row: [UInt8] = []
                RowCodec.append(&row, chunk, row: r, columns: allColumns)
                state.put(keyBuffer, row)
                if !groups[s].rescan { groups[s].offer(keyBuffer, row, limit: limit) }
            } else {
                state.delete(keyBuffer)
                guard !groups[s].rescan else { continue }
                if groups[s].candidates.contains(where: { $0.key == keyBuffer }) {
                    groups[s].rescan = true
                } else if groups[s].candidates.count < limit {
                    throw DataflowError.invalidArgument("a delete in the top-N of \(state.table) names a row its group does not hold")
                }
            }
        }
    }

    /// Reads the first `limit` rows of a group missing from the cache.
    private mutating func load(_ prefix: [UInt8], _ tag: UInt32, _ epoch: Epoch) async throws -> Int32 {
        let top = try await firstRows(prefix, epoch)
        let s = Int32(groups.count)
        groups.append(Group(prefix: prefix, tag: tag, top: top, touched: epoch))
        index.insert(tag: tag, slot: s)
        cachedBytes += groups[Int(s)].bytes
        return s
    }

    /// The first `limit` rows of the group with key prefix `prefix` in the store at `epoch`.
    private func firstRows(_ prefix: [UInt8], _ epoch: Epoch) async throws -> [Entry] {
        var rows: [Entry] = []
        let limit = limit
        try await state.store.scan(state.table, prefix: prefix, epoch: epoch).forEachRow { k, v in
            rows.append(Entry(key: Array(k), row: Array(v)))
            return rows.count < limit
        }
        return rows
    }

    public mutating func barrier(ending epoch: Epoch, into out: inout Chunk) async throws {
        try await barrier(ending: epoch, watermark: Watermark.none, into: &out)
    }

    public mutating func barrier(ending epoch: Epoch, watermark: Int64, into out: inout Chunk) async throws {
        try await state.flush(epoch: epoch)
        for s32 in dirtyList {
            let s = Int(s32)
            let newTop = groups[s].rescan ? try await firstRows(groups[s].prefix, epoch) : groups[s].candidates
            let old = groups[s].top
            for e in old where !newTop.contains(where: { $0.key == e.key && $0.row == e.row }) { try emit(e, .delete, into: &out) }
            for e in newTop where !old.contains(where: { $0.key == e.key && $0.row == e.row }) { try emit(e, .insert, into: &out) }
            cachedBytes -= groups[s].bytes
            groups[s].top = newTop
            groups[s].candidates = []
            groups[s].rescan = false
            groups[s].dirty = false
            cachedBytes += groups[s].bytes
        }
        dirtyList.removeAll(keepingCapacity: true)
        if let cleaning, let open = cleaning.firstOpenStart(watermark: watermark), open > firstOpenStart {
            var bound: [UInt8] = []
            KeyEncoding.appendInt64(&bound, open)
            try state.store.setTableWatermark(state.table, key: bound, prefixLength: KeyEncoding.virtualNodeBytes, epoch: epoch + 1)
            firstOpenStart = open
            if groups.contains(where: { Self.closingValue($0.prefix) < open }) { await keepOnly(groups.map { Self.closingValue($0.prefix) >= open }) }
        }
    }

    /// The closing value of a cached group: the first field of its key after the virtual node.
    private static func closingValue(_ prefix: [UInt8]) -> Int64 {
        var at = KeyEncoding.virtualNodeBytes
        return KeyEncoding.readInt64(prefix, &at) ?? .min
    }

    /// Drops the cached groups whose `keep` is false (all clean after the barrier).
    private mutating func keepOnly(_ keep: [Bool]) async {
        let plan = CacheCompaction(keep: keep)
        for s in plan.dropped { index.remove(tag: groups[s].tag, slot: Int32(s)) }
        for m in plan.moves {
            groups.swapAt(m.from, m.to)
            index.move(tag: groups[m.to].tag, from: Int32(m.from), to: Int32(m.to))
        }
        await CacheCompaction.cut(&groups, to: plan.count)
        cachedBytes = groups.reduce(0) { $0 + $1.bytes }
    }

    private func emit(_ e: Entry, _ op: ChangeOp, into out: inout Chunk) throws {
        try e.row.withUnsafeBytes { p in
            guard RowCodec.length(p, types: outputTypes) == p.count else {
                throw DataflowError.invalidArgument("top-N state of \(state.table) holds a row that does not parse")
            }
            out.appendOp(op)
            RowCodec.appendFields(p, types: outputTypes, mapping: identity, into: &out)
        }
    }

    /// The cached slot of the group `prefix` (`tag` its `ByteKey.tag`), or nil.
    @inline(__always)
    private static func cached(_ index: SlotIndex, _ groups: [Group], _ prefix: [UInt8], _ tag: UInt32) -> Int32? {
        // Static, with the cache's arrays as arguments: a method's closure would capture
        // (copy) the whole operator per lookup.
        index.find(tag: tag) { groups[Int($0)].prefix == prefix }
    }

    /// Evicts down to what `CacheEviction` keeps: the most recently touched groups
    /// (all clean after the barrier).
    private mutating func evict() async {
        await keepOnly(CacheCompaction.mask(CacheEviction.keep(touched: groups.map { $0.touched }, bytes: groups.map { $0.bytes }, budget: cacheBytes),
                                      count: groups.count))
    }

    /// Called once the barrier left the instance: trims the cache to its budget
    /// here, not on the barrier's path to the commit.
    public mutating func afterBarrier(_ epoch: Epoch) async {
        if cachedBytes > cacheBytes { await evict() }
    }
}
