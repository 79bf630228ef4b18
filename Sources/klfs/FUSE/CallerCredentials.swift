import CFuse
import Glibc

/// Who sent a request: user, group and supplementary groups. A root
/// daemon creates entries with them (filesystem IDs and groups of the
/// serving thread alone), so that the backing filesystem applies the rules
/// a local one would: the owner is the caller, a setgid directory gives
/// its group (and its set-group-ID bit to new subdirectories), permission
/// checks are the caller's, set-ID bits of the requested mode stay.
/// Chowning to the caller after creating as root gets the group wrong
/// under setgid directories and clears set-user-ID bits.
struct CallerCredentials {
    let uid: uid_t
    let gid: gid_t
    let groups: [gid_t]

    /// The sender of `req`; its groups come from /proc, so read them only
    /// when needed.
    init(of req: fuse_req_t) {
        let context = fuse_req_ctx(req)!.pointee
        uid = context.uid
        gid = context.gid
        groups = Self.groups(of: req)
    }

    private init(uid: uid_t, gid: gid_t, groups: [gid_t]) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// The daemon's own, as every thread has them when not creating for a caller.
    static let daemon = CallerCredentials(uid: geteuid(), gid: getegid(), groups: processGroups())

    /// The supplementary groups of the process that sent `req` (libfuse
    /// reads them from /proc/PID/task/PID/status); none when it cannot.
    static func groups(of req: fuse_req_t) -> [gid_t] {
        var groups = [gid_t](repeating: 0, count: 64)
        var count = fuse_req_getgroups(req, Int32(groups.count), &groups)
        if count > Int32(groups.count) {
            groups = [gid_t](repeating: 0, count: Int(count))
            count = fuse_req_getgroups(req, Int32(groups.count), &groups)
        }
        return count > 0 ? Array(groups.prefix(Int(min(count, Int32(groups.count))))) : []
    }

    /// Whether the sender of `req` is in `group`, as its group or a
    /// supplementary one.
    static func isInGroup(_ group: gid_t, _ req: fuse_req_t) -> Bool {
        fuse_req_ctx(req)!.pointee.gid == group || groups(of: req).contains(group)
    }

    private static func processGroups() -> [gid_t] {
        var groups = [gid_t](repeating: 0, count: Int(getgroups(0, nil)))
        let count = getgroups(Int32(groups.count), &groups)
        return Array(groups.prefix(Int(max(count, 0))))
    }

    /// Runs `body` on this thread with these credentials, then restores
    /// the daemon's, whatever `body` does. A thread left with a caller's
    /// credentials would serve later requests as that caller, so failing to
    /// restore them ends the daemon.
    @discardableResult
    func run<R>(_ body: () throws(SystemError) -> R) throws(SystemError) -> R {
        defer {
            let daemon = Self.daemon
            guard cfuse_set_thread_credentials(daemon.uid, daemon.gid, daemon.groups.count, daemon.groups) == 0 else {
                fatalError("klfs: cannot restore the daemon's credentials: \(String(cString: strerror(errno)))")
            }
        }
        try checked(cfuse_set_thread_credentials(uid, gid, groups.count, groups))
        return try body()
    }
}

extension Filesystem {
    /// Runs `body`, which creates an entry, with the credentials of the
    /// caller of `req` when the daemon is root. A daemon that is not root
    /// creates as itself (it could not do otherwise), and a caller whose
    /// user and group are the daemon's needs no change.
    @discardableResult
    func asCaller<R>(_ req: fuse_req_t, _ body: () throws(SystemError) -> R) throws(SystemError) -> R {
        let context = fuse_req_ctx(req)!.pointee
        guard runsAsRoot, context.uid != CallerCredentials.daemon.uid || context.gid != CallerCredentials.daemon.gid
        else { return try body() }
        return try CallerCredentials(of: req).run(body)
    }
}
