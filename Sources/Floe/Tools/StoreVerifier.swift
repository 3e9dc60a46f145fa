/// Read-only, full consistency check of a store, shared by `floe verify`, the
/// store's tests and the crash-test harness.
///
/// It never writes: it lists objects, reads the manifest the way `StateStore.open`
/// does (without appending an open record, so a live writer is not fenced) and
/// reads every referenced SST whole. It reports every problem it finds rather
/// than stopping at the first.
package enum StoreVerifier {
    /// Checks the store in `objectStore`:
    /// - every manifest object (delta and checkpoint) passes its checksum and decodes,
    ///   its name matches its sequence, and each checkpoint agrees with the deltas
    ///   replayed up to it (when they are present);
    /// - the current version loads as `StateStore.open` would load it;
    /// - no SST id is referenced twice; every L0 sub-level and level is sorted and
    ///   non-overlapping by user key; no SST holds an epoch above the committed epoch;
    /// - every referenced SST object exists with the manifest's size, passes
    ///   `verifySst`, and its properties match the manifest's `SstInfo`.
    ///
    /// Objects under `data/` that the version does not reference (orphans of crashed
    /// uploads, or files awaiting GC) and objects outside `data/` and `manifest/` are
    /// warnings, not problems. When the current version does not load, every object
    /// under `data/` is still checked with `verifySst` on its own (`sstCount` stays 0).
    ///
    /// - Throws: `FloeError.notAFloeStore` when the store has no manifest object, and
    ///   errors from listing the store. Every other failure is recorded in the report.
    package static func verify(objectStore: any ObjectStore) async throws -> VerifyReport {
        var report = VerifyReport()
        let all = try await objectStore.list(prefix: "")
        let manifestObjects = all.filter { $0.path.hasPrefix("manifest/") }
        guard !manifestObjects.isEmpty else {
            throw FloeError.notAFloeStore(all.isEmpty ? "the store is empty (no manifest/)"
                                                      : "no manifest/ objects among \(all.count) objects")
        }
        await checkManifestObjects(manifestObjects, objectStore, &report)

        let version: Version
        do {
            guard let v = try await ManifestStore(store: objectStore).loadVersion() else {
                throw FloeError.notAFloeStore("no manifest delta or checkpoint")
            }
            version = v
        } catch {
            report.addProblem(VerifyIssue(error, object: nil))
            // Without a version nothing can be cross-checked, but each SST can still be checked alone.
            for o in all where o.path.hasPrefix("data/") {
                report.sstsChecked += 1
                do {
                    let s = try verifySst(bytes: try await objectStore.get(o.path), object: o.path)
                    report.sstsVerified += 1
                    report.entries += s.properties.entryCount
                    report.blocks += s.blocks.count
                } catch {
                    report.addProblem(VerifyIssue(error, object: o.path))
                }
            }
            return report
        }
        report.manifestSequence = version.sequence
        report.committedEpoch = version.committedEpoch

        let referenced = checkShape(version, &report)
        let objects = Dictionary(all.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for (info, run) in referenced {
            await checkSst(info, run: run, objects: objects, objectStore, &report)
        }

        let referencedPaths = Set(referenced.map(\.info.path))
        // Files only a named checkpoint still references are kept on purpose, not orphans.
        let pinned = Set(version.namedCheckpoints.flatMap(\.ssts))
        let sideObjects = ["leases/", "readers/", "checkpoints/"]
        for o in all where !o.path.hasPrefix("manifest/") && !referencedPaths.contains(o.path) {
            if let id = ObjectGC.sstID(o.path), pinned.contains(id) { continue }
            if sideObjects.contains(where: { o.path.hasPrefix($0) }) { continue }
            if o.path.hasPrefix("data/") {
                report.orphanCount += 1
                report.orphanBytes += UInt64(o.size)
                report.warnings.append(VerifyIssue(object: o.path, message: "orphan: \(o.size) bytes not referenced by the current version"))
            } else {
                report.warnings.append(VerifyIssue(object: o.path, message: "unexpected object outside data/ and manifest/"))
            }
        }
        return report
    }

    // MARK: manifest

    /// Decodes every manifest object and cross-checks checkpoints against replayed deltas.
    private static func checkManifestObjects(_ objects: [ObjectInfo], _ store: any ObjectStore, _ report: inout VerifyReport) async {
        var deltas: [UInt64: (VersionDelta, UInt64)] = [:]
        var checkpoints: [UInt64: Version] = [:]
        var sequences = Set<UInt64>()
        for o in objects {
            guard let (sequence, isDelta) = ManifestObjectName.parse(o.path) else {
                report.warnings.append(VerifyIssue(object: o.path, message: "not a manifest delta or checkpoint name"))
                continue
            }
            sequences.insert(sequence)
            do {
                let bytes = try await store.get(o.path)
                report.manifestObjects += 1
                if isDelta {
                    let d = try ManifestCodec.decodeDelta(bytes, object: o.path)
                    guard d.sequence == sequence else {
                        throw FloeError.corruption(object: o.path, offset: 0, reason: "delta holds sequence \(d.sequence)")
                    }
                    deltas[sequence] = (d, ManifestCodec.digest(bytes))
                } else {
                    let v = try ManifestCodec.decodeVersion(bytes, object: o.path)
                    guard v.sequence == sequence else {
                        throw FloeError.corruption(object: o.path, offset: 0, reason: "checkpoint holds sequence \(v.sequence)")
                    }
                    checkpoints[sequence] = v
                }
            } catch {
                report.addProblem(VerifyIssue(error, object: o.path))
            }
        }
        // Replay deltas from the start (or from a checkpoint after a gap) and compare at each checkpoint.
        var running: Version? = .empty
        var previous: UInt64 = 0
        for s in sequences.sorted() {
            if s != previous + 1 { running = nil }
            previous = s
            let deltaPath = VersionDelta.objectPath(s)
            if let (d, digest) = deltas[s] {
                if let r = running {
                    do { running = try r.applying(d, object: deltaPath, digest: digest) } catch {
                        report.addProblem(VerifyIssue(error, object: deltaPath))
                        running = nil
                    }
                }
            } else {
                running = nil
            }
            if let c = checkpoints[s] {
                if let r = running, let difference = difference(replayed: r, checkpoint: c) {
                    report.addProblem(VerifyIssue(object: ManifestStore.checkpointPath(s), offset: 0,
                                                  message: "checkpoint disagrees with the deltas replayed up to it: \(difference)"))
                }
                running = c
            }
        }
    }

    private static func difference(replayed r: Version, checkpoint c: Version) -> String? {
        if r.committedEpoch != c.committedEpoch { return "committed epoch \(c.committedEpoch), replay gives \(r.committedEpoch)" }
        if r.writerID != c.writerID { return "writer \(c.writerID), replay gives \(r.writerID)" }
        if r.safeEpoch != c.safeEpoch { return "safe epoch \(c.safeEpoch), replay gives \(r.safeEpoch)" }
        if r.l0 != c.l0 { return "L0 differs (\(c.l0.count) sub-levels, replay gives \(r.l0.count))" }
        if r.levels != c.levels { return "levels differ" }
        if r.metadata != c.metadata { return "metadata differs" }
        if r.watermarks != c.watermarks { return "table watermarks differ (\(c.watermarks.count), replay gives \(r.watermarks.count))" }
        // Format 1 checkpoints carry none of these (0 / empty).
        if c.headDigest != 0 && r.headDigest != c.headDigest { return "head digest differs: the checkpoint follows another delta \(r.sequence)" }
        if c.headDigest != 0 && r.lastCommit != c.lastCommit { return "last commit identity differs" }
        if c.headDigest != 0 && r.compactors != c.compactors { return "compactor sessions \(c.compactors), replay gives \(r.compactors)" }
        return nil
    }

    // MARK: version shape

    /// Checks ids, run order and epochs; returns each distinct referenced SST with the run naming it.
    private static func checkShape(_ v: Version, _ report: inout VerifyReport) -> [(info: SstInfo, run: String)] {
        var runs: [(name: String, ssts: [SstInfo])] = []
        for (i, sub) in v.l0.enumerated() { runs.append((SstRunSummary.name(l0SubLevel: i), sub)) }
        for (i, level) in v.levels.enumerated() { runs.append((SstRunSummary.name(level: i + 1), level)) }
        var seen: [UInt64: String] = [:]
        var out: [(info: SstInfo, run: String)] = []
        for (name, ssts) in runs {
            if ssts.isEmpty && name.hasPrefix("L0") {
                report.addProblem(VerifyIssue(object: nil, message: "\(name) is empty"))
            }
            for (j, info) in ssts.enumerated() {
                report.sstCount += 1
                report.sstBytes += info.fileSize
                if let other = seen[info.id] {
                    report.addProblem(VerifyIssue(object: info.path, message: "referenced twice: in \(other) and in \(name)"))
                    continue
                }
                seen[info.id] = name
                out.append((info, name))
                if info.maxEpoch > v.committedEpoch {
                    report.addProblem(VerifyIssue(object: info.path,
                                                  message: "\(name): max epoch \(info.maxEpoch) is above the committed epoch \(v.committedEpoch)"))
                }
                if j > 0 {
                    let prev = ssts[j - 1]
                    let c = prev.largestKey.withUnsafeBytes { a in
                        info.smallestKey.withUnsafeBytes { b in FullKey.compareBytes(FullKey.prefix(a), FullKey.prefix(b)) }
                    }
                    if c >= 0 {
                        report.addProblem(VerifyIssue(
                            object: info.path,
                            message: "\(name) is not sorted and non-overlapping: starts at \(KeyText.describe(info.smallestKey)), "
                                + "but \(prev.path) before it ends at \(KeyText.describe(prev.largestKey))"))
                    }
                }
            }
        }
        return out
    }

    // MARK: SSTs

    private static func checkSst(_ info: SstInfo, run: String, objects: [String: ObjectInfo],
                                 _ store: any ObjectStore, _ report: inout VerifyReport) async {
        let path = info.path
        let size: Int
        if let listed = objects[path] {
            size = listed.size
        } else {
            // Not in the listing taken before the manifest was read: a live writer may have added it since.
            do {
                size = try await store.size(path)
            } catch FloeError.objectNotFound {
                report.addProblem(VerifyIssue(object: path, message: "referenced by \(run) but the object is missing"))
                return
            } catch {
                report.addProblem(VerifyIssue(error, object: path))
                return
            }
        }
        if UInt64(size) != info.fileSize {
            report.addProblem(VerifyIssue(object: path, message: "manifest says \(info.fileSize) bytes, the object has \(size)"))
        }
        let summary: SstSummary
        report.sstsChecked += 1
        do {
            summary = try verifySst(bytes: try await store.get(path), object: path)
        } catch {
            report.addProblem(VerifyIssue(error, object: path))
            return
        }
        let p = summary.properties
        var mismatches: [String] = []
        func check<T: Equatable>(_ what: String, _ manifest: T, _ sst: T, _ show: (T) -> String) {
            if manifest != sst { mismatches.append("\(what): manifest \(show(manifest)), SST \(show(sst))") }
        }
        check("smallest key", info.smallestKey, p.smallestKey, KeyText.describe)
        check("largest key", info.largestKey, p.largestKey, KeyText.describe)
        check("min epoch", info.minEpoch, p.minEpoch) { "\($0)" }
        check("max epoch", info.maxEpoch, p.maxEpoch) { "\($0)" }
        check("entry count", info.entryCount, p.entryCount) { "\($0)" }
        check("tombstone count", info.tombstoneCount, p.tombstoneCount) { "\($0)" }
        check("raw bytes", info.rawBytes, p.rawKeyBytes + p.rawValueBytes) { "\($0)" }
        for m in mismatches {
            report.addProblem(VerifyIssue(object: path, offset: summary.footer.propertiesOffset,
                                          message: "properties do not match the manifest's SST info: \(m)"))
        }
        if mismatches.isEmpty && UInt64(size) == info.fileSize {
            report.sstsVerified += 1
            report.entries += p.entryCount
            report.blocks += summary.blocks.count
        }
    }
}

extension VerifyReport {
    /// Appends a problem unless the same finding is already recorded.
    mutating func addProblem(_ issue: VerifyIssue) {
        if !problems.contains(issue) { problems.append(issue) }
    }
}
