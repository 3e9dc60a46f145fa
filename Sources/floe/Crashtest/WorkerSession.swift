import Floe
import FloeS3
import FloeTesting
#if canImport(Glibc)
import Glibc
#endif

/// One crash-test worker run: opens the store at the oracle's verified epoch and
/// writes epochs of seeded puts, deletes and overwrites over the key universe,
/// checkpointing each with metadata, while checking gets, scans and held
/// snapshots against its own model. Every step the oracle describes is fsynced
/// to the oracle before the store is asked to do it; the acknowledgement after
/// the commit returned. All choices come from `(seed, iteration)`.
///
/// With a failpoint armed as an error, a failed checkpoint is handled the way an
/// application would: retried, or the store is closed and reopened and the epoch
/// is acknowledged if the reopened store holds it, else recorded as aborted.
///
/// In `floe crashtest --zombie` a worker has one of two more roles:
/// - the **zombie** (writer A, `Role.zombie`) publishes its phase, pauses
///   itself when asked (`ZombieControl`), and after the harness resumed it skips
///   its reads (its version is stale); a `fenced` error ends it (`WorkerFailure.fenced`);
/// - the **successor** (writer B, `Role.successor`) opens the store the paused zombie
///   still holds, which fences the zombie, and starts its own oracle with the
///   state of the zombie's history at the epoch it recovered (`start(takingOverFrom:)`).
final class WorkerSession {
    struct HeldSnapshot {
        let snapshot: Snapshot
        let epoch: UInt64
        let state: StoreState
        var commitsLeft: Int
    }

    enum CommitOutcome { case committed, aborted }

    /// Checkpoints after a failpoint fired as an error before the worker stops itself.
    static let checkpointsAfterFire = 3
    /// Attempts of one checkpoint (or open) under injected errors before giving up.
    static let maxAttempts = 20

    let storePath: String
    let oraclePath: String
    let iteration: Int
    let workload: CrashtestWorkload
    let killAfterOps: UInt64?
    let failpoint: Failpoint?
    let sabotage: CrashtestSabotage?
    let options: StoreOptions
    let oracle: DurableFile
    let counter: SharedCounter
    let failpoints: FailpointRegistry
    /// The harness; a worker it no longer waits for (it was killed) must not write on forever.
    let parentPID: Int32?
    /// The zombie's channel to the harness (nil for any other worker).
    let zombie: ZombieControl?

    var store: StateStore
    var rng: SplitMix64
    var committedEpoch: UInt64
    var committed: StoreState
    var pending: StoreState
    var writes: [StateKey: [UInt8]?] = [:]
    var held: HeldSnapshot?
    var serial: UInt32 = 0
    var ops: UInt64 = 0
    var acked = 0, aborted = 0, retries = 0, reopens = 0, injected = 0
    var gcDeletedBefore: UInt64 = 0
    /// Spills of the store handles closed before the current one.
    var spillsBefore: UInt64 = 0
    var sinceFired: Int?
    /// Reads of the zombie in flight across its pause that failed or differed from its model.
    var staleReads = 0

    /// Where a worker starts: how to open the store, and whether it continues the
    /// history of `oraclePath` or takes over from a paused writer.
    enum Role {
        case plain
        /// Writer A of `--zombie`, talking to the harness through this control mapping.
        case zombie(controlPath: String)
        /// Writer B of `--zombie`: the oracle of the writer it supersedes.
        case successor(takeoverFrom: String)
    }

