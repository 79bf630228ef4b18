import CConformance
import Glibc

/// FIFOs, Unix sockets, device nodes, symlinks, regular files made by
/// mknod, O_TMPFILE, and the types readdir reports.
enum SpecialFileChecks {
    static var all: [Check] { fifos + sockets + devices + symlinks + others }

    static let fifos: [Check] = [
        Check("special.fifo.made") {
            ["mkfifo": outcome(mkfifo("p", 0o644)), "type": kind("p"), "size": size("p")]
        },
        Check("special.fifo.carries-data") {
            try makeFifo("p")
            let reader = open("p", O_RDONLY | O_NONBLOCK)
            try must(reader, "open p for reading")
            defer { close(reader) }
            let writer = open("p", O_WRONLY | O_NONBLOCK)
            try must(writer, "open p for writing")
            defer { close(writer) }
            let written = outcome(write(writer, "through", 7))
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = read(reader, &buffer, buffer.count)
            return ["write": written, "read": count < 0 ? errnoName(errno) : String(decoding: buffer.prefix(count), as: UTF8.self),
                    "size": size("p")]
        },
        Check("special.fifo.open-writer-without-reader") {
            try makeFifo("p")
            return ["open": opening("p", O_WRONLY | O_NONBLOCK)]
        },
    ]

    static let sockets: [Check] = [
        Check("special.socket.bound") {
            let fd = conformance_listen_unix("s")
            defer { if fd >= 0 { close(fd) } }
            return ["bind": outcome(fd < 0 ? -1 : 0), "type": kind("s"), "size": size("s")]
        },
        Check("special.socket.connects") {
            let server = conformance_listen_unix("s")
            try must(server, "bind s")
            defer { close(server) }
            let client = conformance_connect_unix("s")
            defer { if client >= 0 { close(client) } }
            let connected = outcome(client < 0 ? -1 : 0)
            let peer = accept(server, nil, nil)
            defer { if peer >= 0 { close(peer) } }
            let sent = client >= 0 ? outcome(write(client, "ping", 4)) : "not-connected"
            var buffer = [UInt8](repeating: 0, count: 8)
            let count = peer >= 0 ? read(peer, &buffer, buffer.count) : -1
            return ["connect": connected, "send": sent, "received": count <= 0 ? "nothing" : String(decoding: buffer.prefix(count), as: UTF8.self)]
        },
        Check("special.socket.connect-after-rename") {
            let server = conformance_listen_unix("s")
            try must(server, "bind s")
            defer { close(server) }
            try must(rename("s", "t"), "rename s")
            return ["connect": outcome(closing(conformance_connect_unix("t"))), "old": outcome(closing(conformance_connect_unix("s")))]
        },
        Check("special.socket.bind-over-existing") {
            try makeFile("s")
            return ["bind": outcome(closing(conformance_listen_unix("s")))]
        },
        Check("special.socket.unlink") {
            let server = conformance_listen_unix("s")
            try must(server, "bind s")
            defer { close(server) }
            return ["unlink": outcome(unlink("s")), "s": kind("s")]
        },
    ]

    /// mknod of device nodes: root only (EPERM for others, on any filesystem).
    static let devices: [Check] = [
        Check("special.char-device.made") {
            let made = outcome(mknod("c", S_IFCHR | 0o640, conformance_makedev(1, 3)))
            return ["mknod": made, "type": kind("c"), "device": device("c"), "mode": mode("c"), "owner": owner("c")]
        },
        Check("special.block-device.made") {
            let made = outcome(mknod("b", S_IFBLK | 0o600, conformance_makedev(7, 200)))
            return ["mknod": made, "type": kind("b"), "device": device("b"), "mode": mode("b")]
        },
        Check("special.char-device.renamed-and-linked") {
            try must(mknod("c", S_IFCHR | 0o600, conformance_makedev(1, 5)), "mknod c")
            let renamed = outcome(rename("c", "d"))
            let linked = outcome(link("d", "e"))
            return ["rename": renamed, "link": linked, "device": device("e"), "links": linkCount("d")]
        },
        Check("special.char-device.chmod-chown") {
            try must(mknod("c", S_IFCHR | 0o600, conformance_makedev(1, 7)), "mknod c")
            return ["chmod": outcome(chmod("c", 0o666)), "chown": outcome(lchown("c", Identity.otherUser, Identity.otherGroup)),
                    "mode": mode("c"), "owner": owner("c"), "device": device("c")]
        },
        Check("special.char-device.by-other-user") {
            try requireRoot()
            let made = try asOtherUser { outcome(mknod("c", S_IFCHR | 0o644, conformance_makedev(1, 3))) }
            return ["mknod": made, "type": kind("c")]
        },
    ]

