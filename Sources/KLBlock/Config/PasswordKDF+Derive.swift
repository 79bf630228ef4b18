import CSodium
import KLEngine

extension PasswordKDF {
    /// The key-encryption key's size: one XChaCha20-Poly1305 key.
    static let keySize = 32

    /// A fresh random salt with the given cost.
    static func make(cost: Argon2idCost) -> PasswordKDF {
        PasswordKDF(cost: cost, salt: publicRandomBytes(saltSize))
    }

    /// Argon2id(passphrase, salt) in secret memory. The caller owns both
    /// the passphrase and the returned key and wipes them.
    func deriveKey(from passphrase: SecretBytes) throws(VolumeError) -> SecretBytes {
        requireSodium()
        let key = try engineCall { () throws(EngineError) in try SecretBytes(count: Self.keySize) }
        let status = key.withUnsafeMutableBytes { out in
            passphrase.withUnsafeBytes { password in
                crypto_pwhash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(out.count),
                              password.baseAddress!.assumingMemoryBound(to: CChar.self),
                              UInt64(password.count), salt, cost.opslimit, Int(cost.memlimit),
                              crypto_pwhash_ALG_ARGON2ID13)
            }
        }
        guard status == 0 else {
            // Whatever Argon2id left in the key dies here.
            key.wipe()
            throw .kdfFailed
        }
        return key
    }
}
