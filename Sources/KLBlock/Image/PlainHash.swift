import COpenSSL
import KLEngine

/// The passphrase hashes of `cryptsetup open --type plain --hash`, run by
/// libcrypto (RIPEMD-160 is in OpenSSL 3's default provider). Only key
/// derivation uses them; the data path never touches libcrypto.
public enum PlainHash: String, CaseIterable, Sendable {
    /// cryptsetup's default for plain mode.
    case ripemd160
    case sha1
    case sha256
    case sha512

    /// The name libcrypto fetches the digest by.
    private var openSSLName: String {
        switch self {
        case .ripemd160: return "RIPEMD160"
        case .sha1: return "SHA1"
        case .sha256: return "SHA256"
        case .sha512: return "SHA512"
        }
    }

    public var digestSize: Int {
        switch self {
        case .ripemd160, .sha1: return 20
        case .sha256: return 32
        case .sha512: return 64
        }
    }

    /// Hashes the concatenation of `parts` into `digest` (``digestSize``
    /// bytes, secret memory the caller owns). libcrypto's context holds
    /// the running state of the passphrase; EVP_MD_CTX_free cleanses it
    /// (OPENSSL_clear_free), so nothing of it outlives this call.
    func digest(of parts: [UnsafeRawBufferPointer], into digest: UnsafeMutableRawBufferPointer) throws(ImageError) {
        precondition(digest.count == digestSize)
        guard let md = EVP_MD_fetch(nil, openSSLName, nil) else { throw .unsupportedHash(rawValue) }
        defer { EVP_MD_free(md) }
        guard let context = EVP_MD_CTX_new() else { throw .unsupportedHash(rawValue) }
        defer { EVP_MD_CTX_free(context) }
        var ok = EVP_DigestInit_ex(context, md, nil) == 1
        for part in parts where ok && part.count > 0 {
            ok = EVP_DigestUpdate(context, part.baseAddress, part.count) == 1
        }
        var length: UInt32 = 0
        ok = ok && EVP_DigestFinal_ex(context, digest.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1
        guard ok, Int(length) == digestSize else { throw .unsupportedHash(rawValue) }
    }
}
