import Floe
#if canImport(Glibc)
import Glibc
#endif

/// recovery: for each of `--recovery-sizes`, a child process (`floe
/// bench-recovery-child`) fills a fresh store with that many keys and is
/// SIGKILLed right after its last commit returns, mid-way through its next
/// epochs (and possibly a compaction); then this process times
/// `StateStore.open` plus the first get. No replay: open reads the manifest
/// alone, so the time should not grow with the state.
enum RecoveryWorkload {
    /// One result per size, each handed to `onResult` as soon as it is measured.
    /// With `--recovery-repeat` over 1, each size is killed and reopened that many
    /// times (interleaved with the other sizes, so drift hits all of them), and a
    /// median row per size closes the list: one reopen is a single sample of a few
    /// milliseconds on a shared machine.
    static func benchmark(_ ctx: BenchContext, onResult: (BenchResult) -> Void) async throws {
        let sizes = try ctx.options.recoverySizeList()
        let repeats = ctx.options.recoveryRepeat
        var samples: [Int: [(open: Double, get: Double, total: Double, l0: Int)]] = [:]
        for round in 0..<repeats {
            for size in sizes {
                var r = try await measure(ctx, size: size, round: round)
                if repeats > 1 { r.name += "#\(round + 1)" }
                samples[size, default: []].append((r.openMillis, r.getMillis, r.totalMillis, r.l0SubLevels))
                onResult(r.result)
            }
        }
        guard repeats > 1 else { return }
        for size in sizes {
            onResult(summary(size: size, samples[size] ?? []))
        }
    }

    /// Median, lowest and highest open + first get of one size's repetitions.
    static func summary(size: Int, _ runs: [(open: Double, get: Double, total: Double, l0: Int)]) -> BenchResult {
        func median(_ v: [Double]) -> Double {
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        let totals = runs.map(\.total)
        let mid = median(totals)
        var r = BenchResult(name: "recovery/\(size) median", ops: 1, seconds: mid / 1000)
        r.showsRate = false
        r.details = [
            "median of \(runs.count): open \(fmt(median(runs.map(\.open)), 2)) ms, first get \(fmt(median(runs.map(\.get)), 2)) ms, "
                + "total \(fmt(mid, 2)) ms (lowest \(fmt(totals.min() ?? 0, 2)), highest \(fmt(totals.max() ?? 0, 2))); "
                + "L0 sub-levels at the kill \(runs.map { String($0.l0) }.joined(separator: ", "))",
        ]
        r.extra = [
            ("keys", .int(Int64(size))), ("repetitions", .int(Int64(runs.count))),
            ("median_total_ms", .double(mid)), ("median_open_ms", .double(median(runs.map(\.open)))),
            ("median_first_get_ms", .double(median(runs.map(\.get)))),
            ("min_total_ms", .double(totals.min() ?? 0)), ("max_total_ms", .double(totals.max() ?? 0)),
            ("totals_ms", .array(totals.map { .double($0) })),
        ]
        return r
    }

    /// One kill and reopen, with the figures the median row needs.
    private struct Sample {
        var result: BenchResult
        var openMillis: Double
        var getMillis: Double
        var totalMillis: Double
        var l0SubLevels: Int
        var name: String {
            get { result.name }
            set { result.name = newValue }
        }
    }

    private static func measure(_ ctx: BenchContext, size: Int, round: Int) async throws -> Sample {
        let o = ctx.options
        let dir = try makeTempDir(prefix: "floe-recovery")
        defer { try? removeTree(dir) }
        let bar = ProgressBar("recovery \(grouped(size)): child fill", total: size)
        let child = try ChildProcess(executable: ChildProcess.currentExecutable(),
                                     arguments: ["bench-recovery-child", "--path", dir, "--num", String(size)] + o.childArguments())
        // Blocking reads of the child's stdout park one thread of the pool; nothing
        // else of this process runs meanwhile.
        var committed: Epoch?
        let fillStart = Timer.now()
        while let line = try child.readLine() {
            if line.hasPrefix(KillRecoveryChild.progressPrefix), let n = Int(line.dropFirst(KillRecoveryChild.progressPrefix.count)) {
                bar.set(n)
            } else if line.hasPrefix(KillRecoveryChild.committedPrefix), let e = Epoch(line.dropFirst(KillRecoveryChild.committedPrefix.count)) {
                committed = e
                break
            }
        }
        let fillSeconds = Timer.now() - fillStart
        bar.finish()
        guard let committed else {
            throw WorkloadError("recovery: the child writer \(child.waitForExit()) before it committed its fill of \(size) keys")
        }
        let end = child.killAndWait()
        guard end == .signalled(SIGKILL) else { throw WorkloadError("recovery: the child writer \(end) instead of being killed") }

        // The recovering process: open from the manifest, then serve one read.
        var rng = SplitMix64(seed: o.seed ^ UInt64(size) ^ (UInt64(round) << 40))
        let probe = ctx.keys.key(Int(rng.next() % UInt64(size)))
        let t0 = Timer.now()
        let db = try await StateStore.open(path: dir, options: ctx.storeOptions)
        let t1 = Timer.now()
        let value = try await db.get(ctx.table, key: probe, epoch: db.committedEpoch)
        let t2 = Timer.now()
        let st = db.statistics
        try await db.close()
        guard st.committedEpoch == committed else {
            throw WorkloadError("recovery: reopened at epoch \(st.committedEpoch), the child had committed \(committed)")
        }
        guard value != nil else { throw WorkloadError("recovery: a key the child committed is missing after reopen") }

        var r = BenchResult(name: "recovery/\(size)", ops: 1, seconds: t2 - t0)
        r.showsRate = false
        r.details = [
            "open \(fmt((t1 - t0) * 1000, 2)) ms + first get \(fmt((t2 - t1) * 1000, 2)) ms = \(fmt((t2 - t0) * 1000, 2)) ms",
            "state: \(grouped(size)) keys committed through epoch \(committed) by a child that filled for \(fmt(fillSeconds, 1)) s and was SIGKILLed; \(shapeLine(st)), manifest sequence \(st.manifestSequence)",
        ]
        r.extra = [
            ("keys", .int(Int64(size))), ("open_ms", .double((t1 - t0) * 1000)), ("first_get_ms", .double((t2 - t1) * 1000)),
            ("total_ms", .double((t2 - t0) * 1000)), ("child_fill_seconds", .double(fillSeconds)),
            ("sst_count", .int(Int64(st.sstCount))), ("sst_bytes", .uint(st.sstBytes)), ("l0_sub_levels", .int(Int64(st.l0SubLevels))),
            ("manifest_sequence", .uint(st.manifestSequence)),
        ]
        return Sample(result: r, openMillis: (t1 - t0) * 1000, getMillis: (t2 - t1) * 1000, totalMillis: (t2 - t0) * 1000,
                      l0SubLevels: st.l0SubLevels)
    }
}
