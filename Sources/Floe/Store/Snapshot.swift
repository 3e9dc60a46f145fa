/// A consistent, immutable view of the store at one committed epoch. While it is
/// alive (until `release()` or deinit), the epoch stays readable and compaction
/// keeps the versions it needs. Reads never see later commits. A scan made from
/// it holds a pin of its own: it stays readable (its SSTs safe from object GC)
/// while the scan lives, whether or not the snapshot was released meanwhile.
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
    /// Runs on the caller's executor, like `StateStore.get`.
    nonisolated(nonsending) public func get(_ table: TableID, key: [UInt8]) async throws -> [UInt8]? {
        if let w = pin.version.watermark(table.raw, at: epoch), w.hides(key) { return nil }
        return try await PointReader.get(reader: reader, version: pin.version, memtables: [], table: table, key: key, epoch: epoch)
    }

    /// Rows of `table` in `[from, to)` at the snapshot's epoch; nil bounds are open.
    /// The scan pins the snapshot's version itself (see `ScanResult`), so `release()`
    /// does not end it.
    public func scan(_ table: TableID, from: [UInt8]?, to: [UInt8]?) -> ScanResult {
        ScanResult(reader: reader, table: table.raw, from: from ?? [], to: to, epoch: epoch,
                   memtables: [], runs: pin.version.scanRuns, pin: pin.duplicate(),
                   hidden: pin.version.watermark(table.raw, at: epoch))
    }

    /// Unpins the epoch. Idempotent. Scans made before keep their own pins; other
    /// reads after release work on the held version only as long as object GC has
    /// not deleted its SSTs (after a later compaction and the GC grace):
    /// they may then throw `objectNotFound`.
    public func release() { pin.release() }
}
