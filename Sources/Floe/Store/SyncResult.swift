/// What `sync` uploaded: the SSTs holding every sealed epoch in `epochs`, up to
/// and including `epoch`. Plain data: an engine may ship it from many writers to
/// one committer. Committing it makes exactly these epochs visible.
public struct SyncResult: Sendable, Hashable, Codable {
    /// The epoch `sync` was called with.
    public var epoch: Epoch
    /// Every epoch with data in `ssts`, ascending.
    public var epochs: [Epoch]
    /// Every SST of the result: the sub-levels of `subLevels`, oldest first.
    public var ssts: [SstInfo]
    /// The new L0 sub-levels, oldest first, each sorted and non-overlapping: one
    /// (or none) unless some epoch's data was spilled before the sync; then, per
    /// epoch in order, its spilled runs and the rest of it.
    public var subLevels: [[SstInfo]]
    /// Table watermarks set at these epoch (`StateStore.setTableWatermark`).
    public var watermarks: [TableWatermark]

    /// A result of one sub-level (`ssts`).
    public init(epoch: Epoch, epochs: [Epoch], ssts: [SstInfo], watermarks: [TableWatermark] = []) {
        self.init(epoch: epoch, epochs: epochs, subLevels: ssts.isEmpty ? [] : [ssts], watermarks: watermarks)
    }

    public init(epoch: Epoch, epochs: [Epoch], subLevels: [[SstInfo]], watermarks: [TableWatermark] = []) {
        self.epoch = epoch
        self.epochs = epochs
        self.subLevels = subLevels.filter { !$0.isEmpty }
        self.ssts = Array(self.subLevels.joined())
        self.watermarks = watermarks
    }

    /// Bytes uploaded.
    public var bytes: UInt64 { ssts.reduce(0) { $0 + $1.fileSize } }
}
