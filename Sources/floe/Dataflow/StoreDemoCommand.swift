import ArgumentParser
import Floe
#if canImport(Glibc)
import Glibc
#endif

/// `floe demo store`: a short mixed workload on a local directory store. It writes
/// epochs (puts, overwrites, deletes over two tables), checkpoints each with a
/// source offset, reads everything back against an in-memory expectation,
/// reopens the store, checks again and prints what it did and how fast.
struct StoreDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Run a short mixed workload on a local directory store and check every answer.")

    @Option(help: "Store directory. Default: a fresh directory under /tmp, removed afterwards.") var path: String?
    @Option(help: "Epochs to write.") var epochs: Int = 100
    @Option(help: "Writes per epoch.") var writes: Int = 5_000
    @Option(help: "Distinct keys per table.") var keys: Int = 50_000
    @Option(help: "Random seed.") var seed: UInt64 = 42

    func validate() throws {
        guard epochs > 0, writes > 0, keys > 0 else { throw ValidationError("--epochs, --writes and --keys must be positive") }
    }

    func run() async throws {
        // Run off the main actor: otherwise every store call from this loop hops executors twice.
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
        let dir = try path ?? makeTempDir(prefix: "floe-demo")
        let tables = [TableID(1), TableID(2)]
        var model: [[Int: [UInt8]]] = [[:], [:]]
        var rng = SplitMix64(seed: seed)
        print("floe demo: local directory store at \(dir)")

        var store = try await StateStore.open(path: dir)
        let start = store.committedEpoch
        guard start == 0 else {
            throw ValidationError("\(dir) already holds a store at epoch \(start); pass an empty or new --path")
        }
        var puts = 0, deletes = 0
        var commitTimes: [Double] = []
        let writeTime = try await Timer.measure {
            for e in 1...epochs {
                let epoch = Epoch(e)
                for _ in 0..<writes {
                    let t = Int(rng.next() % 2), k = Int(rng.next() % UInt64(keys))
                    let key = demoKey(k)
                    if rng.next() % 10 == 0 {
                        try store.delete(tables[t], key: key, epoch: epoch)
                        model[t][k] = nil
                        deletes += 1
                    } else {
                        let v = demoValue(k, e, &rng)
                        try store.put(tables[t], key: key, value: v, epoch: epoch)
                        model[t][k] = v
                        puts += 1
                    }
                }
                let c0 = Timer.now()
                try await store.checkpoint(epoch: epoch, metadata: ["source.offset": Array(String(e * writes).utf8)])
                commitTimes.append(Timer.now() - c0)
            }
        }
        commitTimes.sort()
        print("wrote   \(epochs) epochs: \(puts) puts, \(deletes) deletes in \(fmt(writeTime, 3)) s (\(fmt(Double(puts + deletes) / writeTime, 0)) writes/s)")
        print("commit  per-epoch checkpoint latency: median \(fmt(commitTimes[commitTimes.count / 2] * 1000, 2)) ms, max \(fmt(commitTimes.last! * 1000, 2)) ms")

        try await check(store, model: model, tables: tables, label: "read")
        try await store.close()
        let reopen = try await Timer.measure { store = try await StateStore.open(path: dir) }
        let offset = store.committedMetadata["source.offset"].map { String(decoding: $0, as: UTF8.self) } ?? "none"
        print("reopen  in \(fmt(reopen * 1000, 2)) ms: committed epoch \(store.committedEpoch), source offset \(offset)")
        guard store.committedEpoch == Epoch(epochs) else {
            throw ValidationError("recovered epoch \(store.committedEpoch), expected \(epochs)")
        }
        try await check(store, model: model, tables: tables, label: "re-read")
        let st = store.statistics
        print("shape   \(st.l0SubLevels) L0 sub-levels, \(st.sstCount) SSTs, \(fmt(Double(st.sstBytes) / 1_048_576, 1)) MiB")
        try await store.close()
        if path == nil { _ = try? removeTree(dir) }
        print("OK: every read matched the expected state")
    }

    private func check(_ store: StateStore, model: [[Int: [UInt8]]], tables: [TableID], label: String) async throws {
        let epoch = store.committedEpoch
        var n = 0
        let getTime = try await Timer.measure {
            for (t, table) in tables.enumerated() {
                for k in 0..<keys {
                    let got = try await store.get(table, key: demoKey(k), epoch: epoch)
                    guard got == model[t][k] else { throw ValidationError("\(label): \(table) key \(k) = \(String(describing: got)), expected \(String(describing: model[t][k]))") }
                    n += 1
                }
            }
        }
        var rows = 0
        let scanTime = try await Timer.measure {
            for (t, table) in tables.enumerated() {
                var expected = model[t].keys.sorted().makeIterator()
                for try await (k, v) in try await store.scan(table, from: nil, to: nil, epoch: epoch) {
                    guard let ek = expected.next(), k == demoKey(ek), v == model[t][ek] else {
                        throw ValidationError("\(label): scan of \(table) diverged at row \(rows)")
                    }
                    rows += 1
                }
                guard expected.next() == nil else { throw ValidationError("\(label): scan of \(table) ended early") }
            }
        }
        print("\(label.padded(7)) \(n) gets in \(fmt(getTime, 3)) s (\(fmt(Double(n) / getTime, 0))/s), scanned \(rows) rows in \(fmt(scanTime, 3)) s (\(fmt(Double(rows) / scanTime, 0))/s)")
    }

    private func demoKey(_ k: Int) -> [UInt8] {
        Array("user:\(String(k).leftPadded(8))".utf8)
    }

    private func demoValue(_ k: Int, _ e: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var v = Array("v\(k)@\(e):".utf8)
        for _ in 0..<(rng.next() % 64) { v.append(UInt8(truncatingIfNeeded: rng.next() % 26 + 97)) }
        return v
    }
}

extension String {
    func padded(_ n: Int) -> String { self + String(repeating: " ", count: max(0, n - count)) }
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

/// Removes a directory tree (the demo's temporary store).
func removeTree(_ path: String) throws {
    guard let d = opendir(path) else { return }
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name == "." || name == ".." { continue }
        let full = path + "/" + name
        var st = stat()
        if lstat(full, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { try removeTree(full) } else { unlink(full) }
    }
    closedir(d)
    rmdir(path)
}
