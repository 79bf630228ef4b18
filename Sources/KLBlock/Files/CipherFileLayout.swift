/// Where a file's sectors sit in its backing file and which XTS data unit
/// each one is (docs/FORMAT.md, "Sectors").
///
/// The header takes the first sector-sized slot; sector i of the plaintext
/// is stored at byte (i + 1) * sectorSize. Data sectors are therefore
/// aligned to the sector size, so each one lies in a single block of any
/// backing filesystem whose block size is a multiple of the sector size.
public enum CipherFileLayout {
    /// The backing offset of plaintext sector `index`.
    public static func backingOffset(ofSector index: Int, sectorSize: SectorSize) -> Int {
        (index + 1) * sectorSize.bytes
    }

    /// The XTS data unit sequence number of sector `index` in the file
    /// `fileID`: their sum modulo 2^128. For a version 1 file (ID N * 2^64)
    /// that is the nonce in the high 64 bits and the index in the low.
    public static func dataUnit(ofSector index: Int, fileID: UInt128) -> UInt128 {
        fileID &+ UInt128(index)
    }

    /// Sectors that hold a plaintext of `size` bytes.
    public static func sectorCount(forSize size: Int, sectorSize: SectorSize) -> Int {
        size / sectorSize.bytes + (size % sectorSize.bytes == 0 ? 0 : 1)
    }

    /// The largest plaintext size whose backing file length fits in an off_t.
    public static func maximumSize(sectorSize: SectorSize) -> Int {
        (Int.max / sectorSize.bytes - 1) * sectorSize.bytes
    }
}
