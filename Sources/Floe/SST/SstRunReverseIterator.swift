/// Iterates a sorted run of non-overlapping SSTs (an L0 sub-level or a level)
/// in descending full-key order: files from last to first, each file's blocks from
/// its last to its first through the block index, each block backwards through a
/// `BlockReverseCursor`. Files and blocks load lazily as it moves, through the meta
/// and block caches as forward iteration does, so a reverse scan that stops after a
/// few rows reads only the blocks at the end of its range.
///
/// No read-ahead: each block missing from the cache is one ranged read (a long
/// reverse scan of cold data costs a request per block).
final class SstRunReverseIterator {
    private let reader: SstReader
    private let run: [SstInfo]
    // Hot per-row state of a single-owner iterator (never shared across tasks, never
    // re-entered): see `SstRunIterator`.
    @exclusivity(unchecked) private var fileIndex = -1
    @exclusivity(unchecked) private var meta: SstMeta?
    @exclusivity(unchecked) private var blockIndex = -1
    private let cursor = BlockReverseCursor()
    @exclusivity(unchecked) private(set) var valid = false

    init(reader: SstReader, run: [SstInfo]) {
        self.reader = reader
        self.run = run
    }

    /// Borrows the current encoded full key. Valid only while `valid`.
    @inline(__always)
    func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try cursor.withKey(body)
    }

    /// Borrows the current key, its kind and its user value. Valid only while `valid`.
    @inline(__always)
    func withEntry<R>(_ body: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try cursor.withEntry(body)
    }

    /// Positions at the last entry below the encoded full key `target`, or at the
    /// run's last entry when `target` is nil; invalid when there is none.
    /// Throws as `SstReader.meta` and `SstReader.block` (corruption, missing object).
    func seekBefore(_ target: [UInt8]?) async throws {
        var file = run.count - 1
        if let target {
            // The first file whose smallest key is at or after the target: the one before
            // it is the last that can hold a key below it.
            var lo = 0, hi = run.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if FullKey.compare(run[mid].smallestKey, target) < 0 { lo = mid + 1 } else { hi = mid }
            }
            file = lo - 1
        }
        guard file >= 0 else { valid = false; return }
        fileIndex = file
        let m = try await reader.meta(run[file])
        meta = m
        // The first block whose last key is at or after the target: keys below the
        // target are in it or before it. Past every block: the file's last block.
        let bi = target.flatMap { m.blockIndex($0) } ?? (m.blockCount - 1)
        guard bi >= 0 else {
            blockIndex = 0
            try await previousBlock()
            return
        }
        blockIndex = bi
        cursor.load(try await reader.block(m, bi))
        if let target { cursor.seekBefore(target) }
        valid = cursor.valid
        if !valid { try await previousBlock() }
    }

    /// Steps back without suspending when the previous entry is in the current block,
    /// or in the previous block (of this file or the one before) and that block is
    /// cached. Returns false when the caller must `await finishRetreat()` instead,
    /// which goes on from where this stopped.
    @inline(__always)
    func retreatInBlock() -> Bool {
        if cursor.retreat() { return true }
        return previousBlockAtHand()
    }

    /// `previousBlock()` as far as cached metas and blocks allow: true when
    /// positioned (or exhausted before the run's first block); false when a meta or
    /// block must be read, with the position as `previousBlock()` expects it.
    private func previousBlockAtHand() -> Bool {
        guard let m = meta else { return false }
        if blockIndex == 0 {
            guard fileIndex > 0 else {
                fileIndex = -1
                meta = nil
                valid = false
                return true
            }
            guard let previous = reader.cachedMeta(run[fileIndex - 1]), previous.blockCount > 0,
                  let block = reader.blockCache.getIfCached(BlockKey(sst: previous.id, block: previous.blockCount - 1))
            else { return false }
            fileIndex -= 1
            meta = previous
            blockIndex = previous.blockCount - 1
            cursor.load(block)
        } else {
            guard let block = reader.blockCache.getIfCached(BlockKey(sst: m.id, block: blockIndex - 1)) else { return false }
            blockIndex -= 1
            cursor.load(block)
        }
        valid = cursor.valid
        return valid
    }

    /// Completes a step back that `retreatInBlock` could not: moves to the previous
    /// block or file. Throws as `seekBefore`.
    func finishRetreat() async throws {
        try await previousBlock()
    }

    /// Positions at the last entry of the block before the current one (of the
    /// previous file when it was the first); invalid before the run's first block.
    private func previousBlock() async throws {
        while true {
            guard let m = meta else { valid = false; return }
            blockIndex -= 1
            if blockIndex < 0 {
                fileIndex -= 1
                guard fileIndex >= 0 else {
                    meta = nil
                    valid = false
                    return
                }
                let previous = try await reader.meta(run[fileIndex])
                meta = previous
                blockIndex = previous.blockCount
                continue
            }
            cursor.load(try await reader.block(m, blockIndex))
            valid = cursor.valid
            if valid { return }
        }
    }
}
