import Glibc

/// Every shape of rename: what replaces what, across directories, onto
/// itself and its own hard links, RENAME_NOREPLACE and RENAME_EXCHANGE,
/// long names, and a directory into its own subdirectory.
enum RenameChecks {
    static var all: [Check] { replacing + moving + flagged + names }

    /// A file "a" holding "a"; `to` is made by `makeTarget`.
    static func fileOnto(_ name: String, _ makeTarget: @escaping @Sendable () throws -> Void) -> Check {
        Check("rename.file-over-\(name)") {
            try makeFile("a", "a")
            try makeTarget()
            return ["rename": outcome(rename("a", "b")), "a": kind("a"), "b": kind("b"), "b-holds": contents("b")]
        }
    }

    /// A directory "a" holding "a/inside"; `b` is made by `makeTarget`.
    static func directoryOnto(_ name: String, _ makeTarget: @escaping @Sendable () throws -> Void) -> Check {
        Check("rename.dir-over-\(name)") {
            try makeDirectory("a")
            try makeFile("a/inside")
            try makeTarget()
            return ["rename": outcome(rename("a", "b")), "a": kind("a"), "b": kind("b"), "b-lists": listing("b"),
                    "parent-links": linkCount(".")]
        }
    }

    static let replacing: [Check] = [
        fileOnto("missing") {},
        fileOnto("file") { try makeFile("b", "b") },
        fileOnto("empty-dir") { try makeDirectory("b") },
        fileOnto("nonempty-dir") { try makeDirectory("b"); try makeFile("b/x") },
        fileOnto("symlink") { try makeSymlink("a", "b") },
        fileOnto("fifo") { try makeFifo("b") },
        directoryOnto("missing") {},
        directoryOnto("file") { try makeFile("b", "b") },
        directoryOnto("empty-dir") { try makeDirectory("b") },
        directoryOnto("nonempty-dir") { try makeDirectory("b"); try makeFile("b/x") },
        directoryOnto("dir-with-subdir") { try makeDirectory("b"); try makeDirectory("b/x") },
        directoryOnto("symlink-to-dir") { try makeDirectory("c"); try makeSymlink("c", "b") },
        Check("rename.file-over-hard-link-of-another") {
            try makeFile("a", "a")
            try makeFile("c", "c")
            try makeLink("c", "b")
            return ["rename": outcome(rename("a", "b")), "b-holds": contents("b"), "c-links": linkCount("c")]
        },
        Check("rename.file-over-file-open-elsewhere") {
            try makeFile("a", "a")
            try makeFile("b", "b")
            let fd = open("b", O_RDONLY)
            try must(fd, "open b")
            defer { close(fd) }
            let renamed = outcome(rename("a", "b"))
            var buffer = [UInt8](repeating: 0, count: 8)
            let count = pread(fd, &buffer, buffer.count, 0)
            var st = stat()
            fstat(fd, &st)
            return ["rename": renamed, "old-b-reads": count < 0 ? errnoName(errno) : String(decoding: buffer.prefix(count), as: UTF8.self),
                    "old-b-links": "\(st.st_nlink)", "b-holds": contents("b")]
        },
        Check("rename.missing-source") {
            try makeFile("b", "b")
            return ["rename": outcome(rename("a", "b")), "b-holds": contents("b")]
        },
        Check("rename.file-onto-itself") {
            try makeFile("a", "a")
            return ["rename": outcome(rename("a", "a")), "a-holds": contents("a")]
        },
        Check("rename.dir-onto-itself") {
            try makeDirectory("a")
            try makeFile("a/inside")
            return ["rename": outcome(rename("a", "a")), "a-lists": listing("a")]
        },
        Check("rename.hard-link-onto-its-twin") {
            try makeFile("a", "a")
            try makeLink("a", "b")
            return ["rename": outcome(rename("a", "b")), "a": kind("a"), "b": kind("b"), "links": linkCount("b")]
        },
        Check("rename.dir-into-own-subdir") {
            try makeDirectory("a")
            try makeDirectory("a/sub")
            return ["rename": outcome(rename("a", "a/sub/a")), "a": kind("a")]
        },
        Check("rename.dir-into-itself") {
            try makeDirectory("a")
            return ["rename": outcome(rename("a", "a/a")), "a-lists": listing("a")]
        },
        Check("rename.dir-onto-own-parent") {
            try makeDirectory("p")
            try makeDirectory("p/a")
            return ["rename": outcome(rename("p/a", "p")), "p-lists": listing("p")]
        },
        Check("rename.dir-over-trailing-slash-file") {
            try makeDirectory("a")
            try makeFile("b")
            return ["rename": outcome(rename("a/", "b/")), "b": kind("b")]
        },
    ]

