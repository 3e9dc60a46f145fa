import Floe
import Testing
@testable import FloeDataflow

@Suite struct GeneratorTests {
    /// 2026-04-01 10:00:00 UTC is 1775037600 seconds after 1970 (`date -u -d @1775037600`).
    static let base: Int64 = 1_775_037_600_000_000
    static let categories: Set<String> = ["Apparel", "Books", "Electronics", "Garden", "Grocery", "Home", "Sports", "Toys"]

    /// Event i of either stream read from partition i % P at offset i / P in one read.
    static func single(_ source: GeneratorSource, _ i: UInt64) async throws -> [String] {
        let p = source.partitions
        var reader = try await source.reader(partition: Int(i % UInt64(p)), from: i / UInt64(p))
        var chunk = Chunk(schema: source.schema)
        #expect(try await reader.read(into: &chunk, max: 1) == .rows(1))
        return chunk.fields(0)
    }

    @Test(arguments: [1, 3, 4])
    func eventsAreTheSameFromAnyOffsetAndChunkSize(partitions: Int) async throws {
        let seed = testSeed()
        try await reportingSeed(seed) { try await checkDeterminism(partitions: partitions, seed: seed) }
    }

    private func checkDeterminism(partitions: Int, seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        for stream in EoStreams.Stream.allCases {
            let events: UInt64 = 500
            let source = try GeneratorSource(generator: EoGenerator(stream: stream, seed: seed), partitions: partitions, events: events)
            var all = [[String]?](repeating: nil, count: Int(events))
            for p in 0..<partitions {
                var sizes = SeededGenerator(seed: g.next())
                let got = try await readSource(source, partition: p, steps: { 1 + Int(sizes.next() % 64) })
                #expect(got.last == .end, "seed \(seed)")
                #expect(UInt64(got.rows.count) == GeneratorSource.count(events: events, partitions: partitions, partition: p), "seed \(seed)")
                for (o, row) in got.rows.enumerated() { all[o * partitions + p] = row }
            }
            #expect(all.allSatisfy { $0 != nil }, "seed \(seed): every event in some partition")
            for _ in 0..<40 {
                let i = g.next() % events
                let alone = try await Self.single(source, i)
                #expect(alone == all[Int(i)], "seed \(seed) \(stream) event \(i)")
                // From a random offset before it, in random chunk sizes.
                let p = Int(i % UInt64(partitions)), o = i / UInt64(partitions)
                let from = g.next() % (o + 1)
                var sizes = SeededGenerator(seed: g.next())
                let tail = try await readSource(source, partition: p, from: from, steps: { 1 + Int(sizes.next() % 17) }).rows
                #expect(tail[Int(o - from)] == all[Int(i)], "seed \(seed) \(stream) event \(i) from offset \(from)")
            }
            // Another generator of the same seed agrees; another seed does not.
            let twin = try GeneratorSource(generator: EoGenerator(stream: stream, seed: seed), partitions: 1, events: nil)
            let other = try GeneratorSource(generator: EoGenerator(stream: stream, seed: seed &+ 1), partitions: 1, events: nil)
            var twinReader = try await twin.reader(partition: 0, from: 0), otherReader = try await other.reader(partition: 0, from: 0)
            var a = Chunk(schema: twin.schema), b = Chunk(schema: other.schema)
            _ = try await twinReader.read(into: &a, max: Int(events))
            _ = try await otherReader.read(into: &b, max: Int(events))
            #expect((0..<Int(events)).map { a.fields($0) } == all.map { $0! }, "seed \(seed)")
            #expect((0..<Int(events)).map { b.fields($0) } != all.map { $0! }, "seed \(seed)")
        }
    }

