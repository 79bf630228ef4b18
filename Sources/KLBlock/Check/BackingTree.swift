import Glibc

/// One entry of a cipher dir, seen through lstat: symlinks are entries,
/// never followed.
struct BackingEntry {
    enum Kind { case directory, regularFile, other }

    /// Relative to the cipher dir, "/"-separated, for reports.
    let path: String
    /// The open directory holding the entry, valid during the visit only.
    let parent: Int32
    /// The entry's name as stored, NUL-terminated, for openat.
    let name: [CChar]
    let status: stat

    var kind: Kind {
        switch status.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regularFile
        default: return .other
        }
    }

    var isAtRoot: Bool { !path.contains("/") }

    /// The name for comparisons and reports; bytes that are not UTF-8 show as U+FFFD.
    var nameText: String { displayText(name) }
}

private func displayText(_ name: [CChar]) -> String {
    String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A depth-first walk of a cipher dir, in name order so that reports are
/// stable. Directories are opened with openat and O_NOFOLLOW relative to
/// their parent, so a symlink anywhere in the tree is never followed.
enum BackingTree {
    /// Calls `visit` for every entry below `root` (a directory before its
    /// contents) and `failure` for a path that cannot be listed or stat'ed.
    /// An error `visit` throws ends the walk.
    static func walk(_ root: String, visit: (BackingEntry) throws(CipherFileError) -> Void,
                     failure: (_ path: String, _ error: CipherFileError) -> Void) throws(CipherFileError) {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            failure("", .system(call: "open", errno: errno))
            return
        }
        try walkDirectory(fd, path: "", visit: visit, failure: failure)
    }

    /// Takes ownership of `fd`.
    private static func walkDirectory(_ fd: Int32, path: String, visit: (BackingEntry) throws(CipherFileError) -> Void,
                                      failure: (String, CipherFileError) -> Void) throws(CipherFileError) {
        guard let directory = fdopendir(fd) else {
            failure(path, .system(call: "fdopendir", errno: errno))
            close(fd)
            return
        }
        // closedir closes fd too.
        defer { closedir(directory) }
        let names: [[CChar]]
        do throws(CipherFileError) {
            names = try entryNames(directory)
        } catch {
            failure(path, error)
            return
        }
        for name in names {
            let childPath = path.isEmpty ? displayText(name) : path + "/" + displayText(name)
            var status = stat()
            guard fstatat(fd, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
                failure(childPath, .system(call: "fstatat", errno: errno))
                continue
            }
            let entry = BackingEntry(path: childPath, parent: fd, name: name, status: status)
            try visit(entry)
            guard entry.kind == .directory else { continue }
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else {
                failure(childPath, .system(call: "openat", errno: errno))
                continue
            }
            try walkDirectory(child, path: childPath, visit: visit, failure: failure)
        }
    }

    /// Every name but "." and "..", sorted bytewise.
    private static func entryNames(_ directory: OpaquePointer) throws(CipherFileError) -> [[CChar]] {
        var names: [[CChar]] = []
        errno = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 }.map { CChar(bitPattern: $0) }) + [0]
            }
            if name != [0x2E, 0] && name != [0x2E, 0x2E, 0] { names.append(name) }
        }
        guard errno == 0 else { throw .system(call: "readdir", errno: errno) }
        return names.sorted { $0.lexicographicallyPrecedes($1) { UInt8(bitPattern: $0) < UInt8(bitPattern: $1) } }
    }
}
