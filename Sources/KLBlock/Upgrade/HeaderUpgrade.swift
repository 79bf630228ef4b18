/// A backing file's header from version 1 to version 2, in place
/// (docs/CONFIG.md, "Upgrading a version 1 volume"). The version 2 header
/// keeps the file ID N * 2^64 and the size: every sector keeps its data
/// unit number, so no sector is touched.
struct HeaderUpgrade: Sendable {
    enum State: Equatable {
        /// A zero-length backing file, which both versions read as empty.
        case empty
        case version1(CipherFileHeader)
        /// Converted by an earlier, interrupted run.
        case version2
    }

    let version1: CipherFileFormat
    let version2: CipherFileFormat

    init(volume: UnlockedVolume) {
        version2 = volume.fileFormat
        version1 = CipherFileFormat(sectorSize: version2.sectorSize, key: version2.key, headers: .version1)
    }

    /// Which header the file has; a file valid in neither version throws
    /// the version 1 reading's error, the one fsck of the volume would give.
    func state(of backing: BackingDescriptor) throws(CipherFileError) -> State {
        let length = try backing.length()
        do throws(CipherFileError) {
            return try CipherFileHeader.read(from: backing, length: length, format: version2) == nil ? .empty : .version2
        } catch .corrupt(.versionMismatch(file: 1, volume: _)) {
            guard let header = try CipherFileHeader.read(from: backing, length: length, format: version1) else {
                return .empty
            }
            return .version1(header)
        }
    }

    /// Replaces the version 1 header `header` with its version 2 form, in
    /// one 64-byte pwrite at offset 0. An empty file's 32-byte backing file
    /// first grows to 64 bytes, durably: a crash then leaves either the
    /// version 1 header with extra length (valid, and converted by the next
    /// run) or the version 2 header, never a version 2 header cut to 32.
    func upgrade(_ header: CipherFileHeader, of backing: BackingDescriptor) throws(CipherFileError) {
        let bytes = try header.encoded(version2)
        if try backing.length() < bytes.count {
            try backing.setLength(bytes.count)
            try backing.sync()
        }
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(CipherFileError) in try backing.write(buffer, at: 0) }
        }.get()
    }
}
