import CKLKernels

/// A block key made ready for one ``BlockCipherKey/withCipher(for:_:)``
/// scope. Not copyable and only lent to the scope's body, so it cannot
/// outlive the memory its pointers reach (round keys a scope wipes at its
/// end, or a handle).
public struct BlockCipher: ~Copyable {
    /// How a block is run: AES-NI over round keys, or a Key Locker
    /// instruction through the handle.
    enum Kernel {
        case schedules(encrypt: UnsafePointer<klfs_aes_key>?, decrypt: UnsafePointer<klfs_aes_key>?)
        case keyLockerHandle(UnsafePointer<UInt8>)
    }

    let kernel: Kernel
    let directions: CryptDirections

    /// AES-256 of each 16-byte block of `input` into `output`, as
    /// ``BlockCipherKey/crypt(_:_:into:)``. `direction` must be one the
    /// scope was opened for.
    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer) throws(EngineError) {
        precondition(directions.contains(CryptDirections(direction)),
                     "a block cipher scope runs only the directions it was opened for")
        try runBlockKernel(input, output) { input, output, blocks in
            switch kernel {
            case .schedules(let encrypt, let decrypt):
                if direction == .encrypt {
                    klfs_aes_encrypt_blocks(encrypt!, input, output, blocks)
                } else {
                    klfs_aes_decrypt_blocks(decrypt!, input, output, blocks)
                }
                return Int32(KLFS_OK)
            case .keyLockerHandle(let handle):
                return klfs_kl_ecb_crypt(handle, direction.kernelValue, input, output, blocks)
            }
        }
    }

}
