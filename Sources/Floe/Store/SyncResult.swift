/// What `sync` uploaded: the SSTs holding every sealed epoch in `epochs`, up to
/// and including `epoch`. Plain data: an engine may ship it from many writers to
/// one committer. Committing it makes exactly these epochs visible.
public struct SyncResult: Sendable, Hashable, Codable {
    /// The epoch `sync` was called with.
    public var epoch: Epoch
    /// Every epoch with data in `ssts`, ascending.
    public var epochs: [Epoch]
    /// The uploaded SSTs, sorted by key and non-overlapping: one new L0 sub-level.
    public var ssts: [SstInfo]
    /// Table watermarks set at these epoch (`StateStore.setTableWatermark`).
    public var watermarks: [TableWatermark]

    public init(epoch: Epoch, epochs: [Epoch], ssts: [SstInfo], watermarks: [TableWatermark] = []) {
        self.epoch = epoch
        self.epochs = epochs
        self.ssts = ssts
        self.watermarks = watermarks
    }

    /// Bytes uploaded.
    public var bytes: UInt64 { ssts.reduce(0) { $0 + $1.fileSize } }
}
