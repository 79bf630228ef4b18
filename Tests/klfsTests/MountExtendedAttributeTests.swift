import CFuse
import Foundation
import Glibc
@testable import KLBlock
import KLTestSupport
import Testing

/// Extended attributes through a real mount with `-o xattr`: encrypted on
/// version 2 volumes (docs/FORMAT.md, "Extended attributes"), read back
/// from the backing files with nothing but the document, the errno of
/// every refusal, damaged backing entries, and version 1 pass-through.
@Suite struct MountExtendedAttributeTests {
    static let xattr = ["-o", "xattr"]

    /// The encryption of xattrs does not depend on whether names are encrypted.
    @Test(arguments: [false, true]) func setGetListRemoveRoundTrip(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames, mountArguments: Self.xattr) { volume in
            let file = volume.path("file")
            try Data().write(to: URL(fileURLWithPath: file))
            #expect(mkdir(volume.path("dir"), 0o755) == 0)
            let binary: [UInt8] = [0, 1, 2, 0xFF, 0, 0x80] + Array("blue".utf8) + [0]
            for path in [file, volume.path("dir")] {
                #expect(setxattr(path, "user.colour", binary, binary.count, 0) == 0)
                #expect(setxattr(path, "user.empty", nil, 0, 0) == 0)
                #expect(setxattr(path, "user.a/b.c", [7], 1, 0) == 0)
                #expect(try value(path, "user.colour") == binary)
                #expect(try value(path, "user.empty") == [])
                #expect(try value(path, "user.a/b.c") == [7])
                #expect(try Set(names(path)) == ["user.colour", "user.empty", "user.a/b.c"])
                #expect(removexattr(path, "user.colour") == 0)
                #expect(getxattr(path, "user.colour", nil, 0) == -1 && errno == ENODATA)
                #expect(removexattr(path, "user.colour") == -1 && errno == ENODATA)
                #expect(try Set(names(path)) == ["user.empty", "user.a/b.c"])
            }
        }
    }

    /// Size-0 queries answer the plaintext sizes, not the larger backing
    /// ones, and a buffer one byte short is ERANGE.
    @Test func sizeQueriesAnswerPlaintextSizesAndShortBuffersGetERANGE() throws {
        try withMountedVolume(mountArguments: Self.xattr) { volume in
            let path = volume.path("file")
            try Data().write(to: URL(fileURLWithPath: path))
            let value = [UInt8](repeating: 0x41, count: 100)
            #expect(setxattr(path, "user.hundred", value, value.count, 0) == 0)
            #expect(setxattr(path, "user.x", value, 1, 0) == 0)
            #expect(getxattr(path, "user.hundred", nil, 0) == 100)
            var buffer = [UInt8](repeating: 0, count: 99)
            #expect(getxattr(path, "user.hundred", &buffer, buffer.count) == -1 && errno == ERANGE)
            let listLength = "user.hundred\0user.x\0".utf8.count
            #expect(listxattr(path, nil, 0) == listLength)
            var list = [CChar](repeating: 0, count: listLength - 1)
            #expect(listxattr(path, &list, list.count) == -1 && errno == ERANGE)
        }
    }

    /// A name after `user.` takes 1 to 175 bytes: its backing name (245
    /// bytes) must fit XATTR_NAME_MAX.
    @Test func namesOf175BytesWorkLongerOnesGetERANGEAndEmptyOnesEINVAL() throws {
        try withMountedVolume(mountArguments: Self.xattr) { volume in
            let path = volume.path("file")
            try Data().write(to: URL(fileURLWithPath: path))
            let longest = "user." + String(repeating: "n", count: 175)
            #expect(setxattr(path, longest, [1], 1, 0) == 0)
            #expect(try value(path, longest) == [1])
            #expect(try names(path) == [longest])
            let tooLong = longest + "n"
            #expect(setxattr(path, tooLong, [1], 1, 0) == -1 && errno == ERANGE)
            #expect(getxattr(path, tooLong, nil, 0) == -1 && errno == ERANGE)
            #expect(removexattr(path, tooLong) == -1 && errno == ERANGE)
            #expect(setxattr(path, "user.", [1], 1, 0) == -1 && errno == EINVAL)
            #expect(getxattr(path, "user.", nil, 0) == -1 && errno == EINVAL)
        }
    }

    /// Values up to 65519 bytes seal to at most 65528; one byte more would
    /// not fit the 65536 a backing value may have. On tmpfs, which stores
    /// values that large (ext4 takes about one block).
    @Test func valuesUpToTheLimitRoundTripAndLargerOnesGetE2BIG() throws {
        let volume = try VolumeFixture(parent: "/dev/shm")
        defer { volume.unmount() }
        try volume.requireMount(Self.xattr)
        let path = volume.path("file")
        try Data().write(to: URL(fileURLWithPath: path))
        let largest = bytes(ExtendedAttributeCipher.maxValueSize, seed: 9)
        #expect(setxattr(path, "user.large", largest, largest.count, 0) == 0)
        #expect(getxattr(path, "user.large", nil, 0) == 65519)
        #expect(try value(path, "user.large") == largest)
        let backing = try volume.backingPath(ofMounted: "file")
        #expect(try value(backing, try #require(names(backing).first)).count == 65528)
        #expect(setxattr(path, "user.larger", largest + [0], largest.count + 1, 0) == -1 && errno == E2BIG)
        #expect(try names(path) == ["user.large"])
    }

    @Test func createAndReplaceFlagsKeepTheirMeaning() throws {
        try withMountedVolume(mountArguments: Self.xattr) { volume in
            let path = volume.path("file")
            try Data().write(to: URL(fileURLWithPath: path))
            #expect(setxattr(path, "user.k", [1], 1, Int32(XATTR_REPLACE)) == -1 && errno == ENODATA)
            #expect(setxattr(path, "user.k", [1], 1, Int32(XATTR_CREATE)) == 0)
            #expect(setxattr(path, "user.k", [2], 1, Int32(XATTR_CREATE)) == -1 && errno == EEXIST)
            #expect(try value(path, "user.k") == [1])
            #expect(setxattr(path, "user.k", [3], 1, Int32(XATTR_REPLACE)) == 0)
            #expect(try value(path, "user.k") == [3])
        }
    }

    /// Only `user.` is stored: other namespaces are refused as the spec
    /// says (setxattr EOPNOTSUPP; getxattr, removexattr ENODATA) and never
    /// reach the backing file (root could write trusted.* there).
    @Test func otherNamespacesAreRefusedAndNeverReachTheBackingFile() throws {
        try withMountedVolume(mountArguments: Self.xattr) { volume in
            let path = volume.path("file")
            try Data().write(to: URL(fileURLWithPath: path))
            for name in ["trusted.note", "security.note", "system.note"] {
                #expect(setxattr(path, name, [1], 1, 0) == -1 && errno == EOPNOTSUPP, "\(name)")
                #expect(getxattr(path, name, nil, 0) == -1 && errno == ENODATA, "\(name)")
                #expect(removexattr(path, name) == -1 && errno == ENODATA, "\(name)")
            }
            #expect(try names(volume.backingPath(ofMounted: "file")) == [])
        }
    }

    /// The backing file's own xattrs, read with listxattr and getxattr on
    /// the cipher dir: no plaintext name or value shows, each decrypts by
    /// docs/FORMAT.md alone (SpecReader's EME with the xattr key and a zero
    /// tweak; OpenSSL XTS at sector 2^64 - 2), the same name has the same
    /// backing name on two files, and the same value set twice is stored
    /// differently.
    @Test func backingXattrsShowNoPlaintextAndDecryptByTheFormatDocumentAlone() throws {
        try withMountedVolume(mountArguments: Self.xattr) { volume in
            let value = Array("secret value, long enough for two blocks".utf8) + [0, 0xFF]
            var stored: [[UInt8]] = []
            var backingNames: [String] = []
            for file in ["first", "second"] {
                let path = volume.path(file)
                try Data().write(to: URL(fileURLWithPath: path))
                #expect(setxattr(path, "user.secret-name", value, value.count, 0) == 0)
                let backing = try volume.backingPath(ofMounted: file)
                let name = try #require(try names(backing).first)
                #expect(!name.contains("secret"))
                #expect(name.hasPrefix("user.klfs."))
                backingNames.append(name)
                stored.append(try Self.value(backing, name))
            }
            #expect(backingNames[0] == backingNames[1])
            #expect(stored[0] != stored[1])
            for bytes in stored {
                #expect(!String(decoding: bytes, as: UTF8.self).contains("secret"))
                #expect(bytes.count == 8 + 48)
                #expect(SpecReader.openDataUnit(bytes, sector: 0xFFFF_FFFF_FFFF_FFFE, masterKey: volume.masterKey) == value)
            }
            let key = SpecReader.xattrKey(masterKey: volume.masterKey)
            let rest = SpecReader.decryptName(String(backingNames[0].dropFirst("user.klfs.".count)),
                                              key: key, iv: [UInt8](repeating: 0, count: 16))
            #expect(rest == Array("secret-name".utf8))
        }
    }

    /// A backing name klfs did not write (foreign, or in another namespace)
    /// is left out of listings, and a value that does not decrypt gives
    /// EIO; each with one log line however often it is met.
    @Test func damagedBackingXattrsAreSkippedOrEIOWithOneLogLineEach() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let log = volume.directory.appendingPathComponent("daemon.log")
        let process = try volume.mountInForeground(logTo: log, extraArguments: ["--engine", "keylocker-soft"] + Self.xattr)
        let path = volume.path("file")
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(setxattr(path, "user.cut", [2], 1, 0) == 0)
        let backing = try volume.backingPath(ofMounted: "file")
        let cut = try #require(try names(backing).first)
        #expect(setxattr(path, "user.good", [1], 1, 0) == 0)
        // A value one byte short, a name that is not whole blocks, a plaintext one.
        let shortened = try value(backing, cut).dropLast()
        #expect(setxattr(backing, cut, Array(shortened), shortened.count, 0) == 0)
        for foreign in ["user.klfs.AAAA", "user.plain"] { #expect(setxattr(backing, foreign, [0], 1, 0) == 0) }
        for _ in 0..<3 {
            #expect(try Set(names(path)) == ["user.good", "user.cut"])
            #expect(getxattr(path, "user.cut", nil, 0) == -1 && errno == EIO)
            #expect(try value(path, "user.good") == [1])
        }
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        process.waitUntilExit()
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        for damaged in [cut, "user.klfs.AAAA", "user.plain"] {
            #expect(lines.filter { $0.contains("extended attribute \(damaged) of backing file") }.count == 1, "\(damaged): \(lines)")
        }
    }

    /// Version 1 volumes store xattrs as they are, as before version 2.
    @Test func version1VolumesPassXattrsThroughUnchanged() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.rewriteConfigAsVersion1()
        try volume.requireMount(Self.xattr)
        let path = volume.path("file")
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(setxattr(path, "user.colour", Array("blue".utf8), 4, 0) == 0)
        #expect(setxattr(path, "trusted.note", [1], 1, 0) == 0)
        let backing = try volume.backingPath(ofMounted: "file")
        #expect(try Set(names(backing)) == ["user.colour", "trusted.note"])
        #expect(try value(backing, "user.colour") == Array("blue".utf8))
        #expect(try value(path, "user.colour") == Array("blue".utf8))
        #expect(try Set(names(path)) == ["user.colour", "trusted.note"])
    }
}

