import ArgumentParser
import Floe
import FloeS3

/// `floe checkpoint create|list|delete|restore`: named checkpoints of a store
/// directory. None of them opens the store as its writer, so a live writer (a
/// running pipeline) is not fenced: records are appended beside it.
struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Create, list, delete and restore named checkpoints of a store.",
        discussion: """
            A named checkpoint pins a committed version: GC keeps its SST files until it is \
            deleted, so it can be read (`floe view dump --checkpoint`, `StateStore.openReadOnly(path:checkpoint:)`) \
            or cloned into a new store long after compaction moved on. Names: 1 to 128 characters of \
            A-Z a-z 0-9 . _ - (not starting with a dot).
            """,
        subcommands: [Create.self, List.self, Delete.self, Restore.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin the store's committed version under a name.")
        @Argument(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
        @Argument(help: "Checkpoint name.") var name: String

        func run() async throws {
            do {
                let c = try await StateStore.createCheckpoint(objectStore: FloeStoreURL.objectStore(for: path, create: false), name: name)
                print("created checkpoint \(c.name) at epoch \(c.epoch): \(InspectFormat.count(c.sstCount, "SST")), \(InspectFormat.bytes(c.bytes))")
            } catch {
                throw InspectFormat.failure(error)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the named checkpoints.")
        @Argument(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String

        func run() async throws {
            let list: [CheckpointInfo]
            do { list = try await StateStore.checkpoints(objectStore: FloeStoreURL.objectStore(for: path, create: false)) } catch {
                throw InspectFormat.failure(error)
            }
            guard !list.isEmpty else {
                print("no named checkpoints")
                return
            }
            var table = TextTable([("name", .left), ("epoch", .right), ("SSTs", .right), ("bytes", .right), ("created (UTC)", .left)])
            for c in list {
                table.append([c.name, "\(c.epoch)", "\(c.sstCount)", InspectFormat.bytes(c.bytes), InspectFormat.timestamp(millis: c.createdMillis)])
            }
            print(table.render())
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a named checkpoint (GC then frees the files only it kept).")
        @Argument(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
        @Argument(help: "Checkpoint name.") var name: String

        func run() async throws {
            do {
                try await StateStore.deleteCheckpoint(objectStore: FloeStoreURL.objectStore(for: path, create: false), name: name)
                print("deleted checkpoint \(name)")
            } catch {
                throw InspectFormat.failure(error)
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clone a named checkpoint into a new store directory.",
            discussion: "SST files are hard-linked (copied across file systems); the new store is independent and opens at the checkpoint's epoch.")
        @Argument(help: "Store directory (local stores only: SSTs are hard-linked).") var path: String
        @Argument(help: "Checkpoint name.") var name: String
        @Option(help: "The new store's directory (absent or empty).") var to: String

        func run() async throws {
            do {
                let r = try await StateStore.restoreCheckpoint(name: name, from: path, to: to)
                print("restored checkpoint \(name) into \(to): \(InspectFormat.count(r.files, "SST")), \(InspectFormat.bytes(r.bytes))")
            } catch {
                throw InspectFormat.failure(error)
            }
        }
    }
}
