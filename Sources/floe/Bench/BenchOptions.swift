import ArgumentParser
import Floe
import FloeTesting
import FloeS3

/// Every option of `floe bench`, shared with the hidden recovery child (which
/// must build its store exactly as the parent asked).
struct BenchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Comma-separated benchmarks, run in order on one store (see the list above).",
                               valueName: "a,b,c"))
    var benchmarks: String?
    @Option(help: "Without --benchmarks: default (fillrandom,compact,scanall,readrandom,readmissing,reopen) or overwrite (the overwrite benchmark).")
    var workload: String = "default"

    @Option(help: "Store directory (created if absent) or URL (s3://bucket/prefix?..., docs/s3.md). Default: a fresh temp dir, removed at the end.") var path: String?
    @Option(help: "Object store: dir, memory, or s3sim (a directory behind a latency model of S3: --sim-*; recovery always uses directories of its own).")
    var store: String = "dir"
    @Option(help: "s3sim: time to first byte of a GET or HEAD, milliseconds.") var simGetMs: Double = LatencyModelObjectStore.Model.s3.readLatencySeconds * 1000
    @Option(help: "s3sim: latency of a PUT or DELETE, milliseconds.") var simPutMs: Double = LatencyModelObjectStore.Model.s3.writeLatencySeconds * 1000
    @Option(help: "s3sim: bandwidth of one request, MB/s.") var simMbPerSec: Double = LatencyModelObjectStore.Model.s3.bytesPerSecond / 1e6
    @Option(help: "s3sim: requests in flight at once (a connection pool).") var simRequests: Int = LatencyModelObjectStore.Model.s3.maxConcurrentRequests
    @Option(help: "s3sim: a local disk cache of SST ranges in this directory (as the cache-dir URL parameter, docs/s3.md), 1 GiB, written through.")
    var simCacheDir: String?
    @Option(help: "Number of keys (fills, key space of reads and overwrites, writes of checkpoint).") var num: Int = 2_000_000
    @Option(help: "Key size in bytes (>= 8).") var keySize: Int = 16
    @Option(help: "Value size in bytes.") var valueSize: Int = 100
    @Option(help: "Keys per epoch; each epoch is checkpointed.") var epochKeys: Int = 10_000
    @Option(help: "Fills: also end an epoch after this many milliseconds (epochs by time, as a stream engine's barriers).")
    var epochMs: Int?
    @Option(help: "Uncommitted epochs in flight while writing (1 = synchronous checkpoint).") var pipeline: Int = 2
    @Option(help: "Gets per read benchmark (split across --threads readers).") var reads: Int = 1_000_000
    @Option(help: "Concurrent reader tasks for the read benchmarks and readwhilewriting.") var threads: Int = 1
    @Option(help: "Scans per seekrandom or seekreverse. Default: --reads / 10.") var seeks: Int?
    @Option(help: "Rows read per seekrandom or seekreverse scan.") var scanKeys: Int = 100
    @Option(help: "checkpoint: target ingest rate, keys/s.") var rate: Int = 200_000
    @Option(help: ArgumentHelp("recovery: state sizes in keys (K and M suffixes allowed).", valueName: "n,n,..."))
    var recoverySizes: String = "1000000,5000000"
    @Option(help: "recovery: kills and reopens per size (each with a fresh child fill); with more than one, a median row per size follows.")
    var recoveryRepeat: Int = 1

    @Option(help: "Block compression for flushes and every level: none, lz4, zstd. Default: the store's (lz4; zstd from L5).")
    var compression: String?
    @Option(help: "Target uncompressed data block size, bytes.") var blockSize: Int = SstWriterOptions().blockSize
    @Option(help: "Bloom filter bits per key (0 disables the filter).") var bloomBits: Int = SstWriterOptions().bloomBitsPerKey
    @Option(help: "Block cache size (bytes; K, M, G suffixes are powers of 1024).") var cacheBytes: ByteCount = ByteCount(512 << 20)
    @Option(help: "The largest read-ahead of a long scan (StoreOptions.scanReadAheadBytes; 4M suits S3), at least 16K.")
    var scanReadAhead: ByteCount = ByteCount(StoreOptions().scanReadAheadBytes)
    @Option(help: "Memtable budget (bytes; K, M, G suffixes). An epoch larger than it is spilled to SSTs before its commit (StoreOptions.spillOpenEpochs).")
    var memtableBudget: ByteCount = ByteCount(512 << 20)
    @Option(help: "Background compaction workers.") var compactionWorkers: Int = 1
    @Option(help: "Nice value (0...19) of the compaction threads; 0 shares the CPU evenly with writers and readers.")
    var compactionNice: Int = CompactionOptions().threadNice
    @Flag(help: "Disable the intra-L0 lane that runs beside a busy base level.") var noIntraL0Lane = false
    @Option(name: .customLong("l0-slowdown"), help: "L0 sub-levels at which commits start to slow down.")
    var l0Slowdown: Int = CompactionOptions().l0SlowdownSubLevels
    @Option(name: .customLong("l0-stop"), help: "L0 sub-levels at which commits wait for compaction.")
    var l0Stop: Int = CompactionOptions().l0StopSubLevels
    @Flag(help: "Disable background compaction (L0 then grows by one sub-level per epoch).") var noCompaction = false
    @Flag(help: "Run compact after every fill benchmark (the default list already does unless --no-compaction).")
    var compactAfterFill = false
    @Option(help: "overwrite: fail if uncompressed space amplification after quiescence exceeds this.") var maxSpaceAmp: Double?
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Also write the results as JSON to this file.", valueName: "file")) var json: String?

    func validate() throws {
        do {
            _ = try benchmarkList()
            _ = try recoverySizeList()
            guard (1...100).contains(recoveryRepeat) else { throw BenchOptionError("--recovery-repeat must be in 1...100") }
        } catch let e as BenchOptionError {
            throw ValidationError(e.description)
        }
        guard ["default", "overwrite"].contains(workload) else { throw ValidationError("--workload must be default or overwrite") }
        guard benchmarks == nil || workload == "default" else { throw ValidationError("give --benchmarks or --workload, not both") }
        guard keySize >= 8, keySize <= 1 << 16 else { throw ValidationError("--key-size must be in 8...65536") }
        guard valueSize >= 0, valueSize <= 1 << 24 else { throw ValidationError("--value-size must be in 0...16777216") }
        guard num > 0 else { throw ValidationError("--num must be positive") }
        guard epochKeys > 0 else { throw ValidationError("--epoch-keys must be positive") }
        guard pipeline >= 1 else { throw ValidationError("--pipeline must be at least 1") }
        guard reads >= 0 else { throw ValidationError("--reads must not be negative") }
        guard (1...1024).contains(threads) else { throw ValidationError("--threads must be in 1...1024") }
        guard seeks.map({ $0 >= 0 }) ?? true else { throw ValidationError("--seeks must not be negative") }
        guard scanKeys >= 1 else { throw ValidationError("--scan-keys must be at least 1") }
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
        guard compression.map({ Compression(name: $0) != nil }) ?? true else {
            throw ValidationError("unknown --compression \(compression!); use none, lz4 or zstd")
        }
        guard blockSize >= 64, blockSize <= 1 << 24 else { throw ValidationError("--block-size must be in 64...16777216") }
        guard (0...64).contains(bloomBits) else { throw ValidationError("--bloom-bits must be in 0...64") }
        guard ["dir", "memory", "s3sim"].contains(store) else { throw ValidationError("--store must be dir, memory or s3sim") }
        guard simGetMs >= 0, simPutMs >= 0 else { throw ValidationError("--sim-get-ms and --sim-put-ms must not be negative") }
        guard simMbPerSec > 0 else { throw ValidationError("--sim-mb-per-sec must be positive") }
        guard simRequests >= 1 else { throw ValidationError("--sim-requests must be at least 1") }
        guard scanReadAhead.bytes >= 16 << 10 else { throw ValidationError("--scan-read-ahead must be at least 16K") }
        guard simCacheDir == nil || store == "s3sim" else { throw ValidationError("--sim-cache-dir needs --store s3sim") }
        if store == "s3sim", let path, (try? FloeStoreURL.localPath(path)) == nil {
            throw ValidationError("--store s3sim models S3 over a local directory; give --path a directory, not a URL")
        }
        guard epochMs.map({ $0 >= 1 }) ?? true else { throw ValidationError("--epoch-ms must be at least 1") }
        guard compactionWorkers >= 1 else { throw ValidationError("--compaction-workers must be at least 1") }
        guard (0...19).contains(compactionNice) else { throw ValidationError("--compaction-nice must be in 0...19") }
        let trigger = CompactionOptions().l0CompactionTrigger
        guard l0Slowdown >= trigger, l0Stop >= l0Slowdown else {
            throw ValidationError("need \(trigger) (the L0 compaction trigger) <= --l0-slowdown <= --l0-stop")
        }
        if let m = maxSpaceAmp {
            guard m > 0 else { throw ValidationError("--max-space-amp must be positive") }
            guard (try? benchmarkList().contains(.overwrite)) == true else {
                throw ValidationError("--max-space-amp applies to the overwrite benchmark, which this run does not include")
            }
        }
    }

    /// The benchmarks to run, in order.
    func benchmarkList() throws -> [BenchmarkName] {
        guard let text = benchmarks else {
            if workload == "overwrite" { return [.overwrite] }
            let compact: [BenchmarkName] = noCompaction && !compactAfterFill ? [] : [.compact]
            return [.fillrandom] + compact + [.scanall, .readrandom, .readmissing, .reopen]
        }
        let list = try BenchmarkName.parseList(text)
        guard compactAfterFill else { return list }
        var out: [BenchmarkName] = []
        for (i, b) in list.enumerated() {
            out.append(b)
            if b == .fillseq || b == .fillrandom, i + 1 == list.count || list[i + 1] != .compact { out.append(.compact) }
        }
        return out
    }

    /// `--recovery-sizes` as key counts.
    func recoverySizeList() throws -> [Int] {
        var out: [Int] = []
        for part in recoverySizes.split(separator: ",") {
            let t = part.trimmingSpaces
            guard let n = Self.count(t), n > 0 else {
                throw BenchOptionError("--recovery-sizes: '\(t)' is not a positive key count (e.g. 1000000 or 1M)")
            }
            out.append(n)
        }
        guard !out.isEmpty else { throw BenchOptionError("--recovery-sizes is empty") }
        return out
    }

    /// `1000000`, `1_000_000`, `500K`, `5M`: decimal key counts.
    static func count(_ text: String) -> Int? {
        var t = text.filter { $0 != "_" }
        var scale = 1
        switch t.last {
        case "K", "k": scale = 1_000
        case "M", "m": scale = 1_000_000
        case "G", "g": scale = 1_000_000_000
        default: break
        }
        if scale > 1 { t.removeLast() }
        guard let n = Int(t) else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : v
    }

    var seekCount: Int { seeks ?? max(1, reads / 10) }

    /// The latency model of `--store s3sim`.
    var simModel: LatencyModelObjectStore.Model {
        var m = LatencyModelObjectStore.Model.s3
        m.readLatencySeconds = simGetMs / 1000
        m.writeLatencySeconds = simPutMs / 1000
        m.bytesPerSecond = simMbPerSec * 1e6
        m.maxConcurrentRequests = simRequests
        return m
    }

    /// The store's options as these flags ask.
    func storeOptions() -> StoreOptions {
        var o = CLILogging.storeOptions()
        if let name = compression, let c = Compression(name: name) {
            o.sst.compression = c
            o.compaction.levelCompression = [c]
        }
        o.sst.blockSize = blockSize
        o.sst.bloomBitsPerKey = bloomBits
        o.blockCacheBytes = cacheBytes.bytes
        o.scanReadAheadBytes = scanReadAhead.bytes
        o.memtableBudgetBytes = memtableBudget.bytes
        o.compaction.background = !noCompaction
        o.compaction.maxConcurrentTasks = compactionWorkers
        o.compaction.threadNice = compactionNice
        o.compaction.intraL0Lane = !noIntraL0Lane
        o.compaction.l0SlowdownSubLevels = l0Slowdown
        o.compaction.l0StopSubLevels = l0Stop
        return o
    }

    /// The flags that shape the store and the fill, for a child process that must write like this one.
    func childArguments() -> [String] {
        var a = [
            "--key-size", String(keySize), "--value-size", String(valueSize), "--epoch-keys", String(epochKeys),
            "--pipeline", String(pipeline), "--block-size", String(blockSize), "--bloom-bits", String(bloomBits),
            "--cache-bytes", String(cacheBytes.bytes), "--memtable-budget", String(memtableBudget.bytes),
            "--compaction-workers", String(compactionWorkers),
            "--compaction-nice", String(compactionNice), "--l0-slowdown", String(l0Slowdown), "--l0-stop", String(l0Stop),
            "--seed", String(seed),
        ]
        if let c = compression { a += ["--compression", c] }
        if noIntraL0Lane { a.append("--no-intra-l0-lane") }
        if noCompaction { a.append("--no-compaction") }
        return a
    }

    /// The options as a JSON object, for `--json`.
    func json(benchmarks list: [BenchmarkName], storeDescription: String) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("benchmarks", .array(list.map { .string($0.rawValue) })),
            ("num", .int(Int64(num))), ("key_size", .int(Int64(keySize))), ("value_size", .int(Int64(valueSize))),
            ("epoch_keys", .int(Int64(epochKeys))), ("pipeline", .int(Int64(pipeline))),
            ("reads", .int(Int64(reads))), ("threads", .int(Int64(threads))), ("seeks", .int(Int64(seekCount))),
            ("scan_keys", .int(Int64(scanKeys))),
            ("compression", .string(compression ?? "default")), ("block_size", .int(Int64(blockSize))),
            ("bloom_bits", .int(Int64(bloomBits))), ("cache_bytes", .int(Int64(cacheBytes.bytes))), ("memtable_budget", .int(Int64(memtableBudget.bytes))),
            ("compaction", .bool(!noCompaction)), ("compaction_workers", .int(Int64(compactionWorkers))),
            ("intra_l0_lane", .bool(!noIntraL0Lane)), ("l0_slowdown", .int(Int64(l0Slowdown))), ("l0_stop", .int(Int64(l0Stop))), ("store", .string(storeDescription)), ("seed", .uint(seed)),
        ]
        if list.contains(.checkpoint) { fields.append(("rate", .int(Int64(rate)))) }
        if list.contains(.recovery), let sizes = try? recoverySizeList() {
            fields.append(("recovery_sizes", .array(sizes.map { .int(Int64($0)) })))
        }
        return .object(fields)
    }
}

/// A byte count on the command line: `536870912`, `512M`, `1G` (suffixes are powers of 1024).
struct ByteCount: ExpressibleByArgument, Sendable {
    let bytes: Int

    init(_ bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        var t = argument.filter { $0 != "_" }
        var shift = 0
        if t.hasSuffix("iB") || t.hasSuffix("B") { t.removeLast(t.hasSuffix("iB") ? 2 : 1) }
        switch t.last {
        case "K", "k": shift = 10
        case "M", "m": shift = 20
        case "G", "g": shift = 30
        default: break
        }
        if shift > 0 { t.removeLast() }
        guard let n = Int(t), n >= 0, n <= Int.max >> shift else { return nil }
        bytes = n << shift
    }

    var defaultValueDescription: String {
        for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] where bytes > 0 && bytes % (1 << shift) == 0 {
            return String(bytes >> shift) + unit
        }
        return String(bytes)
    }
}
