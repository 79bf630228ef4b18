import Foundation
@testable import KLBlock
import KLEngine
import Testing

/// The building blocks against published values, independent of cryptsetup.
@Suite struct LUKS2PrimitiveTests {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The reference implementation's README example: argon2i, "password",
    /// salt "somesalt", 2 passes, 64 MiB, 4 lanes (several lanes are why
    /// klfs uses libargon2), 24 bytes.
    @Test func argon2iMatchesTheReferenceExample() throws {
        let kdf = LUKS2KDFParameters.argon2(.argon2i, time: 2, memoryKiB: 65536, threads: 4, salt: Array("somesalt".utf8))
        let key = try kdf.deriveKey(passphrase: secret("password"), size: 24)
        #expect(hex(contents(key)) == "45d7ac72e76f242b20b77b9bf9bf9d5915894e669a24e6c6")
    }

    /// RFC 6070's PBKDF2-HMAC-SHA1 vectors.
    @Test func pbkdf2MatchesRFC6070() throws {
        for (iterations, expected) in [(1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
                                       (2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957")] {
            let kdf = LUKS2KDFParameters.pbkdf2(hash: "sha1", iterations: iterations, salt: Array("salt".utf8))
            #expect(hex(contents(try kdf.deriveKey(passphrase: secret("password"), size: 20))) == expected)
        }
    }

    /// Split then merge gives the key back, for a hash whose digest does and
    /// does not divide the key size; the material is random apart from the
    /// key, so two splits differ.
    @Test(arguments: ["sha1", "sha256", "sha512"])
    func afSplitThenMergeGivesTheKeyBack(hash name: String) throws {
        let hash = try LUKS2Hash(named: name)
        let key = try SecretBytes.random(count: 64)
        let material = try LUKS2AFSplitter.split(key, stripes: 4000, hash: hash)
        #expect(material.count == 256_000)
        let again = try LUKS2AFSplitter.split(key, stripes: 4000, hash: hash)
        #expect(contents(material) != contents(again))
        #expect(contents(try LUKS2AFSplitter.merge(material, keySize: 64, stripes: 4000, hash: hash)) == contents(key))
        #expect(contents(try LUKS2AFSplitter.merge(again, keySize: 64, stripes: 4000, hash: hash)) == contents(key))
    }

    @Test func binaryHeaderRoundTrips() throws {
        let header = LUKS2BinaryHeader(copy: .secondary, headerSize: 16384, sequenceID: 7, label: "data", uuid: "u-u-i-d",
                                       subsystem: "klfs", salt: [UInt8](repeating: 9, count: 64))
        let bytes = header.serialized()
        #expect(Array(bytes[0..<6]) == LUKS2BinaryHeader.secondaryMagic && bytes.count == 4096)
        #expect(LUKS2BinaryHeader(bytes: bytes[...], copy: .secondary) == header)
        #expect(LUKS2BinaryHeader(bytes: bytes[...], copy: .primary) == nil)
        #expect(header.headerOffset == 16384)
    }

    @Test func unsupportedHashesAreRefused() {
        for name in ["ripemd160", "whirlpool", "md5", "SHA256"] {
            #expect(luks2Error { _ = try LUKS2Hash(named: name) } == .unsupportedHash(name))
        }
    }
}
