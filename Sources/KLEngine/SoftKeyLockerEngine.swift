import CKLKernels
import Glibc

/// The `keylocker-soft` engine: a software Key Locker with the hardware's
/// handle format and semantics. Its IWKey comes from getrandom when the
/// engine starts and lives in secret memory (memfd_secret where the kernel
/// grants it). Handles are unwrapped only into secret memory (the thread's
/// secret stack, or its scope slot for a block cipher scope), once per XTS
/// call or block cipher scope, and the round keys are wiped before the call
/// or scope ends.
/// docs/KEYLOCKER-SOFT.md specifies the wrap.
public final class SoftKeyLockerEngine: KeyLocker, @unchecked Sendable {
    public var kind: EngineKind { .keylockerSoft }
    public var tweakRestrictions: HandleRestrictions { .noDecrypt }
    /// The kernel that runs the blocks once a call has unwrapped its
    /// handles (never `auto`).
    public let xtsKernel: XTSKernel
    public var kernelName: String { xtsKernel.rawValue }
    /// Where the IWKey lives.
    public var iwkeyBacking: SecretBacking { iwkey.backing }

    // The IWKey (a klfs_iwkey) dies with this engine (SecretBytes.deinit).
    private let iwkey: SecretBytes

    /// `xtsKernel` is resolved here, as ``AESNIEngine/init(features:xtsKernel:)`` does.
    public init(features: CPUFeatures = .detect(), preferMemfdSecret: Bool = true,
                xtsKernel: XTSKernel = .auto) throws(EngineError) {
        guard features.raw.aesni, features.raw.pclmulqdq else {
            throw .unavailable("the software Key Locker needs AES-NI and PCLMULQDQ")
        }
        self.xtsKernel = try features.resolve(xtsKernel)
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

    /// Both handles are unwrapped on the thread's secret stack, for this
    /// call only: the data handle for `direction` (its restriction
    /// checked), the tweak handle for encryption.
    public func crypt(_ direction: CryptDirection, dataHandle: UnsafePointer<UInt8>,
                      tweakHandle: UnsafePointer<UInt8>, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        try runKernel(input, output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit) {
            klfs_softkl_xts_crypt(iwkeyPointer, dataHandle, tweakHandle, direction.kernelValue, $0, $1, $2, $3, $4,
                                  xtsKernel.kernelValue)
        }
    }

    /// Unwraps the handle once for the whole scope, on the secret stack,
    /// into the thread's secret scope slot: one schedule per direction
    /// asked, each direction's restriction checked. A scope holds no I/O
    /// (EME runs four passes over one name), and the slot is wiped when
    /// it ends, on every path.
    public func withBlockCipher(handle: UnsafePointer<UInt8>, for directions: CryptDirections,
                                _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError) {
        guard let slot = klfs_secret_slot_acquire() else { throw .secretMemoryUnavailable(errno: errno) }
        // The scope's round keys die here, on every path.
        defer { klfs_secret_slot_release() }
        let schedules = slot.bindMemory(to: klfs_aes_key.self, capacity: 2)
        let encrypt = directions.contains(.encrypt) ? schedules : nil
        let decrypt = directions.contains(.decrypt) ? schedules + 1 : nil
        let status = klfs_softkl_load_key(iwkeyPointer, handle, 256, encrypt, decrypt)
        if let error = EngineError(status: status) { throw error }
        try body(BlockCipher(kernel: .schedules(encrypt: encrypt.map { UnsafePointer($0) },
                                                decrypt: decrypt.map { UnsafePointer($0) }),
                             directions: directions))
    }
}
