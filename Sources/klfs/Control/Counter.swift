import CKLKernels
import Synchronization

/// An atomic count that every request may add to, kept as one cache line
/// per thread (``lines`` of them; threads past that share one) and summed
/// when read. A request pays one add to a line its own core holds, never a
/// lock: with a single shared word, two workers counting every request
/// moved its line between their cores twice a request. Additions wrap, so
/// a count taken back (a subtraction) cancels on any line.
final class Counter: @unchecked Sendable {
    /// The memory ordering of every add, subtract and read: relaxed for a
    /// statistic, sequentially consistent where the count orders other
    /// memory (``KeyPublication``'s readers).
    enum Ordering { case relaxed, sequentiallyConsistent }

    /// Enough for the FUSE workers and the control thread of one mount.
    static let lines = 16
    private static let lineBytes = 64
    private let storage: UnsafeMutableRawPointer
    private let ordering: Ordering

    init(_ ordering: Ordering = .relaxed) {
        self.ordering = ordering
        storage = .allocate(byteCount: Self.lines * Self.lineBytes, alignment: Self.lineBytes)
        for line in 0..<Self.lines { word(line).initialize(to: Atomic(0)) }
    }

    deinit {
        for line in 0..<Self.lines { word(line).deinitialize(count: 1) }
        storage.deallocate()
    }

    private func word(_ line: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (storage + line * Self.lineBytes).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    private var thisThreadsWord: UnsafeMutablePointer<Atomic<UInt64>> {
        word(Int(klfs_thread_index()) % Self.lines)
    }

    func add(_ amount: UInt64) {
        switch ordering {
        case .relaxed: thisThreadsWord.pointee.wrappingAdd(amount, ordering: .relaxed)
        case .sequentiallyConsistent: thisThreadsWord.pointee.wrappingAdd(amount, ordering: .sequentiallyConsistent)
        }
    }

    func subtract(_ amount: UInt64) { add(0 &- amount) }

    /// The sum of every line.
    var total: UInt64 {
        (0..<Self.lines).reduce(0) { sum, line in
            switch ordering {
            case .relaxed: sum &+ word(line).pointee.load(ordering: .relaxed)
            case .sequentiallyConsistent: sum &+ word(line).pointee.load(ordering: .sequentiallyConsistent)
            }
        }
    }
}
