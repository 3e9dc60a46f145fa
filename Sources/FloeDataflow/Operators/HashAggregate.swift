import Floe

/// An aggregate function of a grouped aggregation.
public struct AggregateCall: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case count, sum, avg, min, max }
    public var kind: Kind
    /// The input column (ignored by `count`, which counts rows).
    public var column: Int
    public var name: String
    /// `min` and `max`: the table that holds, per group, how many live rows have
    /// each value, so that deleting the current extreme finds the next one.
    public var table: TableID?

    public static func count(as name: String) -> AggregateCall { AggregateCall(kind: .count, column: -1, name: name) }
    public static func sum(_ column: Int, as name: String) -> AggregateCall { AggregateCall(kind: .sum, column: column, name: name) }
    public static func avg(_ column: Int, as name: String) -> AggregateCall { AggregateCall(kind: .avg, column: column, name: name) }
    public static func min(_ column: Int, as name: String, table: TableID) -> AggregateCall {
        AggregateCall(kind: .min, column: column, name: name, table: table)
    }
    public static func max(_ column: Int, as name: String, table: TableID) -> AggregateCall {
        AggregateCall(kind: .max, column: column, name: name, table: table)
    }

    /// The scale of an average: at least six digits after the point.
    public static func avgScale(_ input: ColumnType) -> Int {
        if case let .decimal(s) = input { return Swift.max(6, s) }
        return 6
    }

    func outputType(_ input: [ColumnType]) -> ColumnType {
        switch kind {
        case .count: return .int64
        case .sum, .min, .max: return input[column]
        case .avg: return .decimal(scale: AggregateCall.avgScale(input[column]))
        }
    }
}

/// Grouped aggregation (count, sum, avg, min, max of integer-like columns) kept in
/// a state table, exact under inserts, deletes and updates: a group's row count
/// and sums move by the sign of every change, and a group whose count drops to
/// zero is removed. `min` and `max` keep, in a table of their own, the number of
/// live rows per (group, value): an insert can only improve the extreme, and a
/// delete of the current extreme makes the barrier read the group's first (or
/// last) value with a live row from that table.
///
/// Output: at each barrier, for every group the epoch changed, a delete of the
/// group's previous row and an insert of its new one (columns: the group columns,
/// then one per call). With no calls (a DISTINCT of the group columns) a group
/// emits only when it appears or disappears. State key: virtual node, memcomparable group key. State
/// value: the group columns (`RowCodec`), then the row count and one 64-bit
/// accumulator per call, little-endian. docs/format.md §14.
///
/// Cache: every group touched since the last barrier stays in memory; once the
/// barrier has gone on (`afterBarrier`), when the cache holds more than
/// `cacheBytes`, it keeps what `CacheEviction` chooses (its newest epochs); the
/// other groups are read again from the store when they come back.
///
/// Window cleaning (`cleaning`, set by the builder when a group column is a window
/// start over a source's event time): the state key holds that window start first
/// after the virtual node (`WindowCleaning.keyColumns`; the output columns keep
/// the group order). At the barrier of epoch E with watermark W the aggregation
/// sets, on its table and its `min`/`max` tables, a table watermark at epoch E + 1
/// that hides every group of a closed window (start + size <= W), and drops those
/// groups from its cache. No row can reach a closed window any more, so the output
/// is the same as without cleaning. The watermark applies from E + 1 because
/// other instances may still read their groups at E; it only rises, also across
/// restarts (W at a barrier is never below W at a committed one: the sources'
/// positions are committed).
/// Errors: `overflow` when a sum leaves the 64-bit range; `invalidArgument` when a
/// delete takes a group's count below zero (a retraction of a row never inserted).
public struct HashAggregate: StreamOperator {
    public let outputTypes: [ColumnType]
    let inputTypes: [ColumnType]
    let groupColumns: [Int]
    let groupTypes: [ColumnType]
    let calls: [AggregateCall]
    let cacheBytes: Int
    /// Closed-window cleaning, if the group key holds an event-time window start.
    let cleaning: WindowCleaning?
    /// The columns of the state key after the virtual node: `groupColumns`, or with
    /// the window start first when cleaning.
    let keyColumns: [Int]
    /// Every window start below this is closed and hidden (`Watermark.none`: none yet).
    private(set) var firstOpenStart = Watermark.none
    private var state: StateTable
    private let stride: Int
    private var index = SlotIndex()
    private var keys: [[UInt8]] = []
    /// `ByteKey.tag` of each cached key: the index finds a group's bucket by it.
    private var tags: [UInt32] = []
    private var groupRows: [[UInt8]] = []
    private var values: [Int64] = []
    private var previous: [Int64] = []
    private var dirty: [Bool] = []
    /// The last epoch that changed each group (eviction keeps the recent ones).
    private var touched: [Epoch] = []
    private var dirtyList: [Int32] = []
    private var cachedBytes = 0
    private var keyBuffer: [UInt8] = []
    private var slotOf: [Int32] = []
    private let groupMapping: [Int]
    /// `min`/`max` calls: their tables, the count changes of this epoch per
    /// (group, value) key, and the groups whose extreme was deleted.
    private var extremeTables: [Int: StateTable] = [:]
    private var extremeDeltas: [Int: [ByteKey: Int64]] = [:]
    private var staleExtremes: Set<Int64> = []

