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
/// over `cacheBytes` after a barrier's flush, the cache is emptied.
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
        var key: [UInt8]
        var rows: [JoinSideRows] = [JoinSideRows(), JoinSideRows()]
        var dirty = false
        /// The last epoch that read or changed this key (eviction keeps the recent ones).
        var touched: Epoch = 0

        var bytes: Int { key.count * 2 + 96 + rows[0].cacheBytes + rows[1].cacheBytes }
    }

    public let outputTypes: [ColumnType]
    let sides: [Side]
    let output: [OutputColumn]
    private var tables: [StateTable]
    private var degrees: StateTable
    let cacheBytes: Int
    private var index: [ByteKey: Int32] = [:]
    private var entries: [Entry] = []
    private var dirtyList: [Int32] = []
    private var cachedBytes = 0
    private var keyBuffer: [UInt8] = []
    private var slotOf: [Int32] = []
    /// For a row of side s stored as bytes: field i goes to output column mapping[s][i] (or nowhere).
    private let mapping: [[Int]]

    /// Throws `invalidArgument` when the sides' join keys differ in number or type.
    public init(left: Side, right: Side, output: [OutputColumn], leftState: StateTable, rightState: StateTable, degrees: StateTable,
                cacheBytes: Int = 64 << 20) throws {
        guard left.keyColumns.map({ left.types[$0] }) == right.keyColumns.map({ right.types[$0] }) else {
            throw DataflowError.invalidArgument("join keys differ in type: \(left.keyColumns.map { left.types[$0] }) and \(right.keyColumns.map { right.types[$0] })")
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
        var misses: [(row: Int, key: [UInt8])] = []
        for r in 0..<n {
            KeyEncoding.stateKey(&keyBuffer, chunk, columns: sides[side].keyColumns, row: r)
            if let s = index[ByteKey(keyBuffer)] { slotOf[r] = s } else { misses.append((r, keyBuffer)) }
        }
        for (r, key) in misses {
            if let s = index[ByteKey(key)] { slotOf[r] = s } else { slotOf[r] = try await load(key, epoch) }
        }
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
            } else {
                guard entries[s].rows[side].remove(pk: pk) else {
                    throw DataflowError.invalidArgument("a delete on side \(side) of the join of \(tables[side].table) names a row it does not hold")
                }
                tables[side].delete(full)
            }
            if !entries[s].dirty {
                entries[s].dirty = true
                dirtyList.append(Int32(s))
            }
        }
        try await tables[side].writeThrough(epoch: epoch)
    }

    /// Reads a join key missing from the cache: its row counts, then the rows of
    /// each side that has any.
    private mutating func load(_ key: [UInt8], _ epoch: Epoch) async throws -> Int32 {
        var entry = Entry(key: key)
        if let d = try await degrees.get(key, epoch: epoch) {
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
        index[ByteKey(key)] = s
        cachedBytes += key.count * 2 + 96
        return s
    }

    public mutating func barrier(ending epoch: Epoch, into out: inout Chunk) async throws {
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
        try await tables[0].flush(epoch: epoch)
        try await tables[1].flush(epoch: epoch)
        try await degrees.flush(epoch: epoch)
        if cachedBytes > cacheBytes { evict(keepingSince: epoch) }
    }

    /// Drops the keys no row of epoch `epoch` touched (all clean after the flush);
    /// when the ones left still exceed the budget, drops everything.
    private mutating func evict(keepingSince epoch: Epoch) {
        var kept: [Entry] = []
        var bytes = 0
        for e in entries where e.touched >= epoch {
            kept.append(e)
            bytes += e.bytes
        }
        if bytes > cacheBytes {
            kept.removeAll()
            bytes = 0
        }
        entries = kept
        cachedBytes = bytes
        index.removeAll(keepingCapacity: true)
        for (i, e) in entries.enumerated() { index[ByteKey(e.key)] = Int32(i) }
    }
}
