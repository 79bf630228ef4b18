import Glibc

/// Locks ranges of sectors, not the device: requests on disjoint sectors
/// run in parallel, and two that share a sector take turns, so a
/// read-modify-write of a partial sector never loses a concurrent write to
/// the same sector and a reader never sees a sector half rewritten.
/// Readers share a range; a writer has it alone.
///
/// The sectors fall into stripes of ``stripeSectors``, and stripe i is
/// guarded by reader-writer lock i mod ``stripeCount``. A range takes the
/// lock of every stripe it touches, in ascending lock order, so no two
/// ranges wait for each other in a cycle. Two ranges that share a sector
/// share a stripe and take turns; two whose stripes are a multiple of
/// ``stripeCount`` apart wait needlessly, which two workers doing random
/// I/O meet once in ``stripeCount`` requests. Each lock has a cache line
/// of its own that only requests in its stripes touch: one mutex over a
/// list of held ranges, which this replaced, moved its lines between the
/// workers' cores on every request.
final class SectorRangeLock: @unchecked Sendable {
    let stripeSectors: Int
    let stripeCount: Int
    private static let lineBytes = 64
    private let locks: UnsafeMutableRawPointer

    init(stripeSectors: Int, stripeCount: Int = 256) {
        precondition(stripeSectors > 0 && stripeCount > 0, "stripes of \(stripeSectors) sectors, \(stripeCount) locks")
        precondition(MemoryLayout<pthread_rwlock_t>.size <= Self.lineBytes, "a reader-writer lock fits a line")
        self.stripeSectors = stripeSectors
        self.stripeCount = stripeCount
        locks = .allocate(byteCount: stripeCount * Self.lineBytes, alignment: Self.lineBytes)
        for index in 0..<stripeCount {
            // Writers first: a stream of overlapping reads cannot hold off a write forever.
            var attributes = pthread_rwlockattr_t()
            pthread_rwlockattr_init(&attributes)
            pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
            pthread_rwlock_init(lock(index), &attributes)
            pthread_rwlockattr_destroy(&attributes)
        }
    }

    deinit {
        for index in 0..<stripeCount { pthread_rwlock_destroy(lock(index)) }
        locks.deallocate()
    }

    private func lock(_ index: Int) -> UnsafeMutablePointer<pthread_rwlock_t> {
        (locks + index * Self.lineBytes).assumingMemoryBound(to: pthread_rwlock_t.self)
    }

    /// Runs `body` holding `sectors` shared (`exclusive` false) or alone.
    func withLock<R, E: Error>(_ sectors: Range<Int>, exclusive: Bool, _ body: () throws(E) -> R) throws(E) -> R {
        guard !sectors.isEmpty else { return try body() }
        let (lower, upper) = lockIndexes(sectors)
        for index in lower { take(index, exclusive: exclusive) }
        for index in upper { take(index, exclusive: exclusive) }
        defer {
            for index in lower { pthread_rwlock_unlock(lock(index)) }
            for index in upper { pthread_rwlock_unlock(lock(index)) }
        }
        return try body()
    }

    private func take(_ index: Int, exclusive: Bool) {
        _ = exclusive ? pthread_rwlock_wrlock(lock(index)) : pthread_rwlock_rdlock(lock(index))
    }

    /// The locks of the stripes `sectors` (not empty) touches, as two
    /// ranges of lock indexes, the first below the second: one of them
    /// empty unless the stripes wrap past the last lock.
    func lockIndexes(_ sectors: Range<Int>) -> (Range<Int>, Range<Int>) {
        let first = sectors.lowerBound / stripeSectors
        let last = (sectors.upperBound - 1) / stripeSectors
        if last - first + 1 >= stripeCount { return (0..<stripeCount, 0..<0) }
        let (low, high) = (first % stripeCount, last % stripeCount)
        if low <= high { return (low..<high + 1, 0..<0) }
        return (0..<high + 1, low..<stripeCount)
    }
}
