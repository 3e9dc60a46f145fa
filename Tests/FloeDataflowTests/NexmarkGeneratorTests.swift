import Floe
import Testing
@testable import FloeDataflow

/// `NexmarkGenerator`, `NexmarkEvents`, `NexmarkSource` and `NexmarkCsv`: the
/// reference Nexmark rules (docs/nexmark.md), restated here from the reference
/// rather than read back from the code. Every test draws its seed with
/// `testSeed()` (FLOE_TEST_SEED replays one) and names it on failure.
@Suite struct NexmarkGeneratorTests {
    /// 2026-04-01 10:00:00 UTC in microseconds (`date -u -d @1775037600`).
    static let base: Int64 = 1_775_037_600_000_000

    /// The reference's time of event i at its default 10,000 events/s: base +
    /// floor(i × 100 µs / 1000) ms, i.e. ten events per millisecond.
    static func time(_ i: UInt64) -> Int64 { base + Int64(i / 10) * 1000 }

    /// The stream of event i by the reference's 1 : 3 : 46 blocks of 50.
    static func stream(_ i: UInt64) -> NexmarkStreams.Stream {
        let r = i % 50
        return r == 0 ? .person : r <= 3 ? .auction : .bid
    }

    /// Events `0 ..< n`, each as its stream and its row's integer columns and text fields.
    struct Event {
        var stream: NexmarkStreams.Stream
        var ints: [Int64]
        var fields: [String]
    }

    static func events(_ generator: NexmarkGenerator, _ n: UInt64, text: Bool = true) -> [Event] {
        var rows = NexmarkStreams.Stream.allCases.map { NexmarkRow(stream: $0) }
        return (0..<n).map { i in
            let s = NexmarkEvents.stream(ofEvent: i)
            let k = NexmarkStreams.Stream.allCases.firstIndex(of: s)!
            generator.generate(event: i, into: &rows[k])
            return Event(stream: s, ints: (0..<s.schema.count).map { rows[k].int($0) }, fields: text ? rows[k].fields() : [])
        }
    }

    // MARK: Event numbers

    @Test func proportionsHoldOverEveryPrefix() throws {
        let seed = testSeed()
        var g = SeededGenerator(seed: seed)
        var counts: [NexmarkStreams.Stream: UInt64] = [:]
        for i in UInt64(0)..<5_000 {
            // The count of each stream among events 0 ..< i, by brute force.
            for s in NexmarkStreams.Stream.allCases {
                #expect(NexmarkEvents.count(of: s, events: i) == counts[s, default: 0], "\(s) among the first \(i)")
            }
            let s = NexmarkEvents.stream(ofEvent: i)
            #expect(s == Self.stream(i), "event \(i)")
            #expect(NexmarkEvents.event(counts[s, default: 0], of: s) == i, "the \(counts[s, default: 0])th \(s) is event \(i)")
            #expect(NexmarkEvents.index(ofEvent: i) == counts[s, default: 0], "event \(i)")
            counts[s, default: 0] += 1
        }
        #expect(counts == [.person: 100, .auction: 300, .bid: 4600])
        // Far out: the closed forms against the block rule.
        for _ in 0..<2_000 {
            let n = g.next() % 1_000_000_000_000
            let blocks = n / 50, rest = n % 50
            #expect(NexmarkEvents.count(of: .person, events: n) == blocks + min(rest, 1), "seed \(seed) n \(n)")
            #expect(NexmarkEvents.count(of: .auction, events: n) == blocks * 3 + min(max(rest, 1) - 1, 3), "seed \(seed) n \(n)")
            #expect(NexmarkEvents.count(of: .bid, events: n) == blocks * 46 + (rest > 4 ? rest - 4 : 0), "seed \(seed) n \(n)")
            let k = g.next() % 1_000_000_000
            #expect(NexmarkEvents.event(k, of: .person) == 50 * k, "seed \(seed) k \(k)")
            #expect(NexmarkEvents.event(k, of: .auction) == 50 * (k / 3) + 1 + k % 3, "seed \(seed) k \(k)")
            #expect(NexmarkEvents.event(k, of: .bid) == 50 * (k / 46) + 4 + k % 46, "seed \(seed) k \(k)")
        }
    }

    // MARK: Determinism

