/// The 4096-byte binary header at the start of each header copy, field for
/// field as the specification lays it out (integers big-endian):
///
///     0 magic[6]  6 version u16  8 hdr_size u64  16 seqid u64  24 label[48]
///     72 csum_alg[32]  104 salt[64]  168 uuid[40]  208 subsystem[48]
///     256 hdr_offset u64  264 padding[184]  448 csum[64]  512 padding[3584]
struct LUKS2BinaryHeader: Equatable, Sendable {
    enum Copy: Sendable { case primary, secondary }

    static let primaryMagic: [UInt8] = [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE]  // "LUKS\xba\xbe"
    static let secondaryMagic: [UInt8] = [0x53, 0x4B, 0x55, 0x4C, 0xBA, 0xBE]  // "SKUL\xba\xbe"
    static let checksumRange = 448..<512

    var copy: Copy
    var version: UInt16
    /// Binary header plus JSON area, in bytes.
    var headerSize: UInt64
    /// Incremented on every metadata update; the copy with the higher one wins.
    var sequenceID: UInt64
    var label: String
    var checksumAlgorithm: String
    /// Random per copy (the specification's salt; cryptsetup does not use it).
    var salt: [UInt8]
    var uuid: String
    var subsystem: String
    /// Where this copy starts in the image; a copy found elsewhere is invalid.
    var headerOffset: UInt64

    /// Parses the first 4096 bytes of a copy; nil when the magic is not
    /// this copy's (the checks of the other fields come with the checksum).
    init?(bytes: ArraySlice<UInt8>, copy: Copy) {
        let b = Array(bytes.prefix(LUKS2Limits.binaryHeaderSize))
        guard b.count == LUKS2Limits.binaryHeaderSize,
              Array(b[0..<6]) == (copy == .primary ? Self.primaryMagic : Self.secondaryMagic) else { return nil }
        self.copy = copy
        version = UInt16(bigEndianBytes: b[6..<8])
        headerSize = UInt64(bigEndianBytes: b[8..<16])
        sequenceID = UInt64(bigEndianBytes: b[16..<24])
        label = Self.text(b[24..<72])
        checksumAlgorithm = Self.text(b[72..<104])
        salt = Array(b[104..<168])
        uuid = Self.text(b[168..<208])
        subsystem = Self.text(b[208..<256])
        headerOffset = UInt64(bigEndianBytes: b[256..<264])
    }

    init(copy: Copy, headerSize: UInt64, sequenceID: UInt64, label: String, uuid: String,
         subsystem: String, salt: [UInt8]) {
        self.copy = copy
        version = 2
        self.headerSize = headerSize
        self.sequenceID = sequenceID
        self.label = label
        checksumAlgorithm = "sha256"
        self.salt = salt
        self.uuid = uuid
        self.subsystem = subsystem
        headerOffset = copy == .primary ? 0 : headerSize
    }

    /// The 4096 bytes, checksum field zero (the checksum is computed over
    /// these bytes and the JSON area, then stored).
    func serialized() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: LUKS2Limits.binaryHeaderSize)
        b.replaceSubrange(0..<6, with: copy == .primary ? Self.primaryMagic : Self.secondaryMagic)
        b.replaceSubrange(6..<8, with: version.bigEndianBytes)
        b.replaceSubrange(8..<16, with: headerSize.bigEndianBytes)
        b.replaceSubrange(16..<24, with: sequenceID.bigEndianBytes)
        Self.put(label, into: &b, at: 24..<72)
        Self.put(checksumAlgorithm, into: &b, at: 72..<104)
        b.replaceSubrange(104..<168, with: salt.prefix(64) + [UInt8](repeating: 0, count: max(0, 64 - salt.count)))
        Self.put(uuid, into: &b, at: 168..<208)
        Self.put(subsystem, into: &b, at: 208..<256)
        b.replaceSubrange(256..<264, with: headerOffset.bigEndianBytes)
        return b
    }

    /// A NUL-padded C string field.
    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Writes `text` NUL-padded; the field always keeps a terminating NUL.
    private static func put(_ text: String, into bytes: inout [UInt8], at range: Range<Int>) {
        let utf8 = Array(text.utf8.prefix(range.count - 1))
        bytes.replaceSubrange(range.lowerBound..<range.lowerBound + utf8.count, with: utf8)
    }
}

extension FixedWidthInteger {
    init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reduce(0) { $0 << 8 | Self($1) }
    }

    var bigEndianBytes: [UInt8] {
        (0..<Self.bitWidth / 8).reversed().map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) }
    }
}
