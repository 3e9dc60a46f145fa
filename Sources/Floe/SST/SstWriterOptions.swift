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
    /// Per table, the length N of the key prefix a prefix bloom filter is built
    /// over: each SST also hashes the first N bytes of every user key of that table
    /// (keys shorter than N are left out) into a second filter, and a prefix scan
    /// (`StateStore.scan(_:prefix:epoch:)`) whose prefix has at least N bytes skips
    /// the files that filter rules out. 1...1024; tables not listed get no prefix
    /// filter. Needs `bloomBitsPerKey > 0` (it uses as many bits per distinct prefix).
    /// Changing a length is safe: each file records the lengths it was built with,
    /// and a file built with another length (or none) is read, never skipped.
    public var prefixFilterLengths: [TableID: Int] = [:]

    public init() {}
}
