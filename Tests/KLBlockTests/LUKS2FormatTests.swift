import Foundation
@testable import KLBlock
import KLEngine
import KLTestSupport
import Testing

/// Images klfs formats are LUKS2 images as cryptsetup understands them.
@Suite(.enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct LUKS2FormatTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var sectorSize: Int
        var kdf: LUKS2KeyslotKDF
        var testDescription: String { "\(kdf), \(sectorSize)-byte sectors" }
    }

    static let cases = [
        Case(sectorSize: 512, kdf: fastLUKS2KDF),
        Case(sectorSize: 4096, kdf: .argon2(.argon2i, time: 4, memoryKiB: 64, threads: 3)),
        Case(sectorSize: 4096, kdf: .pbkdf2(hash: "sha256", iterations: 1000)),
        Case(sectorSize: 512, kdf: .pbkdf2(hash: "sha512", iterations: 1000)),
    ]

    @Test(arguments: cases)
    func cryptsetupAcceptsTheImageAndReportsOurVolumeKey(_ testCase: Case) throws {
        let scratch = LUKS2Scratch()
        let formatted = try fastFormatter(sectorSize: testCase.sectorSize, kdf: testCase.kdf)
            .format(path: scratch.image, dataSize: 1 << 20, passphrase: secret("format me"))
        let key = contents(formatted.volumeKey)

        let dump = try Cryptsetup.succeed(["luksDump", scratch.image]).output
        #expect(dump.contains("sector: \(testCase.sectorSize) [bytes]"))
        #expect(dump.contains("offset: \(LUKS2Layout.dataOffset) [bytes]"))
        #expect(try Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("format me")))
        #expect(try !Cryptsetup.acceptsPassphrase(scratch.image, keyFile: scratch.keyFile("format you")))
        #expect(try Cryptsetup.volumeKey(scratch.image, keyFile: scratch.keyFile("format me")) == key)

        let file = try scratch.open()
        let unlocked = try LUKS2Header.read(from: file).unlock(passphrase: secret("format me"), in: file)
        #expect(contents(unlocked.volumeKey) == key)
    }

    @Test func dumpOfAKlfsImageShowsWhatLuksDumpShows() throws {
        let scratch = LUKS2Scratch()
        let formatted = try fastFormatter(sectorSize: 512).format(path: scratch.image, dataSize: 0, passphrase: secret("p"))
        _ = try formatted.header.addKeyslot(passphrase: secret("q"), authority: .passphrase(secret("p")),
                                            kdf: .pbkdf2(hash: "sha256", iterations: 1000), in: scratch.open(writable: true))
        try expectDumpMatchesLuksDump(scratch.image)
    }

    /// The layout is cryptsetup's default, byte for byte where it is fixed.
    @Test func layoutIsCryptsetupsDefault() throws {
        let scratch = LUKS2Scratch()
        let formatted = try fastFormatter().format(path: scratch.image, dataSize: 4 << 20, passphrase: secret("p"))
        let header = formatted.header
        #expect(header.headerSize == 16384 && header.sequenceID == 1)
        #expect(header.metadata.config.jsonSize == 12288 && header.metadata.config.keyslotsSize == 16_744_448)
        #expect(header.metadata.keyslots[0]?.area == .init(type: "raw", offset: 32768, size: 258_048,
                                                            encryption: "aes-xts-plain64", keySize: 64))
        #expect(header.metadata.keyslots[0]?.antiForensic == .init(type: "luks1", stripes: 4000, hash: "sha256"))
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.image)
        #expect((attributes[.size] as? Int) == (16 << 20) + (4 << 20))
        let reread = try scratch.header()
        #expect(reread.primary == .valid && reread.secondary == .valid && reread.uuid == header.uuid)
    }

    /// Sectors encrypted with the volume key at the segment's geometry
    /// (offset, sector size, tweak = LE64 sector number) decrypt with
    /// OpenSSL's EVP aes-256-xts: the geometry image mode uses is dm-crypt's.
    @Test(arguments: [512, 4096])
    func segmentGeometryMatchesOpenSSL(sectorSize: Int) throws {
        let scratch = LUKS2Scratch()
        let formatted = try fastFormatter(sectorSize: sectorSize)
            .format(path: scratch.image, dataSize: 64 * sectorSize, passphrase: secret("geometry"))
        let segment = try formatted.header.metadata.requireSupported()
        #expect(segment.sectorCount(imageSize: UInt64(LUKS2Layout.dataOffset + 64 * sectorSize)) == 64)
        let engineKey = try xtsKey(formatted.volumeKey)
        let file = try scratch.open(writable: true)
        let sectors: [UInt64] = [0, 1, 37, 63]
        var plaintexts: [[UInt8]] = []
        for sector in sectors {
            let plaintext = (0..<sectorSize).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(sector)) }
            var ciphertext = [UInt8](repeating: 0, count: sectorSize)
            try plaintext.withUnsafeBytes { input in
                try ciphertext.withUnsafeMutableBytes { output in
                    try engineKey.crypt(.encrypt, input, into: output, dataUnitSize: sectorSize,
                                        firstDataUnit: segment.dataUnit(ofSector: sector))
                }
            }
            try file.write(ciphertext, at: Int(segment.byteOffset(ofSector: sector)))
            plaintexts.append(plaintext)
        }
        let oracle = formatted.volumeKey.withUnsafeBytes { OpenSSLXTS(key: $0, direction: .decrypt) }
        for (sector, plaintext) in zip(sectors, plaintexts) {
            let stored = try file.read(count: sectorSize, at: LUKS2Layout.dataOffset + Int(sector) * sectorSize)
            var decrypted = [UInt8](repeating: 0, count: sectorSize)
            stored.withUnsafeBytes { input in
                decrypted.withUnsafeMutableBytes { output in
                    oracle.crypt(input, into: output, dataUnitSize: sectorSize, firstDataUnit: UInt128(sector))
                }
            }
            let decryptsToPlaintext = decrypted == plaintext
            #expect(decryptsToPlaintext, "sector \(sector)")
        }
    }

    @Test func formatTakesAGivenVolumeKeyAndRefusesAnExistingFile() throws {
        let scratch = LUKS2Scratch()
        let given = try SecretBytes.random(count: 64)
        let formatted = try fastFormatter().format(path: scratch.image, dataSize: 0, passphrase: secret("k"), volumeKey: given)
        #expect(contents(formatted.volumeKey) == contents(given))
        #expect(try Cryptsetup.volumeKey(scratch.image, keyFile: scratch.keyFile("k")) == contents(given))
        #expect(luks2Error { _ = try fastFormatter().format(path: scratch.image, dataSize: 0, passphrase: secret("k")) }
            == .imageExists(path: scratch.image))
        #expect(luks2Error { _ = try fastFormatter(sectorSize: 1024).format(path: scratch.image + "2", dataSize: 0, passphrase: secret("k")) }
            == .unsupportedSectorSize(1024))
    }

    @Test func defaultArgon2idCostsFollowTheDocumentedRule() {
        guard case .argon2(let variant, let time, let memoryKiB, let threads) = LUKS2KeyslotKDF.defaultArgon2id() else {
            Issue.record("the default KDF is not argon2")
            return
        }
        #expect(variant == .argon2id && time == 4)
        #expect((64 * 1024...1024 * 1024).contains(memoryKiB))
        #expect((1...4).contains(threads))
    }
}

/// The volume key as a keylocker-soft XTS key (the engine copies and wipes
/// its inputs, so the halves are copied out first).
func xtsKey(_ volumeKey: SecretBytes) throws -> any XTSKey {
    let halves = try volumeKey.withUnsafeBytes { key in
        (try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: key[0..<32])),
         try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: key[32..<64])))
    }
    return try SoftKeyLockerEngine().makeKey(dataKey: halves.0, tweakKey: halves.1)
}
