import CoreMetrics
import Floe
import Logging
import Synchronization

/// A pipeline over a store: runs a `PipelineBuilder`'s description as tasks
/// connected by bounded channels, injects a barrier into every source partition
/// every `barrierIntervalMillis` (or at the offsets of `PipelineOptions.barrierPlan`),
/// records every epoch's lineage (`EpochLineage`), and commits each epoch (the state of every
/// operator, every partition's offset, the views) as one manifest commit.
///
/// Recovery is starting again: `run` on a reopened store reads the committed
/// source positions (offsets, and with event time the max event time and late
/// rows of every partition), rewinds the sources to them, starts every operator with an empty cache
/// and delivers to the sinks every committed epoch they lack. Any parallelism may
/// be used on any run.
///
/// Errors: `DataflowError.invalidArgument` when the store holds another
/// pipeline's state or the sources' partitions changed; the first error of any
/// task (a malformed source row, a store error, a sink error) stops the run and
/// is rethrown: what was committed stays, nothing after it is.
public final class Pipeline: Sendable {
    public let store: StateStore
    let plan: PhysicalPlan
    public let options: PipelineOptions
    public var views: [ViewDefinition] { plan.views }
    /// Set by `requestStop`: the barrier task then ends the run at the next barrier.
    private let stopRequested = Atomic<Bool>(false)

    public init(store: StateStore, builder: PipelineBuilder, options: PipelineOptions = .init()) throws {
        try options.validate()
        self.store = store
        self.options = options
        plan = try PhysicalPlan(builder, parallelism: options.parallelism)
    }

