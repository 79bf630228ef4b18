import Glibc

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
    public let format: CipherFileFormat
    let backing: BackingDescriptor
    let lock = ReadersWriterLock()

    // Guarded by `lock`; changed only under its write side.
    /// False for a zero-length backing file until its first change writes
    /// the header (with `currentFileID`, picked when the file was opened).
    var headerWritten: Bool
    /// Sector i is the XTS data unit currentFileID + i. Version 2 draws a
    /// new one when the file is truncated to zero.
    var currentFileID: UInt128
    var plaintextSize: Int
    /// The backing file's length as this object last made it.
    var backingLength: Int

    /// `header` is nil for a file whose header is not written yet.
    private init(backing: BackingDescriptor, format: CipherFileFormat, header: CipherFileHeader?, backingLength: Int) {
        self.backing = backing
        self.format = format
        self.headerWritten = header != nil
        self.currentFileID = header?.fileID ?? format.headers.freshFileID()
        self.plaintextSize = header?.size ?? 0
        self.backingLength = backingLength
    }

    /// Makes the backing file an empty klfs file with a fresh file ID,
    /// discarding whatever it held.
    public static func create(descriptor: Int32, format: CipherFileFormat) throws(CipherFileError) -> CipherFile {
        let backing = BackingDescriptor(fd: descriptor)
        try backing.requirePositionedWrites()
        try backing.setLength(0)
        let file = CipherFile(backing: backing, format: format, header: nil, backingLength: 0)
        try file.writeHeaderIfMissing()
        return file
    }

    /// Opens an existing backing file. A zero-length one is an empty file
    /// whose header was never written (a crash between creating the backing
    /// file and writing its header); it gets its header on the first change.
    public static func open(descriptor: Int32, format: CipherFileFormat) throws(CipherFileError) -> CipherFile {
        let backing = BackingDescriptor(fd: descriptor)
        try backing.requirePositionedWrites()
        let length = try backing.length()
        let header = try CipherFileHeader.read(from: backing, length: length, format: format)
        return CipherFile(backing: backing, format: format, header: header, backingLength: header == nil ? 0 : length)
    }

    public var sectorSize: SectorSize { format.sectorSize }

    /// The file ID (docs/FORMAT.md, "Sectors").
    public var fileID: UInt128 {
        lock.withReadLock { currentFileID }
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
    /// of the new last sector beyond the size, so growing again reads zeros;
    /// on version 2, shrinking to zero gives the file a fresh file ID.
    public func truncate(to newSize: Int) throws(CipherFileError) {
        try resize(to: newSize, shrinking: true)
    }

    /// fallocate's default mode: reserves backing space for every sector
    /// `range` touches, so that writing there cannot fail for lack of space
    /// (posix_fallocate's promise), then grows the file to the range's end
    /// when it is smaller (never shrinks). The reserved sectors read as
    /// zeros: the backing filesystem hands them out zeroed, and an all-zero
    /// sector is a hole. One step under the lock, so a write that extends
    /// the file meanwhile is never cut back; when space runs out the file
    /// is left as it was.
    ///
    /// `keepingSize` (FALLOC_FL_KEEP_SIZE) reserves without growing, within
    /// the size only: space past it would be backing length the format
    /// does not want, dropped when the file next grows, so a range past
    /// the end fails with EOPNOTSUPP rather than promise what it cannot.
    public func allocate(_ range: Range<Int>, keepingSize: Bool = false) throws(CipherFileError) {
        try requireValidSize(range.lowerBound)
        try requireValidSize(range.upperBound)
        guard !range.isEmpty else { return }
        try lock.withWriteLock { () throws(CipherFileError) in
            let grows = range.upperBound > plaintextSize
            if grows && keepingSize {
                throw .system(call: "fallocate past the end with FALLOC_FL_KEEP_SIZE", errno: EOPNOTSUPP)
            }
            try writeHeaderIfMissing()
            if grows { try prepareToGrow(writingFromSector: .max) }
            try reserveSectors(covering: range)
            if grows { try storeSize(range.upperBound) }
        }
    }

    private func resize(to newSize: Int, shrinking: Bool) throws(CipherFileError) {
        try requireValidSize(newSize)
        try lock.withWriteLock { () throws(CipherFileError) in
            guard newSize > plaintextSize || (shrinking && newSize < plaintextSize) else { return }
            if newSize > plaintextSize {
                try writeHeaderIfMissing()
                try prepareToGrow(writingFromSector: .max)
                try setBackingLength(forSize: newSize)
                try storeSize(newSize)
            } else if newSize == 0 && format.headers.renewsFileIDWhenEmptied {
                // A crash between the two leaves size 0 and extra length:
                // valid, and dropped when the file next grows.
                try writeEmptyHeader(fileID: format.headers.freshFileID())
                try setBackingLength(forSize: 0)
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
    func requireValidSize(_ size: Int) throws(CipherFileError) {
        guard size >= 0 else { throw .negativeOffset(size) }
        let maximum = CipherFileLayout.maximumSize(sectorSize: sectorSize)
        guard size <= maximum else { throw .fileTooLarge(requested: size, maximum: maximum) }
    }

    /// Allocates the backing bytes of every sector `range` touches; the
    /// backing file grows to hold them if it is shorter, just as far as
    /// the format wants for a size of `range.upperBound`. Allocated bytes
    /// read as zeros. A failure (ENOSPC) restores the length, and with it
    /// gives back what was allocated past it.
    func reserveSectors(covering range: Range<Int>) throws(CipherFileError) {
        let start = backingOffset(ofSector: range.lowerBound / sectorSize.bytes)
        let end = format.minimumBackingLength(forSize: range.upperBound)
        do throws(CipherFileError) {
            try backing.allocate(start..<end)
        } catch {
            try? backing.setLength(backingLength)
            throw error
        }
        backingLength = max(backingLength, end)
    }

    func writeHeaderIfMissing() throws(CipherFileError) {
        guard !headerWritten else { return }
        try writeEmptyHeader(fileID: currentFileID)
    }

    /// The whole header of an empty file with ID `fileID`, in one pwrite at
    /// offset 0: a new file's, or a file's emptied by a truncate to zero.
    func writeEmptyHeader(fileID: UInt128) throws(CipherFileError) {
        let header = try CipherFileHeader(fileID: fileID, size: 0).encoded(format)
        try header.withUnsafeBytes { bytes in
            Result { () throws(CipherFileError) in try backing.write(bytes, at: 0) }
        }.get()
        headerWritten = true
        currentFileID = fileID
        plaintextSize = 0
        backingLength = max(backingLength, format.headers.length)
    }

    /// Rewrites the size's record alone (HeaderFormat.sizeRecord): the
    /// 8-byte size of version 1, the 32-byte sealed record of version 2.
    func storeSize(_ size: Int) throws(CipherFileError) {
        let record = format.headers.sizeRecord
        let header = try CipherFileHeader(fileID: currentFileID, size: size).encoded(format)
        try header[record].withUnsafeBytes { bytes in
            Result { () throws(CipherFileError) in try backing.write(bytes, at: record.lowerBound) }
        }.get()
        plaintextSize = size
    }

    func setBackingLength(forSize size: Int) throws(CipherFileError) {
        let length = format.minimumBackingLength(forSize: size)
        try backing.setLength(length)
        backingLength = length
    }

    /// Before the size grows, restores what the format promises beyond the
    /// old size, in case a crash or a failed write left something there:
    /// no sectors past the old last one (so the new range starts as holes),
    /// and zeros after the old size in the old last sector when the write
    /// does not rewrite that sector itself.
    func prepareToGrow(writingFromSector firstWritten: Int) throws(CipherFileError) {
        let minimum = format.minimumBackingLength(forSize: plaintextSize)
        if backingLength > minimum {
            try setBackingLength(forSize: plaintextSize)
        }
        if plaintextSize / sectorSize.bytes < firstWritten {
            try zeroTail(beyond: plaintextSize)
        }
    }
}
