// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for klfs's parsers, kept out of the main package so
// that its build, its tests and CI never compile them. Build and run with
// fuzz/run (docs/FUZZING.md).
//
// SwiftPM links an executable's main() itself (renamed from the module's
// top-level code), so libFuzzer's own main() never runs: each target's
// main.swift hands its LLVMFuzzerTestOneInput to LLVMFuzzerRunDriver.

let package = Package(
    name: "klfs-fuzz",
    dependencies: [
        .package(name: "klfs", path: ".."),
    ],
    targets: [
        // klfs.conf bytes -> VolumeConfig.parse and the unlock checks.
        .executableTarget(
            name: "FuzzConfig",
            dependencies: ["CFuzzDriver", .product(name: "KLBlock", package: "klfs")]
        ),
        // Backing file bytes -> CipherFileHeader, the layout arithmetic,
        // and CipherFile.open and read on a scratch file holding them.
        .executableTarget(
            name: "FuzzHeader",
            dependencies: [
                "CFuzzDriver",
                .product(name: "KLBlock", package: "klfs"),
                .product(name: "KLEngine", package: "klfs"),
            ]
        ),
        .target(name: "CFuzzDriver"),
    ]
)
