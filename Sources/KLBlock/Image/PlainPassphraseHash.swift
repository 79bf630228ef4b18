/// cryptsetup's plain-mode `--hash`: a digest name, or `plain` for the
/// passphrase's own bytes, optionally followed by `:N`, which fills only
/// the first N bytes of the key that way and leaves the rest zero
/// (crypt_plain_hash in cryptsetup's lib/crypt_plain.c).
public struct PlainPassphraseHash: Sendable, Equatable, CustomStringConvertible {
    public enum Function: Sendable, Equatable {
        case digest(PlainHash)
        /// `plain`: the passphrase's first bytes are the key, unhashed.
        case passphraseItself
    }

    public let function: Function
    /// How many bytes of the key the function fills; the rest are zeros.
    public let length: Int

    /// cryptsetup's default for plain mode.
    public static let ripemd160 = PlainPassphraseHash(function: .digest(.ripemd160))

    public init(function: Function, length: Int = PlainKeyDerivation.keySize) {
        precondition((1...PlainKeyDerivation.keySize).contains(length))
        self.function = function
        self.length = length
    }

    /// Parses `name[:N]`. cryptsetup takes N up to the key size; N = 0,
    /// which cryptsetup turns into an all-zero key, is refused.
    public init(parsing text: String) throws(ImageError) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        if name == "plain" {
            function = .passphraseItself
        } else if let digest = PlainHash(rawValue: name) {
            function = .digest(digest)
        } else {
            throw .unsupportedHash(name)
        }
        guard parts.count == 2 else {
            length = PlainKeyDerivation.keySize
            return
        }
        guard let length = Int(parts[1]), (1...PlainKeyDerivation.keySize).contains(length) else {
            throw .invalidHashLength(text)
        }
        self.length = length
    }

    public var description: String {
        let name = switch function {
        case .digest(let digest): digest.rawValue
        case .passphraseItself: "plain"
        }
        return length == PlainKeyDerivation.keySize ? name : "\(name):\(length)"
    }
}
