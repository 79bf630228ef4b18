import Foundation
@testable import KLBlock
import KLEngine
import KLTestSupport
import Testing

/// Features klfs does not implement are refused with their own error,
/// never read as if absent; `dump` still shows such images.
@Suite(.enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct LUKS2UnsupportedTests {
    /// A cryptsetup image with passphrase "pass" and `extra` options.
    private func image(_ scratch: LUKS2Scratch, _ extra: [String] = []) throws {
        try Cryptsetup.format(scratch.image, keyFile: scratch.keyFile("pass"), extra: Cryptsetup.fastPBKDF2 + extra)
    }

    /// The error unlocking with the right passphrase gives, after the dump
    /// (which must work) was checked to contain `dumpShows`.
    private func unlockError(_ scratch: LUKS2Scratch, dumpShows: String) throws -> LUKS2Error? {
        let file = try scratch.open()
        let header = try LUKS2Header.read(from: file)
        #expect(header.dump().contains(dumpShows), "dump lacks \(dumpShows)")
        return luks2Error { _ = try header.unlock(passphrase: secret("pass"), in: file) }
    }

    /// Rewrites the header with `edit` applied to its JSON (for features
    /// this cryptsetup cannot make without device-mapper).
    private func edit(_ scratch: LUKS2Scratch, _ edit: (inout LUKS2JSON) -> Void) throws {
        let file = try scratch.open(writable: true)
        let header = try LUKS2Header.read(from: file)
        var json = header.json
        edit(&json)
        _ = try header.replaced(by: json, in: file)
    }

    @Test func otherCiphersAreRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch, ["--cipher", "aes-cbc-essiv:sha256", "--key-size", "256"])
        #expect(try unlockError(scratch, dumpShows: "cipher: aes-cbc-essiv:sha256") == .unsupportedCipher("aes-cbc-essiv:sha256"))
    }

    @Test func anotherKeyslotAreaCipherIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch, ["--keyslot-cipher", "aes-cbc-essiv:sha256", "--keyslot-key-size", "256"])
        #expect(try unlockError(scratch, dumpShows: "Cipher:     aes-cbc-essiv:sha256") == .unsupportedCipher("aes-cbc-essiv:sha256"))
    }

    @Test func a256BitXTSKeyIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch, ["--cipher", "aes-xts-plain64", "--key-size", "256"])
        #expect(try unlockError(scratch, dumpShows: "Key:        256 bits") == .unsupportedKeySize(bits: 256))
    }

    @Test func sectorSizesOtherThan512And4096AreRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch, ["--sector-size", "1024"])
        #expect(try unlockError(scratch, dumpShows: "sector: 1024 [bytes]") == .unsupportedSectorSize(1024))
    }

    @Test func aTokenBoundToAKeyslotIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        let token = scratch.directory.write("token.json", Array(#"{"type":"klfs-test","keyslots":["0"]}"#.utf8))
        try Cryptsetup.succeed(["token", "import", "--json-file", token, scratch.image])
        #expect(try unlockError(scratch, dumpShows: "  0: klfs-test") == .tokenUnsupported(id: "0", type: "klfs-test"))
    }

    @Test func aTokenBoundToNoKeyslotIsOnlyListed() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        let token = scratch.directory.write("token.json", Array(#"{"type":"klfs-note","keyslots":[]}"#.utf8))
        try Cryptsetup.succeed(["token", "import", "--json-file", token, scratch.image])
        #expect(try unlockError(scratch, dumpShows: "  0: klfs-note") == nil)
    }

    /// `cryptsetup reencrypt --init-only` works on an image file: it leaves
    /// a reencrypt keyslot, backup segments and a mandatory requirement.
    @Test func aReencryptionInProgressIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        try Cryptsetup.succeed(["reencrypt", "--init-only", "--batch-mode", "--key-file", scratch.keyFile("pass")]
            + Cryptsetup.fastPBKDF2 + [scratch.image])
        #expect(try unlockError(scratch, dumpShows: "Requirements:  \tonline-reencrypt-v2")
            == .mandatoryRequirements(["online-reencrypt-v2"]))
        // Without the requirement, the reencrypt keyslot alone is refused.
        try edit(scratch) { $0.set(["config", "requirements"], to: nil) }
        #expect(try unlockError(scratch, dumpShows: ": reencrypt") == .reencryptionInProgress)
    }

    @Test func anUnknownMandatoryRequirementIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        try edit(scratch) { $0.set(["config", "requirements"], to: .object(["mandatory": .array([.string("klfs-future")])])) }
        #expect(try unlockError(scratch, dumpShows: "klfs-future") == .mandatoryRequirements(["klfs-future"]))
    }

    /// This cryptsetup formats integrity only through device-mapper, so the
    /// segment is given an integrity object by klfs's own writer.
    @Test func anIntegritySegmentIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        try edit(scratch) {
            $0.set(["segments", "0", "integrity"], to: .object([
                "type": .string("hmac(sha256)"), "journal_encryption": .string("none"), "journal_integrity": .string("none"),
            ]))
        }
        #expect(try Cryptsetup.run(["luksDump", scratch.image]).output.contains("integrity: hmac(sha256)"))
        #expect(try unlockError(scratch, dumpShows: "integrity: hmac(sha256)") == .integrityUnsupported("hmac(sha256)"))
    }

    @Test func moreThanOneSegmentIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        try edit(scratch) { json in
            json.set(["segments", "0", "size"], to: .string("1048576"))
            json.set(["segments", "1"], to: .object([
                "type": .string("crypt"), "offset": .string("17825792"), "size": .string("dynamic"),
                "iv_tweak": .string("2048"), "encryption": .string("aes-xts-plain64"), "sector_size": .integer(4096),
            ]))
        }
        #expect(try unlockError(scratch, dumpShows: "  1: crypt") == .unsupportedSegments("2 segments (klfs opens exactly one)"))
    }

    @Test func anUnknownKDFIsRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        try edit(scratch) { $0.set(["keyslots", "0", "kdf"], to: .object(["type": .string("scrypt")])) }
        #expect(try unlockError(scratch, dumpShows: "PBKDF:      scrypt") == .unsupportedKDF("scrypt"))
    }

    /// Hostile values are refused before they cost anything.
    @Test func hostileKeyslotValuesAreRefused() throws {
        let scratch = LUKS2Scratch()
        try image(scratch)
        try edit(scratch) { $0.set(["keyslots", "0", "area", "offset"], to: .string("16777000")) }
        #expect(try unlockError(scratch, dumpShows: "Area offset:16777000")
            == .unsupportedKeyslot(id: "0", reason: "its area overlaps the data segment"))
        try edit(scratch) { json in
            json.set(["keyslots", "0", "area", "offset"], to: .string("32768"))
            json.set(["keyslots", "0", "kdf"], to: LUKS2KDFParameters.argon2(.argon2id, time: 4, memoryKiB: 8 << 20, threads: 4,
                                                                             salt: [UInt8](repeating: 1, count: 32)).json)
        }
        #expect(try unlockError(scratch, dumpShows: "Memory:     8388608")
            == .kdfFailed("argon2id time 4, memory 8388608 KiB, 4 threads out of range"))
        let file = try scratch.open(writable: true)
        let header = try LUKS2Header.read(from: file)
        var json = header.json
        json.set(["keyslots", "0", "af", "stripes"], to: .integer(1 << 40))
        #expect(luks2Error { _ = try header.replaced(by: json, in: file) }
            == .metadataInvalid("metadata.keyslots.0.af.stripes is missing or not an integer from 0 to 2^32-1"))
    }
}
