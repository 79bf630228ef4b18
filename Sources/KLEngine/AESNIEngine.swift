import CKLKernels

/// The `aesni` engine, the speed baseline: AES-NI / VAES-512 XTS with the
/// expanded key schedules held in secret memory for the life of the key.
/// Unlike the Key Locker engines, the key itself stays in memory (round
/// keys 0 and 1 of AES-256 are the raw key).
public struct AESNIEngine: XTSEngine {
    public var kind: EngineKind { .aesni }

    public init(features: CPUFeatures = .detect()) throws(EngineError) {
        guard features.raw.aesni else { throw .unavailable("the CPU has no AES-NI") }
    }

    /// "vaes-avx512" or "aesni".
    public static var kernelName: String { String(cString: klfs_aesni_xts_kernel_name()) }

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
        return AESNIXTSKey(schedules: schedules)
    }
}

/// An XTS key as expanded AES-NI schedules in secret memory, wiped when
/// the last reference goes.
public struct AESNIXTSKey: XTSKey {
    let schedules: SecretBytes
    public var engine: EngineKind { .aesni }

    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        try schedules.withUnsafeBytes { key throws(EngineError) in
            let key = key.baseAddress!.assumingMemoryBound(to: klfs_aesni_xts_key.self)
            try runKernel(input, output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit) {
                klfs_aesni_xts_crypt(key, direction.kernelValue, $0, $1, $2, $3, $4)
            }
        }
    }
}
