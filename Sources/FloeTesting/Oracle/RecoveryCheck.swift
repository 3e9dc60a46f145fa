import Floe

/// The check of a store recovered after a crash (a kill, a power cut, a failed
/// commit) against an `OracleHistory`: what `floe crashtest` runs after every
/// iteration, and what an engine runs on its own workload's store.
///
/// `run` opens the store (background work off), then requires of the recovered
/// epoch R:
/// - `baseEpoch <= lastAcked <= R <= lastAttempted`, and R an epoch the history
///   can produce (a lost committed epoch, or an R whose state cannot be checked,
///   is a failure);
/// - a full scan of every table in `tables`, `get` and `getMany` of every key of
///   `universe`, and `scan(prefix:)` of every 1- to 3-byte prefix of the universe
///   (2-byte ones also with `scanReverse`) equal the oracle's state at R exactly;
/// - the committed metadata equal the oracle's at R;
/// - every named checkpoint open and hold the oracle's state at its epoch;
/// - `floe verify` (the store verifier) find no problem.
///
/// Each key that differs is classified once (`judge` says how) as a partially
/// visible epoch (`RecoveryReport.partialKeys`: a write of an epoch above R
/// shows, or one at or below R is missing, deletes included) or as a wrong value
/// (`wrongKeys`: a value of an aborted epoch, or of none). Never throws: every
/// failure is in the report.
public struct RecoveryCheck: Sendable {
    /// Keys read one by one and in batches, and whose prefixes are scanned.
    public var universe: [StateKey]
    /// Tables scanned whole: their rows must be exactly the oracle's.
    public var tables: [UInt32]
    /// How the recovered store and its named checkpoints are opened. Keep
    /// background compaction off, so the check reads a still store.
    public var options: StoreOptions
    /// The epoch that wrote a value, when the workload's values name it: shown
    /// in diagnostics only.
    public var writerEpoch: @Sendable ([UInt8]) -> UInt64?

    /// `tables` defaults to the tables of `universe`; `options` to default
    /// options with background compaction off.
    public init(universe: [StateKey], tables: [UInt32]? = nil, options: StoreOptions? = nil,
                writerEpoch: @escaping @Sendable ([UInt8]) -> UInt64? = { _ in nil }) {
        self.universe = universe
        self.tables = tables ?? Set(universe.map(\.table)).sorted()
        self.options = options ?? {
            var o = StoreOptions()
            o.compaction.background = false
            return o
        }()
        self.writerEpoch = writerEpoch
    }

    /// Checks the local store at `storePath`.
    public func run(storePath: String, history: OracleHistory) async -> RecoveryReport {
        do {
            return await run(objectStore: try LocalObjectStore(root: storePath), history: history)
        } catch {
            return unopened(history, error)
        }
    }

    /// Checks the store on `objectStore`, as a new process would open it. The
    /// store is closed again before `run` returns.
    public func run(objectStore: any ObjectStore, history: OracleHistory) async -> RecoveryReport {
        let store: StateStore
        do {
            store = try await StateStore.open(objectStore: objectStore, options: options)
        } catch {
            return unopened(history, error)
        }
        let epoch = store.committedEpoch
        var scanned: StoreState? = [:]
        var rowCount = 0
        var readProblems: [String] = []
        do {
            for t in tables {
                let rows = try await Self.rows(store.scan(TableID(t), from: nil, to: nil, epoch: epoch))
                rowCount += rows.count
                for (i, row) in rows.enumerated() {
                    if i > 0 && !rows[i - 1].key.lexicographicallyPrecedes(row.key) {
                        readProblems.append("scan of table \(t) at \(epoch): key \(KeyText.printable(row.key)) is not above the previous key")
                    }
                    scanned?[StateKey(table: t, key: row.key)] = row.value
                }
            }
        } catch {
            readProblems.append("reading the recovered store at epoch \(epoch): \(error)")
            scanned = nil
        }
        var r = judge(history, recovered: epoch, metadata: store.committedMetadata, state: scanned)
        r.compactions = store.statistics.compactions
        r.rowsScanned = rowCount
        r.problems += readProblems
        if let expected = r.expected, scanned != nil {
            do {
                for k in universe {
                    let got = try await store.get(TableID(k.table), key: k.key, epoch: epoch)
                    r.keysChecked += 1
                    if got != expected.state[k] { flag(k, got, "get", history, &r) }
                }
                try await batchedAndPrefixReads(store, history, &r)
            } catch {
                r.problems.append("reading the recovered store at epoch \(epoch): \(error)")
            }
        }
        let named = store.checkpoints
        try? await store.close()
        await checkNamedCheckpoints(named, objectStore: objectStore, history: history, &r)
        do {
            let report = try await StoreVerifier.verify(objectStore: objectStore)
            r.problems += report.problems.map { "floe verify: \($0)" }
        } catch {
            r.problems.append("floe verify: \(error)")
        }
        return r
    }

