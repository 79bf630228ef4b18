import Glibc
import KLEngine

// Sector-level steps shared by the read and write paths. Sector indexes
// count plaintext sectors from 0.
extension CipherFile {
    func backingOffset(ofSector index: Int) -> Int {
        CipherFileLayout.backingOffset(ofSector: index, sectorSize: sectorSize)
    }

    /// Encrypts whole sectors, the first of them sector `firstSector`.
    /// `input` is either `output` or disjoint from it.
    func encrypt(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                 firstSector: Int) throws(CipherFileError) {
        do {
            try format.key.crypt(.encrypt, input, into: output, dataUnitSize: sectorSize.bytes,
                                 firstDataUnit: CipherFileLayout.dataUnit(ofSector: firstSector, fileID: currentFileID))
        } catch {
            throw .crypto(error)
        }
    }

    /// Decrypts in place backing sectors read into `sectors`, leaving holes
    /// (all-zero sectors) as zeros; consecutive non-holes go to the engine
    /// in one call.
    func decryptInPlace(_ sectors: UnsafeMutableRawBufferPointer, firstSector: Int) throws(CipherFileError) {
        let size = sectorSize.bytes
        var runStart = 0
        for boundary in stride(from: 0, through: sectors.count, by: size) {
            let atHole = boundary < sectors.count
                && isAllZero(UnsafeRawBufferPointer(rebasing: sectors[boundary..<boundary + size]))
            guard atHole || boundary == sectors.count else { continue }
            if boundary > runStart {
                let run = UnsafeMutableRawBufferPointer(rebasing: sectors[runStart..<boundary])
                do {
                    try format.key.crypt(.decrypt, run, dataUnitSize: size,
                                         firstDataUnit: CipherFileLayout.dataUnit(ofSector: firstSector + runStart / size,
                                                                                  fileID: currentFileID))
                } catch {
                    throw .crypto(error)
                }
            }
            runStart = boundary + size
        }
    }

    /// The plaintext of sector `index` in `slot` (one sector), with every
    /// byte at a file position of `size` or more zeroed: those bytes are
    /// zero by the format, whatever a crash left on disk.
    func loadSector(_ index: Int, into slot: UnsafeMutableRawBufferPointer,
                    zeroingFrom size: Int) throws(CipherFileError) {
        let start = index * sectorSize.bytes
        let valid = min(max(size - start, 0), slot.count)
        if valid > 0 {
            try backing.readZeroFilled(into: slot, at: backingOffset(ofSector: index))
            try decryptInPlace(slot, firstSector: index)
        }
        fillWithZeros(UnsafeMutableRawBufferPointer(rebasing: slot[valid...]))
    }

    /// Zeroes, on disk, the bytes after `size` in the sector holding it,
    /// unless they are zeros already (the usual case) or the sector is a hole.
    func zeroTail(beyond size: Int) throws(CipherFileError) {
        let within = size % sectorSize.bytes
        guard within != 0 else { return }
        let index = size / sectorSize.bytes
        let slot = UnsafeMutableRawBufferPointer(rebasing: SectorScratch.buffer[0..<sectorSize.bytes])
        try backing.readZeroFilled(into: slot, at: backingOffset(ofSector: index))
        guard !isAllZero(UnsafeRawBufferPointer(slot)) else { return }
        try decryptInPlace(slot, firstSector: index)
        let tail = UnsafeMutableRawBufferPointer(rebasing: slot[within...])
        guard !isAllZero(UnsafeRawBufferPointer(tail)) else { return }
        fillWithZeros(tail)
        try encrypt(UnsafeRawBufferPointer(slot), into: slot, firstSector: index)
        try backing.write(UnsafeRawBufferPointer(slot), at: backingOffset(ofSector: index))
    }
}

/// Whether every byte is zero: the first byte is, and each byte equals the
/// next (memcmp of the buffer against itself shifted by one).
func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
    return base.load(as: UInt8.self) == 0 && memcmp(base, base + 1, bytes.count - 1) == 0
}

func fillWithZeros(_ bytes: UnsafeMutableRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes.count)
}
