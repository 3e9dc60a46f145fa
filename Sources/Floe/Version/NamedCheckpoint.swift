/// A named checkpoint as the manifest records it: a committed version pinned
/// durably, so GC keeps its SSTs until the checkpoint is deleted.
///
/// The whole version (levels, metadata, watermarks) is the object
/// `checkpoints/<name>.<sequence, 20 digits>.version` (a manifest checkpoint
/// encoding; the sequence in the name keeps two racing creates of one name from
/// overwriting each other's object); the manifest
/// record carries what GC and listings need: the name, the epoch, the sequence of
/// the version and the ids of every SST it references.
struct NamedCheckpoint: Sendable, Equatable {
    var name: String
    /// The committed epoch of the pinned version.
    var epoch: Epoch
    /// The manifest sequence of the pinned version.
    var sequence: UInt64
    /// Wall-clock milliseconds when created.
    var createdMillis: UInt64
    /// Total bytes of `ssts`.
    var bytes: UInt64
    /// Every SST of the pinned version, ascending.
    var ssts: [UInt64]

    /// The object holding version `sequence` pinned as `name`.
    static func objectPath(_ name: String, sequence: UInt64) -> String {
        "checkpoints/" + name + "." + String(sequence).leftPad(20) + ".version"
    }

    var objectPath: String { NamedCheckpoint.objectPath(name, sequence: sequence) }

    /// Throws `invalidArgument` unless `name` is 1 to 128 characters of `A-Z a-z 0-9 . _ -`
    /// not starting with a dot: it becomes part of an object name.
    static func validate(_ name: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 128 && name.first != "." && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        guard ok else {
            throw FloeError.invalidArgument("checkpoint name \"\(name)\" must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', '-' and not start with '.'")
        }
    }

    init(name: String, epoch: Epoch, sequence: UInt64, createdMillis: UInt64, bytes: UInt64, ssts: [UInt64]) {
        self.name = name
        self.epoch = epoch
        self.sequence = sequence
        self.createdMillis = createdMillis
        self.bytes = bytes
        self.ssts = ssts
    }

    /// The record pinning `v` under `name`.
    init(name: String, pinning v: Version, createdMillis: UInt64) {
        self.init(name: name, epoch: v.committedEpoch, sequence: v.sequence, createdMillis: createdMillis,
                  bytes: v.allSsts.reduce(0) { $0 + $1.fileSize }, ssts: v.allSsts.map(\.id).sorted())
    }

    func encode(into w: inout ByteWriter) {
        w.string(name)
        w.varint(epoch)
        w.varint(sequence)
        w.varint(createdMillis)
        w.varint(bytes)
        w.varint(ssts.count)
        for id in ssts { w.u64(id) }
    }

    static func decode(_ r: inout ByteReader) throws -> NamedCheckpoint {
        let name = try r.string("checkpoint name")
        let epoch = try r.varint("checkpoint epoch")
        let sequence = try r.varint("checkpoint sequence")
        let created = try r.varint("checkpoint created")
        let bytes = try r.varint("checkpoint bytes")
        var ids: [UInt64] = []
        for _ in 0..<(try r.length("checkpoint sst count", limit: r.remaining / 8)) { ids.append(try r.u64("checkpoint sst id")) }
        return NamedCheckpoint(name: name, epoch: epoch, sequence: sequence, createdMillis: created, bytes: bytes, ssts: ids)
    }

    static func encodeList(_ list: [NamedCheckpoint], into w: inout ByteWriter) {
        w.varint(list.count)
        for c in list { c.encode(into: &w) }
    }

    static func decodeList(_ r: inout ByteReader) throws -> [NamedCheckpoint] {
        var out: [NamedCheckpoint] = []
        for _ in 0..<(try r.length("checkpoint count", limit: r.remaining)) { out.append(try decode(&r)) }
        return out
    }
}

/// What `StateStore.checkpoints` lists about one named checkpoint.
public struct CheckpointInfo: Sendable, Hashable {
    public var name: String
    /// The committed epoch the checkpoint pins.
    public var epoch: Epoch
    /// Wall-clock milliseconds since 1970 when it was created.
    public var createdMillis: UInt64
    /// SSTs it references and their total bytes (shared with the live version
    /// until compaction replaces them).
    public var sstCount: Int
    public var bytes: UInt64

    init(_ c: NamedCheckpoint) {
        name = c.name
        epoch = c.epoch
        createdMillis = c.createdMillis
        sstCount = c.ssts.count
        bytes = c.bytes
    }
}
