import COpenSSL
import KLEngine

/// The encryption of a keyslot area: aes-xts-plain64 in 512-byte sectors,
/// the tweak being the sector number counted from 0 at the area's start
/// (little-endian, as plain64 defines it), with AES-128 or AES-256
/// according to the area's key size. libcrypto does it: this is key
/// material at unlock, never the data path. The EVP context holds the
/// expanded key in libcrypto's heap until EVP_CIPHER_CTX_free, which
/// cleanses it.
enum LUKS2KeyslotCipher {
    static func crypt(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                      key: SecretBytes, encrypt: Bool) throws(LUKS2Error) {
        let sector = LUKS2Limits.keyslotAreaSectorSize
        precondition(input.count == output.count && input.count % sector == 0)
        guard let cipher = key.count == 64 ? EVP_aes_256_xts() : key.count == 32 ? EVP_aes_128_xts() : nil else {
            throw .unsupportedKeySize(bits: key.count * 8)
        }
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        let keyed = key.withUnsafeBytes {
            EVP_CipherInit_ex(context, cipher, nil, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, encrypt ? 1 : 0) == 1
        }
        guard keyed else { throw .kdfFailed("libcrypto refused the keyslot area key") }
        for number in 0..<input.count / sector {
            var iv = (UInt128(number)).littleEndian
            var written: Int32 = 0
            let ok = withUnsafeBytes(of: &iv) { ivBytes in
                EVP_CipherInit_ex(context, nil, nil, nil, ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), -1) == 1
                    && EVP_CipherUpdate(context, (output.baseAddress! + number * sector).assumingMemoryBound(to: UInt8.self), &written,
                                        (input.baseAddress! + number * sector).assumingMemoryBound(to: UInt8.self), Int32(sector)) == 1
            }
            guard ok, Int(written) == sector else { throw .kdfFailed("libcrypto AES-XTS failed on the keyslot area") }
        }
    }
}
