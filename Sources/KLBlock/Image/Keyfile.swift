import Glibc
import KLEngine

/// A keyfile's bytes in secret memory, as cryptsetup reads --key-file with
/// --keyfile-offset and --keyfile-size.
enum Keyfile {
    /// How much of a keyfile is read when no size is given (cryptsetup's
    /// default keyfile_size_max, 8 MiB).
    static let defaultSizeLimit = 8 << 20

    /// `count` bytes from `offset` (plain mode's key), or, with `count`
    /// nil, every byte from `offset` to the end of the file within
    /// `sizeLimit` (a LUKS2 passphrase). Only a regular file's end is
    /// known, so a pipe or device gives exactly `count` bytes or nothing.
    static func read(path: String, offset: Int, sizeLimit: Int?, count wanted: Int? = nil) throws(ImageError) -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .system(call: "fstat", path: path, errno: errno) }
        let regular = (status.st_mode & S_IFMT) == S_IFREG
        let available = regular ? max(Int(status.st_size) - offset, 0) : (wanted ?? 0)
        let usable = min(available, sizeLimit ?? defaultSizeLimit)
        let count = wanted ?? usable
        guard count > 0, usable >= count else { throw .keyfileTooShort(path: path, needed: max(count, 1), available: usable) }
        let bytes: SecretBytes
        do throws(EngineError) { bytes = try SecretBytes(count: count) } catch { throw .engine(error) }
        let got = bytes.withUnsafeMutableBytes { buffer in POSIXIO.preadFully(fd, into: buffer, at: offset) }
        guard got == count else {
            // A partly read key dies here.
            bytes.wipe()
            if got < 0 { throw .system(call: "read", path: path, errno: Int32(-got)) }
            throw .keyfileTooShort(path: path, needed: count, available: got)
        }
        return bytes
    }
}
