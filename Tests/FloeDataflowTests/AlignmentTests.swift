import Floe
import Synchronization
import Testing
@testable import FloeDataflow

/// Barrier alignment under adversarial interleavings: one input delivers its
/// barrier at once and then floods the next epoch while the other trickles the
/// current one. Every row must reach the operator in the epoch its producer sent
/// it in, and the flooding producer must be held back by its bounded queue.
@Suite struct AlignmentTests {
    /// Checks that each row (column 0 = the epoch it was sent in) arrives in that epoch.
    struct EpochChecker: StreamOperator {
        var outputTypes: [ColumnType] { [] }
        let log: Log
        func process(_ chunk: Chunk, input: Int, epoch: Epoch, into out: inout Chunk) async throws {
            for r in 0..<chunk.count where UInt64(chunk.int(0, r)) != epoch {
                log.withLock { $0.append("input \(input) row of epoch \(chunk.int(0, r)) seen in epoch \(epoch)") }
            }
            log.withLock { $0.append("rows") }
        }
        func barrier(ending epoch: Epoch, into out: inout Chunk) async throws {
            log.withLock { $0.append("barrier \(epoch)") }
        }
        func afterBarrier(_ epoch: Epoch) async {
            log.withLock { $0.append("after \(epoch)") }
        }
    }

    static func chunk(_ epoch: Int64, _ n: Int) -> Chunk {
        var c = Chunk(types: [.int64])
        for _ in 0..<n { c.appendOp(.insert); c.appendInt(0, epoch) }
        return c
    }

    final class Log: Sendable {
        let lines = Lock<[String]>([])
        func withLock<R>(_ body: (inout [String]) -> R) -> R { lines.withLock { body(&$0) } }
    }

    final class Sent: Sendable {
        let count = Atomic<Int>(0)
    }

