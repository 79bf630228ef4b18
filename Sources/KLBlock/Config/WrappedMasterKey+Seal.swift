import CSodium
import KLEngine

extension WrappedMasterKey {
    /// The BLAKE2b input whose keyed hash is the check value.
    private static let checkLabel = Array("klfs master key check v1".utf8)

    /// The check value of a 64-byte master key.
    static func check(of masterKey: SecretBytes) -> [UInt8] {
        requireSodium()
        var check = [UInt8](repeating: 0, count: checkSize)
        masterKey.withUnsafeBytes { key in
            _ = crypto_generichash(&check, checkSize, checkLabel, UInt64(checkLabel.count),
                                   key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count)
        }
        return check
    }

    /// Whether `masterKey` is the key this check value was made from.
    func matches(_ masterKey: SecretBytes) -> Bool {
        let expected = Self.check(of: masterKey)
        return sodium_memcmp(expected, check, Self.checkSize) == 0
    }

    /// Seals the master key under `kek` with a fresh random nonce;
    /// `associatedData` authenticates the rest of the config.
    static func seal(_ masterKey: SecretBytes, kek: SecretBytes, check: [UInt8],
                     associatedData: [UInt8]) -> WrappedMasterKey {
        requireSodium()
        precondition(masterKey.count == masterKeySize && kek.count == PasswordKDF.keySize)
        let nonce = publicRandomBytes(nonceSize)
        var ciphertext = [UInt8](repeating: 0, count: ciphertextSize)
        var written: UInt64 = 0
        masterKey.withUnsafeBytes { plain in
            kek.withUnsafeBytes { key in
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    &ciphertext, &written, plain.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    UInt64(plain.count), associatedData, UInt64(associatedData.count), nil, nonce,
                    key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(written == UInt64(ciphertextSize))
        return WrappedMasterKey(nonce: nonce, ciphertext: ciphertext, check: check)
    }

    /// The master key in secret memory, owned by the caller, or
    /// ``VolumeError/wrongPassphrase`` when the tag does not verify (wrong
    /// KEK, or the ciphertext or associated data changed).
    func open(kek: SecretBytes, associatedData: [UInt8]) throws(VolumeError) -> SecretBytes {
        requireSodium()
        let masterKey = try engineCall { () throws(EngineError) in try SecretBytes(count: Self.masterKeySize) }
        var written: UInt64 = 0
        let status = masterKey.withUnsafeMutableBytes { plain in
            kek.withUnsafeBytes { key in
                crypto_aead_xchacha20poly1305_ietf_decrypt(
                    plain.baseAddress!.assumingMemoryBound(to: UInt8.self), &written, nil,
                    ciphertext, UInt64(ciphertext.count), associatedData, UInt64(associatedData.count),
                    nonce, key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard status == 0, written == UInt64(Self.masterKeySize) else {
            // libsodium writes nothing on failure; wipe anyway.
            masterKey.wipe()
            throw .wrongPassphrase
        }
        return masterKey
    }
}
