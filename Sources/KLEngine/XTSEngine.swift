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

/// The directions a ``BlockCipher`` or ``XTSCipher`` scope is opened for.
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

    /// Runs `body` with an ``XTSCipher`` for `directions`, so that a request
    /// making several XTS calls (a partial-sector write decrypts, merges and
    /// encrypts) pays for the key once: the software Key Locker unwraps both
    /// handles once for the whole scope, checking the data handle's
    /// restrictions for every direction asked, and its round keys die (wiped,
    /// with the vector registers) before this returns, on every path. The
    /// real Key Locker still goes through the handles for every block; aesni
    /// uses the schedules it keeps.
    func withCipher(for directions: CryptDirections,
                    _ body: (borrowing XTSCipher) throws(EngineError) -> Void) throws(EngineError)
}

extension XTSKey {
    /// One call in its own scope (``XTSCipher/crypt(_:_:into:dataUnitSize:firstDataUnit:)``).
    /// On an error `output` is zeroed: a scope refused before its first
    /// unit would otherwise leave the input in place.
    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        do {
            try withCipher(for: CryptDirections(direction)) { cipher throws(EngineError) in
                try cipher.crypt(direction, input, into: output, dataUnitSize: dataUnitSize,
                                 firstDataUnit: firstDataUnit)
            }
        } catch {
            output.initializeMemory(as: UInt8.self, repeating: 0)
            throw error
        }
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
/// unit as 16 little-endian bytes) and returns a klfs_common.h status.
func runKernel(
    _ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer,
    dataUnitSize: Int, firstDataUnit: UInt128,
    _ kernel: (UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>, Int, Int, UnsafePointer<UInt8>) -> Int32
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
               unitBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }
    if let error = EngineError(status: status, input: input.count, output: output.count,
                               dataUnitSize: dataUnitSize) {
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
