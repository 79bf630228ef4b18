import CKLKernels
import Glibc

/// The `keylocker-soft` engine: a software Key Locker with the hardware's
/// handle format and semantics. Its IWKey comes from getrandom when the
/// engine starts and lives in secret memory (memfd_secret where the kernel
/// grants it), in a store that lets ``IWKeyEvent/wipe`` and
/// ``IWKeyEvent/newKey`` change it under running calls. Handles are
/// unwrapped only into secret memory (the thread's secret stack, or its
/// scope slot for a block cipher scope), once per XTS call or block cipher
/// scope, and the round keys are wiped before the call or scope ends.
/// docs/KEYLOCKER-SOFT.md specifies the wrap.
public final class SoftKeyLockerEngine: KeyLocker, @unchecked Sendable {
    public var kind: EngineKind { .keylockerSoft }
    public var tweakRestrictions: HandleRestrictions { .noDecrypt }
    /// The kernel that runs the blocks once a call has unwrapped its
    /// handles (never `auto`).
    public let xtsKernel: XTSKernel
    public var kernelName: String { xtsKernel.rawValue }
    /// Where the IWKey lives.
    public let iwkeyBacking: SecretBacking

    /// What ENCODEKEY reports for every IWKey of this engine: NoBackup,
    /// since the key lives in this process only and nothing can bring it
    /// back; KeySource 0, since software chose it (from getrandom).
    public static let iwkeyAttributes = IWKeyAttributes(noBackup: true, keySource: .software)

    // A klfs_iwkey_store. Each IWKey dies in it when wiped or replaced, and
    // the last one with this engine (deinit).
    private let iwkeys: OpaquePointer

    /// `xtsKernel` is resolved here, as ``AESNIEngine/init(features:xtsKernel:)`` does.
    public init(features: CPUFeatures = .detect(), preferMemfdSecret: Bool = true,
                xtsKernel: XTSKernel = .auto) throws(EngineError) {
        guard features.raw.aesni, features.raw.pclmulqdq else {
            throw .unavailable("the software Key Locker needs AES-NI and PCLMULQDQ")
        }
        self.xtsKernel = try features.resolve(xtsKernel)
        var backing = KLFS_SECRET_LOCKED_ANONYMOUS
        guard let iwkeys = klfs_iwkey_store_create(preferMemfdSecret, &backing) else {
            throw .secretMemoryUnavailable(errno: errno)
        }
        self.iwkeys = iwkeys
        iwkeyBacking = SecretBacking(backing)
        try generateIWKey()
    }

    deinit {
        klfs_iwkey_store_destroy(iwkeys)
    }

    /// Runs a kernel call with the current IWKey, held whole for the call
    /// however another thread wipes or replaces it meanwhile; KLFS_ENOKEY
    /// when it is wiped.
    private func withIWKey(_ call: (UnsafePointer<klfs_iwkey>) -> Int32) -> Int32 {
        var ticket: Int32 = 0
        guard let iwkey = klfs_iwkey_store_acquire(iwkeys, &ticket) else { return Int32(KLFS_ENOKEY) }
        defer { klfs_iwkey_store_release(iwkeys, ticket) }
        return call(iwkey)
    }

    private func generateIWKey() throws(EngineError) {
        let status = klfs_iwkey_store_generate(iwkeys, Self.iwkeyAttributes.rawValue)
        if status == Int32(KLFS_ENOMEM) { throw .secretMemoryUnavailable(errno: errno) }
        guard status == 0 else { throw .randomUnavailable(errno: -status) }
    }

    public func encodeKey(_ key: SecretBytes, restrictions: HandleRestrictions) throws(EngineError) -> EncodedKey {
        // The raw key dies when this function returns, on every path.
        defer { key.wipe() }
        try requireAES256Key(key)
        var handle = [UInt8](repeating: 0, count: KeyLockerHandle.size)
        let status = key.withUnsafeBytes { raw in
            withIWKey { iwkey in
                klfs_softkl_encode_key(iwkey, restrictions.rawValue,
                                       raw.baseAddress!.assumingMemoryBound(to: UInt8.self), 256, &handle)
            }
        }
        if let error = EngineError(status: status) { throw error }
        return EncodedKey(handle: KeyLockerHandle(bytes: handle), wrappingKey: Self.iwkeyAttributes)
    }

    /// Both handles are unwrapped on the thread's secret stack, for this
    /// call only, under one IWKey: the data handle for `direction` (its
    /// restriction checked), the tweak handle for encryption.
    public func crypt(_ direction: CryptDirection, dataHandle: UnsafePointer<UInt8>,
                      tweakHandle: UnsafePointer<UInt8>, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64) throws(EngineError) {
        try runKernel(input, output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit,
                      dataUnitStep: dataUnitStep) {
            source, destination, unitSize, units, firstUnit, unitStep in
            withIWKey { iwkey in
                klfs_softkl_xts_crypt(iwkey, dataHandle, tweakHandle, direction.kernelValue,
                                      source, destination, unitSize, units, firstUnit, unitStep, xtsKernel.kernelValue)
            }
        }
    }

    /// Unwraps the handle once for the whole scope, on the secret stack,
    /// into the thread's secret scope slot: one schedule per direction
    /// asked, each direction's restriction checked. A scope holds no I/O
    /// (EME runs four passes over one name), and the slot is wiped when
    /// it ends, on every path. The scope's blocks need no IWKey after the
    /// unwrap, so an IWKey change cannot reach them.
    public func withBlockCipher(handle: UnsafePointer<UInt8>, for directions: CryptDirections,
                                _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError) {
        guard let slot = klfs_secret_slot_acquire() else { throw .secretMemoryUnavailable(errno: errno) }
        // The scope's round keys die here, on every path.
        defer { klfs_secret_slot_release() }
        let schedules = slot.bindMemory(to: klfs_aes_key.self, capacity: 2)
        let encrypt = directions.contains(.encrypt) ? schedules : nil
        let decrypt = directions.contains(.decrypt) ? schedules + 1 : nil
        let status = withIWKey { klfs_softkl_load_key($0, handle, 256, encrypt, decrypt) }
        if let error = EngineError(status: status) { throw error }
        try body(BlockCipher(kernel: .schedules(encrypt: encrypt.map { UnsafePointer($0) },
                                                decrypt: decrypt.map { UnsafePointer($0) }),
                             directions: directions))
    }
}

/// A software Key Locker has no platform storage to back up to: it can only
/// lose its IWKey (wipe) and get a fresh one.
extension SoftKeyLockerEngine: IWKeyLifecycle {
    public var supportedIWKeyEvents: Set<IWKeyEvent> { [.newKey, .wipe] }

    public func perform(_ event: IWKeyEvent) throws(EngineError) {
        switch event {
        case .newKey: try generateIWKey()
        case .wipe: klfs_iwkey_store_wipe(iwkeys)
        case .backUp, .restore: throw .iwkeyEventUnsupported(event, kind)
        }
    }
}
