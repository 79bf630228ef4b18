import COpenSSL
import Foundation
@testable import KLBlock
import KLEngine
import Testing

/// Version 2 extended attributes at the library level: names under EME
/// with the xattr key and a zero tweak, values sealed as one XTS data unit
/// at sector 2^64 - 2, the limits, and what klfs did not write.
@Suite struct ExtendedAttributeCipherTests {
    static let nameKey = (0..<32).map { UInt8(truncatingIfNeeded: $0 * 13 + 7) }
    static let engines = [EngineKind.keylocker, .keylockerSoft, .aesni]

    /// The cipher of `engine` for the fixed raw keys (the keylocker engine
    /// under the emulator; CPUID faulting is per thread).
    func cipher(_ engine: EngineKind = .keylockerSoft, nameKey: [UInt8] = nameKey) throws -> ExtendedAttributeCipher {
        try KeyLockerEmulator.install()
        let key = try nameKey.withUnsafeBytes { try SecretBytes(copying: $0) }
        return ExtendedAttributeCipher(nameKey: try makeEngine(engine).makeBlockKey(key),
                                       contentsKey: try CipherFileFixture.key(engine))
    }

    /// `user.` and `length` bytes, cycling through every byte value but NUL.
    static func name(length: Int, start: Int = 0) -> [UInt8] {
        Array("user.".utf8) + (0..<length).map { UInt8((start + $0) % 255 + 1) }
    }

    @Test func namesRoundTripUpTo175BytesAlikeOnEveryEngine() throws {
        var backingNames: [[[UInt8]]] = []
        for engine in Self.engines {
            let cipher = try cipher(engine)
            var names: [[UInt8]] = []
            for length in 1...ExtendedAttributeCipher.maxNameLength {
                for start in stride(from: 0, to: 255, by: max(length, 64)) {
                    let name = Self.name(length: length, start: start)
                    let backing = try cipher.encryptName(name)
                    #expect(backing.starts(with: Array("user.klfs.".utf8)))
                    #expect(backing.count == 10 + ((length / 16 + 1) * 16 * 4 + 2) / 3)
                    #expect(backing.count <= 245)
                    #expect(try cipher.encryptName(name) == backing, "the tweak is constant")
                    #expect(try cipher.decryptName(backing) == name, "\(engine) length \(length)")
                    names.append(backing)
                }
            }
            backingNames.append(names)
        }
        #expect(Set(backingNames).count == 1, "every engine encrypts names alike")
    }

    @Test func namesOutsideTheUserNamespaceOrOfTheWrongLengthAreRefused() throws {
        let cipher = try cipher()
        for other in ["security.capability", "trusted.x", "system.posix_acl_access", "user", "users.x", "USER.x", ""] {
            #expect(throws: ExtendedAttributeError.otherNamespace) { try cipher.encryptName(Array(other.utf8)) }
        }
        #expect(throws: ExtendedAttributeError.emptyName) { try cipher.encryptName(Array("user.".utf8)) }
        #expect(throws: ExtendedAttributeError.nameTooLong) {
            try cipher.encryptName(Self.name(length: ExtendedAttributeCipher.maxNameLength + 1))
        }
    }

    /// EME has no tag: an altered backing name is refused unless it
    /// happens to decrypt to valid padding, and never yields the original.
    /// Names of other namespaces, plaintext user names, text that is not
    /// base64url of whole blocks, and names under another key are refused.
    @Test func backingNamesKlfsDidNotWriteAreRefused() throws {
        let cipher = try cipher()
        let name = Array("user.a fairly long attribute name".utf8)
        let backing = try cipher.encryptName(name)
        var refused = 0
        for index in 10..<backing.count {
            var altered = backing
            altered[index] = altered[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            do {
                #expect(try cipher.decryptName(altered) != name)
            } catch {
                refused += 1
            }
        }
        #expect(refused >= backing.count - 10 - 2)
        let otherKey = try self.cipher(nameKey: [UInt8](repeating: 9, count: 32))
        #expect(throws: ExtendedAttributeError.self) { try otherKey.decryptName(backing) }
        for foreign in ["security.selinux", "user.colour", "user.klfs.", "user.klfs.AAAA", "user.klfs.AAAAAAAAAAAAAAAAAAAAAA==",
                        "trusted.klfs." + String(decoding: backing.dropFirst(10), as: UTF8.self)] {
            #expect(throws: ExtendedAttributeError.self) { try cipher.decryptName(Array(foreign.utf8)) }
        }
    }

    @Test func valuesRoundTripOnEveryEngineWithAFreshNonceEachTime() throws {
        let ciphers = try Self.engines.map { try cipher($0) }
        for length in [0, 1, 15, 16, 17, 255, 4096, ExtendedAttributeCipher.maxValueSize] {
            let value = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 17) }
            for (sealer, opener) in zip(ciphers, ciphers.dropFirst() + ciphers.prefix(1)) {
                let stored = try sealer.encryptValue(value)
                #expect(stored.count == 8 + (length / 16 + 1) * 16)
                #expect(try opener.decryptValue(stored) == value, "length \(length)")
                #expect(try sealer.encryptValue(value) != stored)
            }
        }
    }

    /// The largest value seals to 8 + 65520 bytes, within the 65536 the
    /// kernel passes to a filesystem; one byte more would need 65544.
    @Test func theLargestValueFitsTheBackingLimitAndOneByteMoreIsRefused() throws {
        let cipher = try cipher()
        #expect(ExtendedAttributeCipher.maxValueSize == 65519)
        let largest = [UInt8](repeating: 0xC3, count: ExtendedAttributeCipher.maxValueSize)
        #expect(try cipher.encryptValue(largest).count == 65528)
        #expect(throws: ExtendedAttributeError.valueTooLarge) { try cipher.encryptValue(largest + [0]) }
    }

    /// FORMAT.md's value construction, checked with OpenSSL: N, then one
    /// AES-256-XTS data unit under K1 || K2 with the IV fe ff .. ff || N.
    @Test func openSSLDecryptsAValueAsOneDataUnitAtSector2To64Minus2() throws {
        let value = Array("binary \u{0}\u{1}\u{FF} value of some length".utf8)
        let stored = try cipher().encryptValue(value)
        let iv = [0xFE] + [UInt8](repeating: 0xFF, count: 7) + stored[0..<8]
        let ciphertext = Array(stored[8...])
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        #expect(EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil, CipherFileFixture.rawKey, iv, 0) == 1)
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        var written: Int32 = 0
        #expect(EVP_CipherUpdate(context, &plaintext, &written, ciphertext, Int32(ciphertext.count)) == 1)
        let padding = 16 - value.count % 16
        #expect(plaintext == value + [UInt8](repeating: UInt8(padding), count: padding))
    }

    /// Lengths no sealed value has are refused outright; a symlink target
    /// sealed under the same key (sector 2^64 - 1) never opens as the value.
    @Test func malformedOrMisplacedValuesAreRefused() throws {
        let cipher = try cipher()
        let stored = try cipher.encryptValue(Array("blue".utf8))
        for malformed in [[], Array(stored.prefix(7)), Array(stored.prefix(8)), Array(stored.dropLast()), stored + [0]] {
            #expect(throws: ExtendedAttributeError.self) { try cipher.decryptValue(malformed) }
        }
        let target = try SealedDataUnit.seal(Array("blue".utf8), as: .symlinkTarget, key: CipherFileFixture.key())
        #expect((try? cipher.decryptValue(target)) != Array("blue".utf8))
    }
}
