import Floe

/// A pipeline description cut into fragments: a source with the stateless
/// operators and materializations chained after it, or a stateful operator
/// (aggregation, join) with those chained after it. Fragments are connected by
/// hash exchanges on the stateful operator's key; a source fragment runs one
/// instance per partition, a stateful one `parallelism` instances.
struct PhysicalPlan: Sendable {
    struct SourceInfo: Sendable {
        var name: String
        var partitions: Int
        var source: any Source
        var types: [ColumnType]
        /// The event-time column and lateness (nil: rows are not timed).
        var eventTime: SourceEventTime?
    }

    enum Kind: Sendable {
        case source(Int)
        case stateful(Int)
    }

    struct Edge: Sendable {
        var from: Int
        var to: Int
        var logical: Int
        var keys: [Int]
        var types: [ColumnType]
    }

    struct Fragment: Sendable {
        var kind: Kind
        /// The nodes run as operators, in order (a stateful root first).
        var ops: [Int] = []
        var instances: Int
        var hasView = false
    }

    let nodes: [PipelineBuilder.Node]
    let schemas: [Schema]
    let views: [ViewDefinition]
    let fingerprint: String
    let sources: [SourceInfo]
    var fragments: [Fragment] = []
    var edges: [Edge] = []
    /// Fragment of every node.
    var fragmentOf: [Int] = []
    let parallelism: Int

    var terminalInstances: Int { fragments.filter(\.hasView).reduce(0) { $0 + $1.instances } }

    init(_ b: PipelineBuilder, parallelism: Int) throws {
        nodes = b.nodes
        schemas = b.schemas
        views = b.views
        fingerprint = b.fingerprint
        self.parallelism = parallelism
        guard !views.isEmpty else { throw DataflowError.invalidArgument("a pipeline needs at least one view (materialize)") }
        var srcs: [SourceInfo] = []
        for (n, node) in nodes.enumerated() {
            switch node {
            case let .source(s, eventTime):
                guard s.partitions >= 1 else { throw DataflowError.invalidArgument("source \(s.name) has no partitions") }
                guard !srcs.contains(where: { $0.name == s.name }) else { throw DataflowError.invalidArgument("two sources are called \(s.name)") }
                fragmentOf.append(fragments.count)
                fragments.append(Fragment(kind: .source(srcs.count), instances: s.partitions))
                srcs.append(SourceInfo(name: s.name, partitions: s.partitions, source: s, types: s.schema.types, eventTime: eventTime))
            case let .transform(input, _):
                fragmentOf.append(fragmentOf[input])
                fragments[fragmentOf[input]].ops.append(n)
            case let .materialize(input, _):
                fragmentOf.append(fragmentOf[input])
                fragments[fragmentOf[input]].ops.append(n)
                fragments[fragmentOf[input]].hasView = true
            case let .aggregate(input, groupBy, _, _, cleaning):
                let f = fragments.count
                fragmentOf.append(f)
                fragments.append(Fragment(kind: .stateful(n), ops: [n], instances: parallelism))
                // Routed by the virtual node of the state key's columns (the window start first when it cleans).
                edges.append(Edge(from: fragmentOf[input], to: f, logical: 0, keys: cleaning?.keyColumns(groupBy: groupBy) ?? groupBy,
                                  types: schemas[input].types))
            case let .topN(input, groupBy, _, _, _, _, cleaning):
                let f = fragments.count
                fragmentOf.append(f)
                fragments.append(Fragment(kind: .stateful(n), ops: [n], instances: parallelism))
                edges.append(Edge(from: fragmentOf[input], to: f, logical: 0, keys: cleaning?.keyColumns(groupBy: groupBy) ?? groupBy,
                                  types: schemas[input].types))
            case let .join(left, right, ls, rs, _, _, _, _):
                let f = fragments.count
                fragmentOf.append(f)
                fragments.append(Fragment(kind: .stateful(n), ops: [n], instances: parallelism))
                edges.append(Edge(from: fragmentOf[left], to: f, logical: 0, keys: ls.keyColumns, types: schemas[left].types))
                edges.append(Edge(from: fragmentOf[right], to: f, logical: 1, keys: rs.keyColumns, types: schemas[right].types))
            }
        }
        sources = srcs
        for (n, node) in nodes.enumerated() {
            if case let .source(s, _) = node, consumers(of: n).isEmpty {
                throw DataflowError.invalidArgument("source \(s.name) feeds nothing")
            }
        }
    }

