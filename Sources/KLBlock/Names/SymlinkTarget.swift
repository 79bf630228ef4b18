import KLEngine

/// Symlink targets on a volume with encrypted names: the target sealed as
/// one XTS data unit in the place of sector 2^64 - 1 (``SealedDataUnit``),
/// base64url-encoded so that it is a valid symlink target.
/// docs/FORMAT.md, "Symlink targets".
public enum SymlinkTarget {
    /// The backing target must fit in PATH_MAX - 1 = 4095 bytes:
    /// base64url of 8 + 3040 bytes is 4064.
    public static let maxTargetLength = 3039

    public static func encrypt(_ target: [UInt8], key: any XTSKey) throws(NameError) -> String {
        guard (1...maxTargetLength).contains(target.count) else { throw .nameTooLong }
        return Base64URL.encode(try SealedDataUnit.seal(target, as: .symlinkTarget, key: key))
    }

    public static func decrypt(_ encoded: [UInt8], key: any XTSKey) throws(NameError) -> [UInt8] {
        guard let sealed = Base64URL.decode(encoded) else { throw .invalid("not an encrypted symlink target") }
        let target = try SealedDataUnit.open(sealed, as: .symlinkTarget, key: key)
        guard !target.isEmpty, !target.contains(0) else { throw .invalid("impossible symlink target") }
        return target
    }
}
