import Floe

/// Describes a pipeline: sources, the operators between them and the views they
/// maintain. Every call checks its column names and returns the stream it makes;
/// `Pipeline` runs the description.
///
/// Event time: a source given an event-time column and an allowed lateness drops
/// its late rows (per partition, `LateRowFilter`) and sends watermarks with its
/// barriers; an aggregation grouped by a `tumble` or `hop` window start over that
/// column then cleans the state of closed windows (`WindowCleaning`), and so does
/// a join whose two sides carry such a window start in the same position of
/// their keys (`JoinWindowCleaning`). Window starts stay window starts through
/// stateless operators, as group columns of an aggregation and as paired join
/// key columns (`EventTimeLineage`), so q5's and q7's second stages clean too.
/// Without a lateness, views keep exact results over all input.
///
/// State tables get their `TableID`s from the order of the calls, so the same
/// description run again (after a crash, or with another parallelism) finds its
/// state. The description's fingerprint is committed with every epoch and a
/// pipeline refuses to resume a store written by a different description.
public final class PipelineBuilder {
    /// A stream of changes with a schema: the output of a source or an operator.
    public struct Stream: Sendable {
        let node: Int
        public let schema: Schema
    }

    /// An aggregate named by column.
    public enum Aggregate: Sendable {
        case count(as: String)
        case sum(String, as: String)
        case avg(String, as: String)
        /// Smallest value of an integer-like column (exact under deletes).
        case min(String, as: String)
        case max(String, as: String)
    }

    enum Node: Sendable {
        case source(any Source, eventTime: SourceEventTime?)
        case transform(input: Int, Transform)
        case aggregate(input: Int, groupBy: [Int], calls: [AggregateCall], table: TableID, cleaning: WindowCleaning?)
        case join(left: Int, right: Int, leftSide: HashJoin.Side, rightSide: HashJoin.Side, output: [HashJoin.OutputColumn], tables: [TableID],
                  cleaning: JoinWindowCleaning?, expiry: JoinExpiry?)
        case materialize(input: Int, view: ViewDefinition)
        case topN(input: Int, groupBy: [Int], order: [TopN.Ordering], primaryKey: [Int], limit: Int, table: TableID, cleaning: WindowCleaning?)
    }

    /// An output column of `map`.
    public enum Expression: Sendable {
        /// The input column of that name.
        case column(String)
        /// An int64 or decimal column times a decimal constant written in `ValueText`
        /// form (`"0.908"`): a decimal whose scale is the column's plus the constant's.
        case times(String, decimal: String)
    }

    var nodes: [Node] = []
    var schemas: [Schema] = []
    /// Per node: its columns' relation to its source's event time (nil: none).
    var lineages: [EventTimeLineage?] = []
    var description: [String] = []
    var views: [ViewDefinition] = []
    private var nextTable: UInt32 = 1

    public init() {}

    func add(_ node: Node, _ schema: Schema, _ text: String, lineage: EventTimeLineage? = nil) -> Stream {
        nodes.append(node)
        schemas.append(schema)
        lineages.append(lineage)
        description.append(text + " -> " + schema.description)
        return Stream(node: nodes.count - 1, schema: schema)
    }

    private func table() -> TableID {
        defer { nextTable += 1 }
        return TableID(nextTable)
    }

    public func source(_ source: any Source) -> Stream {
        add(.source(source, eventTime: nil), source.schema, "source \(source.name) partitions \(source.partitions)")
    }

    /// A source whose rows are timed by the timestamp column `eventTime`: in each
    /// partition, a row whose event time is below the largest one before it minus
    /// `latenessMicros` is dropped and counted as late (`PipelineReport.lateRows`),
    /// and every barrier carries the partition's watermark (that largest time minus
    /// the lateness). The lateness is part of the description: a store written with
    /// another one is refused. Throws `invalidArgument` for a column that is not a
    /// timestamp or a negative lateness, `unknown` for an unknown column.
    public func source(_ source: any Source, eventTime: String, latenessMicros: Int64) throws -> Stream {
        let c = try source.schema.index(of: eventTime)
        guard source.schema.columns[c].type == .timestamp else {
            throw DataflowError.invalidArgument("source \(source.name): event time \(eventTime) is \(source.schema.columns[c].type), not a timestamp")
        }
        guard latenessMicros >= 0 else { throw DataflowError.invalidArgument("source \(source.name): lateness must not be negative") }
        return add(.source(source, eventTime: SourceEventTime(column: c, latenessMicros: latenessMicros)), source.schema,
                   "source \(source.name) partitions \(source.partitions) event time \(c) lateness \(latenessMicros)",
                   lineage: EventTimeLineage(eventTime: c))
    }