    /// Across directories: the entry moves, link counts of the parents
    /// follow a moved directory, and its ".." is the new parent.
    static let moving: [Check] = [
        Check("rename.file-across-dirs") {
            try makeDirectory("x")
            try makeDirectory("y")
            try makeFile("x/f", "f")
            return ["rename": outcome(rename("x/f", "y/f")), "x-lists": listing("x"), "y-holds": contents("y/f"),
                    "x-links": linkCount("x"), "y-links": linkCount("y")]
        },
        Check("rename.file-across-dirs-over-file") {
            try makeDirectory("x")
            try makeDirectory("y")
            try makeFile("x/f", "new")
            try makeFile("y/f", "old")
            return ["rename": outcome(rename("x/f", "y/f")), "x-lists": listing("x"), "y-holds": contents("y/f")]
        },
        Check("rename.dir-across-dirs") {
            try makeDirectory("x")
            try makeDirectory("y")
            try makeDirectory("x/d")
            try makeFile("x/d/inside")
            return ["rename": outcome(rename("x/d", "y/d")), "x-links": linkCount("x"), "y-links": linkCount("y"),
                    "dotdot-is-y": sameInode("y/d/..", "y"), "d-lists": listing("y/d")]
        },
        Check("rename.dir-across-dirs-over-empty-dir") {
            try makeDirectory("x")
            try makeDirectory("y")
            try makeDirectory("x/d")
            try makeFile("x/d/inside")
            try makeDirectory("y/d")
            return ["rename": outcome(rename("x/d", "y/d")), "x-links": linkCount("x"), "y-links": linkCount("y"),
                    "d-lists": listing("y/d")]
        },
        Check("rename.symlink-across-dirs") {
            try makeDirectory("x")
            try makeDirectory("y")
            try makeSymlink("../target", "x/l")
            return ["rename": outcome(rename("x/l", "y/l")), "target": linkTarget("y/l")]
        },
        Check("rename.open-file-then-write") {
            let fd = open("a", O_CREAT | O_EXCL | O_WRONLY, 0o644)
            try must(fd, "create a")
            defer { close(fd) }
            try makeDirectory("y")
            let renamed = outcome(rename("a", "y/b"))
            let written = outcome(write(fd, "after", 5))
            return ["rename": renamed, "write": written, "b-holds": contents("y/b")]
        },
    ]

