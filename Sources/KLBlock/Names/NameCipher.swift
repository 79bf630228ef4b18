import KLEngine

/// File names through the names key: PKCS#7 padding to whole blocks, EME
/// under the directory's IV, base64url. docs/FORMAT.md, "Names".
public struct NameCipher: Sendable {
    /// A plaintext name is 1 to 255 bytes, without '/' or NUL.
    public static let maxNameLength = 255
    /// The longest ciphertext a backing name (or long-name sidecar) may
    /// decode to: 255 bytes pad to 256.
    static let maxCiphertextLength = 256

    public let key: any BlockCipherKey

    public init(key: any BlockCipherKey) { self.key = key }

    /// The encoded (base64url) ciphertext of `name` in the directory whose
    /// IV is `directoryIV`. May be longer than 255 bytes: see ``LongName``.
    public func encrypt(_ name: some Collection<UInt8>, directoryIV: [UInt8]) throws(NameError) -> String {
        guard (1...Self.maxNameLength).contains(name.count) else { throw .nameTooLong }
        var padded = Array(name)
        let padding = 16 - name.count % 16
        padded += [UInt8](repeating: UInt8(padding), count: padding)
        try inPlace(&padded) { buffer throws(EngineError) in
            try EME.transform(.encrypt, key: key, tweak: directoryIV, buffer)
        }
        return Base64URL.encode(padded)
    }

    /// The plaintext name behind an encoded ciphertext, or
    /// ``NameError/invalid`` for anything this volume's key and this
    /// directory's IV did not produce (a foreign or altered name).
    public func decrypt(_ encoded: some Collection<UInt8>, directoryIV: [UInt8]) throws(NameError) -> [UInt8] {
        // Decoded from a copy: a generic collection from another module
        // would run the decoder unspecialized, a call per character.
        guard var bytes = Base64URL.decode(Array(encoded)), bytes.count % 16 == 0,
              (16...Self.maxCiphertextLength).contains(bytes.count) else {
            throw .invalid("not the base64url of 1 to 16 whole blocks")
        }
        try inPlace(&bytes) { buffer throws(EngineError) in
            try EME.transform(.decrypt, key: key, tweak: directoryIV, buffer)
        }
        let padding = Int(bytes.last!)
        guard (1...16).contains(padding), bytes.suffix(padding).allSatisfy({ $0 == UInt8(padding) }) else {
            throw .invalid("bad padding (another key or directory, or altered)")
        }
        bytes.removeLast(padding)
        guard !bytes.isEmpty, !bytes.contains(0), !bytes.contains(UInt8(ascii: "/")),
              bytes != Array(".".utf8), bytes != Array("..".utf8) else {
            throw .invalid("decrypts to an impossible name")
        }
        return bytes
    }
}

public enum NameError: Error, Equatable, CustomStringConvertible {
    /// More than 255 bytes (or none).
    case nameTooLong
    /// A backing name that does not decrypt to a valid name.
    case invalid(String)
    case engine(EngineError)

    public var description: String {
        switch self {
        case .nameTooLong: return "name longer than 255 bytes"
        case .invalid(let why): return "undecryptable name: \(why)"
        case .engine(let error): return "engine: \(error)"
        }
    }
}

/// Runs an engine call on the bytes of `data` in place; its error becomes
/// a ``NameError``.
func inPlace(_ data: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(EngineError) -> Void) throws(NameError) {
    let result = data.withUnsafeMutableBytes { buffer in
        Result { () throws(EngineError) in try body(buffer) }
    }
    if case .failure(let error) = result { throw .engine(error) }
}
