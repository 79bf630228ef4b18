import Foundation
import Glibc
import KLBlock
import KLEngine
import Testing

/// `klfs fsck` through the built binary: exit codes, the human report and
/// the --json shape. Backing files are made with KLBlock's CipherFile.
@Suite struct FsckCommandTests {
    /// A volume made by `klfs init` with passphrase "fsck test".
    final class Fixture {
        let scratch = try! VolumeCommandTests.Scratch()
        let passfile: String
        let masterKeyText: String
        var cipherDir: String { scratch.cipherDir }

        init(sectorSize: Int = 4096) throws {
            passfile = try scratch.passfile("pass", "fsck test")
            let created = try runKLFS(["init", scratch.cipherDir, "--passfile", passfile,
                                       "--sector-size", "\(sectorSize)"] + VolumeCommandTests.cheapKDF)
            precondition(created.status == 0, created.standardError)
            masterKeyText = created.standardOutput.split(separator: "\n").filter { $0.hasPrefix("    ") }
                .joined(separator: "\n") + "\n"
        }

        func makeFile(_ path: String, _ contents: [UInt8]) throws {
            let volume = try Array("fsck test".utf8).withUnsafeBytes { bytes in
                try Volume.unlock(cipherDir: cipherDir, passphrase: SecretBytes(copying: bytes),
                                  engine: makeEngine(EngineKind.aesni))
            }
            let full = cipherDir + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            let fd = open(full, O_RDWR | O_CREAT, 0o600)
            precondition(fd >= 0)
            defer { close(fd) }
            let file = try CipherFile.create(descriptor: fd, format: volume.fileFormat)
            _ = try contents.withUnsafeBytes { try file.write($0, at: 0) }
        }

