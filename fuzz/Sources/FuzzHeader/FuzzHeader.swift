import Glibc
import KLBlock
import KLEngine

/// Fixed AES-NI keys: the fuzzer exercises parsing and the read path, not
/// the cipher, so any keys do. fuzz/corpus/header's version 2 seeds are
/// sealed with this header key (bytes 0x40 to 0x5f).
private let engine = try! makeEngine(EngineKind.aesni)
private let key: any XTSKey = {
    let raw = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 5) }
    return try! raw.withUnsafeBytes { bytes in
        try engine.makeKey(
            dataKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<32])),
            tweakKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[32..<64])))
    }
}()
private let headerKey: any BlockCipherKey = {
    let raw = (0..<32).map { UInt8(0x40 + $0) }
    return try! raw.withUnsafeBytes { try engine.makeBlockKey(SecretBytes(copying: $0)) }
}()
private let headerFormats: [HeaderFormat] = [.version1, .version2(headerKey: headerKey)]

/// One backing file: the input is its whole contents, so its length is the
/// backing length. It is read as a file of a version 1 and of a version 2
/// volume whose sector size is the one its byte 10 claims. Only
/// `CipherFileError.corrupt` may refuse it; an accepted header must encode
/// back to the same bytes, and the file must open and read to its size.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let claimed = bytes.count > 10 ? SectorSize(bytes: 1 << Int(min(bytes[10], 15))) : nil
    for headers in headerFormats {
        let format = CipherFileFormat(sectorSize: claimed ?? .default, key: key, headers: headers)
        guard let header = parsedHeader(bytes, format: format) else { continue }
        precondition(try! header.encoded(format) == Array(bytes.prefix(headers.length)))
        let sectors = CipherFileLayout.sectorCount(forSize: header.size, sectorSize: format.sectorSize)
        precondition(CipherFileLayout.backingOffset(ofSector: sectors, sectorSize: format.sectorSize) <= bytes.count
                     || header.size == 0)
        if sectors > 0 {
            _ = CipherFileLayout.dataUnit(ofSector: sectors - 1, fileID: header.fileID)
        }
        readThroughCipherFile(bytes, header: header, format: format)
    }
    return 0
}

/// nil when the header is refused, which must be as corruption.
private func parsedHeader(_ bytes: [UInt8], format: CipherFileFormat) -> CipherFileHeader? {
    do throws(CipherFileError) {
        let header = try CipherFileHeader(parsing: bytes, format: format)
        try header.requireData(backingLength: bytes.count, format: format)
        return header
    } catch .corrupt(let corruption) {
        _ = corruption.description
        return nil
    } catch {
        preconditionFailure("a header was refused for another reason than corruption: \(error)")
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
private func readThroughCipherFile(_ bytes: [UInt8], header: CipherFileHeader, format: CipherFileFormat) {
    let fd = scratchFile
    precondition(ftruncate(fd, 0) == 0)
    precondition(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } == bytes.count)
    let file: CipherFile
    do {
        file = try CipherFile.open(descriptor: fd, format: format)
    } catch {
        preconditionFailure("a header that parsed and fits its data failed to open: \(error)")
    }
    precondition(file.size == header.size && file.fileID == header.fileID)
    var buffer = [UInt8](repeating: 0, count: header.size + 1)
    let read = try! buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
    precondition(read == header.size)
}