    @Test(arguments: [1, 3, 4])
    func eventsAreTheSameFromAnyPartitioningOffsetAndOrder(partitions: Int) async throws {
        let seed = testSeed()
        try await reportingSeed(seed) { try await checkDeterminism(partitions: partitions, seed: seed) }
    }

    private func checkDeterminism(partitions: Int, seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let generator = NexmarkGenerator(seed: seed)
        let events: UInt64 = 1_537  // a partial last block: 31 persons, 93 auctions, 1,413 bids
        for stream in NexmarkStreams.Stream.allCases {
            let source = try NexmarkSource(stream: stream, generator: generator, partitions: partitions, events: events)
            let n = Int(NexmarkEvents.count(of: stream, events: events))
            #expect(try await source.endOffsets().reduce(0, +) == UInt64(n), "seed \(seed) \(stream)")
            var all = [[String]?](repeating: nil, count: n)
            for p in 0..<partitions {
                var sizes = SeededGenerator(seed: g.next())
                let got = try await readSource(source, partition: p, steps: { 1 + Int(sizes.next() % 64) })
                #expect(got.last == .end, "seed \(seed)")
                for (o, row) in got.rows.enumerated() { all[o * partitions + p] = row }
            }
            #expect(all.allSatisfy { $0 != nil }, "seed \(seed) \(stream): every event in some partition")
            // Each one alone, in a random order, from a fresh generator of the same seed.
            let twin = NexmarkGenerator(seed: seed)
            for k in (0..<n).shuffled(using: &g).prefix(300) {
                #expect(twin.fields(ofEvent: NexmarkEvents.event(UInt64(k), of: stream)) == all[k], "seed \(seed) \(stream) \(k)")
            }
            // From a random offset, in random chunk sizes.
            for _ in 0..<20 {
                let k = Int(g.next() % UInt64(n)), p = k % partitions, o = UInt64(k / partitions)
                let from = g.next() % (o + 1)
                var sizes = SeededGenerator(seed: g.next())
                let tail = try await readSource(source, partition: p, from: from, steps: { 1 + Int(sizes.next() % 17) }).rows
                #expect(tail[Int(o - from)] == all[k], "seed \(seed) \(stream) \(k) from offset \(from)")
            }
            // Another seed: other rows (ids and times aside, nearly every row differs).
            let other = NexmarkGenerator(seed: seed &+ 1)
            let differing = (0..<n).filter { other.fields(ofEvent: NexmarkEvents.event(UInt64($0), of: stream)) != all[$0] }.count
            #expect(differing == n, "seed \(seed) \(stream): \(differing) of \(n) rows differ under seed + 1")
        }
    }

    // MARK: Ids, times, categories

