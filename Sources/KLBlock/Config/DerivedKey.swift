import CSodium
import KLEngine

/// The keys derived from the 64-byte master key at unlock, while it still
/// exists, each wrapped at once into the engine's form (a Key Locker
/// handle): BLAKE2b-256 keyed with the master key over a label naming the
/// key. Deriving them keeps the config format (one 64-byte master key) and
/// keeps the master key's life as short as before. Each label is a distinct
/// message, so the keys are independent of each other and of the check
/// value (CONFIG.md), which hashes yet another label.
enum DerivedKey: String {
    /// EME of file names (FORMAT.md, "Names").
    case names = "klfs names key v1"
    /// EME of version 2 file headers (FORMAT.md, "Header record").
    case headers = "klfs header key v2"
    /// EME of version 2 extended attribute names (FORMAT.md, "Extended attributes").
    case extendedAttributeNames = "klfs xattr key v2"

    static let size = 32

    /// BLAKE2b-256(key = master key, message = this key's label), in secret
    /// memory owned by the caller.
    func derive(from masterKey: SecretBytes) throws(EngineError) -> SecretBytes {
        requireSodium()
        let label = Array(rawValue.utf8)
        let key = try SecretBytes(count: Self.size)
        key.withUnsafeMutableBytes { out in
            masterKey.withUnsafeBytes { master in
                _ = crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.size,
                                       label, UInt64(label.count),
                                       master.baseAddress!.assumingMemoryBound(to: UInt8.self), master.count)
            }
        }
        return key
    }
}
