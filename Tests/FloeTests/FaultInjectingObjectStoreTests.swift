import Testing
@testable import Floe
import FloeTesting

@Suite struct FaultInjectingObjectStoreTests {
    private func injected(_ op: ObjectOperation, _ path: String) -> FloeError {
        .io(path: path, reason: "injected fault: \(op.rawValue)")
    }

    private func crashed(_ path: String) -> FloeError {
        .io(path: path, reason: "injected crash")
    }

    @Test func failRuleDropsMatchingWritesOnly() async throws {
        let inner = MemoryObjectStore()
        let store = FaultInjectingObjectStore(wrapping: inner, seed: 1)
        store.addRule(FaultRule(.fail, operations: [.put], pathContains: "data/"))

        await #expect(throws: injected(.put, "data/1.sst")) { try await store.put("data/1.sst", [1]) }
        await #expect(throws: FloeError.objectNotFound("data/1.sst")) { _ = try await inner.get("data/1.sst") }

        try await store.put("manifest/1.delta", [2])
        #expect(try await inner.get("manifest/1.delta") == [2])
        // The rule covers only put: other operations on data/ pass.
        #expect(try await store.createIfAbsent("data/2.sst", [3]))
        #expect(try await store.get("data/2.sst") == [3])

        #expect(store.injectedFailures == 1)
        #expect(store.operationCount(.put) == 2)
        #expect(store.operationCount(.createIfAbsent) == 1)
        #expect(store.operationCount(.get) == 1)

        store.removeAllRules()
        try await store.put("data/1.sst", [1])
        #expect(try await inner.get("data/1.sst") == [1])
        #expect(store.injectedFailures == 1)
    }

    /// Which of 200 puts fail under a p=0.5 rule with `seed`.
    private func failurePattern(seed: UInt64) async -> [Bool] {
        let store = FaultInjectingObjectStore(wrapping: MemoryObjectStore(), seed: seed,
                                              rules: [FaultRule(.fail, operations: [.put], probability: 0.5)])
        var pattern: [Bool] = []
        for i in 0..<200 {
            do {
                try await store.put("data/\(i).sst", [UInt8(truncatingIfNeeded: i)])
                pattern.append(false)
            } catch {
                pattern.append(true)
            }
        }
        #expect(store.injectedFailures == pattern.filter { $0 }.count)
        return pattern
    }

    @Test func sameSeedSameFaults() async throws {
        let first = await failurePattern(seed: 42)
        let second = await failurePattern(seed: 42)
        #expect(first == second)
        let failures = first.filter { $0 }.count
        #expect(failures > 60 && failures < 140, "p=0.5 gave \(failures) of 200")
        #expect(await failurePattern(seed: 43) != first)
    }

    @Test func skipAndLimitAreHonoured() async throws {
        let inner = MemoryObjectStore(objects: ["data/x.sst": [1, 2, 3]])
        let store = FaultInjectingObjectStore(wrapping: inner, seed: 7)
        store.addRule(FaultRule(.fail, operations: [.get], pathContains: "x.sst", skip: 2, limit: 3))
        var outcomes: [Bool] = []
        for i in 0..<10 {
            do {
                let bytes = i.isMultiple(of: 2) ? try await store.get("data/x.sst")
                                                 : try await store.get("data/x.sst", range: 0..<3)
                #expect(bytes == [1, 2, 3])
                outcomes.append(true)
            } catch let error as FloeError {
                #expect(error == injected(.get, "data/x.sst"))
                outcomes.append(false)
            }
        }
        #expect(outcomes == [true, true, false, false, false, true, true, true, true, true])
        #expect(store.injectedFailures == 3)
        #expect(store.operationCount(.get) == 10)
    }