    /// Keeps and renames columns.
    public func project(_ input: Stream, _ columns: [String], as names: [String]? = nil) throws -> Stream {
        let idx = try columns.map { try input.schema.index(of: $0) }
        let outNames = names ?? columns
        guard outNames.count == idx.count else { throw DataflowError.invalidArgument("project: \(idx.count) columns but \(outNames.count) names") }
        let schema = Schema(zip(outNames, idx).map { ColumnDef($0, input.schema.columns[$1].type) })
        return add(.transform(input: input.node, .project(input.schema.types, idx)), schema, "project \(idx) of \(input.node)",
                   lineage: lineages[input.node]?.projected(idx))
    }

    /// Keeps the rows whose string column `column` equals `value`.
    public func filter(_ input: Stream, _ column: String, equals value: String) throws -> Stream {
        let c = try input.schema.index(of: column)
        guard !input.schema.columns[c].type.isInteger else {
            throw DataflowError.invalidArgument("filter: column \(column) is \(input.schema.columns[c].type), not a string")
        }
        return add(.transform(input: input.node, .filterEquals(input.schema.types, column: c, Array(value.utf8))), input.schema,
                   "filter \(column) = \(value) of \(input.node)", lineage: lineages[input.node])
    }

    /// Keeps the rows for which `keep` holds. `name` identifies the predicate in
    /// the fingerprint: change it when the predicate changes.
    public func filter(_ input: Stream, name: String, _ keep: @escaping @Sendable (Chunk, Int) -> Bool) -> Stream {
        add(.transform(input: input.node, .filter(input.schema.types, keep)), input.schema, "filter \(name) of \(input.node)",
            lineage: lineages[input.node])
    }

    /// Computes the columns `outputs` (name, expression) from every row; the op of
    /// each row is kept. `map` is stateless and chained like `project`. Throws
    /// `unknownColumn`, and `invalidArgument` for a constant that is not a decimal,
    /// a `times` of a column that is not int64 or decimal, or a scale past 18.
    public func map(_ input: Stream, _ outputs: [(name: String, Expression)]) throws -> Stream {
        var exprs: [MapExpression] = []
        for (name, e) in outputs {
            switch e {
            case let .column(c):
                exprs.append(.column(try input.schema.index(of: c)))
            case let .times(c, text):
                let i = try input.schema.index(of: c)
                let digits = text.split(separator: ".", omittingEmptySubsequences: false)
                let scale = digits.count == 2 ? digits[1].count : 0
                guard digits.count <= 2, scale <= 18, let factor = ValueText.parse(text, .decimal(scale: scale)) else {
                    throw DataflowError.invalidArgument("map \(name): \"\(text)\" is not a decimal constant")
                }
                let inScale: Int
                switch input.schema.columns[i].type {
                case .int64: inScale = 0
                case let .decimal(s): inScale = s
                default: throw DataflowError.invalidArgument("map \(name): \(c) is \(input.schema.columns[i].type), not int64 or decimal")
                }
                guard inScale + scale <= 18 else { throw DataflowError.invalidArgument("map \(name): the product's scale \(inScale + scale) is past 18") }
                exprs.append(.multiply(i, factor: factor, scale: scale))
            }
        }
        let types = input.schema.types
        let schema = Schema(zip(outputs.map(\.name), exprs).map { ColumnDef($0, $1.outputType(types)) })
        // Lineage: only plain column copies keep their event-time meaning.
        let kept = exprs.map { if case let .column(c) = $0 { return c } else { return -1 } }
        let lineage = kept.allSatisfy({ $0 >= 0 }) ? lineages[input.node]?.projected(kept) : nil
        return add(.transform(input: input.node, .map(types, exprs)), schema, "map \(exprs) of \(input.node)", lineage: lineage)
    }

