import CFuse
import CSodium
import Foundation
import Glibc
import KLTestSupport
import Testing

/// A version 1 volume, made by klfs before format version 2
/// (Fixtures/version1-volume.tar: the cipher dir, with its sparse files and
/// a plaintext xattr), mounts read-write unchanged: it reads as it was
/// written, stays version 1 however it is changed (config, headers and
/// xattrs), and fsck finds it clean.
@Suite(.serialized) struct VersionOneVolumeTests {
    static let archive = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/version1-volume.tar")
    /// The fixture's key, a test key printed by its `klfs init`.
    static let masterKeyText = """
        615cc24c-20dbf4cf-8690f22c-7a773bbd-
        41c7333e-89b8aa5c-01320afb-e78c2c94-
        9c732274-d23aa269-4992acf1-60830333-
        72702e62-9fd44582-72f92835-cb2b7ba3
        """
    static let longName = "a-long-name-" + String(repeating: "x", count: 200)
    /// SHA-256 of each file as the fixture was written.
    static let contents: [String: String] = [
        "directory/" + longName: "be5158fd3228bd1fce93b1310c3785349996509a0a49a2f74d692276165822be",
        "directory/inner.txt": "5ecbcc8b83ddfe8e794188ba6244d7a870a2c7e0506051d8f117b2489970003e",
        "empty": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "one-byte": "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5",
        "one-sector": "7babd41a2e1e4772cb676e4daa33de3f420fb477797dc84158fd7522b7c20865",
        "several-sectors.bin": "198d28b3ddca110285dea41b6cd8f463386c1df2f71b48f236db6b9af9b26222",
        "sparse": "4c115eaa39000f064b4b2f08ae47863f09f7a7bdb1f2ea311cb1466052c25761",
    ]
    static let comment = "version 1 xattrs are stored as given"

    private func extracted() throws -> VolumeFixture {
        try VolumeFixture(extracting: Self.archive, masterKeyText: Self.masterKeyText)
    }

    @Test func itReadsAsItWasWritten() throws {
        let volume = try extracted()
        defer { volume.unmount() }
        try volume.requireMount(["-o", "xattr"])
        for (name, digest) in Self.contents {
            #expect(hexSHA256(try Data(contentsOf: URL(fileURLWithPath: volume.path(name)))) == digest, "\(name)")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: volume.path("link")) == "several-sectors.bin")
        #expect(extendedAttribute("user.comment", of: volume.path("one-byte")) == Self.comment)
        let info = try runKLFS(["info", volume.cipherDir])
        #expect(info.standardOutput.contains("Format version: 1"))
    }

    /// Writes of every kind (a new file, a partial-sector overwrite, a
    /// truncate, a rename, an xattr) keep the volume version 1: the config
    /// is untouched, new and rewritten headers are version 1, the new xattr
    /// is stored as given, and the data survives a remount and fsck.
    @Test func itStaysVersionOneWhenWritten() throws {
        let volume = try extracted()
        defer { volume.unmount() }
        let config = try Data(contentsOf: URL(fileURLWithPath: volume.cipherDir + "/klfs.conf"))
        try volume.requireMount(["-o", "xattr"])
        let fresh = bytes(9000, seed: 41)
        try Data(fresh).write(to: URL(fileURLWithPath: volume.path("new")))
        var changed = try Array(Data(contentsOf: URL(fileURLWithPath: volume.path("several-sectors.bin"))))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: volume.path("several-sectors.bin")))
        try handle.seek(toOffset: 5000)
        try handle.write(contentsOf: Data(repeating: 0xEE, count: 300))
        try handle.truncate(atOffset: 12_345)
        try handle.close()
        changed.replaceSubrange(5000..<5300, with: repeatElement(0xEE, count: 300))
        changed.removeSubrange(12_345...)
        try FileManager.default.moveItem(atPath: volume.path("one-sector"), toPath: volume.path("directory/moved"))
        #expect(setxattr(volume.path("new"), "user.kind", "plain", 5, 0) == 0)
        volume.unmount()

        #expect(try Data(contentsOf: URL(fileURLWithPath: volume.cipherDir + "/klfs.conf")) == config)
        let backing = try volume.backingFiles()
        for path in backing {
            let header = FileHandle(forReadingAtPath: path)?.readData(ofLength: 10) ?? Data()
            #expect(header.count == 0 || Array(header[8..<10]) == [1, 0], "\(path) has a version \(Array(header))")
        }
        #expect(backing.contains { extendedAttribute("user.kind", of: $0) == "plain" },
                "the xattr is not stored as given")

        try volume.requireMount(["-o", "xattr"])
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: volume.path("new")))) == fresh)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: volume.path("several-sectors.bin")))) == changed)
        #expect(hexSHA256(try Data(contentsOf: URL(fileURLWithPath: volume.path("directory/moved"))))
                == Self.contents["one-sector"])
        volume.unmount()
        let fsck = try runKLFS(["fsck", volume.cipherDir, "--passfile", volume.passfile])
        #expect(fsck.status == 0, "\(fsck.standardOutput)\(fsck.standardError)")
    }

    private func hexSHA256(_ data: Data) -> String {
        SpecReader.sha256(Array(data)).map { String(format: "%02x", $0) }.joined()
    }

    /// The value of xattr `name`, or nil when `path` has none.
    private func extendedAttribute(_ name: String, of path: String) -> String? {
        var value = [UInt8](repeating: 0, count: 256)
        let length = getxattr(path, name, &value, value.count)
        return length < 0 ? nil : String(decoding: value[..<length], as: UTF8.self)
    }
}

extension VolumeFixture {
    /// Every regular file in the cipher dir but klfs's own (klfs.conf,
    /// directory IVs, long-name sidecars).
    func backingFiles() throws -> [String] {
        let walker = FileManager.default.enumerator(atPath: cipherDir)
        var files: [String] = []
        while let relative = walker?.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            guard !name.hasPrefix("klfs.conf"), name != "klfs.diriv", !name.hasSuffix(".name") else { continue }
            var st = stat()
            if lstat(backingPath(relative), &st) == 0 && st.st_mode & S_IFMT == S_IFREG {
                files.append(backingPath(relative))
            }
        }
        return files
    }
}
