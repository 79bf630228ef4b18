/// PKCS#7 padding to whole 16-byte blocks, for everything klfs encrypts
/// that is not a file sector: names, symlink targets, extended attribute
/// names and values (FORMAT.md, "Encrypting one name"). Always 1 to 16
/// bytes, each holding the count, so a string of whole blocks gains a full
/// block and every padded string has exactly one unpadded form.
enum PKCS7 {
    static let blockSize = 16

    static func padded(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let padding = blockSize - bytes.count % blockSize
        var padded = Array(bytes)
        padded += repeatElement(UInt8(padding), count: padding)
        return padded
    }

    /// Strips the padding from `bytes` in place. False, leaving `bytes`
    /// as they are, when the last byte is not 1 to 16 or the bytes it
    /// counts do not all equal it: what a wrong key, a wrong tweak or an
    /// altered ciphertext gives nearly always.
    static func removePadding(from bytes: inout [UInt8]) -> Bool {
        guard let last = bytes.last, (1...blockSize).contains(Int(last)), bytes.count >= Int(last),
              bytes.suffix(Int(last)).allSatisfy({ $0 == last }) else { return false }
        bytes.removeLast(Int(last))
        return true
    }
}
