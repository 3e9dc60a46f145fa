import Floe

/// Writes a stream of changes into a view's table: key = the memcomparable
/// primary key, value = the visible columns (`RowCodec`). An insert puts, a delete
/// removes; an update (delete then insert of one key) leaves the new row.
///
/// With a sink log, it also records every change of the epoch under
/// (view, epoch, instance, sequence), so that sinks can be fed each committed
/// epoch's changes from the store, also after a crash (docs/format.md §14).
/// With `digests`, it keeps the epoch's change of the view's digest (the hash of
/// each row's key and value bytes it writes, added on insert and subtracted on
/// delete: `ViewDigest`) and reports it at the barrier, for the epoch's lineage
/// record. A delete's row is the row it retracts, as every operator emits it.
/// Terminal: it emits nothing.
public struct Materialize: StreamOperator {
    public var outputTypes: [ColumnType] { [] }
    let primaryKey: [Int]
    let visible: [Int]
    private var table: StateTable
    private var sinkLog: StateTable?
    let viewIndex: UInt16
    let instance: UInt16
    private var sequence: UInt32 = 0
    private var key: [UInt8] = []
    private var value: [UInt8] = []
    private var digests: ViewDigestDeltas?
    /// The change of the view's digest in the epoch being built, by this instance.
    private var digest = ViewDigest()

    init(primaryKey: [Int], visible: [Int], table: StateTable, sinkLog: StateTable?, viewIndex: UInt16, instance: UInt16,
         digests: ViewDigestDeltas?) {
        self.init(primaryKey: primaryKey, visible: visible, table: table, sinkLog: sinkLog, viewIndex: viewIndex, instance: instance)
        self.digests = digests
    }

    public init(primaryKey: [Int], visible: [Int], table: StateTable, sinkLog: StateTable?, viewIndex: UInt16, instance: UInt16) {
        self.primaryKey = primaryKey
        self.visible = visible
        self.table = table
        self.sinkLog = sinkLog
        self.viewIndex = viewIndex
        self.instance = instance
    }

    public mutating func process(_ chunk: Chunk, input: Int, epoch: Epoch, into out: inout Chunk) async throws {
        for r in 0..<chunk.count {
            key.removeAll(keepingCapacity: true)
            for c in primaryKey { KeyEncoding.appendColumn(&key, chunk, c, r) }
            let op = chunk.op(r)
            if op == .insert || digests != nil {
                value.removeAll(keepingCapacity: true)
                RowCodec.append(&value, chunk, row: r, columns: visible)
            }
            if op == .insert {
                table.put(key, value)
                if digests != nil { digest.insert(ViewDigest.rowHash(key: key, value: value)) }
            } else {
                table.delete(key)
                if digests != nil { digest.remove(ViewDigest.rowHash(key: key, value: value)) }
            }
            if sinkLog != nil {
                key.removeAll(keepingCapacity: true)
                SinkLog.appendKey(&key, view: viewIndex, epoch: epoch, instance: instance, sequence: sequence)
                sequence &+= 1
                value.removeAll(keepingCapacity: true)
                value.append(op.rawValue)
                RowCodec.append(&value, chunk, row: r, columns: visible)
                sinkLog!.put(key, value)
            }
        }
        try await table.writeThrough(epoch: epoch)
        try await sinkLog?.writeThrough(epoch: epoch)
    }

    public mutating func barrier(ending epoch: Epoch, into out: inout Chunk) async throws {
        try await table.flush(epoch: epoch)
        try await sinkLog?.flush(epoch: epoch)
        sequence = 0
        if let digests, !digest.isZero { digests.add(view: viewIndex, epoch: epoch, digest) }
        digest = ViewDigest()
    }
}

/// The layout of the sink log: changes of committed epochs not yet delivered to
/// every sink. Key: view (2 bytes), epoch (8), instance (2), sequence (4), all
/// big-endian; value: the op (0 insert, 1 delete), then the view's row (`RowCodec`).
public enum SinkLog {
    /// The table of every pipeline's sink log.
    public static let table = TableID(0x7FFF_FFFF)

    public static func appendKey(_ out: inout [UInt8], view: UInt16, epoch: Epoch, instance: UInt16, sequence: UInt32) {
        out.append(UInt8(view >> 8)); out.append(UInt8(view & 0xFF))
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: epoch >> UInt64(s))) }
        out.append(UInt8(instance >> 8)); out.append(UInt8(instance & 0xFF))
        for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: sequence >> UInt32(s))) }
    }

    /// The key prefix of one view's changes of one epoch (or of all epochs with `epoch` nil).
    public static func prefix(view: UInt16, epoch: Epoch?) -> [UInt8] {
        var out: [UInt8] = [UInt8(view >> 8), UInt8(view & 0xFF)]
        if let epoch { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: epoch >> UInt64(s))) } }
        return out
    }

    /// The epoch in a sink log key.
    public static func epoch(of key: UnsafeRawBufferPointer) -> Epoch {
        var e: UInt64 = 0
        for i in 2..<10 { e = e << 8 | UInt64(key[i]) }
        return e
    }
}
