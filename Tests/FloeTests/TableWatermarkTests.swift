import Testing
@testable import Floe
import FloeTesting

// MARK: shared helpers of the table watermark suites

/// Eight bytes big-endian: numbers that sort bytewise like their values.
func be64(_ x: UInt64) -> [UInt8] { withUnsafeBytes(of: x.bigEndian) { Array($0) } }

/// A window-state key: a 2-byte virtual node, an 8-byte big-endian time, then `id`.
func vnodeKey(_ vnode: UInt16, _ time: UInt64, _ id: [UInt8] = []) -> [UInt8] {
    withUnsafeBytes(of: vnode.bigEndian) { Array($0) } + be64(time) + id
}

/// The documented rule, restated independently of `TableWatermark`: a watermark
/// `wm` with `prefix` hides a key of at least `prefix` bytes whose bytes after the
/// prefix sort strictly below `wm`.
func referenceHides(_ key: [UInt8], wm: [UInt8], prefix: Int) -> Bool {
    key.count >= prefix && key[prefix...].lexicographicallyPrecedes(wm)
}

/// One table's watermarks as a test sets them: reads at epoch e apply the newest
/// one with epoch <= e.
struct WatermarkHistory {
    var prefix: Int
    var marks: [(epoch: Epoch, key: [UInt8])] = []

    init(prefix: Int) { self.prefix = prefix }

    func key(at e: Epoch) -> [UInt8]? {
        marks.filter { $0.epoch <= e }.max { $0.epoch < $1.epoch }?.key
    }

    func hides(_ k: [UInt8], at e: Epoch) -> Bool {
        key(at: e).map { referenceHides(k, wm: $0, prefix: prefix) } ?? false
    }

    /// `map` as a read at `e` must return it.
    func visible(_ map: [[UInt8]: [UInt8]], at e: Epoch) -> [[UInt8]: [UInt8]] {
        map.filter { !hides($0.key, at: e) }
    }

    mutating func set(_ key: [UInt8], at e: Epoch) {
        marks.removeAll { $0.epoch == e }
        marks.append((e, key))
    }
}

/// The rows of `map` in `[from, to)`, in key order.
func rowsOf(_ map: [[UInt8]: [UInt8]], from: [UInt8]?, to: [UInt8]?) -> [Row] {
    map.filter { k, _ in
        (from.map { !k.lexicographicallyPrecedes($0) } ?? true) && (to.map { k.lexicographicallyPrecedes($0) } ?? true)
    }
    .sorted { $0.key.lexicographicallyPrecedes($1.key) }
    .map { Row(key: $0.key, value: $0.value) }
}

/// How a test reads one table at one epoch: through the store or a snapshot.
struct TableReader {
    var get: ([UInt8]) async throws -> [UInt8]?
    var scan: ([UInt8]?, [UInt8]?) async throws -> [Row]

    static func store(_ s: StateStore, _ t: TableID, at e: Epoch) -> TableReader {
        TableReader(get: { try await s.get(t, key: $0, epoch: e) },
                    scan: { try await collectRows(s.scan(t, from: $0, to: $1, epoch: e)) })
    }

    static func snapshot(_ s: Snapshot, _ t: TableID) -> TableReader {
        TableReader(get: { try await s.get(t, key: $0) }, scan: { try await collectRows(s.scan(t, from: $0, to: $1)) })
    }
}

