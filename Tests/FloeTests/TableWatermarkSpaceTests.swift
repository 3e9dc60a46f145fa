import Testing
@testable import Floe

/// A windowed aggregation's state under table watermarks keeps a flat footprint:
/// each epoch updates the current window's rows and closes the windows older than
/// two, and compaction (explicit `compactOnce` loops or the background worker)
/// must drop the closed ones, so the SST bytes track the live data and do not grow
/// with the number of epochs.
///
/// Two key layouts: `vnode(2) + windowStart(8, BE) + id` with the watermark after the
/// 2-byte virtual node (prefix 2: every virtual node's old windows at once), and
/// `windowStart(8, BE) + vnode(2) + id` (prefix 0: the keys only grow).
@Suite struct TableWatermarkSpaceTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var prefixLength: Int
        var background: Bool
        var testDescription: String { "prefix \(prefixLength), \(background ? "background" : "compactOnce loops")" }
    }

    static let cases = [Case(prefixLength: 2, background: false), Case(prefixLength: 0, background: false),
                        Case(prefixLength: 2, background: true), Case(prefixLength: 0, background: true)]

    static let epochs: UInt64 = 200
    static let window: UInt64 = 4
    static let vnodes: UInt16 = 16

    @Test(arguments: cases)
    func windowStateStaysFlat(_ c: Case) async throws {
        let seed = 0x5AC0_0000 + UInt64(c.prefixLength * 2 + (c.background ? 1 : 0))
        var rng = SplitMix64(seed: seed)
        var o = StoreOptions()
        o.retentionEpochs = 0
        o.sst.compression = .none
        o.sst.targetFileSize = 4096
        o.sst.blockSize = 1024
        o.compaction.background = c.background
        o.compaction.targetFileSize = 4096
        o.compaction.baseLevelBytes = 16 << 10
        o.compaction.l0CompactionTrigger = 2
        o.compaction.intraL0Trigger = 4
        o.compaction.levelCompression = [.none]
        o.compaction.settleSeconds = 0
        o.compaction.gcGraceSeconds = 0
        o.compaction.gcIntervalSeconds = 0.05
        o.compaction.threadNice = 0
        let objects = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: objects, options: o)
        let t = TableID(9)
        let context = "seed \(seed) \(c.testDescription)"

        func key(_ vnode: UInt16, _ windowStart: UInt64, _ id: [UInt8]) -> [UInt8] {
            let v = withUnsafeBytes(of: vnode.bigEndian) { Array($0) }
            return c.prefixLength == 2 ? v + be64(windowStart) + id : be64(windowStart) + v + id
        }
        func windowStart(_ k: [UInt8]) -> UInt64 {
            let at = c.prefixLength == 2 ? 2 : 0
            return k[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) }
        }

        var model: [[UInt8]: [UInt8]] = [:]
        var closedBelow: UInt64 = 0
        var sstBytes: [UInt64: UInt64] = [:]
        var liveBytes: [UInt64: UInt64] = [:]
        var seq: UInt32 = 0
        for e in 1...Self.epochs {
            let ws = e / Self.window * Self.window
            var batch = WriteBatch()
            for v in 0..<Self.vnodes {
                // Four running aggregates per virtual node and window, updated every epoch
                // (obsolete versions to collect), and two appended rows.
                for g in UInt8(0)..<4 {
                    let k = key(v, ws, [g])
                    model[k] = randomBytes(&rng, 24)
                    batch.put(t, key: k, value: model[k]!)
                }
                for _ in 0..<2 {
                    seq += 1
                    let k = key(v, ws, withUnsafeBytes(of: seq.bigEndian) { Array($0) })
                    model[k] = randomBytes(&rng, 24)
                    batch.put(t, key: k, value: model[k]!)
                }
            }
            try store.write(batch, epoch: e)
            if ws >= 2 * Self.window && ws - 2 * Self.window > closedBelow {
                closedBelow = ws - 2 * Self.window
                try store.setTableWatermark(t, key: be64(closedBelow), prefixLength: c.prefixLength, epoch: e)
                model = model.filter { windowStart($0.key) >= closedBelow }
            }
            try await store.checkpoint(epoch: e, metadata: [:])
            if c.background {
                // The worker alone (polling every few ms while commits flow) must reach a
                // tree with nothing left to pick; the test only waits for it.
                let deadline = ContinuousClock.now + .seconds(20)
                while true {
                    let (v, busy) = store.state.withLock { ($0.version, $0.compactionBusy) }
                    if busy.isEmpty && store.picker.pick(v, watermark: store.watermark(v)) == nil { break }
                    if ContinuousClock.now > deadline {
                        Issue.record("\(context): @\(e) the background worker did not catch up within 20 s")
                        break
                    }
                    try await Task.sleep(for: .milliseconds(1))
                }
            } else {
                while try await store.compactOnce() != nil {}
                if e % 10 == 0 { _ = try await store.collectGarbage(graceSeconds: 0) }
            }
            sstBytes[e] = store.statistics.sstBytes
            liveBytes[e] = model.reduce(0) { $0 + UInt64($1.key.count + $1.value.count) }
            if e % 50 == 0 {
                let rows = try await collectRows(store.scan(t, from: nil, to: nil, epoch: e))
                let want = rowsOf(model, from: nil, to: nil)
                let same = rows == want
                #expect(same, "\(context): full scan @\(e): \(rows.count) rows, expected \(want.count)")
            }
        }
        // Without the watermarks the state grows linearly: epochs 151-200 would hold
        // 2.3 times the bytes of epochs 51-100.
        let mid = (UInt64(51)...100).map { sstBytes[$0]! }, late = (UInt64(151)...200).map { sstBytes[$0]! }
        #expect(late.max()! * 2 <= mid.max()! * 3,
                "\(context): SST bytes grew with the epochs: max \(late.max()!) B over epochs 151-200 against \(mid.max()!) B over 51-100")
        let live = liveBytes[Self.epochs]!
        // The live rows are ~38 B of key and value; stored with the 12-byte key suffix,
        // entry headers, block trailers, index and filter they take well under 2x. Four
        // times is the bound: obsolete versions and closed windows may linger within it.
        for e in UInt64(100)...Self.epochs {
            if sstBytes[e]! > 4 * liveBytes[e]! {
                Issue.record("\(context): @\(e) \(sstBytes[e]!) SST bytes for \(liveBytes[e]!) live bytes")
                break
            }
        }
        let final = store.statistics.sstBytes
        #expect(final <= 4 * live, "\(context): at the end \(final) SST bytes for \(live) live bytes")
        let rows = try await collectRows(store.scan(t, from: nil, to: nil, epoch: Self.epochs))
        let same = rows == rowsOf(model, from: nil, to: nil)
        #expect(same, "\(context): final full scan: \(rows.count) rows, expected \(model.count)")
        // The objects too: GC deletes the files compaction dropped.
        _ = try await store.collectGarbage(graceSeconds: 0)
        let stored = try await objects.list(prefix: "").filter { $0.path.hasSuffix(".sst") }.reduce(0) { $0 + $1.size }
        #expect(UInt64(stored) <= 4 * live, "\(context): \(stored) bytes of SST objects for \(live) live bytes")
        try await store.close()
    }
}
