import Testing
@testable import Floe

@Suite struct StoreVerifierTests {
    let t1 = TableID(1), t2 = TableID(2)

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// A store with six checkpointed epochs of puts and deletes over two tables
    /// (a manifest checkpoint every 4 deltas), closed again.
    func builtStore() async throws -> MemoryObjectStore {
        let mem = MemoryObjectStore()
        var opts = StoreOptions()
        opts.manifestCheckpointInterval = 4
        opts.sst.blockSize = 256
        // The assertions below count objects and sequences exactly: no background compaction.
        opts.compaction.background = false
        let s = try await StateStore.open(objectStore: mem, options: opts)
        for e in Epoch(1)...6 {
            for i in 0..<40 {
                let key = bytes("key-\(i)")
                if (i + Int(e)) % 7 == 0 {
                    try s.delete(t1, key: key, epoch: e)
                } else {
                    try s.put(t1, key: key, value: bytes("value \(i) at epoch \(e)"), epoch: e)
                }
                if i % 3 == 0 { try s.put(t2, key: [UInt8(i), 0xff], value: [UInt8](repeating: UInt8(e), count: 20), epoch: e) }
            }
            try await s.checkpoint(epoch: e, metadata: ["source.offset": bytes("\(e * 40)")])
        }
        try await s.close()
        return mem
    }

    func sstPaths(_ mem: MemoryObjectStore) -> [String] {
        mem.snapshot().keys.filter { $0.hasPrefix("data/") }.sorted()
    }

    /// A small SST of two epochs (puts and a tombstone) over two tables, several
    /// blocks, no compression, with a bloom filter.
    func smallSst() async throws -> (path: String, bytes: [UInt8]) {
        let mem = MemoryObjectStore()
        var opts = StoreOptions()
        opts.sst.compression = .none
        opts.sst.blockSize = 256
        opts.sst.restartInterval = 2
        opts.compaction.background = false
        let s = try await StateStore.open(objectStore: mem, options: opts)
        for i in 10..<26 { try s.put(t1, key: bytes("k\(i)"), value: bytes("v\(i)"), epoch: 1) }
        try s.put(t2, key: bytes("other"), value: bytes("x"), epoch: 1)
        try s.put(t1, key: bytes("k13"), value: bytes("v13 again"), epoch: 2)
        try s.delete(t1, key: bytes("k15"), epoch: 2)
        try s.put(t2, key: bytes("other"), value: [0, 1, 2], epoch: 2)
        try s.seal(epoch: 2)
        let r = try await s.sync(epoch: 2)
        try await s.commit(epoch: 2, r, metadata: [:])
        try await s.close()
        let paths = sstPaths(mem)
        try #require(paths.count == 1)
        return (paths[0], mem.snapshot()[paths[0]]!)
    }

    // MARK: store verification

