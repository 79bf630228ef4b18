import CFuse
import Foundation
import Glibc
import KLBlock

/// The O_PATH descriptors of the inodes the kernel knows, at most
/// ``capacity`` of them, whatever the kernel caches (docs/FUSE.md,
/// "Inodes"). An inode whose descriptor was evicted is opened again by its
/// ``BackingLocation``, through its parent's descriptor (opened again the
/// same way if need be), and the backing (st_dev, st_ino) must match, or
/// the request gets ESTALE.
///
/// Eviction is the clock algorithm: each use marks an inode, and the hand
/// evicts the first unmarked one it finds, unmarking those it passes. An
/// evicted descriptor stays open while a request still holds it
/// (``RequestScope``).
///
/// Every inode's location, descriptor and place in the ring are guarded by
/// ``lock``.
final class DescriptorCache: @unchecked Sendable {
    let capacity: Int
    private let lock = NSLock()
    private var ring: [Inode?]
    private var freeSlots: [Int]
    private var hand = 0
    /// Held for reading by each request that moves or removes names while
    /// it does; a resolution that failed waits for them (for writing) and
    /// tries once more, since the name it tried may have been moving.
    private let namesMoving = ReadersWriterLock()

    init(capacity: Int) {
        self.capacity = capacity
        ring = Array(repeating: nil, count: capacity)
        freeSlots = Array((0..<capacity).reversed())
    }

    /// The capacity for a daemon allowed `limit` descriptors: half of them,
    /// leaving the rest to open files, retired inodes and what requests
    /// open for a moment; at most 2^20 (an unlimited limit must not size
    /// the ring).
    static func capacity(forDescriptorLimit limit: Int) -> Int {
        min(max(limit / 2, 32), 1 << 20)
    }

    // MARK: Descriptors

    /// A descriptor on the inode's backing file, valid until the calling
    /// request ends.
    func descriptor(of inode: Inode) throws(SystemError) -> Int32 {
        try pinnedDescriptor(of: inode).fd
    }

    /// The descriptor itself, pinned until the calling request ends.
    func pinnedDescriptor(of inode: Inode) throws(SystemError) -> PathDescriptor {
        let cached = lock.withLock {
            inode.recentlyUsed = true
            return inode.cachedDescriptor
        }
        let held: PathDescriptor
        if let cached { held = cached } else { held = try resolve(inode) }
        RequestScope.current.pin(held)
        return held
    }

    /// The descriptor of an inode that stays open for the mount's life
    /// (the root).
    func keepForever(_ descriptor: PathDescriptor, for inode: Inode) {
        lock.withLock {
            inode.cachedDescriptor = descriptor
            inode.cacheSlot = Inode.neverEvicted
        }
    }

    /// A lookup found `inode` at `location`. An orphan found by another
    /// name goes back into the ring with its descriptor.
    func found(_ inode: Inode, at location: BackingLocation) {
        var evicted: PathDescriptor?
        lock.withLock {
            inode.location = location
            inode.recentlyUsed = true
            if inode.cachedDescriptor != nil && inode.cacheSlot == Inode.outsideTheRing { evicted = place(inode) }
        }
        withExtendedLifetime(evicted) {}
    }

    /// The kernel forgot `inode`: its descriptor leaves the cache and goes
    /// to the caller.
    func release(_ inode: Inode) -> PathDescriptor? {
        lock.withLock {
            removeFromRing(inode)
            defer { inode.cachedDescriptor = nil }
            return inode.cachedDescriptor
        }
    }

    // MARK: Names

    /// Runs `body`, which renames, unlinks or removes backing names, as
    /// one of the requests a failed resolution waits for.
    func movingNames<R>(_ body: () throws(SystemError) -> R) throws(SystemError) -> R {
        try namesMoving.withReadLock { () throws(SystemError) -> R in
            try RequestScope.current.whileMovingNames(body)
        }
    }

    /// `inode` now goes by `location`.
    func moved(_ inode: Inode, to location: BackingLocation) {
        lock.withLock { inode.location = location }
    }

    /// `inode` lost the name it was known by; `descriptor` was taken before
    /// the name went. An open file and a directory (a process's working
    /// directory) need it for as long as the kernel knows them, so it stays
    /// open and out of the ring until the inode is found by another name or
    /// forgotten. Anything else the kernel reaches only through a lookup,
    /// which finds it again by any other name it has (a path walk that
    /// meets ESTALE looks up again), so its descriptor is one more the ring
    /// may evict: `rm -rf` would otherwise hold one per file until the
    /// kernel's FORGETs, which lag behind the unlinks.
    func orphan(_ inode: Inode, keeping descriptor: PathDescriptor) {
        var evicted: PathDescriptor?
        lock.withLock {
            inode.location = nil
            inode.cachedDescriptor = descriptor
            if inode.contentsOpen || inode.isDirectory {
                removeFromRing(inode)
            } else if inode.cacheSlot == Inode.outsideTheRing {
                evicted = place(inode)
            }
        }
        withExtendedLifetime(evicted) {}
    }

