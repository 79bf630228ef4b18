import Glibc

// Describing what a call did and what an entry is, as stable text.

/// "ok", or the name of the errno a failed call (a -1) left.
func outcome(_ result: Int32) -> String { result == -1 ? errnoName(errno) : "ok" }
func outcome(_ result: Int) -> String { result == -1 ? errnoName(errno) : "ok" }

/// For calls that return a descriptor: closes it, and gives 0 or -1 (with
/// the errno left as the call left it).
func closing(_ fd: Int32) -> Int32 {
    guard fd >= 0 else { return -1 }
    close(fd)
    return 0
}

/// The outcome of opening `path` with `flags` (the descriptor is closed).
func opening(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) -> String {
    outcome(closing(open(path, flags | O_CLOEXEC, mode)))
}

func lstatus(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}

/// The entry's type: file, dir, symlink, fifo, socket, char, block; or the
/// errno lstat gave (ENOENT for none).
func kind(_ path: String) -> String {
    guard let st = lstatus(path) else { return errnoName(errno) }
    return typeName(st.st_mode)
}

func typeName(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: "file"
    case S_IFDIR: "dir"
    case S_IFLNK: "symlink"
    case S_IFIFO: "fifo"
    case S_IFSOCK: "socket"
    case S_IFCHR: "char"
    case S_IFBLK: "block"
    default: "unknown"
    }
}

/// The permission bits (with set-ID and sticky) in four octal digits.
func mode(_ path: String) -> String {
    guard let st = lstatus(path) else { return errnoName(errno) }
    return octal(st.st_mode & 0o7777)
}

func octal(_ value: mode_t, digits: Int = 4) -> String {
    let text = String(value, radix: 8)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
}

/// uid:gid of the entry itself (a symlink's own).
func owner(_ path: String) -> String {
    guard let st = lstatus(path) else { return errnoName(errno) }
    return "\(st.st_uid):\(st.st_gid)"
}

func linkCount(_ path: String) -> String {
    guard let st = lstatus(path) else { return errnoName(errno) }
    return "\(st.st_nlink)"
}

/// A file's contents (up to 4 KiB) as text, "empty", or the errno of
/// opening or reading it.
func contents(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { return errnoName(errno) }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = read(fd, &buffer, buffer.count)
    guard count >= 0 else { return errnoName(errno) }
    return count == 0 ? "empty" : String(decoding: buffer.prefix(count), as: UTF8.self)
}

/// "yes" when both names are the same inode.
func sameInode(_ first: String, _ second: String) -> String {
    guard let a = lstatus(first) else { return errnoName(errno) }
    guard let b = lstatus(second) else { return errnoName(errno) }
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev ? "yes" : "no"
}

/// The target a symlink holds, or the errno.
func linkTarget(_ path: String) -> String {
    var buffer = [CChar](repeating: 0, count: 4097)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count >= 0 else { return errnoName(errno) }
    return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The names in a directory (without . and ..), sorted, joined by commas;
/// "none" when empty.
func listing(_ path: String) -> String {
    guard let entries = directoryEntries(path) else { return errnoName(errno) }
    let names = entries.map(\.name).filter { $0 != "." && $0 != ".." }
    return names.isEmpty ? "none" : names.sorted().joined(separator: ",")
}

/// Each entry readdir gives, with its d_type (0 when unknown), or nil with
/// errno set.
func directoryEntries(_ path: String) -> [(name: String, type: UInt8)]? {
    guard let stream = opendir(path) else { return nil }
    defer { closedir(stream) }
    var entries: [(name: String, type: UInt8)] = []
    while true {
        // A filesystem may refuse only once asked for entries.
        errno = 0
        guard let entry = readdir(stream) else { return errno == 0 ? entries : nil }
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        entries.append((name, entry.pointee.d_type))
    }
}

let errnoNames: [Int32: String] = [
    EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", ENXIO: "ENXIO", EBADF: "EBADF", EAGAIN: "EAGAIN",
    EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", EXDEV: "EXDEV", ENODEV: "ENODEV",
    ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE", EMFILE: "EMFILE",
    ETXTBSY: "ETXTBSY", EFBIG: "EFBIG", ENOSPC: "ENOSPC", EROFS: "EROFS", EMLINK: "EMLINK",
    ERANGE: "ERANGE", ENAMETOOLONG: "ENAMETOOLONG", ENOSYS: "ENOSYS", ENOTEMPTY: "ENOTEMPTY",
    ELOOP: "ELOOP", ENODATA: "ENODATA", EOVERFLOW: "EOVERFLOW", EOPNOTSUPP: "EOPNOTSUPP",
    EADDRINUSE: "EADDRINUSE", ECONNREFUSED: "ECONNREFUSED", ESTALE: "ESTALE", ENOTCONN: "ENOTCONN",
]

func errnoName(_ code: Int32) -> String { errnoNames[code] ?? "errno-\(code)" }
