// swift-tools-version:6.1
import PackageDescription

// Micro-benchmarks of Floe internals with package-benchmark. A package of its own
// so the library never depends on package-benchmark. Run: swift package benchmark
let package = Package(
    name: "FloeMicroBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Floe", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "FloeMicro",
            dependencies: [
                .product(name: "Floe", package: "Floe"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/FloeMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