    /// Keeps, of every group of rows with equal `groupBy` columns, the first `limit`
    /// in the order `orderBy` (column, descending), ties broken by `primaryKey`
    /// (which must identify a row within its group): SQL's `ROW_NUMBER() OVER
    /// (PARTITION BY ... ORDER BY ...) <= limit` without the row number. Exact under
    /// deletes (`TopN`); runs as `parallelism` instances fed by a hash exchange on
    /// the group columns. Throws `unknownColumn`, or `invalidArgument` for a limit
    /// below 1.
    ///
    /// Closed groups: when a group column is a `tumble` or `hop` window start over
    /// event time (with a lateness), the groups of closed windows are cleaned from
    /// state (`WindowCleaning`). `closesAt` names a timestamp group column instead
    /// that every row reaching the top-N after a barrier with watermark W holds at
    /// or above W (the caller's promise; q9's `expires`, which its interval filter
    /// guarantees): a group closes once the watermark passes that value. Either way
    /// the output is the same as without cleaning.
    public func topN(_ input: Stream, groupBy: [String], orderBy: [(column: String, descending: Bool)], primaryKey: [String],
                     limit: Int, closesAt: String? = nil) throws -> Stream {
        guard limit >= 1 else { throw DataflowError.invalidArgument("topN: the limit must be at least 1, not \(limit)") }
        let g = try groupBy.map { try input.schema.index(of: $0) }
        let order = try orderBy.map { TopN.Ordering(column: try input.schema.index(of: $0.column), descending: $0.descending) }
        let pk = try primaryKey.map { try input.schema.index(of: $0) }
        var cleaning: WindowCleaning?
        if let closesAt {
            let c = try input.schema.index(of: closesAt)
            guard let gi = g.firstIndex(of: c), input.schema.columns[c].type == .timestamp else {
                throw DataflowError.invalidArgument("topN: closesAt \(closesAt) must be a timestamp group column")
            }
            cleaning = WindowCleaning(groupIndex: gi, sizeMicros: 1)
        } else if let starts = lineages[input.node]?.windowStarts, let gi = g.firstIndex(where: { starts[$0] != nil }) {
            cleaning = WindowCleaning(groupIndex: gi, sizeMicros: starts[g[gi]]!)
        }
        let t = table()
        return add(.topN(input: input.node, groupBy: g, order: order, primaryKey: pk, limit: limit, table: t, cleaning: cleaning), input.schema,
                   "topN \(g) order \(order.map { "\($0.column)\($0.descending ? " desc" : "")" }) pk \(pk) limit \(limit) of \(input.node) table \(t.raw)"
                   + (cleaning.map { " cleans group \($0.groupIndex) size \($0.sizeMicros)" } ?? ""),
                   lineage: lineages[input.node]?.grouped(by: g))
    }

    /// Adds `window_start` and `window_end` of the tumbling window of `size` that holds the time column.
    public func tumble(_ input: Stream, time: String, sizeMicros: Int64) throws -> Stream {
        let c = try input.schema.index(of: time)
        guard input.schema.columns[c].type == .timestamp, sizeMicros > 0 else {
            throw DataflowError.invalidArgument("tumble: \(time) must be a timestamp and the size positive")
        }
        let schema = Schema(input.schema.columns + [ColumnDef("window_start", .timestamp), ColumnDef("window_end", .timestamp)])
        return add(.transform(input: input.node, .tumble(input.schema.types, timeColumn: c, sizeMicros: sizeMicros)), schema,
                   "tumble \(time) \(sizeMicros) of \(input.node)",
                   lineage: lineages[input.node]?.windowed(time: c, start: input.schema.columns.count, sizeMicros: sizeMicros))
    }

    /// Adds `window_start` and `window_end` of every hopping window that holds the time column.
    public func hop(_ input: Stream, time: String, sizeMicros: Int64, slideMicros: Int64) throws -> Stream {
        let c = try input.schema.index(of: time)
        guard input.schema.columns[c].type == .timestamp, sizeMicros > 0, slideMicros > 0 else {
            throw DataflowError.invalidArgument("hop: \(time) must be a timestamp and size and slide positive")
        }
        let schema = Schema(input.schema.columns + [ColumnDef("window_start", .timestamp), ColumnDef("window_end", .timestamp)])
        return add(.transform(input: input.node, .hop(input.schema.types, timeColumn: c, sizeMicros: sizeMicros, slideMicros: slideMicros)), schema,
                   "hop \(time) \(sizeMicros) \(slideMicros) of \(input.node)",
                   lineage: lineages[input.node]?.windowed(time: c, start: input.schema.columns.count, sizeMicros: sizeMicros))
    }

