import Glibc

/// The errors path and name operations give: ENOTDIR, ENAMETOOLONG, ELOOP,
/// ENOENT, EEXIST, ENOTEMPTY, EISDIR, EINVAL, EPERM and, for an ordinary
/// user, EACCES.
enum ErrorChecks {
    static var all: [Check] { notDirectory + nameLength + loops + missing + existing + others + permissions }

    static let notDirectory: [Check] = [
        Check("errors.enotdir.open-under-file") { try makeFile("f"); return ["open": opening("f/x", O_RDONLY)] },
        Check("errors.enotdir.create-under-file") {
            try makeFile("f")
            return ["create": opening("f/x", O_CREAT | O_WRONLY)]
        },
        Check("errors.enotdir.mkdir-under-file") { try makeFile("f"); return ["mkdir": outcome(mkdir("f/d", 0o755))] },
        Check("errors.enotdir.rmdir-file") { try makeFile("f"); return ["rmdir": outcome(rmdir("f")), "f": kind("f")] },
        Check("errors.enotdir.opendir-file") { try makeFile("f"); return ["open": opening("f", O_RDONLY | O_DIRECTORY)] },
        Check("errors.enotdir.trailing-slash-on-file") {
            try makeFile("f")
            var st = stat()
            return ["stat": outcome(stat("f/", &st))]
        },
        Check("errors.enotdir.symlink-to-file-as-dir") {
            try makeFile("f")
            try makeSymlink("f", "l")
            return ["open": opening("l/x", O_RDONLY)]
        },
    ]

    static let long = longName(255), tooLong = longName(256)

    static let nameLength: [Check] = [
        Check("errors.name-255.create") {
            ["create": opening(long, O_CREAT | O_EXCL | O_WRONLY), "type": kind(long), "listed": listing(".") == long ? "yes" : "no"]
        },
        Check("errors.name-255.mkdir") { ["mkdir": outcome(mkdir(long, 0o755)), "type": kind(long)] },
        Check("errors.name-255.mkfifo") { ["mkfifo": outcome(mkfifo(long, 0o644)), "type": kind(long)] },
        Check("errors.name-255.symlink") { ["symlink": outcome(symlink("t", long)), "target": linkTarget(long)] },
        Check("errors.name-255.unlink") {
            try makeFile(long)
            return ["unlink": outcome(unlink(long)), "lists": listing(".")]
        },
        Check("errors.name-255.in-255-deep-path") {
            let dir = longName(255, "d")
            try makeDirectory(dir)
            try makeFile(dir + "/" + long, "deep")
            return ["holds": contents(dir + "/" + long)]
        },
        Check("errors.name-256.create") { ["create": opening(tooLong, O_CREAT | O_WRONLY), "lists": listing(".")] },
        Check("errors.name-256.mkdir") { ["mkdir": outcome(mkdir(tooLong, 0o755))] },
        Check("errors.name-256.stat") {
            var st = stat()
            return ["stat": outcome(lstat(tooLong, &st))]
        },
        Check("errors.name-256.symlink") { ["symlink": outcome(symlink("t", tooLong))] },
        Check("errors.name-256.link") { try makeFile("f"); return ["link": outcome(link("f", tooLong))] },
        Check("errors.name-256.mkfifo") { ["mkfifo": outcome(mkfifo(tooLong, 0o644))] },
        Check("errors.name-256.unlink") { ["unlink": outcome(unlink(tooLong))] },
    ]

    static let loops: [Check] = [
        Check("errors.eloop.two-symlinks") {
            try makeSymlink("b", "a")
            try makeSymlink("a", "b")
            return ["open": opening("a", O_RDONLY), "create": opening("a", O_CREAT | O_WRONLY)]
        },
        Check("errors.eloop.self") {
            try makeSymlink("a", "a")
            var st = stat()
            return ["stat": outcome(stat("a", &st)), "lstat": outcome(lstat("a", &st))]
        },
        Check("errors.eloop.nofollow-on-symlink") {
            try makeFile("f")
            try makeSymlink("f", "l")
            return ["open": opening("l", O_RDONLY | O_NOFOLLOW)]
        },
        Check("errors.eloop.nofollow-on-dangling-symlink-create") {
            try makeSymlink("missing", "l")
            return ["create": opening("l", O_CREAT | O_WRONLY | O_NOFOLLOW), "missing": kind("missing")]
        },
        Check("errors.eloop.nofollow-only-last-component") {
            try makeDirectory("d")
            try makeFile("d/f", "f")
            try makeSymlink("d", "l")
            return ["open": opening("l/f", O_RDONLY | O_NOFOLLOW)]
        },
        Check("errors.eloop.chain-40-and-41") {
            try makeFile("f0", "end")
            for index in 1...41 { try makeSymlink("f\(index - 1)", "f\(index)") }
            return ["40": contents("f40"), "41": contents("f41")]
        },
        Check("errors.eloop.loop-in-dir-path") {
            try makeSymlink("b/x", "a")
            try makeSymlink("a/x", "b")
            return ["mkdir": outcome(mkdir("a/d", 0o755))]
        },
    ]

