import CConformance
import Glibc

/// The second user the ownership and permission checks act as, and the
/// groups they use. Numbers, not names: the kernel needs no /etc/group line.
enum Identity {
    /// nobody / nogroup.
    static let otherUser: uid_t = 65534
    static let otherGroup: gid_t = 65534
    /// A group the second user is in when a check says so.
    static let sharedGroup: gid_t = 100
    /// A group the second user is never in.
    static let foreignGroup: gid_t = 50

    /// The runner's own supplementary groups, to switch back to.
    static let ownGroups: [gid_t] = {
        var groups = [gid_t](repeating: 0, count: Int(getgroups(0, nil)))
        let count = getgroups(Int32(groups.count), &groups)
        return Array(groups.prefix(Int(max(count, 0))))
    }()

    static var isRoot: Bool { geteuid() == 0 }
}

/// Throws NeedsRoot unless the runner is root.
func requireRoot() throws {
    if !Identity.isRoot { throw NeedsRoot() }
}

/// Runs `body` as the second user: filesystem uid and gid 65534, with
/// `groups` besides its own. That identity is what the kernel checks
/// permissions against and what new entries get; the process keeps its
/// effective uid 0 to switch back. Only root can do this.
func asOtherUser<T>(groups: [gid_t] = [], _ body: () throws -> T) throws -> T {
    try requireRoot()
    try switchIdentity(Identity.otherUser, Identity.otherGroup, [Identity.otherGroup] + groups)
    defer {
        do {
            try switchIdentity(0, 0, Identity.ownGroups)
        } catch {
            // Every later check would run as the wrong user.
            fatalError("could not switch back to root: \(errnoName(errno))")
        }
    }
    return try body()
}

/// Runs `body` as an ordinary user: the second user when the runner is
/// root, else the runner itself. For the permission errors root would not see.
func asOrdinaryUser<T>(_ body: () throws -> T) throws -> T {
    if Identity.isRoot { return try asOtherUser(body) }
    return try body()
}

private func switchIdentity(_ uid: uid_t, _ gid: gid_t, _ groups: [gid_t]) throws {
    try must(conformance_set_filesystem_identity(uid, gid, groups, Int32(groups.count)), "switch to uid \(uid)")
}
