import Dispatch
import Foundation
import Glibc
@testable import KLBlock
import KLTestSupport
import Synchronization
import Testing

/// The image's sector range lock: overlapping ranges take turns unless both
/// only read, whatever stripes and locks they fall on.
@Suite struct SectorRangeLockTests {
    @Test func aRangeTakesTheLocksOfItsStripesInAscendingOrder() {
        let lock = SectorRangeLock(stripeSectors: 8, stripeCount: 4)
        #expect(lock.lockIndexes(0..<1) == (0..<1, 0..<0))
        #expect(lock.lockIndexes(7..<9) == (0..<2, 0..<0))
        // Stripes 3 and 4: locks 3 and 0, taken 0 first.
        #expect(lock.lockIndexes(30..<34) == (0..<1, 3..<4))
        // Stripes 5 to 7 (locks 1 to 3), then as many stripes as locks: all.
        #expect(lock.lockIndexes(40..<64) == (1..<4, 0..<0))
        #expect(lock.lockIndexes(5..<30) == (0..<4, 0..<0))
    }

    @Test func overlappingRangesNeverMeetUnlessBothRead() {
        // Few small stripes: ranges cross stripes, wrap past the last lock
        // and alias onto locks of far stripes.
        let lock = SectorRangeLock(stripeSectors: 4, stripeCount: 3)
        let sectors = 48
        // Per sector: readers inside, or -1 while a writer is.
        nonisolated(unsafe) let occupants = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: sectors)
        for sector in 0..<sectors { (occupants + sector).initialize(to: Atomic(0)) }
        defer { occupants.deallocate() }
        let meetings = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            var generator = SeededGenerator(seed: UInt64(thread) + 1)
            for _ in 0..<2_000 {
                let start = Int.random(in: 0..<sectors, using: &generator)
                let range = start..<min(sectors, start + Int.random(in: 1...16, using: &generator))
                let exclusive = Bool.random(using: &generator)
                lock.withLock(range, exclusive: exclusive) {
                    for sector in range {
                        let before = exclusive ? occupants[sector].exchange(-1, ordering: .sequentiallyConsistent)
                                               : occupants[sector].add(1, ordering: .sequentiallyConsistent).oldValue
                        if exclusive ? before != 0 : before < 0 { meetings.add(1, ordering: .relaxed) }
                    }
                    sched_yield()
                    for sector in range {
                        if exclusive {
                            occupants[sector].store(0, ordering: .sequentiallyConsistent)
                        } else {
                            occupants[sector].subtract(1, ordering: .sequentiallyConsistent)
                        }
                    }
                }
            }
        }
        let met = meetings.load(ordering: .relaxed)
        #expect(met == 0)
    }

    @Test func readersOfOneRangeHoldItTogether() {
        let lock = SectorRangeLock(stripeSectors: 8)
        let inside = Atomic<Int>(0)
        let together = Atomic<Bool>(false)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            lock.withLock(0..<16, exclusive: false) {
                inside.add(1, ordering: .sequentiallyConsistent)
                let deadline = Date().addingTimeInterval(5)
                while inside.load(ordering: .sequentiallyConsistent) < 2 && Date() < deadline { sched_yield() }
                if inside.load(ordering: .sequentiallyConsistent) == 2 { together.store(true, ordering: .relaxed) }
            }
        }
        let heldTogether = together.load(ordering: .relaxed)
        #expect(heldTogether)
    }
}
