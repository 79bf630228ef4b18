import KLEngine

/// One plaintext file stored as a backing file: a header, then AES-256-XTS
/// sectors (docs/FORMAT.md).
///
/// A per-file readers-writer lock lets reads run in parallel and makes each
/// write, append and truncate atomic with respect to every other call, so
/// concurrent writers sharing a sector never lose an update. Keep one
/// `CipherFile` per backing file (per inode) for that to hold.
///
/// The caller opens the backing descriptor (O_RDWR, or O_RDONLY for a
/// read-only mount; never O_APPEND), keeps it open for the object's life,
/// and closes it afterwards.
public final class CipherFile: @unchecked Sendable {
    public let sectorSize: SectorSize
    /// The file's XTS nonce: the high 64 bits of every sector's data unit.
    public let nonce: UInt64
    let backing: BackingDescriptor
    let key: any XTSKey
    let lock = ReadersWriterLock()

    // Guarded by `lock`; changed only under its write side.
    /// False for a zero-length backing file until its first change writes
    /// the header (with `nonce`, picked when the file was opened).
    var headerWritten: Bool
    var plaintextSize: Int
    /// The backing file's length as this object last made it.
    var backingLength: Int

    private init(backing: BackingDescriptor, key: any XTSKey, sectorSize: SectorSize,
                 header: CipherFileHeader, headerWritten: Bool, backingLength: Int) {
        self.backing = backing
        self.key = key
        self.sectorSize = sectorSize
        self.nonce = header.nonce
        self.headerWritten = headerWritten
        self.plaintextSize = header.size
        self.backingLength = backingLength
    }

    /// Makes the backing file an empty klfs file with a fresh nonce,
    /// discarding whatever it held.
    public static func create(descriptor: Int32, key: any XTSKey,
                              sectorSize: SectorSize) throws(CipherFileError) -> CipherFile {
        let backing = BackingDescriptor(fd: descriptor)
        try backing.requirePositionedWrites()
        try backing.setLength(0)
        let file = CipherFile(backing: backing, key: key, sectorSize: sectorSize,
                              header: .fresh(sectorSize: sectorSize), headerWritten: false, backingLength: 0)
        try file.writeHeaderIfMissing()
        return file
    }

    /// Opens an existing backing file. A zero-length one is an empty file
    /// whose header was never written (a crash between creating the backing
    /// file and writing its header); it gets its header on the first change.
    public static func open(descriptor: Int32, key: any XTSKey,
                            sectorSize: SectorSize) throws(CipherFileError) -> CipherFile {
        let backing = BackingDescriptor(fd: descriptor)
        try backing.requirePositionedWrites()
        let length = try backing.length()
        guard let header = try CipherFileHeader.read(from: backing, length: length) else {
            return CipherFile(backing: backing, key: key, sectorSize: sectorSize,
                              header: .fresh(sectorSize: sectorSize), headerWritten: false, backingLength: 0)
        }
        guard header.sectorSize == sectorSize else {
            throw .corrupt(.sectorSizeMismatch(file: header.sectorSize.bytes, volume: sectorSize.bytes))
        }
        return CipherFile(backing: backing, key: key, sectorSize: sectorSize,
                          header: header, headerWritten: true, backingLength: length)
    }

    /// The plaintext size in bytes.
    public var size: Int {
        lock.withReadLock { plaintextSize }
    }

    /// fsync(2): data and size reach stable storage together.
    public func sync() throws(CipherFileError) {
        try backing.sync()
    }

    /// Grows the file with a hole or shrinks it. Shrinking zeroes the bytes
    /// of the new last sector beyond the size, so growing again reads zeros.
    public func truncate(to newSize: Int) throws(CipherFileError) {
        try resize(to: newSize, shrinking: true)
    }

    /// fallocate's default mode: grows the file with a hole to `newSize`
    /// when it is smaller, else leaves it. One step under the lock, so a
    /// write that extends the file meanwhile is never cut back.
    public func grow(toAtLeast newSize: Int) throws(CipherFileError) {
        try resize(to: newSize, shrinking: false)
    }

    private func resize(to newSize: Int, shrinking: Bool) throws(CipherFileError) {
        guard newSize >= 0 else { throw .negativeOffset(newSize) }
        let maximum = CipherFileLayout.maximumSize(sectorSize: sectorSize)
        guard newSize <= maximum else { throw .fileTooLarge(requested: newSize, maximum: maximum) }
        try lock.withWriteLock { () throws(CipherFileError) in
            guard newSize > plaintextSize || (shrinking && newSize < plaintextSize) else { return }
            if newSize > plaintextSize {
                try writeHeaderIfMissing()
                try prepareToGrow(writingFromSector: .max)
                try setBackingLength(forSize: newSize)
                try storeSize(newSize)
            } else {
                try storeSize(newSize)
                try zeroTail(beyond: newSize)
                try setBackingLength(forSize: newSize)
            }
        }
    }
}

// Size and length bookkeeping, called under the write lock.
extension CipherFile {
    func writeHeaderIfMissing() throws(CipherFileError) {
        guard !headerWritten else { return }
        let header = CipherFileHeader(sectorSize: sectorSize, nonce: nonce, size: 0).encoded
        try header.withUnsafeBytes { bytes in
            Result { () throws(CipherFileError) in try backing.write(bytes, at: 0) }
        }.get()
        headerWritten = true
        plaintextSize = 0
        backingLength = max(backingLength, CipherFileHeader.length)
    }

    /// Rewrites the 8-byte size field alone.
    func storeSize(_ size: Int) throws(CipherFileError) {
        let field = UInt64(size).littleEndian
        try withUnsafeBytes(of: field) { bytes in
            Result { () throws(CipherFileError) in try backing.write(bytes, at: CipherFileHeader.sizeOffset) }
        }.get()
        plaintextSize = size
    }

    func setBackingLength(forSize size: Int) throws(CipherFileError) {
        let length = CipherFileLayout.minimumBackingLength(forSize: size, sectorSize: sectorSize)
        try backing.setLength(length)
        backingLength = length
    }

    /// Before the size grows, restores what the format promises beyond the
    /// old size, in case a crash or a failed write left something there:
    /// no sectors past the old last one (so the new range starts as holes),
    /// and zeros after the old size in the old last sector when the write
    /// does not rewrite that sector itself.
    func prepareToGrow(writingFromSector firstWritten: Int) throws(CipherFileError) {
        let minimum = CipherFileLayout.minimumBackingLength(forSize: plaintextSize, sectorSize: sectorSize)
        if backingLength > minimum {
            try setBackingLength(forSize: plaintextSize)
        }
        if plaintextSize / sectorSize.bytes < firstWritten {
            try zeroTail(beyond: plaintextSize)
        }
    }
}