        func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) {
            let fd = open(cipherDir + "/" + path, O_WRONLY)
            precondition(fd >= 0)
            defer { close(fd) }
            precondition(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) } == bytes.count)
        }

        /// Rewrites klfs.conf after `edit` (root ignores its mode 0400).
        func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
            let path = cipherDir + "/klfs.conf"
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            edit(&object)
            unlink(path)
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        }

        func fsck(_ arguments: [String] = [], input: String = "") throws -> CommandResult {
            try runKLFS(["fsck", cipherDir] + arguments, input: input)
        }
    }

    static func json(_ result: CommandResult) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as! [String: Any]
    }

    static let torn = [UInt8](repeating: 0x5A, count: 5000)

    @Test func aCleanVolumeExitsZeroWithOneSummaryLine() throws {
        let fixture = try Fixture()
        try fixture.makeFile("a", Array(repeating: 1, count: 10_000))
        try fixture.makeFile("dir/b", [])
        try fixture.makeFile("dir/c", Array(repeating: 2, count: 4096))
        let result = try fixture.fsck(["--passfile", fixture.passfile])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput == "clean: 0 problems, 0 notices; checked klfs.conf (format version 2), 1 directories, "
            + "3 files (0 empty), 4 sectors (0 holes), 0 other entries\n")
        // Not a terminal: no progress bar.
        #expect(result.standardError == "")
    }

    @Test func damageExits40AndTheReportNamesEachProblem() throws {
        let fixture = try Fixture()
        try fixture.makeFile("good", Array(repeating: 1, count: 100))
        try fixture.makeFile("magic", Array(repeating: 1, count: 100))
        try fixture.makeFile("sub/torn", Self.torn)
        fixture.overwrite("magic", at: 0, with: Array("XXXX".utf8))
        fixture.overwrite("sub/torn", at: 2 * 4096 + 4000, with: [1, 2, 3])

        let human = try fixture.fsck(["--passfile", fixture.passfile])
        #expect(human.status == 40)
        #expect(human.standardOutput.split(separator: "\n") == [
            "magic: corrupt header: bad magic",
            "sub/torn: damaged (torn or overwritten) last sector 1: its 3192 bytes past the size 5000 do not decrypt to zeros",
            "damaged: 2 problems, 0 notices; checked klfs.conf (format version 2), 1 directories, 3 files (0 empty), 3 sectors (0 holes), 0 other entries",
        ])

        let result = try fixture.fsck(["--passfile", fixture.passfile, "--json"])
        #expect(result.status == 40)
        let report = try Self.json(result)
        #expect(report["status"] as? String == "damaged")
        #expect(report["exitCode"] as? Int == 40)
        #expect(report["configAuthenticated"] as? Bool == true)
        #expect(report["formatVersion"] as? Int == 2)
        #expect(report["cipherDir"] as? String == fixture.cipherDir)
        let counts = try #require(report["counts"] as? [String: Int])
        #expect(counts["files"] == 3 && counts["directories"] == 1 && counts["sectors"] == 3)
        #expect(counts["plaintextBytes"] == 5100)
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.map { $0["kind"] as? String } == ["badMagic", "tornLastSector"])
        #expect(findings.map { $0["path"] as? String } == ["magic", "sub/torn"])
        #expect(findings.map { $0["severity"] as? String } == ["damage", "damage"])
        #expect(findings[1]["sector"] as? Int == 1)
    }

    /// A version 2 header that does not open under the volume's header key
    /// (here one bit of its file ID flipped): its own line and kind.
    @Test func aHeaderThatDoesNotAuthenticateIsReported() throws {
        let fixture = try Fixture()
        try fixture.makeFile("sealed", Array(repeating: 1, count: 100))
        let stored = try Data(contentsOf: URL(fileURLWithPath: fixture.cipherDir + "/sealed"))[20]
        fixture.overwrite("sealed", at: 20, with: [stored ^ 0x01])

        let human = try fixture.fsck(["--passfile", fixture.passfile])
        #expect(human.status == 40)
        #expect(human.standardOutput.split(separator: "\n").first
            == "sealed: corrupt header: header does not authenticate (edited, or taken from another file or volume)")
        let report = try Self.json(try fixture.fsck(["--passfile", fixture.passfile, "--json"]))
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.map { $0["kind"] as? String } == ["headerNotAuthentic"])
    }

    @Test func aCleanJSONReportHasEveryCountAndNoFindings() throws {
        let fixture = try Fixture(sectorSize: 512)
        try fixture.makeFile("a", Array(repeating: 3, count: 1000))
        let result = try fixture.fsck(["--passfile", fixture.passfile, "--json"])
        #expect(result.status == 0)
        let report = try Self.json(result)
        #expect(report["status"] as? String == "clean")
        #expect(report["exitCode"] as? Int == 0)
        #expect((report["findings"] as? [Any])?.isEmpty == true)
        #expect(Set((report["counts"] as? [String: Int] ?? [:]).keys)
            == ["directories", "files", "emptyFiles", "otherEntries", "sectors", "holes", "plaintextBytes"])
    }

    /// Each unlock failure keeps its unlock exit code, in text and in JSON.
    @Test func unlockFailuresKeepTheirExitCodes() throws {
        let wrong = try Fixture()
        let wrongPass = try wrong.scratch.passfile("wrong", "not it")
        try expectFailure(wrong.fsck(["--passfile", wrongPass]), 10, "wrong passphrase")
        try expectFailure(wrong.fsck(["--passfile", wrongPass, "--json"]), 10, "wrong passphrase")

        let missing = try VolumeCommandTests.Scratch()
        try expectFailure(runKLFS(["fsck", missing.cipherDir, "--json"]), 11, "not a klfs CIPHERDIR")

        // No passfile: the config is judged before any passphrase is asked for.
        let corrupt = try Fixture()
        try corrupt.editConfig { $0["sectorSize"] = 4095 }
        try expectFailure(corrupt.fsck(["--json"]), 12, "sectorSize 4095")

        let flagged = try Fixture()
        try flagged.editConfig { $0["featureFlags"] = ["zstd"] }
        try expectFailure(flagged.fsck(["--json"]), 13, "zstd")

        let weak = try Fixture()
        try weak.editConfig { object in
            var kdf = object["kdf"] as! [String: Any]
            kdf["opslimit"] = 1
            object["kdf"] = kdf
        }
        try expectFailure(weak.fsck(["--json"]), 17, "below the floor")

        // A valid value changed behind klfs's back: only the tag can tell.
        let edited = try Fixture()
        try edited.editConfig { $0["sectorSize"] = 512 }
        try expectFailure(edited.fsck(["--passfile", edited.passfile, "--json"]), 10, "wrong passphrase")
    }

    private func expectFailure(_ result: CommandResult, _ code: Int32, _ text: String,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == code, "\(result.standardError)", sourceLocation: sourceLocation)
        #expect(result.standardError.hasPrefix("klfs: ") && result.standardError.contains(text),
                "\(result.standardError)", sourceLocation: sourceLocation)
        guard !result.standardOutput.isEmpty else { return }
        let report = try Self.json(result)
        #expect(report["status"] as? String == "failed", sourceLocation: sourceLocation)
        #expect(report["exitCode"] as? Int == Int(code), sourceLocation: sourceLocation)
        #expect((report["message"] as? String)?.contains(text) == true, sourceLocation: sourceLocation)
        #expect(report["findings"] == nil, sourceLocation: sourceLocation)
        #expect(report["formatVersion"] == nil, sourceLocation: sourceLocation)
    }

    @Test func theMasterKeyUnlocksAndAuthenticatesTheConfig() throws {
        let fixture = try Fixture()
        try fixture.makeFile("a", Array(repeating: 1, count: 10))
        let result = try fixture.fsck(["--masterkey", "-"], input: fixture.masterKeyText)
        #expect(result.status == 0, "\(result.standardError)")
        // Version 2's check value authenticates the config's fields.
        #expect(!result.standardOutput.contains("klfs.conf: notice"))
        let json = try Self.json(try fixture.fsck(["--masterkey", "-", "--json"], input: fixture.masterKeyText))
        #expect(json["configAuthenticated"] as? Bool == true)

        let other = try Fixture()
        try expectFailure(other.fsck(["--masterkey", "-"], input: fixture.masterKeyText), 14,
                          "the master key does not belong to this volume, or klfs.conf was altered")
    }

    @Test(arguments: [["--engine", "keylocker-soft"], ["--engine", "aesni"],
                      ["--emulate-keylocker", "--engine", "keylocker"]])
    func everyEngineChecksTheSameVolume(_ engine: [String]) throws {
        let fixture = try Fixture()
        try fixture.makeFile("torn", Self.torn)
        // Three bytes: one could equal the ciphertext already there (1 run in 256).
        fixture.overwrite("torn", at: 2 * 4096 + 4000, with: [1, 2, 3])
        let result = try fixture.fsck(["--passfile", fixture.passfile] + engine)
        #expect(result.status == 40, "\(result.standardError)")
        #expect(result.standardOutput.hasPrefix("torn: damaged (torn or overwritten) last sector 1"))
    }

    @Test func secretSourcesExcludeEachOther() throws {
        let fixture = try Fixture()
        let result = try fixture.fsck(["--passfile", fixture.passfile, "--masterkey", "-"])
        #expect(result.status == 64)
    }
}
