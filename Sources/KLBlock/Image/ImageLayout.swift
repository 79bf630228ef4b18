/// Where the encrypted sectors sit in an image and how they are numbered:
/// what a dm-crypt table line says besides the cipher and the key, and
/// what plain mode's options and a LUKS2 segment both come down to.
public struct ImageLayout: Sendable, Equatable, CustomStringConvertible {
    /// How much of the image the plaintext device covers.
    public enum Extent: Sendable, Equatable {
        /// Everything from the payload offset to the end of the image,
        /// rounded down to whole sectors; the device grows with the image
        /// (LUKS2's "size": "dynamic", plain mode without --size).
        case restOfImage
        /// Exactly this many bytes (a multiple of the sector size).
        case fixed(bytes: Int)
    }

    /// The sector sizes image mode serves (dm-crypt accepts every power
    /// of two between; LUKS2 and the task ask for these two).
    public static let sectorSizes = [512, 4096]

    /// Bytes from the start of the image to encrypted sector 0.
    public let payloadOffset: Int
    public let extent: Extent
    /// The XTS data unit.
    public let sectorSize: SectorSize
    /// dm-crypt's iv_offset, in 512-byte sectors: plain mode's --skip,
    /// LUKS2's segment iv_tweak. Added to the sector number (counted in
    /// 512-byte units) before the IV is made.
    public let ivOffset: UInt64
    /// dm-crypt's iv_large_sectors: the IV counts sectors of `sectorSize`
    /// rather than of 512 bytes. LUKS2 always sets it; plain mode only with
    /// --iv-large-sectors, so plain with 4096-byte sectors numbers sector n
    /// as 8n (+ --skip) by default.
    public let ivLargeSectors: Bool

    public init(payloadOffset: Int, extent: Extent = .restOfImage, sectorSize: SectorSize,
                ivOffset: UInt64 = 0, ivLargeSectors: Bool) throws(ImageError) {
        guard Self.sectorSizes.contains(sectorSize.bytes) else { throw .unsupportedSectorSize(sectorSize.bytes) }
        guard payloadOffset >= 0, payloadOffset % 512 == 0 else { throw .misalignedOffset(payloadOffset) }
        if case .fixed(let bytes) = extent, bytes <= 0 || bytes % sectorSize.bytes != 0 {
            throw .misalignedSize(bytes, sectorSize: sectorSize.bytes)
        }
        self.payloadOffset = payloadOffset
        self.extent = extent
        self.sectorSize = sectorSize
        self.ivOffset = ivOffset
        self.ivLargeSectors = ivLargeSectors
    }

    /// The plaintext device's size for an image of `imageSize` bytes.
    public func deviceSize(imageSize: Int) -> Int {
        switch extent {
        case .fixed(let bytes):
            return bytes
        case .restOfImage:
            let available = max(imageSize - payloadOffset, 0)
            return available - available % sectorSize.bytes
        }
    }

    /// 512-byte units per sector.
    private var unitsPerSector: UInt64 { UInt64(sectorSize.bytes / 512) }

    /// The XTS data unit sequence number of device sector `sector`, as
    /// dm-crypt makes it: the sector's position in 512-byte units plus
    /// iv_offset, shifted down to sector units under iv_large_sectors.
    /// aes-xts-plain64's IV is that number as 64 bits little-endian,
    /// zero-extended to 16 bytes; the engines take the data unit number as
    /// a 128-bit little-endian integer, which is the same bytes. The sum
    /// wraps at 2^64, as plain64 does.
    public func dataUnit(ofSector sector: Int) -> UInt128 {
        let position = UInt64(sector) &* unitsPerSector &+ ivOffset
        return UInt128(ivLargeSectors ? position / unitsPerSector : position)
    }

    /// How much the data unit number grows from one sector to the next:
    /// 1, or 8 for 4096-byte sectors numbered in 512-byte units.
    public var dataUnitStep: UInt64 { ivLargeSectors ? 1 : unitsPerSector }

    /// How many sectors from `sector` on have numbers that grow by
    /// ``dataUnitStep``: all up to where plain64's 64-bit position wraps
    /// to 0, which the engines' 128-bit numbering would carry past.
    public func sectorsBeforeWrap(from sector: Int) -> Int {
        let position = UInt64(sector) &* unitsPerSector &+ ivOffset
        return min(Int(clamping: (UInt64.max - position) / unitsPerSector), Int.max - 1) + 1
    }

    /// Where device sector `sector` sits in the image.
    public func imageOffset(ofSector sector: Int) -> Int {
        payloadOffset + sector * sectorSize.bytes
    }

    public var description: String {
        let size: String
        switch extent {
        case .restOfImage: size = "rest of the image"
        case .fixed(let bytes): size = "\(bytes) bytes"
        }
        return "payload offset \(payloadOffset), size \(size), sector size \(sectorSize.bytes), iv offset \(ivOffset) (512-byte sectors), IV counted in \(ivLargeSectors ? sectorSize.bytes : 512)-byte sectors"
    }
}
