import CKLKernels

/// The `keylocker-soft` engine: a software Key Locker with the hardware's
/// handle format and semantics. Its IWKey comes from getrandom when the
/// engine starts and lives in secret memory (memfd_secret where the kernel
/// grants it); handles are unwrapped once per call (or per block cipher
/// scope) and the round keys wiped before the call returns.
/// docs/KEYLOCKER-SOFT.md specifies the wrap.
public final class SoftKeyLockerEngine: KeyLocker, @unchecked Sendable {
    public var kind: EngineKind { .keylockerSoft }
    public var tweakRestrictions: HandleRestrictions { .noDecrypt }
    /// Where the IWKey lives.
    public var iwkeyBacking: SecretBacking { iwkey.backing }

    // The IWKey (a klfs_iwkey) dies with this engine (SecretBytes.deinit).
    private let iwkey: SecretBytes

    public init(features: CPUFeatures = .detect(), preferMemfdSecret: Bool = true) throws(EngineError) {
        guard features.raw.aesni, features.raw.pclmulqdq else {
            throw .unavailable("the software Key Locker needs AES-NI and PCLMULQDQ")
        }
        iwkey = try SecretBytes(count: MemoryLayout<klfs_iwkey>.size, preferMemfdSecret: preferMemfdSecret)
        let status = klfs_iwkey_generate(iwkeyPointer)
        guard status == 0 else { throw .randomUnavailable(errno: -status) }
    }

    private var iwkeyPointer: UnsafeMutablePointer<klfs_iwkey> {
        iwkey.withUnsafeMutableBytes { $0.baseAddress!.assumingMemoryBound(to: klfs_iwkey.self) }
    }

    public func wrap(_ key: SecretBytes, restrictions: HandleRestrictions) throws(EngineError) -> KeyLockerHandle {
        // The raw key dies when this function returns, on every path.
        defer { key.wipe() }
        try requireAES256Key(key)
        var handle = [UInt8](repeating: 0, count: KeyLockerHandle.size)
        let status = key.withUnsafeBytes { raw in
            klfs_softkl_encode_key(iwkeyPointer, restrictions.rawValue,
                                   raw.baseAddress!.assumingMemoryBound(to: UInt8.self), 256, &handle)
        }
        if let error = EngineError(status: status) { throw error }
        return KeyLockerHandle(bytes: handle)
    }

    /// Unwraps both handles once for the whole scope (the data handle for
    /// each direction asked, its restriction checked; the tweak handle for
    /// encryption) into round keys of the scope.
    public func withXTSCipher(dataHandle: UnsafePointer<UInt8>, tweakHandle: UnsafePointer<UInt8>,
                              for directions: CryptDirections,
                              _ body: (borrowing XTSCipher) throws(EngineError) -> Void) throws(EngineError) {
        try withRoundKeys(klfs_aesni_xts_key.self, count: 1) { keys throws(EngineError) in
            let status = klfs_softkl_load_xts_key(iwkeyPointer, dataHandle, tweakHandle,
                                                  directions.contains(.encrypt), directions.contains(.decrypt),
                                                  keys)
            if let error = EngineError(status: status) { throw error }
            try body(XTSCipher(kernel: .schedules(keys), directions: directions))
        }
    }

    /// Unwraps the handle once for the whole scope into round keys of the
    /// scope: one schedule per direction asked, each direction's
    /// restriction checked.
    public func withBlockCipher(handle: UnsafePointer<UInt8>, for directions: CryptDirections,
                                _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError) {
        try withRoundKeys(klfs_aes_key.self, count: 2) { schedules throws(EngineError) in
            let encrypt = directions.contains(.encrypt) ? schedules : nil
            let decrypt = directions.contains(.decrypt) ? schedules + 1 : nil
            let status = klfs_softkl_load_key(iwkeyPointer, handle, 256, encrypt, decrypt)
            if let error = EngineError(status: status) { throw error }
            try body(BlockCipher(kernel: .schedules(encrypt: encrypt.map { UnsafePointer($0) },
                                                    decrypt: decrypt.map { UnsafePointer($0) }),
                                 directions: directions))
        }
    }

    /// A temporary buffer (on the stack at these sizes) for the round keys
    /// of one scope.
    private func withRoundKeys<Keys>(_ type: Keys.Type, count: Int,
                                     _ body: (UnsafeMutablePointer<Keys>) throws(EngineError) -> Void) throws(EngineError) {
        try withUnsafeTemporaryAllocation(of: type, capacity: count) { keys throws(EngineError) in
            // The scope's round keys die here, on every path; klfs_wipe also
            // clears the vector registers the expansion and the blocks used.
            defer { klfs_wipe(keys.baseAddress, count * MemoryLayout<Keys>.stride) }
            try body(keys.baseAddress!)
        }
    }
}
