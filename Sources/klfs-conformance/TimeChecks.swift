import CConformance
import Glibc

/// Which of mtime and ctime each operation changes, on the entry and on
/// its parent: "mtime+ctime", "mtime", "ctime" or "none", never absolute
/// times. Every check waits after its setup long enough for any
/// filesystem's timestamp granularity, so a change cannot hide in the tick
/// of the setup.
enum TimeChecks {
    /// Longer than a kernel tick at HZ=100 (the coarse clock's step), twice.
    static let settleMicroseconds: UInt32 = 25_000

    struct Stamp {
        let modified: timespec, changed: timespec

        /// `fd` is an O_PATH descriptor, which follows the entry through
        /// renames and unlinks.
        init(_ fd: Int32) throws {
            var st = stat()
            try must(fstat(fd, &st), "fstat")
            modified = st.st_mtim
            changed = st.st_ctim
        }
    }

    /// A check that makes what `setup` makes, waits, does `operation`, and
    /// reports its outcome and, for each of the entries `watched` names
    /// before the operation (wherever it goes after), what changed.
    static func timed(_ name: String, watching watched: [String], setup: @escaping @Sendable () throws -> Void,
                      _ operation: @escaping @Sendable () throws -> String) -> Check {
        Check("times.\(name)") {
            try setup()
            let descriptors = try watched.map { path in
                let fd = open(path, conformance_o_path | O_NOFOLLOW | O_CLOEXEC)
                try must(fd, "open \(path)")
                return fd
            }
            defer { descriptors.forEach { close($0) } }
            let before = try descriptors.map(Stamp.init)
            usleep(settleMicroseconds)
            let result = try operation()
            let after = descriptors.map { try? Stamp($0) }
            return Observations([(key: "op", value: result)] + watched.indices.map { index in
                (key: watched[index] == "." ? "parent" : watched[index], value: changes(before[index], after[index]))
            })
        }
    }

    static func changes(_ before: Stamp, _ after: Stamp?) -> String {
        guard let after else { return "fstat-failed" }
        switch (!same(after.modified, before.modified), !same(after.changed, before.changed)) {
        case (true, true): return "mtime+ctime"
        case (true, false): return "mtime"
        case (false, true): return "ctime"
        case (false, false): return "none"
        }
    }

    static func same(_ a: timespec, _ b: timespec) -> Bool { a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec }

    /// Writes `text` through a descriptor opened with `flags`.
    static func writing(_ path: String, _ text: String, flags: Int32 = O_WRONLY) -> String {
        let fd = open(path, flags | O_CLOEXEC)
        guard fd >= 0 else { return errnoName(errno) }
        defer { close(fd) }
        return outcome(write(fd, text, text.utf8.count))
    }