/// Gets of every key of `universe` and scans over every pair of `bounds` must
/// return exactly `expected`. Returns whether all matched (one issue per mismatch kind).
@discardableResult
func expectReads(_ r: TableReader, universe: [[UInt8]], bounds: [[UInt8]?], expected: [[UInt8]: [UInt8]],
                 _ context: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Bool {
    for k in universe {
        let got = try await r.get(k)
        if got != expected[k] {
            Issue.record("\(context()): get \(k) = \(got.map { "\($0.count)B" } ?? "nil"), expected \(expected[k].map { "\($0.count)B" } ?? "nil")",
                         sourceLocation: sourceLocation)
            return false
        }
    }
    for from in bounds {
        for to in bounds {
            let got = try await r.scan(from, to)
            let want = rowsOf(expected, from: from, to: to)
            if got != want {
                Issue.record("\(context()): scan [\(from.map { "\($0)" } ?? "nil"), \(to.map { "\($0)" } ?? "nil")) = \(got.map(\.key)), expected \(want.map(\.key))",
                             sourceLocation: sourceLocation)
                return false
            }
        }
    }
    return true
}

/// Every version physically stored in the current version's SSTs of `table`:
/// (user key, epoch). Reads each SST whole, bypassing all read-path filtering.
func storedVersions(_ store: StateStore, table: UInt32) async throws -> [(key: [UInt8], epoch: Epoch)] {
    var out: [(key: [UInt8], epoch: Epoch)] = []
    for info in store.currentVersion.allSsts {
        let it = SstRunIterator(reader: store.reader, run: [info])
        try await it.seekToFirst()
        while it.valid {
            it.withKey { k in
                if FullKey.table(k) == table { out.append((Array(FullKey.userKey(k)), FullKey.epoch(k))) }
            }
            try await it.next()
        }
    }
    return out
}

func randomBytes(_ rng: inout SplitMix64, _ n: Int) -> [UInt8] {
    (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// `StateStore.setTableWatermark`: misuse, reads (get, scan, snapshots, own
/// uncommitted epochs), durability across reopen and manifest checkpoints, and
/// compaction dropping what the watermarks hide.
@Suite struct TableWatermarkTests {
    static func options(retention: UInt64 = 1_000, checkpointInterval: UInt64 = 64) -> StoreOptions {
        var o = StoreOptions()
        o.retentionEpochs = retention
        o.manifestCheckpointInterval = checkpointInterval
        o.compaction.background = false
        o.sst.compression = .none
        return o
    }

    // MARK: misuse

    /// Each invalid call throws its typed error and changes nothing: the reads, the
    /// committed watermarks and the calls accepted afterwards are those of a store
    /// that never saw it.
    @Test func misuseThrowsTypedErrorsAndChangesNothing() async throws {
        let seed: UInt64 = 0x3A11
        var rng = SplitMix64(seed: seed)
        let objects = MemoryObjectStore()
        let o = Self.options()
        var store = try await StateStore.open(objectStore: objects, options: o)
        let t = TableID(1), u = TableID(2)
        var data: [[UInt8]: [UInt8]] = [:]
        var vdata: [[UInt8]: [UInt8]] = [:]
        for i in UInt64(0)..<20 {
            data[be64(i)] = randomBytes(&rng, 8)
            try store.put(t, key: be64(i), value: data[be64(i)]!, epoch: 1)
            vdata[vnodeKey(UInt16(i % 3), i)] = randomBytes(&rng, 8)
            try store.put(u, key: vnodeKey(UInt16(i % 3), i), value: vdata[vnodeKey(UInt16(i % 3), i)]!, epoch: 1)
        }
        try await store.checkpoint(epoch: 1, metadata: [:])
        var wt = WatermarkHistory(prefix: 0), wu = WatermarkHistory(prefix: 2)
        try store.setTableWatermark(t, key: be64(10), epoch: 2)
        wt.set(be64(10), at: 2)
        try store.setTableWatermark(u, key: be64(5), prefixLength: 2, epoch: 2)
        wu.set(be64(5), at: 2)
        try await store.checkpoint(epoch: 2, metadata: [:])

        func expectRejected(_ expected: FloeError, _ what: String, _ body: () throws -> Void,
                            sourceLocation: SourceLocation = #_sourceLocation) async {
            let got = await capture { try body() }
            switch got {
            case .success: Issue.record("seed \(seed): \(what) was accepted, expected \(expected)", sourceLocation: sourceLocation)
            case let .failure(e):
                #expect(sameError(e, expected), "seed \(seed): \(what) threw \(e), expected \(expected)", sourceLocation: sourceLocation)
            }
        }
        let universe = data.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let vuniverse = vdata.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let bounds: [[UInt8]?] = [nil, be64(3), be64(10), be64(15)]
        let vbounds: [[UInt8]?] = [nil, vnodeKey(0, 2), vnodeKey(1, 7), vnodeKey(2, 0)]
        func check(_ s: StateStore, _ e: Epoch, _ context: String) async throws {
            try await expectReads(.store(s, t, at: e), universe: universe, bounds: bounds, expected: wt.visible(data, at: e),
                                  "seed \(seed): \(context), t1 @\(e)")
            try await expectReads(.store(s, u, at: e), universe: vuniverse, bounds: vbounds, expected: wu.visible(vdata, at: e),
                                  "seed \(seed): \(context), t2 @\(e)")
        }

        // Epoch 3 is open (a write made it so): every rejected call targets it or an epoch around it.
        try store.put(TableID(3), key: be64(30), value: [3], epoch: 3)
        await expectRejected(.invalidArgument(""), "a watermark below the one of epoch 2") {
            try store.setTableWatermark(t, key: be64(9), epoch: 3)
        }
        await expectRejected(.invalidArgument(""), "a shorter watermark key that sorts below epoch 2's") {
            try store.setTableWatermark(t, key: [0, 0, 0, 0, 0, 0, 0], epoch: 3)
        }
        await expectRejected(.invalidArgument(""), "another prefix length (2 instead of 0)") {
            try store.setTableWatermark(t, key: be64(12), prefixLength: 2, epoch: 3)
        }
        await expectRejected(.invalidArgument(""), "another prefix length (0 instead of 2)") {
            try store.setTableWatermark(u, key: be64(6), prefixLength: 0, epoch: 3)
        }
        await expectRejected(.invalidArgument(""), "a negative prefix length") {
            try store.setTableWatermark(t, key: be64(12), prefixLength: -1, epoch: 3)
        }
        await expectRejected(.invalidArgument(""), "a negative prefix length on a fresh table") {
            try store.setTableWatermark(TableID(9), key: be64(12), prefixLength: -2, epoch: 3)
        }
        await expectRejected(.epochCommitted(epoch: 2, committed: 2), "a watermark on the committed epoch") {
            try store.setTableWatermark(t, key: be64(12), epoch: 2)
        }
        await expectRejected(.epochCommitted(epoch: 1, committed: 2), "a watermark on an older committed epoch") {
            try store.setTableWatermark(t, key: be64(12), epoch: 1)
        }
        try await check(store, 3, "after rejected calls on open epoch 3")
        try store.seal(epoch: 3)
        await expectRejected(.epochSealed(epoch: 3, sealed: 3), "a watermark on the sealed epoch") {
            try store.setTableWatermark(t, key: be64(12), epoch: 3)
        }
        try await check(store, 3, "after a rejected call on sealed epoch 3")

        // Open epochs 5 and 4 (out of order): a watermark must also not rise above a later epoch's.
        try store.setTableWatermark(t, key: be64(15), epoch: 5)
        wt.set(be64(15), at: 5)
        await expectRejected(.invalidArgument(""), "epoch 4's watermark above epoch 5's") {
            try store.setTableWatermark(t, key: be64(16), epoch: 4)
        }
        try store.setTableWatermark(t, key: be64(14), epoch: 4)
        wt.set(be64(14), at: 4)
        await expectRejected(.invalidArgument(""), "epoch 5's watermark replaced by one below epoch 4's") {
            try store.setTableWatermark(t, key: be64(13), epoch: 5)
        }
        // Equal keys at later epochs and replacing the same epoch's watermark are allowed.
        try store.setTableWatermark(t, key: be64(15), epoch: 6)
        wt.set(be64(15), at: 6)
        try store.setTableWatermark(t, key: be64(15), epoch: 5) // the same again
        try store.setTableWatermark(u, key: be64(5), prefixLength: 2, epoch: 6)
        wu.set(be64(5), at: 6)
        for e in Epoch(3)...6 { try await check(store, e, "own uncommitted epochs") }
        try store.seal(epoch: 6)
        let r = try await store.sync(epoch: 6)
        #expect(Set(r.watermarks) == [TableWatermark(table: t, prefixLength: 0, key: be64(14), epoch: 4),
                                      TableWatermark(table: t, prefixLength: 0, key: be64(15), epoch: 5),
                                      TableWatermark(table: t, prefixLength: 0, key: be64(15), epoch: 6),
                                      TableWatermark(table: u, prefixLength: 2, key: be64(5), epoch: 6)],
                "seed \(seed): the sync result carries exactly the accepted watermarks of its epochs: \(r.watermarks)")
        try await store.commit(epoch: 6, r, metadata: [:])
        for e in Epoch(1)...6 { try await check(store, e, "committed") }

        try await store.close()
        await expectRejected(.closed, "a watermark on a closed store") { try store.setTableWatermark(t, key: be64(19), epoch: 7) }
        store = try await StateStore.open(objectStore: objects, options: o)
        for e in Epoch(1)...6 { try await check(store, e, "reopened") }
        // Had a rejected prefix length been recorded, these would now be refused.
        try store.setTableWatermark(t, key: be64(15), prefixLength: 0, epoch: 7)
        try store.setTableWatermark(u, key: be64(6), prefixLength: 2, epoch: 7)
        await expectRejected(.invalidArgument(""), "a watermark below the committed epoch 6's after reopen") {
            try store.setTableWatermark(t, key: be64(14), epoch: 8)
        }
        try await store.close()
    }

    /// A read-only store refuses watermarks (`fenced`) but reads with the committed ones.
    @Test func readOnlyStoreRefusesWatermarksAndHonoursCommittedOnes() async throws {
        let seed: UInt64 = 0x40
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let t = TableID(4)
        var o = Self.options()
        o.blockCacheBytes = 1 << 20
        let writer = try await StateStore.open(path: dir.path, options: o)
        var data: [[UInt8]: [UInt8]] = [:]
        for v in UInt16(0)..<4 {
            for time in UInt64(0)..<6 {
                data[vnodeKey(v, time)] = [UInt8(v), UInt8(time)]
                try writer.put(t, key: vnodeKey(v, time), value: [UInt8(v), UInt8(time)], epoch: 1)
            }
        }
        try writer.setTableWatermark(t, key: be64(3), prefixLength: 2, epoch: 2)
        try await writer.checkpoint(epoch: 2, metadata: [:])
        var h = WatermarkHistory(prefix: 2)
        h.set(be64(3), at: 2)

        let reader = try await StateStore.openReadOnly(path: dir.path, options: o)
        let got = await capture { try reader.setTableWatermark(t, key: be64(4), prefixLength: 2, epoch: 3) }
        #expect(got.failureValue.map { sameError($0, .fenced("")) } == true, "seed \(seed): read-only setTableWatermark: \(got)")
        let universe = Array(data.keys)
        let bounds: [[UInt8]?] = [nil, vnodeKey(0, 0), vnodeKey(1, 4), vnodeKey(3, 0)]
        for e in Epoch(1)...2 {
            try await expectReads(.store(reader, t, at: e), universe: universe, bounds: bounds, expected: h.visible(data, at: e),
                                  "seed \(seed): read-only store @\(e)")
        }
        try await reader.close()
        // The refused call reached nothing: the writer goes on with a lower watermark than 4.
        try writer.setTableWatermark(t, key: be64(3), prefixLength: 2, epoch: 3)
        try await writer.checkpoint(epoch: 3, metadata: [:])
        #expect(try await writer.get(t, key: vnodeKey(2, 3), epoch: 3) == [2, 3], "seed \(seed): key at the watermark stays visible")
        try await writer.close()
    }

    // MARK: reads

    /// Keys below the watermark are hidden from its epoch on by gets and scans
    /// (also bounded ones starting below it), and by the writer's reads of its own
    /// uncommitted epochs; older epochs and a snapshot taken before still see them;
    /// writes after the watermark below it are hidden too; a key shorter than the
    /// prefix never is. Other tables are untouched.
    @Test(arguments: [0, 2])
    func readsHideKeysBelowTheWatermarkFromItsEpochOn(prefixLength p: Int) async throws {
        let seed = UInt64(0x5EED + p)
        var rng = SplitMix64(seed: seed)
        let objects = MemoryObjectStore()
        let o = Self.options(retention: 100)
        var store = try await StateStore.open(objectStore: objects, options: o)
        let t = TableID(7), other = TableID(8)
        var keys: [[UInt8]] = [[], [0], [1], [0, 0], [0, 1], [0, 0, 0], [255, 255]]
        for v: UInt16 in [0, 1, 7] { for time in UInt64(0)..<12 { keys.append(vnodeKey(v, time)) } }
        keys.append(vnodeKey(1, 5, [9]))
        // Watermarks: on times (after the virtual node) with prefix 2, on whole keys with prefix 0.
        let w1 = p == 2 ? be64(5) : vnodeKey(0, 5)
        let w2 = p == 2 ? be64(9) : vnodeKey(1, 3)
        var hist = WatermarkHistory(prefix: p)
        var maps: [Epoch: [[UInt8]: [UInt8]]] = [:]
        var map: [[UInt8]: [UInt8]] = [:]
        for k in keys { map[k] = randomBytes(&rng, 1 + Int(rng.next() % 30)) }
        for (k, v) in map {
            try store.put(t, key: k, value: v, epoch: 1)
            try store.put(other, key: k, value: v, epoch: 1)
        }
        try await store.checkpoint(epoch: 1, metadata: [:])
        maps[1] = map
        let s1 = try store.snapshot(epoch: 1)

        let universe = keys + [vnodeKey(1, 20), vnodeKey(0, 100)]
        let bounds: [[UInt8]?] = [nil, [], [0], vnodeKey(0, 2), vnodeKey(0, 7), vnodeKey(1, 0), vnodeKey(1, 6), vnodeKey(7, 0), w1, w2]
        func check(_ e: Epoch, _ context: String) async throws {
            try await expectReads(.store(store, t, at: e), universe: universe, bounds: bounds,
                                  expected: hist.visible(maps[e] ?? map, at: e),
                                  "seed \(seed) prefix \(p): \(context) @\(e)")
        }

        // Epoch 2: the first watermark, a write below it, writes above it.
        try store.setTableWatermark(t, key: w1, prefixLength: p, epoch: 2)
        hist.set(w1, at: 2)
        for k in [vnodeKey(0, 1), vnodeKey(7, 11), vnodeKey(1, 20)] {
            map[k] = randomBytes(&rng, 5)
            try store.put(t, key: k, value: map[k]!, epoch: 2)
        }
        try await check(2, "open epoch 2, own watermark pending")
        try await check(1, "committed epoch 1 while epoch 2's watermark is pending")
        try store.seal(epoch: 2)
        try await check(2, "sealed epoch 2")
        let r2 = try await store.sync(epoch: 2)
        #expect(r2.watermarks == [TableWatermark(table: t, prefixLength: p, key: w1, epoch: 2)],
                "seed \(seed) prefix \(p): sync result watermarks \(r2.watermarks)")
        try await store.commit(epoch: 2, r2, metadata: [:])
        maps[2] = map

        // Epoch 3: a higher watermark, a delete above the old one, a write below the new one.
        try store.setTableWatermark(t, key: w2, prefixLength: p, epoch: 3)
        hist.set(w2, at: 3)
        try store.delete(t, key: vnodeKey(7, 11), epoch: 3)
        map[vnodeKey(7, 11)] = nil
        map[vnodeKey(0, 0)] = [42]
        try store.put(t, key: vnodeKey(0, 0), value: [42], epoch: 3)
        try await check(3, "open epoch 3")
        try await store.checkpoint(epoch: 3, metadata: [:])
        maps[3] = map
        let s2 = try store.snapshot(epoch: 2)

        for e in Epoch(1)...3 { try await check(e, "committed") }
        try await expectReads(.snapshot(s1, t), universe: universe, bounds: bounds, expected: maps[1]!,
                              "seed \(seed) prefix \(p): snapshot @1 taken before any watermark")
        try await expectReads(.snapshot(s2, t), universe: universe, bounds: bounds, expected: hist.visible(maps[2]!, at: 2),
                              "seed \(seed) prefix \(p): snapshot @2 taken after epoch 3's watermark")
        try await expectReads(.store(store, other, at: 3), universe: universe, bounds: bounds, expected: maps[1]!,
                              "seed \(seed) prefix \(p): a table without watermarks")
        // Spot checks of the rule itself, independent of the reference helper.
        let short = try await store.get(t, key: [0], epoch: 3)
        #expect(short == (p == 2 ? maps[1]![[0]] : nil), "seed \(seed) prefix \(p): one-byte key [0] @3: \(String(describing: short))")
        #expect(try await store.get(t, key: vnodeKey(0, 1), epoch: 1) != nil, "seed \(seed) prefix \(p): [0,0]+1 @1 visible")
        #expect(try await store.get(t, key: vnodeKey(0, 1), epoch: 2) == nil, "seed \(seed) prefix \(p): [0,0]+1 @2 hidden")
        #expect(try await store.get(t, key: vnodeKey(7, 10), epoch: 3) != nil, "seed \(seed) prefix \(p): [0,7]+10 @3 visible")
        s1.release()
        s2.release()

        try await store.close()
        store = try await StateStore.open(objectStore: objects, options: o)
        for e in Epoch(1)...3 { try await check(e, "reopened") }
        // An open epoch above the committed one reads with the committed watermarks too.
        try store.put(t, key: vnodeKey(7, 2), value: [7], epoch: 4)
        map[vnodeKey(7, 2)] = [7]
        try await check(4, "open epoch 4 without a watermark of its own")
        try await store.close()
    }

    /// A scan of an open epoch freezes a sorted copy of it, reused until the epoch
    /// changes: a watermark set (or replaced) after that scan, with no write between,
    /// must still reach the seal, the sync result and the commit.
    @Test func watermarkSetAfterAScanOfItsOpenEpochIsCommitted() async throws {
        let seed: UInt64 = 0x5CA9
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: Self.options())
        let t = TableID(6)
        for i in UInt64(0)..<10 { try store.put(t, key: be64(i), value: [UInt8(i)], epoch: 1) }
        func keys(_ e: Epoch) async throws -> [[UInt8]] {
            var rows: [[UInt8]] = []
            for try await (k, _) in try await store.scan(t, from: nil, to: nil, epoch: e) { rows.append(k) }
            return rows
        }
        #expect(try await keys(1) == (0..<10).map { be64($0) }, "seed \(seed): open epoch 1 before any watermark")
        try store.setTableWatermark(t, key: be64(3), epoch: 1)
        #expect(try await keys(1) == (3..<10).map { be64($0) }, "seed \(seed): open epoch 1 under [3]")
        // Replaced after a scan, no write between.
        try store.setTableWatermark(t, key: be64(5), epoch: 1)
        try store.seal(epoch: 1)
        let r1 = try await store.sync(epoch: 1)
        #expect(r1.watermarks.map(\.key) == [be64(5)], "seed \(seed): epoch 1 carries the replacing watermark: \(r1.watermarks)")
        try await store.commit(epoch: 1, r1, metadata: [:])
        #expect(try await keys(1) == (5..<10).map { be64($0) }, "seed \(seed): committed epoch 1 under [5]")

        // Set after a scan of its epoch (which only holds a write), no write between.
        try store.put(t, key: be64(20), value: [20], epoch: 2)
        #expect(try await keys(2) == (5..<10).map { be64($0) } + [be64(20)], "seed \(seed): open epoch 2")
        try store.setTableWatermark(t, key: be64(8), epoch: 2)
        try await store.checkpoint(epoch: 2, metadata: [:])
        #expect(try await keys(2) == [be64(8), be64(9), be64(20)], "seed \(seed): committed epoch 2 under [8]")
        #expect(try await store.get(t, key: be64(7), epoch: 2) == nil, "seed \(seed): [7] @2 hidden")
        try await store.close()
    }

    /// The watermark of an epoch that never commits is gone after reopen: abandoned
    /// after its sync, or its commit failed before the delta landed. A commit whose
    /// delta landed but whose acknowledgement was lost keeps it.
    @Test(arguments: ["abandoned", "commitFailed", "ackLost"])
    func uncommittedWatermarkIsGoneAfterReopen(mode: String) async throws {
        let seed: UInt64 = 0xAB
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: seed)
        let o = Self.options()
        let t = TableID(3)
        var store = try await StateStore.open(objectStore: faults, options: o)
        for i in UInt64(0)..<10 { try store.put(t, key: be64(i), value: [UInt8(i)], epoch: 1) }
        try await store.checkpoint(epoch: 1, metadata: [:])

        try store.setTableWatermark(t, key: be64(8), epoch: 2)
        try store.put(t, key: be64(3), value: [33], epoch: 2)
        #expect(try await store.get(t, key: be64(3), epoch: 2) == nil, "seed \(seed) \(mode): own pending watermark hides [3] @2")
        #expect(try await store.get(t, key: be64(3), epoch: 1) == [3], "seed \(seed) \(mode): @1 unaffected")
        try store.seal(epoch: 2)
        let r = try await store.sync(epoch: 2)
        switch mode {
        case "commitFailed":
            faults.addRule(FaultRule(.fail, operations: [.createIfAbsent, .put], pathContains: "manifest/", limit: 1))
            let got = await capture { try await store.commit(epoch: 2, r, metadata: [:]) }
            #expect(got.failureValue != nil, "seed \(seed) \(mode): the commit must fail")
        case "ackLost":
            // The delta lands, and the read that would recognise it fails: the commit cannot tell.
            faults.addRule(FaultRule(.failAfterApplying, operations: [.createIfAbsent], pathContains: "manifest/", limit: 1))
            faults.addRule(FaultRule(.fail, operations: [.get], pathContains: "manifest/", limit: 1))
            let got = await capture { try await store.commit(epoch: 2, r, metadata: [:]) }
            #expect(got.failureValue != nil, "seed \(seed) \(mode): the commit must report a failure")
        default:
            break
        }
        faults.removeAllRules()
        try await store.close()
        store = try await StateStore.open(objectStore: faults, options: o)
        if mode == "ackLost" {
            #expect(store.committedEpoch == 2, "seed \(seed) \(mode): the landed delta commits epoch 2")
            #expect(try await store.get(t, key: be64(3), epoch: 2) == nil, "seed \(seed) \(mode): the landed watermark hides [3] @2")
            #expect(try await store.get(t, key: be64(8), epoch: 2) == [8], "seed \(seed) \(mode): [8] @2 visible")
            let low = await capture { try store.setTableWatermark(t, key: be64(2), epoch: 3) }
            #expect(low.failureValue.map { sameError($0, .invalidArgument("")) } == true,
                    "seed \(seed) \(mode): a watermark below the landed one must be refused: \(low)")
        } else {
            #expect(store.committedEpoch == 1, "seed \(seed) \(mode): epoch 2 never committed")
            try store.put(t, key: be64(4), value: [44], epoch: 2)
            #expect(try await store.get(t, key: be64(3), epoch: 2) == [3], "seed \(seed) \(mode): [3] @2 visible again")
            #expect(try await store.get(t, key: be64(4), epoch: 2) == [44], "seed \(seed) \(mode): [4] @2 own write visible")
            // A lower watermark at a later epoch is accepted: the abandoned one is not on record.
            try store.setTableWatermark(t, key: be64(2), epoch: 3)
            try await store.checkpoint(epoch: 3, metadata: [:])
            var rows: [[UInt8]] = []
            for try await (k, _) in try await store.scan(t, from: nil, to: nil, epoch: 3) { rows.append(k) }
            #expect(rows == (2..<10).map { be64($0) }, "seed \(seed) \(mode): rows @3 under the watermark [2]: \(rows)")
        }
        try await store.close()
    }

    // MARK: durability

    /// Watermarks survive reopening (deltas, then checkpoints every 2 records), a
    /// store rebuilt from its newest checkpoint alone reads the same, and the
    /// version's history keeps per table only the newest watermark at or below the
    /// safe epoch plus the later ones. A snapshot pinned at an old epoch holds the
    /// history it needs, and the store's own reads at that epoch stay exact.
    @Test(arguments: [UInt64(1), 2, 64])
    func watermarksSurviveReopenAndCheckpointsAndHistoryIsPruned(checkpointInterval: UInt64) async throws {
        let seed = 0xD0 + checkpointInterval
        var rng = SplitMix64(seed: seed)
        let objects = MemoryObjectStore()
        let retention: UInt64 = 3
        let o = Self.options(retention: retention, checkpointInterval: checkpointInterval)
        var store = try await StateStore.open(objectStore: objects, options: o)
        let t1 = TableID(1), t2 = TableID(2)
        var h1 = WatermarkHistory(prefix: 0), h2 = WatermarkHistory(prefix: 2)
        var d1: [[UInt8]: [UInt8]] = [:], d2: [[UInt8]: [UInt8]] = [:]
        var maps: [Epoch: ([[UInt8]: [UInt8]], [[UInt8]: [UInt8]])] = [:]
        var w1: UInt64 = 0, w2: UInt64 = 0
        var pinned: Snapshot?
        let bounds1: [[UInt8]?] = [nil, be64(10), be64(40)]
        let bounds2: [[UInt8]?] = [nil, vnodeKey(1, 0), vnodeKey(2, 30)]

        func check(_ s: StateStore, _ e: Epoch, _ context: String) async throws {
            let (m1, m2) = maps[e]!
            try await expectReads(.store(s, t1, at: e), universe: Array(m1.keys) + [be64(w1)], bounds: bounds1,
                                  expected: h1.visible(m1, at: e), "seed \(seed) interval \(checkpointInterval): \(context) t1 @\(e)")
            try await expectReads(.store(s, t2, at: e), universe: Array(m2.keys), bounds: bounds2,
                                  expected: h2.visible(m2, at: e), "seed \(seed) interval \(checkpointInterval): \(context) t2 @\(e)")
        }
        /// The pruning rule: per table, at most one watermark at or below the safe
        /// epoch (the newest set there), then every later one, in epoch order.
        func checkHistory(_ s: StateStore, _ context: String) {
            let v = s.currentVersion
            for (table, h) in [(t1, h1), (t2, h2)] {
                let kept = v.watermarks.filter { $0.tableRaw == table.raw }
                let old = h.marks.filter { $0.epoch <= v.safeEpoch }.max { $0.epoch < $1.epoch }
                let expected = (old.map { [$0] } ?? []) + h.marks.filter { $0.epoch > v.safeEpoch }.sorted { $0.epoch < $1.epoch }
                #expect(kept.map(\.epoch) == expected.map(\.epoch) && kept.map(\.key) == expected.map(\.key)
                            && kept.allSatisfy { $0.prefixLength == h.prefix },
                        "seed \(seed) interval \(checkpointInterval): \(context): \(table) history \(kept.map { "\($0.epoch):\($0.key)" }) at safe epoch \(v.safeEpoch), expected \(expected.map { "\($0.epoch):\($0.key)" })")
            }
        }

        for e in Epoch(1)...30 {
            for _ in 0..<4 {
                let k1 = be64(rng.next() % 60)
                d1[k1] = randomBytes(&rng, 6)
                try store.put(t1, key: k1, value: d1[k1]!, epoch: e)
                let k2 = vnodeKey(UInt16(rng.next() % 3), rng.next() % 60)
                d2[k2] = randomBytes(&rng, 6)
                try store.put(t2, key: k2, value: d2[k2]!, epoch: e)
            }
            // t1 rises (or stays) every epoch, t2 every third.
            w1 += rng.next() % 3
            try store.setTableWatermark(t1, key: be64(w1), epoch: e)
            h1.set(be64(w1), at: e)
            if e % 3 == 0 {
                w2 += rng.next() % 5
                try store.setTableWatermark(t2, key: be64(w2), prefixLength: 2, epoch: e)
                h2.set(be64(w2), at: e)
            }
            try await store.checkpoint(epoch: e, metadata: [:])
            maps[e] = (d1, d2)
            if e == 8 { pinned = try store.snapshot(epoch: 5) }
            if e % 10 == 0 {
                try await store.close()
                store = try await StateStore.open(objectStore: objects, options: o)
                pinned = nil // a snapshot does not outlive its store
                checkHistory(store, "reopened at epoch \(e)")
                for r in (e - retention)...e { try await check(store, r, "reopened at epoch \(e)") }
            }
            if e == 9, let p = pinned {
                // Epoch 5 is held by the snapshot, outside the retention window: the store's
                // own reads there use the (unpruned) history too.
                #expect(store.currentVersion.safeEpoch <= 5, "seed \(seed): a pinned epoch is not below the safe epoch")
                try await check(store, 5, "pinned epoch 5 at epoch \(e)")
                try await expectReads(.snapshot(p, t1), universe: Array(maps[5]!.0.keys), bounds: bounds1,
                                      expected: h1.visible(maps[5]!.0, at: 5), "seed \(seed): snapshot @5")
                p.release()
                pinned = nil
            }
            checkHistory(store, "epoch \(e)")
        }
        let total = store.currentVersion.watermarks.count
        #expect(total <= 2 * Int(retention + 2), "seed \(seed) interval \(checkpointInterval): \(total) watermarks kept for 2 tables, retention \(retention)")

        // Rebuilt from the newest checkpoint alone (no delta): the checkpoint carries the watermarks.
        if checkpointInterval == 1 {
            try await store.close()
            let all = objects.snapshot()
            let newest = all.keys.filter { $0.hasSuffix(".checkpoint") }.max()!
            // Its own sequence's delta stays (open checks the record it appends follows it);
            // no earlier delta does, so the version can only come from the checkpoint.
            let seq = newest.dropFirst("manifest/".count).dropLast(".checkpoint".count)
            let copy = MemoryObjectStore(objects: all.filter {
                !$0.key.hasPrefix("manifest/") || $0.key == newest || $0.key == "manifest/\(seq).delta"
            })
            let rebuilt = try await StateStore.open(objectStore: copy, options: o)
            #expect(rebuilt.committedEpoch == 30, "seed \(seed): the newest checkpoint holds epoch 30")
            checkHistory(rebuilt, "rebuilt from \(newest)")
            for r in (30 - retention)...30 { try await check(rebuilt, r, "rebuilt from \(newest)") }
            try await rebuilt.close()
        } else {
            for r in (30 - retention)...30 { try await check(store, r, "final") }
            try await store.close()
        }
    }

    /// A store whose manifest predates watermarks (delta format 1, checkpoint format
    /// 2: the same bodies without the trailing watermark list) still opens, reads,
    /// and takes watermarks, which the newer records it appends then carry.
    @Test(arguments: ["delta format 1", "checkpoint format 2"])
    func aManifestFromBeforeWatermarksStillOpens(_ old: String) async throws {
        let seed: UInt64 = 0x01D
        let objects = MemoryObjectStore()
        let o = Self.options(checkpointInterval: old == "delta format 1" ? 64 : 1)
        var store = try await StateStore.open(objectStore: objects, options: o)
        let t = TableID(1)
        for e in Epoch(1)...3 {
            for i in UInt64(0)..<10 { try store.put(t, key: be64(e * 10 + i), value: [UInt8(e)], epoch: e) }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        try await store.close()

        /// The object as the older format wrote it. A delta of format 2 ends with an empty
        /// watermark list, no older sub-levels and no named checkpoint (three 0 bytes), a
        /// checkpoint of format 3 with no watermarks and no named checkpoints (two).
        func downgrade(_ path: String, to format: UInt16) async throws {
            let bytes = try await objects.get(path)
            var body = Array(bytes[..<(bytes.count - 8)])
            let added = format == 1 ? 3 : 2
            #expect(body.suffix(added).allSatisfy { $0 == 0 } && body[4] == UInt8(format + 1), "seed \(seed): \(path) ends with the empty newer fields")
            body.removeLast(added)
            body[4] = UInt8(format)
            body[5] = 0
            let sum = Checksum.xxh3(body)
            try await objects.put(path, body + withUnsafeBytes(of: sum.littleEndian) { Array($0) })
        }
        let manifest = objects.snapshot().keys.filter { $0.hasPrefix("manifest/") }
        if old == "delta format 1" {
            #expect(!manifest.contains { $0.hasSuffix(".checkpoint") }, "seed \(seed): deltas only")
            for p in manifest { try await downgrade(p, to: 1) }
            for p in manifest {
                let d = try ManifestCodec.decodeDelta(try await objects.get(p), object: p)
                #expect(d.watermarks.isEmpty, "seed \(seed): \(p) read as format 1")
            }
        } else {
            let newest = manifest.filter { $0.hasSuffix(".checkpoint") }.max()!
            try await downgrade(newest, to: 2)
            #expect(try ManifestCodec.decodeVersion(try await objects.get(newest), object: newest).committedEpoch == 3,
                    "seed \(seed): \(newest) read as format 2")
        }

        store = try await StateStore.open(objectStore: objects, options: o)
        var rows: [[UInt8]] = []
        for try await (k, _) in try await store.scan(t, from: nil, to: nil, epoch: 3) { rows.append(k) }
        #expect(rows == (10..<40).map { be64($0) }, "seed \(seed) \(old): rows @3: \(rows.count)")
        try store.setTableWatermark(t, key: be64(25), epoch: 4)
        try await store.checkpoint(epoch: 4, metadata: [:])
        try await store.close()
        store = try await StateStore.open(objectStore: objects, options: o)
        #expect(try await store.get(t, key: be64(24), epoch: 4) == nil, "seed \(seed) \(old): [24] @4 hidden after reopen")
        #expect(try await store.get(t, key: be64(25), epoch: 4) == [2], "seed \(seed) \(old): [25] @4 visible")
        #expect(try await store.get(t, key: be64(24), epoch: 3) == [2], "seed \(seed) \(old): [24] @3 visible")
        try await store.close()
    }

    /// The lookup every read makes, `Version.watermark(_:at:)`, over random histories
    /// of several tables (sorted by table, then epoch, as `Version.watermarks` is):
    /// the newest watermark of the table at or below the epoch, for tables before,
    /// between and after those present and epochs before, on and between theirs.
    @Test func versionWatermarkLookupMatchesTheNewestAtOrBelowTheEpoch() {
        for seed in UInt64(0)..<300 {
            var rng = SplitMix64(seed: seed)
            var list: [TableWatermark] = []
            for table in UInt32(1)...6 where rng.next() % 3 != 0 {
                var e = Epoch(rng.next() % 4)
                for i in 0..<Int(rng.next() % 6) {
                    e += 1 + rng.next() % 3
                    list.append(TableWatermark(table: TableID(table * 2), prefixLength: 0, key: be64(UInt64(i)), epoch: e))
                }
            }
            let v = Version(sequence: 1, writerID: 1, committedEpoch: 40, safeEpoch: 0, metadata: [:], l0: [], levels: [],
                            watermarks: list)
            for table in UInt32(0)...14 {
                for e in Epoch(0)...25 {
                    let want = list.filter { $0.tableRaw == table && $0.epoch <= e }.last
                    let got = v.watermark(table, at: e)
                    if got != want {
                        Issue.record("seed \(seed): table \(table) @\(e): \(String(describing: got.map { "\($0.epoch)" })), expected \(String(describing: want.map { "\($0.epoch)" })) in \(list.map { "\($0.tableRaw)@\($0.epoch)" })")
                        return
                    }
                }
            }
        }
    }

    // MARK: compaction

    /// With no pin and no retention, compaction physically drops every version of a
    /// hidden key; a snapshot pinned before the watermark keeps them readable (and
    /// stored) until it is released, after which the next compaction drops them.
    @Test func compactionDropsHiddenVersionsUnlessASnapshotPinsThem() async throws {
        let seed: UInt64 = 0xC0
        var rng = SplitMix64(seed: seed)
        var o = Self.options(retention: 0)
        o.sst.targetFileSize = 4096
        o.sst.blockSize = 512
        o.compaction.targetFileSize = 4096
        o.compaction.baseLevelBytes = 16 << 10
        o.compaction.l0CompactionTrigger = 2
        let objects = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: objects, options: o)
        let t = TableID(5)
        var map: [[UInt8]: [UInt8]] = [:]
        // Four epochs of updates over 16 virtual nodes x 25 times: several versions per key.
        for e in Epoch(1)...4 {
            for v in UInt16(0)..<16 {
                for time in UInt64(0)..<25 where rng.next() % 2 == 0 || e == 1 {
                    let k = vnodeKey(v, time)
                    map[k] = randomBytes(&rng, 20)
                    try store.put(t, key: k, value: map[k]!, epoch: e)
                }
            }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        let before = map
        let snap = try store.snapshot(epoch: 4)
        var h = WatermarkHistory(prefix: 2)
        try store.setTableWatermark(t, key: be64(10), prefixLength: 2, epoch: 5)
        h.set(be64(10), at: 5)
        try store.put(t, key: vnodeKey(3, 2), value: [1], epoch: 5) // below it: hidden, dropped too
        map[vnodeKey(3, 2)] = [1]
        try await store.checkpoint(epoch: 5, metadata: [:])
        let hiddenBefore = try await storedVersions(store, table: t.raw).filter { referenceHides($0.key, wm: be64(10), prefix: 2) }.count
        #expect(hiddenBefore > 0, "seed \(seed): hidden versions are stored before compaction")

        try await store.compactUntilQuiescent()
        _ = try await store.collectGarbage(graceSeconds: 0)
        let universe = Array(map.keys)
        let bounds: [[UInt8]?] = [nil, vnodeKey(0, 0), vnodeKey(3, 5), vnodeKey(9, 12)]
        let pinnedHidden = try await storedVersions(store, table: t.raw).filter { referenceHides($0.key, wm: be64(10), prefix: 2) && $0.epoch <= 4 }
        #expect(pinnedHidden.count > 0, "seed \(seed): compaction under a snapshot @4 must keep the keys epoch 5 hides")
        try await expectReads(.snapshot(snap, t), universe: universe, bounds: bounds, expected: before,
                              "seed \(seed): pinned snapshot @4 after compaction and GC")
        try await expectReads(.store(store, t, at: 4), universe: universe, bounds: bounds, expected: before,
                              "seed \(seed): store reads at pinned epoch 4 after compaction and GC")
        try await expectReads(.store(store, t, at: 5), universe: universe, bounds: bounds, expected: h.visible(map, at: 5),
                              "seed \(seed): epoch 5 after compaction under the pin")
        snap.release()

        // Released: the next commit moves the safe epoch past 5, and compaction drops them.
        for v in UInt16(0)..<16 {
            let k = vnodeKey(v, 30)
            map[k] = randomBytes(&rng, 20)
            try store.put(t, key: k, value: map[k]!, epoch: 6)
        }
        try store.put(t, key: vnodeKey(0, 0), value: [2], epoch: 6) // hidden: never stored after compaction
        try store.put(t, key: vnodeKey(15, 24), value: [3], epoch: 6) // visible; L0 now spans every file
        map[vnodeKey(0, 0)] = [2]
        map[vnodeKey(15, 24)] = [3]
        try await store.checkpoint(epoch: 6, metadata: [:])
        try await store.compactUntilQuiescent()
        _ = try await store.collectGarbage(graceSeconds: 0)
        let stored = try await storedVersions(store, table: t.raw)
        let left = stored.filter { referenceHides($0.key, wm: be64(10), prefix: 2) }
        #expect(left.count == 0, "seed \(seed): \(left.count) hidden versions still stored after compaction without pins, e.g. \(left.prefix(3).map { "\($0.key)@\($0.epoch)" })")
        let visibleKeys = Set(h.visible(map, at: 6).keys), storedKeys = Set(stored.map(\.key))
        let extra = storedKeys.subtracting(visibleKeys).count, missing = visibleKeys.subtracting(storedKeys).count
        #expect(extra == 0 && missing == 0, "seed \(seed): stored keys must be the visible ones: \(extra) more, \(missing) missing")
        try await expectReads(.store(store, t, at: 6), universe: universe + [vnodeKey(0, 30)], bounds: bounds,
                              expected: h.visible(map, at: 6), "seed \(seed): epoch 6 after compaction")
        try await store.close()
    }

    /// A watermark over whole keys (increasing keys, prefix 0) or over the times of
    /// one virtual node (prefix 2) deletes whole files whose every key it hides in one
    /// `.dropHidden` task, before any merge: no bytes read or written, every other file kept.
    @Test(arguments: [0, 2])
    func dropHiddenDeletesWholeHiddenFiles(prefixLength p: Int) async throws {
        let seed = UInt64(0xF11E + p)
        var rng = SplitMix64(seed: seed)
        var o = Self.options(retention: 0)
        o.sst.targetFileSize = 4096
        o.compaction.targetFileSize = 4096
        o.compaction.baseLevelBytes = 1 << 20
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        let t = TableID(2)
        var map: [[UInt8]: [UInt8]] = [:]
        func key(_ i: UInt64) -> [UInt8] { p == 0 ? be64(i) : vnodeKey(UInt16(i / 400), i % 400) }
        for i in UInt64(0)..<1_200 {
            map[key(i)] = randomBytes(&rng, 24)
            try store.put(t, key: key(i), value: map[key(i)]!, epoch: 1)
        }
        try await store.checkpoint(epoch: 1, metadata: [:])
        try await store.compactUntilQuiescent()
        let files = store.currentVersion.allSsts
        #expect(files.count >= 8, "seed \(seed): 1200 keys of ~40 B must make several 4 KiB files, got \(files.count)")

        let wm = p == 0 ? be64(700) : be64(250)
        try store.setTableWatermark(t, key: wm, prefixLength: p, epoch: 2)
        try await store.checkpoint(epoch: 2, metadata: [:])
        // Expected from the file bounds alone: every key of the file hidden.
        func userKey(_ full: [UInt8]) -> [UInt8] { full.withUnsafeBytes { Array(FullKey.userKey($0)) } }
        let doomed = Set(files.filter { f in
            let lo = userKey(f.smallestKey), hi = userKey(f.largestKey)
            return map.keys.filter { !$0.lexicographicallyPrecedes(lo) && !hi.lexicographicallyPrecedes($0) }
                .allSatisfy { referenceHides($0, wm: wm, prefix: p) }
        }.map(\.id))
        #expect(doomed.count >= 2 && doomed.count < files.count, "seed \(seed): \(doomed.count) of \(files.count) files wholly hidden")

        let result = try await store.compactOnce()
        #expect(result?.task.kind == .dropHidden, "seed \(seed) prefix \(p): the first task after the watermark: \(String(describing: result?.task.kind))")
        if let r = result {
            #expect(Set(r.task.inputIDs) == doomed, "seed \(seed) prefix \(p): dropped \(r.task.inputIDs.count) files, expected \(doomed.count)")
            #expect(r.outputs.isEmpty && r.bytesRead == 0 && r.bytesWritten == 0, "seed \(seed) prefix \(p): a drop reads and writes nothing")
        }
        let remaining = Set(store.currentVersion.allSsts.map(\.id))
        #expect(remaining == Set(files.map(\.id)).subtracting(doomed), "seed \(seed) prefix \(p): exactly the hidden files are gone")
        var h = WatermarkHistory(prefix: p)
        h.set(wm, at: 2)
        let bounds: [[UInt8]?] = [nil, key(100), key(650), key(900)]
        try await expectReads(.store(store, t, at: 2), universe: Array(map.keys), bounds: bounds, expected: h.visible(map, at: 2),
                              "seed \(seed) prefix \(p): after the drop")
        // Nothing wholly hidden is left: the next pick is not another drop.
        let next = try await store.compactOnce()
        #expect(next?.task.kind != .dropHidden, "seed \(seed) prefix \(p): a second drop task: \(String(describing: next?.task.inputIDs))")
        try await store.close()
    }

    // MARK: tools

    /// The inspector's live data is what a read of the whole version at its committed
    /// epoch returns (`LiveData`): rows a watermark hides there are not live, rows a
    /// watermark of a later epoch would hide are.
    @Test func liveDataLeavesOutHiddenRows() async throws {
        let seed: UInt64 = 0x11FE
        var rng = SplitMix64(seed: seed)
        let objects = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: objects, options: Self.options())
        let t = TableID(1), u = TableID(2)
        var visible: [[UInt8]: [UInt8]] = [:]
        for i in UInt64(0)..<50 {
            let v = randomBytes(&rng, 1 + Int(rng.next() % 20))
            try store.put(t, key: be64(i), value: v, epoch: 1)
            if i >= 20 { visible[be64(i)] = v }
            let w = randomBytes(&rng, 3)
            try store.put(u, key: vnodeKey(UInt16(i % 4), i), value: w, epoch: 1)
            if i >= 30 { visible[vnodeKey(UInt16(i % 4), i)] = w }
        }
        try store.setTableWatermark(t, key: be64(20), epoch: 2)
        try store.setTableWatermark(u, key: be64(30), prefixLength: 2, epoch: 2)
        try store.put(u, key: [3], value: [1, 2], epoch: 2) // shorter than the prefix: live
        visible[[3]] = [1, 2]
        try await store.checkpoint(epoch: 2, metadata: [:])
        // Set at epoch 3, not committed: epoch 2 is what the inspector reads.
        try store.setTableWatermark(t, key: be64(40), epoch: 3)

        let inspector = StoreInspector(objectStore: objects)
        let live = try await inspector.liveData(try await inspector.currentVersion())
        #expect(live.epoch == 2, "seed \(seed): live data of epoch \(live.epoch)")
        #expect(live.keys == UInt64(visible.count), "seed \(seed): \(live.keys) live keys, \(visible.count) visible")
        let bytes = visible.reduce(0) { $0 + $1.key.count + $1.value.count }
        #expect(live.bytes == UInt64(bytes), "seed \(seed): \(live.bytes) live bytes, \(bytes) visible")
        try await store.close()
    }

    /// `StoreVerifier` replays the deltas up to each checkpoint and compares: a
    /// checkpoint that lost its table watermarks (a reopen from it would show hidden
    /// rows again) is a problem; the intact store is clean, also after compaction.
    @Test func verifierComparesCheckpointWatermarksWithTheDeltas() async throws {
        let seed: UInt64 = 0x7E21
        let objects = MemoryObjectStore()
        var o = Self.options(retention: 2, checkpointInterval: 4)
        o.sst.targetFileSize = 4096
        let store = try await StateStore.open(objectStore: objects, options: o)
        let t = TableID(1)
        for e in Epoch(1)...10 {
            for i in UInt64(0)..<40 { try store.put(t, key: be64(e * 100 + i), value: [UInt8(e)], epoch: e) }
            try store.setTableWatermark(t, key: be64(e * 60), epoch: e)
            try await store.checkpoint(epoch: e, metadata: [:])
            _ = try await store.compactOnce()
        }
        try await store.close()
        let clean = try await StoreVerifier.verify(objectStore: objects)
        #expect(clean.isClean, "seed \(seed): intact store: \(clean.problems.map(\.message))")

        let newest = objects.snapshot().keys.filter { $0.hasSuffix(".checkpoint") }.max()!
        let v = try ManifestCodec.decodeVersion(try await objects.get(newest), object: newest)
        #expect(!v.watermarks.isEmpty, "seed \(seed): \(newest) holds watermarks")
        let stripped = Version(sequence: v.sequence, writerID: v.writerID, committedEpoch: v.committedEpoch, safeEpoch: v.safeEpoch,
                               metadata: v.metadata, l0: v.l0, levels: v.levels, stats: v.stats, headDigest: v.headDigest,
                               lastCommit: v.lastCommit, compactors: v.compactors, watermarks: [])
        try await objects.put(newest, ManifestCodec.encode(stripped))
        let report = try await StoreVerifier.verify(objectStore: objects)
        #expect(report.problems.contains { $0.object == newest },
                "seed \(seed): a checkpoint without the watermarks its deltas set must be reported: \(report.problems.map(\.message))")
    }
}
