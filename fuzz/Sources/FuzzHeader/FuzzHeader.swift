import Glibc
import KLBlock
import KLEngine

/// A fixed AES-NI key: the fuzzer exercises parsing and the read path, not
/// the cipher, so any key does.
private let key: any XTSKey = {
    let raw = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 5) }
    return try! raw.withUnsafeBytes { bytes in
        try makeEngine(EngineKind.aesni).makeKey(
            dataKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<32])),
            tweakKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[32..<64])))
    }
}()

/// One backing file: the input is its whole contents, so its length is the
/// backing length. Only CipherFileCorruption may refuse it; an accepted
/// header must encode back to the same 32 bytes, and the file must open
/// and read to its size.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let header = parsedHeader(bytes) else { return 0 }
    precondition(header.encoded == Array(bytes.prefix(CipherFileHeader.length)))
    let sectors = CipherFileLayout.sectorCount(forSize: header.size, sectorSize: header.sectorSize)
    precondition(CipherFileLayout.backingOffset(ofSector: sectors, sectorSize: header.sectorSize) <= bytes.count
                 || header.size == 0)
    if sectors > 0 {
        _ = CipherFileLayout.dataUnit(ofSector: sectors - 1, nonce: header.nonce)
    }
    readThroughCipherFile(bytes, header: header)
    return 0
}

/// nil when the header is refused, which must be as a CipherFileCorruption.
private func parsedHeader(_ bytes: [UInt8]) -> CipherFileHeader? {
    do throws(CipherFileCorruption) {
        let header = try CipherFileHeader(parsing: bytes)
        try header.requireData(backingLength: bytes.count)
        return header
    } catch {
        _ = error.description
        return nil
    }
}

/// One unlinked scratch file, rewritten for every input: cheaper than a
/// new file each time, and nothing is left behind.
private let scratchFile: Int32 = {
    var template = Array("/tmp/klfs-fuzz-header-XXXXXX".utf8CString)
    let fd = mkstemp(&template)
    precondition(fd >= 0, "cannot create a scratch file in /tmp")
    unlink(template)
    return fd
}()

/// The mount's path: open the bytes as a backing file and read them all.
private func readThroughCipherFile(_ bytes: [UInt8], header: CipherFileHeader) {
    let fd = scratchFile
    precondition(ftruncate(fd, 0) == 0)
    precondition(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } == bytes.count)
    let file: CipherFile
    do {
        file = try CipherFile.open(descriptor: fd, key: key, sectorSize: header.sectorSize)
    } catch {
        preconditionFailure("a header that parsed and fits its data failed to open: \(error)")
    }
    precondition(file.size == header.size && file.nonce == header.nonce)
    var buffer = [UInt8](repeating: 0, count: header.size + 1)
    let read = try! buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
    precondition(read == header.size)
}
