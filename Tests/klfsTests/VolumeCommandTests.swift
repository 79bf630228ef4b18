import Foundation
import Testing

/// init, passwd and info through the built binary: output and exit codes.
@Suite struct VolumeCommandTests {
    /// A scratch directory with a passfile, removed afterwards.
    final class Scratch {
        let root: URL
        var cipherDir: String { root.appendingPathComponent("cipher").path }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("klfs-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: root.appendingPathComponent("cipher").path,
                                                    withIntermediateDirectories: true)
        }

        func passfile(_ name: String, _ passphrase: String) throws -> String {
            let path = root.appendingPathComponent(name).path
            try (passphrase + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        deinit { try? FileManager.default.removeItem(at: root) }
    }

    /// The KDF floor keeps the tests fast.
    static let cheapKDF = ["--kdf-ops", "2", "--kdf-memory-mib", "64"]

    @Test func initPrintsTheMasterKeyOnceAndInfoDescribesTheVolume() throws {
        let scratch = try Scratch()
        let created = try runKLFS(["init", scratch.cipherDir, "--passfile", try scratch.passfile("p", "secret one"),
                                   "--sector-size", "512"] + Self.cheapKDF)
        #expect(created.status == 0, "\(created.standardError)")
        let keyLines = created.standardOutput.split(separator: "\n").filter { $0.hasPrefix("    ") }
        #expect(keyLines.count == 4)
        let digits = keyLines.joined().filter(\.isHexDigit)
        #expect(digits.count == 128)

        let info = try runKLFS(["info", scratch.cipherDir])
        #expect(info.status == 0)
        #expect(info.standardOutput.contains("Sector size:    512 bytes"))
        #expect(info.standardOutput.contains("opslimit 2, memlimit 64 MiB"))
        #expect(!info.standardOutput.contains(String(digits.prefix(8))))
    }

    @Test func passwdNeedsTheOldPassphraseAndKeepsWorking() throws {
        let scratch = try Scratch()
        let first = try scratch.passfile("first", "secret one")
        let second = try scratch.passfile("second", "secret two")
        #expect(try runKLFS(["init", scratch.cipherDir, "--passfile", first] + Self.cheapKDF).status == 0)

        let wrong = try runKLFS(["passwd", scratch.cipherDir, "--passfile", second, "--new-passfile", first])
        #expect(wrong.status == 10)
        #expect(wrong.standardError == "klfs: wrong passphrase (or klfs.conf was modified)\n")

        let changed = try runKLFS(["passwd", scratch.cipherDir, "--passfile", first, "--new-passfile", second])
        #expect(changed.status == 0, "\(changed.standardError)")
        #expect(try runKLFS(["passwd", scratch.cipherDir, "--passfile", first, "--new-passfile", second]).status == 10)
        #expect(try runKLFS(["passwd", scratch.cipherDir, "--passfile", second, "--new-passfile", first]).status == 0)
    }

    @Test func eachFailureHasItsOwnExitCode() throws {
        let scratch = try Scratch()
        let pass = try scratch.passfile("p", "secret")
        let missing = try runKLFS(["info", scratch.root.appendingPathComponent("nowhere").path])
        #expect(missing.status == 11)
        #expect(try runKLFS(["init", scratch.cipherDir, "--passfile", pass] + Self.cheapKDF).status == 0)
        let notEmpty = try runKLFS(["init", scratch.cipherDir, "--passfile", pass] + Self.cheapKDF)
        #expect(notEmpty.status == 16)
        #expect(notEmpty.standardError.hasPrefix("klfs: CIPHERDIR "))

        let empty = try scratch.passfile("empty", "")
        let other = scratch.root.appendingPathComponent("other").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: false)
        #expect(try runKLFS(["init", other, "--passfile", empty] + Self.cheapKDF).status == 14)
        #expect(try runKLFS(["init", other, "--passfile", pass, "--kdf-memory-mib", "8"]).status == 17)
        #expect(try runKLFS(["init", other, "--passfile", pass, "--sector-size", "1000"]).status == 64)

        let config = scratch.cipherDir + "/klfs.conf"
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config)
        try "{ \"version\": ".write(toFile: config, atomically: false, encoding: .utf8)
        #expect(try runKLFS(["info", scratch.cipherDir]).status == 12)
    }
}
