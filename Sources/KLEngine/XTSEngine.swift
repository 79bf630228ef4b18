import CKLKernels

/// The three engines. All produce identical ciphertext, so a volume written
/// by one is readable by the others.
public enum EngineKind: String, CaseIterable, Sendable, Codable {
    /// Real Key Locker instructions (or the emulator running them).
    case keylocker
    /// The software Key Locker: same handles, IWKey in secret memory.
    case keylockerSoft = "keylocker-soft"
    /// Plain AES-NI / VAES with the key schedule in locked memory.
    case aesni
}

public enum CryptDirection: Sendable {
    case encrypt, decrypt

    var kernelValue: klfs_direction { self == .encrypt ? KLFS_ENCRYPT : KLFS_DECRYPT }
}

/// The directions a ``BlockCipher`` scope is opened for.
public struct CryptDirections: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let encrypt = CryptDirections(rawValue: 1)
    public static let decrypt = CryptDirections(rawValue: 2)

    public init(_ direction: CryptDirection) { self = direction == .encrypt ? .encrypt : .decrypt }
}

/// An engine turns raw XTS keys into an ``XTSKey`` that holds them in the
/// engine's protected form (Key Locker handles or a locked key schedule).
public protocol XTSEngine: Sendable {
    var kind: EngineKind { get }

    /// The XTS kernel this engine's keys run: an ``XTSKernel`` raw value
    /// (aesni, keylocker-soft), or ``XTSKernel/keyLockerKernelName``.
    var kernelName: String { get }

    /// Wraps the data key K1 and the tweak key K2 (32 bytes each) and wipes
    /// both buffers before returning, on success and on failure alike: the
    /// caller never keeps a copy.
    func makeKey(dataKey: SecretBytes, tweakKey: SecretBytes) throws(EngineError) -> any XTSKey

    /// Wraps one AES-256 key (32 bytes) for single-block use in both
    /// directions, and wipes `key` before returning, on success and on
    /// failure alike.
    func makeBlockKey(_ key: SecretBytes) throws(EngineError) -> any BlockCipherKey
}

/// A wrapped XTS key: encrypts and decrypts runs of data units.
public protocol XTSKey: Sendable {
    var engine: EngineKind { get }

    /// The XTS kernel ``crypt(_:_:into:dataUnitSize:firstDataUnit:dataUnitStep:)`` runs,
    /// as ``XTSEngine/kernelName``.
    var kernelName: String { get }
    /// What ENCODEKEY reported about the IWKey that wrapped the handles
    /// (NoBackup, KeySource); nil for aesni, which has no IWKey, and for
    /// keys built from handles made elsewhere.
    var wrappingKey: IWKeyAttributes? { get }

    /// AES-256-XTS over `input.count / dataUnitSize` consecutive data
    /// units; unit k uses the data unit sequence number `firstDataUnit + k
    /// * dataUnitStep` (modulo 2^128; dm-crypt numbers 4096-byte sectors in
    /// 512-byte units unless iv_large_sectors, a step of 8). A data unit is
    /// at least 16 bytes; a partial final
    /// block uses ciphertext stealing. `input` and `output` have the same
    /// size and are either the same memory (in place) or disjoint. On an
    /// error `output` is zeroed.
    ///
    /// Each call stands alone: the software Key Locker unwraps both handles
    /// on the thread's secret stack for this call only, and their round
    /// keys die before it returns, so no key outlives the crypto into the
    /// I/O around it. The real Key Locker goes through the handles for
    /// every block; aesni uses the schedules it keeps in secret memory.
    func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
               into output: UnsafeMutableRawBufferPointer,
               dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64) throws(EngineError)
}

extension XTSKey {
    public var wrappingKey: IWKeyAttributes? { nil }

    /// Consecutive data unit numbers (a step of 1).
    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        try crypt(direction, input, into: output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit,
                  dataUnitStep: 1)
    }

    public func encrypt(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                        dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        try crypt(.encrypt, input, into: output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit)
    }

    public func decrypt(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                        dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        try crypt(.decrypt, input, into: output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit)
    }

    /// In place.
    public func crypt(_ direction: CryptDirection, _ buffer: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        try crypt(direction, UnsafeRawBufferPointer(buffer), into: buffer,
                  dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit)
    }
}

/// The checks every engine makes before handing buffers to a kernel, and
/// the call itself: `kernel` gets (in, out, unit size, unit count, first
/// unit as 16 little-endian bytes, unit step) and returns a klfs_common.h
/// status.
func runKernel(
    _ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer,
    dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64,
    _ kernel: (UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>, Int, Int, UnsafePointer<UInt8>, UInt64) -> Int32
) throws(EngineError) {
    guard dataUnitSize >= 16 else { throw .invalidDataUnitSize(dataUnitSize) }
    guard input.count == output.count, input.count % dataUnitSize == 0 else {
        throw .invalidLength(input: input.count, output: output.count, dataUnitSize: dataUnitSize)
    }
    guard input.count > 0, let src = input.baseAddress, let dst = output.baseAddress else { return }
    var unit = firstDataUnit.littleEndian
    let status = withUnsafeBytes(of: &unit) { unitBytes in
        kernel(src.assumingMemoryBound(to: UInt8.self), dst.assumingMemoryBound(to: UInt8.self),
               dataUnitSize, input.count / dataUnitSize,
               unitBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), dataUnitStep)
    }
    if let error = EngineError(status: status, input: input.count, output: output.count,
                               dataUnitSize: dataUnitSize) {
        output.initializeMemory(as: UInt8.self, repeating: 0)
        throw error
    }
}

/// Checks that a raw key is one AES-256 key.
func requireAES256Key(_ key: SecretBytes) throws(EngineError) {
    guard key.count == 32 else {
        key.wipe()
        throw .invalidKeySize(key.count)
    }
}
