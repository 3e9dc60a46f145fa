import Floe

/// One engine through every phase of one repetition, on a fresh directory.
struct EngineRun {
    let kind: EngineKind
    let dir: String
    let config: EngineConfig
    let command: CompareCommand
    let keys: BenchKeys
    let values: BenchValues
    let overwrite: WritePlan
    let finalState: FinalState
    let ingestedBytes: UInt64
    let liveBytes: UInt64

    func execute() async throws -> Figures {
        var f = Figures()
        let num = keys.count

        // 1. Fill in a child, killed right after its last durability point.
        let child = try ChildProcess(arguments: [
            "child-fill", "--engine", kind.rawValue, "--dir", dir, "--num", "\(num)",
            "--batch-keys", "\(command.batchKeys)", "--cache-mib", "\(command.cacheMib)", "--seed", "\(command.seed)",
        ])
        guard let line = child.readLine(), line.hasPrefix("FILLED "), let fillSeconds = Double(line.dropFirst(7)) else {
            let status = child.reap()
            throw EngineError("\(kind.label) fill child failed (wait status \(status))")
        }
        let childIO = try child.kill()
        f["fill"] = Double(num) / fillSeconds

        // 2. Reopen in this process until the last-written key reads back.
        let io0 = try IOCounters.read()
        let t0 = monotonicSeconds()
        let store = try await kind.open(dir: dir, config: config)
        let last = try await store.get(keys.key(keys.order(num - 1)))
        f["reopen"] = (monotonicSeconds() - t0) * 1000
        guard last == values.value(num - 1) else { throw EngineError("\(kind.label): last filled key not recovered after SIGKILL") }

        // 3. Full scans: the first loads the caches, the second is the warm figure.
        // Engine counters per scan too: the reopened store's compaction may run beside them.
        var before = store.notes()
        var t = monotonicSeconds()
        var n = try await store.scanAll()
        f["scan_cold"] = Double(n) / (monotonicSeconds() - t)
        guard n == num else { throw EngineError("\(kind.label): scan after reopen saw \(n) keys, expected \(num)") }
        record(&f, phase: "scan_cold", before, store.notes())
        before = store.notes()
        t = monotonicSeconds()
        n = try await store.scanAll()
        f["scan"] = Double(n) / (monotonicSeconds() - t)
        guard n == num else { throw EngineError("\(kind.label): warm scan saw \(n) keys, expected \(num)") }
        record(&f, phase: "scan", before, store.notes())

        // 4, 5. Point reads. The engine's own counters (`notes()` entries ending in
        // `_total`) are also recorded per phase, to show background work beside it.
        let reads = command.readCount
        for threads in [1, 2] {
            before = store.notes()
            t = monotonicSeconds()
            let found = try await store.readRandom(keys: keys, count: reads, threads: threads, seed: command.seed ^ 0xabc, missing: false)
            f["readrandom_\(threads)t"] = Double(reads) / (monotonicSeconds() - t)
            guard found == reads else { throw EngineError("\(kind.label): readrandom found \(found) of \(reads)") }
            record(&f, phase: "readrandom_\(threads)t", before, store.notes())
        }
        before = store.notes()
        t = monotonicSeconds()
        let present = try await store.readRandom(keys: keys, count: reads, threads: 1, seed: command.seed ^ 0xdef, missing: true)
        f["readmissing"] = Double(reads) / (monotonicSeconds() - t)
        guard present == 0 else { throw EngineError("\(kind.label): readmissing found \(present) keys never written") }
        record(&f, phase: "readmissing", before, store.notes())

        // 6. Short range reads.
        t = monotonicSeconds()
        let rows = try await store.seekRandom(keys: keys, count: command.seekCount, length: command.seekLength, seed: command.seed ^ 0x5eed)
        f["seekrandom"] = Double(command.seekCount) / (monotonicSeconds() - t)
        guard rows > 0 else { throw EngineError("\(kind.label): seekrandom read no rows") }
        f["seekrandom_rows"] = Double(rows)

        // 7. Overwrites and deletes, durable per batch like the fill.
        t = monotonicSeconds()
        try await store.apply(overwrite, keys: keys, values: values)
        f["overwrite"] = Double(overwrite.ops.count) / (monotonicSeconds() - t)
        let ioWrites = try IOCounters.read()

        // 8. Quiescence, then check the final contents.
        t = monotonicSeconds()
        try await store.quiesce()
        f["quiesce"] = monotonicSeconds() - t
        n = try await store.scanAll()
        guard n == finalState.liveKeys else { throw EngineError("\(kind.label): final scan saw \(n) keys, expected \(finalState.liveKeys)") }
        var rng = SplitMix64(seed: command.seed ^ 0xc4ec)
        for _ in 0..<1000 {
            let k = Int(rng.next() % UInt64(num))
            let want: [UInt8]? = finalState.valueOf[k] < 0 ? nil : values.value(Int(finalState.valueOf[k]))
            guard try await store.get(keys.key(k)) == want else { throw EngineError("\(kind.label): key \(k) has the wrong final value") }
        }
        for (name, v) in store.notes() where !name.hasSuffix("_total") && !name.hasSuffix("_now") { f[name] = v }
        try await store.close()
        let ioEnd = try IOCounters.read()

        let writesIO = childIO + (ioWrites - io0), totalIO = childIO + (ioEnd - io0)
        f["write_amp_writes"] = Double(writesIO.deviceBytes) / Double(ingestedBytes)
        f["write_amp"] = Double(totalIO.deviceBytes) / Double(ingestedBytes)
        f["write_amp_wchar"] = Double(totalIO.wchar) / Double(ingestedBytes)
        f["device_bytes_written"] = Double(totalIO.deviceBytes)
        let size = directoryBytes(dir)
        f["dir_bytes"] = Double(size)
        f["space_amp"] = Double(size) / Double(liveBytes)
        return f
    }

    /// How much each cumulative engine counter (`_total`) grew during `phase`, as
    /// `<phase>:<counter>`, and each gauge (`_now`) at the phase's start and end.
    private func record(_ f: inout Figures, phase: String, _ before: [String: Double], _ after: [String: Double]) {
        for (name, v) in after where name.hasSuffix("_total") {
            f["\(phase):\(name.dropLast(6))"] = v - (before[name] ?? 0)
        }
        // Gauges (the tree's shape): at the start and at the end of the phase.
        for (name, v) in before where name.hasSuffix("_now") {
            f["\(phase):\(name.dropLast(4))_at_start"] = v
            f["\(phase):\(name.dropLast(4))_at_end"] = after[name] ?? v
        }
    }
}
