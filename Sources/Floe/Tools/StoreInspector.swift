/// Read-only inspection of a store for tools (`floe manifest show`, `floe stats`).
///
/// Never writes and never opens the store as a writer: it reads the manifest
/// the way `StateStore.open` does but appends no open record, so inspecting a
/// store that a live process is writing does not fence that process.
package struct StoreInspector: Sendable {
    /// The store being inspected.
    package let objectStore: any ObjectStore

    /// Inspects the store in `objectStore`.
    package init(objectStore: any ObjectStore) {
        self.objectStore = objectStore
    }

    /// Inspects the store in the local directory `path` without creating anything.
    /// - Throws: `FloeError.notAFloeStore` if `path` is missing, not a directory, or
    ///   holds no `manifest/` objects; `FloeError.io` if it cannot be read.
    package static func directory(_ path: String) async throws -> StoreInspector {
        let store: LocalObjectStore
        do {
            store = try LocalObjectStore(root: path, create: false)
        } catch FloeError.notAFloeStore {
            throw FloeError.notAFloeStore("\(path) (missing or not a directory)")
        }
        guard try await !store.list(prefix: "manifest/").isEmpty else {
            throw FloeError.notAFloeStore("\(store.root) (no manifest/ objects)")
        }
        return StoreInspector(objectStore: store)
    }

    /// The current version: the newest checkpoint plus the deltas after it.
    /// - Throws: `FloeError.notAFloeStore` for a store without a manifest,
    ///   `FloeError.corruption` for a damaged or missing manifest object.
    package func currentVersion() async throws -> VersionSummary {
        guard let v = try await ManifestStore(store: objectStore).loadVersion() else {
            throw FloeError.notAFloeStore("no manifest delta or checkpoint")
        }
        return VersionSummary(v)
    }

    /// Every manifest object in sequence order, decoded where possible, plus the
    /// current version. A damaged object is recorded with its error and the
    /// listing goes on past it.
    /// - Throws: errors from listing the store.
    package func manifestHistory() async throws -> ManifestHistory {
        var history = ManifestHistory()
        var named: [(sequence: UInt64, isDelta: Bool, info: ObjectInfo)] = []
        for o in try await objectStore.list(prefix: "manifest/") {
            if let (s, isDelta) = ManifestObjectName.parse(o.path) { named.append((s, isDelta, o)) }
        }
        named.sort { ($0.sequence, $0.isDelta ? 0 : 1) < ($1.sequence, $1.isDelta ? 0 : 1) }

        // The version as of the previous record, when known: for removed bytes and live totals.
        var running: Version? = .empty
        var previous: UInt64 = 0
        for (sequence, isDelta, info) in named {
            if sequence > previous + 1 { history.gaps.append((previous + 1)...(sequence - 1)) }
            if sequence != previous && sequence != previous + 1 { running = nil }
            previous = sequence
            var r = ManifestRecord(sequence: sequence, object: info.path, objectSize: info.size)
            do {
                let bytes = try await objectStore.get(info.path)
                if isDelta {
                    let d = try ManifestCodec.decodeDelta(bytes, object: info.path)
                    describe(d, into: &r, before: running)
                    if d.sequence != sequence {
                        r.error = FloeError.corruption(object: info.path, offset: 0, reason: "delta holds sequence \(d.sequence)").description
                        running = nil
                    } else if let base = running, base.sequence + 1 == sequence {
                        do { running = try base.applying(d, object: info.path, digest: ManifestCodec.digest(bytes)) } catch {
                            r.error = "\(error)"
                            running = nil
                        }
                    } else {
                        running = nil
                    }
                } else {
                    let v = try ManifestCodec.decodeVersion(bytes, object: info.path)
                    r.kind = .checkpoint
                    r.writerID = v.writerID
                    r.committedEpoch = v.committedEpoch
                    r.safeEpoch = v.safeEpoch
                    r.metadataKeys = v.metadata.keys.sorted()
                    if v.sequence != sequence {
                        r.error = FloeError.corruption(object: info.path, offset: 0, reason: "checkpoint holds sequence \(v.sequence)").description
                    } else {
                        running = v
                    }
                }
            } catch {
                r.error = "\(error)"
                if isDelta { running = nil }
            }
            if r.error == nil, let v = running, v.sequence == sequence {
                r.liveSsts = v.allSsts.count
                r.liveBytes = v.allSsts.reduce(0) { $0 + $1.fileSize }
            }
            history.records.append(r)
        }

        do {
            history.current = try await currentVersion()
        } catch {
            history.currentError = "\(error)"
        }
        return history
    }

    private func describe(_ d: VersionDelta, into r: inout ManifestRecord, before: Version?) {
        switch d.kind {
        case .open: r.kind = .open
        case .commit: r.kind = .commit
        case .compaction: r.kind = .compaction
        case .register: r.kind = .register
        case .expire: r.kind = .expire
        case .pin: r.kind = .pin
        case .unpin: r.kind = .unpin
        }
        r.writerID = d.writerID
        r.committedEpoch = d.committedEpoch
        r.safeEpoch = d.safeEpoch
        let added = Array(d.olderSubLevels.joined()) + d.newSubLevel + d.added.map(\.info)
        r.addedCount = added.count
        r.addedBytes = added.reduce(0) { $0 + $1.fileSize }
        r.removedCount = d.removed.count
        if d.removed.isEmpty {
            r.removedBytes = 0
        } else if let v = before, v.sequence + 1 == d.sequence {
            let sizes = Dictionary(v.allSsts.map { ($0.id, $0.fileSize) }, uniquingKeysWith: { a, _ in a })
            r.removedBytes = d.removed.reduce(0) { $0 + (sizes[$1] ?? 0) }
        }
        r.metadataKeys = d.metadata.keys.sorted()
        r.timestampMillis = d.timestampMillis
    }
}
