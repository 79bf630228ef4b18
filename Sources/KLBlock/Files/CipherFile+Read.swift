import KLEngine

extension CipherFile {
    /// Reads up to `buffer.count` bytes at `offset`; fewer at the end of
    /// the file, 0 at or past it.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(CipherFileError) -> Int {
        guard offset >= 0 else { throw .negativeOffset(offset) }
        return try lock.withReadLock { () throws(CipherFileError) -> Int in
            guard offset < plaintextSize else { return 0 }
            let count = min(buffer.count, plaintextSize - offset)
            try readPlaintext(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), at: offset)
            return count
        }
    }

    /// Whole sectors are read and decrypted in the caller's buffer; a
    /// sector the range covers in part goes through the scratch buffer.
    /// `destination` lies within the plaintext size.
    private func readPlaintext(into destination: UnsafeMutableRawBufferPointer, at offset: Int) throws(CipherFileError) {
        let sector = sectorSize.bytes
        var done = 0
        while done < destination.count {
            let position = offset + done
            let within = position % sector
            let remaining = destination.count - done
            if within == 0 && remaining >= sector {
                let whole = remaining - remaining % sector
                let target = UnsafeMutableRawBufferPointer(rebasing: destination[done..<done + whole])
                try backing.readZeroFilled(into: target, at: backingOffset(ofSector: position / sector))
                try decryptInPlace(target, firstSector: position / sector)
                done += whole
            } else {
                let count = min(sector - within, remaining)
                let slot = UnsafeMutableRawBufferPointer(rebasing: SectorScratch.buffer[0..<sector])
                try loadSector(position / sector, into: slot, zeroingFrom: plaintextSize)
                UnsafeMutableRawBufferPointer(rebasing: destination[done..<done + count])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: slot[within..<within + count]))
                done += count
            }
        }
    }
}
