/// Reads and writes the manifest objects of one store: the newest checkpoint
/// plus the deltas after it. Never reads a data file.
struct ManifestStore: Sendable {
    let store: any ObjectStore

    static func checkpointPath(_ sequence: UInt64) -> String {
        "manifest/" + String(sequence).leftPad(20) + ".checkpoint"
    }

    /// Names in `manifest/`, parsed.
    struct Listing {
        var deltas: [UInt64] = []
        var checkpoints: [UInt64] = []
    }

    func listing() async throws -> Listing {
        var l = Listing()
        for o in try await store.list(prefix: "manifest/") {
            let name = o.path.dropFirst("manifest/".count)
            if name.hasSuffix(".delta"), let s = UInt64(name.dropLast(".delta".count)) { l.deltas.append(s) }
            else if name.hasSuffix(".checkpoint"), let s = UInt64(name.dropLast(".checkpoint".count)) { l.checkpoints.append(s) }
        }
        l.deltas.sort()
        l.checkpoints.sort()
        return l
    }

    /// The current version, or nil if the store has no manifest yet.
    func loadVersion() async throws -> Version? { try await load()?.version }

    /// The current version and the sequence of the checkpoint it was loaded from
    /// (0: none), or nil if the store has no manifest yet.
    /// Throws `FloeError.corruption` for a damaged object or a gap in the delta sequence.
    func load() async throws -> (version: Version, checkpoint: UInt64)? {
        let l = try await listing()
        guard let last = l.deltas.last ?? l.checkpoints.last else { return nil }
        var version = Version.empty
        var checkpoint: UInt64 = 0
        if let c = l.checkpoints.last(where: { $0 <= last }) {
            checkpoint = c
            let path = ManifestStore.checkpointPath(c)
            version = try ManifestCodec.decodeVersion(try await store.get(path), object: path)
            guard version.sequence == c else {
                throw FloeError.corruption(object: path, offset: 0, reason: "checkpoint holds sequence \(version.sequence)")
            }
        }
        return (try await catchUp(version, knownDeltas: l.deltas), checkpoint)
    }

    /// Applies every delta after `version` (as listed, contiguous from its sequence).
    func catchUp(_ start: Version, knownDeltas: [UInt64]? = nil) async throws -> Version {
        let deltas: [UInt64]
        if let knownDeltas { deltas = knownDeltas } else { deltas = try await listing().deltas }
        var version = start
        for s in deltas where s > start.sequence {
            guard s == version.sequence + 1 else {
                throw FloeError.corruption(object: VersionDelta.objectPath(version.sequence + 1), offset: 0,
                                           reason: "manifest delta \(version.sequence + 1) is missing (next present: \(s))")
            }
            version = try version.applying(try await readDelta(s), object: VersionDelta.objectPath(s))
        }
        return version
    }

    func readDelta(_ sequence: UInt64) async throws -> VersionDelta {
        let path = VersionDelta.objectPath(sequence)
        let d = try ManifestCodec.decodeDelta(try await store.get(path), object: path)
        guard d.sequence == sequence else {
            throw FloeError.corruption(object: path, offset: 0, reason: "delta holds sequence \(d.sequence)")
        }
        return d
    }

    /// Creates the delta object for `delta.sequence`. Returns false if that sequence is taken.
    func append(_ delta: VersionDelta) async throws -> Bool {
        try await store.createIfAbsent(VersionDelta.objectPath(delta.sequence), ManifestCodec.encode(delta))
    }

    /// After `append(delta)` threw: whether the record at its sequence is one
    /// `isOurs` accepts, i.e. the append landed and only its acknowledgement was
    /// lost. An accepted record is first made durable by appending it again
    /// (a create-if-absent that finds the object reports it only once it is
    /// durable): a landed object can still be unsynced, e.g. when the directory
    /// fsync after the link failed, and adopting it as is would acknowledge a
    /// commit that a power cut then loses. False if it is absent, not ours, or
    /// cannot be confirmed.
    func adoptLanded(_ delta: VersionDelta, isOurs: (VersionDelta) -> Bool) async -> Bool {
        guard let landed = try? await readDelta(delta.sequence), isOurs(landed) else { return false }
        return (try? await append(delta)) != nil
    }

    func writeCheckpoint(_ v: Version) async throws {
        try await store.put(ManifestStore.checkpointPath(v.sequence), ManifestCodec.encode(v))
    }
}
