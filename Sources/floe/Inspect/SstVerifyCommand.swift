import ArgumentParser
import Floe

/// `floe sst verify FILE`: every check `StoreVerifier.verifySst` makes.
struct SstVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an SST file: footer, checksums, block structure, index, key order, properties and filter.",
        discussion: "Prints \"OK: <n> entries in <b> blocks\" and exits 0, or prints the first problem and exits 1.")

    @Argument(help: "Path of an .sst file.") var file: String

    func run() async throws {
        let bytes: [UInt8]
        do { bytes = try FileBytes.contents(of: file) } catch { throw InspectFormat.failure(error) }
        do {
            let s = try StoreVerifier.verifySst(bytes: bytes, object: file)
            print("OK: \(s.properties.entryCount) entries in \(InspectFormat.count(s.blocks.count, "block"))")
        } catch {
            print("FAILED: \(error)")
            throw ExitCode(1)
        }
    }
}
