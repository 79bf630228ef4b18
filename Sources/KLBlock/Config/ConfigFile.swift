import Glibc

/// klfs.conf on disk: read with a size limit, written atomically with
/// mode 0400.
enum ConfigFile {
    /// A config is a few hundred bytes; anything past this is not one.
    static let sizeLimit = 64 * 1024

    static func path(in cipherDir: String) -> String { cipherDir + "/" + VolumeConfig.fileName }

    static func read(in cipherDir: String) throws(VolumeError) -> [UInt8] {
        let path = path(in: cipherDir)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .configMissing(path: path) }
            throw .configUnreadable(path: path, errno: errno)
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: sizeLimit + 1)
        let count = bytes.withUnsafeMutableBytes { POSIXIO.readFully(fd, into: $0) }
        guard count >= 0 else { throw .configUnreadable(path: path, errno: Int32(-count)) }
        guard count <= sizeLimit else { throw .configCorrupt("larger than \(sizeLimit) bytes") }
        return Array(bytes[..<count])
    }

    /// Writes `bytes` to a temporary file in `cipherDir`, fsyncs it, moves
    /// it over klfs.conf and fsyncs the directory: a crash leaves either
    /// the old config or the new one, never a mix. With `replacing` false
    /// an existing klfs.conf is kept and the write fails with
    /// ``VolumeError/cipherDirNotEmpty(path:)``.
    static func write(_ bytes: [UInt8], in cipherDir: String, replacing: Bool) throws(VolumeError) {
        let target = path(in: cipherDir)
        let temporary = target + ".tmp." + String(UInt64.random(in: .min ... .max), radix: 16)
        do {
            try writeSynced(bytes, to: temporary)
            try move(temporary, to: target, in: cipherDir, replacing: replacing)
        } catch {
            unlink(temporary)
            throw error
        }
        try syncDirectory(cipherDir)
    }

    private static func writeSynced(_ bytes: [UInt8], to path: String) throws(VolumeError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o400)
        guard fd >= 0 else { throw .configUnwritable(path: path, errno: errno) }
        defer { close(fd) }
        // The umask could only remove bits from 0400; fchmod makes it exact.
        var status = fchmod(fd, 0o400) == 0 ? 0 : errno
        if status == 0 { status = bytes.withUnsafeBytes { POSIXIO.writeAll(fd, $0) } }
        if status == 0, fsync(fd) != 0 { status = errno }
        guard status == 0 else { throw .configUnwritable(path: path, errno: status) }
    }

    private static func move(_ temporary: String, to target: String, in cipherDir: String,
                             replacing: Bool) throws(VolumeError) {
        if replacing {
            guard rename(temporary, target) == 0 else { throw .configUnwritable(path: target, errno: errno) }
            return
        }
        // link(2) refuses an existing target, which rename(2) would replace.
        guard link(temporary, target) == 0 else {
            if errno == EEXIST { throw .cipherDirNotEmpty(path: cipherDir) }
            throw .configUnwritable(path: target, errno: errno)
        }
        unlink(temporary)
    }

    private static func syncDirectory(_ directory: String) throws(VolumeError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .configUnwritable(path: directory, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .configUnwritable(path: directory, errno: errno) }
    }
}
