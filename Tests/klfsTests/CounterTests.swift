import Foundation
@testable import klfs
import Testing

/// The per-thread counter behind `klfs status` and the key publication's
/// reader counts: whatever lines the threads land on, the total is exact.
@Suite struct CounterTests {
    @Test(arguments: [Counter.Ordering.relaxed, .sequentiallyConsistent])
    func addsFromMoreThreadsThanLinesSumExactly(_ ordering: Counter.Ordering) {
        let counter = Counter(ordering)
        let threads = Counter.lines * 2
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for _ in 0..<10_000 { counter.add(UInt64(thread + 1)) }
        }
        #expect(counter.total == UInt64((1...threads).reduce(0, +)) * 10_000)
    }

    @Test func aSubtractionOnAnotherThreadCancelsAnAddition() {
        let counter = Counter()
        counter.add(5)
        let other = Thread { counter.subtract(5) }
        other.start()
        while !other.isFinished { usleep(1000) }
        #expect(counter.total == 0)
    }
}

/// The grace period of ``KeyPublication``: a replacement returns only once
/// every reader of the set it replaced has finished.
@Suite struct KeyPublicationTests {
    @Test func aReplacementWaitsForTheReadersOfTheOldSet() async throws {
        let publication = KeyPublication(nil)
        let reading = DispatchSemaphore(value: 0)
        let finishReading = DispatchSemaphore(value: 0)
        let readerDone = Counter(.sequentiallyConsistent)
        let reader = Thread {
            publication.read { _ in
                reading.signal()
                finishReading.wait()
                readerDone.add(1)
            }
        }
        reader.start()
        reading.wait()
        let replaced = Counter(.sequentiallyConsistent)
        let replacer = Thread {
            publication.replace(with: nil)
            replaced.add(readerDone.total == 1 ? 1 : 2)
        }
        replacer.start()
        usleep(50_000)
        #expect(replaced.total == 0, "the replacement returned while a reader still held the old set")
        finishReading.signal()
        while !replacer.isFinished { usleep(1000) }
        #expect(replaced.total == 1, "the replacement returned before the reader finished")
    }
}
