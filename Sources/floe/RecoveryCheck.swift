import Floe

/// What the harness found when it reopened the store after a worker died, checked
/// against the oracle only (never against anything the store says about itself).
struct RecoveryReport {
    /// The recovered committed epoch R (nil when the store did not open).
    var recovered: UInt64?
    var lastAcked: UInt64
    var lastAttempted: UInt64
    var openEpoch: UInt64?
    /// Keys of the universe read with `get` at R, and rows returned by the full scans.
    var keysChecked = 0
    var rowsScanned = 0
    /// The other epoch the store could legitimately have recovered, and how many keys
    /// of the universe differ between its state and R's: what the exact comparison
    /// would have caught had that epoch been (partly) visible.
    var alternative: (epoch: UInt64, differingKeys: Int)?
    /// Committed epochs above R: acknowledged ones, and the verified base epoch when R is below it.
    var lostEpochs: [UInt64] = []
    /// The verified epoch this iteration started from (the oracle's base).
    var baseEpoch: UInt64 = 0
    /// Keys showing a value written by an epoch above R, or missing a write of an epoch at or below R.
    var partialKeys: [String] = []
    /// Keys with a value that belongs to no epoch of the history, or missing.
    var wrongKeys: [String] = []
    /// Everything else: R out of range or not attempted, metadata, scan order, read errors, `StoreVerifier` problems.
    var problems: [String] = []
    /// Total compactions the store's manifest counts.
    var compactions: UInt64 = 0
    /// Named checkpoints compared with the oracle's state at their epoch.
    var checkpointsChecked = 0
    /// The oracle's state and metadata at R, when R is an epoch of the history.
    var expected: (state: StoreState, metadata: [String: [UInt8]])?

    /// Clean only when the recovered state was actually compared with the oracle's
    /// (`expected` is set) and nothing differed: a state that could not be checked
    /// is never clean.
    var isClean: Bool {
        recovered != nil && expected != nil && lostEpochs.isEmpty && partialKeys.isEmpty && wrongKeys.isEmpty && problems.isEmpty
    }
}

/// The harness's check of a recovered store (`floe crashtest` step b and c).
enum RecoveryCheck {
    /// Opens the store at `storePath` in this process (background work off), then:
    /// R must satisfy `baseEpoch <= lastAcked <= R <= lastAttempted` and be an epoch
    /// the history can produce (below the verified base epoch is a lost committed
    /// epoch, whether or not this iteration acknowledged anything; any R whose state
    /// cannot be checked is a problem); `get` of every key of the universe and a full scan of every
    /// table at R must equal the oracle's state at R exactly; the committed metadata
    /// must equal the oracle's; and `StoreVerifier` (what `floe verify` runs) must
    /// find no problem.
    static func run(storePath: String, history: OracleHistory, workload: CrashtestWorkload) async -> RecoveryReport {
        var r = RecoveryReport(lastAcked: history.lastAcked, lastAttempted: history.lastAttempted, openEpoch: history.openEpoch)
        r.baseEpoch = history.baseEpoch
        let store: StateStore
        do {
            store = try await StateStore.open(objectStore: try LocalObjectStore(root: storePath), options: CrashtestWorkload.verifyOptions)
        } catch {
            r.problems.append("the store does not open: \(error)")
            return r
        }
        let epoch = store.committedEpoch
        r.recovered = epoch
        r.compactions = store.statistics.compactions
        // The base was verified in the store before this iteration: it is committed
        // too, and losing it counts even when this iteration acknowledged nothing.
        r.lostEpochs = (epoch < history.baseEpoch ? [history.baseEpoch] : []) + history.ackedEpochs(above: epoch)
        if epoch > history.lastAttempted {
            r.problems.append("recovered epoch \(epoch) is above the last epoch the worker attempted (\(history.lastAttempted))")
        }
        if let expected = history.state(at: epoch) {
            r.expected = expected
            await compare(store, epoch, expected, history, workload, &r)
        } else if epoch < history.baseEpoch {
            r.problems.append("recovered epoch \(epoch) is below the verified epoch \(history.baseEpoch) this iteration started from; "
                + "its state cannot be checked")
        } else if epoch <= history.lastAttempted {
            r.problems.append("recovered epoch \(epoch) is not an epoch of the history (it was aborted, or never attempted); "
                + "its state cannot be checked")
        }
        let named = store.checkpoints
        try? await store.close()
        await checkNamedCheckpoints(named, storePath: storePath, history: history, &r)
        do {
            let report = try await StoreVerifier.verify(objectStore: try LocalObjectStore(root: storePath, create: false))
            r.problems += report.problems.map { "floe verify: \($0)" }
        } catch {
            r.problems.append("floe verify: \(error)")
        }
        return r
    }

