import KLEngine

/// What tells two volume keys apart without keeping either: the first
/// block of the XTS encryption of a zero sector numbered 2^64, a number no
/// sector of an image has (plain64 wraps at 2^64), so that this
/// ciphertext is never on disk. Plain mode has no digest to check a
/// passphrase against; a resume compares this with the key the mount
/// opened with, so that a mistyped passphrase cannot start writing sectors
/// under another key. Not secret: a known plaintext's ciphertext, as any
/// key check value is.
public struct ImageKeyCheck: Equatable, Sendable {
    private let block: [UInt8]

    public init(_ key: any XTSKey) throws(ImageError) {
        let sector = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 64)
        defer { sector.deallocate() }
        sector.initializeMemory(as: UInt8.self, repeating: 0)
        do throws(EngineError) {
            try key.crypt(.encrypt, UnsafeRawBufferPointer(sector), into: sector, dataUnitSize: 512,
                          firstDataUnit: UInt128(1) << 64)
        } catch {
            throw .engine(error)
        }
        block = Array(sector.prefix(16))
    }
}
