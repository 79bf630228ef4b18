import KLEngine

/// Extended attributes on a version 2 volume (docs/FORMAT.md, "Extended
/// attributes"). Only the `user.` namespace is stored: the name
/// `user.<rest>` becomes `user.klfs.` followed by the base64url of the
/// EME-encrypted, padded rest under the xattr key with a zero tweak; the
/// value is sealed as one XTS data unit under the contents key in the
/// place of sector 2^64 - 2 (``SealedDataUnit``), stored as raw bytes.
public struct ExtendedAttributeCipher: Sendable {
    static let namespace = Array("user.".utf8)
    static let backingPrefix = Array("user.klfs.".utf8)
    /// The longest rest after `user.`: it pads to 11 blocks, 235 base64url
    /// characters, so the backing name (245 bytes) stays within the 255 of
    /// XATTR_NAME_MAX.
    public static let maxNameLength = 175
    /// The largest value the kernel passes to or takes from a filesystem
    /// (XATTR_SIZE_MAX), so the limit for the sealed value.
    static let maxBackingValueSize = 65536
    /// The largest value whose sealed form fits: 8 + 65520 bytes.
    public static let maxValueSize = (maxBackingValueSize - SealedDataUnit.nonceSize) / PKCS7.blockSize * PKCS7.blockSize - 1
    /// Constant, so that a name has one backing name on every file: lookups
    /// need no per-file state, and XATTR_CREATE and XATTR_REPLACE keep
    /// their meaning on the backing file.
    static let tweak = [UInt8](repeating: 0, count: 16)

    private let names: PaddedEME
    private let contentsKey: any XTSKey

    public init(nameKey: any BlockCipherKey, contentsKey: any XTSKey) {
        names = PaddedEME(key: nameKey)
        self.contentsKey = contentsKey
    }

    /// The backing name of the plaintext name `name` (`user.` and 1 to 175
    /// bytes).
    public func encryptName(_ name: [UInt8]) throws(ExtendedAttributeError) -> [UInt8] {
        guard name.starts(with: Self.namespace) else { throw .otherNamespace }
        let rest = name.dropFirst(Self.namespace.count)
        guard !rest.isEmpty else { throw .emptyName }
        guard rest.count <= Self.maxNameLength else { throw .nameTooLong }
        return Self.backingPrefix + Array(try converting { () throws(NameError) in
            try names.encrypt(rest, tweak: Self.tweak)
        }.utf8)
    }

    /// The plaintext name behind the backing name `backing`, or
    /// ``ExtendedAttributeError/invalid`` for one klfs did not write with
    /// this key (another namespace, a foreign or altered name).
    public func decryptName(_ backing: [UInt8]) throws(ExtendedAttributeError) -> [UInt8] {
        guard backing.starts(with: Self.backingPrefix) else { throw .invalid("not an encrypted user. attribute") }
        let rest = try converting { () throws(NameError) in
            try names.decrypt(backing.dropFirst(Self.backingPrefix.count), tweak: Self.tweak)
        }
        guard !rest.isEmpty, !rest.contains(0) else { throw .invalid("decrypts to an impossible name") }
        return Self.namespace + rest
    }

    /// The backing value of `value` (0 to 65519 bytes), with a fresh nonce.
    public func encryptValue(_ value: [UInt8]) throws(ExtendedAttributeError) -> [UInt8] {
        guard value.count <= Self.maxValueSize else { throw .valueTooLarge }
        return try converting { () throws(NameError) in
            try SealedDataUnit.seal(value, as: .extendedAttributeValue, key: contentsKey)
        }
    }

    /// The plaintext value behind the backing value `backing`, or
    /// ``ExtendedAttributeError/invalid`` when it is not a sealed value or
    /// its padding is wrong (altered, or sealed under another key).
    public func decryptValue(_ backing: [UInt8]) throws(ExtendedAttributeError) -> [UInt8] {
        try converting { () throws(NameError) in
            try SealedDataUnit.open(backing, as: .extendedAttributeValue, key: contentsKey)
        }
    }

    private func converting<T>(_ body: () throws(NameError) -> T) throws(ExtendedAttributeError) -> T {
        do throws(NameError) {
            return try body()
        } catch {
            throw ExtendedAttributeError(error)
        }
    }
}

public enum ExtendedAttributeError: Error, Equatable, CustomStringConvertible {
    /// A name outside the `user.` namespace, which version 2 volumes do
    /// not store.
    case otherNamespace
    /// `user.` with nothing after it.
    case emptyName
    /// More than 175 bytes after `user.`.
    case nameTooLong
    /// More than 65519 bytes.
    case valueTooLarge
    /// A backing name or value this volume's keys did not produce.
    case invalid(String)
    case engine(EngineError)

    init(_ error: NameError) {
        switch error {
        case .nameTooLong: self = .nameTooLong
        case .invalid(let why): self = .invalid(why)
        case .engine(let error): self = .engine(error)
        }
    }

    public var description: String {
        switch self {
        case .otherNamespace: return "not in the user. namespace"
        case .emptyName: return "empty name after user."
        case .nameTooLong: return "name longer than user. and 175 bytes"
        case .valueTooLarge: return "value larger than 65519 bytes"
        case .invalid(let why): return "undecryptable extended attribute: \(why)"
        case .engine(let error): return "engine: \(error)"
        }
    }
}

extension UnlockedVolume {
    /// The xattr cipher of a version 2 volume; nil on version 1, whose
    /// extended attributes pass through as they are.
    public var extendedAttributeCipher: ExtendedAttributeCipher? {
        extendedAttributeKey.map { ExtendedAttributeCipher(nameKey: $0, contentsKey: key) }
    }
}
