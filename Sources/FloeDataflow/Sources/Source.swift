import Floe

/// What one read of a source partition produced.
public enum SourceRead: Sendable, Equatable {
    /// This many rows were appended to the chunk.
    case rows(Int)
    /// Nothing now; more may come later (a log another process appends to).
    case caughtUp
    /// Nothing now or ever (a finite generator that has produced all its events).
    case end
}

/// A replayable, partitioned, offset-addressed source: partition p read from
/// offset o yields the same rows in the same order every time. The offset is the
/// number of rows of the partition before the next one read.
public protocol Source: Sendable {
    /// The name recorded with the offsets in every commit (one per pipeline input).
    var name: String { get }
    var schema: Schema { get }
    var partitions: Int { get }
    /// A reader of `partition` whose next row is the one at `offset`.
    func reader(partition: Int, from offset: UInt64) async throws -> any SourceReader
    /// The offset after the last row each partition holds now (for `--until-end`).
    func endOffsets() async throws -> [UInt64]
}

/// Reads one partition in order. Owned by one task.
public protocol SourceReader: Sendable {
    /// The offset of the next row `read` returns.
    var offset: UInt64 { get }
    /// Appends up to `max` rows (as inserts) to `chunk`, whose columns are the
    /// source's schema. Throws `DataflowError.malformedValue` or `damagedLog` with
    /// the partition and offset of the bad row; nothing of that row is appended.
    mutating func read(into chunk: inout Chunk, max: Int) async throws -> SourceRead
}
