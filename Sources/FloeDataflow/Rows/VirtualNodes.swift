import CXXHash

/// Keys map to a fixed number of virtual nodes, and virtual nodes to operator
/// instances. State keys start with their virtual node, so a pipeline restarted
/// with another parallelism only assigns the virtual nodes anew: every instance
/// reads the state of the virtual nodes it now owns, and no data moves.
public enum VirtualNodes {
    /// The number of virtual nodes (fixed for the life of a store: it is part of every state key).
    public static let count = 256

    /// The virtual node of a key given as its memcomparable encoding.
    @inlinable public static func of(_ key: UnsafeRawBufferPointer) -> UInt16 {
        UInt16(truncatingIfNeeded: floe_xxh3_64(key.baseAddress, key.count) % UInt64(count))
    }

    @inlinable public static func of(_ key: [UInt8]) -> UInt16 { key.withUnsafeBytes { of($0) } }

    /// The instance (of `parallelism`) that owns `vnode`: contiguous ranges, so
    /// instance i owns [i * count / p, (i + 1) * count / p).
    @inlinable public static func owner(_ vnode: UInt16, parallelism: Int) -> Int {
        Int(vnode) * parallelism / count
    }

    /// The virtual nodes instance `instance` of `parallelism` owns.
    public static func owned(by instance: Int, parallelism: Int) -> Range<Int> {
        let lo = (instance * count + parallelism - 1) / parallelism
        let hi = ((instance + 1) * count + parallelism - 1) / parallelism
        return lo..<hi
    }
}