    /// Groups by `groupBy` and computes `aggregates`; runs as `parallelism`
    /// instances fed by a hash exchange on the group columns. When a group column
    /// is a `tumble` or `hop` window start over the event time of a source with a
    /// lateness (through stateless operators only), the aggregation cleans the
    /// groups of closed windows from its state (`WindowCleaning`); its output, and
    /// so any view of it, is the same either way.
    public func aggregate(_ input: Stream, groupBy: [String], _ aggregates: [Aggregate]) throws -> Stream {
        let g = try groupBy.map { try input.schema.index(of: $0) }
        let calls: [AggregateCall] = try aggregates.map {
            switch $0 {
            case let .count(name): return .count(as: name)
            case let .sum(c, name), let .avg(c, name):
                let i = try input.schema.index(of: c)
                guard input.schema.columns[i].type.isInteger, input.schema.columns[i].type != .timestamp else {
                    throw DataflowError.invalidArgument("aggregate: column \(c) is \(input.schema.columns[i].type), not a number")
                }
                if case .sum = $0 { return .sum(i, as: name) }
                return .avg(i, as: name)
            case let .min(c, name), let .max(c, name):
                let i = try input.schema.index(of: c)
                guard input.schema.columns[i].type.isInteger else {
                    throw DataflowError.invalidArgument("aggregate: min and max take integer, decimal or timestamp columns; \(c) is \(input.schema.columns[i].type)")
                }
                if case .min = $0 { return .min(i, as: name, table: table()) }
                return .max(i, as: name, table: table())
            }
        }
        let types = input.schema.types
        let schema = Schema(g.map { input.schema.columns[$0] } + calls.map { ColumnDef($0.name, $0.outputType(types)) })
        let t = table()
        var cleaning: WindowCleaning?
        if let starts = lineages[input.node]?.windowStarts, let gi = g.firstIndex(where: { starts[$0] != nil }) {
            cleaning = WindowCleaning(groupIndex: gi, sizeMicros: starts[g[gi]]!)
        }
        return add(.aggregate(input: input.node, groupBy: g, calls: calls, table: t, cleaning: cleaning), schema,
                   "aggregate \(g) \(calls.map { "\($0.kind)(\($0.column))\($0.table.map { " table \($0.raw)" } ?? "")" }) of \(input.node) table \(t.raw)"
                   + (cleaning.map { " cleans window \($0.groupIndex) size \($0.sizeMicros)" } ?? ""),
                   lineage: lineages[input.node]?.aggregated(groupBy: g))
    }

