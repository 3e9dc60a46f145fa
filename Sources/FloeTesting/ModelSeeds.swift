#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The seeds of a model-based test, thinned when the `FLOE_SEED_STRIDE`
/// environment variable is set to N > 1: then only every N-th seed of the list runs.
///
/// A sanitizer run (`make tsan` sets the variable to 4) looks for races in
/// interleavings, which a fraction of the seeds exercises as well as all of them, and
/// costs ten times an uninstrumented run; the full list still runs in `make test`.
/// An unset, empty, malformed or non-positive value means every seed.
public enum ModelSeeds {
    /// The environment variable read: `FLOE_SEED_STRIDE`.
    public static let strideVariable = "FLOE_SEED_STRIDE"

    /// The stride in effect (1 when the variable is unset or invalid).
    public static var stride: Int {
        guard let raw = getenv(strideVariable), let n = Int(String(cString: raw)), n > 0 else { return 1 }
        return n
    }

    /// Seeds `0..<count`, every `stride`-th of them (seed 0 always runs).
    public static func first(_ count: Int) -> [UInt64] {
        Swift.stride(from: 0, to: max(count, 0), by: stride).map { UInt64($0) }
    }

    /// Every `stride`-th element of `seeds`, from the first (which always runs).
    public static func thinned<S: Sendable>(_ seeds: [S]) -> [S] {
        let n = stride
        return seeds.enumerated().compactMap { $0.offset % n == 0 ? $0.element : nil }
    }
}
