import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing

/// Name encryption at the library level: EME through each engine's
/// single-block key, padding, base64url, long names, symlink targets.
@Suite struct NameCipherTests {
    static let namesKey = (0..<32).map { UInt8(truncatingIfNeeded: $0 * 11 + 5) }

    /// Each engine's name cipher for the same raw names key (the keylocker
    /// engine under the emulator; CPUID faulting is per thread).
    func ciphers() throws -> [NameCipher] {
        try KeyLockerEmulator.install()
        return try [EngineKind.keylocker, .keylockerSoft, .aesni].map { kind in
            let key = try Self.namesKey.withUnsafeBytes { try SecretBytes(copying: $0) }
            return NameCipher(key: try makeEngine(kind).makeBlockKey(key))
        }
    }

    /// The 254 byte values a name may hold: all but NUL and '/'.
    static let nameBytes = (1...255).map(UInt8.init).filter { $0 != UInt8(ascii: "/") }

    @Test func namesRoundTripAtEveryLengthOverEveryByteValueOnEveryEngine() throws {
        let iv = (0..<16).map { UInt8($0 ^ 0xA5) }
        var encodings: [[String]] = []
        for cipher in try ciphers() {
            var encoded: [String] = []
            for length in 1...255 {
                // Enough names of this length that every byte value occurs.
                for start in stride(from: 0, to: Self.nameBytes.count, by: length) {
                    let name = (0..<length).map { Self.nameBytes[(start + $0) % Self.nameBytes.count] }
                    // "." and ".." name directories themselves, never files.
                    if name == Array(".".utf8) || name == Array("..".utf8) { continue }
                    let text = try cipher.encrypt(name, directoryIV: iv)
                    #expect(text.utf8.allSatisfy { Base64URLTests.alphabet.contains($0) })
                    #expect(text.utf8.count == (((length / 16 + 1) * 16) * 4 + 2) / 3)
                    #expect(try cipher.decrypt(text.utf8, directoryIV: iv) == name, "length \(length) start \(start)")
                    encoded.append(text)
                }
            }
            encodings.append(encoded)
        }
        #expect(Set(encodings.map { $0.joined(separator: "/") }).count == 1, "every engine encrypts names alike")
    }

    @Test func identicalNamesInTwoDirectoriesEncryptDifferently() throws {
        let cipher = try ciphers()[1]
        let first = DirectoryIV.random(), second = DirectoryIV.random()
        let name = Array("report.txt".utf8)
        #expect(try cipher.encrypt(name, directoryIV: first) == cipher.encrypt(name, directoryIV: first))
        #expect(try cipher.encrypt(name, directoryIV: first) != cipher.encrypt(name, directoryIV: second))
    }

