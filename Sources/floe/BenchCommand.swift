import ArgumentParser
import Floe
#if canImport(Glibc)
import Glibc
#endif

/// `floe bench`: fill, point reads, missing reads, full scan and reopen, timed.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure fill, reads, scans and reopen on a store.")

    @Option(help: "Store directory (created; must be empty or absent). Default: a fresh temp dir.")
    var path: String?
    @Option(help: "Number of keys to fill.") var num: Int = 2_000_000
    @Option(help: "Keys per epoch; each epoch is checkpointed.") var epochKeys: Int = 10_000
    @Option(help: "Key size in bytes (>= 8).") var keySize: Int = 16
    @Option(help: "Value size in bytes.") var valueSize: Int = 100
    @Option(help: "Point reads per read phase.") var reads: Int = 1_000_000
    @Option(help: "Block compression: none, lz4, zstd.") var compression: String = "lz4"
    @Option(help: "Block cache bytes.") var cacheBytes: Int = 512 << 20
    @Option(help: "Uncommitted epochs allowed in flight during fill (1 = synchronous checkpoint).") var pipeline: Int = 2
    @Option(help: "Object store: dir or memory.") var store: String = "dir"
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Workload: default (fill, scan, reads, reopen) or overwrite (fill, 50% overwrites, 20% deletes, quiesce, verify).") var workload: String = "default"
    @Option(help: "Background compaction workers.") var compactionWorkers: Int = 1
    @Flag(help: "Disable the intra-L0 lane that runs beside a busy base level.") var noIntraL0Lane = false
    @Option(help: "overwrite: fail if uncompressed space amplification after quiescence exceeds this.") var maxSpaceAmp: Double?
    @Flag(help: "Disable background compaction (L0 then grows by one sub-level per epoch).") var noCompaction = false
    @Flag(help: "With --no-compaction: compact to quiescence after the fill and time it.") var compactAfterFill = false

    func validate() throws {
        guard keySize >= 8 else { throw ValidationError("--key-size must be at least 8") }
        guard num > 0, epochKeys > 0, reads >= 0 else { throw ValidationError("--num and --epoch-keys must be positive") }
        guard Compression(name: compression) != nil else { throw ValidationError("unknown --compression \(compression)") }
        guard ["dir", "memory"].contains(store) else { throw ValidationError("--store must be dir or memory") }
        guard compactionWorkers >= 1 else { throw ValidationError("--compaction-workers must be at least 1") }
        guard pipeline >= 1 else { throw ValidationError("--pipeline must be at least 1") }
        guard ["default", "overwrite"].contains(workload) else { throw ValidationError("--workload must be default or overwrite") }
    }

    func run() async throws {
        // Run off the main actor: otherwise every store call from this loop hops executors twice.
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
        var options = StoreOptions()
        options.sst.compression = Compression(name: compression)!
        options.blockCacheBytes = cacheBytes
        options.compaction.background = !noCompaction
        options.compaction.maxConcurrentTasks = compactionWorkers
        options.compaction.intraL0Lane = !noIntraL0Lane
        let dir = path ?? makeTempDir()
        let objectStore: any ObjectStore = store == "memory" ? MemoryObjectStore() : try LocalObjectStore(root: dir)
        let keys = BenchKeys(count: num, keySize: keySize, seed: seed)
        let values = BenchValues(size: valueSize, seed: seed)
        let table = TableID(1)
        print("floe bench: \(num) keys (\(keySize) B + \(valueSize) B), epochs of \(epochKeys), \(compression), store \(store == "memory" ? "memory" : dir)")

        var db = try await StateStore.open(objectStore: objectStore, options: options)
        if workload == "overwrite" {
            let w = OverwriteWorkload(keys: num, epochKeys: epochKeys, valueSize: valueSize, seed: seed, pipeline: pipeline, filler: values)
            let o = try await w.run(db, keyOf: keys.key)
            let st = o.stats!
            report("overwrite", ops: o.writes, seconds: o.seconds)
            print("quiesce      \(fmt(o.quiesceSeconds, 3)) s; \(st.compactions) compactions")
            print("verified     \(o.liveKeys) live keys by get and scan")
            print("write amp    \(fmt(st.writeAmplification, 2))  (flush \(st.flushWrittenBytes >> 20) MiB + compaction \(st.compactionWrittenBytes >> 20) MiB over \(st.ingestedBytes >> 20) MiB ingested)")
            let rawAmp = Double(st.sstRawBytes) / Double(max(1, o.liveRawBytes))
            print("space amp    \(fmt(Double(st.sstBytes) / Double(max(1, o.liveBytes)), 3)) on disk (\(st.sstBytes >> 20) MiB SST files over \(o.liveBytes >> 20) MiB live key+value bytes)")
            print("             \(fmt(rawAmp, 3)) uncompressed (\(st.sstRawBytes >> 20) MiB stored versions over \(o.liveRawBytes >> 20) MiB live versions)")
            print("worst stall  \(fmt(Double(st.worstStallMicros) / 1000, 1)) ms, total \(fmt(Double(st.stallMicros) / 1e6, 2)) s")
            print("shape        L0 \(st.l0SubLevels) sub-levels, levels \(st.levelFileCounts) files")
            try await db.close()
            if let limit = maxSpaceAmp, rawAmp > limit {
                throw ValidationError("uncompressed space amplification \(fmt(rawAmp, 3)) exceeds --max-space-amp \(limit)")
            }
            return
        }
        // fillrandom: keys in random order, one checkpoint per epoch, overlapped with the next epoch's writes.
        var epoch = db.committedEpoch
        var inflight: [Task<Void, Error>] = []
        let fill = try await Timer.measure {
            var i = 0
            while i < num {
                epoch += 1
                let end = min(num, i + epochKeys)
                while i < end {
                    try db.put(table, key: keys.key(keys.order(i)), value: values.value(i), epoch: epoch)
                    i += 1
                }
                try db.seal(epoch: epoch)
                if inflight.count >= pipeline { try await inflight.removeFirst().value }
                let e = epoch, prev = inflight.last, store = db
                inflight.append(Task {
                    let r = try await store.sync(epoch: e)
                    try await prev?.value
                    try await store.commit(epoch: e, r, metadata: ["bench.offset": Array(String(end).utf8)])
                })
            }
            for t in inflight { try await t.value }
        }
        report("fillrandom", ops: num, seconds: fill)
        let readEpoch = db.committedEpoch
        var q = 0
        let quiesce = try await Timer.measure { if !noCompaction || compactAfterFill { q = try await db.compactUntilQuiescent() } }
        let fst = db.statistics
        print("compaction   \(fst.compactions) tasks during fill, \(q) more to quiesce in \(fmt(quiesce, 3)) s; write amp \(fmt(fst.writeAmplification, 2)), worst stall \(fmt(Double(fst.worstStallMicros) / 1000, 1)) ms")
        print("shape        L0 \(fst.l0SubLevels) sub-levels, levels \(fst.levelFileCounts) files, \(fst.sstBytes / 1_048_576) MiB")

        // Warm the cache with one full scan, which is also the scan measurement.
        var scanned = 0
        let scan = try await Timer.measure {
            for try await _ in try await db.scan(table, from: nil, to: nil, epoch: readEpoch) { scanned += 1 }
        }
        guard scanned == num else { throw ValidationError("scan saw \(scanned) keys, expected \(num)") }
        report("scanall", ops: scanned, seconds: scan)
        scanned = 0
        let warmScan = try await Timer.measure {
            for try await _ in try await db.scan(table, from: nil, to: nil, epoch: readEpoch) { scanned += 1 }
        }
        report("scanwarm", ops: scanned, seconds: warmScan)
        scanned = 0
        let rowScan = try await Timer.measure {
            try await db.scan(table, from: nil, to: nil, epoch: readEpoch).forEachRow { _, _ in scanned += 1; return true }
        }
        report("scanrows", ops: scanned, seconds: rowScan)

        var rng = SplitMix64(seed: seed ^ 0xabc)
        var found = 0
        let rr = try await Timer.measure {
            for _ in 0..<reads {
                if try await db.get(table, key: keys.key(Int(rng.next() % UInt64(num))), epoch: readEpoch) != nil { found += 1 }
            }
        }
        guard found == reads else { throw ValidationError("readrandom found \(found) of \(reads)") }
        report("readrandom", ops: reads, seconds: rr)

        var missing = 0
        let rm = try await Timer.measure {
            for _ in 0..<reads {
                if try await db.get(table, key: keys.missingKey(Int(rng.next() % UInt64(num))), epoch: readEpoch) == nil { missing += 1 }
            }
        }
        guard missing == reads else { throw ValidationError("readmissing found \(reads - missing) keys that should be absent") }
        report("readmissing", ops: reads, seconds: rm)

        try await db.close()
        // Free the old instance (its caches) before timing, so the figure is the open alone.
        db = try await StateStore.open(objectStore: MemoryObjectStore(), options: options)
        let reopen = try await Timer.measure {
            db = try await StateStore.open(objectStore: objectStore, options: options)
        }
        guard db.committedEpoch == readEpoch else { throw ValidationError("reopen recovered epoch \(db.committedEpoch), expected \(readEpoch)") }
        print("reopen       " + fmt(reopen * 1000, 2) + " ms  (committed epoch \(readEpoch))")
        let st = db.statistics
        print("shape: \(st.l0SubLevels) L0 sub-levels, \(st.sstCount) SSTs, \(st.sstBytes / 1_048_576) MiB")
        try await db.close()
    }

    func report(_ name: String, ops: Int, seconds: Double) {
        let rate = Double(ops) / seconds
        let perOp = seconds * 1e6 / Double(ops)
        let label = name + String(repeating: " ", count: max(0, 12 - name.count))
        print("\(label) \(fmt(rate, 0)) ops/s  \(fmt(seconds, 3)) s  \(fmt(perOp, 3)) us/op")
    }

    func makeTempDir() -> String {
        var template = Array("/tmp/floe-bench-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { buf -> String in
            _ = mkdtemp(buf.baseAddress!)
            return String(decoding: buf.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// Deterministic benchmark keys: index -> fixed-size key; a permutation for random fill order.
struct BenchKeys {
    let count: Int
    let keySize: Int
    let seed: UInt64

    init(count: Int, keySize: Int, seed: UInt64) {
        self.count = count
        self.keySize = keySize
        self.seed = seed
    }

    /// Position i of a pseudo-random permutation of 0..<count (an LCG walk over a power of two, skipping overflow).
    func order(_ i: Int) -> Int {
        // Multiplicative permutation modulo a prime >= count would be cleaner; a bijective mix plus
        // cycle-walking keeps it exact for any count.
        var x = UInt64(i)
        let n = UInt64(count)
        repeat { x = mix(x) } while x >= n
        return Int(x)
    }

    private func mix(_ v: UInt64) -> UInt64 {
        // Bijection on [0, 2^bits): xor-shift and odd multiply, masked to the smallest power of two >= count.
        let bits = UInt64(64 - (UInt64(count) - 1).leadingZeroBitCount)
        let mask: UInt64 = bits >= 64 ? .max : (1 << bits) - 1
        var x = v & mask
        x = (x &* 0x9E37_79B9_7F4A_7C15 &+ seed) & mask
        x ^= x >> (bits / 2 + 1)
        x = (x &* 0xBF58_476D_1CE4_E5B9) & mask
        return x
    }

    /// Key i: big-endian index in 8 bytes, then filler to keySize.
    func key(_ i: Int) -> [UInt8] {
        var k = [UInt8](repeating: UInt8(ascii: "k"), count: keySize)
        let v = UInt64(i) &* 2
        for b in 0..<8 { k[b] = UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64(b))) }
        return k
    }

    /// A key that sorts among the existing ones but was never written (odd index).
    func missingKey(_ i: Int) -> [UInt8] {
        var k = key(i)
        k[7] |= 1
        return k
    }
}

/// Values of a fixed size cut from a buffer that is half random, half repeated, like db_bench's 0.5 ratio.
struct BenchValues {
    let size: Int
    let source: [UInt8]

    init(size: Int, seed: UInt64) {
        self.size = size
        var rng = SplitMix64(seed: seed)
        var s = [UInt8]()
        s.reserveCapacity(1 << 20 + size)
        while s.count < (1 << 20) + size {
            let chunk = (0..<max(1, size / 2)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 95 + 32) }
            s.append(contentsOf: chunk)
            s.append(contentsOf: [UInt8](repeating: chunk[0], count: max(1, size - size / 2)))
        }
        source = s
    }

    func value(_ i: Int) -> [UInt8] {
        let off = (i &* 97) % (1 << 20)
        return Array(source[off..<(off + size)])
    }
}

/// `v` with `digits` decimals.
func fmt(_ v: Double, _ digits: Int) -> String {
    NumberText.fixed(v, digits: digits)
}

enum Timer {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func measure(_ body: () async throws -> Void) async throws -> Double {
        let t0 = now()
        try await body()
        return now() - t0
    }
}
