/// Consecutive stored blocks of one SST read in one ranged read (`SstReader.readChunk`),
/// decoded one at a time on demand.
///
/// Compaction walks its inputs through chunks: a chunk holds the stored (compressed)
/// bytes only, and each block is decoded when the iterator reaches it, into a
/// buffer the iterator reuses. Decoding a whole chunk up front held every decoded
/// block of every input at once and allocated each anew.
struct BlockChunk {
    let meta: SstMeta
    let raw: [UInt8]
    /// The first block held and how many.
    let first: Int
    let count: Int

    /// Whether block `i` of the file is in this chunk.
    func holds(_ i: Int) -> Bool { i >= first && i < first + count }

    /// Decodes block `i` (checksum, decompression, structure) into a fresh payload.
    /// - Throws: `FloeError.corruption` naming the object and the block's offset.
    func block(_ i: Int) throws -> Block {
        var payload: [UInt8] = []
        return try block(i, into: &payload)
    }

    /// Decodes block `i` into `buffer`, which the block then shares: a buffer whose
    /// previous block was released is reused without allocating.
    /// - Throws: `FloeError.corruption` naming the object and the block's offset.
    func block(_ i: Int, into buffer: inout [UInt8]) throws -> Block {
        let offset = meta.blockOffsets[i]
        let at = offset - meta.blockOffsets[first]
        try BlockCodec.open(raw, range: at..<(at + meta.blockSizes[i]), into: &buffer, object: meta.object, objectOffset: offset)
        return try Block(buffer, dataBlock: true, object: meta.object, offset: offset)
    }
}
