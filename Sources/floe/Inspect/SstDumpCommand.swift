import ArgumentParser
import Floe

/// `floe sst dump FILE`: footer, properties, filter, index and the first entries of an SST.
struct SstDumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the footer, properties, filter, index and first entries of an SST file.")

    @Argument(help: "Path of an .sst file.") var file: String
    @Option(help: "Entries to print (0 for none).") var limit: Int = 20
    @Flag(help: "List every data block (decodes each one).") var blocks = false
    @Option(help: "Bytes of each value to show.") var valueBytes: Int = 48

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        guard valueBytes >= 0 else { throw ValidationError("--value-bytes must not be negative") }
    }

    func run() async throws {
        let bytes: [UInt8]
        let sst: SstInspector
        do {
            bytes = try FileBytes.contents(of: file)
            sst = try SstInspector(bytes: bytes, object: file)
        } catch {
            throw InspectFormat.failure(error)
        }
        let s = sst.summary, f = s.footer, p = s.properties
        var failed = false

        var head = FieldList()
        head.append("file", "\(file) (\(bytes.count) bytes, \(InspectFormat.bytes(bytes.count)))")
        head.append("format", "version \(f.formatVersion), \(f.size)-byte footer at \(bytes.count - f.size)")
        print(head.render())

        print("\nfooter")
        var handles = TextTable([("block", .left), ("offset", .right), ("size", .right)])
        handles.append(["data", "0", "\(f.filterOffset)"])
        handles.append(["filter", "\(f.filterOffset)", "\(f.filterSize)"])
        handles.append(["index", "\(f.indexOffset)", "\(f.indexSize)"])
        handles.append(["properties", "\(f.propertiesOffset)", "\(f.propertiesSize)"])
        print(handles.render(indent: "  "))

        print("\nproperties")
        var props = FieldList()
        props.append("entries", "\(p.entryCount)")
        props.append("tombstones", "\(p.tombstoneCount)")
        props.append("distinct keys", "\(p.distinctUserKeys)")
        props.append("data blocks", "\(p.dataBlockCount)")
        props.append("epochs", InspectFormat.epochs(p.minEpoch, p.maxEpoch))
        props.append("smallest key", KeyText.describe(p.smallestKey))
        props.append("largest key", KeyText.describe(p.largestKey))
        props.append("compression", "\(p.compression)")
        let raw = p.rawKeyBytes + p.rawValueBytes
        props.append("raw bytes", "\(raw) (keys \(p.rawKeyBytes), values \(p.rawValueBytes)); stored data \(f.filterOffset)"
            + (raw > 0 ? " = " + fmt(Double(f.filterOffset) * 100 / Double(raw), 1) + "%" : ""))
        print(props.render(indent: "  "))

        print("\nfilter")
        if let filter = s.filter {
            let perKey = p.distinctUserKeys > 0 ? ", " + fmt(Double(filter.bitCount) / Double(p.distinctUserKeys), 1) + " bits/key" : ""
            let layout = filter.partitionBlocks.map { "partitioned, 512-bit blocks, \($0) per partition" } ?? (filter.blocked ? "blocked, 512-bit blocks" : "standard")
            print("  bloom (\(layout)), k = \(filter.hashCount), \(filter.bitCount) bits (\(filter.bitCount / 8) bytes)\(perKey)")
        } else {
            print("  none")
        }

        print("\nindex")
        print("  \(InspectFormat.count(s.blocks.count, "data block"))")
        if blocks {
            var table = TextTable([("#", .right), ("offset", .right), ("size", .right), ("stored", .left),
                                   ("payload", .right), ("entries", .right), ("restarts", .right),
                                   ("first key", .left), ("last key", .left)])
            var errors: [String] = []
            for (i, h) in s.blocks.enumerated() {
                do {
                    let d = try sst.blockDetail(i)
                    table.append(["\(i)", "\(h.offset)", "\(h.size)", "\(d.compression)", "\(d.payloadSize)",
                                  "\(d.entryCount)", "\(d.restartCount)", KeyText.describe(d.firstKey), KeyText.describe(d.lastKey)])
                } catch {
                    failed = true
                    table.append(["\(i)", "\(h.offset)", "\(h.size)", "ERROR", "-", "-", "-", "-", KeyText.describe(h.lastKey)])
                    errors.append("block \(i): \(error)")
                }
            }
            print(table.render(indent: "  "))
            for e in errors { print("  \(e)") }
        }

        if limit > 0 {
            var rows: [(key: String, op: String, value: String)] = []
            var errors: [String] = []
            for i in 0..<sst.blockCount where rows.count < limit {
                do {
                    for e in try sst.entries(block: i).prefix(limit - rows.count) {
                        rows.append((KeyText.describe(e.key), e.isTombstone ? "DEL" : "PUT",
                                     e.isTombstone ? "" : KeyText.preview(e.value, limit: valueBytes)))
                    }
                } catch {
                    failed = true
                    errors.append("block \(i): \(error)")
                }
            }
            let total = p.entryCount
            print("\nentries (first \(rows.count) of \(total))")
            let width = rows.map(\.key.count).max() ?? 0
            for r in rows {
                let line = "  " + r.key + String(repeating: " ", count: width - r.key.count) + "  " + r.op + (r.value.isEmpty ? "" : " " + r.value)
                print(line)
            }
            for e in errors { print("  ERROR \(e)") }
        }
        if failed { throw ExitCode(1) }
    }
}
