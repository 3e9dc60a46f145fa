/// Chooses the most urgent compaction for a version. Pure: same version and
/// options, same task.
///
/// Scores (>= 1 means due):
/// - L0: sub-levels / `l0CompactionTrigger`. L0 goes to the base level when it
///   holds enough bytes to make rewriting the overlapping base files worth it
///   (or when sub-levels pile up toward the slowdown threshold); otherwise, and
///   whenever the base level is busy, the newest sub-levels of similar size are
///   merged into one (intra-L0), which bounds read amplification cheaply.
/// - Ln: bytes / target bytes, targets derived from the bottom level (dynamic sizes).
struct CompactionPicker {
    let options: CompactionOptions
    let sst: SstWriterOptions

    struct LevelTargets {
        var base: Int
        /// targets[l] for l in 1...maxLevel (index 0 unused).
        var bytes: [UInt64]
    }

    static func size(_ run: [SstInfo]) -> UInt64 { run.reduce(0) { $0 + $1.fileSize } }

    func targets(_ v: Version) -> LevelTargets {
        let maxLevel = options.maxLevel
        var sizes = [UInt64](repeating: 0, count: maxLevel + 1)
        for (i, level) in v.levels.enumerated() where i + 1 <= maxLevel { sizes[i + 1] = CompactionPicker.size(level) }
        var t = [UInt64](repeating: 0, count: maxLevel + 1)
        let baseBytes = UInt64(options.baseLevelBytes)
        t[maxLevel] = max(sizes[maxLevel], baseBytes)
        var base = maxLevel
        if maxLevel > 1 {
            for l in stride(from: maxLevel - 1, through: 1, by: -1) {
                t[l] = t[l + 1] / UInt64(options.levelSizeMultiplier)
                if t[l] >= baseBytes { base = l }
            }
        }
        // Never put L0 data below an older non-empty level.
        if let firstNonEmpty = (1...maxLevel).first(where: { sizes[$0] > 0 }) { base = min(base, firstNonEmpty) }
        for l in 1..<base { t[l] = 0 }
        t[base] = max(t[base], baseBytes)
        return LevelTargets(base: base, bytes: t)
    }

    /// The most urgent task, or nil when the tree is in shape. Candidates are tried
    /// in score order: a due level whose pick finds nothing (all busy, or L0 not yet
    /// worth moving) does not hide the next one. `idle` (no writes are arriving)
    /// first merges a deep L0's newest sub-levels into one; `settled` (writes have
    /// stopped for a while; defaults to `idle`) also moves any L0 sub-levels left
    /// below the trigger to the base level, so a quiescent tree holds no
    /// overlapping L0 data.
    /// `intraL0Only` restricts the pick to an intra-L0 merge beside a busy base level
    /// (the extra lane that keeps L0 shallow while a long L0 -> base compaction runs).
    func pick(_ v: Version, watermark: Epoch, busy: Set<UInt64> = [], idle: Bool = false, settled: Bool? = nil,
              intraL0Only: Bool = false) -> CompactionTask? {
        let hiding = TableWatermark.effectiveAll(v.watermarks, at: watermark)
        if !hiding.isEmpty, !intraL0Only, let drop = pickHidden(v, hiding, watermark: watermark, busy: busy) { return drop }
        var task = pickShape(v, watermark: watermark, busy: busy, idle: idle, settled: settled, intraL0Only: intraL0Only)
        task?.tableWatermarks = hiding
        return task
    }

    /// Files whose every key a table watermark hides: deleted whole, before any merge
    /// would read them (a window's state expires in key order, so whole files go).
    private func pickHidden(_ v: Version, _ hiding: [TableWatermark], watermark: Epoch, busy: Set<UInt64>) -> CompactionTask? {
        func hidden(_ f: SstInfo) -> Bool {
            !busy.contains(f.id) && hiding.contains { $0.hidesAll(smallest: f.smallestKey, largest: f.largestKey) }
        }
        var inputs: [CompactionTask.Input] = []
        let l0 = v.l0.flatMap { $0 }.filter(hidden)
        if !l0.isEmpty { inputs.append(.init(level: 0, ssts: l0)) }
        for (i, level) in v.levels.enumerated() {
            let files = level.filter(hidden)
            if !files.isEmpty { inputs.append(.init(level: i + 1, ssts: files)) }
        }
        guard !inputs.isEmpty else { return nil }
        return CompactionTask(kind: .dropHidden, inputs: inputs, targetLevel: inputs.last!.level, watermark: watermark,
                              bottommost: false, compression: sst.compression, targetFileSize: options.targetFileSize,
                              baseSequence: v.sequence, score: 1e9, tableWatermarks: hiding)
    }