    init(storePath: String, oraclePath: String, opsCounterPath: String, seed: UInt64, iteration: Int,
         workload: CrashtestWorkload, killAfterOps: UInt64?, failpoint: Failpoint?, sabotage: CrashtestSabotage?,
         parentPID: Int32?, role: Role = .plain) async throws {
        options = CrashtestWorkload.storeOptions(seed: seed, iteration: iteration)
        let start: (epoch: UInt64, state: StoreState)
        let opened: StateStore?
        if case let .successor(takeoverFrom) = role {
            let store = try await Self.open(storePath, options, tolerateInjected: false)
            start = (store.committedEpoch, try Self.start(takingOverFrom: takeoverFrom, at: store.committedEpoch, oraclePath: oraclePath))
            opened = store
        } else {
            let history = try OracleHistory(OracleLog.read(oraclePath))
            guard history.openEpoch == nil, history.tornBytes == 0, let s = history.state(at: history.lastAcked) else {
                throw WorkerFailure.error("the oracle does not end at a verified state (the harness rewrites it before each worker)")
            }
            start = (history.lastAcked, s.state)
            opened = nil
        }
        if case let .zombie(controlPath) = role {
            zombie = try ZombieControl(path: controlPath, create: false)
        } else {
            zombie = nil
        }
        self.storePath = storePath
        self.oraclePath = oraclePath
        self.iteration = iteration
        self.workload = workload
        self.killAfterOps = killAfterOps
        self.failpoint = failpoint
        self.sabotage = sabotage
        self.parentPID = parentPID
        rng = CrashtestWorkload.rng(seed: seed, iteration: iteration, .workload)
        committedEpoch = start.epoch
        committed = start.state
        pending = start.state
        oracle = try DurableFile(appendingTo: oraclePath)
        counter = try SharedCounter(path: opsCounterPath)
        failpoints = try Failpoints.process()
        // The store's files at the verified epoch, before this worker opens it (hard links: see StoreMirror).
        if sabotage == .belowVerified { try Self.sabotageCopy(storePath).update() }
        if let opened {
            store = opened
        } else {
            store = try await Self.open(storePath, options, tolerateInjected: failpoint != nil)
        }
        guard store.committedEpoch == committedEpoch else {
            throw WorkerFailure.error("the store opened at epoch \(store.committedEpoch), the oracle's verified epoch is \(committedEpoch)")
        }
        zombie?.phase = .running
    }

    /// The successor's start: the state of the superseded writer's history (its
    /// oracle at `supersededOracle`) at `recovered`, the epoch the successor found
    /// committed, written to `oraclePath` as a new oracle's base record. Throws a
    /// violation when `recovered` is not an epoch of that history (its state cannot
    /// be known); whether it is within the history's bounds the harness checks.
    static func start(takingOverFrom supersededOracle: String, at recovered: UInt64, oraclePath: String) throws -> StoreState {
        let superseded = try OracleHistory(OracleLog.read(supersededOracle))
        guard let s = superseded.state(at: recovered) else {
            throw WorkerFailure.violation("the successor found epoch \(recovered) committed, which is not an epoch of the paused writer's "
                + "history (base \(superseded.baseEpoch), last acknowledged \(superseded.lastAcked), last attempted \(superseded.lastAttempted))")
        }
        try OracleLog.rewrite(oraclePath, [.base(epoch: recovered, metadata: s.metadata, rows: s.state)])
        return s.state
    }

    /// Runs epochs until the process is killed or stops itself; the zombie also ends
    /// at its first `fenced` error (`exitFenced`, the last line saying what was refused).
    func run() async throws -> Never {
        var epoch = committedEpoch + 1
        do {
            while true {
                let count = rng.next() % 20 == 0 ? 0 : 1 + Int(rng.next() % 48)
                for _ in 0..<count { try await step(epoch) }
                if rng.next() % 3 == 0 { try closeWindows(epoch) }
                try await finishEpoch(epoch)
                // Epoch numbers need not be contiguous.
                epoch += rng.next() % 8 == 0 ? 2 + rng.next() % 3 : 1
            }
        } catch let WorkerFailure.fenced(why) where zombie != nil {
            CrashtestWorkerCommand.emit(statusLine())
            CrashtestWorkerCommand.finish(CrashtestWorkerCommand.fencedPrefix + why, status: CrashtestWorkerCommand.exitFenced)
        }
    }

    // MARK: operations

    /// Counts an operation, stopping first when `--kill-after-ops` is reached or the harness is gone.
    private func tick() {
        if let k = killAfterOps, ops >= k { stop("--kill-after-ops \(k) reached") }
        if let p = parentPID, getppid() != p { stop("the harness (process \(p)) is gone") }
        ops += 1
        counter.value = ops
    }

    private func stop(_ why: String) -> Never {
        CrashtestWorkerCommand.emit(statusLine())
        CrashtestWorkerCommand.finish("stop: " + why, status: CrashtestWorkerCommand.exitStopped)
    }

