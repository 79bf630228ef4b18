import CKLKernels

/// The `keylocker` engine: ENCODEKEY256 wraps the keys into handles under
/// the CPU's IWKey, and every sector goes through AESENC256KL and
/// AESENCWIDE256KL / AESDECWIDE256KL (keylocker_x86_64.S). Under
/// ``KeyLockerEmulator`` the same machine code runs, trapped and emulated.
public struct KeyLockerEngine: KeyLocker {
    public var kind: EngineKind { .keylocker }
    public let tweakRestrictions: HandleRestrictions
    /// True when the instructions are emulated, not executed by the CPU.
    public let isEmulated: Bool

    public init(features: CPUFeatures = .detect()) throws(EngineError) {
        guard features.keyLocker == .ready else {
            throw .unavailable("Key Locker is \(features.keyLocker.explanation)")
        }
        tweakRestrictions = features.supportsNoDecryptRestriction ? .noDecrypt : []
        isEmulated = KeyLockerEmulator.isInstalled
    }

    /// ENCODEKEY's result (IWKey.NoBackup, IWKey.KeySource) comes back with
    /// the handle: the only word the CPU gives about its IWKey.
    public func encodeKey(_ key: SecretBytes, restrictions: HandleRestrictions) throws(EngineError) -> EncodedKey {
        // The raw key dies when this function returns, on every path.
        defer { key.wipe() }
        try requireAES256Key(key)
        var handle = [UInt8](repeating: 0, count: KeyLockerHandle.size)
        let result = key.withUnsafeBytes { raw in
            klfs_kl_encodekey256(restrictions.rawValue, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), &handle)
        }
        return EncodedKey(handle: KeyLockerHandle(bytes: handle), wrappingKey: IWKeyAttributes(rawValue: result))
    }

    /// Nothing is unwrapped: the kernel runs AESENC256KL on the tweak and
    /// AESENCWIDE256KL / AESDECWIDE256KL through the handles.
    public func crypt(_ direction: CryptDirection, dataHandle: UnsafePointer<UInt8>,
                      tweakHandle: UnsafePointer<UInt8>, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64) throws(EngineError) {
        try runKernel(input, output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit,
                      dataUnitStep: dataUnitStep) {
            klfs_kl_xts_crypt(dataHandle, tweakHandle, direction.kernelValue, $0, $1, $2, $3, $4, $5)
        }
    }

    /// Nothing is unwrapped: every block is one AESENC256KL / AESDEC256KL
    /// through the handle, which checks the handle's restrictions itself.
    public func withBlockCipher(handle: UnsafePointer<UInt8>, for directions: CryptDirections,
                                _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError) {
        try body(BlockCipher(kernel: .keyLockerHandle(handle), directions: directions))
    }
}

/// Only under the emulator, on the calling thread's machine: a program at
/// CPL3 cannot execute LOADIWKEY or write the backup MSRs.
extension KeyLockerEngine: IWKeyLifecycle {
    public var supportedIWKeyEvents: Set<IWKeyEvent> { isEmulated ? [.newKey, .backUp, .restore] : [] }

    public func perform(_ event: IWKeyEvent) throws(EngineError) {
        guard isEmulated, let machine = EmulatedMachine.current else { throw .iwkeyEventUnsupported(event, kind) }
        switch event {
        case .newKey: try machine.loadIWKey(.hardwareRandomWithBackup)
        case .backUp: try machine.backUpIWKey()
        case .restore: try machine.restoreIWKey()
        case .wipe: throw .iwkeyEventUnsupported(event, kind)
        }
    }
}
