import CKLKernels

/// The `aesni` engine, the speed baseline: AES-NI / VAES XTS with the
/// expanded key schedules held in secret memory for the life of the key.
/// Unlike the Key Locker engines, the key itself stays in memory (round
/// keys 0 and 1 of AES-256 are the raw key).
public struct AESNIEngine: XTSEngine {
    public var kind: EngineKind { .aesni }
    /// The kernel every key of this engine runs (never `auto`).
    public let xtsKernel: XTSKernel
    public var kernelName: String { xtsKernel.rawValue }

    /// `xtsKernel` is resolved here: `auto` becomes the fastest kernel the
    /// CPU runs, and a kernel it cannot run is refused.
    public init(features: CPUFeatures = .detect(), xtsKernel: XTSKernel = .auto) throws(EngineError) {
        guard features.raw.aesni else { throw .unavailable("the CPU has no AES-NI") }
        self.xtsKernel = try features.resolve(xtsKernel)
    }

    public func makeKey(dataKey: SecretBytes, tweakKey: SecretBytes) throws(EngineError) -> any XTSKey {
        defer {
            // The raw keys die here; their expansion lives on in `schedules`.
            dataKey.wipe()
            tweakKey.wipe()
        }
        try requireAES256Key(dataKey)
        try requireAES256Key(tweakKey)
        let schedules = try SecretBytes(count: MemoryLayout<klfs_aesni_xts_key>.size)
        schedules.withUnsafeMutableBytes { out in
            dataKey.withUnsafeBytes { data in
                tweakKey.withUnsafeBytes { tweak in
                    klfs_aesni_xts_setup(out.baseAddress!.assumingMemoryBound(to: klfs_aesni_xts_key.self),
                                         data.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                         tweak.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return AESNIXTSKey(schedules: schedules, xtsKernel: xtsKernel)
    }

    public func makeBlockKey(_ key: SecretBytes) throws(EngineError) -> any BlockCipherKey {
        // The raw key dies here; its expansion lives on in `schedules`.
        defer { key.wipe() }
        try requireAES256Key(key)
        let schedules = try SecretBytes(count: 2 * MemoryLayout<klfs_aes_key>.stride)
        schedules.withUnsafeMutableBytes { out in
            key.withUnsafeBytes { raw in
                let encrypt = out.baseAddress!.assumingMemoryBound(to: klfs_aes_key.self)
                _ = klfs_aes_expand_key(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), 256,
                                        encrypt, encrypt + 1)
            }
        }
        return AESNIBlockKey(schedules: schedules)
    }
}

/// An XTS key as expanded AES-NI schedules in secret memory, wiped when
/// the last reference goes.
public struct AESNIXTSKey: XTSKey {
    let schedules: SecretBytes
    public let xtsKernel: XTSKernel
    public var engine: EngineKind { .aesni }
    public var kernelName: String { xtsKernel.rawValue }

    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64) throws(EngineError) {
        try schedules.withUnsafeBytes { key throws(EngineError) in
            let key = key.baseAddress!.assumingMemoryBound(to: klfs_aesni_xts_key.self)
            try runKernel(input, output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit,
                          dataUnitStep: dataUnitStep) {
                klfs_aesni_xts_crypt(key, xtsKernel.kernelValue, direction.kernelValue, $0, $1, $2, $3, $4, $5)
            }
        }
    }
}

/// A single-block key as expanded AES-NI schedules in secret memory (the
/// encryption schedule, then the decryption one), wiped when the last
/// reference goes. The schedules are only ever reached through pointers, so
/// no copy of them lands on the stack.
public struct AESNIBlockKey: BlockCipherKey {
    let schedules: SecretBytes
    public var engine: EngineKind { .aesni }

    public func withCipher(for directions: CryptDirections,
                           _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError) {
        try schedules.withUnsafeBytes { raw throws(EngineError) in
            let encrypt = raw.baseAddress!.assumingMemoryBound(to: klfs_aes_key.self)
            try body(BlockCipher(kernel: .schedules(encrypt: encrypt, decrypt: encrypt + 1), directions: directions))
        }
    }
}