    /// Inner join on `leftKey == rightKey`; `leftPrimaryKey`/`rightPrimaryKey`
    /// identify rows of each side; `select` names the output columns as
    /// (side 0 or 1, column, output name). When both sides carry a `tumble` or
    /// `hop` window start over event time (with a lateness) at the same position
    /// of their keys, the join keys its state by that window start first and cleans
    /// the closed windows' rows (`JoinWindowCleaning`); its output is the same
    /// either way.
    ///
    /// `expireLeftAt` / `expireRightAt` name a timestamp column of that side at
    /// which its rows expire: once the watermark passes the value, the row leaves
    /// the join's state (`JoinExpiry`). The caller promises that such a row could
    /// only match later rows of the other side into output that what follows the
    /// join drops (q9's interval condition). Both sides need event time with a
    /// lateness, or nothing expires.
    public func join(_ left: Stream, _ right: Stream, leftKey: [String], rightKey: [String],
                     leftPrimaryKey: [String], rightPrimaryKey: [String],
                     select: [(side: Int, column: String, as: String)],
                     expireLeftAt: String? = nil, expireRightAt: String? = nil) throws -> Stream {
        var ls = HashJoin.Side(types: left.schema.types, keyColumns: try leftKey.map { try left.schema.index(of: $0) },
                               primaryKey: try leftPrimaryKey.map { try left.schema.index(of: $0) })
        var rs = HashJoin.Side(types: right.schema.types, keyColumns: try rightKey.map { try right.schema.index(of: $0) },
                               primaryKey: try rightPrimaryKey.map { try right.schema.index(of: $0) })
        var cleaning: JoinWindowCleaning?
        if let l = lineages[left.node]?.windowStarts, let r = lineages[right.node]?.windowStarts, ls.keyColumns.count == rs.keyColumns.count,
           let k = ls.keyColumns.indices.first(where: { l[ls.keyColumns[$0]] != nil && r[rs.keyColumns[$0]] != nil }) {
            cleaning = JoinWindowCleaning(sizeMicros: max(l[ls.keyColumns[k]]!, r[rs.keyColumns[k]]!))
            ls.keyColumns = JoinWindowCleaning.keysWithWindowFirst(ls.keyColumns, index: k)
            rs.keyColumns = JoinWindowCleaning.keysWithWindowFirst(rs.keyColumns, index: k)
        }
        guard ls.keyColumns.map({ ls.types[$0] }) == rs.keyColumns.map({ rs.types[$0] }) else {
            throw DataflowError.invalidArgument("join keys \(leftKey) and \(rightKey) differ in type")
        }
        var out: [HashJoin.OutputColumn] = []
        var cols: [ColumnDef] = []
        for s in select {
            guard s.side == 0 || s.side == 1 else { throw DataflowError.invalidArgument("join select: side must be 0 or 1") }
            let sch = s.side == 0 ? left.schema : right.schema
            let i = try sch.index(of: s.column)
            out.append(.init(side: s.side, column: i))
            cols.append(ColumnDef(s.as, sch.columns[i].type))
        }
        let tables = [table(), table(), table()]
        var expiry: JoinExpiry?
        if expireLeftAt != nil || expireRightAt != nil {
            var columns: [Int?] = [nil, nil], index: [TableID?] = [nil, nil]
            for (side, name, schema) in [(0, expireLeftAt, left.schema), (1, expireRightAt, right.schema)] {
                guard let name else { continue }
                let c = try schema.index(of: name)
                guard schema.columns[c].type == .timestamp else {
                    throw DataflowError.invalidArgument("join: expiry column \(name) is \(schema.columns[c].type), not a timestamp")
                }
                columns[side] = c
                index[side] = table()
            }
            expiry = JoinExpiry(columns: columns, tables: index)
        }
        // Output lineage: a selected column of the window-start pair is a window start (either side's value is the other's).
        var lineage: EventTimeLineage?
        if let cleaning {
            lineage = EventTimeLineage(eventTime: nil)
            for (j, o) in out.enumerated() where o.column == [ls, rs][o.side].keyColumns[0] { lineage!.windowStarts[j] = cleaning.sizeMicros }
        }
        var text = "join \(left.node) \(ls.keyColumns) \(ls.primaryKey) with \(right.node) \(rs.keyColumns) \(rs.primaryKey)"
        text += " select \(out.map { "\($0.side).\($0.column)" }) tables \(tables.map(\.raw))"
        if let cleaning { text += " cleans window size \(cleaning.sizeMicros)" }
        if let expiry {
            let columns: [String] = expiry.columns.map { c in c.map { String($0) } ?? "-" }
            let index: [String] = expiry.tables.map { t in t.map { String($0.raw) } ?? "-" }
            text += " expires \(columns) tables \(index)"
        }
        return add(.join(left: left.node, right: right.node, leftSide: ls, rightSide: rs, output: out, tables: tables, cleaning: cleaning, expiry: expiry),
                   Schema(cols), text, lineage: lineage)
    }

    /// Maintains view `name` from `input`: the rows, keyed by `primaryKey` (which
    /// must identify them), with the columns `columns` (default: all), readable at
    /// any committed epoch and delivered to the pipeline's sinks.
    public func materialize(_ input: Stream, as name: String, primaryKey: [String], columns: [String]? = nil) throws {
        guard !views.contains(where: { $0.name == name }) else { throw DataflowError.invalidArgument("view \(name) is defined twice") }
        let pk = try primaryKey.map { try input.schema.index(of: $0) }
        let visible = try (columns ?? input.schema.names).map { try input.schema.index(of: $0) }
        let view = ViewDefinition(name: name, schema: Schema(visible.map { input.schema.columns[$0] }), table: table(),
                                  index: UInt16(views.count), primaryKey: pk, visible: visible)
        views.append(view)
        _ = add(.materialize(input: input.node, view: view), view.schema, "materialize \(name) pk \(pk) columns \(visible) of \(input.node) table \(view.table.raw)")
    }

    /// Whether `stream` carries its source's event time (a source with a lateness,
    /// through stateless operators that kept the column): a query may then ask
    /// for cleaning that rests on the watermark.
    public func isTimed(_ stream: Stream) -> Bool { lineages[stream.node]?.eventTime != nil }

    /// A fingerprint of the description (nodes, schemas, tables).
    public var fingerprint: String { description.joined(separator: "\n") }
}

/// A materialized view of a pipeline: its name, columns and table, as committed
/// in the store's metadata (`view.<name>`) so readers need only the store.
public struct ViewDefinition: Sendable, Hashable {
    public var name: String
    public var schema: Schema
    public var table: TableID
    public var index: UInt16
    var primaryKey: [Int]
    var visible: [Int]
}
