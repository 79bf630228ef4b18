import Foundation

/// Locks ranges of sectors, not the device: requests on disjoint sectors
/// run in parallel, and two that share a sector take turns, so a
/// read-modify-write of a partial sector never loses a concurrent write to
/// the same sector and a reader never sees a sector half rewritten.
/// Readers share a range; a writer has it alone.
///
/// The held ranges are few (one per request in flight, at most the FUSE
/// worker count), so a list searched under one mutex is cheaper than a
/// tree; the mutex is held only to look, never across I/O or crypto.
final class SectorRangeLock: @unchecked Sendable {
    private struct Hold {
        let sectors: Range<Int>
        let exclusive: Bool
        let id: UInt64
    }

    private let condition = NSCondition()
    private var holds: [Hold] = []
    private var nextID: UInt64 = 0

    /// Runs `body` holding `sectors` shared (`exclusive` false) or alone.
    func withLock<R, E: Error>(_ sectors: Range<Int>, exclusive: Bool, _ body: () throws(E) -> R) throws(E) -> R {
        let id = acquire(sectors, exclusive: exclusive)
        defer { release(id) }
        return try body()
    }

    private func acquire(_ sectors: Range<Int>, exclusive: Bool) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        while holds.contains(where: { $0.sectors.overlaps(sectors) && ($0.exclusive || exclusive) }) {
            condition.wait()
        }
        nextID &+= 1
        holds.append(Hold(sectors: sectors, exclusive: exclusive, id: nextID))
        return nextID
    }

    private func release(_ id: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        holds.removeAll { $0.id == id }
        condition.broadcast()
    }
}
