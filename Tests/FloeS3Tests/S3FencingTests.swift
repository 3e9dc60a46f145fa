import Floe
import FloeS3
import Testing

/// Two writers on one bucket, each with its own `S3ObjectStore` (its own HTTP
/// client and connections, as two machines would have): the second `open`
/// fences the first, exactly as on the local store (docs/format.md §8.2).
@Suite struct S3FencingTests {
    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.manifestCheckpointInterval = 2
        return o
    }

    static let table = TableID(1)

    @Test func theSecondOpenFencesTheFirst() async throws {
        let endpoint = try await MotoServer.shared.start()
        let configuration = s3Configuration(bucket: uniqueBucket("fence"), endpoint: endpoint, prefix: "shared")
        let aObjects = try S3ObjectStore(configuration, environment: [:])
        try await aObjects.createBucket()
        let a = try await StateStore.open(objectStore: aObjects, options: Self.options())
        try a.put(Self.table, key: Array("a".utf8), value: [1], epoch: 1)
        try await a.checkpoint(epoch: 1, metadata: ["by": [0xA]])

        let bObjects = try S3ObjectStore(configuration, environment: [:])
        let b = try await StateStore.open(objectStore: bObjects, options: Self.options())
        #expect(b.committedEpoch == 1)
        #expect(try await b.get(Self.table, key: Array("a".utf8), epoch: 1) == [1])

        // A does not know yet: its next commit loses the race for the sequence B's open took.
        try a.put(Self.table, key: Array("zombie".utf8), value: [9], epoch: 2)
        let error = await floeError { try await a.checkpoint(epoch: 2, metadata: ["by": [0xA]]) }
        guard case .fenced? = error else {
            Issue.record("A's commit after B opened: expected fenced, got \(String(describing: error))")
            return
        }
        #expect(a.isFenced)
        #expect(throws: FloeError.self) { try a.put(Self.table, key: [1], value: [1], epoch: 3) }

        // B goes on; a third process sees B's history and nothing of A's fenced epoch.
        try b.put(Self.table, key: Array("b".utf8), value: [2], epoch: 2)
        try await b.checkpoint(epoch: 2, metadata: ["by": [0xB]])
        let cObjects = try S3ObjectStore(configuration, environment: [:])
        let c = try await StateStore.openReadOnly(objectStore: cObjects, options: Self.options())
        #expect(c.committedEpoch == 2)
        #expect(c.committedMetadata["by"] == [0xB])
        #expect(try await c.get(Self.table, key: Array("zombie".utf8), epoch: 2) == nil)
        #expect(try await c.get(Self.table, key: Array("b".utf8), epoch: 2) == [2])
        #expect(try await c.get(Self.table, key: Array("a".utf8), epoch: 2) == [1])
        for s in [a, b, c] { try await s.close() }
        for o in [aObjects, bObjects, cObjects] { try await o.shutdown() }
    }

    /// A writer paused while the new owner committed past two checkpoints finds
    /// its next manifest names pruned and free: the predecessor check fences it.
    @Test func aPausedWriterWhoseHeadWasPrunedIsFenced() async throws {
        let endpoint = try await MotoServer.shared.start()
        let configuration = s3Configuration(bucket: uniqueBucket("fence"), endpoint: endpoint)
        let aObjects = try S3ObjectStore(configuration, environment: [:])
        try await aObjects.createBucket()
        let a = try await StateStore.open(objectStore: aObjects, options: Self.options())
        try a.put(Self.table, key: Array("a1".utf8), value: [1], epoch: 1)
        try await a.checkpoint(epoch: 1, metadata: [:])

        let bObjects = try S3ObjectStore(configuration, environment: [:])
        let b = try await StateStore.open(objectStore: bObjects, options: Self.options())
        for e in Epoch(2)...12 {
            try b.put(Self.table, key: Array("b".utf8), value: [UInt8(e)], epoch: e)
            try await b.checkpoint(epoch: e, metadata: [:])
        }
        let names = try await bObjects.list(prefix: "manifest/").map(\.path)
        #expect(!names.contains { $0.hasSuffix("00000000000000000002.delta") }, "B pruned past A's head: \(names)")

        try a.put(Self.table, key: Array("zombie".utf8), value: [9], epoch: 2)
        await #expect(throws: FloeError.self) { try await a.checkpoint(epoch: 2, metadata: [:]) }
        #expect(a.isFenced)

        let fresh = try await StateStore.open(objectStore: try S3ObjectStore(configuration, environment: [:]), options: Self.options())
        #expect(fresh.committedEpoch == 12)
        #expect(try await fresh.get(Self.table, key: Array("zombie".utf8), epoch: 12) == nil)
        #expect(try await fresh.get(Self.table, key: Array("b".utf8), epoch: 12) == [12])
        for s in [a, b, fresh] { try await s.close() }
        try await aObjects.shutdown()
        try await bObjects.shutdown()
    }
}
