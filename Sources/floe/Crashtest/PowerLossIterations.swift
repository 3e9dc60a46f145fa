import Floe
import FloeTesting

/// The power-loss crash loop, for `floe crashtest --power-loss`: `iterations`
/// runs of `PowerLossRun` with seeds `seed`, `seed + 1`, ... Each run writes
/// epochs into a store on a simulated file system, cuts the power at a random
/// file-system call, recovers what survived and checks it, twice
/// (docs/power-loss.md). A failing run replays alone with its own seed and
/// `iterations` 1.
///
/// `report` receives one line per problem found, each starting with its seed.
/// - Returns: runs made; crashes after which an acknowledged epoch was missing
///   (or the store did not open); crashes after which the recovered state was
///   not exactly that of one epoch (wrong rows or metadata, verifier problems).
/// - Throws: `FloeError.invalidArgument` when `iterations` is below 1.
func runPowerLossIterations(seed: UInt64, iterations: Int,
                            report: (String) -> Void = { print($0) }) async throws -> (iterations: Int, lostEpochs: Int, partialEpochs: Int) {
    guard iterations >= 1 else { throw FloeError.invalidArgument("power-loss iterations must be at least 1, got \(iterations)") }
    let summary = await PowerLossRun.iterations(seed: seed, count: iterations) { outcome in
        for line in outcome.problems { report(line) }
    }
    return (summary.iterations, summary.lostEpochs, summary.partialEpochs)
}