    private func randomKey() -> StateKey { workload.key(Int(rng.next() % UInt64(workload.keyCount))) }

    private func step(_ epoch: UInt64) async throws {
        tick()
        let roll = rng.next() % 100
        if roll >= 65 {
            // A read: its check against the model means nothing once the zombie resumed.
            if zombie?.resumed != true { try await checked { try await read(roll, epoch) } }
            return
        }
        switch roll {
        case 0..<8:
            // A key of the current window (window table).
            serial += 1
            let k = CrashtestWorkload.windowKey(epoch: epoch, shard: UInt8(rng.next() % 4), serial: serial)
            let v = CrashtestWorkload.value(epoch: epoch, serial: serial, &rng)
            try await written("put") { try store.put(TableID(k.table), key: k.key, value: v, epoch: epoch) }
            pending[k] = v
            writes[k] = .some(v)
        case 8..<50:
            let k = randomKey()
            serial += 1
            let v = CrashtestWorkload.value(epoch: epoch, serial: serial, &rng)
            try await written("put") { try store.put(TableID(k.table), key: k.key, value: v, epoch: epoch) }
            pending[k] = v
            writes[k] = .some(v)
        default:
            // 50..<65: a delete, mostly of a live key (probing from a random start: no dictionary order, so it replays).
            var k = randomKey()
            if rng.next() % 10 < 7, !pending.isEmpty {
                let start = Int(rng.next() % UInt64(workload.keyCount))
                for i in 0..<workload.keyCount where pending[workload.key((start + i) % workload.keyCount)] != nil {
                    k = workload.key((start + i) % workload.keyCount)
                    break
                }
            }
            try await written("delete") { try store.delete(TableID(k.table), key: k.key, epoch: epoch) }
            pending[k] = nil
            writes[k] = .some(nil)
        }
    }

    /// Closes the windows before the previous one with a table watermark at `epoch`:
    /// the keys it hides are, to the oracle, deleted at `epoch`.
    private func closeWindows(_ epoch: UInt64) throws {
        tick()
        let w = CrashtestWorkload.windowWatermark(epoch: epoch)
        try call("setTableWatermark") {
            try store.setTableWatermark(TableID(CrashtestWorkload.windowTable), key: w,
                                        prefixLength: CrashtestWorkload.windowPrefixLength, epoch: epoch)
        }
        for k in pending.keys where CrashtestWorkload.hiddenByWindowWatermark(k, w) {
            pending[k] = nil
            writes[k] = .some(nil)
        }
    }

    /// The read operations of `step` (`roll` in 65..<100), each checked against the model.
    private func read(_ roll: UInt64, _ epoch: UInt64) async throws {
        switch roll {
        case 65..<80:
            let k = randomKey()
            try await expectGet(k, at: epoch, pending, "own uncommitted epoch")
            try await expectGet(k, at: committedEpoch, committed, "committed epoch")
        case 80..<88:
            let table = CrashtestWorkload.allTables[Int(rng.next() % 3)]
            let from = rng.next() % 4 == 0 ? nil : randomKey().key
            let to = rng.next() % 4 == 0 ? nil : randomKey().key
            if rng.next() % 2 == 0 {
                try await expectScan(table, from, to, at: epoch, pending, "own uncommitted epoch")
            } else {
                try await expectScan(table, from, to, at: committedEpoch, committed, "committed epoch")
            }
        case 88..<94:
            if let h = held {
                let k = randomKey()
                let got = try await call("snapshot get") { try await h.snapshot.get(TableID(k.table), key: k.key) }
                if got != h.state[k] { throw mismatch("snapshot get at epoch \(h.epoch)", k, expected: h.state[k], got: got) }
            } else {
                let s = try call("snapshot") { try store.snapshot(epoch: committedEpoch) }
                held = HeldSnapshot(snapshot: s, epoch: committedEpoch, state: committed, commitsLeft: 1 + Int(rng.next() % 4))
            }
        default:
            for t in CrashtestWorkload.allTables { try await expectScan(t, nil, nil, at: epoch, pending, "own uncommitted epoch") }
        }
    }

