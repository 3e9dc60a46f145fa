import CoreMetrics
import Floe

extension Pipeline {
    /// Reads one source partition into its fragment like `runSource`, but injects
    /// the barrier of each epoch of `plan` exactly when the partition's offset
    /// reaches the epoch's planned end (reading never past it), and ends after the
    /// plan's last epoch. Several barriers in a row mark epochs that read nothing.
    /// Throws `invalidArgument` when the source ends before a planned offset (the
    /// input is no longer there), and the reader's errors.
    static func runPlannedSource(_ reader: inout any SourceReader, _ frag: inout FragmentInstance, _ late: inout LateRowFilter,
                                 plan: BarrierPlan, source: Int, partition: Int, startEpoch: Epoch, chunkRows: Int,
                                 coordinator: Coordinator, events: Counter? = nil) async throws {
        var injected = startEpoch - 1
        var unpublished = 0
        var chunk = Chunk(types: frag.sourceTypes, capacity: chunkRows)
        var scratch = Chunk(types: frag.sourceTypes, capacity: late.column == nil ? 0 : chunkRows)
        while true {
            while injected < plan.lastEpoch, reader.offset >= plan.end(epoch: injected + 1, source: source, partition: partition) {
                guard reader.offset == plan.end(epoch: injected + 1, source: source, partition: partition) else {
                    throw DataflowError.invalidArgument("source \(source) partition \(partition) is at offset \(reader.offset), past the end "
                        + "\(plan.end(epoch: injected + 1, source: source, partition: partition)) planned for epoch \(injected + 1)")
                }
                injected += 1
                if unpublished > 0 {
                    events?.increment(by: unpublished)
                    unpublished = 0
                }
                coordinator.reportPosition(source: source, partition: partition, epoch: injected, position: late.position(offset: reader.offset))
                try await frag.barrier(injected, watermark: late.watermark)
            }
            if injected >= plan.lastEpoch {
                try await frag.end()
                return
            }
            if coordinator.failure != nil { throw DataflowError.cancelled }
            let end = plan.end(epoch: injected + 1, source: source, partition: partition)
            chunk.removeAll()
            switch try await reader.read(into: &chunk, max: Int(min(UInt64(chunkRows), end - reader.offset))) {
            case let .rows(n):
                coordinator.events.add(n, ordering: .relaxed)
                unpublished += n
                late.apply(&chunk, scratch: &scratch)
                if !chunk.isEmpty { try await frag.input(chunk, logical: 0, epoch: injected + 1) }
            case .caughtUp:
                try await frag.flushOutlets()
                try await Task.sleep(for: .milliseconds(1))
            case .end:
                throw DataflowError.invalidArgument("source \(source) partition \(partition) ended at offset \(reader.offset), before the "
                    + "offset \(end) planned for epoch \(injected + 1)")
            }
        }
    }
}
