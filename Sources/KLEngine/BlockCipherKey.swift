import CKLKernels

/// A wrapped AES-256 key used one 16-byte block at a time (ECB): the
/// primitive wide-block modes such as EME are built from. Key Locker
/// engines run AESENC256KL / AESDEC256KL (or the software model of them);
/// the aesni engine runs its expanded schedules.
public protocol BlockCipherKey: Sendable {
    var engine: EngineKind { get }

    /// Runs `body` with a ``BlockCipher`` for `directions`, so that a mode
    /// making several passes (EME makes four) pays for the key once: the
    /// software Key Locker unwraps the handle once for the whole scope, into
    /// the thread's secret scope slot, checking its restrictions for every
    /// direction asked, and its round keys die (wiped, with the vector
    /// registers) before this returns, on every path. A scope is for
    /// computation only: no I/O may happen inside one. The real Key Locker
    /// still goes through the handle for every block; aesni uses the
    /// schedules it keeps.
    func withCipher(for directions: CryptDirections,
                    _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError)
}

extension BlockCipherKey {
    /// One pass in its own scope: AES-256 of each 16-byte block of `input`
    /// into `output`, which has the same size and is the same memory (in
    /// place) or disjoint. On an error `output` is zeroed: a scope refused
    /// before its first block would otherwise leave the input in place.
    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer) throws(EngineError) {
        do {
            try withCipher(for: CryptDirections(direction)) { cipher throws(EngineError) in
                try cipher.crypt(direction, input, into: output)
            }
        } catch {
            output.initializeMemory(as: UInt8.self, repeating: 0)
            throw error
        }
    }

    /// In place.
    public func encryptBlocks(_ buffer: UnsafeMutableRawBufferPointer) throws(EngineError) {
        try crypt(.encrypt, UnsafeRawBufferPointer(buffer), into: buffer)
    }

    /// In place.
    public func decryptBlocks(_ buffer: UnsafeMutableRawBufferPointer) throws(EngineError) {
        try crypt(.decrypt, UnsafeRawBufferPointer(buffer), into: buffer)
    }
}

/// The checks every engine makes before an ECB kernel call, and the call:
/// `kernel` gets (in, out, block count) and returns a klfs_common.h status.
func runBlockKernel(
    _ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer,
    _ kernel: (UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>, Int) -> Int32
) throws(EngineError) {
    guard input.count == output.count, input.count % 16 == 0 else {
        throw .invalidLength(input: input.count, output: output.count, dataUnitSize: 16)
    }
    guard input.count > 0, let src = input.baseAddress, let dst = output.baseAddress else { return }
    let status = kernel(src.assumingMemoryBound(to: UInt8.self), dst.assumingMemoryBound(to: UInt8.self),
                        input.count / 16)
    if let error = EngineError(status: status, input: input.count, output: output.count, dataUnitSize: 16) {
        throw error
    }
}
