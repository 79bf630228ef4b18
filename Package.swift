// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "klfs",
    products: [
        .executable(name: "klfs", targets: ["klfs"]),
        .library(name: "KLEngine", targets: ["KLEngine"]),
        .library(name: "KLBlock", targets: ["KLBlock"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C and assembly kernels: AES-NI/VAES XTS, the software Key Locker,
        // the Key Locker instruction paths and the instruction emulator.
        .target(
            name: "CKLKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-strict-aliasing"])]
        ),
        // libcrypto: the test oracle, the benchmark peer and image mode's plain
        // key derivation (KLBlock), never the data path.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .target(
            name: "KLEngine",
            dependencies: ["CKLKernels", "COpenSSL"]
        ),
        // The libfuse3 low-level API, with C wrappers where Swift cannot call it.
        .target(
            name: "CFuse",
            cSettings: [.unsafeFlags(["-I/usr/include/fuse3"])],
            linkerSettings: [.linkedLibrary("fuse3")]
        ),
        // libsodium: Argon2id and the AEAD that wraps the master key.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        // libargon2 (the reference Argon2): LUKS2 keyslots use argon2i and
        // argon2id with several lanes, which libsodium cannot compute.
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2",
                       providers: [.apt(["libargon2-dev"])]),
        // fallocate(2) hole punching, which Swift's Glibc module does not export.
        .target(name: "CFileIO"),
        // The volume: klfs.conf, the key lifecycle, backing files and sectors;
        // image mode's plaintext device and its formats. libcrypto serves
        // key derivation and header metadata only (plain mode's passphrase
        // hashes, RIPEMD-160 among them; LUKS2's PBKDF2, SHA digests and the
        // AES-XTS of its keyslot areas), never the data path.
        .target(
            name: "KLBlock",
            dependencies: ["KLEngine", "CSodium", "COpenSSL", "CArgon2", "CFileIO"]
        ),
        .executableTarget(
            name: "klfs",
            dependencies: [
                "CKLKernels",
                "KLEngine",
                "KLBlock",
                "CFuse",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The POSIX conformance checker (docs/FUSE.md, "Conformance"): named
        // checks run in a directory of any filesystem, one result line each,
        // so that klfs can be compared with tmpfs. No klfs code in it.
        .target(name: "CConformance"),
        .executableTarget(name: "klfs-conformance", dependencies: ["CConformance"]),
        // Test helpers shared by the test targets (among them SpecReader, which
        // reads the format with libcrypto and libsodium from the documents alone).
        .target(name: "KLTestSupport", dependencies: ["COpenSSL", "CSodium"], path: "Tests/KLTestSupport"),
        // Mounts for real through the built klfs binary.
        .testTarget(
            name: "klfsTests",
            dependencies: ["KLTestSupport", "klfs", "KLBlock", "KLEngine", "COpenSSL", "CSodium"],
            // Volumes made by earlier klfs versions, extracted by the tests.
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "KLBlockTests",
            dependencies: ["KLTestSupport", "KLBlock", "KLEngine", "COpenSSL", "CSodium"]
        ),
        // Every Key Locker instruction form, for the emulator tests.
        .target(name: "CKLInstructionForms", path: "Tests/CKLInstructionForms"),
        .testTarget(
            name: "KLEngineTests",
            dependencies: ["KLTestSupport", "KLEngine", "CKLKernels", "COpenSSL", "CKLInstructionForms"]
        ),
    ]
)
