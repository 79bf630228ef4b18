import COpenSSL

/// A hash named in LUKS2 metadata (the header checksum, the AF splitter,
/// PBKDF2), computed by libcrypto. Only the SHA family is accepted: those
/// are what cryptsetup writes, and refusing the rest keeps a legacy name
/// from silently meaning something else.
struct LUKS2Hash: Equatable, @unchecked Sendable {
    static let supportedNames = ["sha1", "sha224", "sha256", "sha384", "sha512"]

    let name: String
    let digestSize: Int
    fileprivate let md: OpaquePointer

    static func == (a: LUKS2Hash, b: LUKS2Hash) -> Bool { a.name == b.name }

    init(named name: String) throws(LUKS2Error) {
        guard Self.supportedNames.contains(name), let md = EVP_get_digestbyname(name) else {
            throw .unsupportedHash(name)
        }
        self.name = name
        self.md = md
        digestSize = Int(EVP_MD_get_size(md))
    }

    static let sha256 = try! LUKS2Hash(named: "sha256")

    /// The digest of the concatenated `parts` into `output` (digestSize bytes).
    func digest(_ parts: [UnsafeRawBufferPointer], into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= digestSize)
        let context = EVP_MD_CTX_new()!
        // EVP_MD_CTX_free cleanses the context, which held the (possibly secret) input state.
        defer { EVP_MD_CTX_free(context) }
        var ok = EVP_DigestInit_ex(context, md, nil) == 1
        for part in parts where part.count > 0 {
            ok = ok && EVP_DigestUpdate(context, part.baseAddress!, part.count) == 1
        }
        ok = ok && EVP_DigestFinal_ex(context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), nil) == 1
        precondition(ok, "libcrypto \(name) failed")
    }

    /// PBKDF2-HMAC with this hash, written to `output` (its whole size).
    func pbkdf2(password: UnsafeRawBufferPointer, salt: [UInt8], iterations: Int,
                into output: UnsafeMutableRawBufferPointer) throws(LUKS2Error) {
        guard iterations >= 1, iterations <= Int(Int32.max) else { throw .kdfFailed("pbkdf2 iterations \(iterations) out of range") }
        let ok = PKCS5_PBKDF2_HMAC(password.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(password.count),
                                   salt, Int32(salt.count), Int32(iterations), md,
                                   Int32(output.count), output.baseAddress!.assumingMemoryBound(to: UInt8.self))
        guard ok == 1 else { throw .kdfFailed("libcrypto PBKDF2-\(name) failed") }
    }
}
