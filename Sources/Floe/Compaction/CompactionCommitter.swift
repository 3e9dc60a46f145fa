/// Commits a compaction result through the same create-if-absent manifest
/// append as writers. When a writer (or another compactor) took the sequence
/// first, the result is rebased onto the newer version if its inputs are still
/// there, and refused as stale if they are not. Epochs are never touched.
enum CompactionCommitter {
    /// Returns the version after the compaction. `base` is any version at or after the task's base.
    static func commit(_ result: CompactionResult, base start: Version, manifest: ManifestStore,
                       compactorID: UInt64, failpoints: FailpointRegistry = Failpoints.processOrEmpty) async throws -> Version {
        var base = start
        let task = result.task
        try failpoints.hit(.compactionBeforeCommit)
        for _ in 0..<10_000 {
            try checkStillValid(task, outputs: result.outputs, in: base)
            var delta = VersionDelta(sequence: base.sequence + 1, kind: .compaction, writerID: compactorID,
                                     committedEpoch: base.committedEpoch, safeEpoch: max(base.safeEpoch, task.watermark),
                                     timestampMillis: StateStore.nowMillis())
            delta.removed = task.inputIDs
            delta.added = result.outputs.map { .init(level: task.targetLevel, info: $0) }
            let created: Bool
            do {
                created = try await manifest.append(delta)
            } catch {
                created = await manifest.adoptLanded(delta) { landed in
                    landed.writerID == compactorID && landed.kind == .compaction && landed.removed == delta.removed && landed.added == delta.added
                }
                if !created { throw error }
            }
            if created {
                let v = try base.applying(delta, object: VersionDelta.objectPath(delta.sequence))
                try failpoints.hit(.compactionAfterCommit)
                return v
            }
            base = try await manifest.catchUp(base)
        }
        throw FloeError.staleCompaction("manifest kept moving")
    }

    /// Inputs must all still sit where the task found them, and outputs must not
    /// overlap files of the target level that the task did not take as inputs.
    static func checkStillValid(_ task: CompactionTask, outputs: [SstInfo], in v: Version) throws {
        for input in task.inputs {
            let run: [SstInfo]
            if input.level == 0 { run = v.l0.flatMap { $0 } } else { run = input.level - 1 < v.levels.count ? v.levels[input.level - 1] : [] }
            let ids = Set(run.map(\.id))
            if let gone = input.ssts.first(where: { !ids.contains($0.id) }) {
                throw FloeError.staleCompaction("input \(gone.path) is no longer in level \(input.level)")
            }
        }
        guard task.targetLevel > 0, !outputs.isEmpty else { return }
        let inputIDs = Set(task.inputIDs)
        let target = task.targetLevel - 1 < v.levels.count ? v.levels[task.targetLevel - 1] : []
        let lo = outputs.map(\.smallestKey).min { FullKey.compare($0, $1) < 0 }!
        let hi = outputs.map(\.largestKey).max { FullKey.compare($0, $1) < 0 }!
        for f in target where !inputIDs.contains(f.id) {
            // Compare user keys only: a level must never split one user key's versions across files.
            if userCompare(f.largestKey, lo) >= 0 && userCompare(f.smallestKey, hi) <= 0 {
                throw FloeError.staleCompaction("level \(task.targetLevel) gained \(f.path), which overlaps the outputs")
            }
        }
    }

    static func userCompare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in FullKey.compareBytes(FullKey.prefix(pa), FullKey.prefix(pb)) } }
    }
}
