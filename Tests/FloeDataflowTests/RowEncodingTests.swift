import Testing
@testable import FloeDataflow

@Suite struct RowEncodingTests {
    @Test func memcomparableOrderMatchesValueOrder() {
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var g = SeededGenerator(seed: seed)
        for _ in 0..<2000 {
            let a = Int64(bitPattern: g.next()) >> Int64(g.next() % 64)
            let b = Int64(bitPattern: g.next()) >> Int64(g.next() % 64)
            var ea: [UInt8] = [], eb: [UInt8] = []
            KeyEncoding.appendInt64(&ea, a)
            KeyEncoding.appendInt64(&eb, b)
            #expect((a < b) == ea.lexicographicallyPrecedes(eb), "seed \(seed): \(a) vs \(b)")
            var at = 0
            #expect(KeyEncoding.readInt64(ea, &at) == a)
        }
        for _ in 0..<2000 {
            let a = (0..<Int(g.next() % 5)).map { _ in UInt8([0, 1, 0xFF, 7][Int(g.next() % 4)]) }
            let b = (0..<Int(g.next() % 5)).map { _ in UInt8([0, 1, 0xFF, 7][Int(g.next() % 4)]) }
            var ea: [UInt8] = [], eb: [UInt8] = []
            KeyEncoding.appendBytes(&ea, a)
            KeyEncoding.appendBytes(&eb, b)
            #expect(a.lexicographicallyPrecedes(b) == ea.lexicographicallyPrecedes(eb), "seed \(seed): \(a) vs \(b)")
            // A tuple's order is its first field's order, then the next's.
            var ta = ea, tb = eb
            KeyEncoding.appendInt64(&ta, 5)
            KeyEncoding.appendInt64(&tb, 3)
            if a != b { #expect(a.lexicographicallyPrecedes(b) == ta.lexicographicallyPrecedes(tb), "seed \(seed)") }
            var at = 0
            #expect(KeyEncoding.readBytes(ea, &at) == a && at == ea.count)
            // The slice fast path (a chunk's string column) writes the same bytes.
            var fromSlice: [UInt8] = []
            KeyEncoding.appendBytes(&fromSlice, a[...])
            #expect(fromSlice == ea, "seed \(seed): \(a)")
        }
    }

    @Test func decimalsAndTimestampsRoundTrip() {
        #expect(ValueText.parse("299.99", .decimal(scale: 2)) == 29999)
        #expect(ValueText.parse("-0.5", .decimal(scale: 2)) == -50)
        #expect(ValueText.parse("7", .decimal(scale: 2)) == 700)
        #expect(ValueText.parse("1.234", .decimal(scale: 2)) == nil)
        #expect(ValueText.parse("1.2.3", .decimal(scale: 2)) == nil)
        #expect(ValueText.parse("", .decimal(scale: 2)) == nil)
        // The extremes, which format as these texts, parse back (Int64.min's
        // magnitude does not fit an Int64: the digits are accumulated with the sign).
        #expect(ValueText.parse("-92233720368547758.08", .decimal(scale: 2)) == Int64.min)
        #expect(ValueText.parse("92233720368547758.07", .decimal(scale: 2)) == Int64.max)
        #expect(ValueText.parse("92233720368547758.08", .decimal(scale: 2)) == nil)
        #expect(ValueText.parse("-9223372036854775808", .decimal(scale: 0)) == Int64.min)
        #expect(ValueText.parse("-92233720368547758.09", .decimal(scale: 2)) == nil)
        #expect(ValueText.formatDecimal(Int64(-50), scale: 2) == "-0.50")
        #expect(ValueText.formatDecimal(Int128(316_163_333), scale: 6) == "316.163333")
        // 2026-04-01 10:00:00 UTC is 1775037600 seconds after 1970 (date -d @1775037600 -u).
        #expect(ValueText.parse("2026-04-01 10:00:00", .timestamp) == 1_775_037_600_000_000)
        #expect(ValueText.formatTimestamp(1_775_037_600_000_000) == "2026-04-01 10:00:00")
        #expect(ValueText.parse("2026-02-29 10:00:00", .timestamp) == nil)
        #expect(ValueText.parse("2024-02-29 23:59:59.5", .timestamp).map(ValueText.formatTimestamp) == "2024-02-29 23:59:59.500000")
        #expect(ValueText.formatTimestamp(-1) == "1969-12-31 23:59:59.999999")
        var g = SeededGenerator(seed: 42)
        for _ in 0..<5000 {
            let t = Int64(bitPattern: g.next() % (400 * 366 * 86_400 * 1_000_000)) - 200 * 366 * 86_400 * 1_000_000
            #expect(ValueText.parse(ValueText.formatTimestamp(t), .timestamp) == t)
            let d = Int64(bitPattern: g.next()) >> 20
            #expect(ValueText.parse(ValueText.formatDecimal(d, scale: 3), .decimal(scale: 3)) == d)
        }
    }

    @Test func rowCodecRoundTripsAndRefusesCutValues() throws {
        let types: [ColumnType] = [.int64, .bytes, .decimal(scale: 2)]
        var c = Chunk(types: types)
        c.appendOp(.insert); c.appendInt(0, -7); c.appendBytes(1, Array("héllo".utf8)); c.appendInt(2, 12345)
        var v: [UInt8] = []
        RowCodec.append(&v, c, row: 0, columns: [0, 1, 2])
        var d = Chunk(types: types)
        try v.withUnsafeBytes { try RowCodec.decode($0, types: types, into: &d, columns: [0, 1, 2], op: .delete) }
        #expect(d.fields(0) == ["-7", "héllo", "123.45"] && d.ops == [.delete])
        for cut in 0..<v.count {
            #expect(throws: DataflowError.self) {
                try v[0..<cut].withUnsafeBytes { try RowCodec.decode($0, types: types, into: &d, columns: [0, 1, 2], op: .insert) }
            }
        }
        #expect(d.count == 1 && d.isWellFormed)
    }

    @Test func virtualNodeRangesPartitionEveryNode() {
        for p in 1...17 {
            var seen = Set<Int>()
            for i in 0..<p {
                for v in VirtualNodes.owned(by: i, parallelism: p) {
                    #expect(VirtualNodes.owner(UInt16(v), parallelism: p) == i)
                    seen.insert(v)
                }
            }
            #expect(seen.count == VirtualNodes.count)
        }
    }
}

/// SplitMix64: a small seeded generator for tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
