import Synchronization
import Testing
@testable import Floe

/// A standalone `Compactor` (what `floe compact` runs) beside a live writer on
/// the same object store, the live-data measurement of `floe stats`, and the LSM
/// shape drawing.
@Suite struct CompactorProcessTests {
    typealias Model = [UInt32: [[UInt8]: [UInt8]]]
    static let tables: [UInt32] = [1, 2]

    /// Tiny files and levels so a few dozen epochs build a multi-level tree.
    static func options(retention: UInt64) -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.sst.targetFileSize = 4096
        o.sst.blockSize = 512
        o.compaction.targetFileSize = 8192
        o.compaction.baseLevelBytes = 16384
        o.compaction.l0CompactionTrigger = 2
        o.compaction.levelSizeMultiplier = 4
        o.compaction.maxLevel = 3
        o.manifestCheckpointInterval = 8
        o.retentionEpochs = retention
        return o
    }

    /// Writes one epoch of puts and deletes (through `model` too) and checkpoints it.
    static func writeEpoch(_ s: StateStore, _ e: Epoch, _ model: inout Model, _ rng: inout SplitMix64) throws {
        for _ in 0..<60 {
            let t = tables[Int(rng.next() % 2)]
            let key = Array("key-\(rng.next() % 250)".utf8)
            if rng.next() % 100 < 15 {
                try s.delete(TableID(t), key: key, epoch: e)
                model[t, default: [:]][key] = nil
            } else {
                let value = (0..<(10 + Int(rng.next() % 110))).map { UInt8(truncatingIfNeeded: $0 &+ Int(e) &* 31) }
                try s.put(TableID(t), key: key, value: value, epoch: e)
                model[t, default: [:]][key] = value
            }
        }
    }

    static func scanAll(_ s: StateStore, _ t: UInt32, at e: Epoch) async throws -> [[UInt8]: [UInt8]] {
        var out: [[UInt8]: [UInt8]] = [:]
        var last: [UInt8]? = nil
        for try await (k, v) in try await s.scan(TableID(t), from: nil, to: nil, epoch: e) {
            if let last { #expect(last.lexicographicallyPrecedes(k)) }
            last = k
            out[k] = v
        }
        return out
    }

    /// Runs one task, treating a lost race with the other compactor as no task.
    static func tolerant(_ c: Compactor) async throws -> CompactionResult? {
        do { return try await c.runOnce() } catch FloeError.staleCompaction { return nil }
    }

    @Test(arguments: [UInt64(1000), 2])
    func writerAndTwoStandaloneCompactors(retention: UInt64) async throws {
        let mem = MemoryObjectStore()
        let opts = Self.options(retention: retention)
        let writer = try await StateStore.open(objectStore: mem, options: opts)
        var model: Model = [:]
        var history: [Epoch: Model] = [:]
        var rng = SplitMix64(seed: 7)
        for e in Epoch(1)...4 {
            try Self.writeEpoch(writer, e, &model, &rng)
            try await writer.checkpoint(epoch: e, metadata: ["offset": Array("\(e)".utf8)])
            history[e] = model
        }

        let a = try await Compactor.attach(objectStore: mem, options: opts)
        let b = try await Compactor.attach(objectStore: mem, options: opts)
        var tasks = 0
        let last: Epoch = 40
        for e in Epoch(5)...last {
            try Self.writeEpoch(writer, e, &model, &rng)
            // The writer commits while both compactors pick, merge and commit.
            async let commit: Void = writer.checkpoint(epoch: e, metadata: ["offset": Array("\(e)".utf8)])
            async let ranA = Self.tolerant(a)
            async let ranB = e % 3 == 0 ? Self.tolerant(b) : nil
            try await commit
            tasks += try await (ranA == nil ? 0 : 1) + (ranB == nil ? 0 : 1)
            history[e] = model
            #expect(!writer.isFenced)
            if e % 5 == 0 {
                for t in Self.tables { #expect(try await Self.scanAll(writer, t, at: e) == model[t] ?? [:]) }
            }
        }
        while try await a.runOnce() != nil { tasks += 1 }
        #expect(tasks > 0)

        // The compactors' deltas are in the manifest and in the writer's version.
        let v = try #require(try await ManifestStore(store: mem).loadVersion())
        #expect(v.levels.contains { !$0.isEmpty })
        #expect(v.stats.compactions > 0)
        #expect(v.committedEpoch == last)
        var byCompactors = 0
        // The writer prunes deltas behind its second-newest checkpoint: check those still listed.
        let listed = try await ManifestStore(store: mem).listing().deltas
        #expect(listed.last == v.sequence && listed.count == Int(v.sequence - listed[0] + 1), "listed deltas not contiguous")
        for seq in listed {
            let d = try await ManifestStore(store: mem).readDelta(seq).delta
            if d.kind == .compaction { #expect(d.writerID == a.sessionID || d.writerID == b.sessionID); byCompactors += 1 }
        }
        #expect(byCompactors > 0)

        // One more commit rebases the writer over everything the compactors did.
        try Self.writeEpoch(writer, last + 1, &model, &rng)
        try await writer.checkpoint(epoch: last + 1, metadata: ["offset": Array("\(last + 1)".utf8)])
        history[last + 1] = model
        #expect(!writer.isFenced)
        #expect(writer.currentVersion.levels.contains { !$0.isEmpty })
        for t in Self.tables { #expect(try await Self.scanAll(writer, t, at: last + 1) == model[t] ?? [:]) }

        // GC from the compactor: inputs it saw retired go after the grace, never live SSTs.
        let kept = try await a.collectGarbage(graceSeconds: 3600)
        #expect(kept.deletedObjects == 0)
        let gc = try await a.collectGarbage(graceSeconds: 0)
        #expect(gc.deletedObjects > 0)
        #expect(try await StoreVerifier.verify(objectStore: mem).isClean)

        // Live data measured by the inspector equals the model.
        let inspector = StoreInspector(objectStore: mem)
        let summary = try await inspector.currentVersion()
        let live = try await inspector.liveData(summary)
        let liveKeys = model.values.reduce(0) { $0 + $1.count }
        let liveBytes = model.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.key.count + $1.value.count } }
        #expect(live.epoch == last + 1)
        #expect(live.keys == UInt64(liveKeys))
        #expect(live.bytes == UInt64(liveBytes))
        #expect(live.encodedBytes == UInt64(liveBytes + 13 * liveKeys))
        let amp = LsmAmplification(summary, live: live)
        #expect(amp.space == Double(summary.total.bytes) / Double(liveBytes))
        #expect(amp.rawSpace == Double(summary.total.rawBytes) / Double(liveBytes + 13 * liveKeys))
        #expect(amp.write == summary.counters.writeAmplification)
        #expect(try #require(amp.rawSpace) >= 1)

        // Only now open afresh (that fences the writer): every retained epoch reads exactly as committed.
        try await writer.close()
        let fresh = try await StateStore.open(objectStore: mem, options: opts)
        #expect(fresh.committedEpoch == last + 1)
        #expect(fresh.committedMetadata["offset"] == Array("\(last + 1)".utf8))
        let oldest = (last + 1) > retention ? last + 1 - retention : 1
        for e in oldest...(last + 1) {
            let expected = try #require(history[e])
            for t in Self.tables {
                #expect(try await Self.scanAll(fresh, t, at: e) == expected[t] ?? [:], "table \(t) at epoch \(e)")
            }
            for i in stride(from: 0, to: 250, by: 17) {
                let key = Array("key-\(i)".utf8)
                #expect(try await fresh.get(TableID(1), key: key, epoch: e) == expected[1]?[key])
            }
        }
        try await fresh.close()
    }

    /// Both compactors pick the same task from the same version; the second to run
    /// it finds its inputs compacted away, before running it and at commit.
    @Test func taskOnAnOldVersionIsStale() async throws {
        let mem = MemoryObjectStore()
        let opts = Self.options(retention: 0)
        let writer = try await StateStore.open(objectStore: mem, options: opts)
        var model: Model = [:]
        var rng = SplitMix64(seed: 11)
        for e in Epoch(1)...3 {
            try Self.writeEpoch(writer, e, &model, &rng)
            try await writer.checkpoint(epoch: e, metadata: [:])
        }
        let a = try await Compactor.attach(objectStore: mem, options: opts)
        let b = try await Compactor.attach(objectStore: mem, options: opts)
        let picked = try #require(try await ManifestStore(store: mem).loadVersion())
        let taskA = try #require(try await a.pickTask())
        let taskB = try #require(try await b.pickTask())
        #expect(taskA == taskB)
        #expect(taskB.baseSequence == picked.sequence)

        _ = try await a.run(taskA)
        // Visible before any work: the inputs are already gone from the newest version.
        do {
            _ = try await b.run(taskB)
            Issue.record("a task whose inputs were compacted ran")
        } catch FloeError.staleCompaction {}

        // Merged against the old version, then refused at commit by the rebase check.
        let ids = Lock<UInt64>(0xFFFF_0000_0000)
        let result = try await CompactionExecutor.run(taskB, reader: b.reader, store: mem, options: opts.sst) {
            ids.withLock { $0 += 1; return $0 }
        }
        do {
            _ = try await CompactionCommitter.commit(result, base: picked, manifest: ManifestStore(store: mem), compactorID: b.sessionID)
            Issue.record("a stale compaction committed")
        } catch FloeError.staleCompaction {}

        // The writer was fenced by none of this and the data is intact.
        try Self.writeEpoch(writer, 4, &model, &rng)
        try await writer.checkpoint(epoch: 4, metadata: [:])
        #expect(!writer.isFenced)
        try await writer.close()
        let fresh = try await StateStore.open(objectStore: mem, options: opts)
        for t in Self.tables { #expect(try await Self.scanAll(fresh, t, at: 4) == model[t] ?? [:]) }
        try await fresh.close()
    }

    // MARK: SVG

    static func sst(_ id: UInt64, _ size: UInt64, _ lo: String, _ hi: String, epoch: Epoch) -> SstInfo {
        SstInfo(id: id, fileSize: size, smallestKey: FullKey.encode(table: TableID(1), userKey: Array(lo.utf8), epoch: epoch),
                largestKey: FullKey.encode(table: TableID(1), userKey: Array(hi.utf8), epoch: epoch),
                minEpoch: epoch, maxEpoch: epoch, entryCount: 10, tombstoneCount: 1, rawBytes: size * 2)
    }

    @Test func svgDrawsOneRectPerSstAndLabelsEveryRow() throws {
        let v = Version(sequence: 9, writerID: 1, committedEpoch: 12, safeEpoch: 3, metadata: [:],
                        l0: [[Self.sst(1, 3000, "a", "m", epoch: 12), Self.sst(2, 100, "n", "z", epoch: 12)],
                             [Self.sst(3, 5000, "<&>\"'", "q", epoch: 11)]],
                        levels: [[], [Self.sst(4, 200_000, "a", "f", epoch: 5), Self.sst(5, 150_000, "g", "p", epoch: 5),
                                      Self.sst(6, 10, "q", "r", epoch: 4)]])
        let svg = LsmShapeSvg.render(VersionSummary(v))
        #expect(Self.isWellFormed(svg))
        #expect(svg.components("<rect ") == 6)
        #expect(svg.components("<title>") == 6)
        for label in [">L0 ", ">L0.0 ", ">L0.1 ", ">L1 ", ">L2 ", "committed epoch 12"] { #expect(svg.contains(label), "\(label)") }
        #expect(svg.contains("&lt;&amp;&gt;&quot;&apos;"))
        #expect(!svg.contains("<&>"))
        // Widths follow bytes (the largest row scaled to about 1000 px), at least 1 px.
        let widths = svg.split(separator: "<rect ").dropFirst().map { r -> Int in
            let after = r.split(separator: "width=\"")[1]
            return Int(after.prefix { $0 != "\"" })!
        }
        #expect(widths.allSatisfy { $0 >= 1 })
        #expect(widths[3] > widths[4] && widths[4] > widths[0] && widths[5] == 1)
        #expect(widths[3] + widths[4] + widths[5] <= 1000 && widths[3] + widths[4] + widths[5] >= 950)

        let empty = LsmShapeSvg.render(VersionSummary(.empty))
        #expect(Self.isWellFormed(empty))
        #expect(empty.components("<rect ") == 0)
        #expect(empty.contains(">L0 empty<") || empty.contains(">L0  empty<"))
    }

    /// A small well-formedness check: balanced tags, quoted attributes, no stray `<`
    /// or `&` in text. (The CLI output was also checked with a real XML parser.)
    static func isWellFormed(_ s: String) -> Bool {
        var stack: [Substring] = []
        var rest = Substring(s)
        if rest.hasPrefix("<?xml") {
            guard let end = rest.firstRange(of: "?>") else { return false }
            rest = rest[end.upperBound...]
        }
        var sawRoot = false
        while let open = rest.firstIndex(of: "<") {
            guard textIsEscaped(rest[..<open]) else { return false }
            guard let close = rest[open...].firstIndex(of: ">") else { return false }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("/") {
                guard stack.popLast() == tag.dropFirst() else { return false }
                continue
            }
            let name = tag.prefix { $0 != " " && $0 != "/" }
            guard !name.isEmpty, tag.filter({ $0 == "\"" }).count % 2 == 0, !tag.contains("<") else { return false }
            if stack.isEmpty { if sawRoot { return false }; sawRoot = true }
            if !tag.hasSuffix("/") { stack.append(name) }
        }
        return stack.isEmpty && sawRoot && rest.allSatisfy(\.isWhitespace)
    }

    static func textIsEscaped(_ text: Substring) -> Bool {
        var i = text.startIndex
        while let amp = text[i...].firstIndex(of: "&") {
            let tail = text[amp...]
            guard ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(where: { tail.hasPrefix($0) }) else { return false }
            i = text.index(after: amp)
        }
        return true
    }
}

private extension String {
    /// Occurrences of `needle`.
    func components(_ needle: String) -> Int { split(separator: needle, omittingEmptySubsequences: false).count - 1 }
}
