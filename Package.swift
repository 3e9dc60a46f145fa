// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Floe",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Floe", targets: ["Floe"]),
        .library(name: "FloeDataflow", targets: ["FloeDataflow"]),
        .executable(name: "floe", targets: ["floe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        // ThreadSanitizer annotations, header only: see Sources/Floe/Util/Lock.swift.
        .systemLibrary(name: "CTSan"),
        // Cache prefetch and the current CPU, header only: see Sources/Floe/Memtable/MemtableFlush.swift
        // and Sources/Floe/Store/PublishedVersion.swift.
        .systemLibrary(name: "CCpuHints"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "Floe",
            dependencies: ["CZstd", "CLZ4", "CXXHash", "CTSan", "CCpuHints"]
        ),
        // Barrier-checkpointed streaming over the store: sources, operators, views, sinks.
        .target(name: "FloeDataflow", dependencies: ["Floe", "CXXHash", "CSQLite"]),
        .executableTarget(
            name: "floe",
            dependencies: [
                "Floe",
                "FloeDataflow",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(name: "FloeTests", dependencies: ["Floe"]),
        .testTarget(name: "FloeDataflowTests", dependencies: ["FloeDataflow", "Floe"]),
        // Unit tests of the `floe` tool's own logic (the crash-test oracle).
        .testTarget(name: "FloeCLITests", dependencies: ["floe", "Floe", "FloeDataflow"]),
    ],
    swiftLanguageModes: [.v6]
)