    @Test(arguments: 1...5)
    func floodingInputWaitsForTheSlowOne(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let capacity = Int(g.next() % 3) + 1
        let inbox = try Inbox(inputs: 2, capacity: capacity)
        let log = Log()
        let checker = EpochChecker(log: log)
        let frag = FragmentInstance(ops: [checker], outs: [Chunk(types: [])], consumers: [[]], rootConsumers: [.local(0)], outlets: [],
                                    logicalInput: [0, 1], inbox: inbox, sourceTypes: [],
                                    onEpochEnd: { e in log.withLock { $0.append("ack \(e)") } })
        let fastSent = Sent()
        let epochs: Int64 = 4
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var f = frag
                try await f.run(startEpoch: 1)
            }
            // Fast: barrier first, then a flood of the next epoch's rows.
            group.addTask {
                for e in 1...epochs {
                    if e > 1 { for _ in 0..<50 { try await inbox.send(.chunk(Self.chunk(e, 3)), input: 0); fastSent.count.add(1, ordering: .relaxed) } }
                    try await inbox.send(.barrier(UInt64(e), watermark: Watermark.none), input: 0)
                }
                try await inbox.send(.end, input: 0)
            }
            // Slow: trickles its rows of each epoch, and checks that the fast input is held back meanwhile.
            group.addTask {
                for e in 1...epochs {
                    for _ in 0..<10 {
                        try await inbox.send(.chunk(Self.chunk(e, 2)), input: 1)
                        try await Task.sleep(for: .microseconds(200))
                    }
                    // The fast input may be at most one queue ahead of this epoch.
                    let ahead = fastSent.count.load(ordering: .relaxed) - Int(e - 1) * 50
                    #expect(ahead <= capacity + 1, "seed \(seed): the fast input ran \(ahead) chunks ahead with a queue of \(capacity)")
                    try await inbox.send(.barrier(UInt64(e), watermark: Watermark.none), input: 1)
                }
                try await inbox.send(.end, input: 1)
            }
            try await group.waitForAll()
        }
        let events = log.withLock { $0 }
        #expect(!events.contains { $0.hasPrefix("input") }, "seed \(seed): \(events.filter { $0.hasPrefix("input") })")
        #expect(events.filter { $0.hasPrefix("barrier") } == (1...epochs).map { "barrier \($0)" })
        // Each epoch: the operator's barrier, then the acknowledgement (the commit may
        // start), then its after-barrier work, before any row of the next epoch.
        let ends = events.filter { !$0.hasPrefix("rows") && !$0.hasPrefix("input") }
        #expect(ends == (1...epochs).flatMap { ["barrier \($0)", "ack \($0)", "after \($0)"] }, "seed \(seed): \(ends)")
        for e in 1..<epochs {
            let after = events.firstIndex(of: "after \(e)")!, next = events.firstIndex(of: "barrier \(e + 1)")!
            #expect(events[events.firstIndex(of: "barrier \(e)")!..<after].allSatisfy { !$0.hasPrefix("rows") }, "seed \(seed)")
            #expect(after < next, "seed \(seed)")
        }
    }

    @Test func aBarrierOfTheWrongEpochIsRefused() async throws {
        let inbox = try Inbox(inputs: 1)
        let log = Log()
        var frag = FragmentInstance(ops: [EpochChecker(log: log)], outs: [Chunk(types: [])], consumers: [[]], rootConsumers: [.local(0)], outlets: [],
                                    logicalInput: [0], inbox: inbox, sourceTypes: [], onEpochEnd: nil)
        try await inbox.send(.barrier(2, watermark: Watermark.none), input: 0)
        await #expect(throws: DataflowError.self) { try await frag.run(startEpoch: 1) }
    }

    /// Records the watermark of every barrier it ends.
    struct WatermarkRecorder: StreamOperator {
        var outputTypes: [ColumnType] { [.int64] }
        let log: Log
        func process(_ chunk: Chunk, input: Int, epoch: Epoch, into out: inout Chunk) async throws {}
        func barrier(ending epoch: Epoch, watermark: Int64, into out: inout Chunk) async throws {
            log.withLock { $0.append("barrier \(epoch) watermark \(watermark)") }
        }
    }

    /// An aligned barrier carries the minimum of its inputs' watermarks, to the
    /// operators and on through the outlets; an input that ended no longer counts.
    @Test(arguments: 1...3)
    func theAlignedBarrierCarriesTheMinimumWatermark(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let inputs = Int(g.next() % 3) + 2
        let epochs = 5
        // Per input and epoch a watermark that never falls; one input ends after epoch 3.
        var marks: [[Int64]] = []
        for _ in 0..<inputs {
            var w = Int64(g.next() % 100) - 50
            marks.append((0..<epochs).map { _ in defer { w += Int64(g.next() % 40) }; return w })
        }
        if g.next() % 2 == 0 { marks[0][0] = Watermark.none }
        let ender = Int(g.next() % UInt64(inputs))
        let inbox = try Inbox(inputs: inputs, capacity: 2)
        let downstream = try Inbox(inputs: 1, capacity: 64)
        let log = Log()
        let outlet = Outlet(routing: .forward, destinations: [downstream], input: 0, types: [.int64], chunkRows: 4)
        let frag = FragmentInstance(ops: [WatermarkRecorder(log: log)], outs: [Chunk(types: [.int64])], consumers: [[.outlet(0)]],
                                    rootConsumers: [.local(0)], outlets: [outlet], logicalInput: Array(repeating: 0, count: inputs),
                                    inbox: inbox, sourceTypes: [], onEpochEnd: nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var f = frag
                try await f.run(startEpoch: 1)
            }
            for i in 0..<inputs {
                let mine = marks[i]
                group.addTask {
                    for e in 0..<epochs {
                        if i == ender && e == 3 { break }
                        try await inbox.send(.chunk(Self.chunk(Int64(e + 1), 1)), input: i)
                        try await inbox.send(.barrier(UInt64(e + 1), watermark: mine[e]), input: i)
                    }
                    try await inbox.send(.end, input: i)
                }
            }
            try await group.waitForAll()
        }
        let expected = (0..<epochs).map { e in
            (0..<inputs).filter { !($0 == ender && e >= 3) }.map { marks[$0][e] }.min()!
        }
        #expect(log.withLock { $0 } == expected.enumerated().map { "barrier \($0.offset + 1) watermark \($0.element)" },
                "seed \(seed): marks \(marks), input \(ender) ends after epoch 3")
        var forwarded: [Int64] = []
        var last = 0
        while true {
            let (i, m) = try await downstream.receive(allowed: 1, after: last)
            last = i
            if case let .barrier(_, w) = m { forwarded.append(w) }
            if case .end = m { break }
        }
        #expect(forwarded == expected, "seed \(seed): forwarded \(forwarded)")
    }
}
