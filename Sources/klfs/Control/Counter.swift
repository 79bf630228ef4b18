import CKLKernels
import Synchronization

/// Atomic counts (``slots`` of them) that every request may add to, kept
/// per thread, each thread's slots on cache lines of their own (``lines``
/// threads; threads past that share), and summed when read. A request pays
/// one add to a line its own core holds, never a lock: with a single shared
/// word, two workers counting every request moved its line between their
/// cores twice a request. Additions wrap, so a count taken back (a
/// subtraction) cancels on any line.
///
/// Not copyable and not an object: a counter lives inside its owner and a
/// request reaches it without a retain, which would write the owner's
/// reference count, one more line shared by every core.
struct Counter: ~Copyable, @unchecked Sendable {
    /// The memory ordering of every add, subtract and read: relaxed for a
    /// statistic, sequentially consistent where the count orders other
    /// memory (``KeyPublication``'s readers).
    enum Ordering { case relaxed, sequentiallyConsistent }

    /// Enough for the FUSE workers and the control thread of one mount.
    static let lines = 16
    private static let lineBytes = 64
    private let storage: UnsafeMutableRawPointer
    private let ordering: Ordering
    let slots: Int
    /// The bytes of one thread's slots, whole lines.
    private let threadBytes: Int

    init(_ ordering: Ordering = .relaxed, slots: Int = 1) {
        precondition(slots > 0, "a counter needs a slot")
        self.ordering = ordering
        self.slots = slots
        threadBytes = (slots * MemoryLayout<UInt64>.stride + Self.lineBytes - 1) / Self.lineBytes * Self.lineBytes
        storage = .allocate(byteCount: Self.lines * threadBytes, alignment: Self.lineBytes)
        for index in 0..<wordCount { (words + index).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: wordCount)
        storage.deallocate()
    }

    private var words: UnsafeMutablePointer<Atomic<UInt64>> { storage.assumingMemoryBound(to: Atomic<UInt64>.self) }
    private var wordCount: Int { Self.lines * threadBytes / MemoryLayout<UInt64>.stride }

    private func word(_ slot: Int, line: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        precondition(slot >= 0 && slot < slots, "slot \(slot) of \(slots)")
        return words + (line * threadBytes / MemoryLayout<UInt64>.stride + slot)
    }

    func add(_ amount: UInt64, slot: Int = 0) {
        let word = word(slot, line: Int(klfs_thread_index()) % Self.lines)
        switch ordering {
        case .relaxed: word.pointee.wrappingAdd(amount, ordering: .relaxed)
        case .sequentiallyConsistent: word.pointee.wrappingAdd(amount, ordering: .sequentiallyConsistent)
        }
    }

    func subtract(_ amount: UInt64, slot: Int = 0) { add(0 &- amount, slot: slot) }

    /// The sum of `slot` over every line.
    func total(slot: Int = 0) -> UInt64 {
        (0..<Self.lines).reduce(0) { sum, line in
            switch ordering {
            case .relaxed: sum &+ word(slot, line: line).pointee.load(ordering: .relaxed)
            case .sequentiallyConsistent: sum &+ word(slot, line: line).pointee.load(ordering: .sequentiallyConsistent)
            }
        }
    }
}
