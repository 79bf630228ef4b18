/// Where the sectors of a crypt segment are and which XTS tweak each one
/// takes, as dm-crypt maps them: sector n (counted in the segment's sector
/// size from the segment's offset) is at offset + n * sectorSize and is
/// encrypted with data unit sequence number n + iv_tweak / (sectorSize /
/// 512), little-endian (plain64). iv_tweak counts 512-byte sectors, being
/// dm-crypt's iv_offset, and LUKS2 always maps with iv_large_sectors, so
/// the IV counts sectors of the segment's size. iv_tweak is 0 in every
/// image cryptsetup makes outside a reencryption.
extension LUKS2Segment {
    /// The first byte of sector `sector`.
    public func byteOffset(ofSector sector: UInt64) -> UInt64 {
        offset + sector * UInt64(sectorSize)
    }

    /// The XTS data unit sequence number of sector `sector`.
    public func dataUnit(ofSector sector: UInt64) -> UInt128 {
        UInt128(sector) + UInt128(ivTweak / UInt64(sectorSize / 512))
    }

    /// The sectors of the segment in an image of `imageSize` bytes.
    public func sectorCount(imageSize: UInt64) -> UInt64 {
        switch size {
        case .dynamic: return imageSize > offset ? (imageSize - offset) / UInt64(sectorSize) : 0
        case .bytes(let bytes): return bytes / UInt64(sectorSize)
        }
    }
}