    static let flagged: [Check] = [
        Check("rename.noreplace-over-file") {
            try makeFile("a", "a")
            try makeFile("b", "b")
            return ["rename": outcome(rename("a", "b", flags: noReplace)), "a-holds": contents("a"), "b-holds": contents("b")]
        },
        Check("rename.noreplace-over-missing") {
            try makeFile("a", "a")
            return ["rename": outcome(rename("a", "b", flags: noReplace)), "a": kind("a"), "b-holds": contents("b")]
        },
        Check("rename.noreplace-dir-over-empty-dir") {
            try makeDirectory("a")
            try makeDirectory("b")
            return ["rename": outcome(rename("a", "b", flags: noReplace)), "a": kind("a"), "b": kind("b")]
        },
        Check("rename.exchange-files") {
            try makeFile("a", "a")
            try makeFile("b", "b")
            return ["rename": outcome(rename("a", "b", flags: exchange)), "a-holds": contents("a"), "b-holds": contents("b")]
        },
        Check("rename.exchange-file-and-dir") {
            try makeFile("a", "a")
            try makeDirectory("b")
            try makeFile("b/inside")
            return ["rename": outcome(rename("a", "b", flags: exchange)), "a": kind("a"), "a-lists": listing("a"),
                    "b-holds": contents("b"), "links": linkCount(".")]
        },
        Check("rename.exchange-dirs-across") {
            try makeDirectory("x")
            try makeDirectory("y")
            try makeDirectory("x/d")
            try makeDirectory("x/d/sub")
            try makeFile("y/d", "file")
            return ["rename": outcome(rename("x/d", "y/d", flags: exchange)), "x/d": kind("x/d"), "y/d": kind("y/d"),
                    "x-links": linkCount("x"), "y-links": linkCount("y"), "dotdot-is-y": sameInode("y/d/..", "y")]
        },
        Check("rename.exchange-with-missing") {
            try makeFile("a", "a")
            return ["rename": outcome(rename("a", "b", flags: exchange)), "a-holds": contents("a"), "b": kind("b")]
        },
        Check("rename.exchange-with-itself") {
            try makeFile("a", "a")
            return ["rename": outcome(rename("a", "a", flags: exchange)), "a-holds": contents("a")]
        },
        Check("rename.noreplace-and-exchange") {
            try makeFile("a", "a")
            try makeFile("b", "b")
            return ["rename": outcome(rename("a", "b", flags: noReplace | exchange)), "a-holds": contents("a")]
        },
        Check("rename.exchange-dir-into-own-subdir") {
            try makeDirectory("a")
            try makeDirectory("a/sub")
            return ["rename": outcome(rename("a", "a/sub", flags: exchange)), "a": kind("a"), "sub": kind("a/sub")]
        },
    ]

    static let long = longName(255), tooLong = longName(256)

    /// 255-byte names are names like any other; 256 bytes are too long.
    static let names: [Check] = [
        Check("rename.to-255-byte-name") {
            try makeFile("a", "a")
            return ["rename": outcome(rename("a", long)), "holds": contents(long), "listed": listing(".") == long ? "yes" : "no"]
        },
        Check("rename.from-255-byte-name") {
            try makeFile(long, "a")
            return ["rename": outcome(rename(long, "b")), "lists": listing(".")]
        },
        Check("rename.255-byte-name-across-dirs") {
            try makeDirectory("x")
            try makeDirectory("y")
            try makeFile("x/" + long, "a")
            let across = outcome(rename("x/" + long, "y/" + long))
            let renamed = outcome(rename("y/" + long, "y/" + longName(255, "m")))
            return ["across": across, "rename": renamed, "x-lists": listing("x"), "holds": contents("y/" + longName(255, "m"))]
        },
        Check("rename.255-byte-name-over-255-byte-name") {
            try makeFile(long, "a")
            try makeFile(longName(255, "m"), "b")
            return ["rename": outcome(rename(long, longName(255, "m"))), "holds": contents(longName(255, "m")),
                    "listed": listing(".") == longName(255, "m") ? "it-alone" : "other"]
        },
        Check("rename.exchange-255-byte-names") {
            try makeFile(long, "a")
            try makeFile(longName(255, "m"), "b")
            return ["rename": outcome(rename(long, longName(255, "m"), flags: exchange)), "n-holds": contents(long),
                    "m-holds": contents(longName(255, "m"))]
        },
        Check("rename.dir-with-255-byte-name") {
            try makeDirectory(long)
            try makeFile(long + "/inside", "x")
            return ["rename": outcome(rename(long, "d")), "d-lists": listing("d")]
        },
        Check("rename.to-256-byte-name") {
            try makeFile("a", "a")
            return ["rename": outcome(rename("a", tooLong)), "a": kind("a")]
        },
    ]
}