    /// Every named checkpoint the recovered store lists must open and hold exactly
    /// the oracle's state at its epoch (checkpoints of earlier iterations, below the
    /// base, were checked then and only need to open).
    private static func checkNamedCheckpoints(_ named: [CheckpointInfo], storePath: String, history: OracleHistory,
                                              _ r: inout RecoveryReport) async {
        for c in named {
            do {
                let reader = try await StateStore.openReadOnly(path: storePath, checkpoint: c.name, options: CrashtestWorkload.verifyOptions)
                let problem = try await checkpointProblem(reader, c, history.state(at: c.epoch))
                try? await reader.close()
                if let problem { r.problems.append("checkpoint \(c.name) (epoch \(c.epoch)): " + problem) }
                if problem == nil && history.state(at: c.epoch) != nil { r.checkpointsChecked += 1 }
            } catch {
                r.problems.append("checkpoint \(c.name): \(error)")
            }
        }
    }

    /// What is wrong with a named checkpoint opened as `reader`, nil if nothing.
    private static func checkpointProblem(_ reader: StateStore, _ c: CheckpointInfo,
                                          _ expected: (state: StoreState, metadata: [String: [UInt8]])?) async throws -> String? {
        guard reader.committedEpoch == c.epoch else { return "opens at epoch \(reader.committedEpoch)" }
        guard let expected else { return nil }
        if reader.committedMetadata != expected.metadata { return "metadata differs from the oracle's" }
        for t in CrashtestWorkload.allTables {
            let rows = try await WorkerSession.collect(reader.scan(TableID(t), from: nil, to: nil, epoch: c.epoch))
            let want = expected.state.filter { $0.key.table == t }.sorted { $0.key < $1.key }
            if rows.count != want.count || zip(rows, want).contains(where: { $0.key != $1.key.key || $0.value != $1.value }) {
                return "table \(t) holds \(rows.count) rows, the oracle \(want.count), or other values"
            }
        }
        return nil
    }

    private static func compare(_ store: StateStore, _ epoch: UInt64, _ expected: (state: StoreState, metadata: [String: [UInt8]]),
                                _ history: OracleHistory, _ workload: CrashtestWorkload, _ r: inout RecoveryReport) async {
        let universe = workload.universe
        var wrong = Set<StateKey>()
        func record(_ k: StateKey, _ got: [UInt8]?, _ how: String) {
            guard wrong.insert(k).inserted else { return }
            let want = expected.state[k]
            let key = "table \(k.table) key \(KeyText.printable(k.key))"
            if let later = history.writes(of: k, above: epoch).last(where: { $0.value == got }) {
                r.partialKeys.append("\(key) (\(how)) shows the \(got == nil ? "delete" : "write") of epoch \(later.epoch) > R; "
                    + "expected \(describe(want))")
            } else if let writer = history.lastWriter(of: k, atOrBelow: epoch), history.value(of: k, below: writer) == got {
                r.partialKeys.append("\(key) (\(how)) misses the \(want == nil ? "delete" : "write") of epoch \(writer) <= R: "
                    + "is \(describe(got)), expected \(describe(want))")
            } else {
                r.wrongKeys.append("\(key) (\(how)) is \(describe(got)), expected \(describe(want))")
            }
        }
        do {
            for k in universe {
                let got = try await store.get(TableID(k.table), key: k.key, epoch: epoch)
                r.keysChecked += 1
                if got != expected.state[k] { record(k, got, "get") }
            }
            for t in CrashtestWorkload.allTables {
                let rows = try await WorkerSession.collect(store.scan(TableID(t), from: nil, to: nil, epoch: epoch))
                r.rowsScanned += rows.count
                var seen = Set<[UInt8]>()
                for (i, row) in rows.enumerated() {
                    if i > 0 && !rows[i - 1].key.lexicographicallyPrecedes(row.key) {
                        r.problems.append("scan of table \(t) at \(epoch): key \(KeyText.printable(row.key)) is not above the previous key")
                    }
                    seen.insert(row.key)
                    let k = StateKey(table: t, key: row.key)
                    if expected.state[k] != row.value { record(k, row.value, "scan") }
                }
                for (k, _) in expected.state where k.table == t && !seen.contains(k.key) { record(k, nil, "scan") }
            }
            let engine = try await batchedAndPrefixReads(store, epoch, expected.state, universe)
            r.problems += engine.problems
            for (k, got, how) in engine.mismatches { record(k, got, how) }
        } catch {
            r.problems.append("reading the recovered store at epoch \(epoch): \(error)")
        }
        if store.committedMetadata != expected.metadata {
            r.problems.append("committed metadata \(describe(store.committedMetadata)) differs from the oracle's \(describe(expected.metadata))")
        }
        let other = epoch == history.openEpoch ? history.lastAcked : history.lastAttempted
        if other != epoch, let alt = history.state(at: other) {
            r.alternative = (other, universe.filter { alt.state[$0] != expected.state[$0] }.count)
        }
    }

