/// The 32-byte record at offset 0 of every backing file (docs/FORMAT.md,
/// "Header"). All integers are little-endian.
///
///     0  8  magic "klfs.xts"
///     8  2  format version (1)
///    10  1  log2 of the sector size (9 to 12)
///    11  5  reserved, zero
///    16  8  file nonce
///    24  8  plaintext size in bytes
public struct CipherFileHeader: Equatable, Sendable {
    public static let length = 32
    public static let magic: [UInt8] = Array("klfs.xts".utf8)
    public static let currentVersion: UInt16 = 1
    /// Where the size field sits: a size change rewrites these 8 bytes only.
    static let sizeOffset = 24

    public var sectorSize: SectorSize
    /// Distinguishes this file's sectors from every other file's in the XTS
    /// data unit number; random, fixed for the file's life.
    public var nonce: UInt64
    public var size: Int

    public init(sectorSize: SectorSize, nonce: UInt64, size: Int) {
        self.sectorSize = sectorSize
        self.nonce = nonce
        self.size = size
    }

    /// A fresh header for an empty file, its nonce from getrandom(2)
    /// (Swift's SystemRandomNumberGenerator calls it on Linux).
    public static func fresh(sectorSize: SectorSize) -> CipherFileHeader {
        var random = SystemRandomNumberGenerator()
        return CipherFileHeader(sectorSize: sectorSize, nonce: random.next(), size: 0)
    }

    public var encoded: [UInt8] {
        var bytes = Self.magic
        bytes.append(contentsOf: littleEndianBytes(Self.currentVersion))
        bytes.append(UInt8(sectorSize.bytes.trailingZeroBitCount))
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 5))
        bytes.append(contentsOf: littleEndianBytes(nonce))
        bytes.append(contentsOf: littleEndianBytes(UInt64(size)))
        return bytes
    }

    /// Parses the first bytes of a backing file (all of them when it is
    /// shorter than a header). It checks the record alone; whether the file
    /// is long enough for the size is ``requireData(backingLength:)``.
    public init(parsing bytes: some Collection<UInt8>) throws(CipherFileCorruption) {
        let bytes = Array(bytes.prefix(Self.length))
        guard bytes.count == Self.length else { throw .truncatedHeader(length: bytes.count) }
        guard bytes[0..<8].elementsEqual(Self.magic) else { throw .badMagic }
        let version = UInt16(littleEndianBytes: bytes[8..<10])
        guard version == Self.currentVersion else { throw .unknownVersion(version) }
        let log2 = bytes[10]
        guard log2 < 16, let sectorSize = SectorSize(bytes: 1 << Int(log2)) else {
            throw .invalidSectorSize(log2: log2)
        }
        guard bytes[11..<16].allSatisfy({ $0 == 0 }) else { throw .reservedBytesSet }
        let size = UInt64(littleEndianBytes: bytes[24..<32])
        guard size <= UInt64(CipherFileLayout.maximumSize(sectorSize: sectorSize)) else {
            throw .sizeOutOfRange(size)
        }
        self.init(sectorSize: sectorSize, nonce: UInt64(littleEndianBytes: bytes[16..<24]), size: Int(size))
    }

    /// A hole is an all-zero sector inside the backing file; a sector the
    /// size needs but the backing file does not reach is corruption.
    public func requireData(backingLength: Int) throws(CipherFileCorruption) {
        let required = CipherFileLayout.minimumBackingLength(forSize: size, sectorSize: sectorSize)
        guard backingLength >= required else {
            throw .sizeBeyondData(size: size, requiredLength: required, backingLength: backingLength)
        }
    }
}

private func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

extension FixedWidthInteger {
    fileprivate init(littleEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reversed().reduce(0) { $0 << 8 | Self($1) }
    }
}

extension CipherFileHeader {
    /// Reads and checks the header of an open backing file, for callers
    /// that need the size without a key (getattr, fsck). nil for a
    /// zero-length file: an empty file whose header was never written.
    public static func read(fromDescriptor descriptor: Int32) throws(CipherFileError) -> CipherFileHeader? {
        let backing = BackingDescriptor(fd: descriptor)
        return try read(from: backing, length: backing.length())
    }

    static func read(from backing: BackingDescriptor, length: Int) throws(CipherFileError) -> CipherFileHeader? {
        guard length > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Self.length)
        let count = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(CipherFileError) in try backing.read(into: buffer, at: 0) }
        }.get()
        do {
            let header = try CipherFileHeader(parsing: bytes.prefix(count))
            try header.requireData(backingLength: length)
            return header
        } catch {
            throw .corrupt(error)
        }
    }
}