    private func pickShape(_ v: Version, watermark: Epoch, busy: Set<UInt64>, idle: Bool, settled: Bool?,
                           intraL0Only: Bool) -> CompactionTask? {
        let t = targets(v)
        var candidates: [(score: Double, make: () -> CompactionTask?)] = []
        let l0Score = Double(v.l0.count) / Double(max(1, options.l0CompactionTrigger))
        // Sub-levels newer than any busy one are free: while an older part of L0 moves to the
        // base level, a second worker may still merge the newest sub-levels (intra-L0).
        let free = v.l0.firstIndex { $0.contains { busy.contains($0.id) } } ?? v.l0.count
        let l0Busy = free < v.l0.count
        if intraL0Only {
            guard l0Busy, free >= max(2, options.intraL0Trigger) else { return nil }
            return pickIntraL0(v, count: free, watermark: watermark, score: Double(free) / Double(max(1, options.l0CompactionTrigger)))
        }
        // Idle but not yet settled: L0 is merged into one sub-level, its small sub-levels first
        // (cheap next to the base rewrite, and reads and scans then pass one L0 run) and held
        // there; moving it down would rewrite the base level under the reads that follow (the
        // settle rule below). Unless the base level holds under half L0's bytes: then moving
        // L0 down costs little more than the merge and leaves reads one sorted run, not two.
        let holdL0 = idle && !(settled ?? idle)
        if holdL0 && !l0Busy && !v.l0.isEmpty {
            let score = max(1, l0Score)
            let small = CompactionPicker.smallRun(v.l0)
            if small == nil && baseIsSmall(v, t) {
                candidates.append((score, { self.pickL0(v, t, watermark: watermark, busy: busy, score: score, force: true, idle: false) }))
            } else if v.l0.count >= 2 {
                let merge = small ?? v.l0.indices
                candidates.append((score, {
                    CompactionTask(kind: .intraL0, inputs: v.l0[merge].map { CompactionTask.Input(level: 0, ssts: $0) },
                                   targetLevel: 0, watermark: watermark, bottommost: false,
                                   compression: self.sst.compression, targetFileSize: self.options.targetFileSize,
                                   baseSequence: v.sequence, score: score)
                }))
            }
        }
        if !l0Busy && l0Score >= 1 && !holdL0 {
            candidates.append((l0Score, { self.pickL0(v, t, watermark: watermark, busy: busy, score: l0Score, force: false, idle: idle) }))
        } else if l0Busy && free >= max(2, options.intraL0Trigger) {
            let score = Double(free) / Double(max(1, options.l0CompactionTrigger))
            candidates.append((score, { self.pickIntraL0(v, count: free, watermark: watermark, score: score) }))
        }
        for l in 1..<options.maxLevel {
            let level = l - 1 < v.levels.count ? v.levels[l - 1] : []
            guard !level.isEmpty else { continue }
            let target = t.bytes[l]
            let score = target == 0 ? 1e9 : Double(CompactionPicker.size(level)) / Double(target)
            if score >= 1 { candidates.append((score, { self.pickLevel(v, l, watermark: watermark, busy: busy, score: score) })) }
        }
        for c in candidates.sorted(by: { $0.score > $1.score }) {
            if let task = c.make() { return task }
        }
        if settled ?? idle, !l0Busy, !v.l0.isEmpty {
            return pickL0(v, t, watermark: watermark, busy: busy, score: l0Score, force: true, idle: idle)
        }
        return nil
    }

    /// The longest contiguous run of at least four small L0 sub-levels (each at most
    /// 1/16 of L0's bytes), when that is not all of L0. An idle L0 is merged into one
    /// sub-level, but that merge rewrites every L0 byte and takes seconds on a deep L0
    /// (126 MiB in 48 sub-levels took 1.9 s after a restart), while each get probes
    /// every sub-level. The small ones, typically the newest epochs' flushes, are merged
    /// first: in three restarts, 26 to 40 MiB left 5 to 12 sub-levels within 0.3 to
    /// 0.5 s, and the full merge then ran under that shallow L0. The output of such a
    /// merge is rarely small again, so the extra rewrite stays a fraction of L0.
    static func smallRun(_ l0: [[SstInfo]]) -> Range<Int>? {
        let sizes = l0.map { size($0) }
        let total = sizes.reduce(0, +)
        var best: Range<Int>? = nil
        var start = 0
        for i in 0...sizes.count {
            if i < sizes.count && sizes[i] * 16 <= total { continue }
            if i - start >= 4 && i - start > (best?.count ?? 0) { best = start..<i }
            start = i + 1
        }
        return best?.count == l0.count ? nil : best
    }

