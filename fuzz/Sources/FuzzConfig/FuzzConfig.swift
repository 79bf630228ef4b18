import KLBlock

/// One klfs.conf candidate. The parser may refuse it only by throwing
/// VolumeError; whatever it accepts must hold the documented field sizes
/// and pass or fail the unlock checks without trapping.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let config: VolumeConfig
    do {
        config = try VolumeConfig.parse(bytes)
    } catch {
        // Every refusal has a message; building it must not trap either.
        _ = error.description
        return 0
    }
    precondition(config.version == VolumeConfig.currentVersion)
    precondition(config.kdf.salt.count == PasswordKDF.saltSize)
    precondition(config.masterKey.nonce.count == WrappedMasterKey.nonceSize)
    precondition(config.masterKey.ciphertext.count == WrappedMasterKey.ciphertextSize)
    precondition(config.masterKey.check.count == WrappedMasterKey.checkSize)
    precondition(SectorSize.allowed.contains(config.sectorSize.bytes))
    _ = config.unknownFeatureFlags
    do {
        try config.kdf.cost.check()
    } catch {
        _ = error.description
    }
    // Parsing depends on the bytes alone.
    precondition((try? VolumeConfig.parse(bytes)) == config)
    return 0
}
