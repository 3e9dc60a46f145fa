// swift-tools-version:6.1
// Side-by-side comparison of Floe with RocksDB and LevelDB. A package of its own
// so that the root package never links either library.
import PackageDescription

let package = Package(
    name: "FloeCompare",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "floe-compare", targets: ["FloeCompare"]),
    ],
    dependencies: [
        // Named explicitly: a path dependency's identity is otherwise its folder name,
        // which differs between clones and worktrees.
        .package(name: "Floe", path: "../.."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Debian's librocksdb-dev ships rocksdb.pc; libleveldb-dev ships no .pc file.
        .systemLibrary(name: "CRocksDB", pkgConfig: "rocksdb", providers: [.apt(["librocksdb-dev"])]),
        .systemLibrary(name: "CLevelDB", providers: [.apt(["libleveldb-dev"])]),
        .executableTarget(
            name: "FloeCompare",
            dependencies: [
                "CRocksDB", "CLevelDB",
                .product(name: "Floe", package: "Floe"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