    /// EME has no tag: an altered name decrypts to unrelated bytes, which
    /// are refused unless they happen to end in valid padding (about 1 in
    /// 256). So: an altered name never yields the original, nearly every
    /// one is refused, and another directory's IV, another key, or text
    /// that is not canonical base64url of whole blocks is refused. Key and
    /// IVs are fixed, so the outcome is too.
    @Test func foreignOrAlteredNamesAreRefused() throws {
        let cipher = try ciphers()[2]
        let iv = [UInt8](repeating: 0x42, count: 16), otherIV = [UInt8](repeating: 0x43, count: 16)
        let name = Array("a fairly long file name.txt".utf8)
        let text = Array(try cipher.encrypt(name, directoryIV: iv).utf8)
        var refused = 0
        for index in text.indices {
            var altered = text
            altered[index] = altered[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            do {
                #expect(try cipher.decrypt(altered, directoryIV: iv) != name)
            } catch {
                refused += 1
            }
        }
        #expect(refused >= text.count - 2)
        #expect(throws: NameError.self) { try cipher.decrypt(text, directoryIV: otherIV) }
        let otherKey = try [UInt8](repeating: 9, count: 32).withUnsafeBytes { try SecretBytes(copying: $0) }
        let other = NameCipher(key: try AESNIEngine().makeBlockKey(otherKey))
        #expect(throws: NameError.self) { try other.decrypt(text, directoryIV: iv) }
        for foreign in ["hello.txt", "", "abc", "AAAAAAAAAAAAAAAAAAAAAA==", String(repeating: "A", count: 400),
                        String(decoding: text.dropLast(), as: UTF8.self)] {
            #expect(throws: NameError.self) { try cipher.decrypt(Array(foreign.utf8), directoryIV: iv) }
        }
        #expect(throws: NameError.nameTooLong) { try cipher.encrypt([UInt8](repeating: 65, count: 256), directoryIV: iv) }
    }

    @Test func longNamesAreHashedWithASidecarThatMustMatch() throws {
        let cipher = try ciphers()[1]
        let iv = DirectoryIV.random()
        let short = try cipher.encrypt([UInt8](repeating: 65, count: 175), directoryIV: iv)
        let long = try cipher.encrypt([UInt8](repeating: 65, count: 176), directoryIV: iv)
        #expect(short.utf8.count == 235 && long.utf8.count == 256)
        let hashed = LongName.hashedName(of: long)
        #expect(hashed.utf8.count == LongName.prefix.utf8.count + 43 && LongName.isHashedName(hashed))
        #expect(LongName.isSidecar(LongName.sidecarName(of: hashed)) && !LongName.isHashedName(LongName.sidecarName(of: hashed)))

        let directory = TemporaryDirectory()
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        #expect(LongName.writeSidecar(long, for: hashed, in: fd) == 0)
        #expect(LongName.writeSidecar(long, for: hashed, in: fd) == EEXIST)
        #expect(LongName.readSidecar(for: hashed, in: fd) == long)
        // A sidecar whose contents do not hash to its name is not believed.
        let other = LongName.hashedName(of: short)
        _ = directory.write(LongName.sidecarName(of: other), Array(long.utf8))
        #expect(LongName.readSidecar(for: other, in: fd) == nil)
    }

    @Test func symlinkTargetsRoundTripWithAFreshNonceEachTime() throws {
        try KeyLockerEmulator.install()
        for kind in [EngineKind.keylocker, .keylockerSoft, .aesni] {
            let raw = (0..<64).map { UInt8($0) }
            let key = try raw.withUnsafeBytes { bytes in
                try makeEngine(kind).makeKey(dataKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[..<32])),
                                             tweakKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[32...])))
            }
            for length in [1, 15, 16, 17, 255, 1000, SymlinkTarget.maxTargetLength] {
                let target = (0..<length).map { Self.nameBytes[$0 % Self.nameBytes.count] }
                let stored = try SymlinkTarget.encrypt(target, key: key)
                #expect(stored.utf8.count < Int(PATH_MAX))
                #expect(try SymlinkTarget.decrypt(Array(stored.utf8), key: key) == target, "\(kind) length \(length)")
                #expect(try SymlinkTarget.encrypt(target, key: key) != stored)
            }
            #expect(throws: NameError.nameTooLong) {
                try SymlinkTarget.encrypt([UInt8](repeating: 65, count: SymlinkTarget.maxTargetLength + 1), key: key)
            }
        }
    }

    /// New volumes record the flag, get a root IV and a names key; a
    /// volume without the flag (made by --plaintext-names, or before name
    /// encryption existed) unlocks with plaintext names.
    @Test func theFeatureFlagDecidesWhetherNamesAreEncrypted() throws {
        let directory = TemporaryDirectory()
        for encrypted in [true, false] {
            let cipherDir = directory.subdirectory(encrypted ? "encrypted" : "plain")
            let created = try Volume.create(cipherDir: cipherDir, passphrase: secret("pw"), kdf: fastKDF,
                                            flags: encrypted ? [VolumeConfig.encryptedNamesFlag] : [])
            created.masterKeyText.wipe()
            #expect(created.config.encryptsNames == encrypted)
            #expect(FileManager.default.fileExists(atPath: cipherDir + "/" + DirectoryIV.fileName) == encrypted)
            let unlocked = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("pw"), engine: try makeEngine(EngineKind.keylockerSoft))
            #expect((unlocked.names != nil) == encrypted)
        }
    }
}

@Suite struct Base64URLTests {
    static let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    @Test func matchesFoundationAndRefusesNonCanonicalText() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == expected)
            #expect(Base64URL.decode(Array(expected.utf8)) == bytes)
        }
        for bad in ["A", "AB=", "AB+", "AB/", "AB.", "AF", "AAB"] {
            #expect(Base64URL.decode(Array(bad.utf8)) == nil, "\(bad)")
        }
    }
}
