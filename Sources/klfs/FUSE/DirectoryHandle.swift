import CFuse
import Foundation
import Glibc

/// An open directory: a DIR stream on the backing directory and the
/// position the kernel last read up to. The kernel may read one handle
/// from several threads, so the stream is used under a lock.
final class DirectoryHandle: AttachedHandle, @unchecked Sendable {
    let lock = NSLock()
    let stream: OpaquePointer
    /// The telldir cookie after the last entry handed to the kernel; the
    /// kernel's next offset, when it continues where it stopped.
    var offset: off_t = 0

    init(_ directory: Inode) throws(SystemError) {
        let fd = try checked(openat(directory.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC))
        guard let stream = fdopendir(fd) else {
            let error = SystemError.current
            close(fd)
            throw error
        }
        self.stream = stream
    }

    deinit { closedir(stream) }
}
