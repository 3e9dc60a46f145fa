import Testing
@testable import Floe

@Suite struct SlotIndexTests {
    /// Random inserts and removes against a dictionary model. Tags come from a
    /// few values whose low bits collide, so probe runs are long, wrap around the
    /// table end and are repaired by backward shifts on almost every remove.
    @Test(arguments: [0x5107_0001 as UInt64, 0xB0B0_CAFE])
    func matchesModelUnderCollidingTags(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var index = SlotIndex()
        var model: [Int32: UInt32] = [:]  // slot -> tag
        var nextSlot: Int32 = 1
        for op in 0..<20_000 {
            if model.isEmpty || rng.next(upperBound: 100 as UInt64) < 55 {
                // Low 3 bits from 8 values, bit 30 sometimes set: same home buckets, different tags.
                let tag = UInt32(rng.next(upperBound: 8 as UInt64)) | (rng.next(upperBound: 2 as UInt64) == 0 ? 0 : 1 << 30)
                index.insert(tag: tag, slot: nextSlot)
                model[nextSlot] = tag
                nextSlot += 1
            } else {
                let (slot, tag) = model.randomElement(using: &rng)!
                index.remove(tag: tag, slot: slot)
                model[slot] = nil
                #expect(index.find(tag: tag) { $0 == slot } == nil, "seed \(seed) op \(op): removed slot \(slot) still found")
            }
            #expect(index.count == model.count, "seed \(seed) op \(op)")
            if op % 97 == 0 || model.count < 20 {
                for (slot, tag) in model {
                    let found = index.find(tag: tag) { $0 == slot }
                    #expect(found == slot, "seed \(seed) op \(op): slot \(slot) tag \(tag) not found")
                    if found != slot { return }
                }
            }
        }
        // Every slot a tag holds is visited, and only those.
        for tag in Set(model.values) {
            var seen: Set<Int32> = []
            _ = index.find(tag: tag) { seen.insert($0); return false }
            #expect(seen == Set(model.filter { $0.value == tag }.keys), "seed \(seed): tag \(tag)")
        }
    }

    @Test func findOnEmptyIndexAndUnknownTagIsNil() {
        var index = SlotIndex()
        #expect(index.find(tag: 7) { _ in true } == nil)
        index.insert(tag: 7, slot: 3)
        #expect(index.find(tag: 7) { _ in true } == 3)
        #expect(index.find(tag: 8) { _ in true } == nil)
        #expect(index.find(tag: 7) { $0 == 4 } == nil)
    }

    @Test func slotZeroAndMovedSlotsAreFoundWhereTheyAre() {
        var index = SlotIndex()
        index.insert(tag: 5, slot: 0)
        index.insert(tag: 5, slot: 1)
        index.insert(tag: 5 | 1 << 20, slot: 2)
        #expect(index.find(tag: 5) { $0 == 0 } == 0)
        index.move(tag: 5, from: 0, to: 9)
        #expect(index.find(tag: 5) { $0 == 0 } == nil)
        #expect(index.find(tag: 5) { $0 == 9 } == 9)
        index.remove(tag: 5, slot: 9)
        #expect(index.count == 2)
        #expect(index.find(tag: 5) { _ in true } == 1)
        #expect(index.find(tag: 5 | 1 << 20) { _ in true } == 2)
        index.removeAll()
        #expect(index.count == 0)
        #expect(index.find(tag: 5) { _ in true } == nil)
    }
}
