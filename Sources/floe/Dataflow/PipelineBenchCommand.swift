import ArgumentParser
import Floe
import FloeDataflow

/// `floe pipeline bench`: the dataflow layer's figures (docs/benchmarks.md, "Dataflow").
struct PipelineBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the seeds' views: events/s with barriers and with checkpointing off, barrier-to-commit latency, restart time.",
        discussion: """
            Throughput: every query runs --repeat times over --events generated orders (and as many \
            payments), in-process from the deterministic generator, once with a barrier every \
            --barrier-interval-ms and once with checkpointing off (no barrier until the input ends, \
            then one commit). It prints medians and the ratio of the two. Latency is from a barrier's \
            injection to its epoch's commit, over every epoch of the runs with barriers; "in flight" \
            is the part until the last view acknowledged the barrier (sealing, the SST build and the \
            commit follow).

            Latency under load (--latency-rates): the throughput runs feed the input as fast as it \
            goes, so every core is busy and each commit shares them with the next epoch's rows. \
            These runs feed each stream at a fixed rate (orders/s, and as many payments/s) for \
            --latency-seconds, with barriers, --repeat times, and print the commit latency.

            Restart (--restart-keys): builds a store whose aggregation holds that many keys (one group \
            per order id), closes it, then measures open + pipeline start + first new committed epoch \
            on it (in-process), --repeat times.
            """)

    @Option(help: "Orders (and payments) per run.") var events: Int = 2_000_000
    @Option(help: "Runs per configuration (medians are printed).") var `repeat`: Int = 3
    @Option(help: "Instances of each stateful operator.") var parallelism: Int = 2
    @Option(help: "Source partitions.") var partitions: Int = 2
    @Option(name: .customLong("barrier-interval-ms"), help: "Barrier interval of the checkpointed runs.") var barrierIntervalMs: Int = 1000
    @Option(help: "Comma-separated queries (eo_order_revenue, eo_order_windows, eo_payment_match, all).")
    var queries: String = "eo_order_revenue,eo_order_windows,eo_payment_match,all"
    @Option(help: "Comma-separated input rates for the latency-under-load runs, orders/s (e.g. 100k,200k); empty: skip.")
    var latencyRates: String = ""
    @Option(help: "Length of each latency-under-load run in seconds.") var latencySeconds: Int = 15
    @Option(help: "Comma-separated key counts for the restart measurement (e.g. 1M,10M,20M); empty: skip.") var restartKeys: String = ""
    @Option(help: "Directory for the stores (default: a fresh one under /tmp, removed afterwards).") var dir: String?
    @Option(help: "Memtable budget in MiB (the runs without checkpoints hold the whole input in one epoch).") var memtableMib: Int = 6144
    @Option(help: "Cache of each stateful operator instance in MiB (PipelineOptions.cacheBytes).")
    var stateCacheMib: Int = PipelineOptions().cacheBytes >> 20

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func validate() throws {
        guard latencySeconds >= 1 else { throw ValidationError("--latency-seconds must be at least 1") }
        guard stateCacheMib >= 1, stateCacheMib <= 1 << 20 else { throw ValidationError("--state-cache-mib must be in 1...1048576") }
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    func execute() async throws {
        let root = try dir ?? makeTempDir(prefix: "floe-pbench")
        defer { if dir == nil { _ = try? removeTree(root) } }
        print("floe pipeline bench: \(events) orders and \(events) payments per run, parallelism \(parallelism), \(partitions) partitions, median of \(self.repeat)")
        print("query               | events/s, \(barrierIntervalMs) ms barriers | events/s, no checkpoints | ratio | p50 commit ms | p99 commit ms | p50 / p99 in flight ms")
        var run = 0
        for query in queries.split(separator: ",").map(String.init) {
            let names = try EoViews.names(query)
            var with: [Double] = [], without: [Double] = [], latencies: [Double] = [], flight: [Double] = []
            for _ in 0..<self.repeat {
                for checkpointed in [true, false] {
                    run += 1
                    var storeOptions = StoreOptions()
                    storeOptions.memtableBudgetBytes = memtableMib << 20
                    let r = try await runToEnd(try builder(names, events: UInt64(events)), path: "\(root)/run\(run)",
                                               barrierMs: checkpointed ? barrierIntervalMs : 86_400_000, storeOptions: storeOptions)
                    let rate = Double(r.eventsIn) / r.seconds
                    if checkpointed {
                        with.append(rate)
                        latencies += r.commitLatencyMillis
                        flight += r.barrierLatencyMillis
                    } else {
                        without.append(rate)
                    }
                }
            }
            func q(_ x: Double, _ v: [Double] = latencies) -> String { Self.quantile(v, x) }
            let a = Self.median(with), b = Self.median(without)
            print("\(query + String(repeating: " ", count: max(0, 19 - query.count))) | \(NumberText.fixed(a / 1e6, digits: 3))M | \(NumberText.fixed(b / 1e6, digits: 3))M | \(NumberText.fixed(a / b, digits: 2)) | \(q(0.5)) | \(q(0.99)) | \(q(0.5, flight)) / \(q(0.99, flight))  (runs: \(with.map { NumberText.fixed($0 / 1e6, digits: 3) }.joined(separator: " ")) / \(without.map { NumberText.fixed($0 / 1e6, digits: 3) }.joined(separator: " ")); \(latencies.count) epochs)")
        }
        if !latencyRates.isEmpty {
            print("latency under load: \(latencySeconds) s per run, \(barrierIntervalMs) ms barriers")
            print("query               | orders/s | events/s read | p50 commit ms | p99 commit ms | p50 / p99 in flight ms")
        }
        for query in latencyRates.isEmpty ? [] : queries.split(separator: ",").map(String.init) {
            let names = try EoViews.names(query)
            for text in latencyRates.split(separator: ",") {
                guard let rate = Self.count(String(text)), rate > 0 else { throw ValidationError("--latency-rates: \(text) is not a rate like 100k") }
                var latencies: [Double] = [], flight: [Double] = [], rates: [Double] = []
                for _ in 0..<self.repeat {
                    run += 1
                    let b = try builder(names, events: UInt64(rate * latencySeconds), rate: Double(rate))
                    let r = try await runToEnd(b, path: "\(root)/run\(run)", barrierMs: barrierIntervalMs)
                    latencies += r.commitLatencyMillis
                    flight += r.barrierLatencyMillis
                    rates.append(Double(r.eventsIn) / r.seconds)
                }
                func q(_ x: Double, _ v: [Double]) -> String { Self.quantile(v, x) }
                print("\(query + String(repeating: " ", count: max(0, 19 - query.count))) | \(text) | \(NumberText.fixed(Self.median(rates) / 1e6, digits: 3))M | \(q(0.5, latencies)) | \(q(0.99, latencies)) | \(q(0.5, flight)) / \(q(0.99, flight))  (\(latencies.count) epochs)")
            }
        }
        for text in restartKeys.split(separator: ",") {
            guard let keys = Self.count(String(text)) else { throw ValidationError("--restart-keys: \(text) is not a count like 1M") }
            let path = "\(root)/restart-\(keys)"
            try await fillKeyed(path: path, keys: keys)
            var times: [Double] = []
            for i in 0..<self.repeat {
                let start = ContinuousClock.now
                let store = try await StateStore.open(path: path)
                var options = PipelineOptions()
                options.cacheBytes = stateCacheMib << 20
                options.parallelism = parallelism
                options.barrierIntervalMillis = 10
                options.maxEpochs = 1
                let more = try keyedBuilder(events: UInt64(keys) + UInt64((i + 1) * 1000))
                let r = try await Pipeline(store: store, builder: more, options: options).run()
                let d = ContinuousClock.now - start
                try await store.close()
                guard r.endEpoch > r.startEpoch else { throw ValidationError("the restart committed no epoch") }
                times.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
            }
            print("restart to first new committed epoch, \(text) keys of state: median \(NumberText.fixed(Self.median(times), digits: 1)) ms (runs: \(times.map { NumberText.fixed($0, digits: 1) }.joined(separator: " ")))")
            try removeTree(path)
        }
    }

    /// The queries `names` over `events` generated orders (and payments), at
    /// `rate` of each per second (0: as fast as possible).
    func builder(_ names: [String], events: UInt64, rate: Double = 0) throws -> PipelineBuilder {
        let b = PipelineBuilder()
        let orders = b.source(try GeneratorSource(generator: EoGenerator(stream: .orders, seed: 1), partitions: partitions, events: events,
                                                  eventsPerSecond: rate))
        let payments = names.contains(EoViews.paymentMatch)
            ? b.source(try GeneratorSource(generator: EoGenerator(stream: .payments, seed: 1), partitions: partitions, events: events,
                                           eventsPerSecond: rate)) : nil
        try EoViews.add(names, to: b, orders: orders, payments: payments)
        return b
    }

    /// One group per order id: as many state keys as orders.
    func keyedBuilder(events: UInt64) throws -> PipelineBuilder {
        let b = PipelineBuilder()
        let orders = b.source(try GeneratorSource(generator: EoGenerator(stream: .orders, seed: 1), partitions: partitions, events: events))
        let agg = try b.aggregate(orders, groupBy: ["order_id"], [.sum("amount", as: "amount")])
        try b.materialize(agg, as: "by_order", primaryKey: ["order_id"])
        return b
    }

    /// Runs `builder` until its input ends on a new store at `path` (removed
    /// afterwards unless `keep`), with the command's cache and parallelism.
    func runToEnd(_ builder: PipelineBuilder, path: String, barrierMs: Int, storeOptions: StoreOptions = StoreOptions(),
                  keep: Bool = false) async throws -> PipelineReport {
        let store = try await StateStore.open(path: path, options: storeOptions)
        var options = PipelineOptions()
        options.cacheBytes = stateCacheMib << 20
        options.parallelism = parallelism
        options.untilEnd = true
        options.barrierIntervalMillis = barrierMs
        let r = try await Pipeline(store: store, builder: builder, options: options).run()
        try await store.close()
        if !keep { try removeTree(path) }
        return r
    }

    /// The `q` quantile of `values` in milliseconds, one decimal ("-": none).
    static func quantile(_ values: [Double], _ q: Double) -> String {
        PipelineReport.quantile(values, q).map { NumberText.fixed($0, digits: 1) } ?? "-"
    }

    func fillKeyed(path: String, keys: Int) async throws {
        let r = try await runToEnd(try keyedBuilder(events: UInt64(keys)), path: path, barrierMs: barrierIntervalMs, keep: true)
        print("filled \(keys) keys in \(NumberText.fixed(r.seconds, digits: 1)) s (\(r.endEpoch) epochs)")
    }

    /// `1M`, `500k`, `2000`.
    static func count(_ text: String) -> Int? {
        let t = text.lowercased()
        if t.hasSuffix("m") { return Int(t.dropLast()).map { $0 * 1_000_000 } }
        if t.hasSuffix("k") { return Int(t.dropLast()).map { $0 * 1000 } }
        return Int(t)
    }
}
