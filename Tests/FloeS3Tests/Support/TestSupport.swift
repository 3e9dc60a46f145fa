import Foundation
import Floe
import FloeTesting
import Testing

/// Deterministic test bytes.
func testBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count {
        var word = rng.next()
        for _ in 0..<min(8, count - out.count) {
            out.append(UInt8(truncatingIfNeeded: word))
            word >>= 8
        }
    }
    return out
}

/// The `FloeError` `body` throws, or nil (recording an issue) if it throws something else or nothing.
func floeError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> FloeError? {
    do {
        try await body()
        Issue.record("expected a FloeError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FloeError {
        return error
    } catch {
        Issue.record("expected a FloeError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// The seeds `0..<count` of a model-based suite, thinned under `make tsan` (`ModelSeeds`).
func modelSeeds(_ count: Int) -> [UInt64] { ModelSeeds.first(count) }
