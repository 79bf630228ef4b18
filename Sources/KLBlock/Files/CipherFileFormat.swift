import KLEngine

/// How a volume's backing files are encoded: everything a ``CipherFile``,
/// a header read and fsck need besides the backing descriptor
/// (docs/FORMAT.md).
public struct CipherFileFormat: Sendable {
    public let sectorSize: SectorSize
    /// K1 || K2, the sectors' AES-256-XTS key.
    public let key: any XTSKey
    public let headers: HeaderFormat

    public init(sectorSize: SectorSize, key: any XTSKey, headers: HeaderFormat) {
        self.sectorSize = sectorSize
        self.key = key
        self.headers = headers
    }

    /// The shortest valid backing file for a plaintext of `size` bytes: the
    /// header alone when empty, else up to the end of the last sector.
    public func minimumBackingLength(forSize size: Int) -> Int {
        let sectors = CipherFileLayout.sectorCount(forSize: size, sectorSize: sectorSize)
        return sectors == 0 ? headers.length : CipherFileLayout.backingOffset(ofSector: sectors, sectorSize: sectorSize)
    }
}
