import Testing
@testable import Floe

private func le64(_ v: UInt64, prefix: UInt8) -> [UInt8] {
    var b: [UInt8] = [prefix]
    withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) }
    return b
}

private func isCorruption(_ error: any Error, object: String) -> Bool {
    if case let .corruption(o, _, _)? = error as? FloeError { return o == object }
    return false
}

@Suite struct BloomFilterTests {
    static let present = TableID(1)

    /// Hashes of the keys put into filters: table 1, key bytes `0x01 ++ le64(i)`.
    static func insertedHashes(_ n: Int) -> [UInt64] {
        (0..<n).map { KeyHash.of(table: present, key: le64(UInt64($0), prefix: 0x01)) }
    }

    @Test func hashCountFollowsBitsPerKey() {
        #expect(BloomFilter.hashCount(bitsPerKey: 10) == 7)
        #expect(BloomFilter.hashCount(bitsPerKey: 0) == 1)
        #expect(BloomFilter.hashCount(bitsPerKey: 1) == 1)
        #expect(BloomFilter.hashCount(bitsPerKey: 100) == 30)
        let f = BloomFilter.build(hashes: Self.insertedHashes(33), bitsPerKey: 10, layout: .standard)
        #expect(f.bitCount == 336)  // 330 rounded up to a multiple of 8
        #expect(BloomFilter.build(hashes: Self.insertedHashes(3), bitsPerKey: 10, layout: .standard).bitCount == 64)
        // Blocked: whole 512-bit blocks, at least one.
        #expect(BloomFilter.build(hashes: Self.insertedHashes(33), bitsPerKey: 10).bitCount == 512)
        #expect(BloomFilter.build(hashes: Self.insertedHashes(52), bitsPerKey: 10).bitCount == 1024)
        #expect(BloomFilter.build(hashes: [], bitsPerKey: 10).bitCount == 512)
        #expect(BloomFilter.build(hashes: Self.insertedHashes(1000), bitsPerKey: 10).blocked)
    }

