import ArgumentParser
import Floe
#if canImport(Glibc)
import Glibc
#endif

/// `floe bench-recovery-child` (hidden): the writer the recovery benchmark kills.
/// Fills `--num` keys into the store at `--path` like fillrandom (epochs
/// checkpointed, pipelined), printing `progress N` lines; once its last commit
/// has returned it prints `committed EPOCH` and carries on like a live writer
/// (an epoch synced but never committed, then writes to the next one) until the
/// parent SIGKILLs it.
struct KillRecoveryChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-recovery-child",
        abstract: "Fill a store, report the commit, keep writing until killed (used by floe bench recovery).",
        shouldDisplay: false)

    @OptionGroup var options: BenchOptions

    static let progressPrefix = "progress "
    static let committedPrefix = "committed "

    func validate() throws {
        guard options.path != nil else { throw ValidationError("--path is required") }
    }

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    private func execute() async throws {
        let o = options
        let db = try await StateStore.open(path: o.path!, options: o.storeOptions())
        let keys = BenchKeys(count: o.num, keySize: o.keySize, seed: o.seed)
        let values = BenchValues(size: o.valueSize, seed: o.seed)
        let table = TableID(1)
        let fill = FillWorkload(db: db, table: table, keys: keys, values: values, count: o.num, sequential: false,
                                epochKeys: o.epochKeys, pipelineDepth: o.pipeline)
        let step = max(o.epochKeys, o.num / 200)
        var reported = 0
        _ = try await fill.run { done in
            if done - reported >= step {
                reported = done
                Self.emit(Self.progressPrefix + String(done))
            }
        }
        Self.emit(Self.committedPrefix + String(db.committedEpoch))
        // Go on as a writer that is about to be killed: one epoch sealed and synced
        // (its SSTs uploaded) but never committed, then writes to the next.
        var epoch = db.committedEpoch + 1
        for i in 0..<o.epochKeys { try db.put(table, key: keys.key(keys.order(i % o.num)), value: values.value(i + 1), epoch: epoch) }
        try db.seal(epoch: epoch)
        _ = try await db.sync(epoch: epoch)
        epoch += 1
        for i in 0..<o.epochKeys { try db.put(table, key: keys.key(keys.order(i % o.num)), value: values.value(i + 2), epoch: epoch) }
        while true { try await Task.sleep(for: .seconds(3600)) }
    }

    /// One line on stdout, unbuffered: the parent waits for it.
    private static func emit(_ line: String) {
        var bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}
