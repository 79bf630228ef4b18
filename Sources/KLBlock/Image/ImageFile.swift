import CFileIO
import Glibc

/// The encrypted image: positioned reads and writes that retry on EINTR
/// and short counts, its size, hole punching and sync. Holds ciphertext
/// only.
final class ImageFile: @unchecked Sendable {
    let path: String
    private let fd: Int32

    /// Opens an existing regular file (read-only when `writable` is false).
    init(path: String, writable: Bool) throws(ImageError) {
        let fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .imageMissing(path: path) }
            throw .system(call: "open", path: path, errno: errno)
        }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = errno
            close(fd)
            throw .system(call: "fstat", path: path, errno: code)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .imageNotRegularFile(path: path)
        }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Fills `buffer` from `offset`; bytes past the end of the image read
    /// as zeros (a fixed-size device may reach beyond a short image).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(ImageError) {
        let done = POSIXIO.preadFully(fd, into: buffer, at: offset)
        guard done >= 0 else { throw .system(call: "pread", path: path, errno: Int32(-done)) }
        fillWithZeros(UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
    }

    func write(_ buffer: UnsafeRawBufferPointer, at offset: Int) throws(ImageError) {
        let status = POSIXIO.pwriteAll(fd, buffer, at: offset)
        guard status == 0 else { throw .system(call: "pwrite", path: path, errno: status) }
    }

    /// Frees the image's blocks in `range` (bytes); they read back as zeros.
    func punchHole(_ range: Range<Int>) throws(ImageError) {
        guard !range.isEmpty else { return }
        guard cfileio_punch_hole(fd, off_t(range.lowerBound), off_t(range.count)) == 0 else {
            throw failure("fallocate(PUNCH_HOLE)")
        }
    }

    /// fdatasync, or fsync when `metadata` (the size, after a resize).
    func sync(metadata: Bool = false) throws(ImageError) {
        guard (metadata ? fsync(fd) : fdatasync(fd)) == 0 else { throw failure(metadata ? "fsync" : "fdatasync") }
    }

    /// Sets the image's length (growing leaves a hole).
    func truncate(to length: Int) throws(ImageError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw failure("ftruncate") }
    }

    /// The image's own stat(2), for the plaintext file's times and owner.
    func status() throws(ImageError) -> stat {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw failure("fstat") }
        return status
    }

    /// fstatvfs(2) of the file system holding the image.
    func fileSystemStatus() throws(ImageError) -> statvfs {
        var info = statvfs()
        guard fstatvfs(fd, &info) == 0 else { throw failure("fstatvfs") }
        return info
    }

    private func failure(_ call: String) -> ImageError {
        .system(call: call, path: path, errno: errno)
    }
}
