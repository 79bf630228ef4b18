import Foundation
import Glibc

/// A regular file's plaintext size and the state of its backing file when
/// that size was true: the size holds only while the backing file still has
/// the same size and change time.
///
/// Both are taken together (the backing file's fstat where the size is
/// read or last changed, under the contents lock), never later: a size
/// paired with a later fstat could outlive a change made meanwhile through
/// another inode of the same file and still validate.
struct KnownSize {
    let size: Int
    let backingSize: off_t
    let changed: timespec

    init(_ size: Int, backing st: stat) {
        self.size = size
        backingSize = st.st_size
        changed = st.st_ctim
    }

    /// `size` with the backing file behind `fd` as it is now, or nil when
    /// fstat fails.
    init?(_ size: Int, descriptor fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        self.init(size, backing: st)
    }

    func holds(for st: stat) -> Bool {
        st.st_size == backingSize && st.st_ctim.tv_sec == changed.tv_sec && st.st_ctim.tv_nsec == changed.tv_nsec
    }
}

/// The plaintext sizes of regular files whose inodes the kernel forgot,
/// so that looking one up again need not open the backing file and read
/// its header: after the kernel dropped its caches (or evicted the inodes
/// under memory pressure), `du`, `rm -rf` and a second `ls -l` cost a stat
/// per file, as they did before the forget.
///
/// A size is kept only while it holds (``KnownSize``), so a file changed
/// since, in the mount or underneath it, misses. Names that go away in the
/// mount take their file's entry with them (``drop(_:)``): a backing inode
/// number freed there may come back for a new file within one timestamp
/// tick.
final class ForgottenSizes: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [BackingID: KnownSize] = [:]
    /// Bounds the memory: about 64 bytes an entry, 64 MiB at most, enough
    /// for a tree of a million files, whose `du` or `rm -rf` after the
    /// kernel forgot it would otherwise read most headers again.
    private static let limit = 1 << 20

    /// Keeps `known` for the file `backing`.
    func keep(_ known: KnownSize, of backing: BackingID) {
        lock.withLock {
            if entries.count >= Self.limit, entries[backing] == nil { entries.remove(at: entries.startIndex) }
            entries[backing] = known
        }
    }

    /// The size kept for the file whose backing attributes are `st`, if it
    /// still holds; the entry goes either way (the new inode keeps the size
    /// from here on).
    func take(for st: stat) -> KnownSize? {
        let entry = lock.withLock { entries.removeValue(forKey: BackingID(st)) }
        guard let entry, entry.holds(for: st) else { return nil }
        return entry
    }

    /// Forgets the file `backing`, which is losing a name.
    func drop(_ backing: BackingID) {
        _ = lock.withLock { entries.removeValue(forKey: backing) }
    }
}
