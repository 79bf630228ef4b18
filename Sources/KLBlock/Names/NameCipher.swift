import KLEngine

/// File names through the names key: PKCS#7 padding to whole blocks, EME
/// under the directory's IV, base64url. docs/FORMAT.md, "Names".
public struct NameCipher: Sendable {
    /// A plaintext name is 1 to 255 bytes, without '/' or NUL.
    public static let maxNameLength = PaddedEME.maxPlaintextLength

    private let eme: PaddedEME

    public init(key: any BlockCipherKey) { eme = PaddedEME(key: key) }

    /// The encoded (base64url) ciphertext of `name` in the directory whose
    /// IV is `directoryIV`. May be longer than 255 bytes: see ``LongName``.
    public func encrypt(_ name: some Collection<UInt8>, directoryIV: [UInt8]) throws(NameError) -> String {
        guard (1...Self.maxNameLength).contains(name.count) else { throw .nameTooLong }
        return try eme.encrypt(name, tweak: directoryIV)
    }

    /// The plaintext name behind an encoded ciphertext, or
    /// ``NameError/invalid`` for anything this volume's key and this
    /// directory's IV did not produce (a foreign or altered name).
    public func decrypt(_ encoded: some Collection<UInt8>, directoryIV: [UInt8]) throws(NameError) -> [UInt8] {
        let bytes = try eme.decrypt(encoded, tweak: directoryIV)
        guard !bytes.isEmpty, !bytes.contains(0), !bytes.contains(UInt8(ascii: "/")),
              bytes != Array(".".utf8), bytes != Array("..".utf8) else {
            throw .invalid("decrypts to an impossible name")
        }
        return bytes
    }
}