    static func setTimes(_ path: String, _ access: timespec, _ modified: timespec) -> Int32 {
        var times = [access, modified]
        return utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    static var now: timespec { timespec(tv_sec: 0, tv_nsec: conformance_utime_now) }
    static var omit: timespec { timespec(tv_sec: 0, tv_nsec: conformance_utime_omit) }

    static let all: [Check] = [
        timed("create", watching: ["."], setup: {}) { opening("f", O_CREAT | O_EXCL | O_WRONLY) },
        timed("create-existing-no-excl", watching: ["f", "."], setup: { try makeFile("f", "f") }) {
            opening("f", O_CREAT | O_WRONLY)
        },
        timed("mkdir", watching: ["."], setup: {}) { outcome(mkdir("d", 0o755)) },
        timed("mkfifo", watching: ["."], setup: {}) { outcome(mkfifo("p", 0o644)) },
        timed("symlink", watching: ["."], setup: {}) { outcome(symlink("target", "l")) },
        timed("write", watching: ["f", "."], setup: { try makeFile("f", "f") }) { writing("f", "more") },
        timed("append", watching: ["f", "."], setup: { try makeFile("f", "f") }) {
            writing("f", "more", flags: O_WRONLY | O_APPEND)
        },
        timed("write-in-subdir", watching: ["d", "d/f"], setup: { try makeDirectory("d"); try makeFile("d/f", "f") }) {
            writing("d/f", "more")
        },
        timed("read", watching: ["f"], setup: { try makeFile("f", "f") }) { contents("f") },
        timed("open-rdwr-no-write", watching: ["f"], setup: { try makeFile("f", "f") }) { opening("f", O_RDWR) },
        timed("truncate-shrink", watching: ["f", "."], setup: { try makeFile("f", "four") }) {
            outcome(truncate("f", 2))
        },
        timed("truncate-grow", watching: ["f"], setup: { try makeFile("f", "four") }) { outcome(truncate("f", 4096)) },
        timed("truncate-same-size", watching: ["f"], setup: { try makeFile("f", "four") }) {
            outcome(truncate("f", 4))
        },
        timed("ftruncate-same-size", watching: ["f"], setup: { try makeFile("f", "four") }) {
            let fd = open("f", O_WRONLY)
            defer { if fd >= 0 { close(fd) } }
            return fd < 0 ? errnoName(errno) : outcome(ftruncate(fd, 4))
        },
        timed("open-trunc", watching: ["f", "."], setup: { try makeFile("f", "four") }) {
            opening("f", O_WRONLY | O_TRUNC)
        },
        timed("open-trunc-empty-file", watching: ["f"], setup: { try makeFile("f") }) {
            opening("f", O_WRONLY | O_TRUNC)
        },
        timed("chmod", watching: ["f", "."], setup: { try makeFile("f") }) { outcome(chmod("f", 0o600)) },
        timed("chmod-same-mode", watching: ["f"], setup: { try makeFile("f") }) { outcome(chmod("f", 0o644)) },
        timed("chmod-dir", watching: ["d", "."], setup: { try makeDirectory("d") }) { outcome(chmod("d", 0o700)) },
        timed("chown-same-owner", watching: ["f", "."], setup: { try makeFile("f") }) {
            outcome(chown("f", geteuid(), getegid()))
        },
        timed("chown-no-change-requested", watching: ["f"], setup: { try makeFile("f") }) {
            outcome(chown("f", uid_t.max, gid_t.max))
        },
        timed("link", watching: ["f", "."], setup: { try makeFile("f") }) { outcome(link("f", "g")) },
        timed("link-into-subdir", watching: ["f", ".", "d"], setup: { try makeFile("f"); try makeDirectory("d") }) {
            outcome(link("f", "d/g"))
        },
        timed("unlink-one-of-two-links", watching: ["g", "."], setup: { try makeFile("f"); try makeLink("f", "g") }) {
            outcome(unlink("f"))
        },
        timed("unlink", watching: ["f", "."], setup: { try makeFile("f") }) { outcome(unlink("f")) },
        timed("rmdir", watching: ["d", "."], setup: { try makeDirectory("d") }) { outcome(rmdir("d")) },
        timed("rename-file", watching: ["f", "."], setup: { try makeFile("f") }) { outcome(rename("f", "g")) },
        timed("rename-file-across", watching: ["x/f", "x", "y"],
              setup: { try makeDirectory("x"); try makeDirectory("y"); try makeFile("x/f") }) {
            outcome(rename("x/f", "y/f"))
        },
        timed("rename-dir-across", watching: ["x/d", "x", "y"],
              setup: { try makeDirectory("x"); try makeDirectory("y"); try makeDirectory("x/d") }) {
            outcome(rename("x/d", "y/d"))
        },
        timed("rename-over-file", watching: ["a", "b", "."], setup: { try makeFile("a", "a"); try makeFile("b", "b") }) {
            outcome(rename("a", "b"))
        },
        timed("rename-dir-over-empty-dir", watching: ["a", "b", "."],
              setup: { try makeDirectory("a"); try makeDirectory("b") }) {
            outcome(rename("a", "b"))
        },
        timed("rename-exchange", watching: ["a", "b", "."], setup: { try makeFile("a", "a"); try makeFile("b", "b") }) {
            outcome(rename("a", "b", flags: exchange))
        },
        timed("utimens-set", watching: ["f"], setup: { try makeFile("f") }) {
            let then = timespec(tv_sec: 1_000_000_000, tv_nsec: 500)
            let result = outcome(setTimes("f", then, then))
            var st = stat()
            lstat("f", &st)
            return result + (same(st.st_mtim, then) && same(st.st_atim, then) ? ",as-set" : ",not-as-set")
        },
        timed("utimens-now", watching: ["f"], setup: { try makeFile("f") }) { outcome(setTimes("f", now, now)) },
        timed("utimens-omit-both", watching: ["f"], setup: { try makeFile("f") }) { outcome(setTimes("f", omit, omit)) },
        timed("utimens-symlink-itself", watching: ["l", "f"], setup: { try makeFile("f"); try makeSymlink("f", "l") }) {
            outcome(setTimes("l", now, now))
        },
        timed("mknod-file", watching: ["."], setup: {}) { outcome(mknod("f", S_IFREG | 0o644, 0)) },
        timed("socket", watching: ["."], setup: {}) { outcome(closing(conformance_listen_unix("s"))) },
    ]
}
