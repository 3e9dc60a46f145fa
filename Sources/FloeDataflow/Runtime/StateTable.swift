import Floe

/// One operator instance's view of its state in the store: writes of the epoch
/// being built collect in a batch that `flush` applies at the barrier; reads go to
/// the store at the instance's current epoch, where the writer sees its own
/// flushed but uncommitted epochs.
///
/// Operators keep their own bounded caches in front of it and never evict an
/// entry whose change is still in the batch, so a read from the store never misses
/// a write of the current epoch.
public struct StateTable: Sendable {
    public let store: StateStore
    public let table: TableID
    /// Writes `writeThrough` lets collect before it applies them.
    public let writeThroughWrites: Int
    private var batch = WriteBatch()

    public init(store: StateStore, table: TableID, writeThroughWrites: Int = 4096) {
        self.store = store
        self.table = table
        self.writeThroughWrites = max(1, writeThroughWrites)
    }

    public mutating func put(_ key: [UInt8], _ value: [UInt8]) { batch.put(table, key: key, value: value) }
    public mutating func delete(_ key: [UInt8]) { batch.delete(table, key: key) }
    public var pendingWrites: Int { batch.count }

    /// Applies the batch at `epoch`. When the store's memtable budget is spent it
    /// waits for the checkpoints in flight and tries again, instead of failing.
    public mutating func flush(epoch: Epoch) async throws {
        guard !batch.isEmpty else { return }
        while true {
            do {
                try store.write(batch, epoch: epoch)
                break
            } catch FloeError.memoryBudgetExceeded {
                try await store.waitForWriteBudget()
            }
        }
        batch.removeAll()
    }

    /// Applies the batch now when it holds at least `writeThroughWrites` writes,
    /// so that the barrier's `flush` applies only the rest. Operators whose writes
    /// do not wait for the barrier (joins, views) call it after each chunk: the
    /// memtable inserts then run while rows flow, not on the barrier's path to its
    /// commit. The writes stay in the open epoch, invisible to other readers until
    /// it commits, as when the barrier applies them.
    public mutating func writeThrough(epoch: Epoch) async throws {
        if batch.count >= writeThroughWrites { try await flush(epoch: epoch) }
    }

    public func get(_ key: [UInt8], epoch: Epoch) async throws -> [UInt8]? {
        try await store.get(table, key: key, epoch: epoch)
    }

    /// The values of `keys` at `epoch`, in order (nil: absent): one look at the
    /// store's state for all of them (`StateStore.getMany`), where a get per key
    /// takes the store's lock per key while other instances write.
    public func getMany(_ keys: [[UInt8]], epoch: Epoch) async throws -> [[UInt8]?] {
        try await store.getMany(table, keys: keys, epoch: epoch)
    }

    /// Calls `body` for every row whose key starts with `prefix`, in key order.
    /// Files that cannot hold the prefix are skipped (`StateStore.scan(_:prefix:epoch:)`).
    public func scan(prefix: [UInt8], epoch: Epoch, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) async throws {
        let rows = try await store.scan(table, prefix: prefix, epoch: epoch)
        try await rows.forEachRow { k, v in
            try body(k, v)
            return true
        }
    }
}