    /// The nodes that read node `n`'s output.
    func consumers(of n: Int) -> [Int] {
        nodes.indices.filter { m in
            switch nodes[m] {
            case .source: return false
            case let .transform(input, _), let .materialize(input, _), let .aggregate(input, _, _, _, _), let .topN(input, _, _, _, _, _, _):
                return input == n
            case let .join(l, r, _, _, _, _, _, _): return l == n || r == n
            }
        }
    }

    struct Instances {
        var sources: [[FragmentInstance]]
        var others: [FragmentInstance]
        var inboxes: [Inbox] = []
    }

    /// Creates every fragment instance, its operators (each with its own state
    /// tables and empty caches), inboxes and outlets.
    func instantiate(store: StateStore, options: PipelineOptions, coordinator: Coordinator, withSinkLog: Bool,
                     metrics: PipelineMetrics? = nil) throws -> Instances {
        // Inbox inputs: every incoming edge contributes one input per upstream instance.
        var inputBase: [Int] = Array(repeating: 0, count: edges.count)
        var inputCount: [Int] = Array(repeating: 0, count: fragments.count)
        var logical: [[Int]] = Array(repeating: [], count: fragments.count)
        for (k, e) in edges.enumerated() {
            inputBase[k] = inputCount[e.to]
            inputCount[e.to] += fragments[e.from].instances
            logical[e.to] += Array(repeating: e.logical, count: fragments[e.from].instances)
        }
        var inboxes: [[Inbox]] = []
        for (f, frag) in fragments.enumerated() {
            if case .stateful = frag.kind {
                inboxes.append(try (0..<frag.instances).map { _ in try Inbox(inputs: inputCount[f], capacity: options.channelCapacity) })
            } else {
                inboxes.append([])
            }
        }
        var out = Instances(sources: Array(repeating: [], count: sources.count), others: [], inboxes: inboxes.flatMap { $0 })
        for (f, frag) in fragments.enumerated() {
            for i in 0..<frag.instances {
                // Outlets: the edges leaving this fragment, in edge order.
                var outlets: [Outlet] = []
                var outletOf: [Int: Int] = [:]
                for (k, e) in edges.enumerated() where e.from == f {
                    outletOf[k] = outlets.count
                    outlets.append(Outlet(routing: .hash(e.keys), destinations: inboxes[e.to], input: inputBase[k] + i, types: e.types,
                                          chunkRows: options.chunkRows))
                }
                var localIndex: [Int: Int] = [:]
                for (j, n) in frag.ops.enumerated() { localIndex[n] = j }
                func consumerList(_ n: Int) -> [FragmentInstance.Consumer] {
                    consumers(of: n).map { m in
                        if let j = localIndex[m], fragmentOf[m] == f, !isStatefulRoot(m, in: f) { return .local(j) }
                        let k = edges.indices.first { edges[$0].from == f && edges[$0].to == fragmentOf[m] && edgeSource($0) == n }!
                        return .outlet(outletOf[k]!)
                    }
                }
                var ops: [any StreamOperator] = []
                for n in frag.ops { ops.append(try makeOperator(n, instance: i, store: store, options: options, withSinkLog: withSinkLog,
                                                                       digests: coordinator.digests)) }
                let root: [FragmentInstance.Consumer]
                let sourceTypes: [ColumnType]
                switch frag.kind {
                case let .source(s):
                    sourceTypes = sources[s].types
                    root = consumerList(fragmentNode(f))
                case .stateful:
                    sourceTypes = []
                    root = [.local(0)]
                }
                let outs: [Chunk] = ops.map { Chunk(types: $0.outputTypes) }
                let lists: [[FragmentInstance.Consumer]] = frag.ops.map { consumerList($0) }
                let inbox: Inbox? = inboxes[f].isEmpty ? nil : inboxes[f][i]
                let ack: (@Sendable (Epoch) -> Void)? = frag.hasView ? { @Sendable e in coordinator.ack(e) } : nil
                var inst = FragmentInstance(ops: ops, outs: outs, consumers: lists, rootConsumers: root, outlets: outlets,
                                            logicalInput: logical[f], inbox: inbox, sourceTypes: sourceTypes, onEpochEnd: ack)
                if let metrics {
                    inst.metrics = .init(ops: frag.ops.map { metrics.operatorCounters(operatorName($0)) }, alignment: metrics.alignmentSeconds)
                }
                if case let .source(s) = frag.kind { out.sources[s].append(inst) } else { out.others.append(inst) }
            }
        }
        return out
    }

