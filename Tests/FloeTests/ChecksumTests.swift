import Testing
@testable import Floe

@Suite struct ByteCodingTests {
    @Test func varintRoundTripsAndRejectsTruncation() throws {
        var w = ByteWriter()
        let values: [UInt64] = [0, 1, 127, 128, 300, 1 << 35, UInt64.max]
        for v in values { w.varint(v) }
        var r = ByteReader(w.bytes, object: "t")
        for v in values { #expect(try r.varint() == v) }
        #expect(r.isAtEnd)
        var t = ByteReader(Array(w.bytes.dropLast()), object: "t")
        for _ in 0..<(values.count - 1) { _ = try t.varint() }
        #expect(throws: FloeError.self) { _ = try t.varint() }
    }

    @Test func compressionRoundTrips() throws {
        var input = [UInt8]()
        for i in 0..<10_000 { input.append(UInt8(truncatingIfNeeded: i % 97)) }
        for c in Compression.allCases {
            let packed = c.compress(input)
            if c != .none { #expect(packed.count < input.count / 4) }
            let out = try c.decompress(packed, range: 0..<packed.count, object: "o", offset: 0)
            #expect(out == input)
        }
    }

    @Test func corruptCompressedBlockIsTypedError() {
        var input = [UInt8]()
        for i in 0..<4096 { input.append(UInt8(truncatingIfNeeded: i &* 31)) }
        for c in [Compression.lz4, .zstd] {
            var packed = c.compress(input)
            packed.removeLast(packed.count / 2)
            #expect(throws: FloeError.self) {
                _ = try c.decompress(packed, range: 0..<packed.count, object: "o", offset: 0)
            }
        }
    }

    @Test func xxh3MatchesKnownVector() {
        // Published XXH3-64 value of the empty input with seed 0.
        #expect(Checksum.xxh3([UInt8]()) == 0x2D06800538D394C2)
    }
}
