import Glibc

/// Link counts of files, hard links and directories as entries come and
/// go, and what link(2) refuses.
enum LinkChecks {
    static let all: [Check] = [
        Check("links.new-file") {
            try makeFile("f")
            return ["links": linkCount("f")]
        },
        Check("links.new-dir") {
            try makeDirectory("d")
            return ["links": linkCount("d")]
        },
        Check("links.dir-with-subdirs-and-files") {
            try makeDirectory("d")
            for name in ["d/a", "d/b", "d/c"] { try makeDirectory(name) }
            try makeFile("d/f")
            try makeFifo("d/p")
            return ["links": linkCount("d")]
        },
        Check("links.after-rmdir") {
            try makeDirectory("d")
            for name in ["d/a", "d/b"] { try makeDirectory(name) }
            return ["rmdir": outcome(rmdir("d/a")), "links": linkCount("d")]
        },
        Check("links.subdir-moved-out") {
            try makeDirectory("d")
            try makeDirectory("d/a")
            return ["rename": outcome(rename("d/a", "a")), "d-links": linkCount("d"), "here-links": linkCount(".")]
        },
        Check("links.hard-link") {
            try makeFile("f", "f")
            return ["link": outcome(link("f", "g")), "f-links": linkCount("f"), "g-links": linkCount("g"),
                    "same-inode": sameInode("f", "g")]
        },
        Check("links.hard-links-across-dirs") {
            try makeDirectory("x")
            try makeFile("f")
            let linked = outcome(link("f", "x/g")) + "," + outcome(link("x/g", "x/h"))
            return ["link": linked, "links": linkCount("f"), "same-inode": sameInode("f", "x/h")]
        },
        Check("links.after-unlink") {
            try makeFile("f")
            try makeLink("f", "g")
            try makeLink("f", "h")
            return ["unlink": outcome(unlink("f")), "g-links": linkCount("g")]
        },
        Check("links.open-after-last-unlink") {
            try makeFile("f", "kept")
            let fd = open("f", O_RDWR)
            try must(fd, "open f")
            defer { close(fd) }
            let unlinked = outcome(unlink("f"))
            var st = stat()
            let status = outcome(fstat(fd, &st))
            var buffer = [UInt8](repeating: 0, count: 8)
            let count = pread(fd, &buffer, buffer.count, 0)
            return ["unlink": unlinked, "fstat": status, "links": "\(st.st_nlink)",
                    "reads": count < 0 ? errnoName(errno) : String(decoding: buffer.prefix(count), as: UTF8.self)]
        },
        Check("links.write-through-one-read-through-other") {
            try makeFile("f", "one")
            try makeLink("f", "g")
            try append("f", "+two")
            return ["g-holds": contents("g")]
        },
        Check("links.link-to-dir") {
            try makeDirectory("d")
            return ["link": outcome(link("d", "e")), "d-links": linkCount("d")]
        },
        Check("links.link-over-existing") {
            try makeFile("f", "f")
            try makeFile("g", "g")
            return ["link": outcome(link("f", "g")), "g-holds": contents("g")]
        },
        Check("links.link-missing") {
            ["link": outcome(link("f", "g")), "g": kind("g")]
        },
        Check("links.link-symlink-itself") {
            try makeFile("f")
            try makeSymlink("f", "l")
            let linked = outcome(linkat(AT_FDCWD, "l", AT_FDCWD, "m", 0))
            return ["link": linked, "m": kind("m"), "m-target": linkTarget("m"), "l-links": linkCount("l")]
        },
        Check("links.link-follows-symlink") {
            try makeFile("f")
            try makeSymlink("f", "l")
            let linked = outcome(linkat(AT_FDCWD, "l", AT_FDCWD, "m", AT_SYMLINK_FOLLOW))
            return ["link": linked, "m": kind("m"), "f-links": linkCount("f")]
        },
        Check("links.link-fifo") {
            try makeFifo("p")
            return ["link": outcome(link("p", "q")), "q": kind("q"), "links": linkCount("p")]
        },
        Check("links.link-255-byte-name") {
            try makeFile("f", "f")
            let name = longName(255)
            return ["link": outcome(link("f", name)), "holds": contents(name), "links": linkCount("f")]
        },
        Check("links.unlink-one-of-255-byte-names") {
            try makeFile(longName(255), "f")
            try makeLink(longName(255), longName(255, "m"))
            return ["unlink": outcome(unlink(longName(255))), "links": linkCount(longName(255, "m")),
                    "holds": contents(longName(255, "m"))]
        },
    ]
}
