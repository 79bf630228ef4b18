import KLEngine

/// Symlink targets on a volume with encrypted names: a random 8-byte nonce
/// N, then the target PKCS#7-padded to whole blocks and encrypted as one
/// AES-256-XTS data unit under the contents key (K1, K2), data unit number
/// N * 2^64 + (2^64 - 1), all base64url-encoded. That sector index is one
/// no file can reach (file sizes stay below 2^63), so no file sector
/// shares the tweak. docs/FORMAT.md, "Symlink targets".
public enum SymlinkTarget {
    static let nonceSize = 8
    /// The backing target must fit in PATH_MAX - 1 = 4095 bytes:
    /// base64url of 8 + 3040 bytes is 4064.
    public static let maxTargetLength = 3039

    public static func encrypt(_ target: [UInt8], key: any XTSKey) throws(NameError) -> String {
        guard (1...maxTargetLength).contains(target.count) else { throw .nameTooLong }
        let nonce = publicRandomBytes(nonceSize)
        var padded = target
        let padding = 16 - target.count % 16
        padded += [UInt8](repeating: UInt8(padding), count: padding)
        try crypt(.encrypt, &padded, nonce: nonce, key: key)
        return Base64URL.encode(nonce + padded)
    }

    public static func decrypt(_ encoded: [UInt8], key: any XTSKey) throws(NameError) -> [UInt8] {
        guard let bytes = Base64URL.decode(encoded), bytes.count >= nonceSize + 16,
              (bytes.count - nonceSize) % 16 == 0 else {
            throw .invalid("not an encrypted symlink target")
        }
        var data = Array(bytes[nonceSize...])
        try crypt(.decrypt, &data, nonce: Array(bytes[..<nonceSize]), key: key)
        let padding = Int(data.last!)
        guard (1...16).contains(padding), data.suffix(padding).allSatisfy({ $0 == UInt8(padding) }) else {
            throw .invalid("bad padding in symlink target")
        }
        data.removeLast(padding)
        guard !data.isEmpty, !data.contains(0) else { throw .invalid("impossible symlink target") }
        return data
    }

    private static func crypt(_ direction: CryptDirection, _ data: inout [UInt8], nonce: [UInt8],
                              key: any XTSKey) throws(NameError) {
        let n = nonce.reversed().reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        let unit = n << 64 | UInt128(UInt64.max)
        let size = data.count
        try inPlace(&data) { buffer throws(EngineError) in
            try key.crypt(direction, buffer, dataUnitSize: size, firstDataUnit: unit)
        }
    }
}