    @Test func cleanStoreHasNoProblems() async throws {
        let mem = try await builtStore()
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.problems == [])
        #expect(report.warnings == [])
        #expect(report.isClean)
        #expect(report.committedEpoch == 6)
        #expect(report.manifestSequence == 7)
        #expect(report.manifestObjects == 8) // 7 deltas + the checkpoint at 4
        #expect(report.sstCount == 6)
        #expect(report.sstsVerified == 6)
        #expect(report.blocks >= 6)
        #expect(report.entries == 6 * (40 + 14))
    }

    @Test func missingSstIsAProblemNamingIt() async throws {
        let mem = try await builtStore()
        let victim = sstPaths(mem)[2]
        try await mem.delete(victim)
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.object == victim)
        #expect(report.sstsVerified == 5)
        #expect(report.warnings == [])
    }

    @Test func flippedSstByteIsAProblemNamingObjectAndOffset() async throws {
        let mem = try await builtStore()
        let victim = sstPaths(mem)[1]
        var objects = mem.snapshot()
        let at = objects[victim]!.count / 3
        objects[victim]![at] ^= 0x20
        let report = try await StoreVerifier.verify(objectStore: MemoryObjectStore(objects: objects))
        #expect(report.problems.count == 1)
        let problem = try #require(report.problems.first)
        #expect(problem.object == victim)
        let offset = try #require(problem.offset)
        #expect(offset <= at && at < objects[victim]!.count)
        #expect(problem.description.hasPrefix("\(victim) at offset \(offset): "))
        #expect(report.sstsVerified == 5)
    }

    @Test func unreferencedDataObjectIsOnlyAWarning() async throws {
        let mem = try await builtStore()
        let orphan = SstInfo.path(0xdead_beef_0000_0001)
        try await mem.put(orphan, [1, 2, 3, 4])
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.problems == [])
        #expect(report.warnings.map(\.object) == [orphan])
        #expect(report.orphanCount == 1)
        #expect(report.orphanBytes == 4)
    }

    @Test func corruptManifestDeltaIsAProblemAndSstsAreNotChecked() async throws {
        let mem = try await builtStore()
        var objects = mem.snapshot()
        let delta = VersionDelta.objectPath(6)
        objects[delta]![10] ^= 1
        let report = try await StoreVerifier.verify(objectStore: MemoryObjectStore(objects: objects))
        #expect(!report.problems.isEmpty)
        #expect(report.problems.allSatisfy { $0.object == delta })
        #expect(report.committedEpoch == nil)
    }

    @Test func manifestAndSstDisagreementIsAProblem() async throws {
        // Swap the contents of two SSTs: each is a valid file, but not the one the manifest describes.
        let mem = try await builtStore()
        let paths = sstPaths(mem)
        var objects = mem.snapshot()
        (objects[paths[0]], objects[paths[1]]) = (objects[paths[1]], objects[paths[0]])
        let report = try await StoreVerifier.verify(objectStore: MemoryObjectStore(objects: objects))
        #expect(Set(report.problems.compactMap(\.object)) == [paths[0], paths[1]])
        #expect(report.problems.contains { $0.message.contains("epoch") })
    }

    @Test func emptyStoreIsNotAFloeStore() async throws {
        await #expect(throws: FloeError.self) { _ = try await StoreVerifier.verify(objectStore: MemoryObjectStore()) }
    }

    // MARK: inspection

    @Test func inspectorReadsVersionAndHistory() async throws {
        let mem = try await builtStore()
        let inspector = StoreInspector(objectStore: mem)
        let v = try await inspector.currentVersion()
        #expect(v.committedEpoch == 6)
        #expect(v.l0.count == 6)
        #expect(v.total.fileCount == 6)
        #expect(v.total.minEpoch == 1 && v.total.maxEpoch == 6)
        #expect(v.metadata["source.offset"] == bytes("240"))
        let h = try await inspector.manifestHistory()
        #expect(h.isClean)
        #expect(h.gaps.isEmpty)
        #expect(h.records.map(\.kind) == [.open, .commit, .commit, .commit, .checkpoint, .commit, .commit, .commit])
        #expect(h.records.last?.liveSsts == 6)
        #expect(h.records[1].addedCount == 1 && h.records[1].metadataKeys == ["source.offset"])
    }

    @Test func sstInspectorListsEntriesInOrder() async throws {
        let sst = try await smallSst()
        let inspector = try SstInspector(bytes: sst.bytes, object: sst.path)
        let entries = try inspector.entries()
        #expect(entries.count == 20)
        #expect(entries.filter(\.isTombstone).map { KeyText.printable($0.userKey) } == ["k15"])
        #expect(entries.first.map { KeyText.describe($0.key) } == "t1:k10@1")
        #expect(entries.last.map { KeyText.describe($0.key) } == "t2:other@1")
        #expect(try inspector.entries(limit: 3).count == 3)
        #expect(inspector.summary.properties.entryCount == 20)
        #expect(inspector.blockCount > 1)
        let detail = try inspector.blockDetail(0)
        #expect(detail.compression == Compression.none)
        #expect(detail.lastKey == inspector.summary.blocks[0].lastKey)
    }

    // MARK: SST corruption

    @Test func everySingleByteFlipOfAnSstIsDetected() async throws {
        let sst = try await smallSst()
        let summary = try StoreVerifier.verifySst(bytes: sst.bytes, object: sst.path)
        #expect(summary.properties.entryCount == 20)
        #expect(summary.blocks.count > 1)
        var passed: [String] = [], otherErrors: [String] = []
        for i in sst.bytes.indices {
            for mask: UInt8 in [0x01, 0x10, 0x80, 0xff] {
                var b = sst.bytes
                b[i] ^= mask
                do {
                    _ = try StoreVerifier.verifySst(bytes: b, object: sst.path)
                    passed.append("byte \(i) ^ \(mask)")
                } catch let e as FloeError {
                    guard case let .corruption(object, offset, _) = e, object == sst.path, offset >= 0, offset < b.count else {
                        if case .unsupportedFormat = e { continue }
                        otherErrors.append("byte \(i) ^ \(mask): \(e)")
                        continue
                    }
                } catch {
                    otherErrors.append("byte \(i) ^ \(mask): \(error)")
                }
            }
        }
        #expect(passed == [])
        #expect(otherErrors == [])
    }

    @Test func everyTruncationOfAnSstIsDetected() async throws {
        let sst = try await smallSst()
        for n in 0..<sst.bytes.count {
            #expect(throws: FloeError.self, "prefix of \(n) bytes") {
                _ = try StoreVerifier.verifySst(bytes: Array(sst.bytes[..<n]), object: sst.path)
            }
        }
    }

    /// Flips with the checksums recomputed reach the structural checks behind them:
    /// they must never trap, and damage to the index or the footer handles must be caught.
    @Test func checksumConsistentDamageNeverTraps() async throws {
        let sst = try await smallSst()
        let s = try SstInspector(bytes: sst.bytes, object: sst.path).summary
        let f = s.footer
        var regions = s.blocks.map { ("data", $0.offset..<($0.offset + $0.size)) }
        regions.append(("filter", f.filterOffset..<(f.filterOffset + f.filterSize)))
        regions.append(("index", f.indexOffset..<(f.indexOffset + f.indexSize)))
        regions.append(("properties", f.propertiesOffset..<(f.propertiesOffset + f.propertiesSize)))
        var undetected: [String] = []
        for (name, r) in regions {
            // Payload and compression byte; the checksum is rewritten after each flip.
            for i in r.lowerBound..<(r.upperBound - 8) {
                for mask: UInt8 in [0x01, 0xff] {
                    var b = sst.bytes
                    b[i] ^= mask
                    let sum = Checksum.xxh3(b, r.lowerBound..<(r.upperBound - 8))
                    withUnsafeBytes(of: sum.littleEndian) { b.replaceSubrange((r.upperBound - 8)..<r.upperBound, with: $0) }
                    if (try? StoreVerifier.verifySst(bytes: b, object: sst.path)) != nil, name == "index" {
                        undetected.append("\(name) byte \(i) ^ \(mask)")
                    }
                }
            }
        }
        // Footer handles and version, with the footer checksum rewritten.
        let footerStart = sst.bytes.count - SstFooter.size
        for i in footerStart..<(footerStart + 40) {
            for mask: UInt8 in [0x01, 0x80, 0xff] {
                var b = sst.bytes
                b[i] ^= mask
                let sum = Checksum.xxh3(b, footerStart..<(footerStart + 40))
                withUnsafeBytes(of: sum.littleEndian) { b.replaceSubrange((footerStart + 40)..<(footerStart + 48), with: $0) }
                if (try? StoreVerifier.verifySst(bytes: b, object: sst.path)) != nil { undetected.append("footer byte \(i) ^ \(mask)") }
            }
        }
        #expect(undetected == [])
    }

    @Test func footerHandlesNearTheTopOfUInt64AreRejected() async throws {
        let sst = try await smallSst()
        let footerStart = sst.bytes.count - SstFooter.size
        for field in [0, 12, 24] {
            var b = sst.bytes
            withUnsafeBytes(of: (UInt64.max - 3).littleEndian) { b.replaceSubrange((footerStart + field)..<(footerStart + field + 8), with: $0) }
            let sum = Checksum.xxh3(b, footerStart..<(footerStart + 40))
            withUnsafeBytes(of: sum.littleEndian) { b.replaceSubrange((footerStart + 40)..<(footerStart + 48), with: $0) }
            #expect(throws: FloeError.self) { _ = try StoreVerifier.verifySst(bytes: b, object: sst.path) }
        }
    }
}