    static let missing: [Check] = [
        Check("errors.enoent.open") { ["open": opening("missing", O_RDONLY)] },
        Check("errors.enoent.unlink") { ["unlink": outcome(unlink("missing"))] },
        Check("errors.enoent.rmdir") { ["rmdir": outcome(rmdir("missing"))] },
        Check("errors.enoent.create-in-missing-dir") { ["create": opening("missing/f", O_CREAT | O_WRONLY)] },
        Check("errors.enoent.dangling-symlink") {
            try makeSymlink("missing", "l")
            return ["open": opening("l", O_RDONLY), "readlink": linkTarget("l")]
        },
        Check("errors.enoent.empty-path") { ["open": opening("", O_RDONLY)] },
        Check("errors.enoent.chmod") { ["chmod": outcome(chmod("missing", 0o644))] },
        Check("errors.enoent.readlink") { ["readlink": linkTarget("missing")] },
        Check("errors.enoent.after-unlink") {
            try makeFile("f")
            try must(unlink("f"), "unlink f")
            return ["open": opening("f", O_RDONLY), "lists": listing(".")]
        },
    ]

    static let existing: [Check] = [
        Check("errors.eexist.mkdir-over-dir") { try makeDirectory("d"); return ["mkdir": outcome(mkdir("d", 0o755))] },
        Check("errors.eexist.mkdir-over-file") { try makeFile("f"); return ["mkdir": outcome(mkdir("f", 0o755))] },
        Check("errors.eexist.create-excl") {
            try makeFile("f", "f")
            return ["create": opening("f", O_CREAT | O_EXCL | O_WRONLY), "holds": contents("f")]
        },
        Check("errors.eexist.create-excl-over-dangling-symlink") {
            try makeSymlink("missing", "l")
            return ["create": opening("l", O_CREAT | O_EXCL | O_WRONLY), "missing": kind("missing")]
        },
        Check("errors.eexist.create-through-dangling-symlink") {
            try makeSymlink("made", "l")
            return ["create": opening("l", O_CREAT | O_WRONLY), "made": kind("made")]
        },
        Check("errors.eexist.symlink-over-file") { try makeFile("f"); return ["symlink": outcome(symlink("t", "f"))] },
        Check("errors.eexist.mkfifo-over-fifo") { try makeFifo("p"); return ["mkfifo": outcome(mkfifo("p", 0o644))] },
        Check("errors.eexist.mknod-over-file") { try makeFile("f"); return ["mknod": outcome(mknod("f", S_IFREG | 0o644, 0))] },
        Check("errors.eexist.mkdir-over-dangling-symlink") {
            try makeSymlink("missing", "l")
            return ["mkdir": outcome(mkdir("l", 0o755)), "missing": kind("missing")]
        },
    ]

