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

    /// Every digest, `plain`, and `NAME:N` (the first N key bytes hashed,
    /// zeros after them), as libcryptsetup reads the same --hash.
    @Test(arguments: PlainHash.allCases.map(\.rawValue) + ["plain", "plain:32", "sha256:32", "ripemd160:20", "sha512:1", "sha1:63"])
    func passphraseKeyEqualsCryptsetups(hashName: String) throws {
        let hash = try PlainPassphraseHash(parsing: hashName)
        #expect(hash.description == hashName)
        for passphrase in Self.passphrases where hash.function != .passphraseItself || passphrase.count >= hash.length {
            let derived = try PlainKeyDerivation.key(fromPassphrase: try secret(passphrase), hash: hash)
            let expected = try CryptsetupPlainKey.derive(hash: hashName, passphrase: passphrase)
            #expect(derived.withUnsafeBytes { Array($0) } == expected, "hash \(hashName), passphrase of \(passphrase.count) bytes")
        }
    }

    /// cryptsetup fails too (EINVAL) when `plain` has fewer bytes than it needs.
    @Test func plainHashRefusesAShortPassphrase() throws {
        #expect(throws: ImageError.passphraseTooShort(needed: 32, available: 28)) {
            try PlainKeyDerivation.key(fromPassphrase: try secret(Self.passphrases[1]), hash: PlainPassphraseHash(parsing: "plain:32"))
        }
        #expect(throws: (any Error).self) { try CryptsetupPlainKey.derive(hash: "plain:32", passphrase: Self.passphrases[1]) }
    }

    @Test(arguments: ["sha3-256", "sha256:0", "sha256:65", "sha256:", "sha256:x", ":32", "RIPEMD160"])
    func unknownHashesAndLengthsAreRefused(text: String) {
        #expect(throws: ImageError.self) { try PlainPassphraseHash(parsing: text) }
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
