import Foundation
import Glibc

/// The lifecycle bench's steady load: one ``LoadWorker`` thread per file,
/// and what the coordinator asks of them while they run.
final class LifecycleLoad {
    let workers: [LoadWorker]
    private let finished = DispatchGroup()

    init(threads: Int, in directory: String) throws(CommandFailure) {
        var workers: [LoadWorker] = []
        for index in 0..<threads {
            workers.append(try LoadWorker(path: directory + "/load\(index)", seed: UInt64(index)))
        }
        self.workers = workers
    }

    func start() {
        for worker in workers {
            finished.enter()
            let thread = Thread { [finished] in
                worker.run()
                finished.leave()
            }
            thread.name = "klfs-bench-load"
            thread.start()
        }
    }

    /// Stops every thread after its current request; false if one is
    /// still stuck in one after `seconds`.
    func stop(seconds: Int = 30) -> Bool {
        for worker in workers { worker.stop() }
        return finished.wait(timeout: .now() + .seconds(seconds)) == .success
    }

    /// Every thread waits in a request that started `nanoseconds` ago or
    /// earlier: the load is blocked.
    func everyRequestWaiting(longerThan nanoseconds: UInt64) -> Bool {
        let now = MonotonicClock.nanoseconds()
        return workers.allSatisfy { worker in
            let since = worker.inFlightSince.load(ordering: .relaxed)
            return since != 0 && now - min(since, now) >= nanoseconds
        }
    }

    /// Every thread had a request refused with EKEYREVOKED after `time`.
    func everyThreadRefused(after time: UInt64) -> Bool {
        workers.allSatisfy { $0.lastRevoked.load(ordering: .relaxed) > time }
    }

    /// Every thread had a request done after `time`.
    func everyThreadServed(after time: UInt64) -> Bool {
        workers.allSatisfy { $0.lastDone.load(ordering: .relaxed) > time }
    }

    /// The first problem of a thread that stopped on one, while the others run.
    var firstProblemOfAStoppedThread: String? {
        workers.first { $0.stoppedOnProblem.load(ordering: .acquiring) }?.problems.first
    }

    /// Every thread's problems (an error other than EKEYREVOKED, a read
    /// that differed from the model); read after ``stop(seconds:)``.
    var problems: [String] { workers.flatMap(\.problems) }

    /// Every request of every thread; read after ``stop(seconds:)``.
    var requests: [LoadRequest] { workers.flatMap(\.requests) }
}