    private func finishEpoch(_ epoch: UInt64) async throws {
        tick()
        let metadata = Self.metadata(epoch: epoch, iteration: iteration, live: pending.count)
        if sabotage == .lostAck {
            try oracle.append(OracleLog.frame(.intent(epoch: epoch, metadata: metadata, writes: writes)))
            try oracle.append(OracleLog.frame(.ack(epoch: epoch)))
            stop("sabotage lost-ack: epoch \(epoch) acknowledged without a commit")
        }
        var logged = writes
        let planted = (key: workload.key(1), value: Array("planted by sabotage".utf8))
        switch sabotage {
        case .unloggedWrite?:
            let k = workload.key(0)
            try call("put") { try store.put(TableID(k.table), key: k.key, value: Array("unlogged".utf8), epoch: epoch) }
        case .earlyWrite?:
            try call("put") { try store.put(TableID(planted.key.table), key: planted.key.key, value: planted.value, epoch: epoch) }
            logged[planted.key] = nil
        case .missingWrite?:
            logged[planted.key] = .some(planted.value)
        case .lostAck?, .tornTail?, .belowVerified?, .zombieUnfenced?, nil:
            break
        }
        try oracle.append(OracleLog.frame(.intent(epoch: epoch, metadata: metadata, writes: logged)))
        if let zombie {
            zombie.phase = .committing
            // Asked to pause: here, so that the first thing it does when resumed is this commit.
            if zombie.pauseRequested && !zombie.resumed { raise(SIGSTOP) }
        }
        switch try await commit(epoch, metadata) {
        case .committed:
            try oracle.append(OracleLog.frame(.ack(epoch: epoch)))
            zombie?.phase = .running
            committed = pending
            committedEpoch = epoch
            acked += 1
            if rng.next() % 8 == 0 { try await rotateNamedCheckpoints(epoch) }
            switch sabotage {
            case .unloggedWrite?: stop("sabotage unlogged-write: epoch \(epoch) committed a write its intent does not list")
            case .missingWrite?: stop("sabotage missing-write: epoch \(epoch) committed without a write its intent lists")
            case .earlyWrite?:
                let next = epoch + 1
                let later = OracleRecord.intent(epoch: next, metadata: Self.metadata(epoch: next, iteration: iteration, live: pending.count),
                                                writes: [planted.key: .some(planted.value)])
                try oracle.append(OracleLog.frame(later))
                stop("sabotage early-write: epoch \(epoch) committed a write the oracle gives to epoch \(next)")
            case .belowVerified?:
                let metadata = store.committedMetadata
                try? await store.close()
                let copy = Self.sabotageCopy(storePath)
                try copy.restore()
                try removeTree(copy.mirror)
                try OracleLog.rewrite(oraclePath, [.base(epoch: epoch, metadata: metadata, rows: pending)])
                stop("sabotage below-verified: epoch \(epoch) recorded as verified, the store put back to its files from before it")
            case .tornTail?:
                let frame = OracleLog.frame(.intent(epoch: epoch + 1, metadata: metadata, writes: [planted.key: .some(planted.value)]))
                try oracle.append(Array(frame.prefix(frame.count / 2)))
                stop("sabotage torn-tail: half an intent record after epoch \(epoch)")
            case .lostAck?, .zombieUnfenced?, nil: break
            }
        case .aborted:
            try oracle.append(OracleLog.frame(.abort(epoch: epoch)))
            pending = committed
            aborted += 1
        }
        writes = [:]
        if var h = held {
            h.commitsLeft -= 1
            if zombie?.resumed == true {
                h.snapshot.release()
                held = nil
            } else if h.commitsLeft > 0 {
                held = h
            } else {
                // Still the state of its epoch, though compaction ran below it meanwhile.
                try await checked {
                    for t in CrashtestWorkload.allTables {
                        let rows = try await call("snapshot scan") { try await Self.collect(h.snapshot.scan(TableID(t), from: nil, to: nil)) }
                        try compare(rows, Self.rows(h.state, t, nil, nil), "snapshot scan of table \(t) at epoch \(h.epoch)")
                    }
                }
                h.snapshot.release()
                held = nil
            }
        }
        if let p = failpoint, failpoints.fired(p) > 0 {
            sinceFired = (sinceFired ?? -1) + 1
            if sinceFired! >= Self.checkpointsAfterFire { stop("failpoint \(p.rawValue) fired and \(Self.checkpointsAfterFire) epochs ended after it") }
        }
        CrashtestWorkerCommand.emit(statusLine())
    }

