import KLEngine

/// The sealed record of a version 2 header (docs/FORMAT.md, "The sealed
/// record"): EME-AES-256 under the header key, tweaked by the file ID as
/// stored (header bytes 16-31), of the 32 bytes
///
///     P = header bytes 0-15 || LE64(plaintext size) || 8 zero bytes
///
/// Encode-then-encipher (Bellare and Rogaway): EME is a tweakable strong
/// pseudorandom permutation, so a record that was edited, or that meets
/// another file ID or another volume's key (a transplanted or swapped file
/// ID or record), deciphers to 32 bytes unrelated to P, and the 24 bytes a
/// reader knows in advance (header bytes 0-15, eight zeros) match by chance
/// with probability 2^-192. The size itself stays secret.
enum HeaderSeal {
    static let length = 32

    /// The record for a file of `size` bytes whose header starts with
    /// `prefix` (bytes 0-15) and whose stored file ID is `fileID`.
    static func seal(size: UInt64, prefix: [UInt8], fileID: [UInt8],
                     key: any BlockCipherKey) throws(CipherFileError) -> [UInt8] {
        var record = prefix + littleEndianBytes(size) + [UInt8](repeating: 0, count: 8)
        try transform(.encrypt, &record, tweak: fileID, key: key)
        return record
    }

    /// The size sealed in `record`, if it is authentic for this header.
    static func open(_ record: ArraySlice<UInt8>, prefix: ArraySlice<UInt8>, fileID: ArraySlice<UInt8>,
                     key: any BlockCipherKey) throws(CipherFileError) -> UInt64 {
        var plain = Array(record)
        try transform(.decrypt, &plain, tweak: Array(fileID), key: key)
        guard plain[0..<16].elementsEqual(prefix), plain[24..<32].allSatisfy({ $0 == 0 }) else {
            throw .corrupt(.notAuthentic)
        }
        return UInt64(littleEndianBytes: plain[16..<24])
    }

    private static func transform(_ direction: CryptDirection, _ record: inout [UInt8], tweak: [UInt8],
                                  key: any BlockCipherKey) throws(CipherFileError) {
        try record.withUnsafeMutableBytes { bytes in
            Result { () throws(EngineError) in try EME.transform(direction, key: key, tweak: tweak, bytes) }
        }.mapError(CipherFileError.crypto).get()
    }
}