    /// The engine-facing reads must agree with the oracle too: `getMany` of each
    /// table's keys in one batch, `scan(prefix:)` of every 1- to 3-byte prefix the
    /// universe holds (files skipped by key range and prefix filter), and a reverse
    /// scan of each prefix of 2 bytes.
    private static func batchedAndPrefixReads(_ store: StateStore, _ epoch: UInt64, _ state: StoreState, _ universe: [StateKey])
        async throws -> (problems: [String], mismatches: [(StateKey, [UInt8]?, String)]) {
        var r = (problems: [String](), mismatches: [(StateKey, [UInt8]?, String)]())
        for t in CrashtestWorkload.tables {
            let keys = universe.filter { $0.table == t }
            let got = try await store.getMany(TableID(t), keys: keys.map(\.key), epoch: epoch)
            for (k, v) in zip(keys, got) where v != state[k] { r.mismatches.append((k, v, "getMany")) }
            var prefixes = Set<[UInt8]>()
            for k in keys { for n in 1...3 where k.key.count >= n { prefixes.insert(Array(k.key.prefix(n))) } }
            for prefix in prefixes.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let want = state.filter { $0.key.table == t && $0.key.key.starts(with: prefix) }
                    .sorted { $0.key < $1.key }
                let rows = try await WorkerSession.collect(store.scan(TableID(t), prefix: prefix, epoch: epoch))
                if rows.count != want.count || zip(rows, want).contains(where: { $0.key != $1.key.key || $0.value != $1.value }) {
                    r.problems.append("scan(prefix: \(KeyText.printable(prefix))) of table \(t) at \(epoch): \(rows.count) rows, "
                        + "the oracle \(want.count), or other keys or values")
                }
                guard prefix.count == 2 else { continue }
                let reversed = try await store.scanReverse(TableID(t), prefix: prefix, epoch: epoch)
                if reversed.count != want.count || zip(reversed, want.reversed()).contains(where: { $0.key != $1.key.key || $0.value != $1.value }) {
                    r.problems.append("scanReverse(prefix: \(KeyText.printable(prefix))) of table \(t) at \(epoch): "
                        + "\(reversed.count) rows, the oracle \(want.count), or out of order")
                }
            }
        }
        return r
    }

    static func describe(_ v: [UInt8]?) -> String {
        guard let v else { return "absent" }
        let origin = CrashtestWorkload.writerEpoch(of: v).map { " (written at epoch \($0))" } ?? ""
        return KeyText.preview(v, limit: 12) + origin
    }

    static func describe(_ m: [String: [UInt8]]) -> String {
        "{" + m.sorted { $0.key < $1.key }.map { "\($0.key): \(KeyText.printable($0.value))" }.joined(separator: ", ") + "}"
    }
}
