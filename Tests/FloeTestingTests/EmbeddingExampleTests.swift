import Foundation
import Testing
import Floe
import FloeTesting

/// The embedding example of docs/testing.md, run: an engine (`WordCounter`)
/// crash-tested on its own state with FloeTesting. Each life is a process whose
/// storage dies at a seeded random write (`FaultInjectingObjectStore`, `.crash`):
/// nothing it does afterwards reaches the disk. The engine records each epoch's
/// writes in the oracle before committing and the acknowledgement after; a new
/// process then checks what survived against the oracle (`RecoveryCheck`), and
/// the verified state becomes the next life's base.
@Suite struct EmbeddingExampleTests {
    static var seeds: [UInt64] {
        if let text = ProcessInfo.processInfo.environment["FLOE_TEST_SEED"], let seed = UInt64(text) { return [seed] }
        return [1, 2, 3]
    }

    @Test(arguments: seeds) func wordCounterSurvivesCrashes(seed: UInt64) async throws {
        let disk = MemoryObjectStore()            // what every process's writes reach, and what survives them
        var oracle: [OracleRecord] = [.base(epoch: 0, metadata: [:], rows: [:])]
        var rng = SplitMix64(seed: seed)
        var injectedCrashes = 0, acknowledged = 0

        for life in 0..<8 {
            // One process: its storage dies at a random write, or it is killed after 12 epochs.
            let process = FaultInjectingObjectStore(wrapping: disk, seed: rng.next(), rules: [
                FaultRule(.crash, operations: [.put, .createIfAbsent, .delete], probability: 0.08),
            ])
            if let engine = try? await WordCounter.open(on: process) {
                var epoch = engine.store.committedEpoch
                for _ in 0..<12 {
                    epoch += 1
                    guard let writes = try? await engine.process(epoch: epoch, seed: seed) else { break }
                    oracle.append(.intent(epoch: epoch, metadata: WordCounter.metadata(epoch), writes: writes))
                    do { try await engine.commit(epoch) } catch { break }   // died in the commit: the epoch is in doubt
                    oracle.append(.ack(epoch: epoch))
                    acknowledged += 1
                }
                try? await engine.store.close()
            }
            if process.isCrashed { injectedCrashes += 1 }
            process.crash()

            // A new process opens what survived and checks it against the oracle.
            let history = try OracleHistory(records: oracle)
            let report = await RecoveryCheck(universe: WordCounter.universe).run(objectStore: disk, history: history)
            #expect(report.isClean, """
                seed \(seed) life \(life) (replay: FLOE_TEST_SEED=\(seed)): recovered \(report.recovered.map(String.init) ?? "nothing"), \
                lost \(report.lostEpochs), partial \(report.partialKeys), wrong \(report.wrongKeys), problems \(report.problems)
                """)
            guard let epoch = report.recovered, let verified = report.expected else { return }
            oracle = [.base(epoch: epoch, metadata: verified.metadata, rows: verified.state)]
        }
        #expect(injectedCrashes > 0 && acknowledged > 0,
                "seed \(seed): \(injectedCrashes) injected crashes, \(acknowledged) acknowledged epochs: the loop tested nothing")
    }
}