    public init(inputTypes: [ColumnType], groupBy: [Int], calls: [AggregateCall], state: StateTable, cacheBytes: Int = 64 << 20,
                cleaning: WindowCleaning? = nil) {
        self.inputTypes = inputTypes
        self.groupColumns = groupBy
        self.cleaning = cleaning
        self.keyColumns = cleaning?.keyColumns(groupBy: groupBy) ?? groupBy
        self.groupTypes = groupBy.map { inputTypes[$0] }
        self.calls = calls
        self.state = state
        self.cacheBytes = cacheBytes
        self.stride = 1 + calls.count
        self.outputTypes = groupTypes + calls.map { $0.outputType(inputTypes) }
        self.groupMapping = Array(groupBy.indices)
        for (k, c) in calls.enumerated() where c.kind == .min || c.kind == .max {
            extremeTables[k] = StateTable(store: state.store, table: c.table ?? TableID(0))
            extremeDeltas[k] = [:]
        }
    }

    public mutating func process(_ chunk: Chunk, input: Int, epoch: Epoch, into out: inout Chunk) async throws {
        let n = chunk.count
        if slotOf.count < n { slotOf = Array(repeating: -1, count: n) }
        var misses: [(row: Int, key: [UInt8], tag: UInt32)] = []
        for r in 0..<n {
            KeyEncoding.stateKey(&keyBuffer, chunk, columns: keyColumns, row: r)
            let h = ByteKey.tag(keyBuffer)
            if let s = Self.cached(index, keys, keyBuffer, h) {
                slotOf[r] = s
            } else {
                slotOf[r] = -1
                misses.append((r, keyBuffer, h))
            }
        }
        if !misses.isEmpty {
            // The stored values of the distinct missing groups in one read.
            var distinct: [(row: Int, key: [UInt8], tag: UInt32)] = []
            var seen: Set<ByteKey> = []
            for m in misses where seen.insert(ByteKey(m.key)).inserted { distinct.append(m) }
            let stored = try await state.getMany(distinct.map(\.key), epoch: epoch)
            for (i, d) in distinct.enumerated() { try load(d.key, d.tag, stored[i], chunk, d.row, epoch) }
            for m in misses { slotOf[m.row] = Self.cached(index, keys, m.key, m.tag)! }
        }
        for r in 0..<n {
            let s = Int(slotOf[r])
            if !dirty[s] {
                touched[s] = epoch
                dirty[s] = true
                dirtyList.append(Int32(s))
                for k in 0..<stride { previous[s * stride + k] = values[s * stride + k] }
            }
            let sign = chunk.op(r).sign
            let countBefore = values[s * stride]
            values[s * stride] += sign
            for (k, call) in calls.enumerated() where call.kind != .count {
                let x = chunk.int(call.column, r)
                let at = s * stride + 1 + k
                switch call.kind {
                case .min, .max:
                    var key = keys[s]
                    KeyEncoding.appendInt64(&key, x)
                    extremeDeltas[k]![ByteKey(key), default: 0] += sign
                    if sign > 0 {
                        if countBefore <= 0 { values[at] = x } else { values[at] = call.kind == .min ? Swift.min(values[at], x) : Swift.max(values[at], x) }
                    } else if x == values[at] {
                        staleExtremes.insert(Int64(s) << 8 | Int64(k))
                    }
                default:
                    let (v, o) = values[at].addingReportingOverflow(sign * x)
                    if o { throw DataflowError.overflow("sum of column \(call.column) for \(call.name) leaves the 64-bit range") }
                    values[at] = v
                }
            }
        }
    }

