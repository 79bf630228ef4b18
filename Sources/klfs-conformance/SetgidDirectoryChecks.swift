import Glibc

/// Set-group-ID directories: new entries take the directory's group, new
/// subdirectories the bit too, and a creator outside that group loses a
/// set-group-ID bit it asked for on a file.
enum SetgidDirectoryChecks {
    static var all: [Check] { ownDirectory + creations + others }

    static let shared = Identity.sharedGroup

    /// A directory "s", mode 02777, owned by root and the shared group.
    static func makeSetgidDirectory() throws {
        try requireRoot()
        try makeDirectory("s")
        try giveTo("s", 0, shared)
        try must(chmod("s", 0o2777), "chmod s")
    }

    /// Each way of making "s/e"; what matters is its owner and mode.
    static let makers: KeyValuePairs<String, @Sendable () -> Int32> = [
        "create": { closing(open("s/e", O_CREAT | O_EXCL | O_WRONLY, 0o644)) },
        "create-02755": { closing(open("s/e", O_CREAT | O_EXCL | O_WRONLY, 0o2755)) },
        "mkdir": { mkdir("s/e", 0o755) },
        "mkdir-0555": { mkdir("s/e", 0o555) },
        "mkfifo": { mkfifo("s/e", 0o644) },
        "mknod-file": { mknod("s/e", S_IFREG | 0o644, 0) },
        "symlink": { symlink("target", "s/e") },
    ]

    /// The same by root, by the second user in the directory's group, and
    /// by the second user outside it.
    static var creations: [Check] {
        makers.flatMap { what, make in
            [
                Check("setgid.root.\(what)") {
                    try makeSetgidDirectory()
                    return ["made": outcome(make()), "owner": owner("s/e"), "mode": mode("s/e")]
                },
                Check("setgid.member.\(what)") {
                    try makeSetgidDirectory()
                    let made = try asOtherUser(groups: [shared]) { outcome(make()) }
                    return ["made": made, "owner": owner("s/e"), "mode": mode("s/e")]
                },
                Check("setgid.nonmember.\(what)") {
                    try makeSetgidDirectory()
                    let made = try asOtherUser { outcome(make()) }
                    return ["made": made, "owner": owner("s/e"), "mode": mode("s/e")]
                },
            ]
        }
    }

    /// The runner's own set-group-ID directory (root or not).
    static let ownDirectory: [Check] = [
        Check("setgid.own.create-and-mkdir") {
            try makeDirectory("s", mode: 0o2777)
            try makeFile("s/f")
            try must(mkdir("s/d", 0o755), "mkdir s/d")
            return ["dir": mode("s"), "file": mode("s/f"), "file-group-as-dir": sameGroup("s/f", "s"),
                    "subdir": mode("s/d"), "subdir-group-as-dir": sameGroup("s/d", "s")]
        },
    ]

    static let others: [Check] = [
        Check("setgid.nonmember.mkdir-nested") {
            try makeSetgidDirectory()
            let made = try asOtherUser { outcome(mkdir("s/a", 0o755)) + "," + outcome(mkdir("s/a/b", 0o755)) }
            return ["made": made, "owner": owner("s/a/b"), "mode": mode("s/a/b")]
        },
        Check("setgid.nonmember.chmod-g+s-on-inherited-group") {
            try makeSetgidDirectory()
            let changed = try asOtherUser { () throws -> String in
                try makeFile("s/f")
                return outcome(chmod("s/f", 0o2755))
            }
            return ["chmod": changed, "owner": owner("s/f"), "mode": mode("s/f")]
        },
        Check("setgid.rename-in-keeps-group") {
            try makeSetgidDirectory()
            try makeFile("f")
            try makeDirectory("d")
            return ["rename": outcome(rename("f", "s/f")) + "," + outcome(rename("d", "s/d")),
                    "file": owner("s/f"), "dir": owner("s/d"), "dir-mode": mode("s/d")]
        },
        Check("setgid.link-in-keeps-group") {
            try makeSetgidDirectory()
            try makeFile("f")
            return ["link": outcome(link("f", "s/f")), "owner": owner("s/f")]
        },
        Check("setgid.chmod-drops-bit") {
            try makeSetgidDirectory()
            return ["chmod": outcome(chmod("s", 0o755)), "mode": mode("s")]
        },
    ]

    static func sameGroup(_ first: String, _ second: String) -> String {
        guard let a = lstatus(first) else { return errnoName(errno) }
        guard let b = lstatus(second) else { return errnoName(errno) }
        return a.st_gid == b.st_gid ? "yes" : "no"
    }
}
