import Glibc

/// Sticky directories: only the owner of an entry, the directory's owner or
/// root may unlink it, rename it away, or have it replaced.
enum StickyDirectoryChecks {
    static var all: [Check] { [ownDirectory] + secondUser }

    /// A directory "s" of `mode`, owned by `owner`, holding root's file
    /// "s/root-file", root's directory "s/root-dir" and the second user's
    /// file "s/other-file".
    static func makeSharedDirectory(mode: mode_t = 0o1777, owner: uid_t = 0) throws {
        try requireRoot()
        try makeDirectory("s", mode: mode)
        try giveTo("s", owner, 0)
        try makeFile("s/root-file", "root", mode: 0o666)
        try makeDirectory("s/root-dir", mode: 0o777)
        try asOtherUser { try makeFile("s/other-file", "other", mode: 0o666) }
    }

    static let ownDirectory = Check("sticky.own.unlink-and-rename") {
        try makeDirectory("s", mode: 0o1777)
        try makeFile("s/a")
        try makeFile("s/b")
        return ["unlink": outcome(unlink("s/a")), "rename": outcome(rename("s/b", "s/c")), "left": listing("s")]
    }

    /// What the second user (or root) tries in "s", named for it.
    static let attempts: KeyValuePairs<String, @Sendable () -> Int32> = [
        "unlink-own": { unlink("s/other-file") },
        "unlink-roots": { unlink("s/root-file") },
        "rmdir-roots": { rmdir("s/root-dir") },
        "rename-own": { rename("s/other-file", "s/moved") },
        "rename-roots": { rename("s/root-file", "s/moved") },
        "move-roots-out": { rename("s/root-file", "moved") },
        "replace-roots": { rename("s/other-file", "s/root-file") },
        "exchange-with-roots": { rename("s/other-file", "s/root-file", flags: exchange) },
        "write-roots": { closing(open("s/root-file", O_WRONLY | O_APPEND)) },
    ]

    static var secondUser: [Check] {
        attempts.flatMap { what, attempt in
            [
                Check("sticky.other.\(what)") {
                    try makeSharedDirectory()
                    let seen = try asOtherUser { outcome(attempt()) }
                    return ["result": seen, "left": listing("s")]
                },
                Check("sticky.dir-owner.\(what)") {
                    try makeSharedDirectory(owner: Identity.otherUser)
                    let seen = try asOtherUser { outcome(attempt()) }
                    return ["result": seen, "left": listing("s")]
                },
                Check("sticky.not-sticky.\(what)") {
                    try makeSharedDirectory(mode: 0o777)
                    let seen = try asOtherUser { outcome(attempt()) }
                    return ["result": seen, "left": listing("s")]
                },
            ]
        } + [
            Check("sticky.root.unlink-others") {
                try makeSharedDirectory()
                return ["result": outcome(unlink("s/other-file")), "left": listing("s")]
            },
        ]
    }
}
