import Glibc
import CSodium

/// Encoded names longer than a backing filesystem allows (255 bytes) are
/// stored under `klfs.longname.<base64url(SHA-256(encoded name))>`, with
/// the whole encoded name in the sidecar file `<that name>.name` beside
/// it, as gocryptfs does. Neither form can collide with an ordinary
/// encoded name, which never contains a '.'.
public enum LongName {
    public static let prefix = "klfs.longname."
    public static let sidecarSuffix = ".name"
    /// The longest name a backing filesystem takes.
    public static let maxBackingLength = 255

    /// The hashed backing name for an encoded name that is too long.
    public static func hashedName(of encoded: String) -> String {
        requireSodium()
        let bytes = Array(encoded.utf8)
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        _ = crypto_hash_sha256(&digest, bytes, UInt64(bytes.count))
        return prefix + Base64URL.encode(digest)
    }

    public static func isHashedName(_ name: String) -> Bool {
        name.hasPrefix(prefix) && !name.hasSuffix(sidecarSuffix)
    }

    public static func isSidecar(_ name: String) -> Bool {
        name.hasPrefix(prefix) && name.hasSuffix(sidecarSuffix)
    }

    public static func sidecarName(of hashedName: String) -> String {
        hashedName + sidecarSuffix
    }
}

extension LongName {
    /// Writes the sidecar of `hashedName` in the directory `directoryFD`,
    /// holding `encoded` (mode 0400). 0, EEXIST when it exists already, or
    /// the errno that stopped it (nothing is left behind then).
    public static func writeSidecar(_ encoded: String, for hashedName: String, in directoryFD: Int32) -> Int32 {
        let name = sidecarName(of: hashedName)
        let fd = openat(directoryFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o400)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let status = Array(encoded.utf8).withUnsafeBytes { POSIXIO.writeAll(fd, $0) }
        if status != 0 { unlinkat(directoryFD, name, 0) }
        return status
    }

    /// The encoded name the sidecar of `hashedName` holds, or nil when it
    /// is missing, unreadable, or does not hash to `hashedName`.
    public static func readSidecar(for hashedName: String, in directoryFD: Int32) -> String? {
        let fd = openat(directoryFD, sidecarName(of: hashedName), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // An encoded name of a 255-byte plaintext is 342 bytes; read a little more to see excess.
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { POSIXIO.readFully(fd, into: $0) }
        guard count > 0 else { return nil }
        let encoded = String(decoding: buffer.prefix(count), as: UTF8.self)
        return LongName.hashedName(of: encoded) == hashedName ? encoded : nil
    }
}
