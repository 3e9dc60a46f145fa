/// Iterates a sorted run of non-overlapping SSTs (an L0 sub-level or a level)
/// in full-key order, loading files and blocks lazily as it moves. A scan over
/// a range touches only the blocks the range covers.
final class SstRunIterator {
    private let reader: SstReader
    private let run: [SstInfo]
    // Hot per-row state of a single-owner iterator (never shared across tasks, never
    // re-entered): `@exclusivity(unchecked)` drops the runtime exclusivity check that
    // otherwise costs a TLS lookup per access, about a fifth of a warm scan.
    @exclusivity(unchecked) private var fileIndex = 0
    @exclusivity(unchecked) private var meta: SstMeta?
    @exclusivity(unchecked) private var blockIndex = 0
    /// Not optional: reading an optional struct out of a class copies it (two retains) per entry.
    @exclusivity(unchecked) private var cursor = BlockCursor(Block.empty)
    @exclusivity(unchecked) private(set) var valid = false
    /// With read-ahead (compaction), blocks come in large sequential reads that
    /// bypass the block cache: `chunk` holds their stored bytes, each decoded into
    /// `payload` when reached (the previous block is released first, so the buffer
    /// is reused). Scans keep the decoded blocks of a cache-filling read in `ahead`.
    private let readAheadBytes: Int
    @exclusivity(unchecked) private var chunk: BlockChunk?
    @exclusivity(unchecked) private var payload: [UInt8] = []
    @exclusivity(unchecked) private var ahead: [Block] = []
    @exclusivity(unchecked) private var aheadFirst = 0
    /// Scans (no fixed read-ahead): consecutive block misses in a row. After two,
    /// misses are served by cache-filling read-ahead that doubles from 16 KiB up to
    /// `SstReader.scanReadAheadBytes`, so long scans issue few large reads and short
    /// ones stay small.
    @exclusivity(unchecked) private var sequentialMisses = 0
    /// The window after `ahead`, read while `ahead` is consumed (a remote store's
    /// latency then overlaps the scan). Abandoned by a seek or a new file: it only
    /// fills the block cache then.
    private struct Prefetch {
        let meta: SstMeta
        let first: Int
        let task: Task<[Block], any Error>
    }
    @exclusivity(unchecked) private var prefetch: Prefetch?

    init(reader: SstReader, run: [SstInfo], readAheadBytes: Int = 0) {
        self.reader = reader
        self.run = run
        self.readAheadBytes = readAheadBytes
    }

    /// The current encoded full key. Valid only while `valid`.
    var key: [UInt8] { cursor.key }
    var kind: UInt8 { cursor.kind }
    var value: ArraySlice<UInt8> { cursor.userValue }

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

