import COpenSSL

/// dm-crypt's aes-xts-plain64 decryption done by OpenSSL alone, the
/// oracle image mode's sectors are checked against: sector n of `payload`
/// is one EVP_aes_256_xts call whose IV is the 64-bit little-endian sector
/// number dm-crypt gives it, zero-extended to 16 bytes: n's position in
/// 512-byte units plus `ivOffset` (512-byte sectors), divided by
/// sectorSize/512 under iv_large_sectors.
public enum DmCryptPlain64 {
    public static func decrypt(_ payload: [UInt8], key: [UInt8], sectorSize: Int, ivOffset: UInt64,
                               largeSectors: Bool) -> [UInt8] {
        precondition(key.count == 64)
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        precondition(key.withUnsafeBytes {
            EVP_DecryptInit_ex(context, EVP_aes_256_xts(), nil, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), nil)
        } == 1)
        let units = UInt64(sectorSize / 512)
        var plain = [UInt8](repeating: 0, count: payload.count / sectorSize * sectorSize)
        for sector in 0..<plain.count / sectorSize {
            // dm-crypt's sector_t arithmetic: wraps at 2^64.
            let position = UInt64(sector) &* units &+ ivOffset
            var iv = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: (largeSectors ? position / units : position).littleEndian) { iv.replaceSubrange(0..<8, with: $0) }
            var written: Int32 = 0
            let ok = payload.withUnsafeBytes { input in
                plain.withUnsafeMutableBytes { output in
                    EVP_DecryptInit_ex(context, nil, nil, nil, iv) == 1
                        && EVP_DecryptUpdate(context, output.baseAddress!.assumingMemoryBound(to: UInt8.self) + sector * sectorSize,
                                             &written, input.baseAddress!.assumingMemoryBound(to: UInt8.self) + sector * sectorSize,
                                             Int32(sectorSize)) == 1
                }
            }
            precondition(ok && Int(written) == sectorSize, "OpenSSL XTS failed")
        }
        return plain
    }
}
