/// Sizes fixed by the LUKS2 on-disk format specification.
enum LUKS2Limits {
    /// The binary part of each header copy; the JSON area follows it.
    static let binaryHeaderSize = 4096
    /// The header sizes (binary header + JSON area) the format allows; the
    /// secondary copy starts at one of them.
    static let headerSizes = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map { $0 << 10 }
    /// Keyslot numbers run from 0 to 31, as in cryptsetup.
    static let keyslotCount = 32
    /// The keyslot area is encrypted in 512-byte sectors whatever the
    /// data segment's sector size.
    static let keyslotAreaSectorSize = 512
    /// Keyslot areas start and end on 4 KiB boundaries (cryptsetup's alignment).
    static let keyslotAreaAlignment = 4096
}
