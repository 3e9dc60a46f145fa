// swift-tools-version:6.1
// The obvious way an app calls Floe: gets and `for try await` scans from the main
// actor and from an actor, next to the same loops in a nonisolated function and
// `forEachRow`. A package of its own that depends on Floe by path, as a user's would.
import PackageDescription

let package = Package(
    name: "ActorCalls",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Floe", path: "../..")],
    targets: [.executableTarget(name: "actor-calls", dependencies: [.product(name: "Floe", package: "Floe")])],
    swiftLanguageModes: [.v6]
)
