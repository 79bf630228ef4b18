import CFuse
import Glibc

/// A failed system call's errno: what a FUSE reply carries back to the
/// process that made the request.
struct SystemError: Error {
    let code: Int32

    init(_ code: Int32) { self.code = code }

    /// errno as the failed call left it.
    static var current: SystemError { SystemError(errno) }
}

/// `result`, or errno thrown when the call returned -1.
@discardableResult
func checked<T: BinaryInteger>(_ result: T) throws(SystemError) -> T {
    if result == -1 { throw .current }
    return result
}

/// The path through which a file held by an O_PATH descriptor can be
/// reached by calls that take no descriptor (xattrs, chmod, linkat).
func procPath(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }

/// `stat` of what `fd` refers to, not following a symlink.
func backingAttributes(_ fd: Int32) throws(SystemError) -> stat {
    try backingAttributes("", in: fd, flags: cfuse_at_empty_path)
}

/// The attributes of `name` in `directory`, not following a symlink.
func backingAttributes(_ name: UnsafePointer<CChar>, in directory: Int32, flags: Int32 = 0) throws(SystemError) -> stat {
    var st = stat()
    try checked(fstatat(directory, name, &st, flags | AT_SYMLINK_NOFOLLOW))
    return st
}

func fileType(_ mode: mode_t) -> mode_t { mode & S_IFMT }
