import Foundation
@testable import klfs
import Testing

/// The per-thread counter behind `klfs status` and the key publication's
/// reader counts: whatever lines the threads land on, each slot's total is
/// exact.
@Suite struct CounterTests {
    @Test(arguments: [Counter.Ordering.relaxed, .sequentiallyConsistent])
    func addsFromMoreThreadsThanLinesSumExactly(_ ordering: Counter.Ordering) {
        // Nine slots: a thread's slots span two cache lines.
        let counter = Counter(ordering, slots: 9)
        let threads = Counter.lines * 2
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for _ in 0..<10_000 { counter.add(UInt64(thread + 1), slot: thread % 9) }
        }
        for slot in 0..<9 {
            let adders = (1...threads).filter { ($0 - 1) % 9 == slot }
            #expect(counter.total(slot: slot) == UInt64(adders.reduce(0, +)) * 10_000, "slot \(slot)")
        }
    }

    @Test func aSubtractionOnAnotherThreadCancelsAnAddition() {
        let shared = SharedCounter()
        shared.counter.add(5)
        let other = Thread { shared.counter.subtract(5) }
        other.start()
        while !other.isFinished { usleep(1000) }
        #expect(shared.counter.total() == 0)
    }
}

/// A counter that escaping closures (threads) can share.
private final class SharedCounter: Sendable {
    let counter = Counter(.sequentiallyConsistent)
}

/// The grace period of ``KeyPublication``: a replacement returns only once
/// every reader of the set it replaced has finished.
@Suite struct KeyPublicationTests {
    @Test func aReplacementWaitsForTheReadersOfTheOldSet() async throws {
        let publication = KeyPublication(nil)
        let reading = DispatchSemaphore(value: 0)
        let finishReading = DispatchSemaphore(value: 0)
        let readerDone = SharedCounter()
        let reader = Thread {
            publication.read { _ in
                reading.signal()
                finishReading.wait()
                readerDone.counter.add(1)
            }
        }
        reader.start()
        reading.wait()
        let replaced = SharedCounter()
        let replacer = Thread {
            publication.replace(with: nil)
            replaced.counter.add(readerDone.counter.total() == 1 ? 1 : 2)
        }
        replacer.start()
        usleep(50_000)
        #expect(replaced.counter.total() == 0, "the replacement returned while a reader still held the old set")
        finishReading.signal()
        while !replacer.isFinished { usleep(1000) }
        #expect(replaced.counter.total() == 1, "the replacement returned before the reader finished")
    }
}
