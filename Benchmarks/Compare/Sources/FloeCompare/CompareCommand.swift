import ArgumentParser
import Floe
#if canImport(Glibc)
import Glibc
#endif

/// The comparison: every repetition runs every engine in turn (Floe, RocksDB,
/// LevelDB), each on a fresh directory, through the same phases.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the side-by-side comparison (the default command).")

    static let keySize = 16
    static let valueSize = 100

    @Option(help: "Keys to fill.") var num: Int = 2_000_000
    @Option(help: "Repetitions; engines are interleaved within each, and medians reported.") var reps: Int = 3
    @Option(help: "Writes per batch (Floe: per epoch); each batch is made durable.") var batchKeys: Int = 10_000
    @Option(help: "Gets per read phase (default: min(num, 1,000,000)).") var reads: Int?
    @Option(help: "Range reads in the seekrandom phase (default: reads / 10).") var seeks: Int?
    @Option(help: "Keys read after each seek.") var seekLength: Int = 100
    @Option(help: "Block cache MiB, for every engine.") var cacheMib: Int = 512
    @Option(help: "Parent directory of the stores (default: a fresh temp dir).") var dir: String?
    @Option(help: "Engines, comma-separated, in run order.") var engines: String = "floe,floe-obvious,rocksdb,leveldb"
    @Option(help: "Random seed of keys, values and reads.") var seed: UInt64 = 1
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Option(help: "Write bar charts as SVG to this file.") var svg: String?
    @Flag(help: "Keep the store directories instead of deleting each after its run.") var keep = false

    var readCount: Int { reads ?? min(num, 1_000_000) }
    var seekCount: Int { seeks ?? max(1, readCount / 10) }

    func validate() throws {
        guard num >= 2, num < Int(Int32.max) / 2 else { throw ValidationError("--num must be in 2..<1,073,741,823") }
        guard reps >= 1, batchKeys >= 1, readCount >= 1, seekCount >= 1, seekLength >= 1, cacheMib >= 1 else {
            throw ValidationError("--reps, --batch-keys, --reads, --seeks, --seek-length and --cache-mib must be positive")
        }
        guard !engineKinds.isEmpty else { throw ValidationError("--engines names none of \(EngineKind.allCases.map(\.rawValue).joined(separator: ", "))") }
        for name in engines.split(separator: ",") where EngineKind(rawValue: String(name)) == nil {
            throw ValidationError("unknown engine \(name); known: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    var engineKinds: [EngineKind] { engines.split(separator: ",").compactMap { EngineKind(rawValue: String($0)) } }

    func run() async throws {
        // Off the main actor: Floe's async calls would otherwise hop executors on every get.
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
        let kinds = engineKinds
        let base = dir ?? makeTempDirectory(prefix: "floe-compare")
        try makeDirectory(base)
        let keys = BenchKeys(count: num, keySize: Self.keySize, seed: seed)
        let values = BenchValues(size: Self.valueSize, seed: seed)
        let overwrite = WritePlan.overwrite(count: num, seed: seed, batchKeys: batchKeys)
        let finalState = FinalState(keys: keys, updates: overwrite)
        let ingested = UInt64(num * (Self.keySize + Self.valueSize)) + overwrite.ingestedBytes(keySize: Self.keySize, valueSize: Self.valueSize)
        let liveBytes = UInt64(finalState.liveKeys * (Self.keySize + Self.valueSize))
        let metrics = Metric.all(batchKeys: batchKeys, seekLength: seekLength)
        let machine = MachineInfo.current()

        say(describe(kinds, machine: machine, overwrite: overwrite, liveKeys: finalState.liveKeys))
        say("stores under \(base)\n")

        var runs: [[EngineKind: Figures]] = []
        var rocksVersion: String?
        for rep in 1...reps {
            var thisRep: [EngineKind: Figures] = [:]
            for kind in kinds {
                let storeDir = base + "/rep\(rep)-\(kind.rawValue)"
                guard listDirectory(storeDir).isEmpty else { throw ValidationError("\(storeDir) exists and is not empty") }
                removeTree(storeDir)
                let run = EngineRun(kind: kind, dir: storeDir, config: EngineConfig(cacheBytes: cacheMib << 20),
                                    command: self, keys: keys, values: values, overwrite: overwrite, finalState: finalState,
                                    ingestedBytes: ingested, liveBytes: liveBytes)
                let figures = try await run.execute()
                if kind == .rocksdb, rocksVersion == nil { rocksVersion = RocksDBEngine.version(inStoreDir: storeDir) }
                if !keep { removeTree(storeDir) }
                thisRep[kind] = figures
                say(progressLine(rep: rep, kind: kind, figures: figures, metrics: metrics))
            }
            runs.append(thisRep)
        }
        if !keep && dir == nil { removeTree(base) }

        let summary = Summary(metrics: metrics, engines: kinds, runs: runs)
        let versions = Versions(rocksdb: rocksVersion ?? "unknown", leveldb: LevelDBEngine.version,
                                floe: environment("FLOE_COMMIT") ?? "unknown", swift: environment("FLOE_SWIFT_VERSION") ?? "unknown")
        say("\nMedians of \(reps) repetition\(reps == 1 ? "" : "s"), \(NumberFormat.grouped(Double(num))) keys (\(Self.keySize) B keys, \(Self.valueSize) B values):\n")
        say(summary.table())
        say("\nversions: Floe \(versions.floe), RocksDB \(versions.rocksdb), LevelDB \(versions.leveldb), \(versions.swift)")
        say("machine: \(machine.cpus) CPUs (\(machine.cpuModel)), \(NumberFormat.fixed(machine.memoryGiB, 1)) GiB, Linux \(machine.kernel)")

        if let path = json {
            try writeFile(path, report(summary: summary, runs: runs, kinds: kinds, machine: machine, versions: versions,
                                       ingested: ingested, liveBytes: liveBytes, liveKeys: finalState.liveKeys).render() + "\n")
            say("json: \(path)")
        }
        if let path = svg {
            let chart = SVGChart(
                title: "Floe vs RocksDB \(versions.rocksdb) vs LevelDB \(versions.leveldb): medians of \(reps) run\(reps == 1 ? "" : "s")",
                subtitle: "\(NumberFormat.grouped(Double(num))) keys, 16 B keys + 100 B values, durable every \(NumberFormat.grouped(Double(batchKeys))) writes, \(cacheMib) MiB cache; \(machine.cpus) CPUs \(machine.cpuModel), \(utcTimestamp().prefix(10))",
                summary: summary)
            try writeFile(path, chart.render())
            say("svg: \(path)")
        }
    }

    /// What is measured and how, printed before the numbers.
    func describe(_ kinds: [EngineKind], machine: MachineInfo, overwrite: WritePlan, liveKeys: Int) -> String {
        let n = NumberFormat.grouped(Double(num))
        var lines = [
            "floe-compare: \(kinds.map(\.label).joined(separator: ", ")); \(reps) repetition\(reps == 1 ? "" : "s"), engines interleaved in each",
            "data: \(n) keys of \(Self.keySize) B (8-byte big-endian index*2 + filler), values of \(Self.valueSize) B (half compressible), filled in a pseudo-random order",
            "shared settings: block cache \(cacheMib) MiB, block size 4 KiB, bloom 10 bits/key; batches of \(NumberFormat.grouped(Double(batchKeys))) writes",
            "durability per batch:",
        ]
        for k in kinds { lines.append("  \(k.label): \(k.durability)") }
        lines.append("engine settings:")
        for k in kinds { lines.append("  \(k.label): \(k.settings)") }
        lines += [
            "phases per engine and repetition:",
            "  1. fill, in a child process of this binary; SIGKILLed right after its last durability point",
            "  2. reopen: open the store in this process and get the last-written key (ms until the get returns its value)",
            "  3. full scan twice (the first loads the caches; the second is reported)",
            "  4. readrandom: \(NumberFormat.grouped(Double(readCount))) gets of random written keys, 1 thread, then 2 threads (Floe: 2 child tasks; peers: 2 pthreads)",
            "  5. readmissing: \(NumberFormat.grouped(Double(readCount))) gets of never-written keys, 1 thread",
            "  6. seekrandom: \(NumberFormat.grouped(Double(seekCount))) range reads, each a fresh iterator (Floe: scan) seeking a random key and reading \(seekLength) keys",
            "  7. overwrite: \(NumberFormat.grouped(Double(overwrite.ops.count))) writes (\(num / 2) overwrites + \(num / 5) deletes of random filled keys), same batches and durability",
            "  8. quiesce: Floe compactUntilQuiescent + GC of superseded SSTs; RocksDB rocksdb_compact_range(all); LevelDB leveldb_compact_range(all); then a full scan must see \(NumberFormat.grouped(Double(liveKeys))) live keys",
            "write amp = bytes this engine's processes (fill child + this process) sent to the device, from /proc/PID/io write_bytes - cancelled_write_bytes, over ingested key+value bytes (deletes: key bytes); WAL, manifest and log files included",
            "space amp = apparent size of every file in the store directory after quiescence and close, over live key+value bytes",
        ]
        return lines.joined(separator: "\n")
    }

    func progressLine(rep: Int, kind: EngineKind, figures: Figures, metrics: [Metric]) -> String {
        let parts = metrics.compactMap { m in figures[m.id].map { "\(m.id) \(m.text($0))" } }
        return "rep \(rep) \(kind.label): " + parts.joined(separator: ", ")
    }

    struct Versions {
        var rocksdb: String
        var leveldb: String
        var floe: String
        var swift: String
    }

    func report(summary: Summary, runs: [[EngineKind: Figures]], kinds: [EngineKind], machine: MachineInfo, versions: Versions,
                ingested: UInt64, liveBytes: UInt64, liveKeys: Int) -> JSON {
        let medians: [(String, JSON)] = summary.metrics.map { m in
            var row: [(String, JSON)] = [("label", .string(m.label)), ("unit", .string(m.unit)), ("better", .string(m.better.rawValue))]
            for k in kinds { if let v = summary.medians[m.id]?[k] { row.append((k.rawValue, .number(v))) } }
            if let r = summary.ratio(m) { row.append(("floe_over_best_peer", .number(r))) }
            if let r = summary.ratio(m, of: .floeObvious) { row.append(("floe_obvious_over_best_peer", .number(r))) }
            return (m.id, .object(row))
        }
        let repsJSON: [JSON] = runs.enumerated().map { i, rep in
            var o: [(String, JSON)] = [("rep", .number(Double(i + 1)))]
            for k in kinds {
                guard let f = rep[k] else { continue }
                o.append((k.rawValue, .object(f.keys.sorted().map { ($0, .number(f[$0]!)) })))
            }
            return .object(o)
        }
        return .object([
            ("tool", .string("floe-compare")),
            ("date", .string(utcTimestamp())),
            ("machine", .object([("cpus", .number(Double(machine.cpus))), ("cpu_model", .string(machine.cpuModel)),
                                 ("memory_gib", .number(machine.memoryGiB)), ("kernel", .string(machine.kernel))])),
            ("versions", .object([("floe", .string(versions.floe)), ("rocksdb", .string(versions.rocksdb)),
                                  ("leveldb", .string(versions.leveldb)), ("swift", .string(versions.swift))])),
            ("config", .object([("num", .number(Double(num))), ("reps", .number(Double(reps))), ("batch_keys", .number(Double(batchKeys))),
                                ("reads", .number(Double(readCount))), ("seeks", .number(Double(seekCount))),
                                ("seek_length", .number(Double(seekLength))), ("cache_mib", .number(Double(cacheMib))),
                                ("key_bytes", .number(Double(Self.keySize))), ("value_bytes", .number(Double(Self.valueSize))),
                                ("block_bytes", .number(4096)), ("bloom_bits_per_key", .number(10)), ("seed", .number(Double(seed))),
                                ("ingested_bytes", .number(Double(ingested))), ("live_keys", .number(Double(liveKeys))),
                                ("live_bytes", .number(Double(liveBytes)))])),
            ("engines", .object(kinds.map { k in
                (k.rawValue, .object([("durability", .string(k.durability)), ("settings", .string(k.settings))]))
            })),
            ("methods", .object([
                ("write_amp", .string("(write_bytes - cancelled_write_bytes) from /proc/PID/io of the fill child (read after SIGKILL, before reaping) plus this process's delta from reopen on, over ingested key+value bytes")),
                ("space_amp", .string("apparent size of all files in the store directory after quiescence and close, over live key+value bytes")),
                ("reopen", .string("open in this process after the fill child was SIGKILLed, until a get of the last-written key returns its value")),
            ])),
            ("medians", .object(medians)),
            ("runs", .array(repsJSON)),
        ])
    }
}

/// The expected contents after the fill and the overwrite plan: the value index of
/// each key, or -1 when deleted.
struct FinalState: Sendable {
    let valueOf: [Int32]
    let liveKeys: Int

    init(keys: BenchKeys, updates: WritePlan) {
        var v = [Int32](repeating: -1, count: keys.count)
        for i in 0..<keys.count { v[keys.order(i)] = Int32(i) }
        for op in updates.ops { v[Int(op.key)] = op.value }
        valueOf = v
        liveKeys = v.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
    }
}