    @Test func blockedProbesOfOneKeyStayInOneCacheLine() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2000 {
            let f = BloomFilter.build(hashes: [rng.next()], bitsPerKey: 4096, layout: .blocked)  // 8 blocks, k = 30
            #expect(f.bitCount == 4096)
            let touched = Set(f.bits.indices.filter { f.bits[$0] != 0 }.map { $0 / 64 })
            #expect(touched.count == 1, "bits set in blocks \(touched)")
            // k probes over 512 bits: several distinct bits, not one repeated.
            let set = f.bits.reduce(0) { $0 + $1.nonzeroBitCount }
            #expect(set >= 20, "only \(set) bits set by 30 probes")
        }
    }

    @Test func noFalseNegatives() {
        let hashes = Self.insertedHashes(100_000)
        for blocked in [true, false] {
            for bitsPerKey in [1, 10] {
                let f = BloomFilter.build(hashes: hashes, bitsPerKey: bitsPerKey, layout: blocked ? .blocked : .standard)
                var missing = 0
                for h in hashes where !f.mayContain(h) { missing += 1 }
                #expect(missing == 0, "bitsPerKey \(bitsPerKey) blocked \(blocked)")
            }
        }
    }

    @Test func falsePositiveRateAtTenBitsPerKey() {
        // Theory: standard (1 - e^(-0.7))^7 = 0.82%; blocked a little higher, as keys
        // spread unevenly over the 512-bit blocks.
        for (blocked, bound) in [(false, 0.012), (true, 0.0135)] {
            let f = BloomFilter.build(hashes: Self.insertedHashes(100_000), bitsPerKey: 10, layout: blocked ? .blocked : .standard)
            var positives = 0
            let probes = 1_000_000
            for i in 0..<probes / 2 {
                // The inserted key bytes under another table...
                if f.mayContain(KeyHash.of(table: TableID(2), key: le64(UInt64(i), prefix: 0x01))) { positives += 1 }
                // ...and other key bytes under the inserted table.
                if f.mayContain(KeyHash.of(table: Self.present, key: le64(UInt64(i), prefix: 0x02))) { positives += 1 }
            }
            let rate = Double(positives) / Double(probes)
            print("bloom filter false-positive rate at 10 bits/key, k=\(f.hashCount), blocked \(blocked): \(positives)/\(probes) = \((rate * 10_000).rounded() / 100)%")
            #expect(rate <= bound, "measured false-positive rate \(rate), blocked \(blocked)")
            #expect(rate >= 0.004, "a rate of \(rate) is implausibly low for 10 bits per key")
        }
    }

    @Test func emptyFilterAnswersFalse() throws {
        for blocked in [true, false] {
            let f = BloomFilter.build(hashes: [], bitsPerKey: 10, layout: blocked ? .blocked : .standard)
            #expect(f.bitCount == (blocked ? 512 : 64))
            var w = ByteWriter()
            f.encode(into: &w)
            let g = try BloomFilter.decode(w.bytes, range: 0..<w.count, object: "e", baseOffset: 0)
            #expect(g == f)
            var rng = SplitMix64(seed: 1)
            for _ in 0..<10_000 {
                let h = rng.next()
                #expect(!f.mayContain(h))
                #expect(!g.mayContain(h))
            }
        }
    }

    /// Files written before the blocked layout keep working: each layout decodes to itself.
    @Test func encodeDecodeRoundTripPreservesAnswers() throws {
        for blocked in [true, false] {
            let f = BloomFilter.build(hashes: Self.insertedHashes(1000), bitsPerKey: 10, layout: blocked ? .blocked : .standard)
            var w = ByteWriter()
            w.raw([0xAA, 0xBB, 0xCC])  // the filter sits inside a larger object
            f.encode(into: &w)
            #expect(w.count == 3 + f.encodedSize)
            #expect(w.bytes[3] == (blocked ? 0x87 : 0x07))
            w.raw([0xDD])
            let g = try BloomFilter.decode(w.bytes, range: 3..<(w.count - 1), object: "x.sst", baseOffset: 1003)
            #expect(g == f)
            #expect(g.blocked == blocked)
            var rng = SplitMix64(seed: 99)
            for _ in 0..<20_000 {
                let h = rng.next()
                #expect(f.mayContain(h) == g.mayContain(h))
            }
            for h in Self.insertedHashes(1000) { #expect(g.mayContain(h)) }
        }
    }

    @Test func corruptHeaderOrTruncationIsDetected() throws {
        let f = BloomFilter.build(hashes: Self.insertedHashes(20), bitsPerKey: 10, layout: .blocked)
        var w = ByteWriter()
        f.encode(into: &w)
        let good = w.bytes
        let base = 500
        #expect(good.count == 5 + 64)

        // Every truncation throws a corruption error naming the object.
        for length in 0..<good.count {
            do {
                _ = try BloomFilter.decode(good, range: 0..<length, object: "t.sst", baseOffset: base)
                Issue.record("truncation to \(length) bytes decoded")
            } catch {
                #expect(isCorruption(error, object: "t.sst"), "length \(length): \(error)")
            }
        }
        // So does a trailing extra byte.
        #expect(throws: FloeError.self) {
            _ = try BloomFilter.decode(good + [0], range: 0..<(good.count + 1), object: "t.sst", baseOffset: base)
        }

        // Every single-byte change: a header change that breaks the structure throws
        // with the field's offset; a change inside the bit array decodes (the
        // enclosing block checksum catches it) and still answers without crashing.
        var rng = SplitMix64(seed: 7)
        for position in 0..<good.count {
            for mask in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF] as [UInt8] {
                var bad = good
                bad[position] ^= mask
                let flippedK = Int(bad[0] & 0x7F)  // either layout
                do {
                    let g = try BloomFilter.decode(bad, range: 0..<bad.count, object: "t.sst", baseOffset: base)
                    #expect(position >= 5 || (position == 0 && (1...30).contains(flippedK)), "position \(position) mask \(mask) decoded")
                    for _ in 0..<64 { _ = g.mayContain(rng.next()) }
                } catch let FloeError.corruption(object, offset, _) {
                    #expect(position < 5, "position \(position) mask \(mask) rejected")
                    #expect(object == "t.sst")
                    // Byte 0: the flags or k (a set partitioned flag makes byte 5 the shift); 1 to 4: the bit count.
                    #expect(position == 0 ? [base, base + 1, base + 5].contains(offset) : offset == base + 1, "position \(position)")
                } catch {
                    Issue.record("unexpected error \(error)")
                }
            }
        }
    }

    @Test func rangeOutsideTheBytesIsCorruption() {
        #expect(throws: FloeError.self) {
            _ = try BloomFilter.decode([1, 64, 0, 0, 0], range: 0..<13, object: "t", baseOffset: 0)
        }
    }

    /// The partitioned layout is the blocked one with a checksum after every
    /// `2^shift` blocks: same block choice, same bits, same answers.
    @Test func partitionedAnswersLikeBlockedForAnySeed() throws {
        for seed: UInt64 in [1, 2, 3, 4] {
            var rng = SplitMix64(seed: seed)
            let n = 1 + Int(rng.next() % 40_000)
            let shift = Int(rng.next() % 8)
            let hashes = (0..<n).map { _ in rng.next() }
            let blocked = BloomFilter.build(hashes: hashes, bitsPerKey: 10, layout: .blocked)
            let parted = BloomFilter.build(hashes: hashes, bitsPerKey: 10, layout: .partitioned(shift: shift))
            #expect(parted.bitCount == blocked.bitCount, "seed \(seed)")
            let blocks = blocked.bitCount / 512
            let partitions = (blocks + (1 << shift) - 1) >> shift
            #expect(parted.bits.count == blocked.bits.count + 8 * partitions, "seed \(seed)")
            // Stripping the checksums gives the blocked bit array.
            var stripped: [UInt8] = []
            for p in 0..<partitions {
                let r = BloomFilter.partitionRange(p, blocks: blocks, shift: shift)
                stripped += parted.bits[r.lowerBound..<(r.upperBound - 8)]
            }
            #expect(stripped == blocked.bits, "seed \(seed) shift \(shift)")
            for h in hashes { #expect(parted.mayContain(h), "seed \(seed): false negative") }
            for _ in 0..<20_000 {
                let h = rng.next()
                #expect(parted.mayContain(h) == blocked.mayContain(h), "seed \(seed) hash \(h)")
            }
            var w = ByteWriter()
            parted.encode(into: &w)
            #expect(w.bytes[0] == 0xC7 && w.bytes[5] == UInt8(shift), "seed \(seed)")
            let back = try BloomFilter.decode(w.bytes, range: 0..<w.count, object: "p.sst", baseOffset: 0)
            #expect(back == parted, "seed \(seed)")
            let whole = try BloomFilter.decode(whole: w.bytes, object: "p.sst", baseOffset: 0)
            #expect(whole == parted, "seed \(seed)")
        }
    }

    /// A partition answers alone: its checksum is verified against the header that
    /// located it, and its block probes exactly like the whole filter.
    @Test func onePartitionAnswersLikeTheWholeFilter() throws {
        let hashes = Self.insertedHashes(30_000)
        let f = BloomFilter.build(hashes: hashes, bitsPerKey: 10)
        guard case let .partitioned(shift) = f.layout else { Issue.record("default layout \(f.layout)"); return }
        var w = ByteWriter()
        f.encode(into: &w)
        let head = Array(w.bytes[0..<6])
        let seed = Checksum.xxh3(head)
        #expect(seed == BloomFilter.headerSeed(hashCount: f.hashCount, bitCount: f.bitCount, shift: shift))
        let blocks = f.bitCount / 512
        var rng = SplitMix64(seed: 11)
        for i in 0..<4_000 {
            let h = i % 2 == 0 ? hashes[Int(rng.next() % UInt64(hashes.count))] : rng.next()
            let blk = BloomFilter.block(of: h, blocks: blocks)
            let p = blk >> shift
            let r = BloomFilter.partitionRange(p, blocks: blocks, shift: shift)
            let part = Array(f.bits[r])
            try part.withUnsafeBytes { raw in
                try BloomFilter.checkPartition(raw, index: p, seed: seed, object: "p.sst", offset: 0)
                let alone = BloomFilter.probeBlock(raw, at: (blk - p << shift) * 64, hash: h, k: f.hashCount)
                #expect(alone == f.mayContain(h), "hash \(h)")
            }
            // The same bytes under another index or header do not verify.
            part.withUnsafeBytes { raw in
                #expect(throws: FloeError.self) { try BloomFilter.checkPartition(raw, index: p + 1, seed: seed, object: "p.sst", offset: 0) }
                #expect(throws: FloeError.self) { try BloomFilter.checkPartition(raw, index: p, seed: seed ^ 1, object: "p.sst", offset: 0) }
            }
        }
    }

    /// Any flipped byte of a partitioned filter is refused when it is decoded whole,
    /// naming the object and a byte of the header or of the partition it hit.
    @Test func partitionedFilterRefusesEveryFlippedByte() throws {
        let f = BloomFilter.build(hashes: Self.insertedHashes(200), bitsPerKey: 10, layout: .partitioned(shift: 1))
        var w = ByteWriter()
        f.encode(into: &w)
        let good = w.bytes
        let base = 1_000
        let blocks = f.bitCount / 512
        var rng = SplitMix64(seed: 5)
        for position in 0..<good.count {
            var bad = good
            bad[position] ^= UInt8(1 + rng.next() % 255)
            do {
                _ = try BloomFilter.decode(bad, range: 0..<bad.count, object: "f.sst", baseOffset: base)
                Issue.record("a flipped byte at \(position) decoded")
            } catch let FloeError.corruption(object, offset, _) {
                #expect(object == "f.sst")
                if position >= 6 {
                    // In the array: the error names the checksum of the partition holding the byte.
                    let p = (0..<((blocks + 1) >> 1)).first { BloomFilter.partitionRange($0, blocks: blocks, shift: 1).contains(position - 6) }!
                    #expect(offset == base + 6 + BloomFilter.partitionRange(p, blocks: blocks, shift: 1).upperBound - 8, "position \(position)")
                } else {
                    #expect(offset < base + 6 + 64 * 2 + 8, "position \(position) reported at \(offset)")
                }
            }
        }
        // Partitioned without the blocked flag, and a shift above 16, are refused by the header.
        for (position, value) in [(0, UInt8(0x47)), (5, UInt8(17))] {
            var bad = good
            bad[position] = value
            #expect(throws: FloeError.self) { _ = try BloomFilter.Header.parse(bad, range: 0..<bad.count, object: "f.sst", baseOffset: 0) }
        }
    }

    @Test func keyHashDependsOnTable() {
        let key: [UInt8] = Array("user-key".utf8)
        var seen = Set<UInt64>()
        for t in 0..<1000 as Range<UInt32> {
            seen.insert(KeyHash.of(table: TableID(t), key: key))
        }
        #expect(seen.count == 1000)
        let viaPointer = key.withUnsafeBytes { KeyHash.of(table: TableID(3), key: $0) }
        #expect(viaPointer == KeyHash.of(table: TableID(3), key: key))
        #expect(KeyHash.of(table: TableID(3), key: key[...]) == viaPointer)
        // The empty key hashes too, and differently per table.
        #expect(KeyHash.of(table: TableID(1), key: []) != KeyHash.of(table: TableID(2), key: []))
    }
}
