import KLEngine

/// A short byte string (1 to 255 bytes) under EME: PKCS#7-padded to whole
/// blocks, EME-encrypted with a 16-byte tweak, base64url-encoded. File
/// names use it under the names key with their directory's IV (FORMAT.md,
/// "Names"), extended attribute names under the xattr key with a zero
/// tweak ("Extended attributes"); each caller adds its own rules on what a
/// plaintext may be.
struct PaddedEME: Sendable {
    /// The longest plaintext: it pads to 16 blocks, 256 bytes.
    static let maxPlaintextLength = 255

    let key: any BlockCipherKey

    /// The base64url text of the encrypted `plaintext` (1 to 255 bytes).
    func encrypt(_ plaintext: some Collection<UInt8>, tweak: [UInt8]) throws(NameError) -> String {
        precondition((1...Self.maxPlaintextLength).contains(plaintext.count), "callers check the length")
        var padded = PKCS7.padded(plaintext)
        try inPlace(&padded) { buffer throws(EngineError) in
            try EME.transform(.encrypt, key: key, tweak: tweak, buffer)
        }
        return Base64URL.encode(padded)
    }

    /// The plaintext behind `encoded`, or ``NameError/invalid`` for text
    /// that is not canonical base64url of 1 to 16 whole blocks or does not
    /// decrypt to valid padding under this key and `tweak`.
    func decrypt(_ encoded: some Collection<UInt8>, tweak: [UInt8]) throws(NameError) -> [UInt8] {
        // Decoded from a copy: a generic collection from another module
        // would run the decoder unspecialized, a call per character.
        guard var bytes = Base64URL.decode(Array(encoded)), bytes.count % 16 == 0,
              (16...(Self.maxPlaintextLength + 1)).contains(bytes.count) else {
            throw .invalid("not the base64url of 1 to 16 whole blocks")
        }
        try inPlace(&bytes) { buffer throws(EngineError) in
            try EME.transform(.decrypt, key: key, tweak: tweak, buffer)
        }
        guard PKCS7.removePadding(from: &bytes) else {
            throw .invalid("bad padding (another key or tweak, or altered)")
        }
        return bytes
    }
}