    /// The verdict on a recovered epoch R, its committed metadata and its
    /// visible state in `tables` (nil: could not be read), without any store: the epoch
    /// bounds, the state compared key by key with the oracle's at R (each
    /// difference classified), the metadata. `run` reads the store and
    /// judges what it read with this.
    public func judge(_ history: OracleHistory, recovered epoch: UInt64, metadata: [String: [UInt8]],
                      state: StoreState?) -> RecoveryReport {
        var r = RecoveryReport(lastAcked: history.lastAcked, lastAttempted: history.lastAttempted, openEpoch: history.openEpoch)
        r.baseEpoch = history.baseEpoch
        r.recovered = epoch
        // The base was verified in the store before this history: it is committed
        // too, and losing it counts even when nothing was acknowledged since.
        r.lostEpochs = (epoch < history.baseEpoch ? [history.baseEpoch] : []) + history.ackedEpochs(above: epoch)
        if epoch > history.lastAttempted {
            r.problems.append("recovered epoch \(epoch) is above the last epoch the worker attempted (\(history.lastAttempted))")
        }
        guard let expected = history.state(at: epoch) else {
            if epoch < history.baseEpoch {
                r.problems.append("recovered epoch \(epoch) is below the verified epoch \(history.baseEpoch) this iteration started from; "
                    + "its state cannot be checked")
            } else if epoch <= history.lastAttempted {
                r.problems.append("recovered epoch \(epoch) is not an epoch of the history (it was aborted, or never attempted); "
                    + "its state cannot be checked")
            }
            return r
        }
        r.expected = expected
        if let state {
            let keys = Set(state.keys).union(expected.state.keys.filter { tables.contains($0.table) })
            for k in keys.sorted() where state[k] != expected.state[k] {
                flag(k, state[k], "scan", history, &r)
            }
        }
        if metadata != expected.metadata {
            r.problems.append("committed metadata \(Self.describe(metadata)) differs from the oracle's \(Self.describe(expected.metadata))")
        }
        let other = epoch == history.openEpoch ? history.lastAcked : history.lastAttempted
        if other != epoch, let alt = history.state(at: other) {
            r.alternative = (other, universe.filter { alt.state[$0] != expected.state[$0] }.count)
        }
        return r
    }

    /// Lists key `k`, read as `got` by `how`, once: as a partially visible epoch
    /// when `got` is what a write above R or the state before a missing write at
    /// or below R holds, else as a wrong value.
    private func flag(_ k: StateKey, _ got: [UInt8]?, _ how: String, _ history: OracleHistory, _ r: inout RecoveryReport) {
        guard let epoch = r.recovered, let expected = r.expected, r.flagged.insert(k).inserted else { return }
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

    /// A report for a store that did not open.
    private func unopened(_ history: OracleHistory, _ error: any Error) -> RecoveryReport {
        var r = RecoveryReport(lastAcked: history.lastAcked, lastAttempted: history.lastAttempted, openEpoch: history.openEpoch)
        r.baseEpoch = history.baseEpoch
        r.problems.append("the store does not open: \(error)")
        return r
    }

    /// Every named checkpoint the recovered store lists must open and hold exactly
    /// the oracle's state at its epoch (checkpoints below the base were checked
    /// before and only need to open).
    private func checkNamedCheckpoints(_ named: [CheckpointInfo], objectStore: any ObjectStore, history: OracleHistory,
                                       _ r: inout RecoveryReport) async {
        for c in named {
            do {
                let reader = try await StateStore.openReadOnly(objectStore: objectStore, checkpoint: c.name, options: options)
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
    private func checkpointProblem(_ reader: StateStore, _ c: CheckpointInfo,
                                   _ expected: (state: StoreState, metadata: [String: [UInt8]])?) async throws -> String? {
        guard reader.committedEpoch == c.epoch else { return "opens at epoch \(reader.committedEpoch)" }
        guard let expected else { return nil }
        if reader.committedMetadata != expected.metadata { return "metadata differs from the oracle's" }
        for t in tables {
            let rows = try await Self.rows(reader.scan(TableID(t), from: nil, to: nil, epoch: c.epoch))
            let want = expected.state.filter { $0.key.table == t }.sorted { $0.key < $1.key }
            if rows.count != want.count || zip(rows, want).contains(where: { $0.key != $1.key.key || $0.value != $1.value }) {
                return "table \(t) holds \(rows.count) rows, the oracle \(want.count), or other values"
            }
        }
        return nil
    }

    /// The engine-facing reads must agree with the oracle too: `getMany` of each
    /// table's keys in one batch, `scan(prefix:)` of every 1- to 3-byte prefix the
    /// universe holds (files skipped by key range and prefix filter), and a reverse
    /// scan of each prefix of 2 bytes.
    private func batchedAndPrefixReads(_ store: StateStore, _ history: OracleHistory, _ r: inout RecoveryReport) async throws {
        guard let epoch = r.recovered, let state = r.expected?.state else { return }
        for t in Set(universe.map(\.table)).sorted() {
            let keys = universe.filter { $0.table == t }
            let got = try await store.getMany(TableID(t), keys: keys.map(\.key), epoch: epoch)
            for (k, v) in zip(keys, got) where v != state[k] { flag(k, v, "getMany", history, &r) }
            var prefixes = Set<[UInt8]>()
            for k in keys { for n in 1...3 where k.key.count >= n { prefixes.insert(Array(k.key.prefix(n))) } }
            for prefix in prefixes.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let want = state.filter { $0.key.table == t && $0.key.key.starts(with: prefix) }
                    .sorted { $0.key < $1.key }
                let rows = try await Self.rows(store.scan(TableID(t), prefix: prefix, epoch: epoch))
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
    }

    private static func rows(_ scan: ScanResult) async throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        for try await row in scan { out.append(row) }
        return out
    }

    /// A value for a diagnostic: a preview, and the epoch that wrote it if `writerEpoch` knows.
    func describe(_ v: [UInt8]?) -> String {
        guard let v else { return "absent" }
        let origin = writerEpoch(v).map { " (written at epoch \($0))" } ?? ""
        return KeyText.preview(v, limit: 12) + origin
    }

    static func describe(_ m: [String: [UInt8]]) -> String {
        "{" + m.sorted { $0.key < $1.key }.map { "\($0.key): \(KeyText.printable($0.value))" }.joined(separator: ", ") + "}"
    }
}
