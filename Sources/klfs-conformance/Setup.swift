import CConformance
import Glibc

// Steps that prepare a check; each throws SetupFailure when it fails.

/// `result` of the step named `step`: -1 fails the check's setup.
func must(_ result: Int32, _ step: @autoclosure () -> String) throws {
    guard result == -1 else { return }
    let code = errno
    throw SetupFailure(step: step(), code: code)
}

/// A regular file holding `text`, with exactly `mode`.
func makeFile(_ path: String, _ text: String = "", mode: mode_t = 0o644) throws {
    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    try must(fd, "create \(path)")
    defer { close(fd) }
    if !text.isEmpty { try must(Int32(write(fd, text, text.utf8.count)), "write \(path)") }
    try must(fchmod(fd, mode), "chmod \(path)")
}

/// An empty regular file with exactly `mode`, made by mknod: no descriptor
/// is ever opened on it, so no filesystem can still be releasing one when
/// the check opens it (a FUSE release is asynchronous).
func makeEmptyFile(_ path: String, mode: mode_t) throws {
    try must(mknod(path, S_IFREG | 0o600, 0), "mknod \(path)")
    try must(chmod(path, mode), "chmod \(path)")
}

/// A directory with exactly `mode` (the umask and inherited bits aside).
func makeDirectory(_ path: String, mode: mode_t = 0o755) throws {
    try must(mkdir(path, 0o700), "mkdir \(path)")
    try must(chmod(path, mode), "chmod \(path)")
}

func makeSymlink(_ target: String, _ path: String) throws {
    try must(symlink(target, path), "symlink \(path)")
}

func makeFifo(_ path: String, mode: mode_t = 0o644) throws {
    try must(mkfifo(path, mode), "mkfifo \(path)")
}

func makeLink(_ existing: String, _ path: String) throws {
    try must(link(existing, path), "link \(path)")
}

func giveTo(_ path: String, _ uid: uid_t, _ gid: gid_t) throws {
    try must(lchown(path, uid, gid), "chown \(path)")
}

/// Writes `text` at the end of an existing file.
func append(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
    try must(fd, "open \(path)")
    defer { close(fd) }
    try must(Int32(write(fd, text, text.utf8.count)), "write \(path)")
}

/// `body` under umask `mask`; the previous umask comes back after.
func withUmask<T>(_ mask: mode_t, _ body: () throws -> T) rethrows -> T {
    let previous = umask(mask)
    defer { umask(previous) }
    return try body()
}

/// renameat2 relative to the current directory.
func rename(_ from: String, _ to: String, flags: UInt32) -> Int32 {
    conformance_renameat2(AT_FDCWD, from, AT_FDCWD, to, flags)
}

let noReplace = conformance_rename_noreplace
let exchange = conformance_rename_exchange

/// A name of `length` bytes.
func longName(_ length: Int, _ letter: Character = "n") -> String { String(repeating: letter, count: length) }
