/// A consistent, immutable view of the store at one committed epoch. While it is
/// alive (until `release()` or deinit), the epoch stays readable and compaction
/// keeps the versions it needs. Reads never see later commits.
public final class Snapshot: Sendable {
    /// The epoch this snapshot reads at.
    public let epoch: Epoch
    let pin: VersionPin
    let reader: SstReader

    init(pin: VersionPin, reader: SstReader) {
        self.epoch = pin.epoch
        self.pin = pin
        self.reader = reader
    }

    /// The value of `key` at the snapshot's epoch, or nil if absent or deleted.
    /// Throws `FloeError.corruption` / `.objectNotFound` if an SST is damaged or gone.
    public func get(_ table: TableID, key: [UInt8]) async throws -> [UInt8]? {
        try await PointReader.get(reader: reader, version: pin.version, memtables: [], table: table, key: key, epoch: epoch)
    }

    /// Rows of `table` in `[from, to)` at the snapshot's epoch; nil bounds are open.
    public func scan(_ table: TableID, from: [UInt8]?, to: [UInt8]?) -> ScanResult {
        ScanResult(reader: reader, table: table.raw, from: from ?? [], to: to, epoch: epoch,
                   memtables: [], runs: pin.version.l0 + pin.version.levels, pin: pin)
    }

    /// Unpins the epoch. Idempotent; reads after release still work on the held version.
    public func release() { pin.release() }
}