    /// The node that starts fragment `f` (its source or stateful operator).
    func fragmentNode(_ f: Int) -> Int {
        switch fragments[f].kind {
        case let .stateful(n): return n
        case let .source(s):
            return nodes.indices.first { if case let .source(x, _) = nodes[$0] { return x.name == sources[s].name } else { return false } }!
        }
    }

    func isStatefulRoot(_ n: Int, in f: Int) -> Bool {
        if case let .stateful(r) = fragments[f].kind { return r == n }
        return false
    }

    /// The node whose output edge `k` carries.
    func edgeSource(_ k: Int) -> Int {
        let e = edges[k]
        switch fragments[e.to].kind {
        case let .stateful(n):
            switch nodes[n] {
            case let .aggregate(input, _, _, _, _), let .topN(input, _, _, _, _, _, _): return input
            case let .join(l, r, _, _, _, _, _, _): return e.logical == 0 ? l : r
            default: return -1
            }
        case .source: return -1
        }
    }

    /// The `operator` dimension of node `n`'s metrics: its number and kind (a view's name too).
    func operatorName(_ n: Int) -> String {
        switch nodes[n] {
        case .source: return "\(n)_source"
        case .transform: return "\(n)_transform"
        case .aggregate: return "\(n)_aggregate"
        case .join: return "\(n)_join"
        case .topN: return "\(n)_topn"
        case let .materialize(_, view): return "\(n)_view_\(view.name)"
        }
    }

    func makeOperator(_ n: Int, instance: Int, store: StateStore, options: PipelineOptions, withSinkLog: Bool,
                      digests: ViewDigestDeltas? = nil) throws -> any StreamOperator {
        switch nodes[n] {
        case .source: throw DataflowError.invalidArgument("a source is not an operator")
        case let .transform(_, t): return t
        case let .aggregate(input, groupBy, calls, table, cleaning):
            return HashAggregate(inputTypes: schemas[input].types, groupBy: groupBy, calls: calls, state: StateTable(store: store, table: table),
                                 cacheBytes: options.cacheBytes, cleaning: cleaning)
        case let .join(_, _, ls, rs, output, tables, cleaning, expiry):
            return try HashJoin(left: ls, right: rs, output: output, leftState: StateTable(store: store, table: tables[0]),
                                rightState: StateTable(store: store, table: tables[1]), degrees: StateTable(store: store, table: tables[2]),
                                cacheBytes: options.cacheBytes, cleaning: cleaning, expiry: expiry,
                                ownedNodes: VirtualNodes.owned(by: instance, parallelism: fragments[fragmentOf[n]].instances))
        case let .topN(input, groupBy, order, primaryKey, limit, table, cleaning):
            return TopN(inputTypes: schemas[input].types, groupBy: groupBy, order: order, primaryKey: primaryKey, limit: limit,
                        state: StateTable(store: store, table: table), cacheBytes: options.cacheBytes, cleaning: cleaning)
        case let .materialize(_, view):
            return Materialize(primaryKey: view.primaryKey, visible: view.visible, table: StateTable(store: store, table: view.table),
                               sinkLog: withSinkLog ? StateTable(store: store, table: SinkLog.table) : nil, viewIndex: view.index,
                               instance: UInt16(instance), digests: digests)
        }
    }
}