    @Test func ordersFollowTheirRules() async throws {
        let seed = testSeed()
        let n = 40_000
        let source = try GeneratorSource(generator: EoGenerator(stream: .orders, seed: seed), partitions: 1, events: UInt64(n))
        var reader = try await source.reader(partition: 0, from: 0)
        var chunk = Chunk(schema: source.schema)
        #expect(try await reader.read(into: &chunk, max: n + 5) == .rows(n))
        #expect(try await reader.read(into: &chunk, max: 5) == .end)
        var perCategory: [String: Int] = [:]
        var amountSum: Int64 = 0
        for i in 0..<n {
            #expect(chunk.int(0, i) == Int64(i + 1), "seed \(seed)")
            let category = String(decoding: chunk.bytes(1, i), as: UTF8.self)
            #expect(Self.categories.contains(category), "seed \(seed): \(category)")
            perCategory[category, default: 0] += 1
            let amount = chunk.int(2, i)
            #expect(amount >= 100 && amount <= 99_999, "seed \(seed): amount \(amount) cents")
            amountSum += amount
            #expect(chunk.int(3, i) == Self.base + Int64(i) * 10_000, "seed \(seed)")
        }
        // Hash-picked: every category near 1/8 of the orders, the mean amount near 500.00.
        #expect(perCategory.count == 8, "seed \(seed)")
        for (c, k) in perCategory { #expect(abs(Double(k) / Double(n) - 0.125) < 0.01, "seed \(seed): \(c) \(k)") }
        #expect(abs(Double(amountSum) / Double(n) - 50_000) < 1_000, "seed \(seed)")
        // The text form: the decimal at scale 2 and the timestamp.
        #expect(chunk.fields(1)[3] == "2026-04-01 10:00:00.010000")
        #expect(chunk.fields(1)[2].split(separator: ".").last?.count == 2)
    }

    @Test func paymentsFollowTheirRules() async throws {
        let seed = testSeed()
        let n = 40_000
        let generator = EoGenerator(stream: .payments, seed: seed, interEventMicros: 250)
        let source = try GeneratorSource(generator: generator, partitions: 1, events: UInt64(n))
        var reader = try await source.reader(partition: 0, from: 0)
        var chunk = Chunk(schema: source.schema)
        #expect(try await reader.read(into: &chunk, max: n) == .rows(n))
        var perStatus: [String: Int] = [:]
        var back = Set<Int64>()
        for i in 0..<n {
            #expect(chunk.int(0, i) == Int64(i + 1), "seed \(seed)")
            let order = chunk.int(1, i)
            #expect(order <= Int64(i + 1) && order >= max(1, Int64(i + 1) - 49), "seed \(seed): payment \(i) for order \(order)")
            if i >= 49 { back.insert(Int64(i + 1) - order) }
            perStatus[String(decoding: chunk.bytes(2, i), as: UTF8.self), default: 0] += 1
            #expect(chunk.int(3, i) == Self.base + Int64(i) * 250 + 30_000_000, "seed \(seed)")
        }
        #expect(back == Set(0..<50), "seed \(seed): every lookback 0...49 occurs")
        #expect(Set(perStatus.keys) == ["confirmed", "pending", "failed"], "seed \(seed)")
        for (status, share) in [("confirmed", 0.7), ("pending", 0.2), ("failed", 0.1)] {
            #expect(abs(Double(perStatus[status] ?? 0) / Double(n) - share) < 0.015, "seed \(seed): \(status) \(perStatus[status] ?? 0)")
        }
    }

    @Test func csvLinesAreTheFieldsWrittenByCsvWriter() throws {
        let seed = testSeed()
        var g = SeededGenerator(seed: seed)
        for stream in EoStreams.Stream.allCases {
            for interval: Int64 in [0, 1, 10_000, 86_399_999_999, 1_000_000_000_000] {
                let generator = EoGenerator(stream: stream, seed: seed, interEventMicros: interval)
                var events: [UInt64] = [0, 1, 99, 100, 1000]
                for _ in 0..<200 { events.append(g.next() % 5_000_000) }
                for i in events {
                    var fast: [UInt8] = []
                    generator.appendCsvLine(i, to: &fast)
                    var w = CsvWriter()
                    w.row(generator.fields(i))
                    #expect(fast == w.bytes, "seed \(seed) \(stream) interval \(interval) event \(i): \(String(decoding: fast, as: UTF8.self))")
                }
            }
        }
    }

    @Test func rateLimitHoldsReadersBack() async throws {
        let source = try GeneratorSource(generator: EoGenerator(stream: .orders, seed: 1), partitions: 2, events: nil, eventsPerSecond: 2_000)
        #expect(try await source.endOffsets() == [.max, .max])
        var chunk = Chunk(schema: source.schema)
        let start = ContinuousClock.now
        func seconds() -> Double {
            let c = (ContinuousClock.now - start).components
            return Double(c.seconds) + Double(c.attoseconds) * 1e-18
        }
        // The reader counts from when it is made: between `start` and `made`.
        var reader = try await source.reader(partition: 1, from: 10)
        let made = seconds()
        var got = 0
        while seconds() < 0.2 {
            if case let .rows(n) = try await reader.read(into: &chunk, max: 10_000) { got += n } else { try await Task.sleep(for: .milliseconds(5)) }
        }
        // A last read takes all the rate allows by then: 1000 events/s for this partition
        // (a cap far above it, so that a test run that stalls this task stays within it).
        let before = seconds()
        if case let .rows(n) = try await reader.read(into: &chunk, max: 10_000_000) { got += n }
        let after = seconds()
        #expect(Double(got) <= after * 1000 + 1, "\(got) rows after \(after) s")
        #expect(Double(got) >= (before - made) * 1000 - 1, "\(got) rows after \(before) s")
        #expect(got > 0)
        #expect(chunk.int(0, 0) == 10 * 2 + 1 + 1, "offset 10 of partition 1 is event 21 (order id 22)")
    }

    @Test func generatedCsvLoadsIntoTheKnownTopicWithTheSameRows() async throws {
        let seed = testSeed()
        let log = PartitionedLog(store: MemoryObjectStore())
        for stream in EoStreams.Stream.allCases {
            let generator = EoGenerator(stream: stream, seed: seed)
            let n: UInt64 = 777
            try await CsvLoader.load(csv: generator.csv(events: 0..<n), file: "\(stream).csv", into: log, topic: stream.topic, partitions: 3)
            let fromLog = try await LogSource(log: log, topic: stream.topic, schema: stream.schema)
            let fromGenerator = try GeneratorSource(generator: generator, partitions: 2, events: n)
            var a: [[String]] = [], b: [[String]] = []
            for p in 0..<3 { a += try await readSource(fromLog, partition: p, steps: { 100 }).rows }
            for p in 0..<2 { b += try await readSource(fromGenerator, partition: p, steps: { 100 }).rows }
            #expect(a.count == Int(n) && a.sorted { $0[0].count != $1[0].count ? $0[0].count < $1[0].count : $0[0] < $1[0] }
                == b.sorted { $0[0].count != $1[0].count ? $0[0].count < $1[0].count : $0[0] < $1[0] }, "seed \(seed) \(stream)")
        }
    }

