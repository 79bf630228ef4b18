import CKLKernels

/// An XTS key made ready for one ``XTSKey/withCipher(for:_:)`` scope. Not
/// copyable and only lent to the scope's body, so it cannot outlive the
/// memory its pointers reach (round keys a scope wipes at its end, or
/// handles).
public struct XTSCipher: ~Copyable {
    /// How units are run: the AES-NI/VAES kernel over round keys, or the
    /// Key Locker kernel through the handles.
    enum Kernel {
        case schedules(UnsafePointer<klfs_aesni_xts_key>)
        case keyLockerHandles(data: UnsafePointer<UInt8>, tweak: UnsafePointer<UInt8>)
    }

    let kernel: Kernel
    let directions: CryptDirections

    /// AES-256-XTS over `input.count / dataUnitSize` consecutive data units;
    /// unit k uses the data unit sequence number `firstDataUnit + k`
    /// (modulo 2^128). A data unit is at least 16 bytes; a partial final
    /// block uses ciphertext stealing. `input` and `output` have the same
    /// size and are either the same memory (in place) or disjoint.
    /// `direction` must be one the scope was opened for.
    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        precondition(directions.contains(CryptDirections(direction)),
                     "an XTS cipher scope runs only the directions it was opened for")
        try runKernel(input, output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit) {
            switch kernel {
            case .schedules(let keys):
                klfs_aesni_xts_crypt(keys, direction.kernelValue, $0, $1, $2, $3, $4)
            case .keyLockerHandles(let data, let tweak):
                klfs_kl_xts_crypt(data, tweak, direction.kernelValue, $0, $1, $2, $3, $4)
            }
        }
    }

    /// In place.
    public func crypt(_ direction: CryptDirection, _ buffer: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128) throws(EngineError) {
        try crypt(direction, UnsafeRawBufferPointer(buffer), into: buffer,
                  dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit)
    }
}
