/// How SSTs are built. Part of `StoreOptions`.
public struct SstWriterOptions: Sendable, Equatable {
    /// Target uncompressed size of a data block.
    public var blockSize: Int = 4096
    /// Entries between restart points inside a block.
    public var restartInterval: Int = 16
    /// Bloom filter bits per distinct user key; 0 disables the filter.
    public var bloomBitsPerKey: Int = 10
    /// Data block compression.
    public var compression: Compression = .lz4
    /// Files are cut at a user-key boundary once they reach this size.
    public var targetFileSize: Int = 64 << 20

    public init() {}
}
