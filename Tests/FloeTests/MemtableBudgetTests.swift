import Testing
@testable import Floe
import FloeTesting

/// The memtable memory budget: once it is spent writes are refused whole (the
/// write that crosses it is accepted), committing frees it completely, and
/// `waitForWriteBudget` waits exactly while something running will free memory,
/// returning only when a write will be accepted again.
@Suite(.timeLimit(.minutes(1))) struct MemtableBudgetTests {
    static let budget = 64 << 10

    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.memtableBudgetBytes = budget
        o.retentionEpochs = 1_000
        return o
    }

    static func key(_ i: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) } }
    static func value(_ i: Int, _ n: Int = 24) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) } }

    static func isBudgetError(_ e: FloeError?) -> Bool {
        if case .memoryBudgetExceeded = e { return true }
        return false
    }

    /// Puts keys `from, from+1, ...` into `table` at `epoch` until the budget
    /// refuses one. Returns what was accepted and the refusal.
    static func fill(_ store: StateStore, table: UInt32, epoch: Epoch, from: Int = 0)
        -> (accepted: [ModelKey: [UInt8]], refused: ModelKey, error: FloeError?) {
        var accepted: [ModelKey: [UInt8]] = [:]
        var i = from
        while true {
            let k = ModelKey(table, key(i))
            do {
                try store.put(TableID(table), key: k.key, value: value(i), epoch: epoch)
            } catch {
                return (accepted, k, error as? FloeError)
            }
            accepted[k] = value(i)
            i += 1
            if accepted.count > budget { return (accepted, k, nil) } // never: the budget must bite
        }
    }

    static func scanAll(_ store: StateStore, table: UInt32, epoch: Epoch) async throws -> [Row] {
        try await collectRows(store.scan(TableID(table), from: nil, to: nil, epoch: epoch))
    }

    @Test func writesBeyondTheBudgetAreRefusedAndChangeNothing() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: Self.options())
        var committed: [ModelKey: [UInt8]] = [:]
        var acceptedPerRound: [Int] = []
        for round in 0..<4 {
            let epoch = Epoch(round + 1)
            let table = UInt32(1 + round % 2)
            let (accepted, refused, error) = Self.fill(store, table: table, epoch: epoch, from: round * 100_000)
            acceptedPerRound.append(accepted.count)
            // Writes are accepted while the budget is not spent, so all but the last one
            // accepted fit below it by payload (key + value) alone; the refusal is typed.
            #expect((accepted.count - 1) * (4 + 24) < Self.budget)
            #expect(accepted.count > Self.budget / 4 / (4 + 24), "round \(round): only \(accepted.count) writes fit")
            guard case let .memoryBudgetExceeded(used, budget) = error else {
                Issue.record("round \(round): write past the budget: \(String(describing: error))")
                return
            }
            #expect(budget == Self.budget)
            // Spent, and overshot by at most the one write that crossed it.
            #expect(used >= budget && used - budget < 4 + 24 + 256, "round \(round): refused at \(used) of \(budget)")
            let usedBefore = store.statistics.memtableBytes
            #expect(usedBefore == used, "the error reports the memory in use")

            // Nothing of a refused write, delete or batch is visible, and no memory is charged.
            #expect(try await store.get(TableID(table), key: refused.key, epoch: epoch) == nil)
            let anyKey = try #require(accepted.keys.first)
            #expect(Self.isBudgetError(await floeError { try store.delete(TableID(table), key: anyKey.key, epoch: epoch) }))
            #expect(try await store.get(TableID(table), key: anyKey.key, epoch: epoch) == accepted[anyKey])
            var batch = WriteBatch()
            for j in 0..<50 { batch.put(TableID(3), key: Self.key(j), value: [1]) }
            #expect(Self.isBudgetError(await floeError { try store.write(batch, epoch: epoch) }))
            #expect(Self.isBudgetError(await floeError { try store.put(TableID(3), key: [9], value: [9], epoch: epoch + 1) }),
                    "the budget spans all uncommitted epochs")
            #expect(try await store.get(TableID(3), key: Self.key(0), epoch: epoch + 1) == nil)
            #expect(store.statistics.memtableBytes == usedBefore)
            var expected = committed
            for (k, v) in accepted { expected[k] = v }
            for t: UInt32 in 1...3 {
                #expect(try await Self.scanAll(store, table: t, epoch: epoch) == expectedRows(expected, table: t, from: nil, to: nil))
            }

            // Committing frees the whole budget: nothing uncommitted holds memory.
            try await store.checkpoint(epoch: epoch, metadata: ["offset": epoch.leBytes])
            committed = expected
            #expect(store.statistics.memtableBytes == 0, "round \(round): \(store.statistics.memtableBytes) bytes still charged")
            // The next round's writes prove the budget took writes again.
        }
        // The same writes fit every round: freeing neither leaks nor over-credits the budget.
        #expect(Set(acceptedPerRound).count == 1, "writes accepted per round: \(acceptedPerRound)")
        for t: UInt32 in 1...2 {
            #expect(try await Self.scanAll(store, table: t, epoch: 4) == expectedRows(committed, table: t, from: nil, to: nil))
        }
    }

    /// With spilling off (`StoreOptions.spillOpenEpochs`; SpillTests covers it on).
    @Test func waitForWriteBudgetReturnsAtOnceWithRoomAndThrowsWhenNothingCanFreeIt() async throws {
        var o = Self.options()
        o.spillOpenEpochs = false
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        try await store.waitForWriteBudget()
        let (accepted, refused, error) = Self.fill(store, table: 1, epoch: 1)
        #expect(Self.isBudgetError(error))
        // Spent, and no sync or commit running: waiting could only hang, so it throws
        // (were it to return, "wait, then retry the write" would spin forever).
        #expect(Self.isBudgetError(await floeError { try await store.waitForWriteBudget() }))
        // Sealing frees nothing by itself.
        try store.seal(epoch: 1)
        #expect(Self.isBudgetError(await floeError { try await store.waitForWriteBudget() }))
        // Neither does a sync whose result is not committed yet.
        let r = try await store.sync(epoch: 1)
        #expect(Self.isBudgetError(await floeError { try await store.waitForWriteBudget() }))
        try await store.commit(epoch: 1, r, metadata: [:])
        try await store.waitForWriteBudget()
        // Returned: the refused write is accepted now.
        try store.put(TableID(1), key: refused.key, value: [1], epoch: 2)
        for (k, v) in accepted.prefix(20) { #expect(try await store.get(TableID(1), key: k.key, epoch: 1) == v) }
        try await store.close()
        #expect(await floeError { try await store.waitForWriteBudget() } == .closed)
    }

    /// A background task syncs and commits while the writer waits for budget:
    /// the wait starts while the commit is in flight (its manifest write is
    /// held back) and returns once the commit has freed the memory.
    @Test func waitForWriteBudgetReturnsWhenAnInFlightCommitFreesMemory() async throws {
        let faults = FaultInjectingObjectStore(wrapping: MemoryObjectStore(), seed: 1)
        let store = try await StateStore.open(objectStore: faults, options: Self.options())
        let (accepted, refused, error) = Self.fill(store, table: 1, epoch: 1)
        #expect(Self.isBudgetError(error))
        try store.seal(epoch: 1)
        faults.addRule(FaultRule(.delay(milliseconds: 300), operations: [.createIfAbsent], pathContains: "manifest/"))
        let creates = faults.operationCount(.createIfAbsent)
        let committer = Task {
            let r = try await store.sync(epoch: 1)
            try await store.commit(epoch: 1, r, metadata: ["offset": [1]])
        }
        while faults.operationCount(.createIfAbsent) == creates { await Task.yield() } // the commit is in flight
        #expect(store.committedEpoch == 0)
        try await store.waitForWriteBudget()
        // It returned because the commit freed the memory, not before.
        #expect(store.committedEpoch == 1)
        #expect(store.statistics.memtableBytes < Self.budget)
        try await committer.value
        try store.put(TableID(1), key: refused.key, value: [7], epoch: 2)
        #expect(try await store.get(TableID(1), key: refused.key, epoch: 2) == [7])
        #expect(try await Self.scanAll(store, table: 1, epoch: 1) == expectedRows(accepted, table: 1, from: nil, to: nil))
    }

    /// The same with `checkpoint` running in the background, the wait starting
    /// while its SSTs upload: a checkpoint is in flight from its seal to its
    /// commit, so the wait must never give up in between. Repeated, since the
    /// gap between its sync and its commit is short.
    @Test func waitForWriteBudgetWaitsForAWholeCheckpoint() async throws {
        for attempt in 0..<40 {
            let faults = FaultInjectingObjectStore(wrapping: MemoryObjectStore(), seed: UInt64(attempt))
            let store = try await StateStore.open(objectStore: faults, options: Self.options())
            let (accepted, _, error) = Self.fill(store, table: 1, epoch: 1)
            #expect(Self.isBudgetError(error))
            faults.addRule(FaultRule(.delay(milliseconds: 2), operations: [.put, .createIfAbsent]))
            let checkpointer = Task { try await store.checkpoint(epoch: 1, metadata: [:]) }
            while faults.operationCount(.put) == 0 { await Task.yield() } // the upload is in flight
            let waited = await capture { try await store.waitForWriteBudget() }
            #expect(waited.failureValue == nil, "attempt \(attempt): waiting during a checkpoint threw \(waited)")
            #expect(store.committedEpoch == 1, "attempt \(attempt)")
            try await checkpointer.value
            #expect(try await Self.scanAll(store, table: 1, epoch: 1) == expectedRows(accepted, table: 1, from: nil, to: nil))
        }
    }
}