    static let others: [Check] = [
        Check("errors.enotempty.rmdir-with-file") {
            try makeDirectory("d")
            try makeFile("d/f")
            return ["rmdir": outcome(rmdir("d")), "lists": listing("d")]
        },
        Check("errors.enotempty.rmdir-with-dot-file") {
            try makeDirectory("d")
            try makeFile("d/.hidden")
            return ["rmdir": outcome(rmdir("d"))]
        },
        Check("errors.enotempty.rmdir-with-subdir") {
            try makeDirectory("d")
            try makeDirectory("d/e")
            return ["rmdir": outcome(rmdir("d"))]
        },
        Check("errors.rmdir-emptied-dir") {
            try makeDirectory("d")
            try makeFile("d/f")
            try must(unlink("d/f"), "unlink d/f")
            return ["rmdir": outcome(rmdir("d")), "d": kind("d")]
        },
        Check("errors.eisdir.open-dir-for-writing") { try makeDirectory("d"); return ["open": opening("d", O_WRONLY)] },
        Check("errors.eisdir.unlink-dir") { try makeDirectory("d"); return ["unlink": outcome(unlink("d")), "d": kind("d")] },
        Check("errors.eisdir.truncate-dir") { try makeDirectory("d"); return ["truncate": outcome(truncate("d", 0))] },
        Check("errors.einval.rmdir-dot") { try makeDirectory("d"); return ["rmdir": outcome(rmdir("d/."))] },
        Check("errors.einval.truncate-negative") { try makeFile("f"); return ["truncate": outcome(truncate("f", -1))] },
        Check("errors.einval.readlink-file") { try makeFile("f"); return ["readlink": linkTarget("f")] },
        Check("errors.symlink-empty-target") { ["symlink": outcome(symlink("", "l")), "l": kind("l")] },
    ]

    /// As an ordinary user (the second user when the runner is root): what
    /// the mode bits refuse. The user makes every entry it is refused.
    static func refused(_ name: String, _ body: @escaping @Sendable () throws -> Observations) -> Check {
        Check("errors.eacces.\(name)") { try asOrdinaryUser(body) }
    }

    /// access(2) judged with the filesystem identity (AT_EACCESS), which
    /// is the one the checks switch, not with the real uid.
    static func accessible(_ path: String, _ mode: Int32) -> String {
        outcome(faccessat(AT_FDCWD, path, mode, AT_EACCESS))
    }

    static let permissions: [Check] = [
        refused("read-0000-file") { try makeEmptyFile("f", mode: 0); return ["open": opening("f", O_RDONLY)] },
        refused("write-0444-file") { try makeEmptyFile("f", mode: 0o444); return ["open": opening("f", O_WRONLY)] },
        refused("truncate-0444-file") { try makeEmptyFile("f", mode: 0o444); return ["truncate": outcome(truncate("f", 0))] },
        refused("open-0000-file-held-open-elsewhere") {
            let held = open("f", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
            try must(held, "create f")
            defer { close(held) }
            try must(fchmod(held, 0), "chmod f")
            return ["read": opening("f", O_RDONLY), "write": opening("f", O_WRONLY)]
        },
        refused("create-in-0555-dir") {
            try makeDirectory("d", mode: 0o555)
            return ["create": opening("d/f", O_CREAT | O_WRONLY), "mkdir": outcome(mkdir("d/e", 0o755))]
        },
        refused("unlink-in-0555-dir") {
            try makeDirectory("d")
            try makeFile("d/f")
            try must(chmod("d", 0o555), "chmod d")
            return ["unlink": outcome(unlink("d/f")), "rename": outcome(rename("d/f", "d/g"))]
        },
        refused("search-0666-dir") {
            try makeDirectory("d")
            try makeFile("d/f", "f")
            try must(chmod("d", 0o666), "chmod d")
            var st = stat()
            return ["stat": outcome(stat("d/f", &st)), "list": listing("d")]
        },
        refused("list-0333-dir") {
            try makeDirectory("d")
            try makeFile("d/f", "f")
            try must(chmod("d", 0o333), "chmod d")
            return ["list": listing("d"), "read-inside": contents("d/f")]
        },
        refused("access-calls") {
            try makeEmptyFile("f", mode: 0o444)
            return ["r": accessible("f", R_OK), "w": accessible("f", W_OK), "x": accessible("f", X_OK)]
        },
        refused("exec-0644-file") {
            try makeEmptyFile("f", mode: 0o644)
            return ["x": accessible("f", X_OK)]
        },
        refused("rename-out-of-0555-dir") {
            try makeDirectory("d")
            try makeDirectory("e")
            try makeFile("d/f")
            try must(chmod("d", 0o555), "chmod d")
            return ["rename": outcome(rename("d/f", "e/f"))]
        },
        refused("rename-dir-without-write-on-it") {
            // Moving a directory to another parent rewrites its "..".
            try makeDirectory("d", mode: 0o555)
            try makeDirectory("e")
            return ["rename": outcome(rename("d", "e/d")), "within-parent": outcome(rename("d", "d2"))]
        },
        Check("errors.root.reads-0000-file") {
            try makeEmptyFile("f", mode: 0)
            return ["open": opening("f", O_RDWR), "x": accessible("f", X_OK)]
        },
    ]
}