    /// Pins the just committed `epoch` as the named checkpoint `ct-<epoch>` and deletes
    /// all but the newest two, so a kill lands inside a create or delete now and then;
    /// the harness reads every checkpoint the recovered store lists against the oracle.
    /// Injected errors (with a failpoint armed) are counted and the rotation skipped.
    private func rotateNamedCheckpoints(_ epoch: UInt64) async throws {
        tick()
        do {
            try await store.createCheckpoint(name: "ct-\(epoch)")
            for c in store.checkpoints.sorted(by: { $0.epoch < $1.epoch }).dropLast(2) {
                try await store.deleteCheckpoint(name: c.name)
            }
        } catch where failpoint != nil && Self.isInjected(error) {
            injected += 1
        } catch {
            throw WorkerFailure("named checkpoint at epoch \(epoch)", error)
        }
    }

    /// Checkpoints `epoch`; under injected errors retries, or reopens the store and
    /// learns from the reopened store whether the epoch made it.
    private func commit(_ epoch: UInt64, _ metadata: [String: [UInt8]]) async throws -> CommitOutcome {
        var attempts = 0
        while true {
            do {
                try await store.checkpoint(epoch: epoch, metadata: metadata)
                return .committed
            } catch {
                guard failpoint != nil, Self.isInjected(error) else { throw WorkerFailure("checkpoint of epoch \(epoch)", error) }
                injected += 1
                attempts += 1
                guard attempts < Self.maxAttempts else {
                    throw WorkerFailure.error("checkpoint of epoch \(epoch) still fails after \(attempts) attempts: \(error)")
                }
                if rng.next() % 2 == 0 {
                    retries += 1
                    continue
                }
                reopens += 1
                held?.snapshot.release()
                held = nil
                gcDeletedBefore += store.statistics.gcDeletedObjects
                spillsBefore += store.statistics.spills
                try? await store.close()
                store = try await Self.open(storePath, options, tolerateInjected: true)
                let r = store.committedEpoch
                if r == epoch { return .committed }
                if r == committedEpoch { return .aborted }
                throw WorkerFailure.violation("after a failed checkpoint of epoch \(epoch) the reopened store holds epoch \(r), "
                    + "expected \(committedEpoch) or \(epoch)")
            }
        }
    }

    /// Where the `below-verified` sabotage keeps the store's files from before its epoch.
    private static func sabotageCopy(_ storePath: String) -> StoreMirror {
        StoreMirror(source: storePath, mirror: storePath + ".before-sabotage")
    }

    private static func open(_ path: String, _ options: StoreOptions, tolerateInjected: Bool) async throws -> StateStore {
        var attempts = 0
        while true {
            do {
                // `floe crashtest --store-url`: the store on S3.
                if FloeStoreURL.isRemote(path) { return try await StateStore.open(url: path, options: options) }
                return try await StateStore.open(path: path, options: options)
            } catch {
                attempts += 1
                guard tolerateInjected, isInjected(error), attempts < maxAttempts else { throw WorkerFailure.error("open: \(error)") }
            }
        }
    }

    /// An error a failpoint injected (directly, or as the reason background compaction failed).
    static func isInjected(_ error: any Error) -> Bool {
        switch error as? FloeError {
        case let .io(path, _)?: path.hasPrefix("failpoint:")
        case let .compactionFailed(why)?: why.contains("failpoint:")
        default: false
        }
    }

    static func metadata(epoch: UInt64, iteration: Int, live: Int) -> [String: [UInt8]] {
        func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        return ["crashtest.epoch": le(epoch), "crashtest.iteration": le(UInt64(iteration)), "crashtest.live": le(UInt64(live))]
    }

    func statusLine() -> String {
        "status ops=\(ops) epoch=\(committedEpoch) acked=\(acked) aborted=\(aborted) retries=\(retries) reopens=\(reopens) "
            + "injected=\(injected) gc=\(gcDeletedBefore + store.statistics.gcDeletedObjects) spills=\(spillsBefore + store.statistics.spills) "
            + "\(FailpointPlan.firedField)=\(failpoint.map { failpoints.fired($0) } ?? 0)"
            + (zombie == nil ? "" : " stale_reads=\(staleReads)")
    }

