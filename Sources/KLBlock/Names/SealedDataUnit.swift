import KLEngine

/// A byte string that is not file contents, encrypted under the contents
/// key (K1, K2) as one AES-256-XTS data unit: a random 8-byte nonce N,
/// then the string PKCS#7-padded to whole blocks and encrypted with data
/// unit number N * 2^64 + index. Each use has its own index at the top of
/// the 64-bit range, which no sector index reaches (file sizes stay below
/// 2^63), so no sealed string shares a tweak with a string of another use
/// or with a sector of a version 1 file (file ID N * 2^64); a version 2
/// file's sectors start at a random 128-bit file ID, and meet one only by
/// the chance two files' sector ranges overlap (docs/FORMAT.md, "Sectors").
/// The fresh N makes equal strings seal differently.
/// docs/FORMAT.md, "Symlink targets" and "Extended attributes".
enum SealedDataUnit {
    /// The sector index each use takes the place of.
    enum Index: UInt64 {
        case symlinkTarget = 0xFFFF_FFFF_FFFF_FFFF  // 2^64 - 1
        case extendedAttributeValue = 0xFFFF_FFFF_FFFF_FFFE  // 2^64 - 2
    }

    static let nonceSize = 8

    /// N || XTS(padded `plaintext`), with a fresh N.
    static func seal(_ plaintext: [UInt8], as index: Index, key: any XTSKey) throws(NameError) -> [UInt8] {
        let nonce = publicRandomBytes(nonceSize)
        var data = PKCS7.padded(plaintext)
        try crypt(.encrypt, &data, nonce: nonce, index: index, key: key)
        return nonce + data
    }

    /// The plaintext of what ``seal(_:as:key:)`` made with the same index
    /// and key; ``NameError/invalid`` for a length no seal has, or bad
    /// padding (another key or index, or altered).
    static func open(_ sealed: [UInt8], as index: Index, key: any XTSKey) throws(NameError) -> [UInt8] {
        guard sealed.count >= nonceSize + PKCS7.blockSize, (sealed.count - nonceSize) % PKCS7.blockSize == 0 else {
            throw .invalid("\(sealed.count) bytes is not a nonce and whole blocks")
        }
        var data = Array(sealed[nonceSize...])
        try crypt(.decrypt, &data, nonce: Array(sealed[..<nonceSize]), index: index, key: key)
        guard PKCS7.removePadding(from: &data) else { throw .invalid("bad padding (another key, or altered)") }
        return data
    }

    /// One XTS call over all of `data`, as a single data unit.
    private static func crypt(_ direction: CryptDirection, _ data: inout [UInt8], nonce: [UInt8], index: Index,
                              key: any XTSKey) throws(NameError) {
        let n = nonce.reversed().reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        let unit = n << 64 | UInt128(index.rawValue)
        let size = data.count
        try inPlace(&data) { buffer throws(EngineError) in
            try key.crypt(direction, buffer, dataUnitSize: size, firstDataUnit: unit)
        }
    }
}
