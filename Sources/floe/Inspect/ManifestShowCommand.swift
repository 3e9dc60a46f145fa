import ArgumentParser
import Floe

/// `floe manifest show PATH`: every checkpoint and delta in sequence, then the current version.
struct ManifestShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "List the manifest checkpoints and deltas of a store directory, then the current version.",
        discussion: """
            Read-only: the store is not opened as a writer, so a live writer is not fenced. \
            A damaged manifest object is listed with its error and the listing goes on; \
            the exit code is then 1.
            """)

    @Argument(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let inspector = try await InspectFormat.openStore(path)
        let history: ManifestHistory
        do { history = try await inspector.manifestHistory() } catch { throw InspectFormat.failure(error) }
        if json {
            print(document(history).render())
        } else {
            printTable(history)
        }
        if !history.isClean { throw ExitCode(1) }
    }

    // MARK: text

    private func printTable(_ h: ManifestHistory) {
        print("manifest of \(path): \(InspectFormat.count(h.records.count, "object"))\n")
        var table = TextTable([("seq", .right), ("kind", .left), ("writer", .right), ("epoch", .right),
                               ("added", .left), ("removed", .left), ("live", .left),
                               ("written (UTC)", .left), ("metadata keys", .left)])
        var errors: [String] = []
        for r in h.records {
            guard r.error == nil, let kind = r.kind else {
                table.append(["\(r.sequence)", "ERROR", "-", "-", "-", "-", "-", "-", "-"])
                errors.append(r.error ?? "\(r.object): unreadable")
                continue
            }
            let isCheckpoint = kind == .checkpoint
            table.append([
                "\(r.sequence)", kind.rawValue, "\(r.writerID)", "\(r.committedEpoch)",
                isCheckpoint || r.addedCount == 0 ? "-" : ssts(r.addedCount, r.addedBytes),
                r.removedCount == 0 ? "-" : ssts(r.removedCount, r.removedBytes),
                r.liveSsts.map { ssts($0, r.liveBytes) } ?? "?",
                r.timestampMillis.map { InspectFormat.timestamp(millis: $0) } ?? "-",
                r.metadataKeys.isEmpty ? "-" : r.metadataKeys.joined(separator: ", "),
            ])
        }
        print(table.render())
        if !errors.isEmpty {
            print("\ndamaged objects:")
            for e in errors { print("  \(e)") }
        }
        for g in h.gaps {
            print("\nno manifest object for sequence\(g.count > 1 ? "s \(g.lowerBound)...\(g.upperBound)" : " \(g.lowerBound)")")
        }

        print("\ncurrent version")
        if let v = h.current {
            let total = v.total
            var f = FieldList()
            f.append("sequence", "\(v.sequence)")
            f.append("writer", "\(v.writerID)")
            f.append("committed epoch", "\(v.committedEpoch)")
            f.append("safe epoch", "\(v.safeEpoch)")
            let levels = v.levels.isEmpty ? "" : " (" + v.levels.map { "\($0.name): \($0.fileCount)" }.joined(separator: ", ") + ")"
            f.append("shape", "\(InspectFormat.count(v.l0.count, "L0 sub-level")), \(InspectFormat.count(v.levels.count, "level"))" + levels)
            f.append("SSTs", ssts(total.fileCount, total.bytes))
            f.append("metadata keys", v.metadata.isEmpty ? "-" : v.metadata.keys.sorted().joined(separator: ", "))
            f.append("table watermarks", v.watermarks.isEmpty ? "-" : v.watermarks.map {
                "table \($0.tableRaw) from epoch \($0.epoch): below \(KeyText.printable($0.key))" + ($0.prefixLength > 0 ? " after \($0.prefixLength) prefix bytes" : "")
            }.joined(separator: "; "))
            f.append("named checkpoints", v.checkpoints.isEmpty ? "-" : v.checkpoints.map { "\($0.name) (epoch \($0.epoch))" }.joined(separator: ", "))
            print(f.render(indent: "  "))
        } else {
            print("  ERROR \(h.currentError ?? "did not load")")
        }
    }

    private func ssts(_ n: Int, _ bytes: UInt64?) -> String {
        InspectFormat.count(n, "SST") + ", " + (bytes.map { InspectFormat.bytes($0) } ?? "? B")
    }

    // MARK: JSON

    private func document(_ h: ManifestHistory) -> JSONValue {
        let records: [JSONValue] = h.records.map { r in
            var fields: [(String, JSONValue)] = [
                ("sequence", .uint(r.sequence)),
                ("object", .string(r.object)),
                ("objectBytes", .int(Int64(r.objectSize))),
                ("kind", r.kind.map { .string($0.rawValue) } ?? .null),
            ]
            if let e = r.error {
                fields.append(("error", .string(e)))
                return .object(fields)
            }
            fields += [
                ("writer", .uint(r.writerID)),
                ("committedEpoch", .uint(r.committedEpoch)),
                ("safeEpoch", .uint(r.safeEpoch)),
            ]
            if r.kind != .checkpoint {
                fields += [
                    ("added", .object([("ssts", .int(Int64(r.addedCount))), ("bytes", .uint(r.addedBytes))])),
                    ("removed", .object([("ssts", .int(Int64(r.removedCount))), ("bytes", r.removedBytes.map { .uint($0) } ?? .null)])),
                    ("timestampMillis", r.timestampMillis.map { .uint($0) } ?? .null),
                ]
            }
            fields += [
                ("live", r.liveSsts.map { n in .object([("ssts", .int(Int64(n))), ("bytes", r.liveBytes.map { .uint($0) } ?? .null)]) } ?? .null),
                ("metadataKeys", .array(r.metadataKeys.map { .string($0) })),
            ]
            return .object(fields)
        }
        var top: [(String, JSONValue)] = [
            ("path", .string(path)),
            ("records", .array(records)),
            ("gaps", .array(h.gaps.map { .object([("from", .uint($0.lowerBound)), ("to", .uint($0.upperBound))]) })),
        ]
        if let v = h.current {
            let total = v.total
            top.append(("current", .object([
                ("sequence", .uint(v.sequence)),
                ("writer", .uint(v.writerID)),
                ("committedEpoch", .uint(v.committedEpoch)),
                ("safeEpoch", .uint(v.safeEpoch)),
                ("l0SubLevels", .int(Int64(v.l0.count))),
                ("levelFileCounts", .array(v.levels.map { .int(Int64($0.fileCount)) })),
                ("ssts", .int(Int64(total.fileCount))),
                ("bytes", .uint(total.bytes)),
                ("metadataKeys", .array(v.metadata.keys.sorted().map { .string($0) })),
                ("namedCheckpoints", .array(v.checkpoints.map { c in
                    .object([("name", .string(c.name)), ("epoch", .uint(c.epoch)), ("ssts", .int(Int64(c.sstCount))), ("bytes", .uint(c.bytes))])
                })),
                ("tableWatermarks", .array(v.watermarks.map { w in
                    .object([("table", .uint(UInt64(w.tableRaw))), ("epoch", .uint(w.epoch)),
                             ("prefixLength", .int(Int64(w.prefixLength))), ("key", .string(KeyText.printable(w.key)))])
                })),
            ])))
        } else {
            top.append(("current", .null))
            top.append(("currentError", .string(h.currentError ?? "did not load")))
        }
        return .object(top)
    }
}