    static let target1000 = String(repeating: "t/", count: 500)

    static let symlinks: [Check] = [
        Check("special.symlink.made") {
            ["symlink": outcome(symlink("some/target", "l")), "type": kind("l"), "target": linkTarget("l"),
             "size": size("l"), "mode": mode("l")]
        },
        Check("special.symlink.followed") {
            try makeDirectory("d")
            try makeFile("d/f", "through")
            try makeSymlink("d", "l")
            return ["holds": contents("l/f"), "stat-type": followedKind("l"), "lstat-type": kind("l")]
        },
        Check("special.symlink.relative-dotdot") {
            try makeDirectory("d")
            try makeFile("f", "up")
            try makeSymlink("../f", "d/l")
            return ["holds": contents("d/l"), "target": linkTarget("d/l")]
        },
        Check("special.symlink.absolute-target") {
            ["symlink": outcome(symlink("/nonexistent/klfs-conformance", "l")), "target": linkTarget("l"),
             "open": opening("l", O_RDONLY)]
        },
        Check("special.symlink.dangling") {
            try makeSymlink("missing", "l")
            return ["lstat-type": kind("l"), "stat-type": followedKind("l"), "size": size("l")]
        },
        Check("special.symlink.target-with-odd-bytes") {
            let target = "a b\tc\u{7f}\u{e9}\u{2603}..//x"
            return ["symlink": outcome(symlink(target, "l")), "same": linkTarget("l") == target ? "yes" : "no",
                    "size": size("l")]
        },
        Check("special.symlink.target-1000-bytes") {
            ["symlink": outcome(symlink(target1000, "l")), "same": linkTarget("l") == target1000 ? "yes" : "no",
             "size": size("l")]
        },
        Check("special.symlink.target-4095-bytes") {
            let target = String(repeating: "t", count: 4095)
            return ["symlink": outcome(symlink(target, "l")), "same": linkTarget("l") == target ? "yes" : "no",
                    "size": size("l")]
        },
        Check("special.symlink.target-4096-bytes") {
            ["symlink": outcome(symlink(String(repeating: "t", count: 4096), "l")), "l": kind("l")]
        },
        Check("special.symlink.readlink-short-buffer") {
            try makeSymlink("abcdefgh", "l")
            var buffer = [CChar](repeating: 0, count: 3)
            let count = readlink("l", &buffer, buffer.count)
            return ["readlink": count < 0 ? errnoName(errno) : String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)]
        },
    ]

    static let others: [Check] = [
        Check("special.mknod-file.usable") {
            let made = outcome(mknod("f", S_IFREG | 0o644, 0))
            try append("f", "written")
            return ["mknod": made, "type": kind("f"), "holds": contents("f")]
        },
        Check("special.o-tmpfile") {
            let fd = open(".", conformance_o_tmpfile | O_RDWR, 0o600)
            defer { if fd >= 0 { close(fd) } }
            guard fd >= 0 else { return ["open": errnoName(errno)] }
            let written = outcome(write(fd, "anon", 4))
            let linked = outcome(linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, "named", AT_SYMLINK_FOLLOW))
            return ["open": "ok", "write": written, "link": linked, "holds": contents("named")]
        },
        Check("special.readdir-types") {
            try makeDirectory("d")
            try makeFile("d/f")
            try makeFifo("d/p")
            try makeSymlink("f", "d/l")
            try makeDirectory("d/s")
            let socket = conformance_listen_unix("d/u")
            try must(socket, "bind d/u")
            close(socket)
            return ["types": direntTypes("d")]
        },
        Check("special.readdir-dot-entries") {
            try makeDirectory("d")
            return ["entries": direntTypes("d", keepDots: true)]
        },
    ]

    static func size(_ path: String) -> String {
        guard let st = lstatus(path) else { return errnoName(errno) }
        return "\(st.st_size)"
    }

    static func followedKind(_ path: String) -> String {
        var st = stat()
        return stat(path, &st) == 0 ? typeName(st.st_mode) : errnoName(errno)
    }

    static func device(_ path: String) -> String {
        guard let st = lstatus(path) else { return errnoName(errno) }
        return "\(conformance_major(st.st_rdev)):\(conformance_minor(st.st_rdev))"
    }

    /// name:type for each entry, as readdir's d_type gives it, sorted.
    static func direntTypes(_ path: String, keepDots: Bool = false) -> String {
        guard let entries = directoryEntries(path) else { return errnoName(errno) }
        return entries.filter { keepDots || ($0.name != "." && $0.name != "..") }
            .map { $0.name + ":" + typeName(mode_t($0.type) << 12) }
            .sorted().joined(separator: ",")
    }
}
