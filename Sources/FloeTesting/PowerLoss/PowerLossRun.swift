import Floe
/// The power-loss crash test: a store on `LocalObjectStore` over a
/// `PowerLossFileSystem` runs a seeded workload (puts and deletes, one
/// `checkpoint` per epoch, background compaction and GC on, tiny SSTs) until
/// the power is cut at a random mutating file-system call; a new process then
/// opens what survived and must find
/// - a committed epoch at least the last one whose `checkpoint` returned (none lost);
/// - exactly the state the workload had written through the recovered epoch:
///   every key ever written read back, every table scanned whole, the
///   checkpoint metadata of that epoch (no epoch half there);
/// - a store `StoreVerifier` finds no problem in.
///
/// One run is `lives` such crash-and-recover rounds on one file system, each
/// continuing from what the previous one recovered, so leftovers of earlier
/// crashes (temp files, orphans, resurrected deletes) are in play. Even seeds
/// crash with `.dropUnsynced`, odd ones with `.keepRandomUnsynced`.
///
/// Replay: the workload, the crash point and the survivor come from the seed,
/// but background compaction and GC race with the workload, so a seed replays
/// the same crash only approximately. Every problem message starts with the seed.
package struct PowerLossRun: Sendable {
    /// Seeds the workload, the crash points and the survivors.
    package var seed: UInt64
    /// Crash-and-recover rounds in this run.
    package var lives = 2
    /// Epochs each life tries to commit before the power is cut anyway.
    package var epochsPerLife = 20
    /// What the dead processes' `LocalObjectStore` runs on, given the simulated
    /// file system: the file system itself, or (to show the checks have teeth) a
    /// wrapper that breaks a guarantee. Recovery always reads the survivor directly.
    package var fileSystemLayer: @Sendable (PowerLossFileSystem) -> any FileSystem = { $0 }

    package init(seed: UInt64) { self.seed = seed }

    /// What one run found.
    package struct Outcome: Sendable, Equatable {
        package var seed: UInt64
        /// Power cuts, one per life.
        package var crashes = 0
        /// Cuts that hit a mutating call in the middle of the workload (the rest
        /// came after its last epoch, with background work possibly in flight).
        package var crashesMidWorkload = 0
        /// Recoveries that found an epoch whose `checkpoint` had not returned.
        package var recoveredInFlightEpochs = 0
        /// Compactions and GC deletions the dead processes completed (coverage).
        package var compactions = 0
        package var gcDeletions = 0
        /// Recoveries that lost an acknowledged epoch, or could not open the store.
        package var lostEpochs = 0
        /// Recoveries whose state, metadata or consistency (`StoreVerifier`)
        /// did not match exactly one epoch of the workload, and checkpoints
        /// that failed before the power cut.
        package var partialEpochs = 0
        /// One line per failed check, each starting with `seed <seed> life <n>:`.
        package var problems: [String] = []
    }

    /// Totals of many runs.
    package struct Summary: Sendable, Equatable {
        package var iterations = 0
        package var crashes = 0
        package var crashesMidWorkload = 0
        package var recoveredInFlightEpochs = 0
        package var compactions = 0
        package var gcDeletions = 0
        package var lostEpochs = 0
        package var partialEpochs = 0
        package var problems: [String] = []
    }

    /// Runs `count` runs with seeds `seed`, `seed + 1`, ... (a failing run replays
    /// alone with its own seed and `count` 1) and adds up their outcomes.
    /// `progress` is called after each run.
    package static func iterations(seed: UInt64, count: Int,
                                   progress: (Outcome) -> Void = { _ in }) async -> Summary {
        var total = Summary()
        for i in 0..<count {
            let o = await PowerLossRun(seed: seed &+ UInt64(i)).execute()
            total.iterations += 1
            total.crashes += o.crashes
            total.crashesMidWorkload += o.crashesMidWorkload
            total.recoveredInFlightEpochs += o.recoveredInFlightEpochs
            total.compactions += o.compactions
            total.gcDeletions += o.gcDeletions
            total.lostEpochs += o.lostEpochs
            total.partialEpochs += o.partialEpochs
            total.problems += o.problems
            progress(o)
        }
        return total
    }

    /// Root of the store inside the simulated file system.
    static let root = "/floe"
    /// Mutating file-system calls after which a life's power cut is drawn
    /// (uniformly below it); a full life makes about this many.
    static let mutationSpan = 500

    private struct Key: Hashable, Comparable {
        var table: UInt32
        var key: [UInt8]
        static func < (a: Key, b: Key) -> Bool {
            a.table != b.table ? a.table < b.table : a.key.lexicographicallyPrecedes(b.key)
        }
    }

    /// Options that make a short workload build many files and compact them:
    /// tiny blocks and SSTs, compaction from 2 sub-levels, GC without grace.
    static func storeOptions(background: Bool) -> StoreOptions {
        var o = StoreOptions()
        o.sst.blockSize = 256
        o.sst.restartInterval = 4
        o.sst.targetFileSize = 4096
        o.blockCacheBytes = 64 << 10
        o.manifestCheckpointInterval = 5
        o.compaction.background = background
        o.compaction.l0CompactionTrigger = 2
        o.compaction.baseLevelBytes = 8 << 10
        o.compaction.targetFileSize = 4096
        o.compaction.maxLevel = 3
        o.compaction.gcGraceSeconds = 0
        o.compaction.gcIntervalSeconds = 0.002
        return o
    }

    /// Runs the lives of this seed. Never throws: every failure is a problem in the outcome.
    package func execute() async -> Outcome {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x5EED)
        var outcome = Outcome(seed: seed)
        let mode: PowerLossFileSystem.CrashMode = seed % 2 == 0 ? .dropUnsynced : .keepRandomUnsynced
        var fs = PowerLossFileSystem()
        // The state after each epoch of the current life, from the last recovered one on.
        var states: [Epoch: [Key: [UInt8]]] = [0: [:]]
        var acknowledged: Epoch = 0
        var everWritten: Set<Key> = []

        for life in 0..<lives {
            func problem(_ text: String) { outcome.problems.append("seed \(seed) life \(life) (\(mode.rawValue)): \(text)") }
            guard let objects = try? LocalObjectStore(root: Self.root, fileSystem: fileSystemLayer(fs)) else {
                problem("LocalObjectStore did not open on the recovered file system")
                outcome.lostEpochs += 1
                return outcome
            }
            fs.cutPower(afterMutations: Int(rng.next() % UInt64(Self.mutationSpan)))

            // The dead process: runs until a call fails for the power cut, or its epochs are done.
            let base = acknowledged
            let opened: StateStore?
            do {
                opened = try await StateStore.open(objectStore: objects, options: Self.storeOptions(background: true))
            } catch {
                opened = nil
                if !fs.isPowerLost {
                    problem("open failed with the power on: \(error)")
                    outcome.partialEpochs += 1
                }
            }
            if let store = opened {
                var current = states[base] ?? [:]
                for epoch in (base + 1)...(base + Epoch(epochsPerLife)) {
                    for _ in 0..<(1 + Int(rng.next() % 120)) {
                        let k = Key(table: 1 + UInt32(rng.next() % 2), key: [UInt8(rng.next() % 16), UInt8(rng.next() % 16)])
                        everWritten.insert(k)
                        if rng.next() % 5 == 0 {
                            try? store.delete(TableID(k.table), key: k.key, epoch: epoch)
                            current[k] = nil
                        } else {
                            let v = (0..<Int(rng.next() % 48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                            try? store.put(TableID(k.table), key: k.key, value: v, epoch: epoch)
                            current[k] = v
                        }
                    }
                    states[epoch] = current
                    do {
                        try await store.checkpoint(epoch: epoch, metadata: ["offset": Self.offset(epoch)])
                        acknowledged = epoch
                    } catch {
                        // Only the power cut may stop the dead process.
                        if !fs.isPowerLost {
                            problem("checkpoint of epoch \(epoch) failed with the power on: \(error)")
                            outcome.partialEpochs += 1
                        }
                        break
                    }
                    // Let the background compaction and GC run between commits, or
                    // take a step in the foreground beside them.
                    switch rng.next() % 4 {
                    case 0: try? await Task.sleep(for: .milliseconds(2))
                    case 1: _ = try? await store.compactOnce()
                    case 2: _ = try? await store.collectGarbage(graceSeconds: 0)
                    default: break
                    }
                }
                outcome.compactions += Int(store.statistics.compactions)
                outcome.gcDeletions += Int(store.statistics.gcDeletedObjects)
                try? await store.close()
            }
            outcome.crashes += 1
            if fs.isPowerLost { outcome.crashesMidWorkload += 1 }
            fs = fs.crash(seed: rng.next(), mode: mode)

            // The new process.
            let before = outcome.problems.count
            let recovered: Epoch
            do {
                recovered = try await check(fs, acknowledged: acknowledged, states: states, keys: everWritten, problem: problem)
            } catch {
                problem("recovery failed: \(error)")
                outcome.lostEpochs += 1
                return outcome
            }
            if recovered < acknowledged {
                problem("recovered epoch \(recovered) is below the acknowledged epoch \(acknowledged)")
                outcome.lostEpochs += 1
            } else if outcome.problems.count > before {
                outcome.partialEpochs += 1
            }
            if recovered > acknowledged { outcome.recoveredInFlightEpochs += 1 }
            guard let state = states[recovered] else { return outcome }
            states = [recovered: state]
            acknowledged = recovered
        }
        return outcome
    }

    static func offset(_ epoch: Epoch) -> [UInt8] { withUnsafeBytes(of: epoch.littleEndian) { Array($0) } }

    /// Opens the survivor as a new process would and compares it with `states`.
    /// Returns the recovered epoch; mismatches go to `problem`; throws if the store does not open.
    private func check(_ fs: PowerLossFileSystem, acknowledged: Epoch, states: [Epoch: [Key: [UInt8]]],
                       keys: Set<Key>, problem: (String) -> Void) async throws -> Epoch {
        let objects = try LocalObjectStore(root: Self.root, fileSystem: fs)
        let hasManifest = try await !objects.list(prefix: "manifest/").isEmpty
        if hasManifest {
            let report = try await StoreVerifier.verify(objectStore: objects)
            for p in report.problems { problem("verifier: \(p)") }
        } else if acknowledged > 0 {
            problem("no manifest survived, epoch \(acknowledged) was acknowledged")
        }
        // No background work: nothing changes under the checks. The store is left
        // open, like a process that exits; the next life opens its own.
        let store = try await StateStore.open(objectStore: objects, options: Self.storeOptions(background: false))
        let recovered = store.committedEpoch
        guard let expected = states[recovered] else {
            problem("recovered epoch \(recovered) was never written (acknowledged \(acknowledged), attempted up to \(states.keys.max() ?? 0))")
            return recovered
        }
        let metadata = store.committedMetadata["offset"]
        if recovered > 0 && metadata != Self.offset(recovered) {
            problem("epoch \(recovered) recovered with offset metadata \(metadata.map { "\($0)" } ?? "missing")")
        }
        for k in keys.sorted() {
            let got = try await store.get(TableID(k.table), key: k.key, epoch: recovered)
            if got != expected[k] {
                problem("get t\(k.table) \(k.key) @\(recovered): \(got.map { "\($0.count) B" } ?? "nil"), expected \(expected[k].map { "\($0.count) B" } ?? "nil")")
            }
        }
        for table: UInt32 in 1...2 {
            var rows: [(Key, [UInt8])] = []
            for try await (k, v) in try await store.scan(TableID(table), from: nil, to: nil, epoch: recovered) {
                rows.append((Key(table: table, key: k), v))
            }
            let want = expected.filter { $0.key.table == table }.sorted { $0.key < $1.key }
            if rows.map(\.0) != want.map(\.key) || rows.map(\.1) != want.map(\.value) {
                problem("scan t\(table) @\(recovered): \(rows.count) rows, expected \(want.count) (or other values)")
            }
        }
        return recovered
    }
}
