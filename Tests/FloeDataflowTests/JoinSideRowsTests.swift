import Testing
@testable import FloeDataflow

/// `JoinSideRows` against a dictionary model: random appends and removes by primary
/// key, with the row count crossing the index threshold up and down, so both the
/// linear search and the index answer, and the index stays right across the swaps
/// that removal does.
@Suite struct JoinSideRowsTests {
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func matchesAModelAcrossTheIndexThreshold(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var rows = JoinSideRows()
        var model: [[UInt8]: [UInt8]] = [:]
        var next: UInt32 = 0
        for step in 0..<4000 {
            // Phases of growth and shrinkage around the threshold (16): up to ~60 rows, down to 0.
            let growing = (step / 400) % 2 == 0
            if model.isEmpty || (g.next() % 10 < (growing ? 7 : 3) && model.count < 60) {
                next += 1
                let pk = withUnsafeBytes(of: next.bigEndian) { Array($0) } + [UInt8](repeating: 7, count: Int(g.next() % 3))
                let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: next), count: Int(g.next() % 5))
                rows.append(.init(pk: pk, bytes: bytes))
                model[pk] = bytes
            } else if g.next() % 8 == 0 {
                // A key the side does not hold: refused, nothing changes.
                let removed = rows.remove(pk: [0xFF, 0xFF])
                #expect(!removed, "seed \(seed) step \(step)")
            } else {
                let keys = model.keys.sorted { $0.lexicographicallyPrecedes($1) }
                let pk = keys[Int(g.next() % UInt64(keys.count))]
                let removed = rows.remove(pk: pk)
                #expect(removed, "seed \(seed) step \(step): the row is held")
                model[pk] = nil
            }
            #expect(rows.count == model.count, "seed \(seed) step \(step)")
            var held: [[UInt8]: [UInt8]] = [:]
            for r in rows.rows { held[r.pk] = r.bytes }
            #expect(held == model, "seed \(seed) step \(step)")
        }
    }
}
