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

    /// What one kill loop found: a report per life, and how much it exercised.
    struct Run {
        var reports: [RecoveryReport] = []
        var injectedCrashes = 0
        var acknowledged = 0
    }

    /// Eight lives of the engine on one disk, each checked after its crash.
    /// `acknowledgeEarly` breaks the engine's side of the oracle protocol (the ack
    /// is recorded before the commit returns), to show that the check catches it.
    static func killLoop(seed: UInt64, acknowledgeEarly: Bool = false) async throws -> Run {
        var run = Run()
        let disk = MemoryObjectStore()            // what every process's writes reach, and what survives them
        var oracle: [OracleRecord] = [.base(epoch: 0, metadata: [:], rows: [:])]
        var rng = SplitMix64(seed: seed)
        for _ in 0..<8 {
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
                    if acknowledgeEarly { oracle.append(.ack(epoch: epoch)) }
                    do { try await engine.commit(epoch) } catch { break }   // died in the commit: the epoch is in doubt
                    if !acknowledgeEarly { oracle.append(.ack(epoch: epoch)) }
                    run.acknowledged += 1
                }
                try? await engine.store.close()
            }
            if process.isCrashed { run.injectedCrashes += 1 }
            process.crash()

            // A new process opens what survived and checks it against the oracle.
            let history = try OracleHistory(records: oracle)
            let report = await RecoveryCheck(universe: WordCounter.universe).run(objectStore: disk, history: history)
            run.reports.append(report)
            guard let epoch = report.recovered, let verified = report.expected else { break }
            oracle = [.base(epoch: epoch, metadata: verified.metadata, rows: verified.state)]
        }
        return run
    }

    @Test(arguments: seeds) func wordCounterSurvivesCrashes(seed: UInt64) async throws {
        let run = try await Self.killLoop(seed: seed)
        for (life, report) in run.reports.enumerated() {
            #expect(report.isClean, """
                seed \(seed) life \(life) (replay: FLOE_TEST_SEED=\(seed)): recovered \(report.recovered.map(String.init) ?? "nothing"), \
                lost \(report.lostEpochs), partial \(report.partialKeys), wrong \(report.wrongKeys), problems \(report.problems)
                """)
        }
        #expect(run.reports.count == 8 && run.injectedCrashes > 0 && run.acknowledged > 0,
                "seed \(seed): \(run.reports.count) lives, \(run.injectedCrashes) injected crashes, \(run.acknowledged) acknowledged epochs")
    }

    /// The same loop with an engine that records the ack before its commit returns:
    /// a crash in the commit then loses an "acknowledged" epoch, which the check must report.
    @Test func anAckBeforeTheCommitReturnedIsCaught() async throws {
        var lost = 0, lives = 0
        for seed: UInt64 in 1...10 {
            let run = try await Self.killLoop(seed: seed, acknowledgeEarly: true)
            lives += run.reports.count
            lost += run.reports.filter { !$0.lostEpochs.isEmpty }.count
        }
        #expect(lost > 0, "seeds 1...10: no lost epoch reported in \(lives) lives of an engine that acknowledges before committing")
    }
}
