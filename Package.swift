// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Floe",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Floe", targets: ["Floe"]),
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
        .target(
            name: "Floe",
            dependencies: ["CZstd", "CLZ4", "CXXHash", "CTSan", "CCpuHints"]
        ),
        .executableTarget(
            name: "floe",
            dependencies: [
                "Floe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(name: "FloeTests", dependencies: ["Floe"]),
        // Unit tests of the `floe` tool's own logic (the crash-test oracle).
        .testTarget(name: "FloeCLITests", dependencies: ["floe", "Floe"]),
    ],
    swiftLanguageModes: [.v6]
)
