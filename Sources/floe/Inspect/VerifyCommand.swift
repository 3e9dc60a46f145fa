import ArgumentParser
import Floe

/// `floe verify PATH`: the read-only full check of `StoreVerifier.verify`.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a whole store directory: manifest, every referenced SST, and the version's shape.",
        discussion: """
            Read-only. Checks every manifest checksum, that every referenced SST exists with the \
            manifest's size and passes `floe sst verify` and matches its manifest record, that \
            sub-levels and levels are sorted and non-overlapping, that no SST holds an epoch above \
            the committed one and that no SST is referenced twice. Unreferenced objects under data/ \
            are warnings. Prints every problem found and exits 1 if there is any.
            """)

    @Argument(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Flag(help: "Do not list warnings one by one.") var quietWarnings = false

    func run() async throws {
        let inspector = try await InspectFormat.openStore(path)
        let report: VerifyReport
        do { report = try await StoreVerifier.verify(objectStore: inspector.objectStore) } catch { throw InspectFormat.failure(error) }

        var f = FieldList()
        f.append("store", path)
        f.append("manifest", "\(InspectFormat.count(report.manifestObjects, "object")) read"
            + (report.manifestSequence.map { ", sequence \($0)" } ?? ", current version did not load"))
        if let e = report.committedEpoch { f.append("committed epoch", "\(e)") }
        let passed = "\(report.entries) entries in \(InspectFormat.count(report.blocks, "block"))"
        if report.manifestSequence != nil {
            f.append("SSTs", "\(report.sstCount) referenced (\(InspectFormat.bytes(report.sstBytes))), "
                + "\(report.sstsVerified) verified: \(passed)")
            f.append("orphans", report.orphanCount == 0 ? "none"
                : "\(InspectFormat.count(report.orphanCount, "object")) (\(InspectFormat.bytes(report.orphanBytes))) under data/ not referenced")
        } else {
            f.append("SSTs", "not cross-checked; \(report.sstsVerified) of \(InspectFormat.count(report.sstsChecked, "object")) "
                + "under data/ pass on their own: \(passed)")
        }
        print(f.render())

        if !report.warnings.isEmpty && !quietWarnings {
            print("\nwarnings")
            for w in report.warnings { print("  \(w)") }
        }
        if !report.problems.isEmpty {
            print("\nproblems")
            for p in report.problems { print("  \(p)") }
        }
        let warnings = InspectFormat.count(report.warnings.count, "warning")
        if report.isClean {
            print("\nOK: no problems, \(warnings)")
        } else {
            print("\nFAILED: \(InspectFormat.count(report.problems.count, "problem")), \(warnings)")
            throw ExitCode(1)
        }
    }
}
