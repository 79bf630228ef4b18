import COpenSSL
import CSodium
import Foundation

/// docs/FORMAT.md (keys, names, symlink targets, version 2 headers and
/// extended attributes)
/// implemented from the text with library primitives only (libsodium's
/// BLAKE2b and SHA-256, OpenSSL's AES), no klfs code: the doc-conformance
/// tests read backing files through it.
public enum SpecReader {
    /// BLAKE2b-256 keyed with the 64-byte master key, of an ASCII label.
    public static func derivedKey(_ label: String, masterKey: [UInt8]) -> [UInt8] {
        let message = Array(label.utf8)
        var out = [UInt8](repeating: 0, count: 32)
        precondition(sodium_init() >= 0)
        _ = crypto_generichash(&out, 32, message, UInt64(message.count), masterKey, masterKey.count)
        return out
    }

    /// The names key: label "klfs names key v1".
    public static func namesKey(masterKey: [UInt8]) -> [UInt8] {
        derivedKey("klfs names key v1", masterKey: masterKey)
    }

    /// The header key of a version 2 volume: label "klfs header key v2".
    public static func headerKey(masterKey: [UInt8]) -> [UInt8] {
        derivedKey("klfs header key v2", masterKey: masterKey)
    }

    /// The xattr-name key of a version 2 volume: label "klfs xattr key v2".
    public static func xattrKey(masterKey: [UInt8]) -> [UInt8] {
        derivedKey("klfs xattr key v2", masterKey: masterKey)
    }

    public static func base64urlDecode(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map(Array.init)
    }

    public static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_hash_sha256(&out, bytes, UInt64(bytes.count))
        return out
    }

    static func aesECB(encrypt: Bool, key: [UInt8], _ input: [UInt8]) -> [UInt8] {
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        _ = EVP_CipherInit_ex(context, EVP_aes_256_ecb(), nil, key, nil, encrypt ? 1 : 0)
        EVP_CIPHER_CTX_set_padding(context, 0)
        var output = [UInt8](repeating: 0, count: input.count)
        var written: Int32 = 0
        _ = EVP_CipherUpdate(context, &output, &written, input, Int32(input.count))
        return output
    }

    /// x * 2 in GF(2^128), byte 0 least significant, reduction 0x87.
    static func times2(_ block: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        out[0] = (block[0] << 1) ^ (block[15] >= 0x80 ? 0x87 : 0)
        for i in 1..<16 { out[i] = (block[i] << 1) | (block[i - 1] >> 7) }
        return out
    }

    static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { zip(a, b).map { $0 ^ $1 } }

    /// EME decryption as the document's steps give it, AES decryption in
    /// place of encryption everywhere except L.
    public static func emeDecrypt(_ c: [UInt8], key: [UInt8], tweak: [UInt8]) -> [UInt8] {
        let m = c.count / 16
        var l = times2(aesECB(encrypt: true, key: key, [UInt8](repeating: 0, count: 16)))
        var ls: [[UInt8]] = []
        for _ in 0..<m { ls.append(l); l = times2(l) }
        let blocks = (0..<m).map { Array(c[(16 * $0)..<(16 * $0 + 16)]) }
        var ppp = (0..<m).map { aesECB(encrypt: false, key: key, xor(blocks[$0], ls[$0])) }
        var mp = tweak
        for block in ppp { mp = xor(mp, block) }
        let mc = aesECB(encrypt: false, key: key, mp)
        var mixer = xor(mp, mc)
        var sum = [UInt8](repeating: 0, count: 16)
        for j in 1..<max(m, 1) {
            mixer = times2(mixer)
            ppp[j] = xor(ppp[j], mixer)
            sum = xor(sum, ppp[j])
        }
        ppp[0] = xor(xor(mc, tweak), sum)
        return (0..<m).flatMap { xor(aesECB(encrypt: false, key: key, ppp[$0]), ls[$0]) }
    }

    static func unpad(_ bytes: [UInt8]) -> [UInt8]? {
        guard let last = bytes.last, (1...16).contains(last),
              bytes.suffix(Int(last)).allSatisfy({ $0 == last }) else { return nil }
        return Array(bytes.dropLast(Int(last)))
    }

    public static func decryptName(_ encoded: String, key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard let c = base64urlDecode(encoded), c.count % 16 == 0, !c.isEmpty else { return nil }
        return unpad(emeDecrypt(c, key: key, tweak: iv))
    }

    /// base64url of the target sealed at sector 2^64 - 1.
    public static func decryptTarget(_ stored: String, masterKey: [UInt8]) -> [UInt8]? {
        base64urlDecode(stored).flatMap { openDataUnit($0, sector: 0xFFFF_FFFF_FFFF_FFFF, masterKey: masterKey) }
    }

    /// nonce N (8 bytes) || AES-256-XTS(K1 || K2) of the padded bytes, one
    /// data unit, IV = `sector` as 8 little-endian bytes, then N.
    public static func openDataUnit(_ bytes: [UInt8], sector: UInt64, masterKey: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 24 else { return nil }
        let iv = withUnsafeBytes(of: sector.littleEndian) { Array($0) } + bytes[0..<8]
        let data = Array(bytes[8...])
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        _ = EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil, masterKey, iv, 0)
        var output = [UInt8](repeating: 0, count: data.count)
        var written: Int32 = 0
        _ = EVP_CipherUpdate(context, &output, &written, data, Int32(data.count))
        return unpad(output)
    }

    /// The plaintext size sealed in a version 2 header (its first 64
    /// bytes): EME-decrypt bytes 32-63 under the header key with bytes
    /// 16-31 as the tweak; authentic only if the result starts with header
    /// bytes 0-15 and ends with eight zero bytes. nil when it does not
    /// authenticate.
    public static func openHeader(_ header: [UInt8], masterKey: [UInt8]) -> UInt64? {
        let p = emeDecrypt(Array(header[32..<64]), key: headerKey(masterKey: masterKey), tweak: Array(header[16..<32]))
        guard p[0..<16] == header[0..<16], p[24..<32].allSatisfy({ $0 == 0 }) else { return nil }
        return p[16..<24].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The OpenSSL IV of sector `index` of a version 2 file whose file ID is
    /// stored as `fileID` (header bytes 16-31): F + i modulo 2^128, both
    /// read as little-endian numbers, as 16 little-endian bytes.
    public static func sectorIV(fileID: [UInt8], index: Int) -> [UInt8] {
        var iv = fileID
        var carry = UInt(index)
        for position in 0..<16 {
            let sum = UInt(iv[position]) + carry % 256
            iv[position] = UInt8(sum % 256)
            carry = carry / 256 + sum / 256
        }
        return iv
    }
}
