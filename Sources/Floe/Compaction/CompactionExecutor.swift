/// Runs a `CompactionTask`: merges its input runs in full-key order, garbage
/// collects versions under the MVCC rule, writes and uploads the output SSTs.
///
/// MVCC rule (DESIGN.md): a version may be dropped only when a newer version of
/// the same key has epoch <= the watermark. So per user key every version above
/// the watermark is kept, plus the newest one at or below it; that one is also
/// dropped when it is a tombstone and the task is bottommost. Every version of a
/// key that a table watermark of the task hides is dropped: the watermark applies
/// at the task's watermark epoch, so no retained epoch can read the key.
///
/// With `prefillCache` the outputs' blocks go into the reader's block cache as
/// they are written (when they fit in its free room), so reads after the
/// compaction stay warm.
enum CompactionExecutor {
    static func run(_ task: CompactionTask, reader: SstReader, store: any ObjectStore,
                    options: SstWriterOptions, failpoints: FailpointRegistry = Failpoints.processOrEmpty,
                    buffers: SstBufferPool? = nil, prefillCache: Bool = true,
                    nextID: @Sendable () -> UInt64) async throws -> CompactionResult {
        if task.kind == .dropHidden {
            let files = task.inputs.flatMap(\.ssts)
            return CompactionResult(task: task, outputs: [], bytesRead: 0, bytesWritten: 0,
                                    entriesIn: files.reduce(0) { $0 + $1.entryCount }, entriesOut: 0)
        }
        if task.kind == .trivialMove {
            let files = task.inputs.flatMap(\.ssts)
            return CompactionResult(task: task, outputs: files, bytesRead: 0, bytesWritten: 0,
                                    entriesIn: files.reduce(0) { $0 + $1.entryCount }, entriesOut: files.reduce(0) { $0 + $1.entryCount })
        }
        var heap = MergeHeap()
        for input in task.inputs where !input.ssts.isEmpty {
            // Sequential 1 MiB reads that bypass the block cache: compaction inputs are read
            // once, and caching them would evict the blocks readers actually use.
            let it = SstRunIterator(reader: reader, run: input.ssts, readAheadBytes: 1 << 20)
            try await it.seekToFirst()
            heap.add(.run(it))
        }
        var wopts = options
        wopts.compression = task.compression
        wopts.targetFileSize = task.targetFileSize
        let prefill = prefillCache && reader.blockCache.capacityBytes > 0
        // Inputs' size bounds the outputs' (compression and dropped versions only shrink them).
        let inputBytes = task.inputs.reduce(0) { $0 + $1.ssts.reduce(0) { $0 + Int($1.fileSize) } }
        var left = inputBytes
        var writer = SstWriter(id: nextID(), options: wopts, retainBlocks: prefill, expectedBytes: left,
                               buffer: buffers?.take(capacity: min(left, task.targetFileSize)) ?? [])
        var outputs: [SstInfo] = []
        var written: UInt64 = 0
        var entriesIn: UInt64 = 0
        // Table + user key of the versions being decided (`currentPrefix[0..<currentLength]`).
        var currentPrefix = [UInt8](repeating: 0, count: 64)
        var currentLength = -1
        var seenAtOrBelow = false
        var lastEpoch: Epoch = 0
        // Whether a table watermark hides the key being decided, and the watermark of the last table seen.
        var currentHidden = false
        var wmTable: UInt32? = nil
        var wm: TableWatermark? = nil

        while !heap.isEmpty {
            entriesIn += 1
            // Decide on borrowed bytes; only a file cut (an upload) leaves the closure.
            let (keep, cut): (Bool, Bool) = heap.withTopEntry { k, kind, _ in
                let prefix = FullKey.prefix(k), epoch = FullKey.epoch(k)
                let same = currentLength == prefix.count && currentPrefix.withUnsafeBytes {
                    FullKey.compareBytes(UnsafeRawBufferPointer(rebasing: $0[0..<currentLength]), prefix) == 0
                }
                if !same {
                    if currentPrefix.count < prefix.count { currentPrefix = [UInt8](repeating: 0, count: prefix.count * 2) }
                    currentPrefix.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: prefix.baseAddress!, byteCount: prefix.count) }
                    currentLength = prefix.count
                    seenAtOrBelow = false
                    if !task.tableWatermarks.isEmpty {
                        let t = FullKey.table(k)
                        if wmTable != t {
                            wmTable = t
                            wm = task.tableWatermarks.first { $0.tableRaw == t }
                        }
                        currentHidden = wm?.hides(FullKey.userKey(k)) ?? false
                    }
                }
                var keep = false
                if currentHidden {
                    keep = false
                } else if same && epoch == lastEpoch {
                    keep = false // the same version in two inputs: keep the first (newest input)
                } else if epoch > task.watermark {
                    keep = true
                } else if !seenAtOrBelow {
                    seenAtOrBelow = true
                    keep = !(task.bottommost && kind == ValueKind.delete)
                }
                lastEpoch = epoch
                let cut = keep && writer.estimatedSize >= task.targetFileSize &&
                    writer.isNewUserKey(table: FullKey.table(k), userKey: FullKey.userKey(k))
                return (keep, cut)
            }
            if cut {
                let (bytes, info) = writer.finish()
                try failpoints.hit(.compactionBeforeUpload)
                try await store.put(info.path, bytes)
                if let blocks = writer.retainedBlocks { reader.prefill(info, blocks: blocks) }
                outputs.append(info)
                written += info.fileSize
                left = max(0, left - Int(info.fileSize))
                // The uploaded file's buffer builds the next one.
                writer = SstWriter(id: nextID(), options: wopts, retainBlocks: prefill, expectedBytes: left,
                                   buffer: consume bytes)
            }
            if keep {
                heap.withTopEntry { k, kind, v in writer.add(encodedKey: k, kind: kind, value: v) }
            }
            if !heap.advanceTopSync() { try await heap.finishAdvanceTop() }
        }
        if !writer.isEmpty {
            let (bytes, info) = writer.finish()
            try failpoints.hit(.compactionBeforeUpload)
            try await store.put(info.path, bytes)
            if let blocks = writer.retainedBlocks { reader.prefill(info, blocks: blocks) }
            outputs.append(info)
            written += info.fileSize
            buffers?.give(consume bytes)
        }
        return CompactionResult(task: task, outputs: outputs, bytesRead: task.inputBytes, bytesWritten: written,
                                entriesIn: entriesIn, entriesOut: outputs.reduce(0) { $0 + $1.entryCount })
    }
}
