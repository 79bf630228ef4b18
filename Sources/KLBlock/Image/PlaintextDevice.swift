import Glibc
import KLEngine
import Synchronization

/// The plaintext of an encrypted image, as dm-crypt's aes-xts-plain64
/// target shows it: device sector n is image bytes
/// [payloadOffset + n·sectorSize, +sectorSize), XTS-encrypted under the
/// volume key with the data unit number ``ImageLayout/dataUnit(ofSector:)`` gives. Reads and
/// writes take any byte range; a write that covers part of a sector reads,
/// decrypts, patches and re-encrypts that sector.
///
/// Thread-safe: each request locks the sectors it touches
/// (``SectorRangeLock``), not the device. Large requests go through in
/// chunks of ``chunkSize`` bytes, each chunk locked on its
/// own, so a multi-sector write is atomic per sector only, as on a disk.
///
/// The size follows the image without an fstat per request: reads and
/// writes go by the image size last seen, and look again only when they
/// reach past it (the image may have grown). Every ``imageStatus()`` (the
/// kernel's getattr) looks again too, so a shrink made behind the mount's
/// back shows there, as a loop device shows it after `losetup -c`.
public final class PlaintextDevice: @unchecked Sendable {
    public let layout: ImageLayout
    public let readOnly: Bool
    let image: ImageFile
    let key: any XTSKey
    let locks: SectorRangeLock
    private let knownImageSize: Atomic<Int>

    /// Opens `imagePath`; `key` is the engine's form of the volume key
    /// (``ImageMapping/makeDeviceKey(with:)``).
    public init(imagePath: String, layout: ImageLayout, key: any XTSKey, readOnly: Bool) throws(ImageError) {
        image = try ImageFile(path: imagePath, writable: !readOnly)
        self.layout = layout
        self.key = key
        self.readOnly = readOnly
        // A stripe per chunk: a chunk's request takes one lock, or two.
        locks = SectorRangeLock(stripeSectors: Self.chunkSize / layout.sectorSize.bytes)
        let imageSize = Int(try image.status().st_size)
        let payloadEnd = layout.payloadOffset + fixedBytes(layout.extent)
        guard payloadEnd <= imageSize else { throw .payloadBeyondImage(end: payloadEnd, imageSize: imageSize) }
        knownImageSize = Atomic(imageSize)
    }

    var sectorSize: Int { layout.sectorSize.bytes }

    /// The bytes one chunk of a request covers: a larger request is done
    /// chunk by chunk, each locked on its own.
    public static let chunkSize = SectorScratch.capacity

    public var imagePath: String { image.path }

    /// The device's size now: it follows the image unless the layout fixes it.
    public func size() throws(ImageError) -> Int { try imageStatus().deviceSize }

    /// The image's stat(2) (owner, times, blocks) for the plaintext file,
    /// and the device's size it gives, which requests then go by.
    public func imageStatus() throws(ImageError) -> (image: stat, deviceSize: Int) {
        let status = try image.status()
        knownImageSize.store(Int(status.st_size), ordering: .relaxed)
        return (status, layout.deviceSize(imageSize: Int(status.st_size)))
    }

    /// The device's size for a request ending at `end`: as last seen,
    /// unless the request reaches past that.
    private func size(reaching end: Int) throws(ImageError) -> Int {
        let known = layout.deviceSize(imageSize: knownImageSize.load(ordering: .relaxed))
        return end <= known ? known : try size()
    }

    /// statvfs(2) of the file system holding the image.
    public func fileSystemStatus() throws(ImageError) -> statvfs { try image.fileSystemStatus() }

