import Glibc

/// A DIR stream on a backing directory, positioned at a telldir cookie,
/// closed with the object. Directories have no open state in the daemon
/// (opendir answers ENOSYS, see DirectoryOperations): each readdir request
/// opens its own stream at the offset the kernel sent.
final class DirectoryStream {
    let stream: OpaquePointer

    /// `directory` is any descriptor on the directory (O_PATH will do).
    init(_ directory: Int32, at offset: off_t = 0) throws(SystemError) {
        let fd = try Self.openForReading(directory)
        guard let stream = fdopendir(fd) else {
            let error = SystemError.current
            close(fd)
            throw error
        }
        self.stream = stream
        if offset != 0 { seekdir(stream, Int(offset)) }
    }

    /// A readable descriptor on the directory `directory` (any descriptor
    /// on it). openat(".") is one path step, but it needs search permission
    /// on the directory, where listing one needs read permission only; a
    /// daemon that is not root is refused then, and reopens it through
    /// /proc/self/fd, which needs no search.
    static func openForReading(_ directory: Int32) throws(SystemError) -> Int32 {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd == -1 && errno == EACCES {
            return try checked(open(procPath(directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
        }
        return try checked(fd)
    }

    /// The next entry's name, or nil at the end.
    func nextName() -> String? {
        guard let entry = readdir(stream) else { return nil }
        return withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
    }

    deinit { closedir(stream) }
}
