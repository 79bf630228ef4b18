/// Where klfs puts things in an image it formats: cryptsetup's default
/// LUKS2 layout, so that both tools find the same geometry.
///
///     0        primary header (4 KiB binary + 12 KiB JSON)
///     16 KiB   secondary header
///     32 KiB   keyslots area, to the data offset
///     16 MiB   data segment (aes-xts-plain64), to the end of the image
public enum LUKS2Layout {
    public static let headerSize = 16 * 1024
    public static let keyslotsOffset = 2 * headerSize
    public static let dataOffset = 16 * 1024 * 1024
    public static let keyslotsSize = dataOffset - keyslotsOffset
    /// Stripes and hash of the AF splitter, as cryptsetup writes them.
    static let stripes = 4000
    static let afHash = "sha256"
    /// The keyslot area cipher and its key size (AES-256-XTS).
    static let areaKeySize = 64
    static let saltSize = 32

    /// The area one keyslot of a `keySize`-byte key takes, 4 KiB-aligned.
    static func keyslotAreaSize(keySize: Int) -> Int {
        let split = LUKS2AFSplitter.splitSize(keySize: keySize, stripes: stripes)
        let alignment = LUKS2Limits.keyslotAreaAlignment
        return (split + alignment - 1) / alignment * alignment
    }
}
