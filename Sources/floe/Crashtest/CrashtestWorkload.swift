import Floe
import FloeTesting

/// What `floe crashtest` derives from `(seed, iteration)` alone: the key universe,
/// the random streams of each iteration (workload, kill delay, failpoint skip)
/// and the store options of its worker. Nothing here depends on time or on the
/// store's contents, so an iteration replays the same choices.
struct CrashtestWorkload: Sendable {
    static let tables: [UInt32] = [1, 2]
    /// The table of window-like keys: `[0, shard]`, the window (`epoch / windowEpochs`,
    /// 8 bytes big-endian), a 4-byte serial. The worker closes old windows with a
    /// table watermark (prefix length 2, as a pipeline's virtual node), which the
    /// oracle records as deletes of the keys it hides.
    static let windowTable: UInt32 = 3
    /// Every table the workload writes and the checks scan.
    static let allTables = tables + [windowTable]
    static let windowEpochs: UInt64 = 4
    static let windowPrefixLength = 2

    static func windowKey(epoch: UInt64, shard: UInt8, serial: UInt32) -> StateKey {
        var k: [UInt8] = [0, shard]
        withUnsafeBytes(of: (epoch / windowEpochs).bigEndian) { k += $0 }
        withUnsafeBytes(of: serial.bigEndian) { k += $0 }
        return StateKey(table: windowTable, key: k)
    }

    /// The watermark that closes every window before the one before `epoch`'s: it
    /// rises with the epoch, and the keys an epoch writes stay above it.
    static func windowWatermark(epoch: UInt64) -> [UInt8] {
        let w = epoch / windowEpochs
        return withUnsafeBytes(of: (w > 0 ? w - 1 : 0).bigEndian) { Array($0) }
    }

    /// Whether `windowWatermark` bytes `watermark` hide window-table key `k`.
    static func hiddenByWindowWatermark(_ k: StateKey, _ watermark: [UInt8]) -> Bool {
        k.table == windowTable && k.key.count >= windowPrefixLength
            && k.key.dropFirst(windowPrefixLength).lexicographicallyPrecedes(watermark)
    }

    /// Keys in the universe, over both tables.
    let keyCount: Int

    /// Key `i` of the universe: table 1 or 2 by parity, user key `k<i/2>` with, for
    /// some, a `00` or `ff 01` byte suffix. So user keys are prefixes of others
    /// (`k1`, `k1\0`, `k10`) and hold bytes outside ASCII.
    func key(_ i: Int) -> StateKey {
        var k = Array("k\(i / 2)".utf8)
        switch i % 5 {
        case 0: k.append(0x00)
        case 1: k += [0xFF, 0x01]
        default: break
        }
        return StateKey(table: Self.tables[i % 2], key: k)
    }

    var universe: [StateKey] { (0..<keyCount).map(key) }

    /// The random streams of an iteration, each independent of the others.
    enum Stream: UInt64 {
        case workload = 1, killDelay = 2, failpointSkip = 3, storeOptions = 4, zombie = 5
    }

    static func rng(seed: UInt64, iteration: Int, _ stream: Stream) -> SplitMix64 {
        var g = SplitMix64(seed: seed)
        let a = g.next()
        var h = SplitMix64(seed: a ^ (UInt64(iteration) &* 0x9E37_79B9_7F4A_7C15) ^ (stream.rawValue << 56))
        return SplitMix64(seed: h.next())
    }

