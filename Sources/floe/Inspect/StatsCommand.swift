import ArgumentParser
import Floe

/// `floe stats PATH`: the shape of a store's current version, its lifetime I/O
/// counters and amplification, and optionally a drawing of the shape.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print the shape, I/O counters and amplification of a store directory.",
        discussion: """
            Never opens the store as a writer, so a live writer is not fenced. The shape and the \
            counters come from the manifest alone. Live bytes (the denominator of space amplification) \
            need a read-only merge of every SST of the current version at the committed epoch: a full \
            scan, skipped with --no-live.

            write amplification = (flush bytes + compaction bytes written) / ingested bytes, where \
            ingested bytes are the uncompressed key and value bytes of every committed epoch.
            space amplification = SST bytes / live bytes, live bytes = sum over live keys of \
            (user key length + value length).
            raw space amplification = stored raw bytes (uncompressed entries in the SSTs, obsolete \
            versions and tombstones included) / live keys measured the same way (13 bytes of key \
            framing per key more than live bytes).
            """)

    @Argument(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Option(help: "Bytes of each metadata value to show.") var valueBytes: Int = 48
    @Flag(help: "Skip the full scan that measures live bytes (no space amplification).") var noLive = false
    @Option(help: ArgumentHelp("Also write an SVG drawing of the LSM shape to this file.", valueName: "file")) var svg: String?

    func run() async throws {
        let inspector = try await InspectFormat.openStore(path)
        let (v, live) = try await measure(inspector)

        var head = FieldList()
        head.append("store", path)
        head.append("committed epoch", "\(v.committedEpoch)")
        head.append("safe epoch", "\(v.safeEpoch)")
        head.append("manifest", "sequence \(v.sequence), writer \(v.writerID)")
        print(head.render())

        var table = TextTable([("run", .left), ("files", .right), ("bytes", .right), ("raw", .right),
                               ("entries", .right), ("tombstones", .right), ("epochs", .left),
                               ("smallest key", .left), ("largest key", .left)])
        func row(_ r: SstRunSummary, indent: Bool = false) -> [String] {
            [(indent ? "  " : "") + r.name, "\(r.fileCount)", InspectFormat.bytes(r.bytes), InspectFormat.bytes(r.rawBytes),
             "\(r.entries)", "\(r.tombstones)", InspectFormat.epochs(r.minEpoch, r.maxEpoch),
             r.smallestKey.map(KeyText.describe) ?? "-", r.largestKey.map(KeyText.describe) ?? "-"]
        }
        if !v.l0.isEmpty { table.append(row(v.l0Total)) }
        for r in v.l0 { table.append(row(r, indent: true)) }
        for r in v.levels { table.append(row(r)) }
        table.append(row(v.total))
        print("\n" + table.render())
        print("\n\(InspectFormat.count(v.l0.count, "L0 sub-level")), \(InspectFormat.count(v.levels.count, "level"))")

        printAmplification(v, live)

        print("\nmetadata (\(InspectFormat.count(v.metadata.count, "key")))")
        var meta = FieldList()
        for k in v.metadata.keys.sorted() {
            let value = v.metadata[k]!
            meta.append(k, KeyText.preview(value, limit: valueBytes) + " (\(InspectFormat.count(value.count, "byte")))")
        }
        if !v.metadata.isEmpty { print(meta.render(indent: "  ")) }

        if let cache = inspector.objectStore as? DiskCachedObjectStore { printDiskCache(cache.statistics) }

        if let svg {
            do { try FileBytes.save(Array(LsmShapeSvg.render(v).utf8), to: svg) } catch { throw InspectFormat.failure(error) }
            print("\nwrote the LSM shape drawing to \(svg)")
        }
    }

    /// The current version and, unless skipped, its live data. A GC running beside
    /// a live writer may delete an SST of the version mid-scan: measure a newer one then.
    private func measure(_ inspector: StoreInspector) async throws -> (VersionSummary, LiveData?) {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let v = try await inspector.currentVersion()
                if noLive { return (v, nil) }
                return (v, try await inspector.liveData(v))
            } catch FloeError.objectNotFound(let object) where attempt < 3 {
                InspectFormat.printError("\(object) vanished during the live-data scan (GC of a newer version); measuring again")
            } catch {
                throw InspectFormat.failure(error)
            }
        }
    }

    /// The local disk cache of a remote store (`cache-dir` in the URL): what this
    /// command's reads did, and what the cache holds as it ends (its entries from
    /// earlier runs included).
    private func printDiskCache(_ d: DiskCacheStatistics) {
        print("\ndisk cache (this command's reads; entries held as it ends)")
        var f = FieldList()
        f.append("entries", "\(d.entries) (\(InspectFormat.bytes(d.bytes)))")
        f.append("hits", "\(d.hits)")
        f.append("misses", "\(d.misses)")
        f.append("evictions", "\(d.evictions)")
        f.append("damaged entries dropped", "\(d.corruptDropped)")
        f.append("failed entry writes", "\(d.writeFailures)")
        print(f.render(indent: "  "))
    }

    private func printAmplification(_ v: VersionSummary, _ live: LiveData?) {
        let c = v.counters
        let amp = LsmAmplification(v, live: live)
        func ratio(_ r: Double?) -> String { r.map { NumberText.fixed($0, digits: 2) } ?? "-" }

        print("\nlifetime counters (from the manifest)")
        var f = FieldList()
        f.append("ingested", "\(InspectFormat.bytes(c.ingestedBytes)) (raw key+value bytes of committed epochs)")
        f.append("commits", "\(c.commits)")
        f.append("flushed", InspectFormat.bytes(c.flushWrittenBytes))
        f.append("compactions", "\(c.compactions): read \(InspectFormat.bytes(c.compactionReadBytes)), "
            + "wrote \(InspectFormat.bytes(c.compactionWrittenBytes)) (trivial moves count as compactions, move no bytes)")
        f.append("write amplification", "\(ratio(amp.write)) ((flushed + compaction written) / ingested)")
        f.append("stall time", "\(NumberText.fixed(Double(c.stallMicros) / 1e6, digits: 3)) s (commits waiting on L0)")
        print(f.render(indent: "  "))

        let total = v.total
        guard let live else {
            print("\nlive data: not measured (--no-live)")
            var g = FieldList()
            g.append("SST bytes", InspectFormat.bytes(total.bytes))
            g.append("stored raw bytes", "\(InspectFormat.bytes(total.rawBytes)) (uncompressed entries in the SSTs)")
            print(g.render(indent: "  "))
            return
        }
        print("\nlive data at epoch \(live.epoch) (merged \(live.entriesScanned) entries of \(InspectFormat.count(total.fileCount, "SST")))")
        var g = FieldList()
        g.append("live keys", "\(live.keys)")
        g.append("live bytes", "\(InspectFormat.bytes(live.bytes)) (user key + value of live keys)")
        g.append("SST bytes", InspectFormat.bytes(total.bytes))
        g.append("space amplification", "\(ratio(amp.space)) (SST bytes / live bytes)")
        g.append("stored raw bytes", "\(InspectFormat.bytes(total.rawBytes)) (uncompressed entries in the SSTs)")
        g.append("live raw bytes", "\(InspectFormat.bytes(live.encodedBytes)) (live keys stored the same way: +13 B each)")
        g.append("raw space amp", "\(ratio(amp.rawSpace)) (stored raw bytes / live raw bytes)")
        print(g.render(indent: "  "))
    }
}
