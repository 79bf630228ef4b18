import Glibc
import KLEngine

/// The volume key of `cryptsetup open --type plain --cipher aes-xts-plain64
/// --key-size 512`, as cryptsetup's documentation and its crypt_plain.c
/// describe it:
///
/// - a passphrase (one line: terminal, --passfile, --extpass) is hashed
///   with --hash. A digest shorter than the key fills it in rounds: round
///   r hashes r bytes "A" followed by the passphrase (hashalot's scheme,
///   which keeps the rounds distinct), and its digest is appended, the
///   last one cut to what the key still needs. ripemd160 (20 bytes) takes
///   four rounds for 64 bytes, sha256 two, sha512 one. `--hash plain`
///   copies the passphrase's first bytes instead, and `:N` after the name
///   fills only N bytes of the key that way, zeros after them
///   (``PlainPassphraseHash``).
/// - a keyfile (--keyfile) is not hashed: its bytes are the key as they
///   are (cryptsetup ignores --hash with a keyfile in plain mode), read
///   from --keyfile-offset, at most --keyfile-size bytes of it.
public enum PlainKeyDerivation {
    public static let keySize = 64

    /// The key from `passphrase` (which stays the caller's to wipe).
    public static func key(fromPassphrase passphrase: SecretBytes,
                           hash: PlainPassphraseHash) throws(ImageError) -> SecretBytes {
        // Zeroed: the bytes past `hash.length` stay zero.
        let key = try secret(count: keySize)
        do throws(ImageError) {
            try passphrase.withUnsafeBytes { passphraseBytes throws(ImageError) in
                try key.withUnsafeMutableBytes { keyBytes throws(ImageError) in
                    let filled = UnsafeMutableRawBufferPointer(rebasing: keyBytes[..<hash.length])
                    switch hash.function {
                    case .digest(let digest): try fillRounds(filled, hash: digest, passphrase: passphraseBytes)
                    case .passphraseItself: try copyPassphrase(passphraseBytes, into: filled)
                    }
                }
            }
        } catch {
            // A partly filled key dies here.
            key.wipe()
            throw error
        }
        return key
    }

    private static func copyPassphrase(_ passphrase: UnsafeRawBufferPointer,
                                       into key: UnsafeMutableRawBufferPointer) throws(ImageError) {
        guard passphrase.count >= key.count else {
            throw .passphraseTooShort(needed: key.count, available: passphrase.count)
        }
        key.copyMemory(from: UnsafeRawBufferPointer(rebasing: passphrase[..<key.count]))
    }

    private static func fillRounds(_ key: UnsafeMutableRawBufferPointer, hash: PlainHash,
                                   passphrase: UnsafeRawBufferPointer) throws(ImageError) {
        let digestSecret = try secret(count: hash.digestSize)
        // Each round's digest dies here once copied into the key.
        defer { digestSecret.wipe() }
        try digestSecret.withUnsafeMutableBytes { digest throws(ImageError) in
            try fillRounds(key, digest: digest, hash: hash, passphrase: passphrase)
        }
    }

    private static func fillRounds(_ key: UnsafeMutableRawBufferPointer, digest: UnsafeMutableRawBufferPointer,
                                   hash: PlainHash, passphrase: UnsafeRawBufferPointer) throws(ImageError) {
        // The longest prefix needed: one "A" per round after the first.
        let rounds = (key.count + hash.digestSize - 1) / hash.digestSize
        let prefix = UnsafeMutableRawBufferPointer.allocate(byteCount: rounds, alignment: 1)
        defer { prefix.deallocate() }
        prefix.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "A"))
        var filled = 0
        for round in 0..<rounds {
            try hash.digest(of: [UnsafeRawBufferPointer(rebasing: prefix[..<round]), passphrase], into: digest)
            let take = min(digest.count, key.count - filled)
            (key.baseAddress! + filled).copyMemory(from: digest.baseAddress!, byteCount: take)
            filled += take
        }
    }

    /// The key from a keyfile: `keySize` bytes from `offset`, out of at
    /// most `sizeLimit` bytes there (nil: cryptsetup's 8 MiB).
    public static func key(fromKeyfile path: String, offset: Int = 0, sizeLimit: Int? = nil) throws(ImageError) -> SecretBytes {
        try Keyfile.read(path: path, offset: offset, sizeLimit: sizeLimit, count: keySize)
    }

    /// The key from a keyfile's bytes read elsewhere (from its offset,
    /// within its size limit: what `klfs resume --keyfile` sends): the
    /// first `keySize` of them. `bytes` stay the caller's to wipe.
    public static func key(fromKeyfileBytes bytes: SecretBytes) throws(ImageError) -> SecretBytes {
        guard bytes.count >= keySize else {
            throw .keyfileTooShort(path: "sent by klfs resume", needed: keySize, available: bytes.count)
        }
        let key = try secret(count: keySize)
        bytes.withUnsafeBytes { source in
            key.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[..<keySize])) }
        }
        return key
    }

    private static func secret(count: Int) throws(ImageError) -> SecretBytes {
        do throws(EngineError) { return try SecretBytes(count: count) } catch { throw .engine(error) }
    }
}
