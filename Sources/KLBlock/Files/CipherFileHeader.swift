/// The record at offset 0 of every backing file (docs/FORMAT.md, "Header
/// record"). All integers are little-endian. Bytes 0-15 are common to both
/// versions:
///
///     0  8  magic "klfs.xts"
///     8  2  format version: the volume's (1 or 2)
///    10  1  log2 of the sector size (9 to 12)
///    11  5  reserved, zero
///
/// Version 1 (32 bytes): 16 8 file nonce N; 24 8 plaintext size.
/// Version 2 (64 bytes): 16 16 file ID F; 32 32 sealed record (``HeaderSeal``).
public struct CipherFileHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("klfs.xts".utf8)
    /// Bytes 0-15, which both versions share and version 2 seals.
    static let prefixLength = 16

    /// Sector i of the file is the XTS data unit fileID + i (mod 2^128). A
    /// version 1 file's is its 64-bit nonce N times 2^64.
    public var fileID: UInt128
    public var size: Int

    public init(fileID: UInt128, size: Int) {
        self.fileID = fileID
        self.size = size
    }

    /// The header's bytes in `format`; version 2 seals the size under the
    /// header key, so it can fail as the engine can.
    public func encoded(_ format: CipherFileFormat) throws(CipherFileError) -> [UInt8] {
        let prefix = Self.magic + littleEndianBytes(format.headers.version)
            + [UInt8(format.sectorSize.bytes.trailingZeroBitCount)] + [UInt8](repeating: 0, count: 5)
        switch format.headers {
        case .version1:
            precondition(UInt64(truncatingIfNeeded: fileID) == 0, "a version 1 file ID is a 64-bit nonce times 2^64")
            return prefix + littleEndianBytes(UInt64(fileID >> 64)) + littleEndianBytes(UInt64(size))
        case .version2(let headerKey):
            let storedID = littleEndianBytes(fileID)
            return prefix + storedID + (try HeaderSeal.seal(size: UInt64(size), prefix: prefix, fileID: storedID,
                                                           key: headerKey))
        }
    }

    /// Parses the first bytes of a backing file (all of them when it is
    /// shorter than a header) in the volume's `format`. It checks the
    /// record alone; whether the file is long enough for the size is
    /// ``requireData(backingLength:format:)``.
    public init(parsing bytes: some Collection<UInt8>, format: CipherFileFormat) throws(CipherFileError) {
        let headers = format.headers
        let bytes = Array(bytes.prefix(headers.length))
        try Self.checkPrefix(bytes, format: format)
        guard bytes.count == headers.length else {
            throw .corrupt(.truncatedHeader(length: bytes.count, headerLength: headers.length))
        }
        let size: UInt64
        switch headers {
        case .version1:
            fileID = UInt128(UInt64(littleEndianBytes: bytes[16..<24])) << 64
            size = UInt64(littleEndianBytes: bytes[24..<32])
        case .version2(let headerKey):
            fileID = UInt128(littleEndianBytes: bytes[16..<32])
            size = try HeaderSeal.open(bytes[32..<64], prefix: bytes[0..<Self.prefixLength], fileID: bytes[16..<32],
                                       key: headerKey)
        }
        guard size <= UInt64(CipherFileLayout.maximumSize(sectorSize: format.sectorSize)) else {
            throw .corrupt(.sizeOutOfRange(size))
        }
        self.size = Int(size)
    }

    /// Bytes 0-15: the magic, the volume's own version, its sector size and
    /// zero reserved bytes.
    private static func checkPrefix(_ bytes: [UInt8], format: CipherFileFormat) throws(CipherFileError) {
        guard bytes.count >= prefixLength else {
            throw .corrupt(.truncatedHeader(length: bytes.count, headerLength: format.headers.length))
        }
        guard bytes[0..<8].elementsEqual(magic) else { throw .corrupt(.badMagic) }
        let version = UInt16(littleEndianBytes: bytes[8..<10])
        guard version == format.headers.version else {
            throw .corrupt(HeaderFormat.knownVersions.contains(version)
                ? .versionMismatch(file: version, volume: format.headers.version) : .unknownVersion(version))
        }
        let log2 = bytes[10]
        guard log2 < 16, let sectorSize = SectorSize(bytes: 1 << Int(log2)) else {
            throw .corrupt(.invalidSectorSize(log2: log2))
        }
        guard sectorSize == format.sectorSize else {
            throw .corrupt(.sectorSizeMismatch(file: sectorSize.bytes, volume: format.sectorSize.bytes))
        }
        guard bytes[11..<16].allSatisfy({ $0 == 0 }) else { throw .corrupt(.reservedBytesSet) }
    }

    /// A hole is an all-zero sector inside the backing file; a sector the
    /// size needs but the backing file does not reach is corruption.
    public func requireData(backingLength: Int, format: CipherFileFormat) throws(CipherFileError) {
        let required = format.minimumBackingLength(forSize: size)
        guard backingLength >= required else {
            throw .corrupt(.sizeBeyondData(size: size, requiredLength: required, backingLength: backingLength))
        }
    }
}

extension CipherFileHeader {
    /// Reads and checks the header of an open backing file, for callers
    /// that need the size without opening the file for I/O (getattr, fsck).
    /// nil for a zero-length file: an empty file whose header was never
    /// written.
    public static func read(fromDescriptor descriptor: Int32,
                            format: CipherFileFormat) throws(CipherFileError) -> CipherFileHeader? {
        let backing = BackingDescriptor(fd: descriptor)
        return try read(from: backing, length: backing.length(), format: format)
    }

    static func read(from backing: BackingDescriptor, length: Int,
                     format: CipherFileFormat) throws(CipherFileError) -> CipherFileHeader? {
        guard length > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: format.headers.length)
        let count = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(CipherFileError) in try backing.read(into: buffer, at: 0) }
        }.get()
        let header = try CipherFileHeader(parsing: bytes.prefix(count), format: format)
        try header.requireData(backingLength: length, format: format)
        return header
    }
}
