import Foundation
import Glibc

/// The plaintext sizes of regular files whose inodes the kernel forgot,
/// so that looking one up again need not open the backing file and read
/// its header: after the kernel dropped its caches (or evicted the inodes
/// under memory pressure), `du`, `rm -rf` and a second `ls -l` cost a stat
/// per file, as they did before the forget.
///
/// A size is kept only while the backing file still has the size and
/// change time it had at the forget, so a file changed since, in the mount
/// or underneath it, misses. Names that go away in the mount take their
/// file's entry with them (``drop(_:)``): a backing inode number freed
/// there may come back for a new file within one timestamp tick.
final class ForgottenSizes: @unchecked Sendable {
    private struct Entry {
        let backingSize: off_t
        let changed: timespec
        let size: Int

        func holds(for st: stat) -> Bool {
            st.st_size == backingSize && st.st_ctim.tv_sec == changed.tv_sec && st.st_ctim.tv_nsec == changed.tv_nsec
        }
    }

    private let lock = NSLock()
    private var entries: [BackingID: Entry] = [:]
    /// Bounds the memory: about 100 bytes an entry, 6 MiB at most.
    private static let limit = 1 << 16

    /// Keeps `size` for the file whose backing attributes are `st`.
    func keep(_ size: Int, of st: stat) {
        let entry = Entry(backingSize: st.st_size, changed: st.st_ctim, size: size)
        lock.withLock {
            if entries.count >= Self.limit, entries[BackingID(st)] == nil { entries.remove(at: entries.startIndex) }
            entries[BackingID(st)] = entry
        }
    }

    /// The size kept for the file whose backing attributes are `st`, if it
    /// still holds; the entry goes either way (the new inode keeps the size
    /// from here on).
    func take(for st: stat) -> Int? {
        let entry = lock.withLock { entries.removeValue(forKey: BackingID(st)) }
        guard let entry, entry.holds(for: st) else { return nil }
        return entry.size
    }

    /// Forgets the file `backing`, which is losing a name.
    func drop(_ backing: BackingID) {
        _ = lock.withLock { entries.removeValue(forKey: backing) }
    }
}
