import KLEngine

// The sector steps of the read and write paths, each on one chunk of
// sectors held in the calling thread's scratch buffer.
extension PlaintextDevice {
    /// Splits `bytes` (device offsets) into runs of whole sectors that fit
    /// the scratch buffer; `body` gets each run's sectors and the bytes of
    /// the request inside them.
    func forEachChunk(of bytes: Range<Int>,
                      _ body: (Range<Int>, Range<Int>) throws(ImageError) -> Void) throws(ImageError) {
        let sectorsPerChunk = Self.chunkSize / sectorSize
        var position = bytes.lowerBound
        while position < bytes.upperBound {
            let first = position / sectorSize
            let last = min((bytes.upperBound + sectorSize - 1) / sectorSize, first + sectorsPerChunk)
            let chunkEnd = min(bytes.upperBound, last * sectorSize)
            try body(first..<last, position..<chunkEnd)
            position = chunkEnd
        }
    }

    /// The plaintext of `sectors` in `slots` (exactly their size).
    func loadSectors(_ sectors: Range<Int>, into slots: UnsafeMutableRawBufferPointer) throws(ImageError) {
        try image.read(into: slots, at: layout.imageOffset(ofSector: sectors.lowerBound))
        try crypt(.decrypt, UnsafeRawBufferPointer(slots), into: slots, firstSector: sectors.lowerBound)
    }

    /// Writes `data` over device bytes `bytes` (inside `sectors`):
    /// sectors the write covers only in part are read and decrypted first,
    /// then the whole run is encrypted and written in one call.
    func storeSectors(_ sectors: Range<Int>, patching bytes: Range<Int>,
                      with data: UnsafeRawBufferPointer) throws(ImageError) {
        let slots = scratch(for: sectors)
        let chunkStart = sectors.lowerBound * sectorSize
        // Whole sectors encrypt straight from the caller's data.
        if bytes.count == sectors.count * sectorSize {
            try crypt(.encrypt, UnsafeRawBufferPointer(rebasing: data[..<bytes.count]), into: slots,
                      firstSector: sectors.lowerBound)
            try image.write(UnsafeRawBufferPointer(slots), at: layout.imageOffset(ofSector: sectors.lowerBound))
            return
        }
        if bytes.lowerBound % sectorSize != 0 {
            try loadSector(sectors.lowerBound, into: slots, at: 0)
        }
        let lastSector = sectors.upperBound - 1
        if bytes.upperBound % sectorSize != 0 && (lastSector != sectors.lowerBound || bytes.lowerBound % sectorSize == 0) {
            try loadSector(lastSector, into: slots, at: (lastSector - sectors.lowerBound) * sectorSize)
        }
        (slots.baseAddress! + (bytes.lowerBound - chunkStart)).copyMemory(from: data.baseAddress!, byteCount: bytes.count)
        try crypt(.encrypt, UnsafeRawBufferPointer(slots), into: slots, firstSector: sectors.lowerBound)
        try image.write(UnsafeRawBufferPointer(slots), at: layout.imageOffset(ofSector: sectors.lowerBound))
    }

    /// Reads and decrypts one sector into `slots` at byte `at`.
    private func loadSector(_ sector: Int, into slots: UnsafeMutableRawBufferPointer, at position: Int) throws(ImageError) {
        let slot = UnsafeMutableRawBufferPointer(rebasing: slots[position..<position + sectorSize])
        try loadSectors(sector..<sector + 1, into: slot)
    }

    /// `input` into `output` (the same memory, or disjoint), each sector
    /// with its own data unit number: one engine call, or two where the
    /// numbers wrap.
    private func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                       into output: UnsafeMutableRawBufferPointer, firstSector: Int) throws(ImageError) {
        var (start, sector) = (0, firstSector)
        do throws(EngineError) {
            while start < input.count {
                let end = start + sectorSize * min((input.count - start) / sectorSize, layout.sectorsBeforeWrap(from: sector))
                try key.crypt(direction, UnsafeRawBufferPointer(rebasing: input[start..<end]),
                              into: UnsafeMutableRawBufferPointer(rebasing: output[start..<end]), dataUnitSize: sectorSize,
                              firstDataUnit: layout.dataUnit(ofSector: sector), dataUnitStep: layout.dataUnitStep)
                sector += (end - start) / sectorSize
                start = end
            }
        } catch {
            throw .engine(error)
        }
    }

    func scratch(for sectors: Range<Int>) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: SectorScratch.buffer[0..<sectors.count * sectorSize])
    }
}