    /// The worker's store: tiny SSTs and levels so that a run of a few hundred
    /// milliseconds flushes, compacts several levels deep and garbage-collects;
    /// background compaction on; a short GC grace. The LSM shape (levels, size
    /// ratio) is the same for every iteration of a run; triggers, concurrency,
    /// compression and the manifest checkpoint interval vary by iteration.
    static func storeOptions(seed: UInt64, iteration: Int) -> StoreOptions {
        var rng = rng(seed: seed, iteration: iteration, .storeOptions)
        var o = CLILogging.storeOptions()
        o.sst.targetFileSize = 4096
        o.sst.blockSize = 512
        o.blockCacheBytes = 256 << 10
        o.metaCacheBytes = 256 << 10
        // One iteration in three spills: most of its epochs exceed a 1 KiB budget.
        o.memtableBudgetBytes = rng.next() % 3 == 0 ? 1 << 10 : 64 << 20
        o.manifestCheckpointInterval = [4, 8, 16][Int(rng.next() % 3)]
        var c = CompactionOptions()
        c.background = true
        c.maxConcurrentTasks = 1 + Int(rng.next() % 2)
        c.intraL0Lane = rng.next() % 2 == 0
        c.l0CompactionTrigger = 2 + Int(rng.next() % 3)
        c.intraL0Trigger = 4
        c.l0SlowdownSubLevels = 8
        c.l0StopSubLevels = 16
        c.baseLevelBytes = 8192
        c.targetFileSize = 4096
        c.levelSizeMultiplier = 3
        c.maxLevel = 4
        let codecs: [Compression] = [.none, .lz4, .zstd]
        c.levelCompression = [codecs[Int(rng.next() % 3)], codecs[Int(rng.next() % 3)]]
        // Half the iterations build a 2-byte prefix filter (`k1` of `k12`) into the
        // tables' SSTs, so the recovery check's prefix scans skip files by it.
        if rng.next() % 2 == 0 { for t in tables { o.prefixFilterLengths[TableID(t)] = 2 } }
        // Long enough for the point reads of this process (which do not pin) to finish.
        c.gcGraceSeconds = 0.5
        c.gcIntervalSeconds = 0.1
        o.compaction = c
        return o
    }

    /// The options the harness opens the recovered store with: background work off,
    /// so verification reads a still store.
    static var verifyOptions: StoreOptions {
        var o = CLILogging.storeOptions()
        o.compaction.background = false
        return o
    }

    /// The check of a recovered store against the oracle: every key of the
    /// universe, every table, opened with `verifyOptions`; diagnostics name the
    /// epoch that wrote a value.
    var recoveryCheck: RecoveryCheck {
        RecoveryCheck(universe: universe, tables: Self.allTables, options: Self.verifyOptions, writerEpoch: Self.writerEpoch)
    }

    /// First byte of a value that names its epoch.
    static let valueTag: UInt8 = 0xFE

    /// A value written at `epoch` by write number `serial`: 8% empty, some large,
    /// mostly 13...120 bytes starting with a tag byte, the epoch and the serial (so
    /// every write differs and a diagnostic can name the epoch that wrote a value).
    static func value(epoch: UInt64, serial: UInt32, _ rng: inout SplitMix64) -> [UInt8] {
        let roll = rng.next() % 100
        let count = roll < 8 ? 0 : roll < 14 ? 200 + Int(rng.next() % 800) : 13 + Int(rng.next() % 108)
        guard count > 0 else { return [] }
        var v = [valueTag]
        v.reserveCapacity(count)
        for i in 0..<8 { v.append(UInt8(truncatingIfNeeded: epoch >> (8 * UInt64(i)))) }
        for i in 0..<4 { v.append(UInt8(truncatingIfNeeded: serial >> (8 * UInt32(i)))) }
        // Half compressible filler, half random bytes.
        let r = rng.next()
        while v.count < count { v.append(r & 1 == 0 ? UInt8(v.count % 7) : UInt8(truncatingIfNeeded: rng.next())) }
        return Array(v.prefix(count))
    }

    /// The epoch a value of `value(epoch:serial:_:)` names, or nil for a short or foreign value.
    static func writerEpoch(of value: [UInt8]) -> UInt64? {
        guard value.count >= 13, value[0] == valueTag else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(value[1 + $1]) << (8 * UInt64($1)) }
    }
}
