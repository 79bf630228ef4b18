import Glibc

/// fsck of one backing file (docs/FSCK.md): the header record, the unused
/// rest of its slot, the size against the length, and every sector the
/// size covers.
struct BackingFileCheck {
    let format: CipherFileFormat
    var sectorSize: SectorSize { format.sectorSize }

    /// Adds what it finds to `report`. `progress` gets the backing bytes
    /// covered so far. Throws only when the engine fails, which no file can
    /// cause and every later file would meet again.
    func check(_ entry: BackingEntry, into report: inout CheckReport,
               progress: (Int) -> Void) throws(CipherFileError) {
        // O_NONBLOCK: if a fifo took the file's place since the walk saw
        // it, opening it must not wait for a writer.
        let fd = openat(entry.parent, entry.name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            report.record(.unreadable(entry.path, .system(call: "open", errno: errno)))
            return
        }
        defer { close(fd) }
        report.counts.files += 1
        do throws(CipherFileError) {
            guard let header = try checkHeader(BackingDescriptor(fd: fd), path: entry.path, into: &report) else { return }
            let file = try CipherFile.open(descriptor: fd, format: format)
            try checkSectors(of: file, size: header.size, path: entry.path, into: &report, progress: progress)
        } catch .crypto(let error) {
            throw .crypto(error)
        } catch {
            report.record(.unreadable(entry.path, error))
        }
    }

    /// The header when the file's sectors can be checked; nil when the file
    /// is empty or its header is corrupt (recorded).
    private func checkHeader(_ backing: BackingDescriptor, path: String,
                             into report: inout CheckReport) throws(CipherFileError) -> CipherFileHeader? {
        let length = try backing.length()
        guard length > 0 else {
            report.counts.emptyFiles += 1
            return nil
        }
        var slot = [UInt8](repeating: 0, count: sectorSize.bytes)
        let count = try slot.withUnsafeMutableBytes { buffer in
            Result { () throws(CipherFileError) in try backing.read(into: buffer, at: 0) }
        }.get()
        let header: CipherFileHeader
        do throws(CipherFileError) {
            header = try CipherFileHeader(parsing: slot.prefix(count), format: format)
            let unused = format.headers.length
            if !slot[unused..<count].allSatisfy({ $0 == 0 }) {
                report.record(CheckFinding(path: path, kind: .headerSlotNotZero,
                                           message: "bytes \(unused)-\(sectorSize.bytes - 1) of the header sector, which klfs never writes, are not zero"))
            }
            try header.requireData(backingLength: length, format: format)
        } catch .corrupt(let corruption) {
            report.record(CheckFinding(path: path, kind: .init(corruption), message: "corrupt header: \(corruption)"))
            return nil
        }
        let needed = format.minimumBackingLength(forSize: header.size)
        if length > needed {
            report.record(CheckFinding(path: path, kind: .extraLength, severity: .notice,
                                       message: "\(length - needed) bytes past the sectors the size \(header.size) needs "
                                           + "(left by an interrupted write; ignored, and dropped when the file next grows)"))
        }
        return header
    }

    /// Reads the sectors a scratch buffer at a time, counts the holes and
    /// decrypts the rest. XTS has no integrity, so the only thing the
    /// plaintext can betray is the last sector's padding, zero by the format.
    private func checkSectors(of file: CipherFile, size: Int, path: String, into report: inout CheckReport,
                              progress: (Int) -> Void) throws(CipherFileError) {
        let bytes = sectorSize.bytes
        let sectors = CipherFileLayout.sectorCount(forSize: size, sectorSize: sectorSize)
        let perChunk = SectorScratch.capacity / bytes
        var index = 0
        while index < sectors {
            let next = nextDataSector(of: file, from: index, limit: sectors)
            report.counts.holes += next - index
            index = next
            guard index < sectors else { break }
            let count = min(perChunk, sectors - index)
            let chunk = UnsafeMutableRawBufferPointer(rebasing: SectorScratch.buffer[0..<count * bytes])
            try file.backing.readZeroFilled(into: chunk, at: file.backingOffset(ofSector: index))
            report.counts.holes += (0..<count).count(where: { slot in
                isAllZero(UnsafeRawBufferPointer(rebasing: chunk[slot * bytes..<(slot + 1) * bytes]))
            })
            try file.decryptInPlace(chunk, firstSector: index)
            index += count
            if index == sectors { checkPadding(lastSector: index - 1, in: chunk, size: size, path: path, into: &report) }
            progress(file.backingOffset(ofSector: index))
        }
        report.counts.sectors += sectors
        report.counts.plaintextBytes += size
    }

    /// The first sector from `index` on that the backing filesystem has
    /// data for, or `limit`: SEEK_DATA steps over a sparse file's holes
    /// without reading them (a 1 TiB truncate-extend is checked in no
    /// time). Where SEEK_DATA fails for another reason than "no more
    /// data", every sector is read.
    private func nextDataSector(of file: CipherFile, from index: Int, limit: Int) -> Int {
        let data = lseek(file.backing.fd, off_t(file.backingOffset(ofSector: index)), seekData)
        guard data >= 0 else { return errno == ENXIO ? limit : index }
        // Sector i starts at backing offset (i + 1) * S; data may start inside it.
        return min(limit, max(index, Int(data) / sectorSize.bytes - 1))
    }

    /// `chunk` ends with the decrypted last sector.
    private func checkPadding(lastSector index: Int, in chunk: UnsafeMutableRawBufferPointer, size: Int,
                              path: String, into report: inout CheckReport) {
        let used = size - index * sectorSize.bytes
        guard used < sectorSize.bytes else { return }
        let padding = UnsafeRawBufferPointer(rebasing: chunk[(chunk.count - sectorSize.bytes + used)...])
        guard !isAllZero(padding) else { return }
        report.record(CheckFinding(path: path, kind: .tornLastSector, sector: index,
                                   message: "damaged (torn or overwritten) last sector \(index): "
                                       + "its \(padding.count) bytes past the size \(size) do not decrypt to zeros"))
    }
}

extension CheckFinding {
    static func unreadable(_ path: String, _ error: CipherFileError) -> CheckFinding {
        CheckFinding(path: path, kind: .unreadable, message: "cannot check: \(error)")
    }
}

/// lseek's SEEK_DATA (Linux, glibc); the Glibc module hides it behind _GNU_SOURCE.
private let seekData: Int32 = 3