    /// L0's bytes and key range, and the base-level files that range overlaps
    /// (what an L0 -> base compaction would take). L0 must not be empty.
    private struct L0Footprint {
        var l0Bytes: UInt64
        var lo: [UInt8], hi: [UInt8]
        var overlap: [SstInfo]
        var overlapBytes: UInt64
    }

    private func footprint(_ v: Version, _ t: LevelTargets) -> L0Footprint {
        let baseRun = t.base - 1 < v.levels.count ? v.levels[t.base - 1] : []
        let (lo, hi) = range(v.l0.flatMap { $0 })
        let overlap = overlapping(baseRun, lo, hi)
        return L0Footprint(l0Bytes: v.l0.reduce(0) { $0 + CompactionPicker.size($1) }, lo: lo, hi: hi,
                           overlap: overlap, overlapBytes: CompactionPicker.size(overlap))
    }

    /// Whether the base-level files that L0's key range overlaps hold at most half
    /// L0's bytes (none at all when there is no base level yet).
    private func baseIsSmall(_ v: Version, _ t: LevelTargets) -> Bool {
        let f = footprint(v, t)
        return f.overlapBytes * 2 <= f.l0Bytes
    }

    private func overlapping(_ run: [SstInfo], _ lo: [UInt8], _ hi: [UInt8]) -> [SstInfo] {
        run.filter { s in
            s.largestKey.withUnsafeBytes { l in lo.withUnsafeBytes { FullKey.compareBytes(FullKey.prefix(l), FullKey.prefix($0)) >= 0 } } &&
                s.smallestKey.withUnsafeBytes { sm in hi.withUnsafeBytes { FullKey.compareBytes(FullKey.prefix(sm), FullKey.prefix($0)) <= 0 } }
        }
    }

    private func range(_ files: [SstInfo]) -> ([UInt8], [UInt8]) {
        var lo = files[0].smallestKey, hi = files[0].largestKey
        for f in files.dropFirst() {
            if FullKey.compare(f.smallestKey, lo) < 0 { lo = f.smallestKey }
            if FullKey.compare(f.largestKey, hi) > 0 { hi = f.largestKey }
        }
        return (lo, hi)
    }

    private func isBottommost(_ v: Version, below level: Int, _ lo: [UInt8], _ hi: [UInt8]) -> Bool {
        guard level < v.levels.count else { return true }
        for deeper in v.levels[level...] where !overlapping(deeper, lo, hi).isEmpty { return false }
        return true
    }

    private func pickL0(_ v: Version, _ t: LevelTargets, watermark: Epoch, busy: Set<UInt64>, score: Double, force: Bool,
                        idle: Bool) -> CompactionTask? {
        let base = t.base
        let f = footprint(v, t)
        let (l0Bytes, lo, hi, overlap, overlapBytes) = (f.l0Bytes, f.lo, f.hi, f.overlap, f.overlapBytes)
        let baseBusy = overlap.contains { busy.contains($0.id) }
        // Rewriting the overlapping base files pays off once L0 carries a fair share of their bytes.
        let worthIt = overlapBytes <= l0Bytes * UInt64(max(1, options.levelSizeMultiplier / 2))
        let urgent = force || v.l0.count >= options.l0SlowdownSubLevels / 2
        if !baseBusy && (worthIt || urgent) {
            // No writes arriving (after a restart, or ingest paused) and a deep L0: merge its
            // newest sub-levels into one first, as long as they add up to at most half the base
            // bytes the L0 -> base merge would rewrite. That takes a fraction of that merge, and
            // reads stop probing dozens of sub-levels long before the base level is rewritten.
            if idle && v.l0.count >= max(4, options.intraL0Trigger) {
                var gathered: UInt64 = 0, n = 0
                for run in v.l0 {
                    let s = CompactionPicker.size(run)
                    if n >= 2 && gathered + s > overlapBytes / 2 { break }
                    gathered += s
                    n += 1
                }
                if n >= max(4, options.intraL0Trigger) {
                    return CompactionTask(kind: .intraL0, inputs: v.l0[0..<n].map { CompactionTask.Input(level: 0, ssts: $0) },
                                          targetLevel: 0, watermark: watermark, bottommost: false,
                                          compression: sst.compression, targetFileSize: options.targetFileSize,
                                          baseSequence: v.sequence, score: score)
                }
            }
            if overlap.isEmpty && v.l0.count == 1 {
                return CompactionTask(kind: .trivialMove, inputs: [.init(level: 0, ssts: v.l0[0])], targetLevel: base,
                                      watermark: watermark, bottommost: false, compression: options.compression(forLevel: base),
                                      targetFileSize: options.targetFileSize, baseSequence: v.sequence, score: score)
            }
            var inputs = v.l0.map { CompactionTask.Input(level: 0, ssts: $0) }
            if !overlap.isEmpty { inputs.append(.init(level: base, ssts: overlap)) }
            return CompactionTask(kind: .l0ToBase, inputs: inputs, targetLevel: base, watermark: watermark,
                                  bottommost: isBottommost(v, below: base, lo, hi),
                                  compression: options.compression(forLevel: base),
                                  targetFileSize: options.targetFileSize, baseSequence: v.sequence, score: score)
        }
        return force ? nil : pickIntraL0(v, count: v.l0.count, watermark: watermark, score: score)
    }