    /// Caches a group missing from the cache with its stored value `stored` (nil:
    /// it starts empty, its group columns from row `row` of `chunk`).
    private mutating func load(_ key: [UInt8], _ tag: UInt32, _ stored: [UInt8]?, _ chunk: Chunk, _ row: Int, _ epoch: Epoch) throws {
        let s = Int32(keys.count)
        if let stored {
            let parsed: (row: [UInt8], vals: [Int64])? = stored.withUnsafeBytes { p in
                guard let len = RowCodec.length(p, types: groupTypes), p.count == len + 8 * stride else { return nil }
                return (Array(p[0..<len]), (0..<stride).map { RowCodec.readInt(p, len + 8 * $0) })
            }
            guard let parsed else {
                throw DataflowError.invalidArgument("aggregate state of \(state.table) has a value of \(stored.count) bytes that does not parse")
            }
            groupRows.append(parsed.row)
            values.append(contentsOf: parsed.vals)
        } else {
            var g: [UInt8] = []
            RowCodec.append(&g, chunk, row: row, columns: groupColumns)
            groupRows.append(g)
            values.append(contentsOf: repeatElement(0, count: stride))
        }
        keys.append(key)
        tags.append(tag)
        previous.append(contentsOf: repeatElement(0, count: stride))
        dirty.append(false)
        touched.append(epoch)
        index.insert(tag: tag, slot: s)
        cachedBytes += key.count * 2 + groupRows[Int(s)].count + 16 * stride + 64
    }

    public mutating func barrier(ending epoch: Epoch, into out: inout Chunk) async throws {
        try await barrier(ending: epoch, watermark: Watermark.none, into: &out)
    }

    public mutating func barrier(ending epoch: Epoch, watermark: Int64, into out: inout Chunk) async throws {
        try await settleExtremes(epoch)
        var value: [UInt8] = []
        for s32 in dirtyList {
            let s = Int(s32)
            dirty[s] = false
            let base = s * stride
            let before = previous[base..<(base + stride)], after = values[base..<(base + stride)]
            if after.first! < 0 {
                throw DataflowError.invalidArgument("a delete took a group of \(state.table) below zero rows: a retraction of a row never inserted")
            }
            if before.elementsEqual(after) { continue }
            // Without calls the output row is the group alone (SQL's DISTINCT): a
            // group that had rows and still has some keeps its row unchanged.
            let unchanged = calls.isEmpty && (before.first! > 0) == (after.first! > 0)
            if before.first! > 0 && !unchanged { emit(s, previous, .delete, into: &out) }
            if after.first! > 0 {
                if !unchanged { emit(s, values, .insert, into: &out) }
                value.removeAll(keepingCapacity: true)
                value.append(contentsOf: groupRows[s])
                for v in after { RowCodec.appendInt(&value, v) }
                state.put(keys[s], value)
            } else {
                state.delete(keys[s])
            }
        }
        dirtyList.removeAll(keepingCapacity: true)
        try await state.flush(epoch: epoch)
        if let cleaning, let open = cleaning.firstOpenStart(watermark: watermark), open > firstOpenStart {
            try await closeWindows(below: open, from: epoch + 1)
        }
    }

    /// Hides, from `epoch` on, every group whose window starts below `open` (in the
    /// state table and the `min`/`max` tables) and drops them from the cache (all
    /// clean after the flush). Throws the store's `invalidArgument` if the
    /// watermark would fall below one already set: a broken watermark promise.
    private mutating func closeWindows(below open: Int64, from epoch: Epoch) async throws {
        var bound: [UInt8] = []
        KeyEncoding.appendInt64(&bound, open)
        try state.store.setTableWatermark(state.table, key: bound, prefixLength: KeyEncoding.virtualNodeBytes, epoch: epoch)
        for k in extremeTables.keys.sorted() {
            try state.store.setTableWatermark(extremeTables[k]!.table, key: bound, prefixLength: KeyEncoding.virtualNodeBytes, epoch: epoch)
        }
        firstOpenStart = open
        if keys.indices.contains(where: { windowStart($0) < open }) { await keepOnly(keys.indices.map { windowStart($0) >= open }) }
    }

    /// The window start of cached group `s`: the first column of its key after the virtual node.
    private func windowStart(_ s: Int) -> Int64 {
        var at = KeyEncoding.virtualNodeBytes
        return KeyEncoding.readInt64(keys[s], &at) ?? .min
    }

    private func slotBytes(_ s: Int) -> Int { keys[s].count * 2 + groupRows[s].count + 16 * stride + 64 }

    /// The cached slot of `key` (`tag` its `ByteKey.tag`), or nil.
    @inline(__always)
    private static func cached(_ index: SlotIndex, _ keys: [[UInt8]], _ key: [UInt8], _ tag: UInt32) -> Int32? {
        // Static, with the cache's arrays as arguments: a method's closure would capture
        // (copy) the whole operator per lookup.
        index.find(tag: tag) { keys[Int($0)] == key }
    }

    /// Evicts down to what `CacheEviction` keeps: the most recently changed groups
    /// (all clean after the flush).
    private mutating func evict() async {
        await keepOnly(CacheCompaction.mask(CacheEviction.keep(touched: touched, bytes: keys.indices.map(slotBytes), budget: cacheBytes), count: keys.count))
    }

