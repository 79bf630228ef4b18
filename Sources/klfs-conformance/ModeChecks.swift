import CConformance
import Glibc

/// Modes of new entries under umasks 000, 002, 022 and 077 (set-user-ID,
/// set-group-ID and sticky bits asked for too), what chmod sets, and which
/// writes drop the set-ID bits.
enum ModeChecks {
    static let masks: [mode_t] = [0o000, 0o002, 0o022, 0o077]

    static var all: [Check] { masks.flatMap(creations(under:)) + changes + setIDDrops }

    /// Each way of making an entry, named for what it asks for; the entry
    /// is "e".
    static let makers: KeyValuePairs<String, @Sendable () -> Int32> = [
        "create-0666": { closing(open("e", O_CREAT | O_EXCL | O_WRONLY, 0o666)) },
        "create-07777": { closing(open("e", O_CREAT | O_EXCL | O_WRONLY, 0o7777)) },
        "mkdir-0777": { mkdir("e", 0o777) },
        "mkdir-07777": { mkdir("e", 0o7777) },
        "mkfifo-0666": { mkfifo("e", 0o666) },
        "mknod-fifo-07777": { mknod("e", S_IFIFO | 0o7777, 0) },
        "mknod-file-0666": { mknod("e", S_IFREG | 0o666, 0) },
        "socket": { closing(conformance_listen_unix("e")) },
        "symlink": { symlink("target", "e") },
    ]

    static func creations(under mask: mode_t) -> [Check] {
        makers.map { what, make in
            Check("modes.umask-\(octal(mask, digits: 3)).\(what)") {
                let made = withUmask(mask) { outcome(make()) }
                return ["made": made, "type": kind("e"), "mode": mode("e")]
            }
        }
    }

    static let changes: [Check] = [
        Check("modes.chmod.file-07777") {
            try makeFile("f")
            return ["chmod": outcome(chmod("f", 0o7777)), "mode": mode("f")]
        },
        Check("modes.chmod.file-0000") {
            try makeFile("f")
            return ["chmod": outcome(chmod("f", 0)), "mode": mode("f")]
        },
        Check("modes.chmod.dir-07777") {
            try makeDirectory("d")
            return ["chmod": outcome(chmod("d", 0o7777)), "mode": mode("d")]
        },
        Check("modes.chmod.fifo-07777") {
            try makeFifo("p")
            return ["chmod": outcome(chmod("p", 0o7777)), "mode": mode("p")]
        },
        Check("modes.chmod.through-symlink") {
            try makeFile("f")
            try makeSymlink("f", "l")
            return ["chmod": outcome(chmod("l", 0o600)), "target": mode("f"), "link": mode("l")]
        },
        Check("modes.fchmod.open-file-04711") {
            let fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0o644)
            try must(fd, "create f")
            defer { close(fd) }
            return ["fchmod": outcome(fchmod(fd, 0o4711)), "mode": mode("f")]
        },
    ]

    /// A write, truncate or O_TRUNC by the owner (root keeps the bits) or by
    /// a user who is neither owner nor in the group (drops them; set-group-ID
    /// without group execute too, since that user is not in the group).
    static var setIDDrops: [Check] {
        let changes: KeyValuePairs<String, @Sendable () -> Int32> = [
            "write": {
                let fd = open("f", O_WRONLY | O_APPEND)
                guard fd >= 0 else { return -1 }
                defer { close(fd) }
                return Int32(write(fd, "more", 4))
            },
            "truncate": { truncate("f", 2) },
            "open-trunc": { closing(open("f", O_WRONLY | O_TRUNC)) },
        ]
        return changes.flatMap { what, change in
            [
                Check("modes.setid.own-\(what)-06777") {
                    try makeFile("f", "data", mode: 0o6777)
                    return ["change": outcome(change()), "mode": mode("f")]
                },
                Check("modes.setid.other-\(what)-06777") {
                    try requireRoot()
                    try makeFile("f", "data", mode: 0o6777)
                    let seen = try asOtherUser { outcome(change()) }
                    return ["change": seen, "mode": mode("f")]
                },
                Check("modes.setid.other-\(what)-02666") {
                    try requireRoot()
                    try makeFile("f", "data", mode: 0o2666)
                    let seen = try asOtherUser { outcome(change()) }
                    return ["change": seen, "mode": mode("f")]
                },
            ]
        }
    }
}
