/// Commits a compaction result through the same create-if-absent manifest
/// append as writers. When a writer (or another compactor) took the sequence
/// first, the result is rebased onto the newer version if its inputs are still
/// there, and refused as stale if they are not. Epochs are never touched.
enum CompactionCommitter {
    /// Returns the version after the compaction. `base` is any version at or after
    /// the task's base. `onNewer` sees each newer version read while rebasing.
    /// Throws `staleCompaction` when the inputs moved, the outputs would overlap a
    /// file the task did not take, the session may no longer compact (a writer that
    /// was fenced, an expired compactor session), or the record landed on a sequence
    /// pruning had freed (this process fell behind); the outputs are then orphans for GC.
    static func commit(_ result: CompactionResult, base start: Version, manifest: ManifestStore,
                       compactorID: UInt64, failpoints: FailpointRegistry = Failpoints.processOrEmpty,
                       onNewer: (Version) -> Void = { _ in }) async throws -> Version {
        let task = result.task
        try failpoints.hit(.compactionBeforeCommit)
        let v = try await manifest.commit(from: start, attempts: 10_000, make: { base in
            guard base.mayCompact(session: compactorID) else {
                throw FloeError.staleCompaction("session \(compactorID) may no longer compact (writer \(base.writerID), compactor sessions \(base.compactors))")
            }
            try checkStillValid(task, outputs: result.outputs, in: base)
            var delta = VersionDelta(sequence: base.sequence + 1, kind: .compaction, writerID: compactorID,
                                     committedEpoch: base.committedEpoch, safeEpoch: max(base.safeEpoch, task.watermark),
                                     timestampMillis: StateStore.nowMillis())
            delta.removed = task.inputIDs
            delta.added = result.outputs.map { .init(level: task.targetLevel, info: $0) }
            return delta
        }, onNewer: { newer in
            onNewer(newer)
            return nil
        }, lost: { FloeError.staleCompaction($0) })
        try failpoints.hit(.compactionAfterCommit)
        return v
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
