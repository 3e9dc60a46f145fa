import CoreMetrics
import Floe

/// One instance of a fragment: the operators chained in one task (a source's
/// transforms, or a stateful operator with the transforms and materializations
/// after it), fed by one inbox (or by a source partition) and sending on outlets.
///
/// Alignment: a barrier that arrives on one input blocks that input (its queue
/// fills and its sender waits) until every input that has not ended delivered the
/// same barrier; then the operators end the epoch in chain order and the barrier
/// goes on to every outlet. Barriers never overtake chunks: a channel is FIFO and
/// every outlet flushes before it sends a barrier.
///
/// Watermarks: the aligned barrier carries the minimum of the watermarks its
/// inputs' barriers carried (`Watermark`); the operators see it and the outlets
/// forward it. An input that ended sends nothing more and does not count.
struct FragmentInstance: Sendable {
    enum Consumer: Sendable {
        case local(Int)
        case outlet(Int)
    }

    var ops: [any StreamOperator]
    var outs: [Chunk]
    /// Consumers of each op's output.
    var consumers: [[Consumer]]
    /// Consumers of the inbox (or source) rows: the root operator is `ops[0]` for
    /// a fragment with an inbox; a source fragment lists its own.
    var rootConsumers: [Consumer]
    var outlets: [Outlet]
    /// The logical input (0 or 1) of every inbox input.
    var logicalInput: [Int]
    let inbox: Inbox?
    /// The columns of the rows a source fragment reads (empty for other fragments).
    let sourceTypes: [ColumnType]
    /// Called after the instance ended an epoch, when it holds a materialization.
    let onEpochEnd: (@Sendable (Epoch) -> Void)?
    /// Rows into and out of each op since the last barrier, added to `metrics` once
    /// per epoch (see `PipelineMetrics`): nil when the run has no metrics.
    var metrics: Metrics?

    struct Metrics: Sendable {
        var ops: [PipelineMetrics.OperatorCounters]
        var alignment: CoreMetrics.Timer
        var rowsIn: [Int]
        var rowsOut: [Int]

        init(ops: [PipelineMetrics.OperatorCounters], alignment: CoreMetrics.Timer) {
            self.ops = ops
            self.alignment = alignment
            rowsIn = Array(repeating: 0, count: ops.count)
            rowsOut = rowsIn
        }

        mutating func publish() {
            for i in ops.indices {
                if rowsIn[i] > 0 { ops[i].rowsIn.increment(by: rowsIn[i]) }
                if rowsOut[i] > 0 { ops[i].rowsOut.increment(by: rowsOut[i]) }
                rowsIn[i] = 0
                rowsOut[i] = 0
            }
        }
    }

    private mutating func push(_ i: Int, _ chunk: Chunk, input: Int, epoch: Epoch) async throws {
        outs[i].removeAll()
        try await ops[i].process(chunk, input: input, epoch: epoch, into: &outs[i])
        if metrics != nil {
            metrics!.rowsIn[i] += chunk.count
            metrics!.rowsOut[i] += outs[i].count
        }
        if !outs[i].isEmpty { try await deliver(outs[i], to: consumers[i], epoch: epoch) }
    }

    private mutating func deliver(_ chunk: Chunk, to list: [Consumer], epoch: Epoch) async throws {
        for c in list {
            switch c {
            case let .local(j): try await push(j, chunk, input: 0, epoch: epoch)
            case let .outlet(k): try await outlets[k].emit(chunk)
            }
        }
    }

    private mutating func endEpoch(_ list: [Consumer], _ epoch: Epoch, _ watermark: Int64) async throws {
        for c in list {
            switch c {
            case let .local(j):
                outs[j].removeAll()
                try await ops[j].barrier(ending: epoch, watermark: watermark, into: &outs[j])
                if metrics != nil { metrics!.rowsOut[j] += outs[j].count }
                if !outs[j].isEmpty { try await deliver(outs[j], to: consumers[j], epoch: epoch) }
                try await endEpoch(consumers[j], epoch, watermark)
            case let .outlet(k): try await outlets[k].barrier(epoch, watermark: watermark)
            }
        }
    }

    /// Rows of a source partition (or of the root's input) in epoch `epoch`.
    mutating func input(_ chunk: Chunk, logical: Int, epoch: Epoch) async throws {
        if inbox != nil {
            try await push(0, chunk, input: logical, epoch: epoch)
        } else {
            try await deliver(chunk, to: rootConsumers, epoch: epoch)
        }
    }

    /// Ends `epoch` in every operator, in chain order, and sends the barrier on
    /// with `watermark` (`Watermark`); then lets every operator do its
    /// `afterBarrier` work.
    mutating func barrier(_ epoch: Epoch, watermark: Int64) async throws {
        try await endEpoch(rootConsumers, epoch, watermark)
        metrics?.publish()
        onEpochEnd?(epoch)
        for i in ops.indices { await ops[i].afterBarrier(epoch) }
    }

    /// Sends what the outlets gathered (a source with nothing to read flushes, so
    /// that rows do not wait for the next barrier).
    mutating func flushOutlets() async throws {
        for k in outlets.indices { try await outlets[k].flush() }
    }

    mutating func end() async throws {
        for k in outlets.indices { try await outlets[k].end() }
    }

    /// Runs an instance fed by its inbox until every input ended. `epoch` is the
    /// first epoch it builds.
    mutating func run(startEpoch: Epoch) async throws {
        guard let inbox else { return }
        let all: UInt64 = inbox.inputs == 64 ? ~0 : (1 << UInt64(inbox.inputs)) - 1
        var blocked: UInt64 = 0, ended: UInt64 = 0
        var epoch = startEpoch
        var last = inbox.inputs - 1
        // The minimum watermark of the barriers of `epoch` received so far.
        var watermark = Int64.max
        // When the first barrier of `epoch` arrived (alignment time).
        var firstBarrier: ContinuousClock.Instant?
        while ended != all {
            let (i, message) = try await inbox.receive(allowed: all & ~blocked & ~ended, after: last)
            last = i
            switch message {
            case let .chunk(c):
                try await input(c, logical: logicalInput[i], epoch: epoch)
            case let .barrier(e, w):
                guard e == epoch else {
                    throw DataflowError.invalidArgument("input \(i) delivered the barrier of epoch \(e) while epoch \(epoch) is being built")
                }
                if blocked == 0 && metrics != nil && inbox.inputs > 1 { firstBarrier = .now }
                blocked |= 1 << UInt64(i)
                watermark = min(watermark, w)
            case .end:
                ended |= 1 << UInt64(i)
            }
            // Aligned: every input that has not ended delivered this epoch's barrier.
            if blocked != 0 && blocked | ended == all {
                if let t = firstBarrier, let m = metrics {
                    m.alignment.recordNanoseconds((ContinuousClock.now - t).wholeNanoseconds)
                    firstBarrier = nil
                }
                try await barrier(epoch, watermark: watermark)
                blocked = 0
                watermark = .max
                epoch += 1
            }
        }
        try await end()
    }
}