    /// Asks a running (or the next) `run` to stop gracefully: a barrier is injected
    /// at once, the epoch it ends is committed and delivered to the sinks like any
    /// other, and `run` returns its report. Nothing is left half-done: every
    /// operator's state, offset and view row of the run is in a committed epoch.
    /// `PipelineService` calls it on graceful shutdown.
    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
    }

    /// Runs until the sources are consumed (`untilEnd`), `maxEpochs` epochs were
    /// committed, `requestStop()` was called (it ends at the next barrier, committed),
    /// or the task is cancelled (then it stops at once; what was committed stays).
    public func run() async throws -> PipelineReport {
        let started = ContinuousClock.now
        var report = PipelineReport()
        let committed = store.committedEpoch
        report.startEpoch = committed
        let metadata = store.committedMetadata
        if let plan = metadata[PipelineMetadata.planKey], plan != Array(self.plan.fingerprint.utf8) {
            throw DataflowError.invalidArgument("the store holds the state of a different pipeline: its committed plan is not this one")
        }
        var startPositions: [[SourcePosition]] = []
        for src in plan.sources {
            if let b = metadata[PipelineMetadata.sourceKey(src.name)] {
                startPositions.append(try PipelineMetadata.decodePositions(b, source: src.name, partitions: src.partitions))
            } else {
                startPositions.append(Array(repeating: SourcePosition(), count: src.partitions))
            }
        }
        let logger = options.logger
        let metrics = PipelineMetrics(factory: options.metricsFactory ?? MetricsSystem.factory, sources: plan.sources.map(\.name))
        logger.debug("pipeline starting", metadata: [
            "floe.epoch": .stringConvertible(committed), "floe.parallelism": .stringConvertible(options.parallelism),
            "floe.sources": .string(plan.sources.map(\.name).joined(separator: ",")),
            "floe.positions": .string(zip(plan.sources, startPositions).map { s, p in "\(s.name)=\(p.map(\.offset))" }.joined(separator: " ")),
        ])
        let delivery = try await SinkDelivery(store: store, sinks: options.sinks, views: plan.views, committedMetadata: metadata)
        let caughtUp = try await delivery.catchUp(through: committed)
        report.deliveries += caughtUp
        if caughtUp > 0 { logger.debug("sinks caught up with committed epochs", metadata: ["floe.deliveries": .stringConvertible(caughtUp)]) }

        let startEpoch = committed + 1
        let coordinator = Coordinator(startEpoch: startEpoch, expectedAcks: plan.terminalInstances, partitions: plan.sources.map(\.partitions))
        let endOffsets: [[UInt64]]? = options.untilEnd ? try await plan.sources.asyncMap { try await $0.source.endOffsets() } : nil
        if let barrierPlan = options.barrierPlan {
            try barrierPlan.validate(startEpoch: startEpoch, positions: startPositions)
            // The barrier task then injects nothing: the sources end every epoch at its planned offsets.
            coordinator.stopEpoch.store(barrierPlan.lastEpoch, ordering: .releasing)
        }
        let lineage = try await LineageRecorder(store: store, sources: plan.sources.map(\.name), views: plan.views, positions: startPositions)
        var instances = try plan.instantiate(store: store, options: options, coordinator: coordinator, withSinkLog: !options.sinks.isEmpty,
                                             metrics: metrics)
        coordinator.register(instances.inboxes)
        var baseMetadata: [String: [UInt8]] = [PipelineMetadata.planKey: Array(plan.fingerprint.utf8)]
        for v in plan.views { baseMetadata[PipelineMetadata.viewKey(v.name)] = PipelineMetadata.encode(view: v) }
        let options = options, store = store

        do {
            try await withTaskCancellationHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Source partitions.
                    for (si, src) in plan.sources.enumerated() {
                        for p in 0..<src.partitions {
                            var frag = instances.sources[si][p]
                            let from = startPositions[si][p]
                            let limit = endOffsets?[si][p]
                            group.addTask {
                                do {
                                    var reader = try await src.source.reader(partition: p, from: from.offset)
                                    var late = LateRowFilter(column: src.eventTime?.column, latenessMicros: src.eventTime?.latenessMicros ?? 0, from: from)
                                    if let barrierPlan = options.barrierPlan {
                                        try await Pipeline.runPlannedSource(&reader, &frag, &late, plan: barrierPlan, source: si, partition: p,
                                                                            startEpoch: startEpoch, chunkRows: options.chunkRows,
                                                                            coordinator: coordinator, events: metrics.sourceEvents[si])
                                    } else {
                                        try await Pipeline.runSource(&reader, &frag, &late, source: si, partition: p, limit: limit, startEpoch: startEpoch,
                                                                     chunkRows: options.chunkRows, coordinator: coordinator,
                                                                     events: metrics.sourceEvents[si])
                                    }
                                } catch {
                                    coordinator.fail(error)
                                    throw error
                                }
                            }
                        }
                    }
                    // Stateful fragments.
                    for i in instances.others.indices {
                        var frag = instances.others[i]
                        group.addTask {
                            do {
                                try await frag.run(startEpoch: startEpoch)
                                // The instance's caches are freed when this task ends: a join's
                                // million entries take a core for a fifth of a second, which the
                                // last epoch's commit would wait for.
                                await coordinator.waitForCommits()
                            } catch {
                                coordinator.fail(error)
                                throw error
                            }
                        }
                    }
                    instances = .init(sources: [], others: [])
                    // Barriers: one every interval; the end of the input is looked for more often.
                    group.addTask {
                        var next = startEpoch
                        let interval = Duration.milliseconds(options.barrierIntervalMillis)
                        let tick = min(interval, .milliseconds(5))
                        var due = ContinuousClock.now + interval
                        while coordinator.failure == nil && coordinator.stopEpoch.load(ordering: .acquiring) == 0 {
                            try await Task.sleep(for: tick)
                            let finishing = options.untilEnd && coordinator.allReachedEnd
                            let stopping = self.stopRequested.load(ordering: .acquiring)
                            guard finishing || stopping || ContinuousClock.now >= due else { continue }
                            due = ContinuousClock.now + interval
                            let limitReached = options.maxEpochs.map { Int(next - startEpoch) + 1 >= $0 } ?? false
                            if finishing || limitReached || stopping { coordinator.stopEpoch.store(next, ordering: .releasing) }
                            coordinator.inject(next)
                            next += 1
                        }
                    }
                    // Commits, in epoch order, then delivery to the sinks.
                    let result: CommitResult
                    do {
                        result = try await Pipeline.commitLoop(store: store, coordinator: coordinator, delivery: delivery, base: baseMetadata,
                                                               sourceNames: plan.sources.map(\.name), lineage: lineage, startEpoch: startEpoch,
                                                               depth: options.checkpointDepth, started: started,
                                                               onCommit: options.onCommit, metrics: metrics, logger: logger)
                    } catch {
                        coordinator.fail(error)
                        throw error
                    }
                    coordinator.commitsEnded()
                    report.commitLatencyMillis = result.latencies
                    report.barrierLatencyMillis = result.barrierLatencies
                    report.firstCommitSeconds = result.firstCommit
                    report.deliveries += result.deliveries
                    if let last = result.lastPositions { startPositions = last }
                    try await group.waitForAll()
                }
            } onCancel: {
                coordinator.fail(DataflowError.cancelled)
            }
        } catch {
            let e = coordinator.failure ?? error
            logger.debug("pipeline stopped by an error", metadata: ["floe.epoch": .stringConvertible(store.committedEpoch),
                                                                  "floe.error": .string("\(e)")])
            throw e
        }
        if let f = coordinator.failure {
            logger.debug("pipeline stopped by an error", metadata: ["floe.epoch": .stringConvertible(store.committedEpoch),
                                                                  "floe.error": .string("\(f)")])
            throw f
        }
        report.endEpoch = store.committedEpoch
        report.eventsIn = coordinator.events.load(ordering: .relaxed)
        for (i, src) in plan.sources.enumerated() { report.lateRows[src.name] = startPositions[i].reduce(0) { $0 + $1.lateRows } }
        let d = ContinuousClock.now - started
        report.seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        logger.debug("pipeline run ended", metadata: [
            "floe.epoch.start": .stringConvertible(report.startEpoch), "floe.epoch.end": .stringConvertible(report.endEpoch),
            "floe.events_in": .stringConvertible(report.eventsIn), "floe.seconds": .stringConvertible(report.seconds),
        ])
        return report
    }

    /// Reads one source partition into its fragment, dropping its late rows
    /// (`late`), injecting every barrier the coordinator asks for between chunks
    /// with the partition's position and watermark, until the stop epoch's barrier.
    static func runSource(_ reader: inout any SourceReader, _ frag: inout FragmentInstance, _ late: inout LateRowFilter, source: Int,
                          partition: Int, limit: UInt64?, startEpoch: Epoch, chunkRows: Int, coordinator: Coordinator,
                          events: Counter? = nil) async throws {
        var injected = startEpoch - 1
        // Rows read since the last barrier: added to `events` once per barrier, not per chunk.
        var unpublished = 0
        var chunk = Chunk(types: frag.sourceTypes, capacity: chunkRows)
        var scratch = Chunk(types: frag.sourceTypes, capacity: late.column == nil ? 0 : chunkRows)
        var atEnd = false
        while true {
            let req = coordinator.requested.load(ordering: .acquiring)
            if injected < req, unpublished > 0 {
                events?.increment(by: unpublished)
                unpublished = 0
            }
            while injected < req {
                injected += 1
                coordinator.reportPosition(source: source, partition: partition, epoch: injected, position: late.position(offset: reader.offset))
                try await frag.barrier(injected, watermark: late.watermark)
            }
            let stop = coordinator.stopEpoch.load(ordering: .acquiring)
            if stop != 0 && injected >= stop {
                if unpublished > 0 { events?.increment(by: unpublished) }
                try await frag.end()
                return
            }
            if coordinator.failure != nil { throw DataflowError.cancelled }
            var idle = atEnd
            if !atEnd {
                var room = chunkRows
                if let limit { room = Int(min(UInt64(chunkRows), limit - min(limit, reader.offset))) }
                if room == 0 {
                    atEnd = true
                    coordinator.partitionReachedEnd()
                    continue
                }
                chunk.removeAll()
                switch try await reader.read(into: &chunk, max: room) {
                case let .rows(n):
                    coordinator.events.add(n, ordering: .relaxed)
                    unpublished += n
                    late.apply(&chunk, scratch: &scratch)
                    if !chunk.isEmpty { try await frag.input(chunk, logical: 0, epoch: injected + 1) }
                case .caughtUp:
                    idle = true
                case .end:
                    atEnd = true
                    coordinator.partitionReachedEnd()
                }
            }
            if idle {
                try await frag.flushOutlets()
                try await Task.sleep(for: .milliseconds(1))
            }
        }
    }

    struct CommitResult {
        var latencies: [Double] = []
        var barrierLatencies: [Double] = []
        var firstCommit: Double?
        var deliveries = 0
        /// The source positions of the last epoch this run handed to the store (nil: none).
        var lastPositions: [[SourcePosition]]?
    }

    /// Ends every epoch once all terminal instances acknowledged it: hands it to
    /// the checkpoint pipeline with the source positions and then feeds committed
    /// epochs to the sinks.
    static func commitLoop(store: StateStore, coordinator: Coordinator, delivery: SinkDelivery, base: [String: [UInt8]], sourceNames: [String],
                           lineage: LineageRecorder, startEpoch: Epoch, depth: Int, started: ContinuousClock.Instant,
                           onCommit: (@Sendable (Epoch) -> Void)?, metrics: PipelineMetrics? = nil,
                           logger: Logger = .floeDisabled) async throws -> CommitResult {
        var result = CommitResult()
        var lineage = lineage
        var checkpoints = try CheckpointPipeline(store: store, depth: depth)
        var epoch = startEpoch
        // Per epoch handed to `checkpoints`: its barrier's injection and the moment
        // `endEpoch` began (the start of `Completed.latencyNanos`). `endEpoch` reports an
        // epoch's commit only when it next has to wait for it, up to `depth` barriers
        // later, so the commit's own time is reconstructed from its latency, not read
        // from the clock on the report.
        var timing: [Epoch: (injected: ContinuousClock.Instant?, sealStart: ContinuousClock.Instant)] = [:]
        func record(_ done: [CheckpointPipeline.Completed]) async throws {
            for c in done {
                let t = timing.removeValue(forKey: c.epoch)
                let committedAt = t.map { $0.sealStart + .nanoseconds(Int64(c.latencyNanos)) } ?? ContinuousClock.now
                if result.firstCommit == nil {
                    let d = committedAt - started
                    result.firstCommit = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
                    metrics?.firstCommitSeconds.recordNanoseconds(d.wholeNanoseconds)
                    logger.debug("pipeline committed its first epoch", metadata: ["floe.epoch": .stringConvertible(c.epoch),
                                                                               "floe.seconds": .stringConvertible(result.firstCommit!)])
                }
                if let injected = t?.injected {
                    let d = committedAt - injected
                    result.latencies.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
                    metrics?.epochCommitSeconds.recordNanoseconds(d.wholeNanoseconds)
                }
                metrics?.epochsCommitted.increment()
                logger.trace("pipeline epoch committed", metadata: ["floe.epoch": .stringConvertible(c.epoch)])
                onCommit?(c.epoch)
                result.deliveries += try await delivery.deliver(through: c.epoch)
            }
        }
        while true {
            guard await coordinator.waitForAcks(epoch) else { break }
            let times = coordinator.takeTimes(epoch)
            let injected = times?.injected
            if let times {
                let d = times.acked - times.injected
                metrics?.barrierSeconds.recordNanoseconds(d.wholeNanoseconds)
                result.barrierLatencies.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
            }
            guard let positions = coordinator.takePositions(epoch) else {
                throw DataflowError.invalidArgument("epoch \(epoch) was acknowledged without source positions")
            }
            var metadata = base
            for (i, name) in sourceNames.enumerated() { metadata[PipelineMetadata.sourceKey(name)] = PipelineMetadata.encode(positions: positions[i]) }
            result.lastPositions = positions
            // Into the epoch itself (not sealed yet): the record commits with it.
            try await lineage.record(epoch: epoch, positions: positions, deltas: coordinator.digests.take(epoch))
            try delivery.prepareCommit(epoch: epoch, metadata: &metadata)
            timing[epoch] = (injected, ContinuousClock.now)
            if let done = try await checkpoints.endEpoch(metadata: metadata) { try await record([done]) }
            if epoch == coordinator.stopEpoch.load(ordering: .acquiring) {
                try await record(try await checkpoints.drain())
                break
            }
            epoch += 1
        }
        return result
    }
}

extension Array {
    func asyncMap<T>(_ f: (Element) async throws -> T) async throws -> [T] {
        var out: [T] = []
        out.reserveCapacity(count)
        for e in self { out.append(try await f(e)) }
        return out
    }
}