    /// Called once the barrier left the instance: trims the cache to its budget
    /// here, not on the barrier's path to the commit.
    public mutating func afterBarrier(_ epoch: Epoch) async {
        if cachedBytes > cacheBytes { await evict() }
    }

    /// Drops the cached groups whose `keep` is false (all clean).
    private mutating func keepOnly(_ keep: [Bool]) async {
        let plan = CacheCompaction(keep: keep)
        for s in plan.dropped {
            index.remove(tag: tags[s], slot: Int32(s))
            cachedBytes -= slotBytes(s)
        }
        for m in plan.moves {
            keys.swapAt(m.from, m.to)
            tags.swapAt(m.from, m.to)
            groupRows.swapAt(m.from, m.to)
            for k in 0..<stride { values.swapAt(m.from * stride + k, m.to * stride + k) }
            touched.swapAt(m.from, m.to)
            index.move(tag: tags[m.to], from: Int32(m.from), to: Int32(m.to))
        }
        let cut = keys.count - plan.count
        await CacheCompaction.cut(&keys, to: plan.count)
        tags.removeLast(cut)
        await CacheCompaction.cut(&groupRows, to: plan.count)
        values.removeLast(cut * stride)
        previous.removeLast(cut * stride)
        dirty.removeLast(cut)
        touched.removeLast(cut)
    }

    /// Writes this epoch's (group, value) count changes of every `min`/`max` call,
    /// then finds the extreme of each group whose extreme was deleted: the first
    /// (min) or last (max) value with live rows, read back at this epoch.
    private mutating func settleExtremes(_ epoch: Epoch) async throws {
        for k in extremeTables.keys.sorted() {
            var table = extremeTables[k]!
            var value: [UInt8] = []
            for (key, delta) in extremeDeltas[k]! where delta != 0 {
                let old = try await table.get(key.bytes, epoch: epoch).map { b -> Int64 in
                    b.count == 8 ? b.withUnsafeBytes { RowCodec.readInt($0, 0) } : -1
                } ?? 0
                let now = old + delta
                guard old >= 0, now >= 0 else {
                    throw DataflowError.invalidArgument("\(calls[k].name) state of \(table.table) holds a negative or malformed row count")
                }
                if now == 0 {
                    table.delete(key.bytes)
                } else {
                    value.removeAll(keepingCapacity: true)
                    RowCodec.appendInt(&value, now)
                    table.put(key.bytes, value)
                }
            }
            extremeDeltas[k]!.removeAll(keepingCapacity: true)
            try await table.flush(epoch: epoch)
            extremeTables[k] = table
        }
        for packed in staleExtremes.sorted() {
            let s = Int(packed >> 8), k = Int(packed & 0xFF)
            guard values[s * stride] > 0 else { continue }
            let prefix = keys[s]
            var found: Int64?
            let isMin = calls[k].kind == .min
            try await extremeTables[k]!.scan(prefix: prefix, epoch: epoch) { key, _ in
                // Keys of this group: the prefix, then the value's 8 bytes (min: the first; max: the last).
                guard key.count == prefix.count + 8, !(isMin && found != nil) else { return }
                var at = prefix.count
                found = KeyEncoding.readInt64(key, &at)
            }
            guard let found else {
                throw DataflowError.invalidArgument("\(calls[k].name) state of \(extremeTables[k]!.table) holds no value for a group with rows")
            }
            values[s * stride + 1 + k] = found
        }
        staleExtremes.removeAll(keepingCapacity: true)
    }

    private func emit(_ s: Int, _ vals: [Int64], _ op: ChangeOp, into out: inout Chunk) {
        out.appendOp(op)
        groupRows[s].withUnsafeBytes { _ = RowCodec.appendFields($0, types: groupTypes, mapping: groupMapping, into: &out) }
        let g = groupColumns.count, base = s * stride
        let count = vals[base]
        for (k, call) in calls.enumerated() {
            switch call.kind {
            case .count: out.appendInt(g + k, count)
            case .sum, .min, .max: out.appendInt(g + k, vals[base + 1 + k])
            case .avg:
                let inScale: Int
                if case let .decimal(sc) = inputTypes[call.column] { inScale = sc } else { inScale = 0 }
                let outScale = AggregateCall.avgScale(inputTypes[call.column])
                let num = Int128(vals[base + 1 + k]) * Int128(ValueText.powersOfTen[outScale - inScale])
                let c = Int128(count)
                // Rounded half away from zero.
                let q = num / c, rem = num % c
                let rounded = (rem.magnitude * 2 >= c.magnitude) ? q + (num < 0 ? -1 : 1) : q
                out.appendInt(g + k, Int64(rounded))
            }
        }
    }
}
