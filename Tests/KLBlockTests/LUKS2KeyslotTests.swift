import Foundation
@testable import KLBlock
import KLEngine
import KLTestSupport
import Testing

/// Keyslots added or removed by either tool are seen by the other.
@Suite(.enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct LUKS2KeyslotTests {
    /// A klfs-formatted image with passphrase "first" in keyslot 0.
    private func formatted(_ scratch: LUKS2Scratch) throws -> [UInt8] {
        let result = try fastFormatter().format(path: scratch.image, dataSize: 1 << 20, passphrase: secret("first"))
        return contents(result.volumeKey)
    }

    @Test func keyslotAddedByCryptsetupOpensInKlfs() throws {
        let scratch = LUKS2Scratch()
        let key = try formatted(scratch)
        try Cryptsetup.succeed(["luksAddKey", "--batch-mode", "--key-file", scratch.keyFile("first")] + Cryptsetup.fastArgon2i
            + [scratch.image, scratch.keyFile("second")])
        let file = try scratch.open()
        let header = try LUKS2Header.read(from: file)
        #expect(header.sequenceID > 1)
        let unlocked = try header.unlock(passphrase: secret("second"), in: file)
        #expect(unlocked.keyslot == 1 && contents(unlocked.volumeKey) == key)
        #expect(try header.unlock(passphrase: secret("first"), in: file).keyslot == 0)
    }

    @Test func keyslotAddedByKlfsOpensInCryptsetup() throws {
        let scratch = LUKS2Scratch()
        try Cryptsetup.format(scratch.image, keyFile: scratch.keyFile("first"), extra: Cryptsetup.fastPBKDF2)
        let key = try Cryptsetup.volumeKey(scratch.image, keyFile: scratch.keyFile("first"))
        let file = try scratch.open(writable: true)
        let before = try LUKS2Header.read(from: file)
        let added = try before.addKeyslot(passphrase: secret("second"), authority: .passphrase(secret("first")),
                                          kdf: fastLUKS2KDF, in: file)
        #expect(added.keyslot == 1 && added.header.sequenceID == before.sequenceID + 1)
        #expect(try Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("second"), keyslot: 1))
        #expect(try Cryptsetup.volumeKey(scratch.image, keyFile: scratch.keyFile("second")) == key)
        // The fields klfs does not model survive its rewrite.
        #expect(added.header.json["config"] == before.json["config"])
        #expect(added.header.json["segments"] == before.json["segments"])
    }

    @Test func keyslotAddedWithTheVolumeKeyOpensInCryptsetup() throws {
        let scratch = LUKS2Scratch()
        let key = try formatted(scratch)
        let file = try scratch.open(writable: true)
        let header = try LUKS2Header.read(from: file)
        let volumeKey = try key.withUnsafeBytes { try SecretBytes(copying: $0) }
        let added = try header.addKeyslot(passphrase: secret("by key"), authority: .volumeKey(volumeKey),
                                          kdf: .pbkdf2(hash: "sha256", iterations: 1000), keyslot: 5, in: file)
        #expect(added.keyslot == 5)
        #expect(try Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("by key"), keyslot: 5))
        let wrongKey = try SecretBytes.random(count: 64)
        #expect(luks2Error { _ = try added.header.addKeyslot(passphrase: secret("x"), authority: .volumeKey(wrongKey),
                                                             kdf: fastLUKS2KDF, in: file) } == .wrongVolumeKey)
        #expect(luks2Error { _ = try added.header.addKeyslot(passphrase: secret("x"), authority: .passphrase(secret("nope")),
                                                             kdf: fastLUKS2KDF, in: file) } == .wrongPassphrase)
    }

    @Test func removalByKlfsIsSeenByCryptsetup() throws {
        let scratch = LUKS2Scratch()
        _ = try formatted(scratch)
        let file = try scratch.open(writable: true)
        var header = try LUKS2Header.read(from: file)
        header = try header.addKeyslot(passphrase: secret("second"), authority: .passphrase(secret("first")),
                                       kdf: fastLUKS2KDF, in: file).header
        let area = try #require(header.metadata.keyslots[1]?.area)
        let areaBefore = try file.read(count: Int(area.size), at: Int(area.offset))
        header = try header.removeKeyslot(1, in: file)
        #expect(header.metadata.keyslots[1] == nil && header.metadata.digests[0]?.keyslots == [0])
        #expect(try !Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("second")))
        #expect(try Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("first")))
        let areaAfter = try file.read(count: Int(area.size), at: Int(area.offset))
        let areaOverwritten = areaAfter != areaBefore
        #expect(areaOverwritten)
    }

    @Test func removalByCryptsetupIsSeenByKlfs() throws {
        let scratch = LUKS2Scratch()
        _ = try formatted(scratch)
        try Cryptsetup.succeed(["luksAddKey", "--batch-mode", "--key-file", scratch.keyFile("first")] + Cryptsetup.fastPBKDF2
            + [scratch.image, scratch.keyFile("second")])
        try Cryptsetup.succeed(["luksRemoveKey", "--batch-mode", scratch.image, scratch.keyFile("first")])
        let file = try scratch.open()
        let header = try LUKS2Header.read(from: file)
        #expect(header.metadata.keyslots.keys.sorted() == [1])
        #expect(luks2Error { _ = try header.unlock(passphrase: secret("first"), in: file) } == .wrongPassphrase)
        #expect(try header.unlock(passphrase: secret("second"), in: file).keyslot == 1)
    }

    @Test func theLastKeyslotIsKeptUnlessForced() throws {
        let scratch = LUKS2Scratch()
        _ = try formatted(scratch)
        let file = try scratch.open(writable: true)
        let header = try LUKS2Header.read(from: file)
        #expect(luks2Error { _ = try header.removeKeyslot(0, in: file) } == .lastKeyslot(0))
        #expect(luks2Error { _ = try header.removeKeyslot(3, in: file) } == .keyslotNotFound(3))
        let emptied = try header.removeKeyslot(0, force: true, in: file)
        #expect(emptied.metadata.keyslots.isEmpty)
        #expect(luks2Error { _ = try emptied.unlock(passphrase: secret("first"), in: file) } == .noUsableKeyslot)
        #expect(try Cryptsetup.run(["luksDump", scratch.image]).status == 0)
    }

    /// New keyslots take the lowest free number and an area that overlaps
    /// none of the others, packed as cryptsetup packs them.
    @Test func newKeyslotAreasDoNotOverlap() throws {
        let scratch = LUKS2Scratch()
        _ = try formatted(scratch)
        let file = try scratch.open(writable: true)
        var header = try LUKS2Header.read(from: file)
        for passphrase in ["b", "c", "d"] {
            header = try header.addKeyslot(passphrase: secret(passphrase), authority: .passphrase(secret("first")),
                                           kdf: .pbkdf2(hash: "sha256", iterations: 1000), in: file).header
        }
        header = try header.removeKeyslot(1, in: file)
        header = try header.addKeyslot(passphrase: secret("e"), authority: .passphrase(secret("c")),
                                       kdf: .pbkdf2(hash: "sha256", iterations: 1000), in: file).header
        let areas = header.metadata.keyslots.values.sorted { $0.id < $1.id }.map { Int($0.area!.offset) }
        #expect(areas == [32768, 32768 + 258_048, 32768 + 2 * 258_048, 32768 + 3 * 258_048])
        for (passphrase, slot) in [("first", 0), ("e", 1), ("c", 2), ("d", 3)] {
            #expect(try Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile(passphrase), keyslot: slot))
        }
    }

    /// cryptsetup's priorities: "ignore" is tried only when named, "high" first.
    @Test func priorityIgnoreIsTriedOnlyWhenNamed() throws {
        let scratch = LUKS2Scratch()
        _ = try formatted(scratch)
        try Cryptsetup.succeed(["luksAddKey", "--batch-mode", "--key-file", scratch.keyFile("first")] + Cryptsetup.fastPBKDF2
            + [scratch.image, scratch.keyFile("first")])
        try Cryptsetup.succeed(["config", "--priority", "ignore", "--key-slot", "0", scratch.image])
        let file = try scratch.open()
        var header = try LUKS2Header.read(from: file)
        #expect(header.metadata.keyslots[0]?.priority == .ignore)
        #expect(try header.unlock(passphrase: secret("first"), in: file).keyslot == 1)
        #expect(try header.unlock(passphrase: secret("first"), keyslot: 0, in: file).keyslot == 0)
        try Cryptsetup.succeed(["config", "--priority", "prefer", "--key-slot", "0", scratch.image])
        header = try LUKS2Header.read(from: file)
        #expect(try header.unlock(passphrase: secret("first"), in: file).keyslot == 0)
    }

    /// A change based on a header cryptsetup has since rewritten is refused
    /// instead of undoing cryptsetup's change.
    @Test func aChangeBasedOnAnOutdatedHeaderIsRefused() throws {
        let scratch = LUKS2Scratch()
        _ = try formatted(scratch)
        let file = try scratch.open(writable: true)
        let outdated = try LUKS2Header.read(from: file)
        try Cryptsetup.succeed(["luksAddKey", "--batch-mode", "--key-file", scratch.keyFile("first")] + Cryptsetup.fastPBKDF2
            + [scratch.image, scratch.keyFile("theirs")])
        let now = try LUKS2Header.read(from: file).sequenceID
        #expect(luks2Error { _ = try outdated.addKeyslot(passphrase: secret("ours"), authority: .passphrase(secret("first")),
                                                         kdf: fastLUKS2KDF, in: file) }
            == .headerChanged(read: outdated.sequenceID, now: now))
        #expect(luks2Error { _ = try outdated.removeKeyslot(0, in: file) } == .headerChanged(read: outdated.sequenceID, now: now))
        #expect(try Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("theirs")))
    }
}
