import Foundation
import Testing
@testable import Floe

/// Damaged, truncated and missing objects: the store must answer exactly or
/// throw a typed error naming the damaged object, never a wrong answer, a crash
/// or a hang, and it must not make things worse (restoring the original bytes
/// gives back every committed value).
@Suite(.timeLimit(.minutes(2))) struct CorruptionTests {
    /// A small store, closed: four epochs over three tables, one SST per epoch.
    struct Fixture {
        var objects: [String: [UInt8]] = [:]
        var options = StoreOptions()
        /// `maps[e]`: every committed value as of epoch `e` (index 0 is the empty store).
        var maps: [[ModelKey: [UInt8]]] = [[:]]
        /// `written[e]`: the keys epoch `e` put or deleted.
        var written: [Set<ModelKey>] = [[]]
        /// `ssts[e]`: the SSTs epoch `e`'s commit added.
        var ssts: [[SstInfo]] = [[]]
        /// Every key ever written plus a few never written.
        var readKeys: [ModelKey] = []

        var committed: Epoch { Epoch(maps.count - 1) }
        var epochs: ClosedRange<Epoch> { 1...committed }
        static let tables: [UInt32] = [1, 2, 3]

        var manifestObjects: [String] { objects.keys.filter { $0.hasPrefix("manifest/") }.sorted() }
    }

    /// Compressible values (a 4-byte pattern), so lz4 really compresses the blocks.
    static func value(_ seed: Int, _ n: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: seed &* 7 &+ $0 % 4) }
    }

    static func k(_ t: UInt32, _ s: String) -> ModelKey { ModelKey(t, Array(s.utf8)) }

    /// Puts (`value != nil`) and deletes per epoch, 1 through 4.
    static let script: [[(ModelKey, [UInt8]?)]] = [
        [(k(1, ""), value(1, 40)), (k(1, "a"), value(2, 60)), (k(1, "ab"), value(3, 50)), (k(1, "abc"), value(4, 45)),
         (k(1, "b"), value(5, 70)), (k(1, "c"), value(6, 33)), (k(1, "d"), value(7, 64)), (k(1, "e"), value(8, 52)),
         (k(2, "a"), value(9, 41)), (k(2, "z"), value(10, 0))],
        [(k(1, "ab"), value(11, 30)), (k(1, "c"), nil), (k(1, "f"), value(12, 44)), (k(2, "a"), value(13, 20))],
        [(k(1, "a"), nil), (k(1, "g"), value(14, 36)), (k(3, "x"), value(15, 48))],
        [(k(1, "ab"), value(16, 38)), (k(1, "b"), value(17, 9)), (k(2, "z"), nil), (k(1, "zz"), nil)],
    ]

    static func buildFixture(compression: Compression, checkpointInterval: UInt64) async throws -> Fixture {
        var f = Fixture()
        f.options.sst.blockSize = 256
        f.options.sst.restartInterval = 2
        f.options.sst.compression = compression
        f.options.sst.bloomBitsPerKey = 10
        f.options.retentionEpochs = 1_000
        f.options.manifestCheckpointInterval = checkpointInterval
        // One SST per epoch, as the tests assume: idle compaction racing `close`
        // could otherwise merge them, leaving `ssts[e]` unreferenced (so no flip
        // of it is ever detected).
        f.options.compaction.background = false
        let mem = MemoryObjectStore()
        // The tests damage the SSTs the syncs below report, so these must be the live
        // files: a background compaction that got to run first (a slow machine, or a
        // sanitizer build) replaced them, and damaging the stale copies went unnoticed.
        var buildOptions = f.options
        buildOptions.compaction.background = false
        let store = try await StateStore.open(objectStore: mem, options: buildOptions)
        var map: [ModelKey: [UInt8]] = [:]
        var keys = Set<ModelKey>([k(1, "aa"), k(1, "zzz"), k(3, "a"), k(2, "")])
        for (i, ops) in script.enumerated() {
            let e = Epoch(i + 1)
            for (key, v) in ops {
                if let v { try store.put(TableID(key.table), key: key.key, value: v, epoch: e) } else {
                    try store.delete(TableID(key.table), key: key.key, epoch: e)
                }
                map[key] = v
                keys.insert(key)
            }
            try store.seal(epoch: e)
            let r = try await store.sync(epoch: e)
            try await store.commit(epoch: e, r, metadata: ["offset": e.leBytes])
            f.maps.append(map)
            f.written.append(Set(ops.map(\.0)))
            f.ssts.append(r.ssts)
        }
        try await store.close()
        f.objects = mem.snapshot()
        f.readKeys = keys.sorted()
        return f
    }

    /// Reads every key and scans every table at each epoch in `epochs`. Each answer
    /// must be the model's, or an error `allowed` accepts. Returns how many reads threw.
    @discardableResult
    static func readEverything(_ store: StateStore, _ f: Fixture, epochs: ClosedRange<Epoch>, _ context: String,
                               allowed: (FloeError) -> Bool = { _ in false },
                               sourceLocation: SourceLocation = #_sourceLocation) async -> Int {
        var thrown = 0
        for e in epochs {
            let map = f.maps[Int(e)]
            for key in f.readKeys {
                switch await capture({ try await store.get(TableID(key.table), key: key.key, epoch: e) }) {
                case let .success(v):
                    #expect(v == map[key], "\(context): get \(key) @\(e) gave a wrong answer", sourceLocation: sourceLocation)
                case let .failure(err):
                    thrown += 1
                    #expect(allowed(err), "\(context): get \(key) @\(e) threw \(err)", sourceLocation: sourceLocation)
                }
            }
            for t in Fixture.tables {
                switch await capture({ try await collectRows(store.scan(TableID(t), from: nil, to: nil, epoch: e)) }) {
                case let .success(rows):
                    #expect(rows == expectedRows(map, table: t, from: nil, to: nil),
                            "\(context): scan t\(t) @\(e) gave a wrong answer", sourceLocation: sourceLocation)
                case let .failure(err):
                    thrown += 1
                    #expect(allowed(err), "\(context): scan t\(t) @\(e) threw \(err)", sourceLocation: sourceLocation)
                }
            }
        }
        return thrown
    }

    /// Puts `original` back over the damaged object in `store`'s objects, opens a
    /// fresh store (empty caches) and checks every committed value at every epoch.
    static func restoreAndVerify(_ objects: MemoryObjectStore, _ path: String, _ original: [UInt8]?,
                                 _ f: Fixture, _ context: String, epochs: ClosedRange<Epoch>? = nil,
                                 sourceLocation: SourceLocation = #_sourceLocation) async {
        if let original { try? await objects.put(path, original) }
        switch await capture({ try await StateStore.open(objectStore: objects, options: f.options) }) {
        case let .success(store):
            #expect(store.committedEpoch == f.committed, "\(context), restored: committed epoch", sourceLocation: sourceLocation)
            #expect(store.committedMetadata == ["offset": f.committed.leBytes], "\(context), restored: metadata", sourceLocation: sourceLocation)
            await readEverything(store, f, epochs: epochs ?? f.epochs, "\(context), restored", sourceLocation: sourceLocation)
        case let .failure(e):
            Issue.record("\(context): reopening with the original bytes restored threw \(e)", sourceLocation: sourceLocation)
        }
    }

    static func isCorruption(of object: String, size: Int) -> (FloeError) -> Bool {
        { e in
            if case let .corruption(o, offset, _) = e { return o == object && offset >= 0 && offset < size }
            return false
        }
    }

    // MARK: (a) SST byte flips

    /// Every byte of the first epoch's SST (several data blocks, filter, index,
    /// properties, footer) flipped in turn. Every region is checksummed, so every
    /// flip must be reported as corruption of that SST by some read, and no read
    /// may return anything but the committed answer.
    @Test(arguments: [Compression.none, .lz4])
    func everySstByteFlipIsDetectedOrHarmless(compression: Compression) async throws {
        let f = try await Self.buildFixture(compression: compression, checkpointInterval: 64)
        let sst = try #require(f.ssts[1].first)
        #expect(f.ssts[1].count == 1)
        let path = sst.path
        let original = try #require(f.objects[path])
        #expect(original.count == Int(sst.fileSize))
        if compression == .lz4 {
            #expect(sst.fileSize < sst.rawBytes, "lz4 fixture must really hold compressed blocks")
        }
        var undetected: [Int] = []
        for i in original.indices {
            var objects = f.objects
            objects[path]![i] ^= 0xFF
            let mem = MemoryObjectStore(objects: objects)
            let context = "\(compression) flip of byte \(i) of \(original.count) in \(path)"
            // Opening reads only the manifest, so it must succeed.
            guard case let .success(store) = await capture({ try await StateStore.open(objectStore: mem, options: f.options) }) else {
                Issue.record("\(context): open failed")
                continue
            }
            let detected = await Self.readEverything(store, f, epochs: f.epochs, context,
                                                     allowed: Self.isCorruption(of: path, size: original.count))
            if detected == 0 { undetected.append(i) }
            await Self.restoreAndVerify(mem, path, original, f, context)
        }
        #expect(undetected.isEmpty, "\(compression): flips at \(undetected) of \(path) went unnoticed by every read")
    }

    // MARK: (b) manifest byte flips

    /// Every byte of every manifest object. Deltas that `open` reads (those after the
    /// newest checkpoint; every delta when there is no checkpoint) must fail `open`
    /// with corruption naming that object (a flip of the format version bytes may
    /// instead report `unsupportedFormat`), and the failed open must write nothing.
    /// A damaged newest checkpoint is passed over: the deltas it summarises are
    /// still there, so `open` replays them and every answer is exact, while
    /// `StoreVerifier` (`floe verify`) still names the damaged object. Deltas older
    /// than the newest checkpoint are never read (by design, DESIGN.md: "loads the
    /// newest checkpoint and applies the deltas after it"), so flipping them must
    /// leave every answer exact.
    @Test(arguments: [UInt64(3), 64])
    func everyManifestByteFlipFailsOpenWithTypedError(checkpointInterval: UInt64) async throws {
        let f = try await Self.buildFixture(compression: .lz4, checkpointInterval: checkpointInterval)
        let checkpoints = f.manifestObjects.filter { $0.hasSuffix(".checkpoint") }
        let newestCheckpoint = checkpoints.last
        if checkpointInterval == 3 {
            // open = 1, commits = 2...5: a checkpoint at 3, deltas 4 and 5 after it.
            #expect(checkpoints == [ManifestStore.checkpointPath(3)])
        } else {
            #expect(checkpoints.isEmpty)
        }
        for path in f.manifestObjects {
            let original = f.objects[path]!
            let readOnOpen: Bool
            if path.hasSuffix(".checkpoint") {
                #expect(path == newestCheckpoint)
                readOnOpen = false
            } else {
                let seq = UInt64(path.dropFirst(9).dropLast(6))!
                readOnOpen = checkpoints.isEmpty || seq > 3
            }
            for i in original.indices {
                var objects = f.objects
                objects[path]![i] ^= 0xFF
                let mem = MemoryObjectStore(objects: objects)
                let context = "flip of byte \(i) of \(original.count) in \(path)"
                let opened = await capture { try await StateStore.open(objectStore: mem, options: f.options) }
                if readOnOpen {
                    switch opened {
                    case .success:
                        Issue.record("\(context): open succeeded on a damaged manifest")
                    case let .failure(.corruption(object, offset, _)):
                        #expect(object == path && offset >= 0 && offset <= original.count, "\(context): corruption named \(object) at \(offset)")
                    case let .failure(.unsupportedFormat(object, _)) where (4..<6).contains(i):
                        #expect(object == path, "\(context): unsupported format named \(object)")
                    case let .failure(e):
                        Issue.record("\(context): open threw \(e)")
                    }
                    #expect(mem.snapshot() == objects, "\(context): a failed open must not write")
                    await Self.restoreAndVerify(mem, path, original, f, context, epochs: f.committed...f.committed)
                } else {
                    guard case let .success(store) = opened else {
                        Issue.record("\(context): open of a store whose damaged object is not on the open path threw \(opened)")
                        continue
                    }
                    #expect(store.committedEpoch == f.committed, "\(context): committed epoch")
                    await Self.readEverything(store, f, epochs: path.hasSuffix(".checkpoint") ? f.committed...f.committed : f.epochs, context)
                    try await store.close()
                    if path.hasSuffix(".checkpoint") {
                        let report = try await StoreVerifier.verify(objectStore: mem)
                        #expect(report.problems.contains { $0.object == path }, "\(context): verify must name the damaged checkpoint")
                    }
                }
            }
        }
    }

    // MARK: (c) truncation

    @Test(arguments: [Compression.none, .lz4])
    func truncatedSstIsReportedAsCorruptionOfThatSst(compression: Compression) async throws {
        let f = try await Self.buildFixture(compression: compression, checkpointInterval: 3)
        for epoch in [1, 4] {
            let path = f.ssts[epoch][0].path
            let original = f.objects[path]!
            let n = original.count
            for length in Set([0, 1, 8, n / 2, n - SstFooter.size - 1, n - SstFooter.size, n - 8, n - 1]).sorted() {
                var objects = f.objects
                objects[path] = Array(original.prefix(length))
                let mem = MemoryObjectStore(objects: objects)
                let context = "\(path) (epoch \(epoch)) truncated to \(length) of \(n) bytes"
                let store = try await StateStore.open(objectStore: mem, options: f.options)
                let thrown = await Self.readEverything(store, f, epochs: f.epochs, context, allowed: Self.isCorruption(of: path, size: n))
                #expect(thrown > 0, "\(context): no read noticed")
                await Self.restoreAndVerify(mem, path, original, f, context)
            }
        }
    }

    /// The deltas `open` reads, truncated at every length: `open` throws corruption
    /// naming the object and writes nothing. The newest checkpoint truncated at
    /// several lengths: `open` passes over it, replays the deltas it summarises and
    /// answers exactly; `floe verify` names it.
    @Test func truncatedManifestObjectsFailOpen() async throws {
        let f = try await Self.buildFixture(compression: .none, checkpointInterval: 3)
        let targets: [(String, [Int])] = [
            (VersionDelta.objectPath(4), Array(0..<f.objects[VersionDelta.objectPath(4)]!.count)),
            (VersionDelta.objectPath(5), Array(0..<f.objects[VersionDelta.objectPath(5)]!.count)),
            (ManifestStore.checkpointPath(3), { let n = f.objects[ManifestStore.checkpointPath(3)]!.count
                return [0, 1, 6, 13, 14, n / 2, n - 9, n - 8, n - 1] }()),
        ]
        for (path, lengths) in targets {
            let original = f.objects[path]!
            for length in lengths {
                var objects = f.objects
                objects[path] = Array(original.prefix(length))
                let mem = MemoryObjectStore(objects: objects)
                let context = "\(path) truncated to \(length) of \(original.count) bytes"
                let opened = await capture({ try await StateStore.open(objectStore: mem, options: f.options) })
                if path.hasSuffix(".checkpoint") {
                    guard case let .success(store) = opened else {
                        Issue.record("\(context): open did not pass over the damaged checkpoint: \(opened)")
                        continue
                    }
                    #expect(store.committedEpoch == f.committed, "\(context): committed epoch")
                    await Self.readEverything(store, f, epochs: f.committed...f.committed, context)
                    try await store.close()
                    let report = try await StoreVerifier.verify(objectStore: mem)
                    #expect(report.problems.contains { $0.object == path }, "\(context): verify must name the damaged checkpoint")
                    continue
                }
                switch opened {
                case .success: Issue.record("\(context): open succeeded")
                case let .failure(.corruption(object, offset, _)):
                    #expect(object == path && offset >= 0 && offset <= original.count, "\(context): corruption named \(object) at \(offset)")
                case let .failure(e): Issue.record("\(context): open threw \(e)")
                }
                #expect(mem.snapshot() == objects, "\(context): a failed open must not write")
                await Self.restoreAndVerify(mem, path, original, f, context, epochs: f.committed...f.committed)
            }
        }
    }

    // MARK: (d) missing objects

    /// The first epoch's SST deleted: `open` succeeds (it reads no data file); a
    /// read throws `objectNotFound(path)` exactly when the read path must consult
    /// that SST (the key lies in its range, no newer epoch <= the read epoch wrote
    /// it), every other read is exact, and a scan of a table it holds always fails.
    @Test func missingSstFailsExactlyTheReadsThatNeedIt() async throws {
        let f = try await Self.buildFixture(compression: .lz4, checkpointInterval: 3)
        let path = f.ssts[1][0].path
        var objects = f.objects
        let original = objects.removeValue(forKey: path)
        let mem = MemoryObjectStore(objects: objects)
        let store = try await StateStore.open(objectStore: mem, options: f.options)
        let inFirst = f.written[1]
        let (lo, hi) = (inFirst.min()!, inFirst.max()!)
        var thrown = 0
        for e in f.epochs {
            for key in f.readKeys {
                let newer = (2...max(2, Int(e))).contains { $0 <= Int(e) && f.written[$0].contains(key) }
                let needsIt = key >= lo && key <= hi && !newer
                let got = await capture { try await store.get(TableID(key.table), key: key.key, epoch: e) }
                if needsIt {
                    #expect(got == .failure(.objectNotFound(path)), "get \(key) @\(e) must need \(path): \(got)")
                    thrown += 1
                } else {
                    #expect(got == .success(f.maps[Int(e)][key]), "get \(key) @\(e) does not need \(path): \(got)")
                }
            }
            for t: UInt32 in [1, 2] {
                let got = await capture { try await collectRows(store.scan(TableID(t), from: nil, to: nil, epoch: e)) }
                #expect(got == .failure(.objectNotFound(path)), "scan t\(t) @\(e) merges \(path): \(got)")
            }
            // Table 3 lies outside the missing SST's range.
            let t3 = await capture { try await collectRows(store.scan(TableID(3), from: nil, to: nil, epoch: e)) }
            #expect(t3 == .success(expectedRows(f.maps[Int(e)], table: 3, from: nil, to: nil)))
        }
        #expect(thrown > 0)
        await Self.restoreAndVerify(mem, path, original, f, "missing \(path)")
    }

    /// A delta missing between others: `open` throws corruption naming the
    /// missing delta, with or without a checkpoint before it, and writes nothing.
    @Test(arguments: [(UInt64(3), UInt64(4)), (64, 2), (64, 1)])
    func missingDeltaInTheMiddleFailsOpen(checkpointInterval: UInt64, missing: UInt64) async throws {
        let f = try await Self.buildFixture(compression: .none, checkpointInterval: checkpointInterval)
        let path = VersionDelta.objectPath(missing)
        var objects = f.objects
        let removed = objects.removeValue(forKey: path)
        let original = try #require(removed)
        #expect(objects[VersionDelta.objectPath(missing + 1)] != nil, "the gap must be in the middle")
        let mem = MemoryObjectStore(objects: objects)
        switch await capture({ try await StateStore.open(objectStore: mem, options: f.options) }) {
        case .success: Issue.record("open succeeded with \(path) missing")
        case let .failure(.corruption(object, _, _)): #expect(object == path)
        case let .failure(e): Issue.record("open threw \(e)")
        }
        #expect(mem.snapshot() == objects, "a failed open must not write")
        await Self.restoreAndVerify(mem, path, original, f, "missing \(path)")
    }

    /// A lost checkpoint is not corruption: the deltas it summarised are still there.
    @Test func missingCheckpointFallsBackToDeltas() async throws {
        let f = try await Self.buildFixture(compression: .none, checkpointInterval: 3)
        var objects = f.objects
        let removed = objects.removeValue(forKey: ManifestStore.checkpointPath(3))
        #expect(removed != nil)
        let store = try await StateStore.open(objectStore: MemoryObjectStore(objects: objects), options: f.options)
        #expect(store.committedEpoch == f.committed)
        await Self.readEverything(store, f, epochs: f.epochs, "checkpoint removed")
    }

    // MARK: (e) not a Floe store

    @Test func localPathThatIsNotAStoreIsRejectedUntouched() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let fm = FileManager.default

        // A regular file.
        let file = dir.path + "/plain-file"
        #expect(fm.createFile(atPath: file, contents: Data([1, 2, 3])))
        let e1 = await capture { try await StateStore.open(path: file) }
        #expect(e1.failureValue.map { if case .notAFloeStore = $0 { true } else { false } } == true, "regular file: \(e1)")
        #expect(readWholeFile(file) == [1, 2, 3], "the file must be left alone")

        // A non-empty directory without a manifest.
        let other = dir.path + "/other"
        try fm.createDirectory(atPath: other + "/sub", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: other + "/notes.txt", contents: Data("hello".utf8)))
        let e2 = await capture { try await StateStore.open(path: other) }
        #expect(e2.failureValue.map { if case .notAFloeStore = $0 { true } else { false } } == true, "foreign directory: \(e2)")
        #expect(try fm.contentsOfDirectory(atPath: other).sorted() == ["notes.txt", "sub"], "nothing may be created in it")

        // A directory holding only data files (a store whose manifest is gone).
        let orphan = dir.path + "/orphan"
        try fm.createDirectory(atPath: orphan + "/data", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: orphan + "/data/0000000100000000.sst", contents: Data([0])))
        let e3 = await capture { try await StateStore.open(path: orphan) }
        #expect(e3.failureValue.map { if case .notAFloeStore = $0 { true } else { false } } == true, "data without manifest: \(e3)")
        #expect(!fm.fileExists(atPath: orphan + "/manifest"))

        // A missing path with createIfMissing off.
        var noCreate = StoreOptions()
        noCreate.createIfMissing = false
        let e4 = await capture { try await StateStore.open(path: dir.path + "/absent", options: noCreate) }
        #expect(e4.failureValue.map { if case .notAFloeStore = $0 { true } else { false } } == true, "absent path: \(e4)")
        #expect(!fm.fileExists(atPath: dir.path + "/absent"))

        // The same directory as a real store afterwards still works.
        let real = dir.path + "/real"
        let s = try await StateStore.open(path: real)
        try s.put(TableID(1), key: [1], value: [2], epoch: 1)
        try await s.checkpoint(epoch: 1, metadata: [:])
        try await s.close()
        let r = try await StateStore.open(path: real)
        #expect(try await r.get(TableID(1), key: [1], epoch: 1) == [2])
    }
}