    /// Reads up to `buffer.count` bytes at `offset`; fewer at the end of
    /// the device. Returns the count.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(ImageError) -> Int {
        let end = min(offset + buffer.count, try size(reaching: offset + buffer.count))
        guard offset < end else { return 0 }
        try forEachChunk(of: offset..<end) { (chunk, bytes) throws(ImageError) in
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[bytes.lowerBound - offset..<bytes.upperBound - offset])
            try locks.withLock(chunk, exclusive: false) { () throws(ImageError) in
                // Whole sectors decrypt straight into the caller's buffer.
                if bytes.count == chunk.count * sectorSize {
                    try loadSectors(chunk, into: target)
                    return
                }
                let slots = scratch(for: chunk)
                try loadSectors(chunk, into: slots)
                let within = bytes.lowerBound - chunk.lowerBound * sectorSize
                target.baseAddress!.copyMemory(from: slots.baseAddress! + within, byteCount: bytes.count)
            }
        }
        return end - offset
    }

    /// Writes `data` at `offset`; a write reaching past the end of the
    /// device stops there (the count says how much went in), one starting
    /// there fails with ENOSPC, as on a block device.
    public func write(_ data: UnsafeRawBufferPointer, at offset: Int) throws(ImageError) -> Int {
        let deviceSize = try size(reaching: offset + data.count)
        guard offset < deviceSize || data.isEmpty else { throw .pastEnd(offset: offset, deviceSize: deviceSize) }
        let end = min(offset + data.count, deviceSize)
        guard offset < end else { return 0 }
        try forEachChunk(of: offset..<end) { (chunk, bytes) throws(ImageError) in
            try locks.withLock(chunk, exclusive: true) { () throws(ImageError) in
                try storeSectors(chunk, patching: bytes,
                                 with: UnsafeRawBufferPointer(rebasing: data[(bytes.lowerBound - offset)...]))
            }
        }
        return end - offset
    }

    /// Discards the whole sectors inside `offset..<offset+length` by
    /// punching holes in the image, as dm-crypt with allow_discards passes
    /// discards down. A discarded sector then holds zero ciphertext, which
    /// decrypts to pseudo-random bytes, not zeros: exactly what dm-crypt
    /// returns (its discard_zeroes_data is 0). Partial sectors at the ends
    /// are left alone.
    public func discard(offset: Int, length: Int) throws(ImageError) {
        let deviceSize = try size()
        guard offset >= 0, length >= 0, offset + length <= deviceSize else {
            throw .outOfRange(offset: offset, length: length, deviceSize: deviceSize)
        }
        let first = (offset + sectorSize - 1) / sectorSize
        let last = (offset + length) / sectorSize
        guard first < last else { return }
        try locks.withLock(first..<last, exclusive: true) { () throws(ImageError) in
            try image.punchHole(layout.imageOffset(ofSector: first)..<layout.imageOffset(ofSector: last))
        }
    }

    /// Writes plaintext zeros over `offset..<offset+length` (clipped to the
    /// device): what a loop device's WRITE_ZEROES asks for. Unlike a
    /// discard, the range then reads back as zeros.
    public func writeZeros(offset: Int, length: Int) throws(ImageError) {
        let end = min(offset + length, try size())
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 4096)
        defer { zeros.deallocate() }
        fillWithZeros(zeros)
        var position = offset
        while position < end {
            let count = min(zeros.count, end - position)
            position += try write(UnsafeRawBufferPointer(rebasing: zeros[..<count]), at: position)
        }
    }

    /// Makes every write so far durable (fdatasync of the image).
    public func sync() throws(ImageError) { try image.sync() }

    /// Sets the device's size by resizing the image (a layout that runs to
    /// the end of the image only; whole sectors only). Shrinking drops the
    /// sectors past the new end.
    public func resize(to newSize: Int) throws(ImageError) {
        guard case .restOfImage = layout.extent else { throw .fixedSize(try size()) }
        guard newSize >= 0, newSize % sectorSize == 0 else { throw .misalignedSize(newSize, sectorSize: sectorSize) }
        try image.truncate(to: layout.payloadOffset + newSize)
        try image.sync(metadata: true)
        knownImageSize.store(layout.payloadOffset + newSize, ordering: .relaxed)
    }
}

private func fixedBytes(_ extent: ImageLayout.Extent) -> Int {
    if case .fixed(let bytes) = extent { return bytes }
    return 0
}
