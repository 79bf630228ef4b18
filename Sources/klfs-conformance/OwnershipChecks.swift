import CConformance
import Glibc

/// Who owns new entries (made by the runner and by the second user), and
/// the rules of chown, chgrp and chmod between owner, non-owner and root.
enum OwnershipChecks {
    static var all: [Check] { creations + chownRules }

    /// Each way of making an entry "e" (a hard link "e" of a file "f" made
    /// by the runner); what matters is its owner.
    static let makers: KeyValuePairs<String, @Sendable () -> Int32> = [
        "create": { closing(open("e", O_CREAT | O_EXCL | O_WRONLY, 0o644)) },
        "mkdir": { mkdir("e", 0o755) },
        "mkfifo": { mkfifo("e", 0o644) },
        "mknod-file": { mknod("e", S_IFREG | 0o644, 0) },
        "socket": { closing(conformance_listen_unix("e")) },
        "symlink": { symlink("target", "e") },
        "hard-link": { link("f", "e") },
    ]

    static var creations: [Check] {
        makers.flatMap { what, make in
            [
                Check("ownership.own.\(what)") {
                    try makeFile("f", mode: 0o666)
                    return ["made": outcome(make()), "owner": owner("e")]
                },
                Check("ownership.other.\(what)") {
                    try requireRoot()
                    try makeFile("f", mode: 0o666)
                    let seen = try asOtherUser { outcome(make()) }
                    return ["made": seen, "owner": owner("e")]
                },
            ]
        }
    }

    static let other = Identity.otherUser, otherGroup = Identity.otherGroup
    static let shared = Identity.sharedGroup, foreign = Identity.foreignGroup
    static let unchanged = uid_t.max

    static let chownRules: [Check] = [
        Check("ownership.own.chown-same-owner") {
            try makeFile("f")
            return ["chown": outcome(chown("f", geteuid(), getegid())), "owner-kept": owner("f") == "\(geteuid()):\(getegid())" ? "yes" : "no"]
        },
        Check("ownership.own.chown-to-uid-1") {
            try makeFile("f")
            return ["chown": outcome(chown("f", 1, unchanged)), "uid-1": owner("f").hasPrefix("1:") ? "yes" : "no"]
        },
        Check("ownership.root.chown-file") {
            try requireRoot()
            try makeFile("f")
            return ["chown": outcome(chown("f", other, shared)), "owner": owner("f")]
        },
        Check("ownership.root.chown-follows-symlink") {
            try requireRoot()
            try makeFile("f")
            try makeSymlink("f", "l")
            return ["chown": outcome(chown("l", other, shared)), "target": owner("f"), "link": owner("l")]
        },
        Check("ownership.root.lchown-symlink") {
            try requireRoot()
            try makeFile("f")
            try makeSymlink("f", "l")
            return ["lchown": outcome(lchown("l", other, shared)), "target": owner("f"), "link": owner("l")]
        },
        Check("ownership.root.chown-drops-setid-06755") {
            try requireRoot()
            try makeFile("f", mode: 0o6755)
            return ["chown": outcome(chown("f", other, unchanged)), "mode": mode("f")]
        },
        Check("ownership.root.chown-keeps-setgid-without-gx-06745") {
            try requireRoot()
            try makeFile("f", mode: 0o6745)
            return ["chown": outcome(chown("f", other, unchanged)), "mode": mode("f")]
        },
        Check("ownership.root.chown-dir-keeps-07777") {
            try requireRoot()
            try makeDirectory("d", mode: 0o7777)
            return ["chown": outcome(chown("d", other, shared)), "mode": mode("d"), "owner": owner("d")]
        },
        Check("ownership.other.chown-gives-away") {
            try makeOtherUsersFile()
            let seen = try asOtherUser { outcome(chown("f", 0, unchanged)) }
            return ["chown": seen, "owner": owner("f")]
        },
        Check("ownership.other.chown-same-owner") {
            try makeOtherUsersFile()
            let seen = try asOtherUser { outcome(chown("f", other, unchanged)) }
            return ["chown": seen, "owner": owner("f")]
        },
        Check("ownership.other.chgrp-member-group") {
            try makeOtherUsersFile()
            let seen = try asOtherUser(groups: [shared]) { outcome(chown("f", unchanged, shared)) }
            return ["chgrp": seen, "owner": owner("f")]
        },
        Check("ownership.other.chgrp-foreign-group") {
            try makeOtherUsersFile()
            let seen = try asOtherUser(groups: [shared]) { outcome(chown("f", unchanged, foreign)) }
            return ["chgrp": seen, "owner": owner("f")]
        },
        Check("ownership.other.chgrp-not-owner") {
            try requireRoot()
            try makeFile("f", mode: 0o666)
            let seen = try asOtherUser { outcome(chown("f", unchanged, otherGroup)) }
            return ["chgrp": seen, "owner": owner("f")]
        },
        Check("ownership.other.chgrp-drops-setid-06775") {
            try makeOtherUsersFile(mode: 0o6775)
            try must(chmod("f", 0o6775), "chmod f")
            let seen = try asOtherUser(groups: [shared]) { outcome(chown("f", unchanged, shared)) }
            return ["chgrp": seen, "mode": mode("f")]
        },
        Check("ownership.other.chmod-not-owner") {
            try requireRoot()
            try makeFile("f", mode: 0o666)
            let seen = try asOtherUser { outcome(chmod("f", 0o777)) }
            return ["chmod": seen, "mode": mode("f")]
        },
        Check("ownership.other.chmod-setgid-foreign-group") {
            try requireRoot()
            try makeFile("f")
            try giveTo("f", other, shared)
            let seen = try asOtherUser { outcome(chmod("f", 0o2755)) }
            return ["chmod": seen, "mode": mode("f")]
        },
        Check("ownership.other.chmod-setgid-own-group") {
            try makeOtherUsersFile()
            let seen = try asOtherUser { outcome(chmod("f", 0o2755)) }
            return ["chmod": seen, "mode": mode("f")]
        },
    ]

    /// As root: a file "f" of the second user and its own group.
    private static func makeOtherUsersFile(mode: mode_t = 0o644) throws {
        try requireRoot()
        try makeFile("f", mode: mode)
        try giveTo("f", other, otherGroup)
    }
}
