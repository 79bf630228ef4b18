import Glibc

/// One cipher dir entry through the upgrade: a regular file's attributes,
/// then its header (so a file with a version 2 header is done); a
/// directory's attributes. Symlinks and special files carry neither
/// (Linux allows `user.` attributes only on regular files and directories).
struct UpgradeEntryConversion: Sendable {
    let headers: HeaderUpgrade
    let attributes: ExtendedAttributeUpgrade
    /// Without it the entry is only checked.
    let converting: Bool

    init(volume: UnlockedVolume, attributes calls: any BackingExtendedAttributes, converting: Bool, fresh: Bool) {
        headers = HeaderUpgrade(volume: volume)
        // A version 2 volume always has its xattr key.
        attributes = ExtendedAttributeUpgrade(cipher: volume.extendedAttributeCipher!, calls: calls, fresh: fresh)
        self.converting = converting
    }

    func visit(_ entry: BackingEntry, into report: inout UpgradeReport) throws(CipherFileError) {
        switch entry.kind {
        case .regularFile:
            // Opened for writing in the survey too, so that a file the
            // upgrade could not write stops it before anything changed.
            try withOpened(entry, O_RDWR) { fd throws(CipherFileError) in try visitFile(fd, entry, &report) }
        case .directory:
            try withOpened(entry, O_RDONLY | O_DIRECTORY) { fd throws(CipherFileError) in
                _ = try attributes.upgrade(fd, path: entry.path, converting: converting, into: &report)
            }
        case .other:
            return
        }
    }

    /// The cipher dir itself: the mount's top directory, which carries
    /// attributes too.
    func visitTop(_ cipherDir: String, into report: inout UpgradeReport) throws(CipherFileError) {
        let fd = open(cipherDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(call: "open", errno: errno) }
        defer { close(fd) }
        _ = try attributes.upgrade(fd, path: ".", converting: converting, into: &report)
    }

    private func visitFile(_ fd: Int32, _ entry: BackingEntry, _ report: inout UpgradeReport) throws(CipherFileError) {
        let backing = BackingDescriptor(fd: fd)
        switch try headers.state(of: backing) {
        case .version2:
            report.filesUnchanged += 1
        case .empty:
            report.filesUnchanged += 1
            _ = try attributes.upgrade(fd, path: entry.path, converting: converting, into: &report)
        case .version1(let header):
            let attributesDone = try attributes.upgrade(fd, path: entry.path, converting: converting, into: &report)
            if converting && attributesDone { try headers.upgrade(header, of: backing) }
            report.headersConverted += 1
        }
    }

    private func withOpened(_ entry: BackingEntry, _ flags: Int32,
                            _ body: (Int32) throws(CipherFileError) -> Void) throws(CipherFileError) {
        let fd = openat(entry.parent, entry.name, flags | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .system(call: "open", errno: errno) }
        defer { close(fd) }
        try body(fd)
    }
}
