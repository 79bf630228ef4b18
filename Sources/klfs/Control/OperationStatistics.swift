import Synchronization

/// The FUSE operations the statistics count, one counter each.
enum CountedOperation: Int, CaseIterable, Sendable {
    case lookup, getattr, setattr, access, statfs, readlink, mknod, mkdir, unlink, rmdir, symlink, rename, link
    case create, open, read, write, release, fsync, fallocate
    case opendir, readdir, readdirplus, releasedir, fsyncdir
    case setxattr, getxattr, listxattr, removexattr
}

/// What `klfs status` reports about the traffic since mount.
final class OperationStatistics: Sendable {
    /// A slot per operation, by ``CountedOperation``'s raw value.
    private let requests = Counter(slots: CountedOperation.allCases.count)
    let bytesRead = Counter()
    let bytesWritten = Counter()
    let sectorsEncrypted = Counter()
    let sectorsDecrypted = Counter()
    /// Engine calls whose Key Locker handle was refused (tampering or IWKey loss).
    let handleFailures = Counter()

    func counted(_ operation: CountedOperation) {
        requests.add(1, slot: operation.rawValue)
    }

    var requestCounts: [String: UInt64] {
        Dictionary(uniqueKeysWithValues: CountedOperation.allCases.map { ("\($0)", requests.total(slot: $0.rawValue)) })
    }
}
