import Floe

/// The sending end of one edge of the pipeline, owned by one instance of the
/// upstream fragment: it routes each row to a downstream instance (all to one for
/// `forward`, by the virtual node of the key for `hash`), gathers rows per
/// destination into chunks and sends a chunk when it holds `chunkRows` rows, at a
/// barrier (before the barrier, which goes to every destination with its
/// watermark) and at the end.
struct Outlet: Sendable {
    enum Routing: Sendable {
        /// Every row to destination `0` (the edge has one destination).
        case forward
        /// Each row to the owner of the virtual node of its key columns.
        case hash([Int])
    }

    let routing: Routing
    let destinations: [Inbox]
    /// This sender's input number at every destination.
    let input: Int
    let chunkRows: Int
    private var pending: [Chunk]
    private var key: [UInt8] = []

    init(routing: Routing, destinations: [Inbox], input: Int, types: [ColumnType], chunkRows: Int) {
        self.routing = routing
        self.destinations = destinations
        self.input = input
        self.chunkRows = chunkRows
        pending = destinations.map { _ in Chunk(types: types) }
    }

    mutating func emit(_ chunk: Chunk) async throws {
        switch routing {
        case .forward:
            if pending[0].isEmpty && chunk.count >= chunkRows {
                try await destinations[0].send(.chunk(chunk), input: input)
                return
            }
            for r in 0..<chunk.count { pending[0].appendRow(of: chunk, r, op: chunk.op(r)) }
            if pending[0].count >= chunkRows { try await send(0) }
        case let .hash(columns):
            let p = destinations.count
            for r in 0..<chunk.count {
                key.removeAll(keepingCapacity: true)
                for c in columns { KeyEncoding.appendColumn(&key, chunk, c, r) }
                let d = p == 1 ? 0 : VirtualNodes.owner(VirtualNodes.of(key), parallelism: p)
                pending[d].appendRow(of: chunk, r, op: chunk.op(r))
                if pending[d].count >= chunkRows { try await send(d) }
            }
        }
    }

    private mutating func send(_ d: Int) async throws {
        let c = pending[d]
        pending[d] = Chunk(types: c.types, capacity: chunkRows)
        try await destinations[d].send(.chunk(c), input: input)
    }

    mutating func flush() async throws {
        for d in destinations.indices where !pending[d].isEmpty { try await send(d) }
    }

    /// Sends what it gathered, then the barrier of `epoch` with `watermark` to every destination.
    mutating func barrier(_ epoch: Epoch, watermark: Int64) async throws {
        try await flush()
        for d in destinations { try await d.send(.barrier(epoch, watermark: watermark), input: input) }
    }

    mutating func end() async throws {
        try await flush()
        for d in destinations { try await d.send(.end, input: input) }
    }
}
