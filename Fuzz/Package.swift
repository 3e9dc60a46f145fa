// swift-tools-version:6.1
// libFuzzer targets for Floe's decoders. Build and run with Fuzz/run.sh; the
// root package never builds these.
import PackageDescription

let package = Package(
    name: "FloeFuzz",
    dependencies: [.package(name: "Floe", path: "..")],
    targets: [
        // Built by run.sh with -sanitize=fuzzer,address for every module (Floe too, so
        // coverage reaches the decoders). Each main calls LLVMFuzzerRunDriver.
        .executableTarget(name: "FuzzBlock", dependencies: [.product(name: "Floe", package: "Floe")]),
        .executableTarget(name: "FuzzSst", dependencies: [.product(name: "Floe", package: "Floe")]),
        .executableTarget(name: "FuzzManifest", dependencies: [.product(name: "Floe", package: "Floe")]),
    ],
    swiftLanguageModes: [.v6]
)
