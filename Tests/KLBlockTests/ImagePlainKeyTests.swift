import Foundation
import KLBlock
import KLEngine
import KLTestSupport
import Testing

/// Plain mode's key derivation against libcryptsetup's own
/// (``CryptsetupPlainKey``), for every hash, passphrases shorter and
/// longer than a digest, and keyfiles with offsets and size limits.
@Suite struct ImagePlainKeyTests {
    static let passphrases: [[UInt8]] = [Array("x".utf8), Array("correct horse battery staple".utf8),
                                         Array(repeating: 0xC3, count: 300), Array(0...255)]

    @Test(arguments: PlainHash.allCases)
    func passphraseKeyEqualsCryptsetups(hash: PlainHash) throws {
        for passphrase in Self.passphrases {
            let derived = try PlainKeyDerivation.key(fromPassphrase: try secret(passphrase), hash: hash)
            let expected = try CryptsetupPlainKey.derive(hash: hash.rawValue, passphrase: passphrase)
            #expect(derived.withUnsafeBytes { Array($0) } == expected, "hash \(hash), passphrase of \(passphrase.count) bytes")
        }
    }

    /// cryptsetup passes a plain-mode keyfile through unhashed: libcryptsetup's
    /// "plain" hash applied to the bytes after the offset gives its key.
    @Test func keyfileBytesAreTheKey() throws {
        let bytes = (0..<200).map { UInt8(($0 * 37 + 11) & 0xFF) }
        let path = try temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for offset in [0, 7, 136] {
            let derived = try PlainKeyDerivation.key(fromKeyfile: path, offset: offset)
            let expected = try CryptsetupPlainKey.derive(hash: "plain", passphrase: Array(bytes[offset...]))
            #expect(derived.withUnsafeBytes { Array($0) } == expected, "offset \(offset)")
        }
    }

    @Test func shortKeyfilesAreRefused() throws {
        let path = try temporaryFile(Array(repeating: 1, count: 100))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ImageError.keyfileTooShort(path: path, needed: 64, available: 36)) {
            try PlainKeyDerivation.key(fromKeyfile: path, offset: 64)
        }
        #expect(throws: ImageError.keyfileTooShort(path: path, needed: 64, available: 63)) {
            try PlainKeyDerivation.key(fromKeyfile: path, sizeLimit: 63)
        }
    }

    private func secret(_ bytes: [UInt8]) throws -> SecretBytes {
        try bytes.withUnsafeBytes { try SecretBytes(copying: $0) }
    }

    private func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "klfs-keyfile-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
