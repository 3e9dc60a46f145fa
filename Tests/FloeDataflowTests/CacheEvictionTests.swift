import Floe
import FloeTesting
import Testing
@testable import FloeDataflow

/// What an operator's cache keeps at a barrier once over its budget: the newest
/// epochs whole within three quarters of it, or part of the newest.
@Suite struct CacheEvictionTests {
    @Test func keepsTheNewestEpochsWholeWithinThreeQuartersOfTheBudget() {
        // Epochs 3, 5, 4, 5, 2, 4 with 10 bytes each: epoch 5 (20) + 4 (20) fit in 75 of
        // a 100 budget, with epoch 3 (10) they make 50, epoch 2 would make 60: all fit.
        let touched: [Epoch] = [3, 5, 4, 5, 2, 4]
        #expect(CacheEviction.keep(touched: touched, bytes: Array(repeating: 10, count: 6), budget: 100) == [0, 1, 2, 3, 4, 5])
        // Budget 60 (target 45): 5 and 4 make 40, epoch 3 would make 50.
        #expect(CacheEviction.keep(touched: touched, bytes: Array(repeating: 10, count: 6), budget: 60) == [1, 2, 3, 5])
        // Budget 40 (target 30): epoch 5 only.
        #expect(CacheEviction.keep(touched: touched, bytes: Array(repeating: 10, count: 6), budget: 40) == [1, 3])
    }

    @Test func keepsPartOfTheNewestEpochWhenItAlonePassesTheTarget() {
        let touched: [Epoch] = [7, 6, 7, 7, 7]
        // Target 30 of 40: epoch 7 holds 40; its first entries up to 30.
        #expect(CacheEviction.keep(touched: touched, bytes: [10, 10, 10, 10, 10], budget: 40) == [0, 2, 3])
        // A single entry larger than the target: nothing.
        #expect(CacheEviction.keep(touched: [1], bytes: [100], budget: 40) == [])
        #expect(CacheEviction.keep(touched: [], bytes: [], budget: 40) == [])
    }

    @Test(arguments: ModelSeeds.thinned(Array(1...40) as [UInt64]))
    func randomCachesKeepANewestFirstPrefixWithinTheTarget(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let n = Int(g.next() % 200)
        let touched = (0..<n).map { _ in Epoch(g.next() % 12) }
        let bytes = (0..<n).map { _ in Int(g.next() % 500) + 1 }
        let budget = Int(g.next() % 20_000) + 1
        let kept = CacheEviction.keep(touched: touched, bytes: bytes, budget: budget)
        let target = Int(Double(budget) * CacheEviction.keepFraction)
        #expect(kept == kept.sorted() && Set(kept).count == kept.count, "seed \(seed)")
        #expect(kept.reduce(0) { $0 + bytes[$1] } <= target, "seed \(seed)")
        // Newest first: no dropped entry is newer than a kept one of another epoch, and an
        // epoch is split only when it is the only one kept.
        let keptEpochs = Set(kept.map { touched[$0] })
        if let oldest = keptEpochs.min() {
            for i in touched.indices where !kept.contains(i) {
                #expect(touched[i] <= oldest, "seed \(seed): dropped an entry of epoch \(touched[i]), kept epoch \(oldest)")
                if touched[i] == oldest { #expect(keptEpochs.count == 1, "seed \(seed): split an epoch below the newest kept") }
            }
        }
        // Maximal: with whole epochs kept, the next older one would not have fit.
        let total = kept.reduce(0) { $0 + bytes[$1] }
        let split = keptEpochs.contains { e in touched.indices.contains { touched[$0] == e && !kept.contains($0) } }
        if !split, let next = Set(touched).filter({ e in keptEpochs.allSatisfy { e < $0 } }).max() {
            let nextBytes = touched.indices.filter { touched[$0] == next }.reduce(0) { $0 + bytes[$1] }
            #expect(total + nextBytes > target, "seed \(seed): epoch \(next) would have fit")
        }
    }
}
