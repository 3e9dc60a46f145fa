// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Floe",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Floe", targets: ["Floe"]),
        .library(name: "FloeDataflow", targets: ["FloeDataflow"]),
        .library(name: "FloeS3", targets: ["FloeS3"]),
        // Crash-testing kit for engines that embed Floe (docs/testing.md).
        .library(name: "FloeTesting", targets: ["FloeTesting"]),
        .executable(name: "floe", targets: ["floe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        // Observability and lifecycle (docs/observability.md): what each adds to a clean build
        // is measured there.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The /metrics endpoint of the CLI: a small NIO HTTP/1 handler (Hummingbird cost more
        // to build than the rest of the package's dependencies together; docs/observability.md).
        .package(url: "https://github.com/apple/swift-nio", .upToNextMinor(from: "2.101.2")),
        // FloeS3: HTTP transport and SigV4 signing.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // `swift package generate-documentation` (docs/testing.md).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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
            dependencies: [
                "CZstd", "CLZ4", "CXXHash", "CTSan", "CCpuHints",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Barrier-checkpointed streaming over the store: sources, operators, views, sinks.
        .target(name: "FloeDataflow", dependencies: [
            "Floe", "CXXHash", "CSQLite",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Fault injection, simulated power loss and the crash-test oracle: test
        // machinery kept out of the shipped `Floe` library (docs/testing.md).
        .target(name: "FloeTesting", dependencies: ["Floe"]),
        // The object store on S3-compatible storage (docs/s3.md).
        .target(
            name: "FloeS3",
            dependencies: [
                "Floe",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "floe",
            dependencies: [
                "Floe",
                "FloeDataflow",
                "FloeS3",
                "FloeTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "FloeTests", dependencies: [
            "Floe", "FloeTesting",
            .product(name: "InMemoryLogging", package: "swift-log"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "FloeDataflowTests", dependencies: [
            "FloeDataflow", "Floe", "FloeTesting",
            .product(name: "InMemoryLogging", package: "swift-log"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
        ]),
        // Against moto's S3 server, which the tests start themselves (docs/s3.md).
        .testTarget(
            name: "FloeS3Tests",
            dependencies: ["FloeS3", "Floe", "FloeTesting"],
            resources: [.copy("Resources")]
        ),
        // Unit tests of the `floe` tool's own logic (the crash-test oracle).
        .testTarget(name: "FloeCLITests", dependencies: ["floe", "Floe", "FloeDataflow", "FloeTesting"]),
        // The crash-testing kit: the oracle's own tests and the embedding example.
        .testTarget(name: "FloeTestingTests", dependencies: ["FloeTesting", "Floe"]),
    ],
    swiftLanguageModes: [.v6]
)