    @Test func idsFollowTheReferenceRules() throws {
        let seed = testSeed()
        let n: UInt64 = 120_000
        var persons: Int64 = 0, auctions: Int64 = 0
        var categories = Set<Int64>()
        for (i, e) in Self.events(NexmarkGenerator(seed: seed), n, text: false).enumerated() {
            let i = UInt64(i)
            #expect(e.ints[e.stream == .auction ? 5 : e.stream == .person ? 6 : 5] == Self.time(i), "seed \(seed) event \(i)")
            // The people and auctions that exist once event i is made; the newest base-0 ids.
            let lastPerson = persons - 1 + (e.stream == .person ? 1 : 0)
            let lastAuction = auctions - 1 + (e.stream == .auction ? 1 : 0)
            // A drawn person is among the last min(people, 1000) or up to 10 past the newest.
            func personInRange(_ id: Int64) -> Bool {
                let people = lastPerson + 1
                return id >= 1000 + people - min(people, 1000) && id <= 1000 + lastPerson + 10
            }
            switch e.stream {
            case .person:
                #expect(e.ints[0] == 1000 + persons, "seed \(seed) event \(i): persons are consecutive from 1000")
                persons += 1
            case .auction:
                #expect(e.ints[0] == 1000 + auctions, "seed \(seed) event \(i): auctions are consecutive from 1000")
                auctions += 1
                #expect(personInRange(e.ints[7]), "seed \(seed) event \(i): seller \(e.ints[7]) with \(persons) persons")
                #expect((10...14).contains(e.ints[8]), "seed \(seed) event \(i): category \(e.ints[8])")
                categories.insert(e.ints[8])
            case .bid:
                let a = e.ints[0]
                #expect(a >= 1000 + max(lastAuction - 100, 0) && a <= 1000 + lastAuction + 10,
                        "seed \(seed) event \(i): auction \(a) with \(auctions) auctions")
                #expect(personInRange(e.ints[1]), "seed \(seed) event \(i): bidder \(e.ints[1]) with \(persons) persons")
            }
        }
        #expect(categories == Set(10...14), "seed \(seed)")
    }

    /// The share of hot auctions, sellers and bidders: the hot id with the
    /// reference's probability (1 - 1/ratio) plus the cold draw landing on it
    /// (1/ratio × 1/range size), summed over the events by the rule.
    @Test func hotRatiosAreTheReferenceOnes() throws {
        let seed = testSeed()
        let n: UInt64 = 100_000
        var hot = (auction: 0.0, bidder: 0.0, seller: 0.0), expected = (auction: 0.0, bidder: 0.0, seller: 0.0)
        var bids = 0.0, auctions = 0.0, hotChannels: [String: Double] = [:]
        for (i, e) in Self.events(NexmarkGenerator(seed: seed), n).enumerated() {
            let i = UInt64(i)
            let lastPerson = Int64(i / 50)  // person k is event 50 k
            let people = lastPerson + 1, active = min(people, 1000)
            let personRange = Double(active + 10)
            switch e.stream {
            case .person: continue
            case .auction:
                auctions += 1
                if e.ints[7] == 1000 + lastPerson / 100 * 100 { hot.seller += 1 }
                expected.seller += 3.0 / 4 + 1.0 / 4 / personRange
            case .bid:
                bids += 1
                let lastAuction = Int64(i / 50) * 3 + 2
                if e.ints[0] == 1000 + lastAuction / 100 * 100 { hot.auction += 1 }
                expected.auction += 1.0 / 2 + 1.0 / 2 / Double(lastAuction - max(lastAuction - 100, 0) + 11)
                if e.ints[1] == 1000 + lastPerson / 100 * 100 + 1 { hot.bidder += 1 }
                expected.bidder += 3.0 / 4 + 1.0 / 4 / personRange
                if ["Google", "Facebook", "Baidu", "Apple"].contains(e.fields[3]) { hotChannels[e.fields[3], default: 0] += 1 }
            }
        }
        // About 6 standard deviations of a binomial share over these counts.
        #expect(abs(hot.auction / bids - expected.auction / bids) < 0.01, "seed \(seed): \(hot.auction / bids) for \(expected.auction / bids)")
        #expect(abs(hot.bidder / bids - expected.bidder / bids) < 0.01, "seed \(seed): \(hot.bidder / bids) for \(expected.bidder / bids)")
        #expect(abs(hot.seller / auctions - expected.seller / auctions) < 0.035, "seed \(seed): \(hot.seller / auctions) for \(expected.seller / auctions)")
        // Hot channels: half the bids, an eighth each.
        #expect(abs(hotChannels.values.reduce(0, +) / bids - 0.5) < 0.01, "seed \(seed): \(hotChannels)")
        for (c, k) in hotChannels { #expect(abs(k / bids - 0.125) < 0.01, "seed \(seed): \(c) \(k)") }
        #expect(hotChannels.count == 4, "seed \(seed): \(hotChannels)")
    }

    // MARK: Values

    @Test func pricesExpiriesAndTextFollowTheReferenceShapes() throws {
        let seed = testSeed()
        let n: UInt64 = 60_000
        var prices: [Int64] = [], lengths: [Int64] = []
        var size: [NexmarkStreams.Stream: (total: Int, count: Int)] = [:]
        var channels = Set<String>(), urlsOfChannel: [String: String] = [:]
        let firstNames: Set<String> = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"]
        let lastNames: Set<String> = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"]
        let cities: Set<String> = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"]
        func isWord(_ s: Substring, _ letters: Set<Character>) -> Bool { s.allSatisfy { letters.contains($0) } }
        let lower = Set("abcdefghijklmnopqrstuvwxyz"), spaced = lower.union(" "), segment = lower.union("_")
        for (i, e) in Self.events(NexmarkGenerator(seed: seed), n).enumerated() {
            let i = UInt64(i)
            let f = e.fields
            switch e.stream {
            case .person:
                let name = f[1].split(separator: " ")
                #expect(name.count == 2 && firstNames.contains(String(name[0])) && lastNames.contains(String(name[1])), "seed \(seed): \(f[1])")
                let email = f[2].split(separator: "@", omittingEmptySubsequences: false)
                #expect(email.count == 2 && email[1].hasSuffix(".com") && email[0].count <= 6 && email[1].count <= 4 + 4
                        && isWord(email[0], spaced) && isWord(email[1].dropLast(4), spaced), "seed \(seed): \(f[2])")
                let card = f[3].split(separator: " ", omittingEmptySubsequences: false)
                #expect(card.count == 4 && card.allSatisfy { $0.count == 4 && $0.allSatisfy(\.isASCII) && Int($0) != nil }, "seed \(seed): \(f[3])")
                #expect(cities.contains(f[4]) && ["AZ", "CA", "ID", "OR", "WA", "WY"].contains(f[5]), "seed \(seed): \(f[4]), \(f[5])")
                #expect(isWord(f[7][...], lower), "seed \(seed)")
                size[.person, default: (0, 0)].total += 8 + f[1].utf8.count + f[2].utf8.count + f[3].utf8.count + f[4].utf8.count + f[5].utf8.count + f[7].utf8.count
                size[.person, default: (0, 0)].count += 1
            case .auction:
                let (initial, reserve) = (e.ints[3], e.ints[4])
                prices.append(initial)
                #expect((100...100_000_000).contains(initial) && (100...100_000_000).contains(reserve - initial), "seed \(seed): \(initial) \(reserve)")
                // Expiry: 1 ... 2h ms after, h the time from this event to 1666 events later.
                let h = (Self.time(i + 1666) - Self.time(i)) / 1000
                let length = e.ints[6] - e.ints[5]
                #expect(length % 1000 == 0 && length >= 1000 && length <= 2 * h * 1000, "seed \(seed) event \(i): \(length) µs, h \(h) ms")
                lengths.append(length / 1000)
                #expect(f[1].count <= 19 && f[2].count <= 99 && isWord(f[1][...], spaced) && isWord(f[2][...], spaced), "seed \(seed)")
                #expect(f[1].first != " " && f[1].last != " " && f[2].first != " " && f[2].last != " ", "seed \(seed): trimmed")
                size[.auction, default: (0, 0)].total += 8 + f[1].utf8.count + f[2].utf8.count + 40 + f[9].utf8.count
                size[.auction, default: (0, 0)].count += 1
            case .bid:
                prices.append(e.ints[2])
                #expect((100...100_000_000).contains(e.ints[2]), "seed \(seed): \(e.ints[2])")
                let (channel, url) = (f[3], f[4])
                channels.insert(channel)
                if let number = channel.split(separator: "-").last.flatMap({ Int($0) }), channel.hasPrefix("channel-") {
                    #expect((0..<10_000).contains(number), "seed \(seed): \(channel)")
                } else {
                    #expect(["Google", "Facebook", "Baidu", "Apple"].contains(channel), "seed \(seed): \(channel)")
                }
                // One URL per channel.
                #expect(urlsOfChannel[channel, default: url] == url, "seed \(seed): \(channel) has \(url) and \(urlsOfChannel[channel]!)")
                urlsOfChannel[channel] = url
                let parts = url.split(separator: "/", omittingEmptySubsequences: false)
                #expect(url.hasPrefix("https://www.nexmark.com/") && parts.count == 7
                        && parts[3...5].allSatisfy { (3...4).contains($0.count) && isWord($0, segment) }
                        && (parts[6] == "item.htm?query=1" || parts[6].hasPrefix("item.htm?query=1&channel_id=")), "seed \(seed): \(url)")
                #expect(isWord(f[6][...], lower) && (54...81).contains(f[6].count), "seed \(seed): extra of \(f[6].count)")
                size[.bid, default: (0, 0)].total += 32 + f[6].utf8.count
                size[.bid, default: (0, 0)].count += 1
            }
        }
        // Prices are 10^(6x) × 100 for a uniform x: about a sixth in each decade from 1.00 to 1,000,000.00.
        for decade in 1...5 {
            let below = Double(prices.filter { $0 < Int64(100 * pow10(decade)) }.count) / Double(prices.count)
            #expect(abs(below - Double(decade) / 6) < 0.01, "seed \(seed): \(below) of prices below 10^\(decade + 2) cents")
        }
        // Auction lengths are uniform in 1 ... 2h ms (h 166 or 167): mean about h.
        let meanLength = Double(lengths.reduce(0, +)) / Double(lengths.count)
        #expect(abs(meanLength - 167) < 6, "seed \(seed): mean auction length \(meanLength) ms")
        // Channels: the four hot ones and thousands of numbered ones; some numbered ones carry a channel id.
        #expect(channels.count > 5_000, "seed \(seed): \(channels.count) channels")
        let withId = urlsOfChannel.filter { $0.key.hasPrefix("channel-") && $0.value.contains("&channel_id=") }.count
        let numbered = urlsOfChannel.keys.filter { $0.hasPrefix("channel-") }.count
        #expect(abs(Double(withId) / Double(numbered) - 0.9) < 0.02, "seed \(seed): \(withId) of \(numbered) channels have an id")
        // Average sizes as the reference counts them.
        for (stream, average) in [(NexmarkStreams.Stream.person, 200.0), (.auction, 500), (.bid, 100)] {
            let s = size[stream]!
            #expect(abs(Double(s.total) / Double(s.count) - average) < average * 0.02, "seed \(seed) \(stream): \(Double(s.total) / Double(s.count))")
        }
    }

    private func pow10(_ k: Int) -> Int64 { (0..<k).reduce(1) { acc, _ in acc * 10 } }

    @Test func channelIdsAreTheReversedBitsOfTheChannel() {
        // Integer.reverse: bit 0 to bit 31 and so on.
        #expect(NexmarkGenerator.reversed(1) == 0x8000_0000)
        #expect(NexmarkGenerator.reversed(6) == 0x6000_0000)
        #expect(NexmarkGenerator.reversed(0x0000_00F1) == 0x8F00_0000)
        #expect(NexmarkGenerator.reversed(0) == 0)
        // A channel's id, when its URL has one: |bits of n reversed, read as a signed 32-bit integer|.
        let seed = testSeed()
        let generator = NexmarkGenerator(seed: seed)
        var withId = 0
        for n in UInt64(0)..<10_000 {
            var url: [UInt8] = []
            generator.appendChannelUrl(n, to: &url)
            let text = String(decoding: url, as: UTF8.self)
            guard let at = text.range(of: "&channel_id=") else { continue }
            withId += 1
            var reversed: UInt32 = 0
            for bit in 0..<32 where n >> bit & 1 == 1 { reversed |= 1 << (31 - UInt32(bit)) }
            #expect(text[at.upperBound...] == String(Int64(Int32(bitPattern: reversed)).magnitude), "seed \(seed) channel \(n): \(text)")
        }
        #expect(abs(withId - 9_000) < 200, "seed \(seed): \(withId) of 10,000 channels have an id")
    }

    // MARK: CSV

    @Test func csvLinesAreTheFieldsWrittenByCsvWriter() {
        let seed = testSeed()
        var g = SeededGenerator(seed: seed)
        for interval: Int64 in [0, 1, 100, 86_399_999] {
            let generator = NexmarkGenerator(config: NexmarkConfig(seed: seed, interEventMicros: interval))
            var events: [UInt64] = Array(0..<60)
            for _ in 0..<300 { events.append(g.next() % 50_000_000) }
            for i in events {
                var row = NexmarkRow(stream: NexmarkEvents.stream(ofEvent: i))
                generator.generate(event: i, into: &row)
                var fast = CsvWriter(), slow = CsvWriter()
                row.appendCsv(to: &fast)
                slow.row(generator.fields(ofEvent: i))
                #expect(fast.bytes == slow.bytes, "seed \(seed) interval \(interval) event \(i): \(String(decoding: fast.bytes, as: UTF8.self))")
            }
        }
    }

    @Test func generatedCsvLoadsIntoTheNexmarkTopicsWithTheSourceRows() async throws {
        let seed = testSeed()
        try await reportingSeed(seed) {
            let temp = try LogTempDirectory()
            defer { temp.remove() }
            let dir = temp.path
            let log = PartitionedLog(store: MemoryObjectStore())
            let generator = NexmarkGenerator(seed: seed)
            let events: UInt64 = 2_345
            for stream in NexmarkStreams.Stream.allCases {
                let path = dir + "/" + stream.topic + ".csv"
                let rows = try NexmarkCsv.write(stream, generator: generator, events: events, to: path)
                #expect(rows == NexmarkEvents.count(of: stream, events: events))
                #expect(try LocalFile.read(path) == NexmarkCsv.text(stream, generator: generator, events: events), "seed \(seed) \(stream)")
                // No schema given: the topic's name finds the Nexmark schema.
                try await CsvLoader.load(file: path, into: log, topic: stream.topic, partitions: 3)
                let fromLog = try await LogSource(log: log, topic: stream.topic, schema: stream.schema)
                let fromGenerator = try NexmarkSource(stream: stream, generator: generator, partitions: 2, events: events)
                var a: [[String]] = [], b: [[String]] = []
                for p in 0..<3 { a += try await readSource(fromLog, partition: p, steps: { 100 }).rows }
                for p in 0..<2 { b += try await readSource(fromGenerator, partition: p, steps: { 100 }).rows }
                #expect(a.count == Int(rows), "seed \(seed) \(stream)")
                #expect(a.sorted { $0.lexicographicallyPrecedes($1) } == b.sorted { $0.lexicographicallyPrecedes($1) }, "seed \(seed) \(stream)")
            }
            // The schema is checked: a bid whose price is not an integer is refused at its line.
            let bad = Array("auction,bidder,price,channel,url,date_time,extra\n1000,1001,12.5,Google,u,2026-04-01 10:00:00,x\n".utf8)
            await #expect(throws: DataflowError.malformedValue(location: "bad.csv:2", column: "price", type: "int64", text: "12.5")) {
                try await CsvLoader.load(csv: bad, file: "bad.csv", into: log, topic: "bid", partitions: 3)
            }
            #expect(CsvLoader.knownSchema(forTopic: "auction") == NexmarkStreams.auctionSchema)
            #expect(CsvLoader.knownSchema(forTopic: "orders") == EoStreams.ordersSchema)
            #expect(CsvLoader.knownSchema(forTopic: "bids") == nil)
        }
    }

    // MARK: Source

    @Test func sourceRefusesBadArgumentsAndLimitsItsRate() async throws {
        let generator = NexmarkGenerator(seed: 3)
        #expect(throws: DataflowError.self) { try NexmarkSource(stream: .bid, generator: generator, partitions: 0, events: 10) }
        #expect(throws: DataflowError.self) { try NexmarkSource(stream: .bid, generator: generator, partitions: 1, events: 10, eventsPerSecond: -1) }
        let finite = try NexmarkSource(stream: .auction, generator: generator, partitions: 2, events: 100)
        #expect(try await finite.endOffsets() == [3, 3])
        await #expect(throws: DataflowError.self) { _ = try await finite.reader(partition: 0, from: 4) }
        await #expect(throws: DataflowError.self) { _ = try await finite.reader(partition: 2, from: 0) }
        #expect(finite.name == "nexmark_auction")

        // 5,000 events/s overall: the person stream's share is 100/s, so nothing at first.
        let limited = try NexmarkSource(stream: .person, generator: generator, partitions: 1, events: nil, eventsPerSecond: 5_000)
        #expect(try await limited.endOffsets() == [.max])
        let start = ContinuousClock.now
        func seconds() -> Double {
            let c = (ContinuousClock.now - start).components
            return Double(c.seconds) + Double(c.attoseconds) * 1e-18
        }
        // The reader counts from when it is made: between `start` and `made`.
        var reader = try await limited.reader(partition: 0, from: 0)
        let made = seconds()
        var chunk = Chunk(schema: limited.schema)
        // Nothing in the first 10 ms (100 persons/s).
        let first = try await reader.read(into: &chunk, max: 1_000)
        if seconds() < 0.01 { #expect(first == .caughtUp) }
        try await Task.sleep(for: .milliseconds(120))
        // A cap far above the rate, so that a stalled test run cannot hide an excess.
        let before = seconds()
        let r = try await reader.read(into: &chunk, max: 10_000_000)
        let after = seconds()
        guard case .rows = r else { Issue.record("\(r) after \(after) s"); return }
        let got = chunk.count
        #expect(Double(got) <= after * 100 + 1 && Double(got) >= (before - made) * 100 - 1, "\(got) persons after \(before) ... \(after) s")
        #expect(chunk.int(0, 0) == 1000)
    }
}