    /// Merges the newest sub-levels while each next-older one is no larger than
    /// twice the bytes gathered so far: a size-tiered merge, so each byte is
    /// rewritten about log2(L0 bytes / epoch bytes) times before leaving L0.
    private func pickIntraL0(_ v: Version, count: Int, watermark: Epoch, score: Double) -> CompactionTask? {
        guard count >= max(2, options.intraL0Trigger) else { return nil }
        var gathered = CompactionPicker.size(v.l0[0])
        var n = 1
        while n < count {
            let s = CompactionPicker.size(v.l0[n])
            if s > gathered * 2 && n >= 2 { break }
            gathered += s
            n += 1
        }
        // Keep the oldest sub-level out unless merging everything is all that is left.
        if n == v.l0.count && n > 2 { n -= 1 }
        let inputs = v.l0[0..<n].map { CompactionTask.Input(level: 0, ssts: $0) }
        return CompactionTask(kind: .intraL0, inputs: inputs, targetLevel: 0, watermark: watermark, bottommost: false,
                              compression: sst.compression, targetFileSize: options.targetFileSize,
                              baseSequence: v.sequence, score: score)
    }

    private func pickLevel(_ v: Version, _ l: Int, watermark: Epoch, busy: Set<UInt64>, score: Double) -> CompactionTask? {
        let level = v.levels[l - 1]
        let next = l < v.levels.count ? v.levels[l] : []
        // The file whose rewrite costs least per byte moved down (fewest overlapping bytes below).
        var choice: (ratio: Double, file: SstInfo, overlap: [SstInfo])? = nil
        for f in level where !busy.contains(f.id) {
            let o = overlapping(next, f.smallestKey, f.largestKey)
            if o.contains(where: { busy.contains($0.id) }) { continue }
            let ratio = Double(CompactionPicker.size(o)) / Double(max(1, f.fileSize))
            if choice == nil || ratio < choice!.ratio { choice = (ratio, f, o) }
        }
        guard let c = choice else { return nil }
        let kind: CompactionTask.Kind = c.overlap.isEmpty ? .trivialMove : .levelToLevel
        var inputs = [CompactionTask.Input(level: l, ssts: [c.file])]
        if !c.overlap.isEmpty { inputs.append(.init(level: l + 1, ssts: c.overlap)) }
        let (lo, hi) = range(inputs.flatMap(\.ssts))
        return CompactionTask(kind: kind, inputs: inputs, targetLevel: l + 1, watermark: watermark,
                              bottommost: isBottommost(v, below: l + 1, lo, hi),
                              compression: options.compression(forLevel: l + 1),
                              targetFileSize: options.targetFileSize, baseSequence: v.sequence, score: score)
    }
}

extension CompactionPicker {
    /// Estimated bytes compaction must still rewrite to bring `v` into shape (the
    /// `floe_compaction_debt_bytes` gauge): all of L0 once it holds the trigger's
    /// sub-levels, plus every level's bytes above its target. RocksDB's "estimated
    /// pending compaction bytes" has the same two parts.
    func debtBytes(_ v: Version) -> UInt64 {
        var debt: UInt64 = v.l0.count >= options.l0CompactionTrigger ? v.l0.reduce(0) { $0 + CompactionPicker.size($1) } : 0
        let t = targets(v)
        for (i, level) in v.levels.enumerated() where i + 1 < t.bytes.count {
            let size = CompactionPicker.size(level)
            if size > t.bytes[i + 1] { debt += size - t.bytes[i + 1] }
        }
        return debt
    }
}
