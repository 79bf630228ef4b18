import CSodium
import KLEngine

extension VolumeConfig {
    /// The check value of a 64-byte master key for this config, a keyed
    /// BLAKE2b-128 under the master key. Version 1 hashes a constant label,
    /// so it tells only a wrong key from the right one. Version 2 hashes a
    /// label, the associated data (every field but the wrapped key and the
    /// check) and the wrapped key's nonce and ciphertext: every other byte
    /// of meaning in the file, so that `mount --masterkey` refuses an
    /// altered klfs.conf as passphrase unlock does.
    func checkValue(of masterKey: SecretBytes) -> [UInt8] {
        requireSodium()
        var message = Array("klfs master key check v\(version)".utf8)
        if version >= 2 { message += associatedData + self.masterKey.nonce + self.masterKey.ciphertext }
        var check = [UInt8](repeating: 0, count: WrappedMasterKey.checkSize)
        masterKey.withUnsafeBytes { key in
            _ = crypto_generichash(&check, check.count, message, UInt64(message.count),
                                   key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count)
        }
        return check
    }

    /// Whether `masterKey` is this volume's key (and, from version 2, this
    /// config the one it was sealed into); constant time.
    func matches(_ masterKey: SecretBytes) -> Bool {
        masterKey.count == WrappedMasterKey.masterKeySize
            && sodium_memcmp(checkValue(of: masterKey), self.masterKey.check, WrappedMasterKey.checkSize) == 0
    }
}

extension WrappedMasterKey {
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
