import COpenSSL

/// OpenSSL's AES-256-XTS (libcrypto's EVP_aes_256_xts), one data unit per
/// EVP call as dm-crypt uses it. It is the oracle of the differential tests
/// and the peer of `klfs bench engine`; the data path never uses it.
/// OpenSSL keeps its own copy of the key in ordinary heap memory.
public final class OpenSSLXTS {
    private let context: OpaquePointer

    /// `key` is K1 || K2, 64 bytes.
    public init(key: UnsafeRawBufferPointer, direction: CryptDirection) {
        precondition(key.count == 64, "AES-256-XTS takes a 64-byte key")
        context = EVP_CIPHER_CTX_new()!
        let ok = EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil,
                                   key.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
                                   direction == .encrypt ? 1 : 0)
        precondition(ok == 1, "OpenSSL refused the XTS key (K1 equal to K2?)")
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Same contract as ``XTSKey/crypt(_:_:into:dataUnitSize:firstDataUnit:)``.
    public func crypt(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) {
        precondition(input.count == output.count && input.count % dataUnitSize == 0)
        var offset = 0
        var unit = firstDataUnit
        while offset < input.count {
            var iv = unit.littleEndian
            var written: Int32 = 0
            let ok = withUnsafeBytes(of: &iv) { ivBytes in
                EVP_CipherInit_ex(context, nil, nil, nil,
                                  ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), -1) == 1
                    && EVP_CipherUpdate(context,
                                        (output.baseAddress! + offset).assumingMemoryBound(to: UInt8.self),
                                        &written,
                                        (input.baseAddress! + offset).assumingMemoryBound(to: UInt8.self),
                                        Int32(dataUnitSize)) == 1
            }
            precondition(ok && Int(written) == dataUnitSize, "OpenSSL XTS failed")
            offset += dataUnitSize
            unit &+= 1
        }
    }
}
