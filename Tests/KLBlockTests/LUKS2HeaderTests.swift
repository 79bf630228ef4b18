import Foundation
@testable import KLBlock
import KLEngine
import KLTestSupport
import Testing

/// Both header copies are checked, and the reader takes the valid one
/// with the higher sequence id.
@Suite(.enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct LUKS2HeaderTests {
    static let primaryJSON = 4096 + 20
    static let secondaryJSON = 16384 + 4096 + 20

    private func cryptsetupImage(_ scratch: LUKS2Scratch) throws -> [UInt8] {
        try Cryptsetup.format(scratch.image, keyFile: scratch.keyFile("pass"), extra: Cryptsetup.fastPBKDF2)
        return try Cryptsetup.volumeKey(scratch.image, keyFile: scratch.keyFile("pass"))
    }

    private func flipByte(_ scratch: LUKS2Scratch, at offset: Int) throws {
        let file = try scratch.open(writable: true)
        let byte = try file.read(count: 1, at: offset)
        try file.write([byte[0] ^ 0x01], at: offset)
    }

    @Test(arguments: [primaryJSON, secondaryJSON])
    func oneCorruptCopyOpensFromTheOther(corrupting offset: Int) throws {
        let scratch = LUKS2Scratch()
        let key = try cryptsetupImage(scratch)
        try flipByte(scratch, at: offset)
        let file = try scratch.open(writable: true)
        let header = try LUKS2Header.read(from: file)
        let corrupt = offset == Self.primaryJSON ? header.primary : header.secondary
        let other = offset == Self.primaryJSON ? header.secondary : header.primary
        #expect(corrupt == .corrupt("the LUKS2 JSON metadata is invalid: sha256 checksum mismatch"))
        #expect(other == .valid)
        #expect(header.dump().contains("corrupt (the LUKS2 JSON metadata is invalid: sha256 checksum mismatch)"))
        #expect(contents(try header.unlock(passphrase: secret("pass"), in: file).volumeKey) == key)
        // The next write repairs the corrupt copy.
        let repaired = try header.addKeyslot(passphrase: secret("more"), authority: .passphrase(secret("pass")),
                                             kdf: fastLUKS2KDF, in: file).header
        let reread = try LUKS2Header.read(from: file)
        #expect(reread.primary == .valid && reread.secondary == .valid && reread.sequenceID == repaired.sequenceID)
    }

    @Test func bothCopiesCorruptIsAHeaderError() throws {
        let scratch = LUKS2Scratch()
        _ = try cryptsetupImage(scratch)
        try flipByte(scratch, at: Self.primaryJSON)
        try flipByte(scratch, at: Self.secondaryJSON)
        let error = luks2Error { _ = try scratch.header() }
        guard case .headerCorrupt? = error else {
            Issue.record("expected headerCorrupt, got \(String(describing: error))")
            return
        }
    }

    /// With the primary's binary header gone, the secondary is found at one
    /// of the offsets the format allows.
    @Test func aWipedPrimaryIsFoundBySearchingForTheSecondary() throws {
        let scratch = LUKS2Scratch()
        let key = try cryptsetupImage(scratch)
        try scratch.open(writable: true).write([UInt8](repeating: 0, count: 4096), at: 0)
        let file = try scratch.open()
        let header = try LUKS2Header.read(from: file)
        #expect(header.primary == .corrupt("no header found") && header.secondary == .valid)
        #expect(contents(try header.unlock(passphrase: secret("pass"), in: file).volumeKey) == key)
    }

    /// A crash between the two copies of a write leaves one copy a version
    /// behind; either way the newer one is read, whichever copy holds it.
    @Test(arguments: [0, 16384])
    func theCopyWithTheHigherSequenceIDWins(restoringCopyAt offset: Int) throws {
        let scratch = LUKS2Scratch()
        _ = try cryptsetupImage(scratch)
        let file = try scratch.open(writable: true)
        let before = try LUKS2Header.read(from: file)
        let oldCopy = try file.read(count: 16384, at: offset)
        let added = try before.addKeyslot(passphrase: secret("new"), authority: .passphrase(secret("pass")),
                                          kdf: fastLUKS2KDF, in: file)
        try file.write(oldCopy, at: offset)
        let header = try LUKS2Header.read(from: file)
        #expect(header.sequenceID == before.sequenceID + 1)
        let stale = offset == 0 ? header.primary : header.secondary
        #expect(stale == .stale(sequenceID: before.sequenceID))
        #expect(try header.unlock(passphrase: secret("new"), in: file).keyslot == added.keyslot)
        #expect(try Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("new")))
    }

    /// A damaged version field in one copy is a corrupt copy, not another
    /// LUKS version, while the other copy is valid.
    @Test func aBadVersionInOneCopyOpensFromTheOther() throws {
        let scratch = LUKS2Scratch()
        _ = try cryptsetupImage(scratch)
        try flipByte(scratch, at: 7)
        let header = try scratch.header()
        #expect(header.primary == .corrupt("version 3") && header.secondary == .valid)
    }

    @Test func notLUKSAndLUKS1AreRefused() throws {
        let scratch = LUKS2Scratch()
        try makeFile(scratch.image, size: 1 << 20)
        #expect(luks2Error { _ = try scratch.header() } == .notLUKS(path: scratch.image))
        try Cryptsetup.succeed(["luksFormat", "--type", "luks1", "--batch-mode", "--key-file", scratch.keyFile("pass"),
                                "--pbkdf-force-iterations", "1000", scratch.image])
        #expect(luks2Error { _ = try scratch.header() } == .unsupportedVersion(1))
    }

    /// A copy whose checksum is right but whose JSON breaks the format is
    /// corrupt too, with the field named.
    @Test func metadataThatBreaksTheFormatIsNamed() throws {
        let scratch = LUKS2Scratch()
        _ = try cryptsetupImage(scratch)
        let file = try scratch.open(writable: true)
        let header = try LUKS2Header.read(from: file)
        var json = header.json
        json.set(["segments", "0", "offset"], to: .integer(16_777_216))
        #expect(luks2Error { _ = try header.replaced(by: json, in: file) }
            == .metadataInvalid("metadata.segments.0.offset is missing or not a string"))
        json = header.json
        json.set(["keyslots", "0", "kdf", "salt"], to: .string("not base64!"))
        #expect(luks2Error { _ = try header.replaced(by: json, in: file) }
            == .metadataInvalid("metadata.keyslots.0.kdf.salt is not base64"))
    }
}