    /// With a disorder D, every event keeps its fields but its time, which moves
    /// earlier by 0 ... D (some events end up before earlier ones), the same from
    /// any offset; without one the streams are unchanged.
    @Test func disorderMovesTimesEarlierWithinItsBound() async throws {
        let seed = testSeed()
        let disorder: Int64 = 3_000_000
        for stream in EoStreams.Stream.allCases {
            let plain = EoGenerator(stream: stream, seed: seed), zero = EoGenerator(stream: stream, seed: seed, disorderMicros: 0)
            let moved = EoGenerator(stream: stream, seed: seed, disorderMicros: disorder)
            var outOfOrder = 0, lastTime = Int64.min
            for i in UInt64(0)..<2000 {
                let a = plain.fields(i), b = moved.fields(i)
                #expect(zero.fields(i) == a, "seed \(seed) \(stream) event \(i)")
                #expect(Array(a.dropLast()) == Array(b.dropLast()), "seed \(seed) \(stream) event \(i): only the time moves")
                let t0 = stream == .orders ? plain.order(i).eventTime : plain.payment(i).paidAt
                let t = stream == .orders ? moved.order(i).eventTime : moved.payment(i).paidAt
                #expect(t <= t0 && t0 - t <= disorder, "seed \(seed) \(stream) event \(i): \(t) for \(t0)")
                if t < lastTime { outOfOrder += 1 }
                lastTime = max(lastTime, t)
            }
            #expect(outOfOrder > 100, "seed \(seed) \(stream): \(outOfOrder) events before an earlier one")
            let source = try GeneratorSource(generator: moved, partitions: 3, events: 2000)
            for i: UInt64 in [0, 1, 17, 1999] {
                #expect(try await Self.single(source, i) == moved.fields(i), "seed \(seed) \(stream) event \(i)")
            }
        }
    }
}
