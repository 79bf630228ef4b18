import CSodium
import KLEngine

/// The names key: 32 bytes derived from the 64-byte master key once, at
/// unlock, while the master key still exists, and wrapped at once into the
/// engine's form (a Key Locker handle). Deriving it keeps the config format
/// (one 64-byte master key) and keeps the master key's life as short as
/// before.
enum NamesKey {
    /// The BLAKE2b input whose keyed hash is the names key.
    static let label = Array("klfs names key v1".utf8)
    static let size = 32

    /// BLAKE2b-256(key = master key, message = label), in secret memory
    /// owned by the caller.
    static func derive(from masterKey: SecretBytes) throws(EngineError) -> SecretBytes {
        requireSodium()
        let namesKey = try SecretBytes(count: size)
        namesKey.withUnsafeMutableBytes { out in
            masterKey.withUnsafeBytes { key in
                _ = crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), size,
                                       label, UInt64(label.count),
                                       key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count)
            }
        }
        return namesKey
    }
}
