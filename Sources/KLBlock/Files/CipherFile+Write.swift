import KLEngine

extension CipherFile {
    /// Writes `data` at `offset`, growing the file if it ends past the
    /// size; a gap before `offset` becomes a hole. Returns `data.count`, or
    /// fewer when a later chunk failed after earlier ones landed (the
    /// landed part counts, as with write(2)).
    public func write(_ data: UnsafeRawBufferPointer, at offset: Int) throws(CipherFileError) -> Int {
        guard offset >= 0 else { throw .negativeOffset(offset) }
        return try lock.withWriteLock { () throws(CipherFileError) -> Int in
            try writeLocked(data, at: offset)
        }
    }

    /// O_APPEND: writes at the current size, which no other call can
    /// change in between. Returns where the data went and how much of it.
    public func append(_ data: UnsafeRawBufferPointer) throws(CipherFileError) -> (offset: Int, count: Int) {
        try lock.withWriteLock { () throws(CipherFileError) -> (offset: Int, count: Int) in
            let offset = plaintextSize
            return (offset, try writeLocked(data, at: offset))
        }
    }

    /// Data sectors first, then the size (docs/FORMAT.md, "Write order and
    /// crashes"): the size never covers sectors that were not written.
    private func writeLocked(_ data: UnsafeRawBufferPointer, at offset: Int) throws(CipherFileError) -> Int {
        guard !data.isEmpty else { return 0 }
        let maximum = CipherFileLayout.maximumSize(sectorSize: sectorSize)
        guard offset <= maximum - data.count else {
            throw .fileTooLarge(requested: offset.addingReportingOverflow(data.count).partialValue, maximum: maximum)
        }
        try writeHeaderIfMissing()
        if offset + data.count > plaintextSize {
            try prepareToGrow(writingFromSector: offset / sectorSize.bytes)
        }
        var done = 0
        do {
            while done < data.count {
                done += try writeChunk(UnsafeRawBufferPointer(rebasing: data[done...]), at: offset + done)
            }
        } catch {
            if done == 0 { throw error }
        }
        if offset + done > plaintextSize {
            try storeSize(offset + done)
        }
        return done
    }

    /// Encrypts and writes the sectors under the start of `data`, at most a
    /// scratch buffer of them, with one pwrite. Whole sectors are encrypted
    /// from the caller's buffer into the scratch buffer; a sector `data`
    /// covers in part is read, merged and re-encrypted in place. Returns the
    /// bytes of `data` consumed.
    private func writeChunk(_ data: UnsafeRawBufferPointer, at position: Int) throws(CipherFileError) -> Int {
        let sector = sectorSize.bytes
        let firstSector = position / sector
        let chunkStart = firstSector * sector
        let chunkEnd = min(position + data.count, chunkStart + SectorScratch.capacity)
        let sectors = (chunkEnd - chunkStart + sector - 1) / sector
        let scratch = UnsafeMutableRawBufferPointer(rebasing: SectorScratch.buffer[0..<sectors * sector])
        let headIsPartial = position != chunkStart
        let tailIsPartial = chunkEnd % sector != 0

        let firstWhole = headIsPartial ? 1 : 0
        let endWhole = tailIsPartial ? sectors - 1 : sectors
        if endWhole > firstWhole {
            let source = chunkStart + firstWhole * sector - position
            try encrypt(UnsafeRawBufferPointer(rebasing: data[source..<source + (endWhole - firstWhole) * sector]),
                        into: UnsafeMutableRawBufferPointer(rebasing: scratch[firstWhole * sector..<endWhole * sector]),
                        firstSector: firstSector + firstWhole)
        }
        func merge(slot: Int) throws(CipherFileError) {
            try mergeSector(firstSector + slot, of: data, at: position,
                            into: UnsafeMutableRawBufferPointer(rebasing: scratch[slot * sector..<(slot + 1) * sector]))
        }
        if headIsPartial { try merge(slot: 0) }
        if tailIsPartial && (sectors > 1 || !headIsPartial) { try merge(slot: sectors - 1) }

        try backing.write(UnsafeRawBufferPointer(scratch), at: backingOffset(ofSector: firstSector))
        backingLength = max(backingLength, backingOffset(ofSector: firstSector + sectors))
        return chunkEnd - position
    }

    /// Fills `slot` with the ciphertext of sector `index` after the part of
    /// `data` (which starts at file position `position`) that falls in it
    /// replaces the old plaintext.
    private func mergeSector(_ index: Int, of data: UnsafeRawBufferPointer, at position: Int,
                             into slot: UnsafeMutableRawBufferPointer) throws(CipherFileError) {
        try loadSector(index, into: slot, zeroingFrom: plaintextSize)
        let sectorStart = index * sectorSize.bytes
        let low = max(sectorStart, position)
        let high = min(sectorStart + sectorSize.bytes, position + data.count)
        UnsafeMutableRawBufferPointer(rebasing: slot[(low - sectorStart)..<(high - sectorStart)])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: data[(low - position)..<(high - position)]))
        try encrypt(UnsafeRawBufferPointer(slot), into: slot, firstSector: index)
    }
}