    /// Positions at the first entry >= `target` (an encoded full key).
    func seek(_ target: [UInt8]) async throws {
        var lo = 0, hi = run.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if FullKey.compare(run[mid].largestKey, target) < 0 { lo = mid + 1 } else { hi = mid }
        }
        fileIndex = lo
        ahead = []
        aheadFirst = 0
        sequentialMisses = 0
        guard fileIndex < run.count else { valid = false; return }
        let m = try await reader.meta(run[fileIndex])
        meta = m
        guard let bi = m.blockIndex(target) else {
            try await openFile(fileIndex + 1)
            return
        }
        blockIndex = bi
        var c = BlockCursor(try await reader.block(m, bi), reusing: cursor.keyBuffer)
        c.seek(target)
        valid = c.valid
        cursor = c
        if !valid { try await nextBlock() }
    }

    /// `openFile(fileIndex + 1)` when that needs no I/O: the run is exhausted, or the
    /// next file's meta and first block are cached. False, having changed nothing,
    /// otherwise.
    private func nextFileAtHand() -> Bool {
        let f = fileIndex + 1
        guard f < run.count else {
            fileIndex = f
            ahead = []
            aheadFirst = 0
            valid = false
            cursor = BlockCursor(Block.empty)
            return true
        }
        guard let m = reader.cachedMeta(run[f]), m.blockCount > 0,
              let block = reader.blockCache.getIfCached(BlockKey(sst: m.id, block: 0)) else { return false }
        fileIndex = f
        ahead = []
        aheadFirst = 0
        meta = m
        blockIndex = 0
        var c = BlockCursor(block, reusing: cursor.keyBuffer)
        c.seekToFirst()
        valid = c.valid
        cursor = c
        return true
    }

    /// `seek(target)` when the file's meta and the block holding the target are
    /// cached and the target is inside that block: positions and returns true without
    /// suspending. Otherwise changes nothing and returns false (`seek` must run).
    func seekAtHand(_ target: [UInt8]) -> Bool {
        var lo = 0, hi = run.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if FullKey.compare(run[mid].largestKey, target) < 0 { lo = mid + 1 } else { hi = mid }
        }
        guard readAheadBytes == 0 else { return false }
        guard lo < run.count else {
            fileIndex = lo
            ahead = []
            aheadFirst = 0
            sequentialMisses = 0
            valid = false
            return true
        }
        guard let m = reader.cachedMeta(run[lo]), let bi = m.blockIndex(target),
              let block = reader.blockCache.getIfCached(BlockKey(sst: m.id, block: bi)) else { return false }
        var c = BlockCursor(block, reusing: cursor.keyBuffer)
        c.seek(target)
        guard c.valid else { return false }
        fileIndex = lo
        ahead = []
        aheadFirst = 0
        sequentialMisses = 0
        meta = m
        blockIndex = bi
        cursor = c
        valid = true
        return true
    }

    /// Moves forward to the first entry >= `target` (an encoded full key) when the
    /// current entry is below it, reading as little as it can: within the current
    /// block when its last key (from the index) is at or after the target, no read;
    /// within the current file, the one block the index names; else a full `seek`.
    /// Stays put when the current entry is already at or after the target, and an
    /// exhausted iterator stays exhausted: the caller steps only towards keys after
    /// everything it has passed. Throws as `seek`.
    func step(to target: [UInt8]) async throws {
        guard valid else { return }
        if target.withUnsafeBytes({ t in cursor.withKey { FullKey.compare($0, t) } }) >= 0 { return }
        guard let m = meta, fileIndex < run.count else { return try await seek(target) }
        if chunk == nil, blockIndex < m.blockCount, !m.blockEndsBefore(blockIndex, target) {
            cursor.seek(target)
            valid = cursor.valid
            if !valid { try await nextBlock() }
            return
        }
        guard FullKey.compare(run[fileIndex].largestKey, target) >= 0, let bi = m.blockIndex(target) else {
            return try await seek(target)
        }
        blockIndex = bi
        var c = BlockCursor(try await loadBlock(m, bi), reusing: cursor.keyBuffer)
        c.seek(target)
        valid = c.valid
        cursor = c
        if !valid { try await nextBlock() }
    }

    func seekToFirst() async throws {
        try await openFile(0)
    }

    func next() async throws {
        if cursor.advance() { return }
        try await nextBlock()
    }

    /// Advances without suspending when the next entry is in the current block, or
    /// begins the next block of the current file and that block is at hand without
    /// I/O (decoded read-ahead, or the block cache). Returns false, having moved
    /// nothing, when the caller must `await finishAdvance()` instead: a block to
    /// read, a prefetch to collect, or a file to open.
    @inline(__always)
    func advanceInBlock() -> Bool {
        if cursor.advance() { return true }
        return nextBlockAtHand()
    }

    /// `nextBlock()` for a scan whose next block needs no I/O; false (nothing
    /// changed) otherwise. Keeps a scan over cached blocks from suspending at every
    /// block boundary: each suspension from an actor is an executor hop.
    private func nextBlockAtHand() -> Bool {
        guard readAheadBytes == 0, let m = meta else { return false }
        let i = blockIndex + 1
        guard i < m.blockCount else { return nextFileAtHand() }
        let block: Block
        if i >= aheadFirst && i < aheadFirst + ahead.count {
            block = ahead[i - aheadFirst]
        } else if let p = prefetch, p.meta === m, p.first == i {
            return false // collected by `loadBlock`, which starts the next window
        } else if let b = reader.blockCache.getIfCached(BlockKey(sst: m.id, block: i)) {
            sequentialMisses = 0
            block = b
        } else {
            return false
        }
        blockIndex = i
        var c = BlockCursor(block, reusing: cursor.keyBuffer)
        c.seekToFirst()
        valid = c.valid
        cursor = c
        return true
    }

    /// Completes an advance that `advanceInBlock` could not: moves to the next block or file.
    func finishAdvance() async throws {
        try await nextBlock()
    }

    private func openFile(_ i: Int) async throws {
        fileIndex = i
        ahead = []
        aheadFirst = 0
        chunk = nil
        guard i < run.count else { valid = false; cursor = BlockCursor(Block.empty); return }
        let m = try await reader.meta(run[i])
        meta = m
        blockIndex = -1
        try await nextBlock()
    }

    private func nextBlock() async throws {
        guard let m = meta else { valid = false; return }
        blockIndex += 1
        if blockIndex >= m.blockCount {
            try await openFile(fileIndex + 1)
            return
        }
        var c = BlockCursor(try await loadBlock(m, blockIndex), reusing: cursor.keyBuffer)
        c.seekToFirst()
        valid = c.valid
        cursor = c
    }

    private func loadBlock(_ m: SstMeta, _ i: Int) async throws -> Block {
        guard readAheadBytes > 0 else {
            if i >= aheadFirst && i < aheadFirst + ahead.count { return ahead[i - aheadFirst] }
            if let p = prefetch, p.meta === m, p.first == i {
                prefetch = nil
                ahead = try await p.task.value
                aheadFirst = i
                startPrefetch(m, after: i + ahead.count)
                return ahead[0]
            }
            if let b = reader.blockCache.get(BlockKey(sst: m.id, block: i)) {
                sequentialMisses = 0
                return b
            }
            sequentialMisses += 1
            guard sequentialMisses > 2 else { return try await reader.block(m, i) }
            ahead = try await reader.readAhead(m, from: i, maxBytes: windowBytes, fillCache: true)
            aheadFirst = i
            startPrefetch(m, after: i + ahead.count)
            return ahead[0]
        }
        if chunk.map({ !$0.holds(i) || $0.meta !== m }) ?? true {
            chunk = try await reader.readChunk(m, from: i, maxBytes: readAheadBytes)
        }
        // Drop the cursor's block so `payload` is uniquely referenced again.
        cursor = BlockCursor(Block.empty, reusing: cursor.keyBuffer)
        return try chunk!.block(i, into: &payload)
    }

    /// The next read-ahead window: 16 KiB doubling per window up to the reader's bound.
    private var windowBytes: Int {
        let grown = (16 << 10) << min(12, max(0, sequentialMisses - 3))
        return max(16 << 10, min(reader.scanReadAheadBytes, grown))
    }

    /// Starts reading the window from block `next` of `m`, unless the file ends first.
    private func startPrefetch(_ m: SstMeta, after next: Int) {
        guard next < m.blockCount else { prefetch = nil; return }
        sequentialMisses += 1
        let reader = self.reader, size = windowBytes
        prefetch = Prefetch(meta: m, first: next, task: Task {
            try await reader.readAhead(m, from: next, maxBytes: size, fillCache: true)
        })
    }
}
