import Foundation
@testable import KLBlock
import KLEngine
import KLTestSupport
import Testing

/// Images made by cryptsetup open in klfs with the same passphrase and give
/// the volume key cryptsetup reports.
@Suite(.enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct LUKS2CryptsetupImageTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var options: [String]
        var sectorSize: Int
        var kdf: String
        var testDescription: String { name }
    }

    static let cases = [
        Case(name: "argon2id, 512-byte sectors", options: Cryptsetup.fastArgon2id + ["--sector-size", "512"],
             sectorSize: 512, kdf: "argon2id"),
        Case(name: "argon2i, 4096-byte sectors", options: Cryptsetup.fastArgon2i + ["--sector-size", "4096"],
             sectorSize: 4096, kdf: "argon2i"),
        Case(name: "pbkdf2-sha256, 4096-byte sectors", options: Cryptsetup.fastPBKDF2 + ["--sector-size", "4096"],
             sectorSize: 4096, kdf: "pbkdf2"),
        Case(name: "pbkdf2-sha512, 512-byte sectors",
             options: Cryptsetup.fastPBKDF2 + ["--hash", "sha512", "--sector-size", "512"], sectorSize: 512, kdf: "pbkdf2"),
        // AF hash and digest sha1: 20-byte blocks, so diffuse ends on a partial block.
        Case(name: "pbkdf2-sha1, AF sha1", options: Cryptsetup.fastPBKDF2 + ["--hash", "sha1"],
             sectorSize: 4096, kdf: "pbkdf2"),
        Case(name: "argon2id, AF sha512", options: Cryptsetup.fastArgon2id + ["--hash", "sha512"],
             sectorSize: 4096, kdf: "argon2id"),
        // A 256-bit keyslot area key: the area is AES-128-XTS.
        Case(name: "pbkdf2, keyslot area AES-128-XTS",
             options: Cryptsetup.fastPBKDF2 + ["--keyslot-cipher", "aes-xts-plain64", "--keyslot-key-size", "256"],
             sectorSize: 4096, kdf: "pbkdf2"),
    ]

    @Test(arguments: cases)
    func unlocksWithCryptsetupsVolumeKey(_ testCase: Case) throws {
        let scratch = LUKS2Scratch()
        let keyFile = scratch.keyFile("tr0ub4dor & 3")
        try Cryptsetup.format(scratch.image, keyFile: keyFile,
                              extra: ["--cipher", "aes-xts-plain64", "--key-size", "512"] + testCase.options)
        let expected = try Cryptsetup.volumeKey(scratch.image, keyFile: keyFile)
        #expect(expected.count == 64)

        let file = try scratch.open()
        let header = try LUKS2Header.read(from: file)
        #expect(header.primary == .valid && header.secondary == .valid)
        #expect(header.metadata.keyslots[0]?.kdf?.typeName == testCase.kdf)
        let segment = try header.metadata.requireSupported()
        #expect(segment.sectorSize == testCase.sectorSize)
        #expect(segment.offset == UInt64(LUKS2Layout.dataOffset))
        #expect(segment.size == .dynamic && segment.encryption == "aes-xts-plain64")

        let unlocked = try header.unlock(passphrase: secret("tr0ub4dor & 3"), in: file)
        #expect(unlocked.keyslot == 0)
        #expect(contents(unlocked.volumeKey) == expected)
    }

    @Test func wrongPassphraseIsItsOwnError() throws {
        let scratch = LUKS2Scratch()
        try Cryptsetup.format(scratch.image, keyFile: scratch.keyFile("right"), extra: Cryptsetup.fastPBKDF2)
        let file = try scratch.open()
        let header = try LUKS2Header.read(from: file)
        #expect(luks2Error { _ = try header.unlock(passphrase: secret("wrong"), in: file) } == .wrongPassphrase)
        #expect(luks2Error { _ = try header.unlock(passphrase: secret("righ"), in: file) } == .wrongPassphrase)
    }

    @Test func dumpShowsWhatLuksDumpShows() throws {
        let scratch = LUKS2Scratch()
        try Cryptsetup.format(scratch.image, keyFile: scratch.keyFile("pass"), extra: Cryptsetup.fastArgon2id)
        try expectDumpMatchesLuksDump(scratch.image)
    }
}

/// Every line of luksDump's segment, keyslot and digest sections appears in
/// klfs's dump (the header block differs by the copy-state line), and so
/// does the UUID.
func expectDumpMatchesLuksDump(_ image: String) throws {
    let header = try LUKS2Header.read(path: image)
    let ours = header.dump()
    let theirs = try Cryptsetup.succeed(["luksDump", image]).output
    let section = theirs[theirs.range(of: "Data segments:")!.lowerBound...]
    for line in section.split(separator: "\n") where !line.contains("Tokens:") {
        #expect(ours.contains(line.trimmingCharacters(in: .whitespaces)), "missing: \(line)")
    }
    #expect(ours.contains("UUID:          \t\(header.uuid)") && theirs.contains(header.uuid))
    #expect(ours.contains("Epoch:         \t\(header.sequenceID)") && theirs.contains("Epoch:         \t\(header.sequenceID)"))
}