    // MARK: checks against the model

    /// Runs a check of reads against the model. Once the zombie was resumed, a check
    /// that fails (it was in flight across the pause, on a version other processes
    /// may have retired and deleted since) is counted in `staleReads`, not thrown.
    private func checked(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as WorkerFailure where zombie?.resumed == true && !failure.isFenced {
            staleReads += 1
        }
    }

    /// A write as an application makes it: refused over the memtable budget, it waits
    /// for budget (which spills the open epoch when nothing else frees memory, with a
    /// small budget) and is made again. An error a failpoint injected into the spill
    /// is retried like a failed checkpoint.
    private func written(_ what: String, _ body: () throws -> Void) async throws {
        var attempts = 0
        while true {
            do {
                try body()
                return
            } catch FloeError.memoryBudgetExceeded {
                do {
                    try await store.waitForWriteBudget()
                } catch where failpoint != nil && Self.isInjected(error) && attempts < Self.maxAttempts {
                    injected += 1
                    attempts += 1
                } catch {
                    throw WorkerFailure("wait for write budget", error)
                }
            } catch {
                throw WorkerFailure(what, error)
            }
        }
    }

    private func call<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw WorkerFailure(what, error) }
    }

    private func call<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw WorkerFailure(what, error) }
    }

    private func expectGet(_ k: StateKey, at epoch: UInt64, _ model: StoreState, _ what: String) async throws {
        let got = try await call("get") { try await store.get(TableID(k.table), key: k.key, epoch: epoch) }
        if got != model[k] { throw mismatch("get at \(what) \(epoch)", k, expected: model[k], got: got) }
    }

    private func expectScan(_ table: UInt32, _ from: [UInt8]?, _ to: [UInt8]?, at epoch: UInt64, _ model: StoreState,
                            _ what: String) async throws {
        let rows = try await call("scan") { try await Self.collect(store.scan(TableID(table), from: from, to: to, epoch: epoch)) }
        let range = "[\(from.map(KeyText.printable) ?? "-inf"), \(to.map(KeyText.printable) ?? "+inf"))"
        try compare(rows, Self.rows(model, table, from, to), "scan of table \(table) \(range) at \(what) \(epoch)")
    }

    private func compare(_ got: [(key: [UInt8], value: [UInt8])], _ expected: [(key: [UInt8], value: [UInt8])], _ what: String) throws {
        let common = min(got.count, expected.count)
        let i = (0..<common).first { got[$0].key != expected[$0].key || got[$0].value != expected[$0].value } ?? common
        guard i < common || got.count != expected.count else { return }
        let g = i < got.count ? "\(KeyText.printable(got[i].key))=\(KeyText.preview(got[i].value, limit: 16))" : "end"
        let e = i < expected.count ? "\(KeyText.printable(expected[i].key))=\(KeyText.preview(expected[i].value, limit: 16))" : "end"
        throw WorkerFailure.violation("\(what): \(got.count) rows, expected \(expected.count); row \(i) is \(g), expected \(e)")
    }

    private func mismatch(_ what: String, _ k: StateKey, expected: [UInt8]?, got: [UInt8]?) -> WorkerFailure {
        func show(_ v: [UInt8]?) -> String { v.map { KeyText.preview($0, limit: 16) } ?? "absent" }
        return .violation("\(what): table \(k.table) key \(KeyText.printable(k.key)) is \(show(got)), expected \(show(expected))")
    }

    static func collect(_ scan: ScanResult) async throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        for try await row in scan { out.append(row) }
        return out
    }

    /// The rows of `table` in `[from, to)` of `state`, in key order.
    static func rows(_ state: StoreState, _ table: UInt32, _ from: [UInt8]?, _ to: [UInt8]?) -> [(key: [UInt8], value: [UInt8])] {
        state.filter { k, _ in
            k.table == table && (from.map { !k.key.lexicographicallyPrecedes($0) } ?? true)
                && (to.map { k.key.lexicographicallyPrecedes($0) } ?? true)
        }
        .sorted { $0.key < $1.key }
        .map { (key: $0.key.key, value: $0.value) }
    }
}