    @Test func crashStopsEverythingAndSurvivorsAreVisible() async throws {
        let inner = MemoryObjectStore()
        let store = FaultInjectingObjectStore(wrapping: inner, seed: 3)
        try await store.put("data/1.sst", [1])
        #expect(try await store.createIfAbsent("manifest/1.delta", [2]))
        #expect(!store.isCrashed)

        store.crash()
        #expect(store.isCrashed)
        await #expect(throws: crashed("data/2.sst")) { try await store.put("data/2.sst", [3]) }
        await #expect(throws: crashed("manifest/2.delta")) { _ = try await store.createIfAbsent("manifest/2.delta", [4]) }
        await #expect(throws: crashed("data/1.sst")) { _ = try await store.get("data/1.sst") }
        await #expect(throws: crashed("data/1.sst")) { _ = try await store.get("data/1.sst", range: 0..<1) }
        await #expect(throws: crashed("data/1.sst")) { _ = try await store.size("data/1.sst") }
        await #expect(throws: crashed("data/1.sst")) { try await store.delete("data/1.sst") }
        await #expect(throws: crashed("data/")) { _ = try await store.list(prefix: "data/") }
        store.removeAllRules()
        #expect(store.isCrashed)
        #expect(store.injectedFailures == 0)

        let restarted = FaultInjectingObjectStore(wrapping: store.inner, seed: 3)
        #expect(try await restarted.list(prefix: "").map(\.path) == ["data/1.sst", "manifest/1.delta"])
        #expect(try await restarted.get("data/1.sst") == [1])
        #expect(try await restarted.get("manifest/1.delta") == [2])
    }

    @Test func crashRuleFailsTheWriteAndCrashes() async throws {
        let inner = MemoryObjectStore()
        let store = FaultInjectingObjectStore(wrapping: inner, seed: 4)
        store.addRule(FaultRule(.crash, operations: [.createIfAbsent], pathContains: "manifest/", skip: 1))
        #expect(try await store.createIfAbsent("manifest/1.delta", [1]))
        await #expect(throws: crashed("manifest/2.delta")) { _ = try await store.createIfAbsent("manifest/2.delta", [2]) }
        #expect(store.isCrashed)
        #expect(store.injectedFailures == 1)
        await #expect(throws: crashed("data/1.sst")) { try await store.put("data/1.sst", [3]) }
        #expect(inner.snapshot() == ["manifest/1.delta": [1]])
    }

    @Test func crashDuringADelayKeepsTheWriteOut() async throws {
        let inner = MemoryObjectStore()
        let store = FaultInjectingObjectStore(wrapping: inner, seed: 5)
        store.addRule(FaultRule(.delay(milliseconds: 500), operations: [.put]))
        let write = Task { try await store.put("data/slow.sst", [1]) }
        try await Task.sleep(for: .milliseconds(20))
        store.crash()
        await #expect(throws: crashed("data/slow.sst")) { try await write.value }
        #expect(inner.snapshot().isEmpty)
    }

    @Test func failAfterApplyingWritesButThrows() async throws {
        let inner = MemoryObjectStore()
        let store = FaultInjectingObjectStore(wrapping: inner, seed: 6)
        store.addRule(FaultRule(.failAfterApplying, operations: [.put, .createIfAbsent], limit: 2))

        await #expect(throws: injected(.put, "data/1.sst")) { try await store.put("data/1.sst", [1]) }
        #expect(try await inner.get("data/1.sst") == [1])
        await #expect(throws: injected(.createIfAbsent, "manifest/1.delta")) {
            _ = try await store.createIfAbsent("manifest/1.delta", [2])
        }
        #expect(try await inner.get("manifest/1.delta") == [2])
        // The caller's retry finds its own lost-ack write already there.
        #expect(try await store.createIfAbsent("manifest/1.delta", [2]) == false)
        #expect(store.injectedFailures == 2)
        #expect(!store.isCrashed)
    }

    @Test func delayRuleDelays() async throws {
        let inner = MemoryObjectStore(objects: ["data/1.sst": [1, 2]])
        let store = FaultInjectingObjectStore(wrapping: inner, seed: 8)
        store.addRule(FaultRule(.delay(milliseconds: 150), operations: [.get]))
        let clock = ContinuousClock()
        let start = clock.now
        let bytes = try await store.get("data/1.sst")
        let elapsed = clock.now - start
        #expect(bytes == [1, 2])
        #expect(elapsed >= .milliseconds(150), "elapsed \(elapsed)")
        #expect(store.injectedFailures == 0)
    }

    @Test func delayComposesWithALaterFailRule() async throws {
        let store = FaultInjectingObjectStore(wrapping: MemoryObjectStore(), seed: 9)
        store.addRule(FaultRule(.delay(milliseconds: 100), operations: [.put]))
        store.addRule(FaultRule(.fail, operations: [.put]))
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: injected(.put, "a")) { try await store.put("a", [1]) }
        #expect(clock.now - start >= .milliseconds(100))
    }
}