    /// The first user opened `inode`'s contents, through `descriptor` if
    /// it went by a name. An orphan's descriptor leaves the ring for as
    /// long as they stay open, whichever of this and ``orphan(_:keeping:)``
    /// came first.
    func contentsOpened(_ inode: Inode, through descriptor: PathDescriptor?) {
        lock.withLock {
            inode.contentsOpen = true
            guard inode.location == nil, inode.cacheSlot != Inode.neverEvicted else { return }
            if let descriptor { inode.cachedDescriptor = descriptor }
            removeFromRing(inode)
        }
    }

    /// The last user closed `inode`'s contents.
    func contentsClosed(_ inode: Inode) {
        lock.withLock { inode.contentsOpen = false }
    }

    /// The name `inode` goes by while the cache holds no descriptor for
    /// it: opening the file by name then costs less than opening a
    /// descriptor to open it through (BackingLocation.open).
    func locationWithoutDescriptor(of inode: Inode) -> BackingLocation? {
        lock.withLock { inode.cachedDescriptor == nil ? inode.location : nil }
    }

    /// Whether `inode` goes by `name` in `directory`.
    func isNamed(_ inode: Inode, _ name: [CChar], in directory: Inode) -> Bool {
        lock.withLock { inode.location?.isNamed(name, in: directory) ?? false }
    }

    // MARK: Opening

    /// `openat(directory, name, O_PATH | O_NOFOLLOW)`, making room when
    /// the process is out of descriptors.
    func openPath(_ name: UnsafePointer<CChar>, in directory: Int32) throws(SystemError) -> Int32 {
        try withRoom { openat(directory, name, cfuse_o_path | O_NOFOLLOW | O_CLOEXEC) }
    }

    /// Runs `open` (which returns a descriptor or -1); on EMFILE or ENFILE
    /// evicts an eighth of the cache and tries once more.
    func withRoom(_ open: () -> Int32) throws(SystemError) -> Int32 {
        let fd = open()
        guard fd < 0, errno == EMFILE || errno == ENFILE else { return try checked(fd) }
        let evicted = lock.withLock { (0..<max(capacity / 8, 1)).compactMap { _ in evictOne() } }
        withExtendedLifetime(evicted) {}
        return try checked(open())
    }

    private func resolve(_ inode: Inode) throws(SystemError) -> PathDescriptor {
        do {
            return try open(inode)
        } catch {
            if RequestScope.current.movesNames { throw error }
            return try namesMoving.withWriteLock { () throws(SystemError) in try open(inode) }
        }
    }

    /// Opens the inode's backing file by its location, unless another
    /// request cached (or orphaned) a descriptor for it meanwhile.
    private func open(_ inode: Inode) throws(SystemError) -> PathDescriptor {
        let (cached, location) = lock.withLock { (inode.cachedDescriptor, inode.location) }
        if let cached { return cached }
        guard let location else { throw SystemError(ESTALE) }
        let parent = try descriptor(of: location.parent)
        let opened = PathDescriptor(try openPath(location.name, in: parent))
        guard let st = try? backingAttributes(opened.fd), BackingID(st) == inode.backing else {
            throw SystemError(ESTALE)
        }
        var evicted: PathDescriptor?
        defer { withExtendedLifetime(evicted) {} }
        return lock.withLock {
            if let raced = inode.cachedDescriptor { return raced }
            inode.cachedDescriptor = opened
            inode.recentlyUsed = true
            if inode.cacheSlot == Inode.outsideTheRing { evicted = place(inode) }
            return opened
        }
    }

    // MARK: The ring (under the lock)

    /// Puts `inode` in the ring; returns the descriptor evicted to make
    /// room, which the caller lets go outside the lock.
    private func place(_ inode: Inode) -> PathDescriptor? {
        let evicted = freeSlots.isEmpty ? evictOne() : nil
        let slot = freeSlots.removeLast()
        ring[slot] = inode
        inode.cacheSlot = slot
        return evicted
    }

    private func evictOne() -> PathDescriptor? {
        guard freeSlots.count < capacity else { return nil }
        while true {
            hand = (hand + 1) % capacity
            guard let candidate = ring[hand] else { continue }
            if candidate.recentlyUsed {
                candidate.recentlyUsed = false
                continue
            }
            removeFromRing(candidate)
            defer { candidate.cachedDescriptor = nil }
            return candidate.cachedDescriptor
        }
    }

    private func removeFromRing(_ inode: Inode) {
        guard inode.cacheSlot >= 0 else { return }
        ring[inode.cacheSlot] = nil
        freeSlots.append(inode.cacheSlot)
        inode.cacheSlot = Inode.outsideTheRing
    }
}