extension MountExtendedAttributeTests {
    /// The names listxattr gives for `path`.
    static func names(_ path: String) throws -> [String] {
        let length = listxattr(path, nil, 0)
        try #require(length >= 0, "listxattr \(path): errno \(errno)")
        var list = [CChar](repeating: 0, count: length)
        try #require(listxattr(path, &list, length) == length)
        return list.split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    /// The value getxattr gives for `name` of `path`.
    static func value(_ path: String, _ name: String) throws -> [UInt8] {
        let length = getxattr(path, name, nil, 0)
        try #require(length >= 0, "getxattr \(path) \(name): errno \(errno)")
        var value = [UInt8](repeating: 0, count: length)
        try #require(getxattr(path, name, &value, length) == length)
        return value
    }

    func names(_ path: String) throws -> [String] { try Self.names(path) }
    func value(_ path: String, _ name: String) throws -> [UInt8] { try Self.value(path, name) }
}

extension VolumeFixture {
    /// Rewrites the (still empty) volume's klfs.conf as version 1, with the
    /// same master key, passphrase, sector size and flags: a volume as
    /// made before version 2, for what must stay as it was there.
    func rewriteConfigAsVersion1() throws {
        let current = try VolumeConfig.load(from: cipherDir)
        let unsealed = VolumeConfig(version: 1, kdf: current.kdf,
                                    masterKey: WrappedMasterKey(nonce: [], ciphertext: [], check: []),
                                    sectorSize: current.sectorSize, featureFlags: current.featureFlags)
        let config = try unsealed.rewrapped(Self.secret(masterKey), passphrase: Self.secret(Array(Self.passphrase.utf8)),
                                            kdf: current.kdf)
        try ConfigFile.write(config.jsonBytes(), in: cipherDir, replacing: true)
        #expect(try Volume.info(cipherDir: cipherDir).config.version == 1)
    }
}
